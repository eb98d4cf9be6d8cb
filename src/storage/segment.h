// One segment of a partition log: a .log file of record batches and its two
// indexes (index.h), named by the segment's base offset, in Kafka's layout:
//
//   <data_dir>/<topic>-<partition>/
//     00000000000000000000.log         record batches, back to back, exactly as
//     00000000000000000000.index       received except baseOffset and
//     00000000000000000000.timeindex   partitionLeaderEpoch (stamped by the
//     00000000000000368769.log         leader; outside the CRC) and, for
//     00000000000000368769.index       LogAppendTime topics, the timestamp
//     00000000000000368769.timeindex   type bit and maxTimestamp (CRC redone)
//     00000000000000368769.log.cleaned the cleaner's output before its swap
//
// Every batch in a .log is a v2 batch (record_batch.h draws it) whose offsets
// are at or after the segment's base offset and after the previous batch's;
// the next segment's base offset is above every offset in this one. Gaps are
// allowed (compaction).
//
// Threads: the log's owner appends, truncates and recovers; any thread reads
// (find_batch, for_each_batch) below a size the log has published. size()
// and next_offset() are atomics so that readers and the flusher see a
// consistent value without a lock.
//
// Memory and descriptors do not grow with the segments a log retains: only
// the active segment keeps its indexes on the heap and its three files open.
// A sealed segment (flush(true) seals it; open() opens every segment sealed,
// and the first append makes the active one resident again) keeps its
// offsets, sizes and last index entries, nothing else: its indexes are loaded
// on a lookup into a bounded LRU (index.h), and its .log descriptor is opened
// on a read and kept in another (lru_cache.h). Readers hold the descriptor
// they were given (log_file(): a file region keeps it), so a cache eviction
// never closes a file under a send. Before its files are unlinked or its path
// reused (the cleaner's swap), a segment pins its descriptor for the rest of
// its life, so a deleted segment stays readable until the last region is sent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "file_util.h"
#include "index.h"
#include "txn_index.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/error.h"
#include "strata/storage/log_config.h"
#include "strata/storage/types.h"

namespace strata::storage {

// What a reader needs of a stored batch, from its header alone.
struct batch_info {
    offset base;
    offset last;
    uint64_t position = 0;
    uint32_t size = 0;
    int64_t max_timestamp = -1;
    leader_epoch epoch;
};

struct recovery_stats {
    uint64_t valid_bytes = 0;
    uint64_t truncated_bytes = 0;
    size_t batches = 0;
};

class segment {
public:
    static constexpr std::string_view log_suffix = ".log";
    static constexpr std::string_view index_suffix = ".index";
    static constexpr std::string_view time_index_suffix = ".timeindex";
    static constexpr std::string_view cleaned_suffix = ".log.cleaned";
    static constexpr std::string_view txn_index_suffix = ".txnindex";

    // Creates empty files (truncating any left over).
    static result<std::shared_ptr<segment>> create(const std::string& dir, offset base, const log_config& config,
                                                   int64_t now_ms);
    // Opens existing files. `needs_recovery` is set when an index failed its
    // sanity check; the caller then calls recover(). `txn_index_ok` is false
    // when the .txnindex is missing or corrupt (the log's owner rebuilds it).
    static result<std::shared_ptr<segment>> open(const std::string& dir, offset base, const log_config& config,
                                                 bool& needs_recovery, bool* txn_index_ok = nullptr);

    ~segment();
    segment(const segment&) = delete;
    segment& operator=(const segment&) = delete;

    offset base_offset() const { return _base; }
    uint64_t size() const { return _size.load(std::memory_order_acquire); }
    // One past the last offset in the segment; the base offset when empty.
    offset next_offset() const { return offset(_next_offset.load(std::memory_order_acquire)); }
    bool empty() const { return size() == 0; }
    int64_t max_timestamp() const { return _max_timestamp.load(std::memory_order_acquire); }
    // Kafka's LogSegment.timeWaitedForRoll: how long this segment has been
    // open when batches with `max_timestamp` arrive, in record time (their
    // max timestamp minus the first batch's) or, for a segment whose first
    // batch has no timestamp, in wall-clock time since it was created.
    int64_t time_waited_for_roll(int64_t now_ms, int64_t max_timestamp) const;
    // For retention.ms: the largest timestamp, or the file's mtime if none.
    int64_t retention_timestamp() const;
    // The .log's descriptor, opened if the segment is sealed and its file is
    // not in the cache. Hold the pointer for as long as the fd is used.
    result<std::shared_ptr<const file_handle>> log_file() const;
    // Reads up to data.size() bytes at `position` of the .log.
    result<size_t> read(std::span<uint8_t> data, uint64_t position) const;
    const std::string& log_path() const { return _log_path; }

