// One consumer group under Kafka's classic protocol (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup) and its committed offsets: the state machine of
// Kafka's GroupMetadata + GroupCoordinator, with time passed in and I/O
// delegated, so unit tests drive it step by step.
//
//   Empty --join--> PreparingRebalance --all joined / timeout--> CompletingRebalance
//     ^                 ^       |                                     | leader's SyncGroup
//     |  last member    |       +--- no member left --> Empty         v  stored
//     +---- leaves -----+--------- join / leave / expiry ---------- Stable
//
// Owned by the group coordinator and changed only on its executor. Pending
// JoinGroup and SyncGroup responses are callbacks held by their members; each
// is called exactly once (or dropped when the group is, which the coordinator
// turns into an error response).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/protocol/coordinator/group_metadata_value.h"

namespace strata::group {

enum class group_state { empty, preparing_rebalance, completing_rebalance, stable, dead };

// Kafka's names, as DescribeGroups and ListGroups carry them.
std::string_view state_name(group_state state);
std::optional<group_state> parse_state(std::string_view name);

struct member_protocol {
    std::string name;
    std::vector<uint8_t> metadata;
    bool operator==(const member_protocol&) const = default;
};

struct join_member_info {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<uint8_t> metadata;
};

struct join_result {
    kafka_error error = kafka_error::none;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::string leader_id;
    std::string member_id;
    bool skip_assignment = false;
    std::vector<join_member_info> members;  // the leader's only
};

struct sync_result {
    kafka_error error = kafka_error::none;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<uint8_t> assignment;
};

using join_callback = std::function<void(join_result)>;
using sync_callback = std::function<void(sync_result)>;

struct join_params {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = -1;  // -1 (v0): the session timeout
    std::string protocol_type;
    std::vector<member_protocol> protocols;
    bool require_known_member_id = false;  // JoinGroup v4+ (KIP-394)
    bool supports_skip_assignment = false; // JoinGroup v9+ (KIP-814)
};

struct sync_params {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int32_t generation = -1;
    std::optional<std::string> protocol_type;
    std::optional<std::string> protocol_name;
    std::vector<std::pair<std::string, std::vector<uint8_t>>> assignments;
};

struct member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;
    std::vector<member_protocol> protocols;
    std::vector<uint8_t> assignment;
    join_callback awaiting_join;
    sync_callback awaiting_sync;
    int64_t heartbeat_deadline_ms = 0;

    const std::vector<uint8_t>* metadata_for(const std::string& protocol) const;
};

struct committed_offset {
    int64_t offset = -1;
    int32_t leader_epoch = -1;
    std::string metadata;
    int64_t commit_timestamp_ms = -1;
    int64_t expire_timestamp_ms = -1;
};

using topic_partition_key = std::pair<std::string, int32_t>;

struct group_limits {
    int32_t min_session_timeout_ms = 6000;
    int32_t max_session_timeout_ms = 1800000;
    int32_t max_size = INT32_MAX;
    int32_t initial_rebalance_delay_ms = 3000;
};

class classic_group;

// What the group needs from the coordinator: durable storage of its metadata
// (GroupMetadataValue in __consumer_offsets) and fresh member ids.
class group_environment {
public:
    virtual ~group_environment() = default;
    // Writes `value` as the group's record; `done` runs on the coordinator's
    // executor once it is durable or failed.
    virtual void store_group(classic_group& group, protocol::coordinator::group_metadata_value value,
                             std::function<void(kafka_error)> done) = 0;
    // clientId-UUID, as Kafka makes them.
    virtual std::string new_member_id(const std::string& client_id) = 0;
};

class classic_group {
public:
    classic_group(std::string id, const group_limits& limits, group_environment& env);
    classic_group(const classic_group&) = delete;
    classic_group& operator=(const classic_group&) = delete;
    ~classic_group();

    const std::string& id() const { return _id; }
    group_state state() const { return _state; }
    int32_t generation() const { return _generation; }
    const std::optional<std::string>& protocol_type() const { return _protocol_type; }
    const std::optional<std::string>& protocol_name() const { return _protocol_name; }
    const std::optional<std::string>& leader_id() const { return _leader; }
    const std::map<std::string, member>& members() const { return _members; }
    int64_t state_timestamp_ms() const { return _state_timestamp_ms; }
    bool has_member(const std::string& id) const { return _members.contains(id); }
    // Topics the members' consumer subscriptions name (protocol type "consumer").
    std::set<std::string> subscribed_topics() const;

