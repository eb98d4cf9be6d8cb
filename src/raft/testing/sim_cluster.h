// A simulated cluster for the Raft core's tests: nodes, a network that loses,
// duplicates, delays and reorders messages and can be partitioned, crashes
// that keep only what was persisted, and a checker of Raft's safety
// properties that runs on every log mutation and every apply.
//
// Everything is driven by one seed and a simulated clock, so a run is
// reproducible from its seed. Single-threaded; not part of the library.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "strata/raft/memory_log.h"
#include "strata/raft/raft_core.h"

namespace strata::raft::testing {

struct sim_options {
    int voters = 3;
    int observers = 0;
    uint64_t seed = 1;
    millis min_latency = 1;
    millis max_latency = 5;
    double drop_rate = 0;
    double duplicate_rate = 0;
    bool pre_vote = true;
    millis election_timeout = 100;
    millis election_jitter = 100;
    millis fetch_timeout = 200;
    millis request_timeout = 50;
    millis fetch_interval = 10;
    size_t fetch_max_entries = 16;
    int32_t snapshot_chunk_bytes = 64;
    bool trace = false;
};

class safety_checker;
class sim_cluster;

// A node's log: a memory_log that reports every append to the checker, so
// that log matching is verified incrementally, entry by entry.
class checked_log final : public raft_log {
public:
    checked_log(safety_checker& checker, node_id id) : _checker(checker), _id(id) {}
    offset start_offset() const override { return inner.start_offset(); }
    offset end_offset() const override { return inner.end_offset(); }
    epoch last_epoch() const override { return inner.last_epoch(); }
    const log_entry& entry(offset o) const override { return inner.entry(o); }
    std::optional<epoch_end_offset> end_offset_for_epoch(epoch e) const override {
        return inner.end_offset_for_epoch(e);
    }
    void append(log_entry entry) override;
    void truncate_suffix(offset from) override { inner.truncate_suffix(from); }
    std::optional<snapshot_id> latest_snapshot() const override { return inner.latest_snapshot(); }
    int64_t snapshot_size() const override { return inner.snapshot_size(); }
    std::string read_snapshot(int64_t position, int32_t max_bytes) const override {
        return inner.read_snapshot(position, max_bytes);
    }
    void install_snapshot(snapshot_id id, std::string data) override { inner.install_snapshot(id, std::move(data)); }

    memory_log inner;

private:
    safety_checker& _checker;
    node_id _id;
};

struct sim_node {
    node_id id;
    bool voter = true;
    std::unique_ptr<checked_log> log;  // what the core sees (page cache)
    memory_log durable_log;           // what survives a crash
    quorum_state durable_state{};
    std::unique_ptr<raft_core> core;   // null while crashed
    uint64_t incarnation = 0;
    // The application: a digest of everything applied, in order.
    offset applied_end{0};
    epoch last_applied_epoch{0};
    uint64_t digest = 0;
    std::vector<log_entry> applied;  // this incarnation's applies, for tests to inspect
    bool up() const { return core != nullptr; }
};

// Raft's safety properties, checked as things happen. A violation throws
// std::logic_error with what went wrong.
class safety_checker {
public:
    explicit safety_checker(sim_cluster& cluster) : _cluster(cluster) {}
    void on_append(node_id node, const checked_log& log, const log_entry& entry);
    void on_apply(sim_node& node, const log_entry& entry);
    void on_load_snapshot(sim_node& node, snapshot_id id, const std::string& data);
    void on_durable_sync(const sim_node& node, offset lowest_changed);
    // At most one leader per epoch; a new leader holds every committed entry.
    void check_leaders();
    size_t committed() const { return _committed.size(); }
    const log_entry& committed_entry(offset o) const { return _committed[static_cast<size_t>(o.value())].entry; }

    static uint64_t chain(uint64_t digest, const log_entry& entry);

private:
    struct entry_record {
        std::string data;
        entry_kind kind;
        std::optional<epoch> previous_epoch;  // of the entry before, when the writer knew it
    };
    struct committed_record {
        log_entry entry;
        epoch commit_epoch;   // the epoch in which it was first seen applied
        uint64_t digest_after;
    };
    void check_durable_majority(offset o);

    sim_cluster& _cluster;
    std::map<std::pair<int64_t, int32_t>, entry_record> _entries;
    std::vector<committed_record> _committed;
    std::map<epoch, node_id> _leaders;
    std::set<std::pair<int32_t, int32_t>> _checked_leaders;  // (epoch, node)
};

class sim_cluster {
public:
    explicit sim_cluster(sim_options options);
    ~sim_cluster();

    millis now() const { return _now; }
    const sim_options& options() const { return _options; }
    std::vector<sim_node>& nodes() { return _nodes; }
    sim_node& node(node_id id) { return _nodes[static_cast<size_t>(id.value() - 1)]; }
    raft_core& core(node_id id) { return *node(id).core; }
    std::vector<node_id> voter_ids() const;
    safety_checker& checker() { return _checker; }
    std::mt19937_64& random() { return _random; }

    // Advances the clock by `ms`, delivering messages as they fall due and
    // ticking every live node every millisecond... in steps of `tick_every`.
    void advance(millis ms, millis tick_every = 5);
    // Runs until pred() or `limit` ms pass; whether pred() held.
    bool run_until(const std::function<bool()>& pred, millis limit, millis tick_every = 5);

    // The unique live node that is leader in the highest epoch, if any.
    std::optional<node_id> leader() const;
    std::optional<node_id> wait_for_leader(millis limit);
    std::optional<offset> propose(node_id on, std::string data);
    // Proposes on the current leader (again after a leader change) until the
    // entry is committed; false if that takes more than `limit`.
    bool propose_and_commit(std::string data, millis limit);
    bool all_applied(offset through);

    void crash(node_id id);
    void restart(node_id id);
    void take_snapshot(node_id id);
    // Graceful resignation of a leader (EndQuorumEpoch).
    void resign(node_id id);

    void isolate(node_id id);
    void cut(node_id a, node_id b);  // both directions
    void split(const std::vector<node_id>& side);  // side vs the rest
    void heal();
    void set_faults(double drop_rate, double duplicate_rate, millis min_latency, millis max_latency);

    size_t messages_in_flight() const { return _in_flight.size(); }
    uint64_t delivered() const { return _delivered; }

private:
    struct envelope {
        millis deliver_at;
        uint64_t sequence;
        node_id from;
        node_id to;
        uint64_t requester_incarnation;
        raft::request request;
        std::optional<raft::response> response;
        bool operator>(const envelope& other) const {
            return deliver_at != other.deliver_at ? deliver_at > other.deliver_at : sequence > other.sequence;
        }
    };
    void start_core(sim_node& node);
    void run_actions(sim_node& node);
    void transmit(envelope message);
    void deliver(envelope message);
    bool blocked(node_id from, node_id to) const;
    void trace(const std::string& line) const;

    sim_options _options;
    safety_checker _checker;
    std::mt19937_64 _random;
    millis _now = 0;
    uint64_t _sequence = 0;
    uint64_t _delivered = 0;
    std::vector<sim_node> _nodes;
    std::vector<envelope> _in_flight;  // a min-heap on (deliver_at, sequence)
    std::set<std::pair<int32_t, int32_t>> _blocked;
};

}  // namespace strata::raft::testing
