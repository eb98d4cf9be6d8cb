#include "client.h"

#include "security.h"

#include <thread>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>

#include "strata/protocol/messages/api_versions_request.h"
#include "strata/protocol/messages/api_versions_response.h"
#include "strata/protocol/messages/find_coordinator_request.h"
#include "strata/protocol/messages/find_coordinator_response.h"
#include "strata/protocol/messages/metadata_request.h"

namespace strata::cli {

namespace pm = protocol::messages;
using protocol::api_key;

std::string broker_address::to_string() const {
    return fmt::format("{}:{}", host, port);
}

std::vector<broker_address> parse_broker_list(const std::string& list) {
    std::vector<broker_address> out;
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        std::string item = list.substr(start, comma - start);
        start = comma + 1;
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (item.empty()) continue;
        if (auto scheme = item.find("://"); scheme != std::string::npos) item = item.substr(scheme + 3);
        broker_address address;
        auto colon = item.rfind(':');
        if (colon == std::string::npos) {
            address.host = item;
            address.port = 9092;
        } else {
            address.host = item.substr(0, colon);
            if (address.host.size() > 2 && address.host.front() == '[' && address.host.back() == ']')
                address.host = address.host.substr(1, address.host.size() - 2);
            const std::string port = item.substr(colon + 1);
            int value = 0;
            try {
                size_t used = 0;
                value = std::stoi(port, &used);
                if (used != port.size()) value = -1;
            } catch (const std::exception&) {
                value = -1;
            }
            if (value <= 0 || value > 65535)
                throw_usage(fmt::format("bad broker address '{}': the port must be 1-65535", item),
                            "use host:port, e.g. -b localhost:9092");
            address.port = static_cast<uint16_t>(value);
        }
        if (address.host.empty()) throw_usage(fmt::format("bad broker address '{}'", item));
        out.push_back(address);
        if (comma == list.size()) break;
    }
    if (out.empty()) throw_usage("no broker address given", "use -b host:port or set STRATA_BROKERS");
    return out;
}

int16_t version_cap(api_key key) {
    switch (key) {
        case api_key::fetch:
            return 12;  // 13+ names topics by id
        case api_key::produce:
            return 11;  // 13+ names topics by id
        default:
            return INT16_MAX;
    }
}

struct kafka_client::node_state {
    int32_t id = 0;
    broker_address address;
    std::shared_ptr<net::client_connection> connection;
    std::map<int16_t, std::pair<int16_t, int16_t>> versions;  // api key -> (min, max)
    bool negotiated = false;
};

kafka_client::kafka_client(const global_options& options) : _options(options) {
    _bootstrap = parse_broker_list(options.brokers);
}

kafka_client::~kafka_client() {
    for (auto& [id, state] : _nodes)
        if (state->connection) state->connection->close();
    // Let the read loops see the close.
    _io.restart();
    _io.poll();
}

std::string kafka_client::node_name(int32_t id) {
    auto it = _nodes.find(id);
    if (it != _nodes.end() && it->second->connection) return it->second->address.to_string();
    if (auto b = _brokers.find(id); b != _brokers.end()) return b->second.to_string();
    return id == bootstrap_node ? _bootstrap.front().to_string() : fmt::format("broker {}", id);
}

static std::string api_name(api_key key) {
    const auto* info = protocol::find_api_schema(static_cast<int16_t>(key));
    return info ? std::string(info->name) : fmt::format("API {}", static_cast<int>(key));
}

namespace {

struct call_outcome {
    bool done = false;
    std::optional<net::client_result<net::response_frame>> result;
};

}  // namespace

// A free coroutine (not a capturing lambda: GCC 12 lets those dangle) that
// stores its answer where the synchronous caller looks for it.
static boost::asio::awaitable<void> request_into(std::shared_ptr<call_outcome> outcome,
                                                 std::shared_ptr<net::client_connection> connection, api_key key,
                                                 int16_t version, protocol::encoded_output body,
                                                 std::chrono::milliseconds timeout) {
    outcome->result = co_await connection->request(key, version, std::move(body), timeout);
}