    // ---- classic protocol ------------------------------------------------
    void join(join_params params, int64_t now_ms, join_callback done);
    void sync(sync_params params, int64_t now_ms, sync_callback done);
    kafka_error heartbeat(const std::string& member_id, const std::optional<std::string>& instance_id,
                          int32_t generation, int64_t now_ms);
    // One LeaveGroup member identity; member_id may be empty with an instance id.
    kafka_error leave(const std::string& member_id, const std::optional<std::string>& instance_id, int64_t now_ms);
    // Session, join and sync deadlines.
    void tick(int64_t now_ms);

    // ---- offsets ------------------------------------------------------------
    // Whether a commit with this identity may be written now (Kafka's
    // validateOffsetCommit); NONE also refreshes the member's session.
    kafka_error validate_offset_commit(const std::string& member_id, const std::optional<std::string>& instance_id,
                                       int32_t generation, int64_t now_ms);
    std::map<topic_partition_key, committed_offset>& offsets() { return _offsets; }
    const std::map<topic_partition_key, committed_offset>& offsets() const { return _offsets; }
    // Commits written but not yet durable, per partition (require_stable).
    std::map<topic_partition_key, int>& pending_commits() { return _pending_commits; }

    // ---- coordinator ------------------------------------------------------
    // The record that stores the group; `assignments` overrides the members'
    // current ones (the leader's SyncGroup, before it is durable).
    protocol::coordinator::group_metadata_value to_record(
        int64_t now_ms, const std::map<std::string, std::vector<uint8_t>>* assignments = nullptr) const;
    // Replaces the group's metadata with a loaded record (load from the log).
    void load(const protocol::coordinator::group_metadata_value& value, int64_t now_ms);
    // Dead: every pending callback is answered with `error` (the partition
    // moved, or DeleteGroups).
    void mark_dead(kafka_error error);
    // Empty with no offsets and not waiting on anything: nothing to keep.
    bool can_forget() const;

private:
    void transition(group_state to, int64_t now_ms);
    bool supports_protocols(const std::string& type, const std::vector<member_protocol>& protocols) const;
    std::string select_protocol() const;
    int32_t max_rebalance_timeout_ms() const;
    bool all_members_joined() const;
    bool is_static_member_fenced(const std::string& member_id, const std::optional<std::string>& instance_id) const;

    join_result current_join_result(const member& m, bool with_members) const;
    void add_member_and_rebalance(join_params params, std::string member_id, int64_t now_ms, join_callback done);
    void update_member_and_rebalance(member& m, join_params& params, int64_t now_ms, join_callback done);
    void static_member_join(join_params params, int64_t now_ms, join_callback done);
    void store_rejoined_static_member(const std::string& new_id, const std::string& old_leader,
                                      bool supports_skip_assignment, int64_t now_ms, join_callback done);
    void maybe_prepare_rebalance(int64_t now_ms);
    void prepare_rebalance(int64_t now_ms);
    void maybe_complete_join(int64_t now_ms);
    void complete_join(int64_t now_ms);
    void remove_member(const std::string& member_id);
    void remove_member_and_update(const std::string& member_id, int64_t now_ms);
    void propagate_assignment(kafka_error error);
    void reset_heartbeat(member& m, int64_t now_ms);
    void on_leader_sync_stored(int32_t generation, std::map<std::string, std::vector<uint8_t>> assignments,
                               kafka_error error, int64_t now_ms);

    const std::string _id;
    const group_limits _limits;
    group_environment& _env;

    group_state _state = group_state::empty;
    int64_t _state_timestamp_ms = -1;
    int32_t _generation = 0;
    std::optional<std::string> _protocol_type;
    std::optional<std::string> _protocol_name;
    std::optional<std::string> _leader;
    std::map<std::string, member> _members;
    std::map<std::string, std::string> _static_members;  // instance id -> member id
    std::map<std::string, int64_t> _pending_members;     // KIP-394: id handed out, deadline
    std::set<std::string> _pending_sync;                 // joined this generation, no SyncGroup yet

    // PreparingRebalance: when the join phase ends at the latest. While
    // _initial_delay, joins extend it (group.initial.rebalance.delay.ms) up to
    // _rebalance_limit_ms, and it does not end early.
    int64_t _join_deadline_ms = 0;
    bool _initial_delay = false;
    int64_t _rebalance_limit_ms = 0;
    // CompletingRebalance/Stable: members still in _pending_sync then are removed.
    int64_t _sync_deadline_ms = 0;
    // Set while this object lives, so that a store completing after the group
    // was forgotten does nothing.
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
    int64_t _clock_ms = 0;  // the latest time seen, for callbacks without one

    std::map<topic_partition_key, committed_offset> _offsets;
    std::map<topic_partition_key, int> _pending_commits;
};

}  // namespace strata::group
