// One partition this broker hosts, as its leader or as a follower: its log,
// leader epoch, in-sync replica set and high watermark, and the requests
// waiting on them.
//
// Ownership and executor. A partition is created and owned (shared_ptr) by
// the partition_manager; request handlers and the replica fetcher hold it for
// the duration of a request. Its replication state (role, ISR, followers'
// fetch state, HW, pending acks=all produces) is changed only on the
// partition's strand: produce() posts the append there, the storage flusher's
// callbacks are posted there, the fetcher's follower appends and truncations
// go there, and the manager's become_leader / become_follower / stop go
// through it. So the state has exactly one owner at a time and needs no
// lock; the log's own append is likewise called only from the strand.
// Posting from a request handler's synchronous part keeps produce order per
// partition per connection (the net::request_handler contract) because a
// strand runs what is posted in order. Reads (fetch, ListOffsets) run on the
// caller's thread: the log is readable from any thread and the values readers
// need (HW, epoch, leader) are published in atomics.
//
// HW model (Kafka's ISR): on the leader, HW = min over the ISR of each
// member's log end offset, never moving back while one leader epoch lasts;
// a follower's log end offset is the offset of its latest fetch. While an ISR
// expansion is in flight the joining replica counts too (KIP-497's maximal
// ISR), so that the controller never commits an ISR with a member lacking
// acknowledged data. On a follower, HW = min(the leader's HW from its last
// fetch response, own log end offset).
//
// ISR changes (leader only): a follower that has not caught up with the
// leader's log end offset within replica.lag.time.max.ms is shrunk out; a
// replica outside the ISR whose fetch offset reaches the HW and this
// leadership's first offset is let back in. Either goes to the controller as
// an AlterPartition (one in flight per partition) and takes effect when the
// image brings the PartitionChangeRecord back (become_leader).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/metrics/purgatory.h"
#include "strata/protocol/wire.h"
#include "strata/replication/async_signal.h"
#include "strata/replication/partition_config.h"
#include "strata/replication/producer_state.h"
#include "strata/storage/clock.h"
#include "strata/storage/log.h"
#include "strata/storage/log_validator.h"

namespace strata::replication {

using storage::leader_epoch;
using storage::offset;
using storage::topic_partition;

// acks of a produce request: 0, 1 or -1 (all in-sync replicas).
enum class required_acks : int8_t { none = 0, leader = 1, all = -1 };

struct produce_outcome {
    kafka_error error = kafka_error::none;
    std::string message;  // for the response's error_message (v8+); empty: none
    // The records that failed validation, by index in their batch (v8+
    // RecordErrors, KIP-467); empty when the error is the batch's as a whole.
    std::vector<storage::record_failure> record_errors;
    offset base_offset{-1};
    int64_t log_append_time = -1;
    offset log_start_offset{-1};
};

// What the image tells a leader about its partition.
struct leadership {
    leader_epoch epoch;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    int32_t partition_epoch = 0;
};

// What the image tells a follower: whom to follow at which epoch.
struct followership {
    int32_t leader = -1;  // -1: no leader right now
    leader_epoch epoch;
    std::vector<int32_t> replicas;
};

// An ISR change the leader asks the controller for (AlterPartition v3).
struct isr_update_request {
    topic_partition tp;
    protocol::uuid topic_id;
    leader_epoch epoch;
    int32_t partition_epoch = 0;
    struct member {
        int32_t id;
        int64_t broker_epoch;  // -1: not known
    };
    std::vector<member> isr;
};

struct isr_update_result {
    kafka_error error = kafka_error::none;  // the request's or the partition's
    int32_t partition_epoch = -1;           // on success: the epoch the change gets
    std::vector<int32_t> isr;
};

// Sends an AlterPartition for the partition and calls back (on any thread)
// with the controller's answer. Set by the broker (controller_channel); unset
// in unit tests that do not exercise ISR changes (the request is then dropped).
using isr_update_sender = std::function<void(isr_update_request, std::function<void(isr_update_result)>)>;

class partition : public std::enable_shared_from_this<partition> {
public:
    using produce_callback = std::function<void(produce_outcome)>;
    using done_callback = std::function<void(kafka_error)>;

