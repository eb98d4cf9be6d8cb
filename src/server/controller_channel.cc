#include "controller_channel.h"

#include <boost/asio/post.hpp>

#include "strata/common/kafka_error.h"
#include "strata/server/cluster_security.h"

namespace strata::server {

namespace asio = boost::asio;

struct controller_channel::state {
    std::map<int32_t, std::shared_ptr<net::client_connection>> connections;  // by voter id
    bool closed = false;
    net::client_security security;  // the controller listener's protocol
};

controller_channel::controller_channel(asio::any_io_executor executor, metadata::metadata_service& metadata,
                                       const broker_config& config)
    : _executor(std::move(executor)),
      _metadata(metadata),
      _node_id(config.node_id),
      _state(std::make_shared<state>()) {
    for (const auto& voter : config.controller_quorum_voters) _voters[voter.id] = voter;
    _state->security = cluster_client_security(config, controller_listener(config));
}

controller_channel::~controller_channel() { close(); }

bool controller_channel::local() const {
    auto id = _metadata.controller_id();
    return id && *id == _node_id;
}

namespace {
asio::awaitable<std::shared_ptr<net::client_connection>> find_or_connect(
    std::shared_ptr<void> keep, std::map<int32_t, std::shared_ptr<net::client_connection>>* connections,
    const bool* closed, const net::client_security* security, asio::any_io_executor executor, quorum_voter voter,
    int32_t self) {
    (void)keep;
    if (*closed) co_return nullptr;
    auto& slot = (*connections)[voter.id];
    if (!slot) {
        net::client_options options;
        options.host = voter.host;
        options.port = voter.port;
        options.client_id = std::string(forwarded_client_id);
        options.connect_timeout = std::chrono::milliseconds(1000);
        security->apply_to(options);
        slot = net::client_connection::create(executor, options);
    }
    co_return slot;
}
}  // namespace

asio::awaitable<std::shared_ptr<net::client_connection>> controller_channel::connection_to_controller() {
    auto id = _metadata.controller_id();
    if (!id || *id == _node_id) co_return nullptr;
    auto voter = _voters.find(*id);
    if (voter == _voters.end()) co_return nullptr;
    auto s = _state;
    co_return co_await asio::co_spawn(
        _executor, find_or_connect(s, &s->connections, &s->closed, &s->security, _executor, voter->second, _node_id),
        asio::use_awaitable);
}

asio::awaitable<protocol::messages::alter_partition_response> controller_channel::alter_partition(
    protocol::messages::alter_partition_request request, std::chrono::milliseconds timeout) {
    constexpr int16_t version = 3;
    if (local()) co_return co_await _metadata.alter_partition(std::move(request), version);
    auto answer = co_await call<protocol::messages::alter_partition_response>(std::move(request), version, timeout);
    if (answer) co_return std::move(answer).value();
    protocol::messages::alter_partition_response failed;
    failed.error_code = static_cast<int16_t>(answer.error() == net::client_error::timed_out
                                                 ? kafka_error::request_timed_out
                                                 : kafka_error::not_controller);
    co_return failed;
}

void controller_channel::close() {
    auto s = _state;
    asio::post(_executor, [s] {
        s->closed = true;
        for (auto& [id, c] : s->connections) c->close();
    });
}

}  // namespace strata::server
