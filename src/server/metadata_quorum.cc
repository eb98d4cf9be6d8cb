#include "strata/server/metadata_quorum.h"

#include "strata/server/bootstrap_records.h"

#include "topic_configs.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <random>
#include <thread>

#include "broker_lifecycle.h"
#include "controller_channel.h"
#include "strata/common/log.h"
#include "strata/server/cluster_security.h"

namespace strata::server {

namespace asio = boost::asio;

std::optional<std::string> read_cluster_id(const std::filesystem::path& directory) {
    std::ifstream in(directory / "meta.properties");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("cluster.id=")) return line.substr(11);
    }
    return std::nullopt;
}

void write_meta_properties(const std::filesystem::path& directory, int32_t node_id, const std::string& cluster_id) {
    std::filesystem::create_directories(directory);
    const auto path = directory / "meta.properties";
    const auto temp = directory / "meta.properties.tmp";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << "#\n#Written by stratad format\nversion=1\nnode.id=" << node_id << "\ncluster.id=" << cluster_id << "\n";
        out.flush();
        if (!out) throw std::system_error(errno, std::generic_category(), "cannot write " + temp.string());
    }
    std::filesystem::rename(temp, path);
}

std::optional<std::string> format_if_single_node(const broker_config& config) {
    const std::filesystem::path metadata_dir = config.effective_metadata_log_dir();
    if (auto existing = read_cluster_id(metadata_dir)) return existing;
    const bool single = config.controller_quorum_voters.empty() ||
                        (config.controller_quorum_voters.size() == 1 &&
                         config.controller_quorum_voters[0].id == config.node_id);
    if (!single) return std::nullopt;
    const std::string cluster_id = protocol::uuid::random().to_string();
    write_meta_properties(metadata_dir, config.node_id, cluster_id);
    log::get("server")->info("formatted {} for a new single-node cluster {}", metadata_dir.string(), cluster_id);
    return cluster_id;
}

raft::node_config make_raft_node_config(const broker_config& config) {
    raft::node_config out;
    out.raft.self = raft::node_id{config.node_id};
    if (config.controller_quorum_voters.empty()) {
        out.raft.voters = {out.raft.self};
    }
    for (const auto& voter : config.controller_quorum_voters) {
        out.raft.voters.push_back(raft::node_id{voter.id});
        out.peers.push_back(raft::peer_address{raft::node_id{voter.id}, voter.host, voter.port});
    }
    out.raft.election_timeout = config.controller_quorum_election_timeout_ms;
    out.raft.election_jitter = config.controller_quorum_election_backoff_max_ms;
    out.raft.fetch_timeout = config.controller_quorum_fetch_timeout_ms;
    out.raft.request_timeout = config.controller_quorum_request_timeout_ms;
    // The leader holds a caught-up follower's Fetch this long (Kafka: 500 ms).
    // A follower counts the leader alive only on answers, so several must
    // fit in one fetch timeout.
    out.raft.fetch_max_wait_ms = std::clamp(config.controller_quorum_fetch_timeout_ms / 4, 1, 500);
    out.raft.seed = std::random_device{}();
    const std::filesystem::path metadata_dir = config.effective_metadata_log_dir();
    out.directory = metadata_dir / "__cluster_metadata-0";
    out.cluster_id = read_cluster_id(metadata_dir);
    out.security = cluster_client_security(config, controller_listener(config));
    return out;
}

