// A partition log: the append-only, segmented record log of one partition
// (also of the metadata quorum and the internal topics).
//
// Ownership and threads. A log is changed by one owner at a time: the
// partition's strand in the broker (append, truncate, delete_records,
// set_high_watermark, roll). The log manager's housekeeping thread also
// changes it (retention, the cleaner's segment swap, flush.ms); an internal
// mutex serializes those with the owner, so the owner never waits on I/O
// that housekeeping does, only on the short swap of a segment list.
// Reads and flush_to() may be called from any thread at any time: readers
// see data only up to the published end offset, which moves after a batch is
// completely written, and the file regions they get keep their segment open
// (shared_ptr keep_alive) even if retention or compaction removes it.
//
// Durability. append() writes to the page cache; flush_to() asks the node's
// flusher thread for an fdatasync and calls back when every offset below the
// given one is on disk. Appends that arrive while a sync runs share the next
// one (group commit). fsync never runs on the caller's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/protocol/record_batch.h"
#include "strata/protocol/wire.h"
#include "strata/storage/error.h"
#include "strata/storage/log_config.h"
#include "strata/storage/types.h"

namespace strata::storage {

// Where the appended batches came from, which decides validation and
// whether offsets are assigned (Kafka's AppendOrigin).
enum class append_origin : uint8_t {
    client,       // produce: client checks, offsets and leader epoch stamped
    replication,  // follower fetch: offsets and epochs kept, must continue the log
    internal,     // the broker's own batches (coordinators, control markers):
                  // offsets stamped, control batches allowed
};

struct validated_records;  // log_validator.h

struct append_result {
    offset base_offset;
    offset last_offset;
    int64_t log_append_time = -1;  // the stamped time with LogAppendTime, else -1
    int64_t max_timestamp = -1;
    size_t bytes = 0;
    int32_t batch_count = 0;
    int64_t record_count = 0;
};

struct read_options {
    offset start;
    size_t max_bytes = 1 << 20;
    // Exclusive bound: no batch at or past this offset is returned (the high
    // watermark for consumers, the end for followers). nullopt: the log end.
    std::optional<offset> max_offset;
    // KIP-74: return the whole first batch even if it exceeds max_bytes.
    bool min_one_batch = true;
};

// Batches that start at or before `start` and end before the bounds, as a
// file region (sendfile) in one segment. Like Kafka, the region may end in a
// partial batch when max_bytes cuts it; clients drop the partial tail.
struct read_result {
    protocol::file_region region;  // length 0: nothing to return yet
    offset log_start_offset;
    offset end_offset;             // the published log end offset
};

struct timestamp_and_offset {
    int64_t timestamp = -1;
    offset found;
    bool operator==(const timestamp_and_offset&) const = default;
};

// Opaque state a log keeps for its owner beside the segments (the broker's
// idempotent-producer state), as it stood after every batch below `at`.
struct producer_snapshot {
    offset at;
    std::string state;
};

// Kafka's AbortedTxn: one entry of a segment's .txnindex (txn_index.h draws
// the file), written when the ABORT marker at `last_offset` is appended.
// `last_stable_offset` is the LSO right after the marker (the first offset of
// the earliest other open transaction, else last_offset + 1): once an entry's
// LSO reaches a fetch's upper bound, no later entry can overlap the fetch.
struct aborted_txn {
    int64_t producer_id = -1;
    int64_t first_offset = -1;
    int64_t last_offset = -1;  // the ABORT marker's offset
    int64_t last_stable_offset = -1;
    bool operator==(const aborted_txn&) const = default;
};

// A producer's last batch, which the cleaner keeps (emptied of its records
// if nothing in it is worth keeping) so that a replay of the log after it
// still finds the producer's epoch and last sequence (Kafka's LastRecord of
// an active producer): its last data batch, the one ending at
// `last_data_offset`; with no data batch in its current epoch (-1), its last
// marker of epoch `epoch`.
struct producer_last_batch {
    int64_t producer_id = -1;
    int16_t epoch = -1;
    int64_t last_data_offset = -1;
    bool operator==(const producer_last_batch&) const = default;
};

// The owner's active producers as of one offset (see set_active_producers).
struct active_producers {
    offset at;
    std::shared_ptr<const std::vector<producer_last_batch>> producers;
};

struct epoch_end {
    leader_epoch epoch;
    offset end_offset;
    bool operator==(const epoch_end&) const = default;
};

class partition_log {
public:
    virtual ~partition_log() = default;