static net::client_result<net::response_frame> run_request(boost::asio::io_context& io,
                                                           const std::shared_ptr<net::client_connection>& connection,
                                                           api_key key, int16_t version, protocol::encoded_output body,
                                                           std::chrono::milliseconds timeout) {
    auto outcome = std::make_shared<call_outcome>();
    boost::asio::co_spawn(io, request_into(outcome, connection, key, version, std::move(body), timeout),
                          [outcome](std::exception_ptr) { outcome->done = true; });
    while (!outcome->done) {
        if (io.stopped()) io.restart();
        io.run_one();
    }
    if (!outcome->result) return net::client_error::malformed;
    return std::move(*outcome->result);
}

void kafka_client::negotiate(node_state& state) {
    const auto timeout = std::chrono::milliseconds(std::min(_options.timeout_ms, 3000));
    for (int16_t version : {int16_t{3}, int16_t{0}}) {
        pm::api_versions_request request;
        request.client_software_name = "strata-cli";
        request.client_software_version = "0.1.0";
        protocol::encoded_output body;
        protocol::writer w(body);
        request.encode(w, version);
        auto answer = run_request(_io, state.connection, api_key::api_versions, version, std::move(body), timeout);
        if (!answer) {
            if (answer.error() == net::client_error::malformed && version != 0) continue;
            if (answer.error() == net::client_error::timed_out)
                throw cli_error(fmt::format("timed out after {} ms waiting for broker {} to answer ApiVersions",
                                            timeout.count(), state.address.to_string()),
                                "is it a Kafka broker? check -b/--brokers (or STRATA_BROKERS)");
            if (const auto& why = state.connection->last_failure(); !why.empty() && why != "cannot connect")
                throw cli_error(fmt::format("cannot connect to broker {}: {}", state.address.to_string(), why),
                                "check --command-config (security.protocol, sasl.*, ssl.*) against the listener");
            throw cli_error(fmt::format("cannot connect to broker {} ({})", state.address.to_string(),
                                        net::to_string(answer.error())),
                            "check that the broker runs and that -b/--brokers (or STRATA_BROKERS) names it");
        }
        pm::api_versions_response response;
        try {
            auto r = answer.value().body();
            response.decode(r, version);
        } catch (const protocol::decode_error&) {
            if (version != 0) continue;
            throw cli_error(
                fmt::format("broker {} sent an ApiVersions answer that cannot be decoded", state.address.to_string()),
                "is it a Kafka broker?");
        }
        if (response.error_code == kafka_error_code(kafka_error::unsupported_version) && version != 0) continue;
        if (response.error_code != 0)
            throw_kafka_error(response.error_code, "ApiVersions from " + state.address.to_string());
        for (const auto& api : response.api_keys) state.versions[api.api_key] = {api.min_version, api.max_version};
        state.negotiated = true;
        return;
    }
}

