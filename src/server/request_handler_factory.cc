#include "group_metrics.h"
#include "strata/server/request_handler_factory.h"

#include "admin_apis.h"
#include "controller_channel.h"
#include "data_path.h"
#include "fetch_router.h"
#include "group_apis.h"
#include "raft_handlers.h"
#include "request_dispatcher.h"
#include "sasl_apis.h"
#include "telemetry_apis.h"
#include "txn_apis.h"

namespace strata::server {

namespace {

// The dispatcher together with what its handlers capture, so that they live
// and die together.
// The SASL mechanisms and users of the broker's SASL listeners; null when
// it has none.
std::unique_ptr<sasl_authenticator> make_authenticator(const broker_config& config,
                                                      metadata::metadata_service& metadata) {
    sasl_settings settings;
    bool any = false;
    for (const auto& l : config.listeners) {
        const auto protocol = config.security_protocol(l.name).value_or("PLAINTEXT");
        if (protocol != "SASL_PLAINTEXT" && protocol != "SASL_SSL") continue;
        any = true;
        settings.plain_users[l.name] = config.plain_users(l.name);
        for (const auto& mechanism : config.sasl_enabled_mechanisms)
            settings.max_reauth_ms[l.name][mechanism] = config.max_reauth_ms(l.name, mechanism);
        if (std::find(config.sasl_enabled_mechanisms.begin(), config.sasl_enabled_mechanisms.end(), "OAUTHBEARER") !=
            config.sasl_enabled_mechanisms.end()) {
            // Checked at start-up (check_security): cannot fail here.
            std::string error;
            settings.oauthbearer[l.name] = oauthbearer_validator_for(config, l.name, error);
        }
    }
    if (!any) return nullptr;
    settings.mechanisms = config.sasl_enabled_mechanisms;
    settings.failure_delay = std::chrono::milliseconds(config.connection_failed_authentication_delay_ms);
    settings.image = [&metadata] { return metadata.image(); };
    settings.delegation_token_secret_key = config.delegation_token_secret_key;
    return std::make_unique<sasl_authenticator>(std::move(settings));
}

pipeline_services with_sasl_and_quotas(pipeline_services services, const sasl_authenticator* sasl,
                                        quota_hook* quotas) {
    services.sasl = sasl;
    services.quotas = quotas;
    return services;
}

quota::window_config quota_window_from(const broker_config& config) {
    return quota::window_config{config.quota_window_num, std::chrono::seconds(config.quota_window_size_seconds)};
}

class broker_request_handler final : public net::request_handler {
public:
    broker_request_handler(const broker_config& config, metadata_quorum& quorum,
                           replication::partition_manager* partitions, const pipeline_services& services)
        : _config(config),
          _admin{quorum.metadata(), &quorum.controller(), &_config, quorum.cluster_id().value_or(""),
                 config.auto_create_topics_enable, partitions ? partitions->unreachable() : nullptr},
          _sasl(make_authenticator(config, quorum.metadata())),
          _quota_manager([&metadata = quorum.metadata()] { return metadata.image(); }, *services.metrics,
                         quota_window_from(config)),
          _quota_stage(_quota_manager),
          _mutation_quotas([&metadata = quorum.metadata()] { return metadata.image(); }, *services.metrics,
                           quota::window_config{config.controller_quota_window_num,
                                                std::chrono::seconds(config.controller_quota_window_size_seconds)}),
          _dispatcher(with_sasl_and_quotas(services, _sasl.get(), &_quota_stage)) {
        _admin.mutation_quotas = &_mutation_quotas;
        register_raft_apis(_dispatcher, _fetch_router, quorum.node());
        register_admin_apis(_dispatcher, _admin);
        register_partition_admin_apis(_dispatcher, _admin);
        register_scram_apis(_dispatcher, _admin);
        register_acl_apis(_dispatcher, _admin);
        register_client_quota_apis(_dispatcher, _admin);
        register_delegation_token_apis(_dispatcher, _admin);
        register_config_apis(_dispatcher, _admin);
        auto producer_ids = make_producer_id_allocator(_admin, config.node_id);
        if (partitions) {
            // The transaction coordinator (src/txn/): its ids come from the
            // same producer id blocks, its markers for partitions led here
            // go straight to them.
            auto txn_config = txn_config_from(config);
            txn_config.create_topics = [this](protocol::messages::create_topics_request r) {
                return on_controller<protocol::messages::create_topics_response>(
                    _admin, nullptr, std::move(r), 7,
                    [this](protocol::messages::create_topics_request local) {
                        return _admin.metadata.create_topics(std::move(local), 7);
                    });
            };
            txn_config.allocate_producer_id = [producer_ids] { return allocate_producer_id(producer_ids); };
            txn_config.write_local_markers = [this](protocol::messages::write_txn_markers_request r,
                                                    std::function<void(protocol::messages::write_txn_markers_response)>
                                                        done) { write_markers_here(*_txns, std::move(r), std::move(done)); };
            _transactions = std::make_unique<txn::txn_coordinator>(std::move(txn_config), quorum.metadata(), *partitions);
        }
        register_init_producer_id(_dispatcher, producer_ids, _transactions.get());
        if (config.has_role("controller")) register_controller_apis(_dispatcher, _admin);
        if (partitions) {
            auto* transactions = _transactions.get();
            register_data_path(_dispatcher, _fetch_router, *partitions,
                               [transactions](std::string id, int64_t pid, int16_t epoch, std::string topic,
                                              int32_t partition, std::function<void(kafka_error)> done) {
                                   transactions->verify_partition(std::move(id), pid, epoch, std::move(topic),
                                                                  partition, std::move(done));
                               },
                               replication::parse_replica_selector(config.replica_selector_class)
                                   .value_or(replication::replica_selector::none));
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
            _groups.emplace(group_context{*_coordinator, quorum.metadata(), _transactions.get()});
            register_group_apis(_dispatcher, *_groups);
            _txns.emplace(txn_context{*_transactions, *partitions, _coordinator.get()});
            register_txn_apis(_dispatcher, *_txns);
            _group_metrics.emplace(_dispatcher.metrics(), *_coordinator, *partitions);
            // KIP-714 client metrics: brokers only, as in Kafka.
            register_telemetry_apis(_dispatcher, quorum.metadata());
            _coordinator->start();
            _transactions->start();
        }
        _fetch_router.register_with(_dispatcher);
    }

