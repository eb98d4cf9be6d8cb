// One consumer group under the KIP-848 consumer protocol
// (ConsumerGroupHeartbeat): the coordinator computes the target assignment
// with a server-side assignor (uniform or range) and moves each member
// towards it, a member giving up partitions before others get them.
//
// Simplifications against Kafka, documented in README.md: a member's epoch
// must be its current or previous one, and a regex subscription is resolved
// against the topics at each heartbeat rather than by a background task.
// What Kafka persists of a group (its consumer_group_state) the coordinator
// writes to __consumer_offsets as ConsumerGroup* records after each change
// (consumer_group_records.h) and restores on load.
//
// Owned by the group coordinator and changed only on its thread; time and
// the topics (names, ids, partition counts) are passed in, so unit tests
// drive it step by step.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "strata/common/kafka_error.h"
#include "topic_regex.h"
#include "strata/protocol/wire.h"

namespace strata::group {

struct uuid_less {
    bool operator()(const protocol::uuid& a, const protocol::uuid& b) const { return a.bytes < b.bytes; }
};
using partition_assignment = std::map<protocol::uuid, std::set<int32_t>, uuid_less>;

struct topic_info {
    protocol::uuid id;
    int32_t partitions = 0;
};
using topic_catalog = std::map<std::string, topic_info>;  // by name
// The topics each member consumes: its names and what its regex matches.
using member_subscriptions = std::map<std::string, std::set<std::string>>;  // by member id

struct consumer_member {
    std::string member_id;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    std::string client_id;
    std::string client_host;
    int32_t epoch = 0;
    int32_t previous_epoch = -1;
    int32_t rebalance_timeout_ms = 300000;
    std::vector<std::string> subscribed_topics;
    std::string subscribed_topic_regex;  // empty: none (Kafka treats "" as none too)
    std::optional<std::string> server_assignor;
    partition_assignment assigned;            // the member may use these
    partition_assignment pending_revocation;  // it must give these up first
    int64_t deadline_ms = 0;
};

// Kafka's MemberState, as ConsumerGroupCurrentMemberAssignmentValue stores it.
enum class member_state : int8_t { stable = 0, unrevoked_partitions = 1, unreleased_partitions = 2 };

// What survives a restart of the coordinator: every field Kafka's
// ConsumerGroup* records hold. Session deadlines do not; they restart at load.
struct consumer_group_state {
    int32_t group_epoch = 0;
    int32_t assignment_epoch = 0;
    std::map<std::string, int32_t> subscribed_metadata;  // topic -> partitions when the target was computed
    std::map<std::string, consumer_member> members;      // deadline_ms unused
    std::map<std::string, partition_assignment> target;
};

// Where a member is in moving towards its target assignment.
member_state reconciliation_state(const consumer_member& m, const partition_assignment& target);

struct consumer_heartbeat {
    std::string member_id;
    int32_t member_epoch = 0;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    int32_t rebalance_timeout_ms = -1;
    std::optional<std::vector<std::string>> subscribed_topic_names;
    std::optional<std::string> subscribed_topic_regex;
    std::optional<std::string> server_assignor;
    std::optional<partition_assignment> owned;
    std::string client_id;
    std::string client_host;
};

struct consumer_heartbeat_result {
    kafka_error error = kafka_error::none;
    std::string error_message;
    std::string member_id;
    int32_t member_epoch = 0;
    std::optional<partition_assignment> assignment;
};

struct consumer_group_limits {
    int32_t session_timeout_ms = 45000;
    int32_t heartbeat_interval_ms = 5000;
    int32_t max_size = INT32_MAX;
};

class consumer_group {
public:
    consumer_group(std::string id, consumer_group_limits limits) : _id(std::move(id)), _limits(limits) {}

    const std::string& id() const { return _id; }
    int32_t group_epoch() const { return _group_epoch; }
    int32_t assignment_epoch() const { return _assignment_epoch; }
    const std::map<std::string, consumer_member>& members() const { return _members; }
    const partition_assignment& target_of(const std::string& member_id) const;
    std::string assignor() const;
    // Empty, Assigning, Reconciling or Stable (Kafka's ConsumerGroupState names).
    std::string state() const;
    const consumer_group_limits& limits() const { return _limits; }
    // The existing topics the members consume (names and regex matches) as of
    // the last target assignment: OffsetDelete keeps their offsets.
    std::set<std::string> subscribed_topic_names() const;

    // `new_member_id` is used when a member joins (epoch 0) without an id (v0).
    consumer_heartbeat_result heartbeat(consumer_heartbeat request, const topic_catalog& topics, int64_t now_ms,
                                        const std::string& new_member_id);
    // The persisted part of the group, and the group rebuilt from it (after a
    // load): every member's session restarts at `now_ms`, as Kafka's does.
    consumer_group_state persisted_state() const;
    void restore(consumer_group_state state, int64_t now_ms);

    // Resolves the patterns that members brought since the last call (Kafka
    // resolves a pattern new to the group off the heartbeat's path; the
    // coordinator calls this on its next tick); true if that made a new group
    // epoch, whose records are then to be written.
    bool has_unresolved_regexes() const { return !_unresolved.empty(); }
    bool resolve_regexes(const topic_catalog& topics);

    // Removes members whose session expired; true if any went.
    bool tick(int64_t now_ms);
    // OffsetCommit/OffsetFetch from a member: NONE, UNKNOWN_MEMBER_ID or STALE_MEMBER_EPOCH.
    kafka_error validate_member_epoch(const std::string& member_id, int32_t epoch) const;

private:
    void remove_member(const std::string& member_id);
    void leave(const consumer_heartbeat& request);
    consumer_member* join(const consumer_heartbeat& request, const std::string& new_member_id, bool& changed,
                          kafka_error& error, std::string& message);
    bool update_member(consumer_member& m, const consumer_heartbeat& request);
    void maybe_compute_target(const topic_catalog& topics, bool membership_changed);
    member_subscriptions resolve_subscriptions(const topic_catalog& topics);
    kafka_error take_over_instance(const std::string& instance_id, const std::string& member_id, bool& taken_over,
                                   std::string& message);
    // INVALID_REGULAR_EXPRESSION (and why) for a pattern RE2 refuses; compiles it once.
    kafka_error check_regex(const std::optional<std::string>& regex, std::string& message);
    void reconcile(consumer_member& m, const std::optional<partition_assignment>& owned);
    bool owned_by_other(const std::string& member_id, const protocol::uuid& topic, int32_t partition) const;

    const std::string _id;
    const consumer_group_limits _limits;
    int32_t _group_epoch = 0;
    int32_t _assignment_epoch = 0;
    std::map<std::string, consumer_member> _members;
    std::map<std::string, partition_assignment> _target;
    std::map<std::string, int32_t> _subscribed_metadata;  // topic -> partitions when the target was computed
    // Compiled once per distinct pattern (the members of a group usually share
    // one); dropped when no member uses it any more.
    std::map<std::string, std::shared_ptr<const topic_regex>> _regexes;
    std::set<std::string> _unresolved;  // patterns new to the group, matching nothing until resolve_regexes
};

// The server-side assignors (KIP-848): "uniform" spreads every subscribed
// partition evenly, keeping a partition with its current owner where that
// keeps the balance; "range" gives each member consecutive partitions of
// each topic it subscribes to.
std::map<std::string, partition_assignment> assign_uniform(const member_subscriptions& members,
                                                           const topic_catalog& topics,
                                                           const std::map<std::string, partition_assignment>& current);
std::map<std::string, partition_assignment> assign_range(const member_subscriptions& members,
                                                         const topic_catalog& topics);

}  // namespace strata::group
