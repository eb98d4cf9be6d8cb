// This node's seat in the metadata quorum: the raft::node, configured from
// the broker configuration, and the thread it runs on.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "strata/raft/node.h"
#include "strata/server/broker_config.h"

namespace strata::server {

// The raft node's configuration from the broker's: node.id, the voters
// (controller.quorum.voters, or this node alone when empty), the
// controller.quorum.* timeouts, <metadata log dir>/__cluster_metadata-0,
// and the cluster id from meta.properties when there is one.
raft::node_config make_raft_node_config(const broker_config& config);

// cluster.id from <directory>/meta.properties (Kafka's format), if present.
// `stratad format` will write it; until then a node without it sends a null
// ClusterId and checks none.
std::optional<std::string> read_cluster_id(const std::filesystem::path& directory);

// Owns the raft node and the one thread (an io_context of its own) it runs
// on, so that its fsyncs never hold a network thread. Created, started and
// stopped by stratad's main thread; stop it after the network server, whose
// handlers call into it.
class metadata_quorum {
public:
    explicit metadata_quorum(raft::node_config config);
    ~metadata_quorum();  // stop()

    metadata_quorum(const metadata_quorum&) = delete;
    metadata_quorum& operator=(const metadata_quorum&) = delete;

    // Recovers the log (throws std::system_error if it cannot), starts the
    // thread and the node.
    void start();
    // Stops the node and joins its thread. Idempotent.
    void stop();

    raft::node& node();

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::server
