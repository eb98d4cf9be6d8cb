#include "strata/broker/broker.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

#include "observability.h"
#include "strata/common/log.h"
#include "strata/http/server.h"
#include "strata/net/request_handler.h"
#include "strata/rest/proxy.h"
#include "strata/security/password_check.h"
#include "strata/security/tls.h"
#include "strata/server/acl_authorizer.h"
#include "strata/server/cluster_security.h"
#include "strata/server/data_plane.h"
#include "strata/server/metadata_quorum.h"
#include "strata/server/request_handler_factory.h"

namespace strata::broker {

namespace {


std::optional<int32_t> read_node_id(const std::filesystem::path& directory) {
    std::ifstream in(directory / "meta.properties");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("node.id=")) return std::atoi(line.c_str() + 8);
    return std::nullopt;
}

// A node joins only the cluster its directories were formatted for, as the
// node id they were formatted with; a node of a multi-node quorum must have
// been formatted (the single-node default formats itself).
std::optional<std::string> identity_problem(const server::broker_config& config) {
    std::optional<std::string> cluster;
    for (const auto& directory : identity_directories(config)) {
        auto id = server::read_cluster_id(directory);
        if (!id) continue;
        if (cluster && *cluster != *id)
            return fmt::format("{} belongs to cluster {}, another directory to cluster {}", directory, *id, *cluster);
        cluster = id;
        if (auto node = read_node_id(directory); node && *node != config.node_id)
            return fmt::format("{} was formatted for node {}, but node.id is {}", directory, *node, config.node_id);
    }
    if (!server::read_cluster_id(config.effective_metadata_log_dir()))
        return fmt::format(
            "{} is not formatted: run `stratad format -t $(stratad random-uuid) -c <config>` once per "
            "cluster id, on every node, with the same id",
            config.effective_metadata_log_dir());
    return std::nullopt;
}

void create_data_directories(const server::broker_config& config) {
    auto directories = config.log_dirs;
    directories.push_back(config.effective_metadata_log_dir());
    for (const auto& directory : directories) {
        std::error_code ec;
        std::filesystem::create_directories(directory, ec);
        if (ec) throw std::runtime_error(fmt::format("cannot create data directory {}: {}", directory, ec.message()));
    }
}

// The listener whose addresses the REST proxy reports: the inter-broker
// one, else the first that is not a controller listener.
std::string rest_listener(const server::broker_config& config) {
    if (!config.inter_broker_listener_name.empty()) return config.inter_broker_listener_name;
    for (const auto& l : config.listeners)
        if (std::find(config.controller_listener_names.begin(), config.controller_listener_names.end(), l.name) ==
            config.controller_listener_names.end())
            return l.name;
    return "PLAINTEXT";
}

}  // namespace

std::vector<std::string> identity_directories(const server::broker_config& config) {
    auto directories = config.log_dirs;
    const auto metadata = config.effective_metadata_log_dir();
    if (std::find(directories.begin(), directories.end(), metadata) == directories.end())
        directories.push_back(metadata);
    return directories;
}

// Declared in start order; destroyed (after stop()) in reverse.
struct broker::subsystems {
    std::optional<server::metadata_quorum> quorum;
    // Null without authorizer.class.name; fed by the quorum's images.
    std::shared_ptr<security::standard_authorizer> authorizer;
    std::unique_ptr<server::data_plane> data;
    std::unique_ptr<observability> observe;
    std::unique_ptr<net::request_handler> pipeline;
    std::unique_ptr<net::server> network;
    http::router routes;
    std::unique_ptr<rest::proxy> rest;   // answered by `pipeline`
    std::unique_ptr<http::server> http;  // on the network server's threads
};

broker::broker(server::broker_config config) : _config(std::move(config)) {}

broker::~broker() {
    stop();
}

