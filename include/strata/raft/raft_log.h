// The log the Raft core replicates, as an interface so that the core stays
// free of I/O: the shell backs it with the storage engine's segmented log,
// the tests and the single-node default with memory_log.
//
// The core calls it synchronously from its own thread. Writes (append,
// truncate_suffix, install_snapshot) need only be visible to later reads;
// the core asks for durability separately with a persist_log action, which
// the driver completes (fsync) before it carries out any later action.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "strata/raft/types.h"

namespace strata::raft {

class raft_log {
public:
    virtual ~raft_log() = default;

    // The first offset held: the latest snapshot's end offset, or 0.
    virtual offset start_offset() const = 0;
    // The log end offset (LEO): the offset the next entry gets.
    virtual offset end_offset() const = 0;
    // The epoch of the entry at end_offset() - 1; the snapshot's epoch when
    // the log holds no entry past the snapshot; epoch 0 when empty.
    virtual epoch last_epoch() const = 0;
    // The entry at `o`, for start_offset() <= o < end_offset().
    virtual const log_entry& entry(offset o) const = 0;
    // The largest epoch e' <= e that the log (or its snapshot) knows, and the
    // offset where e' ends: the first offset of the next epoch, or the LEO.
    // nullopt when e is older than what the log retains (only the snapshot
    // can bring a replica that far back up). An empty log with no snapshot
    // answers (0, 0).
    virtual std::optional<epoch_end_offset> end_offset_for_epoch(epoch e) const = 0;

    // Appends at end_offset(); entry.off must equal it and entry.ep must be
    // at least last_epoch().
    virtual void append(log_entry entry) = 0;
    // Removes every entry at or above `from` (start_offset() <= from).
    virtual void truncate_suffix(offset from) = 0;

    virtual std::optional<snapshot_id> latest_snapshot() const = 0;
    // Size and bytes of the latest snapshot (KIP-630: fetched in chunks).
    virtual int64_t snapshot_size() const = 0;
    virtual std::string read_snapshot(int64_t position, int32_t max_bytes) const = 0;
    // Keeps `data` as the latest snapshot and drops the entries below
    // id.end_offset. If the log holds the entry at id.end_offset - 1 with
    // epoch id.ep, the entries after it stay; otherwise the log becomes empty
    // at id.end_offset (a follower taking the leader's snapshot).
    virtual void install_snapshot(snapshot_id id, std::string data) = 0;
};

}  // namespace strata::raft