struct metadata_quorum::impl {
    explicit impl(raft::node_config config)
        : guard(context.get_executor()), cluster_id(config.cluster_id), node(context.get_executor(), std::move(config)) {}
    asio::io_context context{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    std::optional<std::string> cluster_id;
    raft::node node;
    std::unique_ptr<metadata::metadata_service> metadata;
    std::unique_ptr<controller_channel> controller;
    std::unique_ptr<broker_lifecycle> lifecycle;
    std::thread thread;
    bool running = false;
};

metadata_quorum::metadata_quorum(raft::node_config config) : _impl(std::make_unique<impl>(std::move(config))) {
    _impl->metadata = std::make_unique<metadata::metadata_service>(_impl->context.get_executor(), _impl->node,
                                                                   metadata::metadata_service_options{});
    _impl->controller =
        std::make_unique<controller_channel>(_impl->context.get_executor(), *_impl->metadata, default_broker_config());
}

namespace {
raft::node_config formatted_config(const broker_config& config) {
    format_if_single_node(config);
    return make_raft_node_config(config);
}

metadata::metadata_service_options service_options(const broker_config& config) {
    metadata::metadata_service_options options;
    options.node_id = config.node_id;
    options.controller.default_num_partitions = config.num_partitions;
    options.controller.default_replication_factor = static_cast<int16_t>(config.default_replication_factor);
    options.controller.validate_topic_config = check_topic_config;
    options.controller.broker_session_timeout_ms = config.broker_session_timeout_ms;
    options.controller.broker_heartbeat_interval_ms = config.broker_heartbeat_interval_ms;
    options.controller.default_min_insync_replicas = config.min_insync_replicas;
    options.controller.auto_leader_rebalance_enable = config.auto_leader_rebalance_enable;
    options.controller.leader_imbalance_check_interval_ms = int64_t{config.leader_imbalance_check_interval_seconds} * 1000;
    options.controller.delegation_token_expiry_check_interval_ms = config.delegation_token_expiry_check_interval_ms;
    options.controller.leader_imbalance_per_broker_percentage = config.leader_imbalance_per_broker_percentage;
    options.controller.unclean_leader_election_enable = config.unclean_leader_election_enable;
    options.snapshot_max_record_bytes = config.metadata_log_max_record_bytes_between_snapshots;
    options.snapshot_interval = std::chrono::milliseconds(config.metadata_log_max_snapshot_interval_ms);
    options.bootstrap_records = read_bootstrap_records(config.effective_metadata_log_dir());
    return options;
}
}  // namespace

metadata_quorum::metadata_quorum(const broker_config& config)
    : _impl(std::make_unique<impl>(formatted_config(config))) {
    _impl->metadata =
        std::make_unique<metadata::metadata_service>(_impl->context.get_executor(), _impl->node, service_options(config));
    _impl->controller = std::make_unique<controller_channel>(_impl->context.get_executor(), *_impl->metadata, config);
    if (config.has_role("broker"))
        _impl->lifecycle = std::make_unique<broker_lifecycle>(_impl->context.get_executor(), *_impl->metadata,
                                                              *_impl->controller, config);
}

metadata_quorum::~metadata_quorum() { stop(); }

void metadata_quorum::start() {
    _impl->metadata->attach();
    _impl->node.start();
    _impl->metadata->start();
    if (_impl->lifecycle) _impl->lifecycle->start();
    _impl->thread = std::thread([this] { _impl->context.run(); });
    _impl->running = true;
}

void metadata_quorum::stop() {
    if (!_impl->running) return;
    _impl->running = false;
    if (_impl->lifecycle) _impl->lifecycle->stop();
    _impl->controller->close();
    _impl->metadata->stop();
    _impl->node.stop();
    // The heartbeat loop, told to end above, gets a short grace to finish
    // (its timer is cancelled and its calls fail on the closed controller
    // channel); if it is still waiting it is abandoned with the context
    // below (its frame destroyed with it, unrun).
    constexpr auto grace = std::chrono::milliseconds(500);
    if (_impl->lifecycle && !_impl->lifecycle->wait_stopped(grace))
        log::get("server")->warn("the broker heartbeat loop did not end within {} ms; abandoned", grace.count());
    _impl->guard.reset();
    _impl->context.stop();
    _impl->thread.join();
}

bool metadata_quorum::controlled_shutdown(std::chrono::milliseconds timeout) {
    if (!_impl->running || !_impl->lifecycle) return false;
    return _impl->lifecycle->controlled_shutdown(timeout);
}

raft::node& metadata_quorum::node() { return _impl->node; }

metadata::metadata_service& metadata_quorum::metadata() { return *_impl->metadata; }

controller_channel& metadata_quorum::controller() { return *_impl->controller; }

const std::optional<std::string>& metadata_quorum::cluster_id() const { return _impl->cluster_id; }

protocol::uuid metadata_quorum::broker_incarnation() const {
    return _impl->lifecycle ? _impl->lifecycle->incarnation_id() : protocol::uuid{};
}

std::optional<std::chrono::steady_clock::time_point> metadata_quorum::last_heartbeat_answer() const {
    if (!_impl->lifecycle) return std::nullopt;
    return _impl->lifecycle->last_heartbeat_answer();
}

}  // namespace strata::server