void broker::start() {
    if (_running) throw std::logic_error("broker::start called twice");
    create_data_directories(_config);
    try {
        server::format_if_single_node(_config);
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("cannot format {}: {}", _config.effective_metadata_log_dir(), e.what()));
    }
    if (auto problem = identity_problem(_config)) throw std::runtime_error(*problem);

    _running = std::make_unique<subsystems>();
    auto& s = *_running;
    try {
        // Every node runs the metadata quorum's raft node: a voter with the
        // controller role, an observer (a broker following the log) without.
        s.quorum.emplace(_config);
        // Subscribed before the quorum starts, so that it sees every ACL.
        s.authorizer = server::make_authorizer(_config, s.quorum->metadata());
        // The broker's partitions, subscribed before the quorum starts so
        // that they see every metadata image.
        if (_config.has_role("broker"))
            s.data = std::make_unique<server::data_plane>(
                _config, s.quorum->metadata(), &s.quorum->controller(), &_metrics, s.quorum->broker_incarnation(),
                [this](const std::string& dir, const std::string& cause) {
                    // One log dir per broker (log.dirs' first): none is left.
                    if (_on_fatal)
                        _on_fatal(fmt::format("every log dir has failed ({}: {})", dir, cause));
                });
        // Follows the images too (ISR changes), so also made before the start.
        s.observe = std::make_unique<observability>(_config, _metrics, *s.quorum,
                                                    s.data ? &s.data->partitions() : nullptr);
        if (s.data) s.observe->watch_logs(&s.data->logs());
        s.quorum->start();
    } catch (const std::exception& e) {
        stop();
        throw std::runtime_error(fmt::format("cannot start the metadata quorum: {}", e.what()));
    }
    s.pipeline = server::make_request_handler(_config, *s.quorum, s.data ? &s.data->partitions() : nullptr, _metrics,
                                                 s.authorizer.get());
    auto network_options = server::to_server_options(_config);
    // KIP-612 connection creation rates: the IP quotas come from the image.
    network_options.connection_rates = std::make_shared<quota::connection_rate_quotas>(
        server::connection_rate_config_from(_config),
        [&metadata = s.quorum->metadata()] { return metadata.image(); }, &_metrics);
    s.network = std::make_unique<net::server>(std::move(network_options), *s.pipeline);
    try {
        s.network->start();
    } catch (const std::exception& e) {
        stop();
        throw std::runtime_error(e.what());
    }
    register_network_metrics();
    if (!_config.http_listeners.empty()) {
        try {
            start_http();
        } catch (const std::exception& e) {
            stop();
            throw std::runtime_error(e.what());
        }
    }
}

void broker::start_http() {
    auto& s = *_running;
    http::server_options options;
    for (const auto& text : _config.http_listeners) {
        http::listen_address address;
        if (auto problem = http::parse_listen_address(text, address); !problem.empty())
            throw std::runtime_error("http.listeners: " + problem);
        options.listeners.push_back(address);
    }
    options.max_request_bytes = static_cast<size_t>(_config.http_max_request_bytes);
    options.max_connections = static_cast<size_t>(_config.http_max_connections);
    if (std::any_of(options.listeners.begin(), options.listeners.end(), [](const auto& l) { return l.tls; })) {
        if (_config.ssl_keystore_location.empty() && _config.ssl_keystore_certificate_chain.empty())
            throw std::runtime_error("http.listeners: an https:// listener needs the broker's key store "
                                     "(ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key)");
        auto settings = server::tls_settings_from(_config);
        settings.client_auth = "none";  // HTTP clients authenticate with Basic, if at all
        options.tls = security::make_server_tls_context(settings);
    }
    if (_config.http_authentication_method == "BASIC") {
        // PLAIN users of every SASL listener, then SCRAM users from the image.
        std::map<std::string, std::string> plain;
        for (const auto& l : _config.listeners)
            for (auto& [user, password] : _config.plain_users(l.name)) plain.emplace(user, password);
        auto checker = std::make_shared<security::password_checker>(
            std::move(plain), [&metadata = s.quorum->metadata()](const std::string& user, security::scram_mechanism m)
                                  -> std::optional<security::scram_credential> {
                const auto image = metadata.image();
                const auto* record = image ? image->scram_credential(user, static_cast<int8_t>(m)) : nullptr;
                if (!record) return std::nullopt;
                return security::scram_credential{record->salt, record->stored_key, record->server_key,
                                                  record->iterations};
            });
        options.check_password = [checker](const std::string& user, const std::string& password) {
            return checker->check(user, password);
        };
        options.realm = _config.http_authentication_realm;
        options.open_paths = {"/health/live", "/health/ready"};
    }
    s.observe->add_routes(s.routes);
    rest::proxy_options rest_options;
    rest_options.listener = rest_listener(_config);
    rest_options.node_id = _config.node_id;
    rest_options.peer_security = server::cluster_client_security(_config, rest_options.listener);
    s.rest = std::make_unique<rest::proxy>(rest_options, *s.pipeline);
    s.rest->add_routes(s.routes);
    s.http = std::make_unique<http::server>(options, s.routes, s.network->executors());
    s.http->start();
    s.observe->watch_http(s.http.get());
}

