// Per-topic settings of a partition log. Field names follow Kafka's topic
// properties; defaults are Kafka's, except where noted.
#pragma once

#include <cstddef>
#include <cstdint>

#include "strata/protocol/record_batch.h"

namespace strata::storage {

enum class cleanup_policy : uint8_t {
    remove,            // "delete"
    compact,           // "compact"
    compact_and_remove // "compact,delete"
};

// When appended data is fsynced.
enum class flush_mode : uint8_t {
    // Strata's default: appends that ask for durability (acks=all) wait for an
    // fdatasync shared by every append that arrived meanwhile (group commit).
    group_commit,
    // Kafka's: fsync once flush.messages messages or flush.ms have passed
    // since the last flush; durability waits are still honoured, by forcing
    // a flush.
    interval,
};

struct log_config {
    size_t segment_bytes = 1 << 30;                       // segment.bytes
    int64_t segment_ms = 7LL * 24 * 3600 * 1000;          // segment.ms
    size_t segment_index_bytes = 10 << 20;                // segment.index.bytes
    size_t index_interval_bytes = 4096;                   // index.interval.bytes
    int64_t retention_ms = 7LL * 24 * 3600 * 1000;        // retention.ms; -1: no limit
    int64_t retention_bytes = -1;                         // retention.bytes; -1: no limit
    cleanup_policy cleanup = cleanup_policy::remove;      // cleanup.policy
    int64_t delete_retention_ms = 24LL * 3600 * 1000;     // delete.retention.ms
    double min_cleanable_dirty_ratio = 0.5;               // min.cleanable.dirty.ratio
    size_t max_message_bytes = 1048588;                   // max.message.bytes
    protocol::timestamp_type timestamp_kind = protocol::timestamp_type::create_time;  // message.timestamp.type
    flush_mode flush = flush_mode::group_commit;
    int64_t flush_messages = INT64_MAX;                   // flush.messages (interval mode)
    int64_t flush_ms = INT64_MAX;                         // flush.ms (interval mode)

    bool compacted() const { return cleanup != cleanup_policy::remove; }
    bool deletes() const { return cleanup != cleanup_policy::compact; }
};

}  // namespace strata::storage