    virtual const topic_partition& partition() const = 0;
    // A copy: the settings can change while the log is open (reconfigure).
    virtual log_config config() const = 0;

    // ---- owner only -------------------------------------------------------
    // Validates and appends batches (a produce `records` payload). With
    // client and internal origins the batches get consecutive offsets from the
    // log end and `epoch` as partitionLeaderEpoch, and LogAppendTime topics get
    // the append time; they are otherwise written exactly as received.
    // Validation is validate_produce (log_validator.h) with the log's own
    // settings and no timestamp bounds.
    virtual result<append_result> append(protocol::bytes_view batches, leader_epoch epoch,
                                         append_origin origin = append_origin::client) = 0;
    // Appends what validate_produce accepted (the produce path, which
    // validates with the partition's settings and reports record errors),
    // writing each batch's header as validation decided without parsing the
    // batches again. The payload the batches point into must still be alive.
    virtual result<append_result> append_validated(const validated_records& records, leader_epoch epoch) = 0;
    // Removes every batch at or after `to` (the batch holding `to` goes too),
    // for follower truncation. The log end becomes at most `to`.
    virtual result<void> truncate_to(offset to) = 0;
    // Deletes everything and restarts the log empty at `start`.
    virtual result<void> truncate_fully_and_start_at(offset start) = 0;
    // DeleteRecords: moves the log start offset up to `new_start` (at most the
    // log end); reads below it fail with offset_out_of_range, and segments
    // wholly below it go at the next retention pass.
    virtual result<offset> delete_records_before(offset new_start) = 0;
    virtual void set_high_watermark(offset hw) = 0;
    // Applies changed topic settings to the open log (AlterConfigs): limits and
    // flushing take effect with the next append, retention with its next
    // pass, segment and index sizes with the next roll.
    virtual void reconfigure(const log_config& config) = 0;
    // Starts a new segment now (tests, admin). A no-op on an empty segment.
    virtual result<void> roll() = 0;
    // Kafka's producer snapshots: keeps `state` (opaque here; see
    // replication/producer_state.h) in the node's state store as the state
    // after every batch below `at`, so that opening the partition replays only
    // the batch headers after `at` instead of the whole log. Not synced: a
    // lost or stale snapshot only means a longer replay. Truncation below `at`
    // and a recovery that ends the log before `at` drop it.
    virtual result<void> save_producer_snapshot(offset at, std::string_view state) = 0;
    // Aborted-transaction index (Kafka's .txnindex, one per segment): records
    // the ABORT marker just appended at `txn.last_offset` in the segment that
    // holds it.
    virtual result<void> append_aborted_txn(const aborted_txn& txn) = 0;
    // The base offset of the first segment whose .txnindex must be rebuilt
    // (missing or corrupt at open, or its segment went through recovery);
    // nullopt when every index is intact. The owner replays the log's
    // markers and hands the result to rebuild_aborted_txns before it serves.
    virtual std::optional<offset> aborted_txns_stale_from() const = 0;
    // Rewrites the .txnindex of every segment from `from` on with `txns`
    // (each to the segment holding its last offset; entries below `from` are
    // ignored), each file replaced atomically.
    virtual result<void> rebuild_aborted_txns(offset from, const std::vector<aborted_txn>& txns) = 0;

