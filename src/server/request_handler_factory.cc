#include "strata/server/request_handler_factory.h"

#include "admin_apis.h"
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
                           replication::partition_manager* partitions)
        : _admin{quorum.metadata(), quorum.cluster_id().value_or(""), config.auto_create_topics_enable} {
        register_raft_apis(_dispatcher, _fetch_router, quorum.node());
        register_admin_apis(_dispatcher, _admin);
        if (partitions) {
            register_data_path(_dispatcher, _fetch_router, *partitions);
            _coordinator = std::make_unique<group::group_coordinator>(coordinator_config_from(config),
                                                                      quorum.metadata(), *partitions);
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

    // Requests waiting on a rebalance would hold the shutdown up.
    void server_stopping() override {
        if (_coordinator) _coordinator->stop();
    }

private:
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
                                                          replication::partition_manager* partitions) {
    return std::make_unique<broker_request_handler>(config, quorum, partitions);
}

}  // namespace strata::server
