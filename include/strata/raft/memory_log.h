// raft_log in memory: the reference implementation the unit tests and the
// simulator use, and a template for the storage-backed one. Not thread-safe;
// owned by whoever owns the raft_core that uses it.
#pragma once

#include <deque>
#include <vector>

#include "strata/raft/raft_log.h"

namespace strata::raft {

class memory_log final : public raft_log {
public:
    offset start_offset() const override { return _start; }
    offset end_offset() const override { return _start + static_cast<int64_t>(_entries.size()); }
    epoch last_epoch() const override;
    const log_entry& entry(offset o) const override;
    std::optional<epoch_end_offset> end_offset_for_epoch(epoch e) const override;

    void append(log_entry entry) override;
    void truncate_suffix(offset from) override;

    std::optional<snapshot_id> latest_snapshot() const override { return _snapshot; }
    int64_t snapshot_size() const override { return static_cast<int64_t>(_snapshot_data.size()); }
    std::string read_snapshot(int64_t position, int32_t max_bytes) const override;
    void install_snapshot(snapshot_id id, std::string data) override;

    const std::string& snapshot_data() const { return _snapshot_data; }

    // For a test's model of durability: the lowest offset changed since the
    // last call (end_offset() if none), and whether the snapshot changed.
    struct changes {
        offset lowest_changed;
        bool snapshot_changed = false;
    };
    changes take_changes();
    // Makes this log equal to `source` given `source`'s changes since the
    // last copy: the cheap way to model an fsync.
    void sync_from(const memory_log& source, const changes& changed);

private:
    struct epoch_start {
        epoch ep;
        offset start;
    };
    void note_change(offset o);

    offset _start{0};
    std::deque<log_entry> _entries;
    std::vector<epoch_start> _epochs;  // the epochs of _entries, ascending
    std::optional<snapshot_id> _snapshot;
    std::string _snapshot_data;
    std::optional<offset> _lowest_changed;
    bool _snapshot_changed = false;
};

}  // namespace strata::raft
