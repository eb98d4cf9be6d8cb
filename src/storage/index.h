// The two per-segment indexes, in Kafka's file formats, as one template
// (sparse_index) over the entry kind. Both are sparse: the segment adds one
// entry to each every index.interval.bytes of log, so a read scans at most
// that many bytes of batch headers after a lookup.
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
// Both fields grow strictly from entry to entry (the time index's offset may
// repeat). Unlike Kafka, files are not preallocated: entries are appended to
// the file with pwrite, so the file holds exactly its entries and a crash
// leaves at worst a torn last entry, which the sanity check at open catches
// (the index is then rebuilt from the log).
//
// Residency. The active segment's index is *resident*: its entries are on the
// heap, exactly the file's bytes, and its file stays open for appends. A
// sealed segment's index is not: open_sealed() checks the file and drops it,
// seal() drops a resident one. Its first lookup reads the file (open, read,
// close) into index_cache() (lru_cache.h), a small LRU bounded in bytes, and
// later lookups hit the cache until it is evicted. So the heap holds the
// active segments' indexes plus a bounded cache, not every retained segment's,
// and a sealed index holds no descriptor. Loading instead of mmap: RSS stays
// bounded without depending on the kernel evicting mapped pages, no mapping
// (vm.max_map_count is 65530) or descriptor per segment, and one code path
// (big-endian bytes in a vector) for the active and the sealed. An append,
// truncation or reset makes an index resident again.
//
// Threads: the segment's owner appends, truncates, seals; readers look up
// concurrently. A mutex guards the entries (held for a binary search, and for
// the load of a cold index).
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
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

// What sparse_index needs of an entry kind: its bytes, its search key, the
// order entries must follow, and the answer when no entry qualifies.
struct offset_index_traits {
    using entry = index_entry;
    using key_type = offset;
    static constexpr size_t entry_size = 8;
    static entry decode(const uint8_t* p, offset base) { return {base + int64_t(get_be32(p)), get_be32(p + 4)}; }
    static void encode(uint8_t* p, const entry& e, offset base) {
        put_be32(p, uint32_t(e.at - base));
        put_be32(p + 4, e.position);
    }
    static key_type key(const entry& e) { return e.at; }
    static entry none(offset base) { return {base, 0}; }
    static bool follows(const entry& prev, const entry& e) { return e.at > prev.at && e.position > prev.position; }
    static bool in_range(const entry& e, offset base, uint64_t log_size) { return e.at >= base && e.position < log_size; }
};

struct time_index_traits {
    using entry = time_index_entry;
    using key_type = int64_t;
    static constexpr size_t entry_size = 12;
    static entry decode(const uint8_t* p, offset base) {
        return {int64_t(get_be64(p)), base + int64_t(get_be32(p + 8))};
    }
    static void encode(uint8_t* p, const entry& e, offset base) {
        put_be64(p, uint64_t(e.timestamp));
        put_be32(p + 8, uint32_t(e.at - base));
    }
    static key_type key(const entry& e) { return e.timestamp; }
    static entry none(offset base) { return {-1, base}; }
    static bool follows(const entry& prev, const entry& e) { return e.timestamp > prev.timestamp && e.at >= prev.at; }
    static bool in_range(const entry& e, offset base, uint64_t) { return e.at >= base; }
};

template <typename Traits>
class sparse_index {
public:
    using entry = typename Traits::entry;
    using key_type = typename Traits::key_type;
    static constexpr size_t entry_size = Traits::entry_size;
    static constexpr uint64_t no_log_size = std::numeric_limits<uint64_t>::max();

    sparse_index(offset base, size_t max_entries);
    ~sparse_index();
    sparse_index(const sparse_index&) = delete;
    sparse_index& operator=(const sparse_index&) = delete;

    // Opens (creating) the file, loads its entries and keeps them resident.
    // Returns false when the file fails the sanity check (size not a multiple
    // of the entry size, entries out of order, an offset below the base, a
    // position at or past `log_size`): the caller rebuilds.
    result<bool> open(const std::string& path, uint64_t log_size = no_log_size);
    // The same check, for a sealed segment: nothing stays on the heap and no
    // descriptor stays open (only the count and the last entry are kept).
    result<bool> open_sealed(const std::string& path, uint64_t log_size = no_log_size);
    // Appends `e` if it follows the last entry (else a no-op).
    result<void> append(const entry& e);
    result<void> append(offset at, uint32_t position)
        requires std::is_same_v<Traits, offset_index_traits>
    {
        return append(entry{at, position});
    }
    result<void> maybe_append(int64_t timestamp, offset at)
        requires std::is_same_v<Traits, time_index_traits>
    {
        return append(entry{timestamp, at});
    }
    // The last entry whose key is <= `target`; Traits::none(base) when there
    // is none (or a cold index cannot be read: a lookup is only where a
    // forward scan starts, and the segment's start is always correct).
    entry lookup(key_type target) const;
    // Drops entries at or after offset `to`.
    result<void> truncate_to(offset to);
    // Drops every entry (before a rebuild).
    result<void> reset();
    result<void> flush();
    // Lets the entries and the descriptor go (the segment is no longer
    // appended to; call after flush()).
    void seal();
    // Forgets the file (about to be unlinked or replaced by another segment's):
    // a later load finds nothing, and a lookup that misses the cache answers
    // Traits::none(base), which sends the reader's scan to the segment's start
    // (correct, only slower) instead of into another file's entries.
    void detach();

    bool full() const;
    size_t entries() const;
    std::optional<entry> last() const;
    // Whether the entries are on the heap now: resident, or loaded in the cache.
    bool loaded() const;
    bool is_resident() const;

private:
    using bytes = std::vector<uint8_t>;
    result<bool> load(const std::string& path, uint64_t log_size, bool keep);
    result<void> make_resident_locked();
    std::shared_ptr<const bytes> entries_locked() const;
    void set_count_locked(size_t count, const uint8_t* data);

    offset _base;
    size_t _max_entries;
    uint64_t _cache_id;
    std::string _path;
    mutable std::mutex _mutex;
    file_handle _file;                // open while resident
    std::shared_ptr<bytes> _resident;  // null while sealed
    size_t _count = 0;
    std::optional<entry> _last;
};

using offset_index = sparse_index<offset_index_traits>;
using time_index = sparse_index<time_index_traits>;

extern template class sparse_index<offset_index_traits>;
extern template class sparse_index<time_index_traits>;

}  // namespace strata::storage