    // ---- what the cleaner needs of the owner's producer state (KIP-98) -----
    // The first offset of the earliest transaction not yet complete (no
    // marker yet, or a marker not yet under the HW); INT64_MAX: none. The
    // cleaner cleans nothing at or past the last stable offset it makes
    // (with the HW), and nothing at all before the owner first sets it.
    virtual void set_first_unstable_offset(offset first) = 0;
    // The producers of the state after every batch below `at`, each with its
    // last batch (Kafka's lastRecordsOfActiveProducers). The cleaner keeps
    // those batches and cleans nothing at or past `at`.
    virtual void set_active_producers(offset at, std::vector<producer_last_batch> producers) = 0;

    // Kafka's maybeAssignEpochStartOffset at election (Partition.makeLeader):
    // records that `epoch` starts at the log end before anything is appended
    // at it, so that OffsetForLeaderEpoch and a follower's diverging epoch
    // are exact for a leader that appends nothing at its epoch. Written to the
    // state store and synced at once, as Kafka syncs its epoch checkpoint on
    // assign. Does nothing when `epoch` is not newer than the latest epoch.
    virtual result<void> assign_epoch_start(leader_epoch epoch) = 0;

    // ---- any thread -------------------------------------------------------
    virtual result<read_result> read(const read_options& options) const = 0;
    // The first record with timestamp >= `timestamp` (ListOffsets), nullopt
    // when every record is older.
    virtual result<std::optional<timestamp_and_offset>> offset_for_timestamp(int64_t timestamp) const = 0;
    // OffsetForLeaderEpoch: the largest epoch <= `epoch` and the offset where
    // the next epoch starts (or the log end); nullopt if `epoch` is older
    // than the history.
    virtual std::optional<epoch_end> end_offset_for_epoch(leader_epoch epoch) const = 0;
    virtual std::optional<leader_epoch> latest_epoch() const = 0;
    // The epoch the history gives offset `o` (Kafka's epochForOffset: the
    // latest epoch starting at or before it); nullopt before the history.
    virtual std::optional<leader_epoch> epoch_for_offset(offset o) const = 0;
    // The saved producer state, if it still describes this log
    // (log start <= at <= log end).
    virtual std::optional<producer_snapshot> load_producer_snapshot() const = 0;
    // The aborted transactions a read_committed fetch of [from, upper) must
    // filter: last offset >= from and first offset < upper, in marker order
    // (Kafka's collectAbortedTransactions: the .txnindex files from the
    // segment holding `from` on, until an entry's LSO reaches `upper`).
    virtual result<std::vector<aborted_txn>> collect_aborted_txns(offset from, offset upper) const = 0;

    // Kafka's last stable offset as the owner last published it:
    // min(HW, first unstable offset); nullopt before the owner set it.
    virtual std::optional<offset> last_stable_offset() const = 0;
    // As the owner last set them; nullopt before it did.
    virtual std::optional<active_producers> last_active_producers() const = 0;

    virtual offset log_start_offset() const = 0;
    virtual offset end_offset() const = 0;      // LEO: the next offset to assign
    virtual offset high_watermark() const = 0;  // as last set (checkpointed)
    virtual offset flushed_offset() const = 0;  // every offset below is on disk
    virtual size_t size_bytes() const = 0;
    virtual size_t segment_count() const = 0;

    // Calls `done` once every offset below `upto` is fsynced, or with the
    // error that prevented it. Immediately (on the calling thread) if it
    // already is; otherwise from the flusher thread, so `done` must not block
    // (post to the broker's executor). Group-committed.
    using flush_callback = std::function<void(result<void>)>;
    virtual void flush_to(offset upto, flush_callback done) = 0;
    // Synchronous flush of everything appended so far (shutdown, tests).
    virtual result<void> flush() = 0;
};

// Copies a region's bytes (the path for TLS connections, which cannot use
// sendfile, and for tools).
result<std::vector<uint8_t>> read_region(const protocol::file_region& region);

}  // namespace strata::storage