kafka_client::node_state& kafka_client::node(int32_t id) {
    if (auto it = _nodes.find(id); it != _nodes.end() && it->second->negotiated) return *it->second;
    std::vector<broker_address> candidates;
    if (id == bootstrap_node) {
        candidates = _bootstrap;
    } else {
        if (!_brokers.count(id)) metadata(std::vector<std::string>{});
        auto b = _brokers.find(id);
        if (b == _brokers.end())
            throw cli_error(fmt::format("broker {} is not in the cluster's metadata", id),
                            "see the brokers with `strata cluster info`");
        candidates = {b->second};
    }
    std::optional<cli_error> last;
    for (const auto& address : candidates) {
        auto state = std::make_unique<node_state>();
        state->id = id;
        state->address = address;
        net::client_options options;
        options.host = address.host;
        options.port = address.port;
        options.client_id = _options.client_id;
        options.connect_timeout = std::chrono::milliseconds(std::min(_options.timeout_ms, 3000));
        if (!_options.command_config.empty()) {
            if (!_security) {
                _security.emplace();
                apply_command_config(_options.command_config, *_security);
            }
            options.tls = _security->tls;
            options.verify_hostname = _security->verify_hostname;
            options.sasl_mechanism = _security->sasl_mechanism;
            options.sasl_username = _security->sasl_username;
            options.sasl_password = _security->sasl_password;
        }
        state->connection = net::client_connection::create(_io.get_executor(), options);
        try {
            negotiate(*state);
        } catch (const cli_error& e) {
            state->connection->close();
            last = e;
            continue;
        }
        auto& slot = _nodes[id];
        if (slot && slot->connection) slot->connection->close();
        slot = std::move(state);
        return *slot;
    }
    if (candidates.size() > 1)
        throw cli_error(fmt::format("cannot reach any of the brokers {}: {}", _options.brokers, last->what()),
                        last->hint);
    throw *last;
}

std::shared_ptr<net::client_connection> kafka_client::connection(int32_t id) {
    return node(id).connection;
}

bool kafka_client::supports(int32_t id, api_key key) {
    return node(id).versions.count(static_cast<int16_t>(key)) > 0;
}

int16_t kafka_client::version_for(int32_t id, api_key key, int16_t our_max) {
    auto& state = node(id);
    auto it = state.versions.find(static_cast<int16_t>(key));
    const std::string name = api_name(key);
    if (it == state.versions.end())
        throw cli_error(fmt::format("the broker at {} does not support {} (API key {})", state.address.to_string(),
                                    name, static_cast<int>(key)),
                        fmt::format("this command needs a Kafka-compatible broker that serves {}", name));
    const int16_t version = std::min({our_max, version_cap(key), it->second.second});
    if (version < it->second.first || version < 0)
        throw cli_error(fmt::format("the broker at {} serves {} only at versions {}-{}, which this tool does not speak",
                                    state.address.to_string(), name, it->second.first, it->second.second),
                        "use a newer strata");
    return version;
}

net::response_frame kafka_client::raw_call(int32_t id, api_key key, int16_t version, protocol::encoded_output body,
                                           std::chrono::milliseconds timeout) {
    auto& state = node(id);
    auto answer = run_request(_io, state.connection, key, version, std::move(body), timeout);
    if (answer) return std::move(answer.value());
    const std::string name = api_name(key);
    switch (answer.error()) {
        case net::client_error::timed_out:
            throw cli_error(fmt::format("timed out after {} ms waiting for {} from broker {}", timeout.count(), name,
                                        state.address.to_string()),
                            "the broker is slow or unreachable; retry, or raise --timeout");
        case net::client_error::malformed:
            throw cli_error(fmt::format("could not decode the {} v{} answer from broker {}", name, version,
                                        state.address.to_string()));
        default:
            throw cli_error(fmt::format("lost the connection to broker {} during {} ({})", state.address.to_string(),
                                        name, net::to_string(answer.error())),
                            "check that the broker is running");
    }
}

void kafka_client::raw_send(int32_t id, api_key key, int16_t version, protocol::encoded_output body) {
    auto& state = node(id);
    // The request is queued for writing before its (1 ms) wait starts; the
    // timeout only forgets the answer that never comes.
    auto answer = run_request(_io, state.connection, key, version, std::move(body), std::chrono::milliseconds(1));
    if (!answer && answer.error() != net::client_error::timed_out)
        throw cli_error(fmt::format("lost the connection to broker {} ({})", state.address.to_string(),
                                    net::to_string(answer.error())),
                        "check that the broker is running");
}

void kafka_client::decode_body(const net::response_frame& frame, const std::function<void(protocol::reader&)>& decode) {
    try {
        auto r = frame.body();
        decode(r);
    } catch (const protocol::decode_error& e) {
        throw cli_error(fmt::format("could not decode a broker's answer: {}", e.what()));
    }
}

