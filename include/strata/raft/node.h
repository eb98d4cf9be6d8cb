// raft::node: the Raft core running for real. The shell around raft_core
// that owns its log on disk, its timer, its connections to the other voters,
// and the API the metadata layer (controller, image, brokers as observers)
// uses.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/net/client_security.h"
#include "strata/raft/messages.h"
#include "strata/raft/raft_core.h"
#include "strata/raft/types.h"

namespace strata::raft {

// Where another voter listens (its controller listener).
struct peer_address {
    node_id id;
    std::string host;
    uint16_t port = 0;
};

struct node_config {
    // The core's configuration: self, voters, timeouts. fetch_max_wait_ms is
    // both what this node asks for as a follower and the longest it holds
    // a caught-up follower's Fetch as leader.
    raft_config raft;
    // The other voters (an entry for self is ignored).
    std::vector<peer_address> peers;
    // <metadata.log.dir>/__cluster_metadata-0
    std::filesystem::path directory;
    // Sent in every request and checked in every request received
    // (INCONSISTENT_CLUSTER_ID); nullopt sends null and checks nothing.
    std::optional<std::string> cluster_id;
    // The controller listener's security protocol, as this node connects to
    // the other voters.
    net::client_security security;
};

template <typename T>
using node_result = boost::outcome_v2::basic_result<T, kafka_error, boost::outcome_v2::policy::terminate>;

// What the node is doing, for logs, tests and metrics.
struct node_status {
    raft_role role = raft_role::unattached;
    epoch current_epoch;
    std::optional<node_id> leader;
    offset high_watermark{0};
    offset log_end_offset{0};
    // A leader's: the offset after its own leader-change record. Every entry
    // of earlier epochs lies below it, and may be committed only now, so a
    // leader must have applied up to here before it decides anything from
    // its state (Kafka's controller waits for the same before it becomes
    // active). -1 when not leader.
    offset leader_start_offset{-1};
};

// Owns the raft_core, its file_log and quorum-state file, one outbound
// client_connection per other voter, the tick timer and every coroutine it
// starts. Lives on one executor, which must run on one thread (an
// io_context of its own, as stratad gives it, or a strand); fsync runs on
// that executor, never on a network thread.
//
// Inputs (requests from peers, responses, ticks, proposals) are handed to
// the core as they come; the actions the core returns are queued and
// carried out in order by a flush posted behind them, so that inputs
// arriving meanwhile are handled first and share its fsync (group commit).
// A flush makes the core's whole durable state current (quorum-state file,
// then the log) before it carries out any send, apply, leadership change or
// response of the batch: nothing leaves the node before what it depends on
// is on disk.
//
// Public functions other than start() and stop() may be called from any
// thread; their awaitables run on the caller's executor and hop to the
// node's. Listeners are called on the node's executor and must not block.
// An I/O error on the log or quorum state, or a broken invariant in the
// core, is fatal: it is logged and the process aborts (as Kafka halts).
class node {
public:
    node(boost::asio::any_io_executor executor, node_config config);
    ~node();  // stop()

    node(const node&) = delete;
    node& operator=(const node&) = delete;

    // Listeners; set them before start().
    // Committed entries, in offset order, each once per process lifetime.
    void on_commit(std::function<void(const std::vector<log_entry>&)> listener);
    // Replace the application's state (at start-up from the latest local
    // snapshot, or a snapshot fetched from the leader).
    void on_snapshot(std::function<void(const snapshot_id&, const std::string&)> listener);
    // The leader as this node now knows it (none during an election).
    void on_leader_change(std::function<void(epoch, std::optional<node_id>)> listener);

    // Recovers the log and quorum state (on the calling thread), then starts
    // the core on the executor. A single voter elects itself at once.
    // Throws std::system_error if the log cannot be read.
    void start();
    // Stops the timer, the connections and every coroutine of the node,
    // fails waiting proposals (NOT_CONTROLLER) and waits for all of it to
    // end. Call from outside the executor, after the network server that
    // feeds handle() has stopped. Idempotent.
    void stop();

    // A request from a peer (already translated from Kafka's wire and its
    // cluster id checked). Fetch is long-polled: a caught-up follower's
    // Fetch is held up to its max_wait_ms and answered as soon as entries
    // are appended or the high watermark moves.
    boost::asio::awaitable<raft::response> handle(node_id from, raft::request request);

    // Appends `records` (one log entry each, consecutive offsets) and
    // completes with the offset of the last one once it is committed.
    // NOT_CONTROLLER if this node is not the leader or loses leadership
    // first (the entries may still commit under the next leader: the
    // caller learns that from on_commit), REQUEST_TIMED_OUT after `timeout`,
    // INVALID_REQUEST for no records.
    boost::asio::awaitable<node_result<offset>> propose(std::vector<std::string> records,
                                                        std::chrono::milliseconds timeout);

    // The application has a snapshot of its state through id.end_offset;
    // the log drops what it covers.
    boost::asio::awaitable<node_result<void>> create_snapshot(snapshot_id id, std::string data);

    // Graceful resignation (EndQuorumEpoch to the voters).
    boost::asio::awaitable<void> resign();

    // DescribeQuorum as this node can answer it: a follower answers
    // NOT_LEADER_OR_FOLLOWER with the leader it knows.
    boost::asio::awaitable<describe_quorum_response> describe_quorum();

    // Thread-safe: the last state published after an input.
    node_status status() const;
    const std::optional<std::string>& cluster_id() const;
    node_id id() const;

    struct impl;  // opaque; public only for the implementation

private:
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::raft
