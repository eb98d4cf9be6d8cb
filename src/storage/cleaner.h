// The log cleaner: compaction for cleanup.policy=compact (and compact,delete).
//
// One cleaning of a log: build a map from key to its latest offset over the
// dirty section (from the cleaner checkpoint to the active segment, cut short
// when the keys fill the dedupe buffer), then rewrite every segment below the
// end of that section into <base>.log.cleaned, keeping a record unless a
// later offset holds its key or it is a tombstone whose delete horizon has
// passed. Batches keep their offsets (gaps are allowed), epochs, producer
// fields and codec; a batch that lost records is decompressed, rebuilt and
// recompressed; a batch that lost none is copied byte for byte. Tombstones get
// a delete horizon (now + delete.retention.ms, KIP-534) the first time they
// are rewritten and go in a cleaning after it. The cleaned file is synced and
// swapped in under the log's owner lock (disk_log::swap_cleaned).
//
// Runs on the manager's cleaner thread; I/O is throttled to a byte rate.
// Transactions (KIP-98, as Kafka's LogCleaner): nothing is cleaned at or past
// the segment holding the last stable offset or the end of the producers
// view the log's owner published (partition_log::set_first_unstable_offset,
// set_active_producers), nor before the owner published them. Aborted
// transactions are read from the .txnindex of the range cleaned (Kafka's
// collectAbortedTransactions, per segment); their batches are removed and map
// no key. A COMMIT or ABORT marker is kept while the cleaning meets a batch of
// its transaction, then gets a delete horizon and goes in a cleaning after
// it. A producer's last batch stays (emptied if need be: Kafka's
// RETAIN_EMPTY). The cleaned segment's .txnindex keeps the entries whose
// ABORT marker stayed with data removed in that cleaning.
// Not yet: grouping small segments into one.
#pragma once

#include <cstdint>
#include <functional>

#include "disk_log.h"

namespace strata::storage {

struct cleaner_options {
    double io_bytes_per_second = 1e18;  // read plus written
    size_t dedupe_buffer_bytes = 128 << 20;
    bool ignore_dirty_ratio = false;
    // How the throttle waits; tests pass one that advances a manual clock.
    std::function<void(int64_t ms)> sleep;
};

struct cleaner_stats {
    size_t segments_rewritten = 0;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    int64_t records_removed = 0;
    int64_t throttled_ms = 0;
};

// The share of the cleanable bytes (non-active segments) past the checkpoint.
double dirty_ratio(const disk_log& log);

result<cleaner_stats> clean_log(disk_log& log, const cleaner_options& options);

}  // namespace strata::storage