pm::metadata_response kafka_client::metadata(const std::optional<std::vector<std::string>>& topics,
                                             bool allow_auto_create) {
    pm::metadata_request request;
    if (topics) {
        request.topics.emplace();
        for (const auto& name : *topics) {
            pm::metadata_request::metadata_request_topic topic;
            topic.name = name;
            request.topics->push_back(topic);
        }
    } else {
        request.topics.reset();
    }
    request.allow_auto_topic_creation = allow_auto_create;
    // A v0 request cannot say "all topics" with null; an empty list means all there.
    const int32_t target = _nodes.empty() ? bootstrap_node : _nodes.begin()->first;
    int16_t version = version_of<pm::metadata_request>(target);
    if (version == 0 && !topics) request.topics.emplace();
    auto response = call<pm::metadata_response>(target, request);
    for (const auto& b : response.brokers) _brokers[b.node_id] = broker_address{b.host, static_cast<uint16_t>(b.port)};
    return response;
}

pm::metadata_response::metadata_response_topic kafka_client::topic_metadata(const std::string& topic) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(_options.timeout_ms);
    for (;;) {
        auto response = metadata(std::vector<std::string>{topic});
        for (auto& t : response.topics) {
            if (t.name != topic) continue;
            bool leaderless = false;
            for (const auto& p : t.partitions) leaderless |= p.leader_id < 0;
            const bool retriable = t.error_code == kafka_error_code(kafka_error::leader_not_available) ||
                                   (t.error_code == 0 && leaderless);
            if (retriable && std::chrono::steady_clock::now() < deadline) break;
            if (t.error_code != 0) throw_kafka_error(t.error_code, fmt::format("topic '{}'", topic));
            return std::move(t);
        }
        if (std::chrono::steady_clock::now() >= deadline)
            throw_kafka_error(kafka_error_code(kafka_error::unknown_topic_or_partition),
                              fmt::format("topic '{}'", topic));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

std::vector<int32_t> kafka_client::broker_ids() const {
    std::vector<int32_t> ids;
    for (const auto& [id, address] : _brokers) ids.push_back(id);
    return ids;
}

int32_t kafka_client::group_coordinator(const std::string& group) {
    if (auto it = _coordinators.find(group); it != _coordinators.end()) return it->second;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(_options.timeout_ms);
    for (;;) {
        pm::find_coordinator_request request;
        const int16_t version = version_of<pm::find_coordinator_request>(bootstrap_node);
        request.key_type = 0;  // group
        if (version >= 4) {
            request.coordinator_keys = {group};
        } else {
            request.key = group;
        }
        auto response = call<pm::find_coordinator_response>(bootstrap_node, request);
        int16_t error = response.error_code;
        std::optional<std::string> message = response.error_message;
        int32_t node_id = response.node_id;
        std::string host = response.host;
        int32_t port = response.port;
        if (version >= 4) {
            if (response.coordinators.empty()) throw cli_error("FindCoordinator answered with no coordinator");
            const auto& c = response.coordinators.front();
            error = c.error_code;
            message = c.error_message;
            node_id = c.node_id;
            host = c.host;
            port = c.port;
        }
        if (error == 0) {
            _brokers[node_id] = broker_address{host, static_cast<uint16_t>(port)};
            _coordinators[group] = node_id;
            return node_id;
        }
        const bool retriable = error == kafka_error_code(kafka_error::coordinator_not_available) ||
                               error == kafka_error_code(kafka_error::coordinator_load_in_progress) ||
                               error == kafka_error_code(kafka_error::not_coordinator);
        if (!retriable || std::chrono::steady_clock::now() >= deadline)
            throw_kafka_error(error, fmt::format("finding the coordinator of group '{}'", group), message);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace strata::cli