    partition(int32_t self, topic_partition tp, protocol::uuid topic_id, std::shared_ptr<storage::partition_log> log,
              partition_config config, boost::asio::any_io_executor executor, storage::clock& clock,
              isr_update_sender isr_sender = {});

    // ---- any thread --------------------------------------------------------
    const topic_partition& id() const { return _tp; }
    const protocol::uuid& topic_id() const { return _topic_id; }
    // The log itself, for the partition's owners (the manager, replication,
    // the coordinators' loaders). The request handlers read through read(),
    // offset_for_timestamp(), last_offset_for_epoch() and diverging_epoch()
    // below, so the rules about what a replica may serve live here.
    const std::shared_ptr<storage::partition_log>& log() const { return _log; }

    // Fetch: the batches from options.start, bounded by options.max_offset
    // and max_bytes (the caller picks HW, LSO or log end by who reads).
    storage::result<storage::read_result> read(const storage::read_options& options) const {
        return _log->read(options);
    }
    // ListOffsets by time: the first record with a timestamp >= `timestamp`,
    // nullopt when every record is older.
    storage::result<std::optional<storage::timestamp_and_offset>> offset_for_timestamp(int64_t timestamp) const {
        return _log->offset_for_timestamp(timestamp);
    }
    // OffsetForLeaderEpoch (KIP-101/KIP-279): the largest epoch <= `epoch` in
    // this replica's history and where the next one starts (the log end for
    // the latest); nullopt without a history or for an epoch newer than it.
    std::optional<storage::epoch_end> last_offset_for_epoch(leader_epoch epoch) const {
        return _log->end_offset_for_epoch(epoch);
    }
    // The epoch of the batch holding offset `o` by the epoch history (Kafka's
    // epochForOffset, for ListOffsets' leader epoch); nullopt before it.
    std::optional<leader_epoch> epoch_for_offset(offset o) const { return _log->epoch_for_offset(o); }
    // KIP-320 on a follower's Fetch (v12+): a follower whose last fetched
    // epoch does not reach its fetch offset here has records this log does
    // not, and must truncate to where that epoch ends here. Returns that
    // point (as OffsetForLeaderEpoch answers it; -1/-1 when that has no
    // answer), or nullopt when the follower's log agrees with this one.
    std::optional<storage::epoch_end> diverging_epoch(leader_epoch last_fetched_epoch, offset fetch_offset) const {
        auto end = _log->end_offset_for_epoch(last_fetched_epoch);
        if (end && end->epoch == last_fetched_epoch && end->end_offset >= fetch_offset) return std::nullopt;
        if (!end) return storage::epoch_end{leader_epoch(-1), offset(-1)};
        return end;
    }
    size_t size_bytes() const { return _log->size_bytes(); }

    bool is_leader() const { return _leader.load(std::memory_order_acquire); }
    // The leader this replica follows (-1: none, or this replica leads).
    int32_t leader_id() const { return _leader_id.load(std::memory_order_acquire); }
    leader_epoch epoch() const { return leader_epoch(_epoch.load(std::memory_order_acquire)); }
    offset high_watermark() const { return offset(_high_watermark.load(std::memory_order_acquire)); }
    // The last stable offset (KIP-98): below the earliest open transaction's
    // first offset (or a closed one whose marker is not yet under the HW),
    // and never past the HW.
    offset last_stable_offset() const {
        return offset(std::min(_high_watermark.load(std::memory_order_acquire),
                               _first_unstable.load(std::memory_order_acquire)));
    }
    // The aborted transactions a read_committed fetch of [from, to) must be
    // told of (Kafka: those whose marker is at or after `from` and whose first
    // offset is below `to`), in marker order, from the log's .txnindex files.
    storage::result<std::vector<aborted_txn>> aborted_transactions(int64_t from, int64_t to) const;
    offset log_end_offset() const { return _log->end_offset(); }
    offset log_start_offset() const { return _log->log_start_offset(); }
    // The largest batch max timestamp appended since the log was opened
    // (ListOffsets -3 looks its first record up); -1: none yet. Not rebuilt
    // from the log at open: storage does not expose its segments' maxima.
    int64_t max_timestamp() const { return _max_timestamp.load(std::memory_order_acquire); }
    // The in-sync replicas as this leader last applied them (a copy).
    std::vector<int32_t> isr() const;

