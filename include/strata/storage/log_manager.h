// The storage engine of one node: a data directory of partition logs, the
// node's state store (RocksDB), the flusher thread that group-commits
// fdatasyncs, and the housekeeping threads (retention, flush.ms, the log
// cleaner, deletion of removed partitions).
//
// Data directory:
//
//   <data_dir>/
//     .strata_clean_shutdown      present only between a clean shutdown and
//                                 the next open (Kafka: .kafka_cleanshutdown)
//     .state/                     RocksDB: checkpoints and leader epochs
//     <topic>-<partition>/        one per partition, see segment layout in
//                                 src/storage/segment.h
//     <topic>-<partition>.<n>-delete/   removed, being deleted in the background
//
// Ownership: whoever opens the manager owns it and must call shutdown() (or
// destroy it, which shuts down) before exit; shutdown stops and joins every
// thread the manager started. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/protocol/wire.h"
#include "strata/storage/clock.h"
#include "strata/storage/error.h"
#include "strata/storage/log.h"
#include "strata/storage/log_config.h"
#include "strata/storage/state_store.h"

namespace strata::metrics {
class histogram;
}
#include "strata/storage/types.h"

namespace strata::storage {

struct log_manager_config {
    std::string data_dir;
    // Where the RocksDB state lives; empty: <data_dir>/.state.
    std::string state_dir;
    // Retention, flush.ms and deletion run this often (Kafka's
    // log.retention.check.interval.ms is 5 minutes; flush.ms needs finer).
    int64_t housekeeping_interval_ms = 1000;
    // Log cleaner: log.cleaner.io.max.bytes.per.second, and the bytes of keys
    // one cleaning may hold in memory (log.cleaner.dedupe.buffer.size).
    double cleaner_io_bytes_per_second = 64.0 * 1024 * 1024;
    size_t cleaner_dedupe_buffer_bytes = 128 << 20;
    int64_t cleaner_backoff_ms = 15000;
    bool start_threads = true;  // false: tests drive housekeeping by hand
    storage::clock* clock = &system_clock::instance();
    // Observes each fsync pass of a log that had data to sync, in seconds
    // (Kafka's LogFlushStats LogFlushRateAndTimeMs); null: not measured.
    metrics::histogram* flush_seconds = nullptr;
    // Called once, on whichever thread met it, with the first I/O error in
    // the data directory, which takes the directory offline (Kafka's
    // LogDirFailureChannel): its logs refuse every append, flush and read
    // from then on, and shutdown() writes no clean-shutdown marker. The
    // broker answers by leaving the cluster (the only directory is gone).
    // Must not block.
    std::function<void(const std::string& dir, const storage_error& cause)> on_dir_failure;
};

// What a log directory holds now (Kafka reports Size and NumLogSegments per
// partition; these are their sums over the directory).
struct log_dir_stats {
    std::string dir;
    size_t logs = 0;
    size_t segments = 0;
    size_t bytes = 0;
    bool offline = false;  // an I/O error took it offline (log_manager_config::on_dir_failure)
};

class log_manager {
public:
    virtual ~log_manager() = default;

    // Opens the data directory. If the clean-shutdown marker is missing, logs
    // are recovered (scanned after their recovery point) as they are opened.
    // With no `store`, opens RocksDB at the configured state_dir.
    static result<std::unique_ptr<log_manager>> open(log_manager_config config,
                                                     std::unique_ptr<state_store> store = nullptr);

    // The partitions found on disk at open.
    virtual std::vector<topic_partition> partitions_on_disk() const = 0;
    // Opens (recovering if needed) or creates the log of `tp` with `config`.
    // A non-zero `topic_id` is recorded beside the log (Kafka's
    // partition.metadata file). A log on disk recorded under another id
    // belongs to an earlier topic of the same name, deleted while this
    // broker was away: it is deleted and a new, empty log created (Kafka
    // counts it a stray log), so a re-created topic never shows the old
    // topic's records. A log with no record of its id (written before ids
    // were kept) is taken as the topic's and the id recorded.
    virtual result<std::shared_ptr<partition_log>> get_or_create(const topic_partition& tp, const log_config& config,
                                                                 const protocol::uuid& topic_id = {}) = 0;
    virtual std::shared_ptr<partition_log> get(const topic_partition& tp) const = 0;
    // Deletes a partition asynchronously: the directory is renamed at once,
    // its files deleted in the background; open regions stay readable.
    virtual result<void> remove(const topic_partition& tp) = 0;

    // One pass of what the housekeeping threads do, for tests: retention on
    // every log, flush.ms, pending deletions; and one cleaning.
    virtual void run_retention() = 0;
    virtual void run_cleaner() = 0;

    // Flushes every log, writes checkpoints and the clean-shutdown marker,
    // stops threads. Later calls to the logs fail with `closed`.
    virtual result<void> shutdown() = 0;
    virtual bool was_clean_shutdown() const = 0;
    // True once an I/O error took the data directory offline.
    virtual bool offline() const = 0;
    // Sums over the open logs (one pass; for metrics scrapes).
    virtual log_dir_stats dir_stats() const = 0;
};

}  // namespace strata::storage
