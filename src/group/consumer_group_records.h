// KIP-848 groups in __consumer_offsets: the ConsumerGroup* records (key
// versions 3 to 8) Kafka writes for a group of the consumer protocol, made
// from the change between two consumer_group_states, and replayed back
// into states when a partition loads. Pure: no I/O, no coordinator.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "consumer_group.h"
#include "strata/protocol/wire.h"

namespace strata::group {

// A coordinator record's key or value as __consumer_offsets holds it: its
// version (int16), then the message at that version.
template <typename Message>
std::vector<uint8_t> versioned(const Message& m, int16_t version) {
    protocol::encoded_output out;
    protocol::writer w(out);
    w.write_int16(version);
    m.encode(w, version);
    return std::move(out.bytes);
}

// One key/value record for __consumer_offsets; no value: a tombstone.
struct offsets_record {
    std::vector<uint8_t> key;
    std::optional<std::vector<uint8_t>> value;
};

// Kafka's key versions of the consumer group records.
namespace consumer_record_key {
inline constexpr int16_t group_metadata = 3;              // the group epoch
inline constexpr int16_t partition_metadata = 4;          // subscribed topics' partition counts
inline constexpr int16_t member_metadata = 5;             // a member's subscription and client
inline constexpr int16_t target_assignment_metadata = 6;  // the assignment epoch
inline constexpr int16_t target_assignment_member = 7;    // a member's target partitions
inline constexpr int16_t current_member_assignment = 8;   // a member's epoch and partitions
}  // namespace consumer_record_key

// The records that take the log from `before` to `after` for group `group_id`,
// only those that changed, in Kafka's order: member subscriptions, subscribed
// topics, group epoch, then target assignment (members, then its epoch), then
// current assignments. A member that left gets tombstones for its three
// records; a group left without members stays (Empty, with its epoch, as in
// Kafka) until it is forgotten: consumer_group_tombstones. `topics` names
// the topic ids for the partition metadata record.
std::vector<offsets_record> consumer_group_records(const std::string& group_id, const consumer_group_state& before,
                                                   const consumer_group_state& after, const topic_catalog& topics);

// Tombstones for every record of a group in `state`, the group record last:
// when the coordinator forgets the group (DeleteGroups, or an empty group
// without offsets).
std::vector<offsets_record> consumer_group_tombstones(const std::string& group_id, const consumer_group_state& state);

// A member's current assignment as its record (key version 8) holds it.
struct loaded_member_assignment {
    int32_t epoch = 0;
    int32_t previous_epoch = -1;
    partition_assignment assigned;
    partition_assignment pending_revocation;
};

// A group as a log replay finds it, record by record; restored_state() makes
// the group of it once the whole log is read (a compacted log keeps only the
// last record of each key, so the records of one member may come in any order).
struct loaded_consumer_group {
    bool seen_epoch = false;                                  // the group record (key version 3) is there
    consumer_group_state state;                               // members from their subscription records (5)
    std::map<std::string, loaded_member_assignment> current;  // by member id
};
using loaded_consumer_groups = std::map<std::string, loaded_consumer_group>;

// The group to restore, or none without a group record (Kafka writes it with
// the first member and tombstones it last). Assignments of members without a
// subscription record are dropped.
std::optional<consumer_group_state> restored_state(const loaded_consumer_group& loaded);

// Applies one record whose key version (already read from `key`) is 3..8;
// `value` empty: a tombstone. Throws protocol::decode_error on a malformed
// record; a value version this build does not know is skipped, as Kafka
// skips them.
void replay_consumer_group_record(int16_t key_version, protocol::reader& key,
                                  const std::optional<std::span<const uint8_t>>& value, loaded_consumer_groups& out);

}  // namespace strata::group