    // Validates and appends `batches` (a v2 produce payload, kept alive by
    // `owner` until done runs) on the strand. `done` runs on the strand, or on
    // it after the fsync for acks=all; it must not block.
    //
    // `verify` (transactional produce, KIP-890 part 1): asked once before a
    // producer's first transactional batch of a transaction is appended
    // here, whether the transaction coordinator has this partition in the
    // producer's open transaction; it answers (on any thread) NONE or the
    // error the batch fails with. Later batches of that producer wait behind
    // the question, so their order is kept.
    using txn_verifier = std::function<void(std::function<void(kafka_error)>)>;
    void produce(protocol::bytes_view batches, std::shared_ptr<const void> owner, required_acks acks,
                 produce_callback done, txn_verifier verify = {});

    // A coordinator's own batch (TxnOffsetCommit's transactional batch in
    // __consumer_offsets): validated as the broker's (no sequence checks, as
    // Kafka's AppendOrigin.COORDINATOR), its transaction opened here, acks=all.
    void append_coordinator_batch(protocol::bytes_view batch, std::shared_ptr<const void> owner,
                                  produce_callback done);

    // DescribeProducers: the producer state, read on the strand; `done` runs there.
    void describe_producers(std::function<void(kafka_error, std::vector<producer_info>)> done);

    // WriteTxnMarkers, on the strand: appends the COMMIT or ABORT control
    // batch of `producer_id` (leader only; refused with the producer state's
    // INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED), and calls
    // `done` once it is durable and under the HW, as acks=all.
    void write_txn_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                          done_callback done);

    // Fetch long polling: `signal` is notified (once) the next time the high
    // watermark moves or the partition stops leading, and with `on_append`
    // (followers' fetches, which read to the log end) also on the next
    // append. Held weakly; a waiter that gave up costs nothing.
    void add_waiter(const std::shared_ptr<async_signal>& signal, bool on_append = false);

    // DeleteRecords: on the strand, moves the log start offset to `before`
    // (-1: the high watermark), which must not pass the high watermark.
    // `done` runs on the strand with the new log start offset or the error.
    using delete_records_callback = std::function<void(kafka_error, offset low_watermark)>;
    void delete_records(int64_t before, delete_records_callback done);

    // ---- leader: a follower's fetch ----------------------------------------
    // Posts to the strand: `replica` (of broker epoch `broker_epoch`, from
    // its fetch's ReplicaState) fetched from `fetch_offset`, so its log end
    // offset is that (at most the leader's). Updates its caught-up time
    // (the partition's clock), moves the HW (releasing acks=all produces and
    // consumer fetches), and may start an ISR expansion. Ignored unless
    // leading a partition `replica` is a replica of. `log_start` is the
    // follower's log start offset from the same fetch (-1: not given).
    void record_follower_fetch(int32_t replica, int64_t broker_epoch, offset fetch_offset,
                               offset log_start = offset(-1));
    // KIP-392, any thread: the in-sync followers whose log holds
    // `fetch_offset` as this leader last heard (log end = the follower's
    // last fetch offset, log start from that fetch), with how long ago each
    // last caught up; Kafka's candidates for a consumer's preferred read
    // replica. Empty unless leading.
    struct read_candidate {
        int32_t id;
        int64_t log_end_offset;
        int64_t time_since_caught_up_ms;
    };
    std::vector<read_candidate> read_candidates(offset fetch_offset) const;
    // Posts to the strand: shrinks the ISR of followers that have not caught
    // up within replica.lag.time.max.ms (the broker calls it periodically).
    void check_isr();

