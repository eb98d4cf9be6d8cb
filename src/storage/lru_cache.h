// A bounded, thread-safe LRU of shared objects, keyed by a process-unique id.
// Sealed segments use two (lru_cache.cc): one for the index entries that are
// loaded on a lookup (bounded in bytes), one for the .log descriptors that
// are opened on a read (bounded in count). The cache holds the only strong
// reference its owner lets go of; evicting it frees the object once the last
// in-flight user (a lookup, a file region being sent) drops its copy, so an
// eviction never pulls anything from under a reader.
//
// Lock order: an owner's own mutex, then the cache's; the cache never calls
// back into an owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace strata::storage {

class lru_cache {
public:
    explicit lru_cache(size_t capacity) : _capacity(capacity) {}

    // A fresh key for one owner.
    static uint64_t next_id();

    // The cached object (now the most recent), or null.
    std::shared_ptr<const void> get(uint64_t id);
    // Caches `object` at `cost`, replacing any under `id`, then evicts the
    // least recent until the total fits (the newest always stays).
    void put(uint64_t id, std::shared_ptr<const void> object, size_t cost);
    void erase(uint64_t id);

    void set_capacity(size_t capacity);
    size_t capacity() const;
    size_t cost() const;
    size_t size() const;

private:
    struct node {
        uint64_t id;
        std::shared_ptr<const void> object;
        size_t cost;
    };
    void evict_locked();

    mutable std::mutex _mutex;
    size_t _capacity;
    size_t _cost = 0;
    std::list<node> _order;  // most recent first
    std::unordered_map<uint64_t, std::list<node>::iterator> _by_id;
};

// Loaded index entries of sealed segments, process-wide. 8 MiB by default:
// one or two segments' indexes at the default segment.bytes, thousands at
// 1 MiB (a lookup after eviction reads the file, usually from the page cache).
lru_cache& index_cache();
// Open .log descriptors of sealed segments, process-wide; 1024 by default,
// well below a typical RLIMIT_NOFILE. Active segments' descriptors are not
// counted: they stay open.
lru_cache& log_file_cache();

}  // namespace strata::storage
