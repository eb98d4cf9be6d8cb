// Small, durable, node-local key-value state: the storage engine's
// checkpoints (log start offset, recovery point, high watermark, cleaner
// progress) and leader-epoch histories. One RocksDB instance per node holds
// it (docs/storage.md explains the split between segment files and RocksDB);
// an in-memory implementation serves unit tests.
//
// Keys the storage engine writes ("<dir>" is "<topic>-<partition>"):
//
//   storage/<dir>/checkpoints     version int8 (1) | logStartOffset int64 |
//                                 recoveryPoint int64 | highWatermark int64 |
//                                 cleanerCheckpoint int64          (big-endian)
//   storage/<dir>/leader_epochs   version int8 (1) | count int32 |
//                                 [epoch int32 | startOffset int64]*
//   storage/<dir>/producer_snapshot
//                                 version int8 (1) | at int64 | state bytes
//                                 (the state's own layout: replication/
//                                 producer_state.h)
//
// Writes are ordered: with RocksDB's write-ahead log, a write that survives a
// crash implies every earlier write survived, which recovery relies on (a
// recovery point is never newer than the epochs written before it).
// Thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/storage/error.h"

namespace strata::storage {

class state_store {
public:
    struct write {
        std::string key;
        std::optional<std::string> value;  // nullopt deletes
    };

    virtual ~state_store() = default;
    virtual result<std::optional<std::string>> get(std::string_view key) = 0;
    // Applies every write atomically; `sync` waits for the store's own fsync.
    virtual result<void> apply(std::vector<write> writes, bool sync) = 0;
    // Deletes every key that starts with `prefix`.
    virtual result<void> remove_prefix(std::string_view prefix, bool sync) = 0;
};

// Opens (creating if missing) a RocksDB database at `path`.
result<std::unique_ptr<state_store>> open_rocksdb_state_store(const std::string& path);
std::unique_ptr<state_store> make_memory_state_store();

}  // namespace strata::storage