    // ---- follower: the replica fetcher -------------------------------------
    // Post to the strand; `done` runs there with NONE, or with
    // NOT_LEADER_OR_FOLLOWER / FENCED_LEADER_EPOCH when the partition no
    // longer follows at `epoch`, or the storage error.
    //
    // Appends batches fetched from the leader as they are (offsets and
    // epochs kept, CRC-checked), then sets the HW to min(leader_hw, log end)
    // and moves the log start up to the leader's (within the HW).
    void append_from_leader(leader_epoch epoch, protocol::bytes_view batches, std::shared_ptr<const void> owner,
                            offset leader_hw, offset leader_log_start, done_callback done);
    // Sets the HW from a fetch that brought no records.
    void update_follower_hw(leader_epoch epoch, offset leader_hw, done_callback done);
    // Removes everything from `to` on (divergence from the leader), or with
    // `fully` restarts the log empty at `to` (the leader's log starts there).
    void truncate_as_follower(leader_epoch epoch, offset to, bool fully, done_callback done);

    // ---- partition manager -------------------------------------------------
    // Posts to the strand: leads at `l.epoch` (a newer epoch or a changed ISR).
    void become_leader(leadership l);
    // Posts `then` to the strand: it runs after every change posted before.
    void after_pending(std::function<void()> then);
    // Posts to the strand: follows `f.leader` at `f.epoch`; pending acks=all
    // produces fail with NOT_LEADER_OR_FOLLOWER and waiters wake.
    void become_follower(followership f);
    // Posts to the strand: stops leading; pending acks=all produces fail with
    // NOT_LEADER_OR_FOLLOWER and waiters wake. `then` runs on the strand after.
    void stop(std::function<void()> then = {});
    // Posts to the strand: the topic's configs changed (AlterConfigs); the
    // new settings apply to the next produce and the log's next append.
    void update_config(partition_config config);

private:
    struct pending_produce {
        offset required;  // HW and flushed offset must reach this
        produce_outcome outcome;
        produce_callback done;
        // Counted in /metrics' produce purgatory until answered.
        metrics::purgatory_entry waiting{metrics::produce_purgatory()};
    };
    // What the leader knows of one follower (Kafka's Replica state).
    struct follower_state {
        offset end{-1};  // its log end offset: its latest fetch offset; -1: not fetched this epoch
        offset log_start{-1};  // as its latest fetch reported it; -1: unknown
        int64_t broker_epoch = -1;
        int64_t last_fetch_ms = 0;
        offset leader_end_at_last_fetch{-1};
        int64_t last_caught_up_ms = 0;
    };
    // The AlterPartition in flight, if any: the ISR it asks for, and the
    // partition epoch it was sent at (an image past it ends the wait).
    struct isr_change {
        std::vector<int32_t> isr;
        int32_t sent_partition_epoch = 0;
    };