void broker::stop() {
    if (!_running) return;
    auto& s = *_running;
    _metrics.remove_collector("strata_connections");
    _metrics.remove_collector("strata_queued_request_bytes");
    _metrics.remove_collector("strata_connections_waiting_for_memory");
    // SIGTERM: first hand this broker's leaderships to other in-sync
    // replicas, serving on meanwhile, so clients move without a stall.
    if (s.network && s.data && _config.controlled_shutdown_enable)
        s.quorum->controlled_shutdown(std::chrono::milliseconds(_config.controlled_shutdown_timeout_ms));
    // The HTTP listener first: it runs on the network threads, and its
    // handlers read everything below. REST long polls end first.
    if (s.rest) s.rest->stopping();
    if (s.http) s.http->stop();
    s.observe.reset();  // its collectors read the HTTP server and the quorum
    s.http.reset();
    s.rest.reset();  // before the pipeline it calls
    if (s.network) s.network->stop();  // then: its handlers call into the quorum and the partitions
    if (s.quorum) s.quorum->stop();    // then no new metadata reaches the partitions
    if (s.data) s.data->stop();
    // The pipeline and the subsystems it calls go in reverse order of creation.
    s.network.reset();
    s.pipeline.reset();
    s.data.reset();
    s.quorum.reset();
    _running.reset();
}

std::vector<boost::asio::ip::tcp::endpoint> broker::http_endpoints() const {
    if (!_running || !_running->http) return {};
    return _running->http->endpoints();
}

std::vector<net::bound_endpoint> broker::endpoints() const {
    if (!_running || !_running->network) return {};
    return _running->network->endpoints();
}

void broker::register_network_metrics() {
    net::server& network = *_running->network;
    _metrics.add_collector("strata_connections",
                           "Open connections, by listener (Kafka: socket-server connection-count).",
                           metrics::metric_type::gauge, [&network] {
                               std::vector<metrics::sample> out;
                               for (const auto& [listener, count] : network.connections_by_listener())
                                   out.push_back({{{"listener", listener}}, double(count)});
                               return out;
                           });
    _metrics.add_collector("strata_queued_request_bytes",
                           "Request bytes held in memory now, of queued.max.request.bytes (Kafka: MemoryPoolUsed).",
                           metrics::metric_type::gauge, [&network] {
                               return std::vector<metrics::sample>{{{}, double(network.queued_request_bytes())}};
                           });
    _metrics.add_collector(
        "strata_connections_waiting_for_memory", "Connections paused because queued.max.request.bytes is spent.",
        metrics::metric_type::gauge, [&network] {
            return std::vector<metrics::sample>{{{}, double(network.connections_waiting_for_memory())}};
        });
}

}  // namespace strata::broker
