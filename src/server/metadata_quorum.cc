#include "strata/server/metadata_quorum.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <random>
#include <thread>

#include "strata/common/log.h"

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
    return out;
}

struct metadata_quorum::impl {
    explicit impl(raft::node_config config) : guard(context.get_executor()), node(context.get_executor(), std::move(config)) {}
    asio::io_context context{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    raft::node node;
    std::thread thread;
    bool running = false;
};

metadata_quorum::metadata_quorum(raft::node_config config) : _impl(std::make_unique<impl>(std::move(config))) {}

metadata_quorum::~metadata_quorum() { stop(); }

void metadata_quorum::start() {
    _impl->node.start();
    _impl->thread = std::thread([this] { _impl->context.run(); });
    _impl->running = true;
}

void metadata_quorum::stop() {
    if (!_impl->running) return;
    _impl->running = false;
    _impl->node.stop();
    _impl->guard.reset();
    _impl->context.stop();
    _impl->thread.join();
}

raft::node& metadata_quorum::node() { return _impl->node; }

}  // namespace strata::server
