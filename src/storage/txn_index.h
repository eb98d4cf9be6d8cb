// A segment's aborted-transaction index, Kafka's `.txnindex` (its
// TransactionIndex), beside the segment's .log as <base offset>.txnindex:
// one fixed-size entry per ABORT marker written in that segment, in marker
// order, big-endian:
//
//   version int16 (0) | producerId int64 | firstOffset int64 |
//   lastOffset int64 (the marker) | lastStableOffset int64        34 bytes
//
// firstOffset may lie in an earlier segment (a transaction spans a roll);
// lastOffset is always in this one. read_committed fetches read these files
// instead of scanning the log, so nothing about aborted transactions is kept
// on the heap: the index holds only its path and size.
//
// Unlike Kafka, which creates the file with the first entry, every segment
// has one (empty when it saw no abort), so that a deleted .txnindex is
// noticed at open and rebuilt, never silently taken for "no aborts".
//
// Threads: the log's owner appends, truncates and rewrites it; any thread
// collects. A mutex covers the file and its size; a collect opens the file
// only when it is not empty, so sealed segments hold no descriptor.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "strata/storage/error.h"
#include "strata/storage/log.h"
#include "strata/storage/types.h"

namespace strata::storage {

class txn_index {
public:
    static constexpr size_t entry_size = 34;
    static constexpr int16_t version = 0;

    txn_index(std::string path, offset base) : _path(std::move(path)), _base(base) {}

    // A new, empty file (truncating one left over).
    result<void> create();
    // Reads and checks an existing file: false when it is missing or corrupt
    // (a partial entry, an unknown version, an entry outside this segment or
    // out of order). A corrupt index then answers nothing until rewritten.
    result<bool> open_existing();
    // Owner: appends one entry (its last offset at or after the last one's).
    result<void> append(const aborted_txn& txn);
    // Owner: drops the entries whose marker is at or after `to`.
    result<void> truncate_to(offset to);
    // Owner: replaces the file with exactly `txns` (temporary file, fsync, rename).
    result<void> rewrite(const std::vector<aborted_txn>& txns);
    result<void> flush() const;
    // The file goes (its segment was deleted); collects answer nothing after.
    void unlink();

    // Any thread: appends to `out` the entries with last offset >= from and
    // first offset < upper; true when an entry's LSO is >= upper (no later
    // entry, here or in a later segment, can overlap [from, upper)).
    result<bool> collect(int64_t from, int64_t upper, std::vector<aborted_txn>& out) const;

    size_t entries() const;
    const std::string& path() const { return _path; }

private:
    result<std::vector<aborted_txn>> read_all_locked() const;

    std::string _path;
    offset _base;
    mutable std::mutex _mutex;
    uint64_t _bytes = 0;
    int64_t _last_marker = -1;
};

}  // namespace strata::storage
