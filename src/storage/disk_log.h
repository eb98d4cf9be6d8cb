// The partition_log implementation over segment files (segment.h) with its
// checkpoints and leader epochs in the node's state store.
//
// Locks, outermost first: _owner_mutex serializes changes (the owner's
// appends and truncations, housekeeping's retention and the cleaner's swap;
// the owner normally finds it free); _publish_mutex guards the snapshot
// readers copy (held for a few pointer copies); _flush_mutex guards the
// flush waiters. No lock is held across a callback.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flusher.h"
#include "leader_epoch_cache.h"
#include "log_dir_health.h"
#include "segment.h"
#include "strata/storage/clock.h"
#include "strata/storage/log.h"
#include "strata/storage/log_validator.h"
#include "strata/storage/state_store.h"

namespace strata::metrics {
class histogram;
}

namespace strata::storage {

using segment_list = std::vector<std::shared_ptr<segment>>;

struct log_snapshot {
    std::shared_ptr<const segment_list> segments;
    offset end;
    uint64_t active_size = 0;  // bytes of the last segment that readers may see
    offset log_start;
};

// The fsyncs of the data directory that make new partition directories'
// entries durable. One sync covers every directory created before it began,
// so the first flushes of 50 logs created together pay for one, not 50.
struct parent_dir_syncs {
    std::mutex mutex;
    uint64_t started = 0;    // syncs begun, numbered from 1
    uint64_t completed = 0;  // the highest-numbered sync that has completed
};

struct disk_log_context {
    state_store* store = nullptr;
    flusher* flush_thread = nullptr;
    const clock* time = &system_clock::instance();
    metrics::histogram* flush_seconds = nullptr;  // see log_manager_config
    // The directory's health (null in tests that open a lone log): an I/O
    // error takes it offline, and an offline directory's logs refuse work.
    log_dir_health* health = nullptr;
    // Shared by the logs of one data directory (null: each log syncs it).
    parent_dir_syncs* parent_syncs = nullptr;
};

class disk_log final : public partition_log, public flush_target, public std::enable_shared_from_this<disk_log> {
public:
    // How old unflushed data may get in group-commit mode before the
    // housekeeping pass flushes it (it runs every log.retention.check.interval.ms).
    static constexpr int64_t background_flush_ms = 60'000;
    // Opens the log in `dir` (creating it), recovering segments after the
    // recovery point when `recover` (an unclean shutdown), and any segment
    // whose index fails its sanity check regardless. A directory created
    // here costs no fsync: there is nothing to recover, its checkpoints are
    // written unsynced (lost, they read as the defaults they are), and the
    // directory entries are synced by the log's first flush, before anything
    // in it is acknowledged (as Kafka's LocalLog.flush syncs the directory
    // of new segments). A topic of 50 partitions is then created in
    // milliseconds instead of 150 fsyncs (the group coordinator's load window).
    // Directory syncs made by partition logs in this process so far (tests
    // check on which path they happen).
    static uint64_t directory_syncs();
    static result<std::shared_ptr<disk_log>> open(std::string dir, topic_partition tp, log_config config,
                                                  disk_log_context context, bool recover);
    ~disk_log() override;

    const topic_partition& partition() const override { return _tp; }
    log_config config() const override;
    void reconfigure(const log_config& config) override;
    result<append_result> append(protocol::bytes_view batches, leader_epoch epoch,
                                 append_origin origin = append_origin::client) override;
    result<append_result> append_validated(const validated_records& records, leader_epoch epoch) override;
    result<void> truncate_to(offset to) override;
    result<void> truncate_fully_and_start_at(offset start) override;
    result<offset> delete_records_before(offset new_start) override;
    void set_high_watermark(offset hw) override;
    result<void> roll() override;
    result<void> save_producer_snapshot(offset at, std::string_view state) override;
    std::optional<producer_snapshot> load_producer_snapshot() const override;
    result<void> append_aborted_txn(const aborted_txn& txn) override;
    std::optional<offset> aborted_txns_stale_from() const override;
    result<void> rebuild_aborted_txns(offset from, const std::vector<aborted_txn>& txns) override;
    result<std::vector<aborted_txn>> collect_aborted_txns(offset from, offset upper) const override;
    void set_first_unstable_offset(offset first) override;
    void set_active_producers(offset at, std::vector<producer_last_batch> producers) override;
    std::optional<offset> last_stable_offset() const override;
    std::optional<active_producers> last_active_producers() const override;

    result<read_result> read(const read_options& options) const override;
    result<std::optional<timestamp_and_offset>> offset_for_timestamp(int64_t timestamp) const override;
    std::optional<epoch_end> end_offset_for_epoch(leader_epoch epoch) const override;
    std::optional<leader_epoch> latest_epoch() const override { return _epochs.latest_epoch(); }
    std::optional<leader_epoch> epoch_for_offset(offset o) const override { return _epochs.epoch_for(o); }
    result<void> assign_epoch_start(leader_epoch epoch) override;
    offset log_start_offset() const override { return snapshot().log_start; }
    offset end_offset() const override { return snapshot().end; }
    offset high_watermark() const override { return offset(_high_watermark.load()); }
    offset flushed_offset() const override;
    size_t size_bytes() const override;
    size_t segment_count() const override { return snapshot().segments->size(); }
    void flush_to(offset upto, flush_callback done) override;
    result<void> flush() override;
    void run_flush() override;