    // The transaction coordinator's thread uses _txns (its local markers):
    // it stops before any member goes.
    ~broker_request_handler() override {
        if (_transactions) _transactions->stop();
    }

    boost::asio::awaitable<net::handler_result> handle(const net::connection_info& connection,
                                                       std::shared_ptr<const std::vector<uint8_t>> frame) override {
        return _dispatcher.handle(connection, std::move(frame));
    }

    void connection_closed(const net::connection_info& connection) override {
        _dispatcher.connection_closed(connection);
    }

    void request_completed(const net::connection_info& connection, const net::handler_result& result) override {
        _dispatcher.request_completed(connection, result);
    }

    // Requests waiting on a rebalance would hold the shutdown up.
    void server_stopping() override {
        if (_transactions) _transactions->stop();
        if (_coordinator) _coordinator->stop();
    }

private:
    const broker_config _config;
    admin_context _admin;
    // A broker's group coordinator; stopped (its thread joined) before the
    // dispatcher whose handlers call it goes.
    std::unique_ptr<group::group_coordinator> _coordinator;
    // Its collectors ask the coordinator: removed before it goes.
    std::optional<group_metrics> _group_metrics;
    std::optional<group_context> _groups;
    // The transaction coordinator: stopped before the group coordinator,
    // whose TxnOffsetCommit offsets its markers complete.
    std::unique_ptr<txn::txn_coordinator> _transactions;
    std::optional<txn_context> _txns;
    std::unique_ptr<sasl_authenticator> _sasl;
    // Client quotas (src/quota/), enforced in the pipeline's quota stage.
    quota::client_quota_manager _quota_manager;
    client_quota_stage _quota_stage;
    // KIP-599's controller mutation quotas (CreateTopics, CreatePartitions,
    // DeleteTopics), taken by the admin handlers.
    quota::controller_mutation_quotas _mutation_quotas;
    request_dispatcher _dispatcher;
    fetch_router _fetch_router;
};

}  // namespace

std::unique_ptr<net::request_handler> make_request_handler(const broker_config&) {
    return std::make_unique<request_dispatcher>();
}

std::unique_ptr<net::request_handler> make_request_handler(const broker_config& config, metadata_quorum& quorum,
                                                           replication::partition_manager* partitions,
                                                           metrics::registry& metrics,
                                                           const security::authorizer* authorizer) {
    return std::make_unique<broker_request_handler>(config, quorum, partitions,
                                                    pipeline_services{authorizer, nullptr, &metrics});
}

}  // namespace strata::server