    // ---- owner -----------------------------------------------------------------
    // Writes batches (described by `batches`, whose bytes are `iov`) at the
    // end of the file and indexes them.
    result<void> append(const std::vector<batch_info>& batches, struct iovec* iov, int iov_count, size_t bytes);
    bool index_full() const { return _index.full() || _time_index.full(); }
    // Removes the first batch with last offset >= `to` and everything after.
    result<void> truncate_to(offset to);
    // Scans the whole file, checking every batch (framing, CRC, offsets); cuts
    // the file at the first invalid byte and rebuilds both indexes.
    // `on_batch` sees each valid batch (the log rebuilds epochs from them).
    result<recovery_stats> recover(const std::function<void(const protocol::record_batch_view&)>& on_batch);
    // The aborted-transaction index: appended and rewritten by the log's
    // owner, read by any thread.
    txn_index& aborted_txns() { return _txn_index; }
    const txn_index& aborted_txns() const { return _txn_index; }
    // fdatasync of the .log; with `indexes`, of the index files too.
    result<void> flush(bool indexes);
    // Unlinks the files; the descriptor (and open regions) stay valid.
    void unlink_files();
    // Keeps the .log open for the rest of this object's life, for readers of
    // a segment whose path is about to be unlinked or reused; its indexes
    // stop loading from their paths (index.h, detach()).
    result<void> pin_file();
    // Whether either index's entries are on the heap (tests).
    bool indexes_loaded() const { return _index.loaded() || _time_index.loaded(); }
    bool indexes_resident() const { return _index.is_resident() || _time_index.is_resident(); }
    bool file_pinned() const;
    // Swaps in a cleaned copy of this segment: `cleaned` is a complete
    // <base>.log.cleaned; the indexes are deleted and rebuilt.
    static result<std::shared_ptr<segment>> replace_with_cleaned(const std::string& dir, offset base,
                                                                 const log_config& config);

    // ---- any thread, below `end` (a published size) ------------------------------
    // The first batch whose last offset is >= `target`, nullopt if none below `end`.
    result<std::optional<batch_info>> find_batch(offset target, uint64_t end) const;
    // The first batch with maxTimestamp >= `timestamp`.
    result<std::optional<batch_info>> find_batch_by_time(int64_t timestamp, uint64_t end) const;
    // Calls fn(view, position) for each batch in [start, end), reading in
    // large chunks; fn returns false to stop. Stops with an error on bytes that
    // do not frame as a batch.
    using batch_fn = std::function<bool(const protocol::record_batch_view&, uint64_t position)>;
    result<void> for_each_batch(uint64_t start, uint64_t end, const batch_fn& fn) const;

private:
    segment(std::string dir, offset base, const log_config& config);
    result<void> open_files(int flags);
    result<void> index_batch(const batch_info& batch);
    result<std::optional<batch_info>> read_header(int fd, uint64_t position, uint64_t end) const;
    // Called on the active segment's writes: its descriptor stays open.
    result<std::shared_ptr<const file_handle>> pinned_file();
    // A sealed segment's descriptor goes to the cache.
    void unpin_file();

    std::string _dir;
    offset _base;
    size_t _index_interval_bytes;
    std::string _log_path;
    uint64_t _file_cache_id;
    mutable std::mutex _file_mutex;
    mutable std::shared_ptr<const file_handle> _pinned;  // active, or about to be unlinked
    mutable std::weak_ptr<const file_handle> _cached;    // sealed: owned by log_file_cache()
    bool _pinned_for_good = false;
    offset_index _index;
    time_index _time_index;
    txn_index _txn_index;
    std::atomic<uint64_t> _size{0};
    std::atomic<int64_t> _next_offset;
    std::atomic<int64_t> _max_timestamp{-1};
    std::atomic<int64_t> _first_batch_timestamp{-1};
    int64_t _created_ms = 0;
    // Owner-only index bookkeeping.
    size_t _bytes_since_index_entry = 0;
    offset _offset_of_max_timestamp;
};

// Header fields of a stored batch at the start of `header` (>= 61 bytes).
batch_info parse_batch_header(const uint8_t* header, uint64_t position);

}  // namespace strata::storage
