// Whether a log directory is still usable: Kafka's LogDirFailureChannel for
// one directory. The first I/O error in the directory (a failed write, fsync,
// rename, truncate or state-store write of any log in it) takes it offline
// for good, in this process: from then on every log in it refuses appends,
// truncations, flushes and reads with `log_dir_offline` (KAFKA_STORAGE_ERROR
// to clients), and the manager neither flushes nor vouches for it with a
// clean-shutdown marker, so the next start recovers it.
//
// Why not carry on after a failed fsync: Linux marks the failed pages clean
// (a later fsync succeeds without writing them), and a failed append leaves a
// partial tail. A partition that stayed writable answered one produce
// KAFKA_STORAGE_ERROR and the producer's next one OUT_OF_ORDER_SEQUENCE,
// which made librdkafka bump its epoch and re-send batches that were already
// in other partitions' logs: duplicates (docs/reliability.md, seed 306).
//
// Owned by the log manager; shared by its logs (disk_log_context). Thread-safe:
// fail() may run on a partition strand, a flusher or the housekeeping thread.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "strata/storage/error.h"

namespace strata::storage {

class log_dir_health {
public:
    using failure_handler = std::function<void(const std::string& dir, const storage_error& cause)>;

    log_dir_health(std::string dir, failure_handler on_failure)
        : _dir(std::move(dir)), _on_failure(std::move(on_failure)) {}

    bool offline() const { return _offline.load(std::memory_order_acquire); }
    const std::string& dir() const { return _dir; }

    // Takes the directory offline if `r` failed with an I/O error (the first
    // such error calls the handler, once, on the calling thread). `what` names
    // the operation for the log line. Returns `r` unchanged.
    template <typename T>
    result<T> watch(result<T> r, std::string_view what) {
        if (!r && r.error().code == storage_errc::io_error) fail(r.error(), what);
        return r;
    }
    void fail(const storage_error& cause, std::string_view what);

private:
    std::string _dir;
    failure_handler _on_failure;
    std::atomic<bool> _offline{false};
    std::once_flag _reported;
};

}  // namespace strata::storage
