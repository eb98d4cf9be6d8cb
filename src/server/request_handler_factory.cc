#include "strata/server/request_handler_factory.h"

#include "admin_apis.h"
#include "controller_channel.h"
#include "data_path.h"
#include "fetch_router.h"
#include "group_apis.h"
#include "raft_handlers.h"
#include "request_dispatcher.h"

namespace strata::server {

namespace {

// The dispatcher together with what its handlers capture, so that they live
// and die together.
class broker_request_handler final : public net::request_handler {
public:
    broker_request_handler(const broker_config& config, metadata_quorum& quorum,
                           replication::partition_manager* partitions, const pipeline_services& services)
        : _config(config),
          _admin{quorum.metadata(), &quorum.controller(), &_config, quorum.cluster_id().value_or(""),
                 config.auto_create_topics_enable, partitions ? partitions->unreachable() : nullptr},
          _dispatcher(services) {
        register_raft_apis(_dispatcher, _fetch_router, quorum.node());
        register_admin_apis(_dispatcher, _admin);
        register_partition_admin_apis(_dispatcher, _admin);
        register_config_apis(_dispatcher, _admin);
        register_init_producer_id(_dispatcher, _admin, config.node_id);
        if (config.has_role("controller")) register_controller_apis(_dispatcher, _admin);
        if (partitions) {
            register_data_path(_dispatcher, _fetch_router, *partitions);
            register_log_admin(_dispatcher, *partitions, config.log_dirs.empty() ? "." : config.log_dirs.front());
            auto groups_config = coordinator_config_from(config);
            groups_config.create_topics = [this](protocol::messages::create_topics_request r) {
                return on_controller<protocol::messages::create_topics_response>(
                    _admin, nullptr, std::move(r), 7,
                    [this](protocol::messages::create_topics_request local) {
                        return _admin.metadata.create_topics(std::move(local), 7);
                    });
            };
            _coordinator = std::make_unique<group::group_coordinator>(std::move(groups_config), quorum.metadata(),
                                                                      *partitions);
            _groups.emplace(group_context{*_coordinator, quorum.metadata()});
            register_group_apis(_dispatcher, *_groups);
            _coordinator->start();
        }
        _fetch_router.register_with(_dispatcher);
    }

    boost::asio::awaitable<net::handler_result> handle(const net::connection_info& connection,
                                                       std::shared_ptr<const std::vector<uint8_t>> frame) override {
        return _dispatcher.handle(connection, std::move(frame));
    }

    void connection_closed(const net::connection_info& connection) override {
        _dispatcher.connection_closed(connection);
    }

    // Requests waiting on a rebalance would hold the shutdown up.
    void server_stopping() override {
        if (_coordinator) _coordinator->stop();
    }

private:
    const broker_config _config;
    admin_context _admin;
    // A broker's group coordinator; stopped (its thread joined) before the
    // dispatcher whose handlers call it goes.
    std::unique_ptr<group::group_coordinator> _coordinator;
    std::optional<group_context> _groups;
    request_dispatcher _dispatcher;
    fetch_router _fetch_router;
};

}  // namespace

std::unique_ptr<net::request_handler> make_request_handler(const broker_config&) {
    return std::make_unique<request_dispatcher>();
}

std::unique_ptr<net::request_handler> make_request_handler(const broker_config& config, metadata_quorum& quorum,
                                                           replication::partition_manager* partitions,
                                                           metrics::registry& metrics) {
    return std::make_unique<broker_request_handler>(config, quorum, partitions,
                                                    pipeline_services{nullptr, nullptr, &metrics});
}

}  // namespace strata::server
