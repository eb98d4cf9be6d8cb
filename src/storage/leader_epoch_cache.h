// A partition's leader-epoch history: for each epoch, the first offset
// written in it (Kafka's leader-epoch-checkpoint, kept in the state store, see
// state_store.h for its encoding). Followers use it to truncate to the point
// where they diverge from the leader (OffsetForLeaderEpoch, KIP-101/KIP-279).
//
// The log's owner assigns and truncates; any thread looks up (a mutex guards
// the entries). Invariant: epochs and start offsets both strictly increase.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "strata/storage/error.h"
#include "strata/storage/log.h"
#include "strata/storage/types.h"

namespace strata::storage {

struct epoch_entry {
    leader_epoch epoch;
    offset start;
    bool operator==(const epoch_entry&) const = default;
};

class leader_epoch_cache {
public:
    // Records that `epoch` starts at `start` if it is newer than the latest
    // epoch; returns whether anything changed.
    bool assign(leader_epoch epoch, offset start);
    // Drops entries starting at or after `end` (log truncation).
    bool truncate_from_end(offset end);
    // The log start moved to `start`: entries wholly before it go, and the
    // one that covers it starts at `start` (Kafka's truncateFromStart).
    bool truncate_from_start(offset start);
    std::optional<epoch_end> end_offset_for(leader_epoch requested, offset log_end) const;
    // The latest epoch starting at or before `o` (Kafka's epochForOffset).
    std::optional<leader_epoch> epoch_for(offset o) const;
    std::optional<leader_epoch> latest_epoch() const;
    std::vector<epoch_entry> entries() const;
    void clear();

    std::string encode() const;
    static result<leader_epoch_cache> decode(std::string_view bytes);

    leader_epoch_cache() = default;
    leader_epoch_cache(leader_epoch_cache&& other) noexcept : _entries(std::move(other._entries)) {}
    leader_epoch_cache& operator=(leader_epoch_cache&& other) noexcept {
        std::lock_guard lock(_mutex);
        _entries = std::move(other._entries);
        return *this;
    }

private:
    mutable std::mutex _mutex;
    std::vector<epoch_entry> _entries;
};

// A partition's checkpoints (state_store.h draws the encoding).
struct log_checkpoints {
    offset log_start;
    offset recovery_point;
    offset high_watermark;
    offset cleaner_checkpoint;  // the first offset the cleaner has not cleaned
    bool operator==(const log_checkpoints&) const = default;

    std::string encode() const;
    static result<log_checkpoints> decode(std::string_view bytes);
};

std::string checkpoints_key(const topic_partition& tp);
std::string leader_epochs_key(const topic_partition& tp);
std::string producer_snapshot_key(const topic_partition& tp);
std::string partition_state_prefix(const topic_partition& tp);

}  // namespace strata::storage