    void do_produce(protocol::bytes_view batches, std::shared_ptr<const void> owner, required_acks acks,
                    produce_callback done, txn_verifier verify);
    void on_verified(int64_t producer_id, kafka_error error);
    void do_append_coordinator_batch(protocol::bytes_view batch, produce_callback done);
    void do_write_txn_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                             done_callback done);
    // Publishes the LSO bound for readers.
    void publish_txn_state();
    // Writes the transactions the producer state saw aborted to the log's
    // .txnindex (after a marker is appended, here or by replication).
    void index_aborted_transactions();
    // Producer state from the log (open, truncation), and the .txnindex
    // files the log found missing, corrupt or recovered, from the replay.
    void rebuild_producer_state();
    // The one validation pass (storage/log_validator.h) with this partition's
    // settings: max.message.bytes, compaction, timestamp type and bounds.
    storage::validation_result validate(protocol::bytes_view batches) const;
    void request_flush(offset upto);
    void on_flushed(offset upto, storage::result<void> r);
    void update_high_watermark();
    void complete_pending(kafka_error error_for_all = kafka_error::none);
    void wake_waiters();
    void wake_append_waiters();
    void stop_leading(kafka_error error_for_pending);
    bool following_at(leader_epoch epoch) const;
    void set_follower_hw(offset leader_hw);
    void after_truncation();

    // ISR (partition_isr.cc).
    void apply_leadership(leadership l);
    void on_follower_fetch(int32_t replica, int64_t broker_epoch, offset fetch_offset, offset log_start);
    // Copies one follower's state where read_candidates() finds it.
    void publish_follower(int32_t replica, const follower_state& f);
    void maybe_expand_isr(int32_t replica);
    void maybe_shrink_isr();
    void send_isr_update(std::vector<int32_t> isr);
    void on_isr_update(isr_update_result result, leader_epoch sent_epoch, int32_t sent_partition_epoch);
    std::vector<int32_t> maximal_isr() const;
    void save_producer_snapshot();
    void expire_producers();

    const int32_t _self;
    const topic_partition _tp;
    const protocol::uuid _topic_id;
    const std::shared_ptr<storage::partition_log> _log;
    partition_config _config;  // strand only
    producer_state _producers;  // strand only
    storage::clock& _clock;
    boost::asio::strand<boost::asio::any_io_executor> _strand;
    const isr_update_sender _isr_sender;

    // Published for readers; written on the strand.
    std::atomic<bool> _leader{false};
    std::atomic<int32_t> _leader_id{-1};
    std::atomic<int32_t> _epoch{-1};
    std::atomic<int64_t> _high_watermark{0};

    // Strand only.
    bool _stopped = false;
    std::vector<int32_t> _replicas;
    std::vector<int32_t> _isr;
    int32_t _partition_epoch = 0;
    offset _epoch_start{0};                            // the log end when this leadership began
    std::map<int32_t, follower_state> _followers;      // every replica but self, while leading
    std::optional<isr_change> _isr_in_flight;
    int64_t _next_isr_attempt_ms = 0;                  // after an AlterPartition error
    offset _flushed{0};                                // durable LEO of this replica
    offset _flush_requested{0};                        // a flush up to here is outstanding
    std::deque<pending_produce> _pending;              // acks=all, in offset order
    size_t _segments_at_snapshot = 0;                  // segment count at the last producer snapshot
    int64_t _producers_checked_ms = -1;                // the last producer expiry check

    mutable std::mutex _waiters_mutex;
    std::vector<std::weak_ptr<async_signal>> _waiters;
    std::vector<std::weak_ptr<async_signal>> _append_waiters;
    mutable std::mutex _isr_mutex;  // guards the copies isr() and read_candidates() read
    std::vector<int32_t> _isr_copy;
    struct published_follower {
        int32_t id;
        offset end;
        offset log_start;
        int64_t last_caught_up_ms;
    };
    std::vector<published_follower> _followers_copy;  // while leading: every follower, in replica order

    std::atomic<int64_t> _max_timestamp{-1};

    // Transactions. Strand only: produces parked while their producer's
    // first transactional batch is verified; closed transactions whose
    // marker is not yet under the HW ({first offset, marker offset}).
    struct parked_produce {
        protocol::bytes_view batches;
        std::shared_ptr<const void> owner;
        required_acks acks;
        produce_callback done;
    };
    std::map<int64_t, std::deque<parked_produce>> _verifying;
    std::deque<std::pair<int64_t, int64_t>> _unreplicated_markers;
    // Published for readers.
    std::atomic<int64_t> _first_unstable{INT64_MAX};
};

}  // namespace strata::replication
