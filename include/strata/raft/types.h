// Vocabulary of the Raft core: strong types for the identifiers that are easy
// to mix up (a node id, a leader epoch and an offset are all integers on the
// wire), the log entry, the snapshot id and the persisted quorum state.
//
// KRaft names Raft's "term" the leader epoch and Raft's "index" the offset;
// this code uses KRaft's names throughout. Offsets are Kafka's: an end offset
// is exclusive (the offset the next entry will get).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>

#include <fmt/core.h>

#include "strata/common/strong_int.h"

namespace strata::raft {

// An integer that does not convert to or from another kind (shared with the
// other subsystems; the tag comes first here).
template <typename Tag, typename T>
using strong_value = strata::strong_int<T, Tag>;

struct node_id_tag {};
struct epoch_tag {};
struct offset_tag {};

// A replica id (Kafka's broker/controller id, "entityType": "brokerId").
using node_id = strong_value<node_id_tag, int32_t>;
// A leader epoch (Raft's term). Epoch 0 is the epoch before any election.
using epoch = strong_value<epoch_tag, int32_t>;
// A position in the replicated log (Raft's index).
using offset = strong_value<offset_tag, int64_t>;

inline constexpr offset operator+(offset o, int64_t n) { return offset{o.value() + n}; }
inline constexpr offset operator-(offset o, int64_t n) { return offset{o.value() - n}; }
inline constexpr epoch next(epoch e) { return epoch{e.value() + 1}; }

// Monotonic time injected by the driver, in milliseconds since an arbitrary
// origin. The core never reads a clock.
using millis = int64_t;

enum class entry_kind : uint8_t {
    data,           // an application record (a metadata record batch)
    leader_change,  // the control record a new leader writes first (KRaft's LeaderChangeMessage)
};

// One replicated entry. The shell maps a run of entries of one epoch to a
// Kafka record batch (base offset = first offset, partition leader epoch =
// epoch); a leader_change entry is a control batch.
struct log_entry {
    offset off;
    epoch ep;
    entry_kind kind = entry_kind::data;
    std::string data;
    bool operator==(const log_entry&) const = default;
};

// KRaft's OffsetAndEpoch for snapshots: the snapshot holds the effect of every
// entry below end_offset, and ep is the epoch of the entry at end_offset - 1.
struct snapshot_id {
    offset end_offset;
    epoch ep;
    bool operator==(const snapshot_id&) const = default;
};

// Where an epoch ends in a log: the offset after its last entry, or where the
// next epoch begins (Kafka's leader-epoch cache answer, and
// FetchResponse.DivergingEpoch).
struct epoch_end_offset {
    epoch ep;
    offset end_offset;
    bool operator==(const epoch_end_offset&) const = default;
};

// What Raft must keep across a crash besides the log (Kafka's quorum-state
// file): written and made durable before the node acts on it.
struct quorum_state {
    epoch current_epoch;
    std::optional<node_id> voted_for;
    std::optional<node_id> leader;
    bool operator==(const quorum_state&) const = default;
};

}  // namespace strata::raft

template <>
struct fmt::formatter<strata::raft::snapshot_id> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const strata::raft::snapshot_id& id, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "(end_offset={}, epoch={})", id.end_offset, id.ep);
    }
};
