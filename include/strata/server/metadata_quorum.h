// This node's seat in the metadata quorum: the raft::node, configured from
// the broker configuration, and the thread it runs on.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "strata/metadata/metadata_service.h"
#include "strata/raft/node.h"
#include "strata/server/broker_config.h"

namespace strata::server {

class controller_channel;

// The raft node's configuration from the broker's: node.id, the voters
// (controller.quorum.voters, or this node alone when empty), the
// controller.quorum.* timeouts, <metadata log dir>/__cluster_metadata-0,
// and the cluster id from meta.properties when there is one.
raft::node_config make_raft_node_config(const broker_config& config);

// cluster.id from <directory>/meta.properties (Kafka's format), if present.
std::optional<std::string> read_cluster_id(const std::filesystem::path& directory);

// Writes <directory>/meta.properties (Kafka's v1 format: version, node.id,
// cluster.id) for a new node. Throws std::system_error if it cannot.
void write_meta_properties(const std::filesystem::path& directory, int32_t node_id, const std::string& cluster_id);

// The first start of a single-node quorum (no voters configured, or this
// node alone) formats its metadata directory with a new cluster id, as
// `kafka-storage.sh format` would; a node of a larger quorum is formatted
// explicitly (`stratad format`). Returns the cluster id, if any.
std::optional<std::string> format_if_single_node(const broker_config& config);

// Owns the raft node and the one thread (an io_context of its own) it runs
// on, so that its fsyncs never hold a network thread. Created, started and
// stopped by stratad's main thread; stop it after the network server, whose
// handlers call into it.
class metadata_quorum {
public:
    explicit metadata_quorum(raft::node_config config);
    // The node's whole seat: the raft node, the metadata layer on top of it
    // (image, controller), and, with the broker role, the broker's
    // registration and heartbeats.
    explicit metadata_quorum(const broker_config& config);
    ~metadata_quorum();  // stop()

    metadata_quorum(const metadata_quorum&) = delete;
    metadata_quorum& operator=(const metadata_quorum&) = delete;

    // Recovers the log (throws std::system_error if it cannot), starts the
    // thread and the node.
    void start();
    // Stops the node and joins its thread. Idempotent.
    void stop();
    // The broker's controlled shutdown (broker_lifecycle::controlled_shutdown):
    // before the network closes, the controller moves this broker's
    // leaderships. False when not run or not approved within `timeout`.
    bool controlled_shutdown(std::chrono::milliseconds timeout);

    raft::node& node();
    metadata::metadata_service& metadata();
    // This node's line to the active controller (in-process or remote).
    controller_channel& controller();
    const std::optional<std::string>& cluster_id() const;
    // Broker role: when the active controller last answered this broker's
    // heartbeat (nullopt: never, or no broker role). Any thread.
    std::optional<std::chrono::steady_clock::time_point> last_heartbeat_answer() const;
    // Broker role: the incarnation id this process registers with (zero
    // without the broker role).
    protocol::uuid broker_incarnation() const;

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::server
