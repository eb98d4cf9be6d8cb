// One partition this broker leads: its log, leader epoch, in-sync replica set
// and high watermark, and the requests waiting on them.
//
// Ownership and executor. A partition is created and owned (shared_ptr) by
// the partition_manager; request handlers hold it for the duration of a
// request. Its replication state (ISR, replica end offsets, HW, pending
// acks=all produces, leadership) is changed only on the partition's strand:
// produce() posts the append there, the storage flusher's callbacks are posted
// there, and the manager's become_leader / stop go through it. So the state
// has exactly one owner at a time and needs no lock; the log's own append is
// likewise called only from the strand. Posting from a request handler's
// synchronous part keeps produce order per partition per connection (the
// net::request_handler contract) because a strand runs what is posted in
// order. Reads (fetch, ListOffsets) run on the caller's thread: the log is
// readable from any thread and the values readers need (HW, epoch) are
// published in atomics.
//
// HW model (Kafka's ISR): HW = min over the ISR of each member's log end
// offset, never moving back while one leader epoch lasts. The leader's own
// contribution is its LEO once that is durable by the topic's flush policy:
// with group commit (the default) the fsynced offset, so that consumers never
// read what a crash could take back; with Kafka's interval policy, the LEO at
// once. Followers' offsets come from their fetches (not yet: the ISR is
// {leader} on a single node, and with RF > 1 the HW waits for followers that
// never report, which is correct but stalls until replication lands).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

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
#include "strata/protocol/wire.h"
#include "strata/replication/async_signal.h"
#include "strata/replication/partition_config.h"
#include "strata/replication/producer_state.h"
#include "strata/storage/clock.h"
#include "strata/storage/log.h"

namespace strata::replication {

using storage::leader_epoch;
using storage::offset;
using storage::topic_partition;

// acks of a produce request: 0, 1 or -1 (all in-sync replicas).
enum class required_acks : int8_t { none = 0, leader = 1, all = -1 };

struct produce_outcome {
    kafka_error error = kafka_error::none;
    std::string message;  // for the response's error_message (v8+); empty: none
    offset base_offset{-1};
    int64_t log_append_time = -1;
    offset log_start_offset{-1};
};

// What a leader tells the partition about itself when it (re)gains leadership.
struct leadership {
    leader_epoch epoch;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
};

class partition : public std::enable_shared_from_this<partition> {
public:
    using produce_callback = std::function<void(produce_outcome)>;

    partition(int32_t self, topic_partition tp, protocol::uuid topic_id, std::shared_ptr<storage::partition_log> log,
              partition_config config, boost::asio::any_io_executor executor, storage::clock& clock);

    // ---- any thread --------------------------------------------------------
    const topic_partition& id() const { return _tp; }
    const protocol::uuid& topic_id() const { return _topic_id; }
    const std::shared_ptr<storage::partition_log>& log() const { return _log; }

    bool is_leader() const { return _leader.load(std::memory_order_acquire); }
    leader_epoch epoch() const { return leader_epoch(_epoch.load(std::memory_order_acquire)); }
    offset high_watermark() const { return offset(_high_watermark.load(std::memory_order_acquire)); }
    // No transactions yet: the last stable offset is the high watermark.
    offset last_stable_offset() const { return high_watermark(); }
    offset log_end_offset() const { return _log->end_offset(); }
    offset log_start_offset() const { return _log->log_start_offset(); }
    // The largest batch max timestamp appended since the log was opened
    // (ListOffsets -3 looks its first record up); -1: none yet. Not rebuilt
    // from the log at open: storage does not expose its segments' maxima.
    int64_t max_timestamp() const { return _max_timestamp.load(std::memory_order_acquire); }

    // Validates and appends `batches` (a v2 produce payload, kept alive by
    // `owner` until done runs) on the strand. `done` runs on the strand, or on
    // it after the fsync for acks=all; it must not block.
    void produce(protocol::bytes_view batches, std::shared_ptr<const void> owner, required_acks acks,
                 produce_callback done);

    // Fetch long polling: `signal` is notified (once) the next time the high
    // watermark moves or the partition stops leading. (Followers, which read
    // to the log end, will want a wake-up on append too.) Held
    // weakly; a waiter that gave up costs nothing.
    void add_waiter(const std::shared_ptr<async_signal>& signal);

    // DeleteRecords: on the strand, moves the log start offset to `before`
    // (-1: the high watermark), which must not pass the high watermark.
    // `done` runs on the strand with the new log start offset or the error.
    using delete_records_callback = std::function<void(kafka_error, offset low_watermark)>;
    void delete_records(int64_t before, delete_records_callback done);

    // ---- partition manager -------------------------------------------------
    // Posts to the strand: leads at `l.epoch` (a newer epoch or a changed ISR).
    void become_leader(leadership l);
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
    };

    void do_produce(protocol::bytes_view batches, required_acks acks, produce_callback done);
    std::optional<produce_outcome> check_timestamps(protocol::bytes_view batches) const;
    void request_flush(offset upto);
    void on_flushed(offset upto, storage::result<void> r);
    void update_high_watermark();
    void complete_pending(kafka_error error_for_all = kafka_error::none);
    void wake_waiters();
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

    // Published for readers; written on the strand.
    std::atomic<bool> _leader{false};
    std::atomic<int32_t> _epoch{-1};
    std::atomic<int64_t> _high_watermark{0};

    // Strand only.
    std::vector<int32_t> _isr;
    std::map<int32_t, offset> _follower_end_offsets;  // ISR members but self
    offset _flushed{0};                                // durable LEO of this replica
    offset _flush_requested{0};                        // a flush up to here is outstanding
    std::deque<pending_produce> _pending;              // acks=all, in offset order
    size_t _segments_at_snapshot = 0;                  // segment count at the last producer snapshot
    int64_t _producers_checked_ms = -1;                // the last producer expiry check

    mutable std::mutex _waiters_mutex;
    std::vector<std::weak_ptr<async_signal>> _waiters;

    std::atomic<int64_t> _max_timestamp{-1};
};

}  // namespace strata::replication
