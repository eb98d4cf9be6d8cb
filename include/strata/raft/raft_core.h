// The Raft core of the metadata quorum (KRaft, KIP-595, with KIP-996 pre-vote
// and KIP-630 snapshots): a deterministic state machine with no I/O, no clock
// and no threads. The driver (the Asio shell, or a test's simulated network)
// feeds it inputs and carries out the actions it returns.
//
// Inputs: requests from peers (handle_request, which returns the response),
// responses paired with the request they answer (handle_response), the
// passage of time (tick, with a monotonic time the driver supplies), and the
// application's commands (propose, resign, snapshot_created).
//
// Outputs: after every input the driver drains take_actions() and carries the
// actions out IN ORDER. persist_quorum_state and persist_log must be durable
// (fsync) before any later action is carried out and before the response
// returned by handle_request is sent: that is how "term and vote are
// persisted before they are acted upon" and "a follower acknowledges only
// what it has on disk" hold. Consecutive persist_log actions may share one
// fsync as long as the order is kept.
//
// Ownership and threads: owned by the shell, used from one executor (strand)
// only. It holds a reference to the raft_log, which must outlive it.
//
// Guarantees (checked by raft_random_test over thousands of seeded schedules):
// at most one leader per epoch; logs that share an (offset, epoch) are equal
// up to it; an elected leader holds every committed entry; apply_entries
// hands out the same entries at the same offsets on every node, in order,
// once each per process lifetime.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>

#include "strata/common/kafka_error.h"
#include "strata/raft/messages.h"
#include "strata/raft/raft_log.h"
#include "strata/raft/types.h"

namespace strata::raft {

struct raft_config {
    node_id self;
    // controller.quorum.voters. A node not listed is an observer (a broker):
    // it fetches the log but never votes, campaigns or counts toward the HW.
    std::vector<node_id> voters;
    // Randomized election timeout of an unattached voter, a prospective and a
    // candidate: election_timeout + [0, election_jitter) ms. Kafka's
    // quorum.election.timeout.ms is 1000; Strata aims at failover in 1 s.
    millis election_timeout = 250;
    millis election_jitter = 250;
    // quorum.fetch.timeout.ms: a follower with no successful Fetch response
    // for this long considers the leader gone. The leader resigns when a
    // majority of voters has not fetched for 1.5 times this (check-quorum,
    // as Kafka does, to tolerate transit time).
    millis fetch_timeout = 500;
    // quorum.request.timeout.ms: an unanswered request is sent again.
    millis request_timeout = 200;
    // quorum.retry.backoff.ms: wait after an error answer before retrying.
    millis retry_backoff = 20;
    // A caught-up follower asks again after this long. The shell's long poll
    // (MaxWaitMs) makes the wait unnecessary; the core does not hold requests.
    millis fetch_interval = 10;
    int32_t fetch_max_bytes = 8 << 20;
    size_t fetch_max_entries = 512;
    int32_t snapshot_chunk_bytes = 1 << 20;
    int32_t fetch_max_wait_ms = 500;
    // KIP-996. Off only to show, in a test, what it prevents.
    bool pre_vote = true;
    // Seeds the election-timeout randomness; give each node its own.
    uint64_t seed = 0;
};

// Actions, carried out by the driver in order.
struct persist_quorum_state {
    quorum_state state;
};
// Make the log (appends, truncations, snapshots so far) durable through
// end_offset before going on.
struct persist_log {
    offset end_offset;
};
struct send_request {
    node_id to;
    raft::request message;
};
// Committed entries, in offset order, each handed out once.
struct apply_entries {
    std::vector<log_entry> entries;
};
// Replace the application's state with this snapshot (a follower that fell
// behind the leader's log start, or a restart). Entries from id.end_offset on
// follow through apply_entries.
struct apply_snapshot {
    snapshot_id id;
    std::string data;
};
// The leader as this node now knows it (none while an election runs).
struct leader_changed {
    epoch ep;
    std::optional<node_id> leader;
};
using action = std::variant<persist_quorum_state, persist_log, send_request, apply_entries, apply_snapshot,
                            leader_changed>;

enum class raft_role : uint8_t {
    unattached,   // no leader known for the epoch (a voter waits out its election timeout)
    follower,     // fetching from the epoch's leader
    prospective,  // KIP-996: asking for pre-votes, epoch unchanged
    candidate,    // asking for votes in a new epoch, having voted for itself
    leader,
    resigned,     // was leader of this epoch and gave up; waits, then campaigns
};
std::string_view to_string(raft_role role);

enum class raft_error : uint8_t {
    not_leader,            // only the leader appends
    snapshot_not_applied,  // a snapshot must cover applied (committed) entries only
    snapshot_unknown_entry,  // the snapshot's (end offset, epoch) is not an entry of the log
};
kafka_error to_kafka_error(raft_error error);

template <typename T>
using raft_result = boost::outcome_v2::basic_result<T, raft_error, boost::outcome_v2::policy::terminate>;

class raft_core {
public:
    // `persisted` is what the last persist_quorum_state wrote (all zero on a
    // fresh node); `log` holds what the last persist_log made durable.
    raft_core(raft_config config, raft_log& log, quorum_state persisted, millis now);