    // ---- housekeeping (log manager) ---------------------------------------------
    // Deletes segments from the head by retention.ms, retention.bytes and the
    // log start offset; never the active segment. Returns how many went.
    result<size_t> apply_retention();
    // flush.ms in interval mode.
    void maybe_flush_by_time();
    // Flushes, writes checkpoints and refuses further changes. The checkpoints
    // are synced unless `sync_checkpoints` is false: the log manager's
    // shutdown closes every log unsynced and syncs the state store once, with
    // the last one (one WAL sync covers every earlier write).
    result<void> close(bool sync_checkpoints = true);
    // Deletes every file (the partition was removed).
    void delete_files();

    // ---- the cleaner ---------------------------------------------------------
    log_snapshot snapshot() const;
    const std::string& dir() const { return _dir; }
    const clock& time() const { return *_context.time; }
    offset cleaner_checkpoint() const;
    void set_cleaner_checkpoint(offset o);
    // Swaps `old` for its cleaned copy (<base>.log.cleaned, complete and
    // synced) if it is still in the log unchanged; else discards the copy.
    // With `aborted`, the new segment's .txnindex holds exactly those entries
    // (the aborted transactions whose data or marker the copy still has).
    result<bool> swap_cleaned(const std::shared_ptr<segment>& old, uint64_t old_size,
                              const std::vector<aborted_txn>* aborted = nullptr);

private:
    disk_log(std::string dir, topic_partition tp, log_config config, disk_log_context context);
    bool offline() const { return _context.health && _context.health->offline(); }
    template <typename T>
    result<T> watch(result<T> r, std::string_view what) {
        return _context.health ? _context.health->watch(std::move(r), what) : std::move(r);
    }
    // The bodies of the public changes above, which add the offline check
    // before and the I/O-error watch after.
    result<append_result> append_unwatched(const validated_records& records, leader_epoch epoch);
    result<void> truncate_to_unwatched(offset to);
    result<void> truncate_fully_unwatched(offset start);
    result<offset> delete_records_unwatched(offset new_start);
    result<void> save_producer_snapshot_unwatched(offset at, std::string_view state);
    result<size_t> apply_retention_unwatched();
    result<bool> swap_cleaned_unwatched(const std::shared_ptr<segment>& old, uint64_t old_size,
                                        const std::vector<aborted_txn>* aborted);
    result<void> load(bool recover, bool created);
    // The directory and its parent, once, if open() created them.
    result<void> sync_created_dir();
    result<void> recover_from(size_t first);
    result<void> maybe_roll(offset first, offset last, size_t bytes, int64_t max_timestamp);
    result<void> roll_locked(offset base);
    void publish(std::shared_ptr<const segment_list> segments, offset end, offset log_start);
    void publish_end(offset end);
    result<void> write_checkpoints(bool sync);
    result<void> write_epochs(bool sync = false);
    // Drops the producer snapshot if it lies past `end` (truncation, recovery).
    result<void> drop_producer_snapshot_after(offset end);
    void lower_flushed(offset end);
    void request_flush();
    result<read_result> read_in(const log_snapshot& snap, size_t index, const read_options& options,
                                offset limit) const;

    std::string _dir;
    topic_partition _tp;
    // Written under both _owner_mutex and _config_mutex (reconfigure); the
    // owner's paths read it under _owner_mutex, other threads under
    // _config_mutex.
    log_config _config;
    mutable std::mutex _config_mutex;
    disk_log_context _context;
    leader_epoch_cache _epochs;

    mutable std::mutex _owner_mutex;
    bool _closed = false;
    // Under _owner_mutex: the first segment whose .txnindex load() found
    // missing or corrupt, or recovery rewrote (see aborted_txns_stale_from).
    std::optional<offset> _txn_index_stale_from;
    int64_t _unflushed_messages = 0;

    mutable std::mutex _publish_mutex;
    log_snapshot _published;

    std::atomic<int64_t> _high_watermark{0};
    std::atomic<int64_t> _cleaner_checkpoint{0};
    // What the owner publishes of its producer state for the cleaner:
    // the first unstable offset (-1: not yet published) and the active
    // producers (under _producers_mutex).
    std::atomic<int64_t> _first_unstable{-1};
    mutable std::mutex _producers_mutex;
    std::optional<active_producers> _active_producers;

    struct waiter {
        offset upto;
        flush_callback done;
    };
    mutable std::mutex _flush_mutex;
    std::mutex _sync_mutex;  // one sync at a time per log
    offset _flushed;
    offset _recovery_point;
    uint64_t _truncations = 0;
    int64_t _last_flush_ms = 0;
    std::vector<waiter> _waiters;
    // open() created the directory: its entries (and its own in the data
    // directory) are not yet synced. Cleared by the first sync, under _sync_mutex.
    bool _dir_unsynced = false;
    uint64_t _parent_sync_needed = 0;  // the first parent_dir_syncs number that covers this directory
    // A roll created a segment whose directory entry no flush has synced yet
    // (see roll_locked and run_flush).
    std::atomic<bool> _roll_unsynced{false};
};

}  // namespace strata::storage
