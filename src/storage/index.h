// The two per-segment indexes, in Kafka's file formats. Both are sparse: the
// segment adds one entry to each every index.interval.bytes of log, so a read
// scans at most that many bytes of batch headers after a lookup.
//
//   <base>.index       offset index, 8 bytes per entry, big-endian:
//
//     0       4       8
//     +-------+-------+
//     | rel   | pos   |   rel = offset - base offset (int32),
//     +-------+-------+   pos = byte position of the batch in <base>.log
//
//   <base>.timeindex   time index, 12 bytes per entry, big-endian:
//
//     0               8       12
//     +---------------+-------+
//     | timestamp     | rel   |   the largest maxTimestamp so far in the
//     +---------------+-------+   segment, and the offset where it is reached
//
// Both fields grow strictly from entry to entry. Unlike Kafka, files are not
// preallocated and memory-mapped: entries are kept in memory and appended to
// the file with pwrite, so the file holds exactly its entries and a crash
// leaves at worst a torn last entry, which the sanity check at open catches
// (the index is then rebuilt from the log).
//
// Threads: the segment's owner appends and truncates; readers look up
// concurrently. A mutex guards the entries (held for a binary search only).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "file_util.h"
#include "strata/storage/error.h"
#include "strata/storage/types.h"

namespace strata::storage {

struct index_entry {
    offset at;          // absolute offset
    uint32_t position;  // byte position in the .log
};

struct time_index_entry {
    int64_t timestamp;
    offset at;
};

class offset_index {
public:
    static constexpr size_t entry_size = 8;

    offset_index(offset base, size_t max_entries) : _base(base), _max_entries(max_entries) {}

    // Opens (creating) the file and loads its entries. Returns false when the
    // file fails the sanity check (size not a multiple of 8, entries not
    // increasing, a position at or past `log_size`): the caller rebuilds.
    result<bool> open(const std::string& path, uint64_t log_size);
    result<void> append(offset at, uint32_t position);
    // The last entry at or before `target`; {base, 0} when there is none.
    index_entry lookup(offset target) const;
    // Drops entries at or after `to`.
    result<void> truncate_to(offset to);
    // Drops every entry (before a rebuild).
    result<void> reset();
    result<void> flush();

    bool full() const;
    size_t entries() const;
    std::optional<index_entry> last() const;

private:
    offset _base;
    size_t _max_entries;
    file_handle _file;
    mutable std::mutex _mutex;
    std::vector<index_entry> _entries;
};

class time_index {
public:
    static constexpr size_t entry_size = 12;

    time_index(offset base, size_t max_entries) : _base(base), _max_entries(max_entries) {}

    result<bool> open(const std::string& path);
    // Appends if `timestamp` is above the last entry's (else a no-op).
    result<void> maybe_append(int64_t timestamp, offset at);
    // The last entry with timestamp <= `timestamp`; {-1, base} if none.
    time_index_entry lookup(int64_t timestamp) const;
    result<void> truncate_to(offset to);
    result<void> reset();
    result<void> flush();

    bool full() const;
    std::optional<time_index_entry> last() const;

private:
    offset _base;
    size_t _max_entries;
    file_handle _file;
    mutable std::mutex _mutex;
    std::vector<time_index_entry> _entries;
};

}  // namespace strata::storage