    raft::response handle_request(node_id from, const raft::request& request, millis now);
    void handle_response(node_id from, const raft::request& request, const raft::response& response, millis now);
    void tick(millis now);
    // The shell's connection to `leader` was lost or refused: most likely
    // the leader process is gone. A voter following it then campaigns after
    // a random part of election_jitter instead of the whole fetch_timeout.
    // Harmless when the leader is in fact alive: the campaign starts with a
    // pre-vote, which voters still hearing from the leader refuse.
    void leader_unreachable(node_id leader, millis now);

    // Appends an application entry (leader only); its offset.
    raft_result<offset> propose(std::string data, millis now);
    // Graceful resignation: EndQuorumEpoch to the voters, most caught-up first.
    void resign(millis now);
    // The application has a snapshot of its state through id.end_offset
    // (every entry below it applied); the log may drop that prefix.
    raft_result<void> snapshot_created(snapshot_id id, std::string data);

    std::vector<action> take_actions();

    raft_role role() const { return _role; }
    epoch current_epoch() const { return _epoch; }
    // The leader of the current epoch if this node follows or is it.
    std::optional<node_id> leader() const;
    offset high_watermark() const { return _high_watermark; }
    offset applied_offset() const { return _applied; }
    bool is_voter() const { return is_voter(_config.self); }
    const raft_config& config() const { return _config; }
    const raft_log& log() const { return _log; }
    // When tick() next has something to do; the shell arms a timer for it.
    millis next_deadline() const;

private:
    struct replica_progress {
        offset end_offset{-1};      // validated fetch offset in this epoch
        millis last_fetch = -1;
        millis last_caught_up = -1;
        bool begin_acknowledged = false;
    };
    struct snapshot_transfer {
        snapshot_id id;
        std::string bytes;
    };

    // elections (raft_core.cc)
    void transition(raft_role role, epoch ep, std::optional<node_id> voted_for, std::optional<node_id> leader);
    void become_unattached(epoch ep, millis now, std::optional<millis> election_delay = std::nullopt);
    void become_follower(epoch ep, node_id leader, millis now);
    void become_prospective(millis now);
    void become_candidate(millis now);
    void become_leader(millis now);
    void become_resigned(millis now);
    void send_vote_requests(bool pre_vote, millis now);
    bool observe_leader(const leader_id_and_epoch& seen, millis now);
    bool is_voter(node_id id) const;
    size_t majority() const { return _config.voters.size() / 2 + 1; }
    bool log_up_to_date(epoch last_epoch, offset end) const;
    bool leader_is_live(millis now) const;
    millis random_election_timeout();
    void send(node_id to, raft::request message);

    vote_response on_vote(node_id from, const vote_request& request, millis now);
    begin_quorum_epoch_response on_begin_quorum_epoch(node_id from, const begin_quorum_epoch_request& request, millis now);
    end_quorum_epoch_response on_end_quorum_epoch(node_id from, const end_quorum_epoch_request& request, millis now);
    void on_vote_response(node_id from, const vote_request& request, const vote_response& response, millis now);
    void tick_leader(millis now);

    // replication (replication.cc)
    fetch_response on_fetch(node_id from, const fetch_request& request, millis now);
    fetch_snapshot_response on_fetch_snapshot(node_id from, const fetch_snapshot_request& request, millis now);
    describe_quorum_response on_describe_quorum() const;
    void on_fetch_response(node_id from, const fetch_request& request, const fetch_response& response, millis now);
    void on_fetch_snapshot_response(node_id from, const fetch_snapshot_request& request,
                                    const fetch_snapshot_response& response, millis now);
    void send_fetch(node_id to, millis now);
    void send_fetch_snapshot(millis now);
    void tick_fetcher(millis now);
    void append_as_leader(entry_kind kind, std::string data);
    void maybe_advance_high_watermark();
    void apply_committed();
    leader_id_and_epoch current_leader() const { return {leader(), _epoch}; }

    raft_config _config;
    raft_log& _log;
    std::mt19937_64 _random;
    std::vector<action> _actions;

    // Persistent (mirrors the last persist_quorum_state).
    epoch _epoch;
    std::optional<node_id> _voted_for;
    std::optional<node_id> _leader;  // the epoch's leader as known; kept while prospective
    quorum_state _persisted;
    leader_id_and_epoch _announced{std::nullopt, epoch{-1}};

    // Volatile.
    raft_role _role = raft_role::unattached;
    offset _high_watermark{0};
    offset _applied{0};
    millis _election_deadline = 0;

    // Prospective and candidate.
    std::set<node_id> _granted;
    std::set<node_id> _answered;
    millis _vote_resend_at = 0;

    // Leader.
    offset _epoch_start_offset{0};
    millis _leader_since = 0;
    millis _begin_resend_at = 0;
    std::map<node_id, replica_progress> _voter_progress;
    std::map<node_id, replica_progress> _observer_progress;

    // Follower (and an observer looking for the leader).
    std::optional<fetch_request> _fetch_in_flight;
    std::optional<fetch_snapshot_request> _snapshot_in_flight;
    std::optional<snapshot_transfer> _snapshot_transfer;
    node_id _fetch_target;
    millis _fetch_sent_at = 0;
    millis _next_fetch_at = 0;
    millis _fetch_deadline = 0;
    size_t _discovery_index = 0;
};

}  // namespace strata::raft
