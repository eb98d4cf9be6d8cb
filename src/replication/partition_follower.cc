// The follower's side of replication: following a leader at an epoch, and
// the appends and truncations the replica fetcher asks for. Everything here
// runs on the partition's strand.
#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "strata/common/log.h"
#include "strata/protocol/record_batch.h"
#include "strata/replication/partition.h"

namespace strata::replication {

namespace {

const auto& logger() {
    static const auto instance = log::get("replication");
    return instance;
}

// The whole batches of a fetched payload at or past `from`: the leader may cut
// the last batch short at max_bytes (clients and followers drop that tail).
protocol::bytes_view whole_batches_from(protocol::bytes_view payload, offset from) {
    size_t begin = 0, end = 0;
    bool started = false;
    while (end < payload.size()) {
        auto batch = protocol::record_batch_view::from(payload.subspan(end));
        if (!batch) break;
        if (!started && batch.value().last_offset() < from.value()) {
            begin = end + batch.value().size();
        } else {
            started = true;
        }
        end += batch.value().size();
    }
    if (!started) return {};
    return payload.subspan(begin, end - begin);
}

}  // namespace

void partition::become_follower(followership f) {
    boost::asio::post(_strand, [self = shared_from_this(), f = std::move(f)]() mutable {
        const bool changed = self->_leader.load(std::memory_order_relaxed) ||
                             f.leader != self->_leader_id.load(std::memory_order_relaxed) ||
                             f.epoch.value() != self->_epoch.load(std::memory_order_relaxed);
        // A leader that lost its leadership: pending acks=all produces fail
        // (the client retries with the new leader) and long polls end.
        self->stop_leading(kafka_error::not_leader_or_follower);
        self->_stopped = false;
        self->_replicas = std::move(f.replicas);
        self->_isr.clear();
        {
            std::lock_guard lock(self->_isr_mutex);
            self->_isr_copy.clear();
        }
        self->_epoch.store(f.epoch.value(), std::memory_order_release);
        self->_leader_id.store(f.leader, std::memory_order_release);
        if (changed) {
            if (f.leader < 0)
                logger()->info("{}: follower at epoch {} with no leader (log end {})", self->_tp, f.epoch,
                               self->_log->end_offset());
            else
                logger()->info("{}: following {} at epoch {} from log end {}", self->_tp, f.leader, f.epoch,
                               self->_log->end_offset());
        }
    });
}

bool partition::following_at(leader_epoch epoch) const {
    return !_stopped && !_leader.load(std::memory_order_relaxed) && _leader_id.load(std::memory_order_relaxed) >= 0 &&
           _epoch.load(std::memory_order_relaxed) == epoch.value();
}

void partition::set_follower_hw(offset leader_hw) {
    // Kafka's follower: the leader's HW, as far as this replica has the log.
    const offset hw = std::max(std::min(leader_hw, _log->end_offset()), offset(0));
    if (hw == high_watermark()) return;
    _high_watermark.store(hw.value(), std::memory_order_release);
    _log->set_high_watermark(hw);
    // Consumers reading from this follower (KIP-392) wait for its HW.
    wake_waiters();
}

void partition::append_from_leader(leader_epoch epoch, protocol::bytes_view batches, std::shared_ptr<const void> owner,
                                   offset leader_hw, offset leader_log_start, done_callback done) {
    boost::asio::post(_strand, [self = shared_from_this(), epoch, batches, owner = std::move(owner), leader_hw,
                                leader_log_start, done = std::move(done)]() mutable {
        if (!self->following_at(epoch)) return done(kafka_error::not_leader_or_follower);
        auto& log = *self->_log;
        const auto whole = whole_batches_from(batches, log.end_offset());
        if (!whole.empty()) {
            // Stored as the leader wrote them: its offsets and epochs, which
            // also extend the leader-epoch history; the CRCs are checked.
            auto appended = log.append(whole, epoch, storage::append_origin::replication);
            if (!appended) {
                logger()->warn("{}: appending fetched batches at {} failed: {}", self->_tp, log.end_offset(),
                               appended.error());
                return done(storage::to_kafka_error(appended.error()));
            }
            if (appended.value().max_timestamp > self->_max_timestamp.load(std::memory_order_relaxed))
                self->_max_timestamp.store(appended.value().max_timestamp, std::memory_order_release);
            // Idempotent producers' state follows the log, so that this
            // replica answers retries correctly once it leads.
            protocol::record_batch_sequence sequence(whole);
            for (;;) {
                auto next = sequence.next();
                if (!next || !next.value()) break;
                const auto& b = *next.value();
                self->_producers.apply(b);
            }
            self->index_aborted_transactions();
            self->publish_txn_state();
            if (log.segment_count() != self->_segments_at_snapshot) self->save_producer_snapshot();
        }
        self->set_follower_hw(leader_hw);
        // Kafka's follower moves its log start up to the leader's (records
        // deleted there: DeleteRecords, retention), within its HW.
        if (leader_log_start > log.log_start_offset() && leader_log_start <= self->high_watermark()) {
            if (auto moved = log.delete_records_before(leader_log_start); !moved)
                logger()->warn("{}: moving the log start to {} failed: {}", self->_tp, leader_log_start, moved.error());
        }
        done(kafka_error::none);
    });
}

void partition::update_follower_hw(leader_epoch epoch, offset leader_hw, done_callback done) {
    boost::asio::post(_strand, [self = shared_from_this(), epoch, leader_hw, done = std::move(done)] {
        if (!self->following_at(epoch)) return done(kafka_error::not_leader_or_follower);
        self->set_follower_hw(leader_hw);
        done(kafka_error::none);
    });
}

void partition::truncate_as_follower(leader_epoch epoch, offset to, bool fully, done_callback done) {
    boost::asio::post(_strand, [self = shared_from_this(), epoch, to, fully, done = std::move(done)] {
        if (!self->following_at(epoch)) return done(kafka_error::not_leader_or_follower);
        auto& log = *self->_log;
        const offset before = log.end_offset();
        auto truncated = fully ? log.truncate_fully_and_start_at(to) : log.truncate_to(to);
        if (!truncated) {
            logger()->error("{}: truncating to {} failed: {}", self->_tp, to, truncated.error());
            return done(storage::to_kafka_error(truncated.error()));
        }
        if (fully)
            logger()->info("{}: log restarted at the leader's log start {} (was {} to {})", self->_tp, to,
                           log.log_start_offset(), before);
        else if (before > log.end_offset())
            logger()->info("{}: truncated from {} to {} (diverged from leader {} at epoch {})", self->_tp, before,
                           log.end_offset(), self->leader_id(), epoch);
        self->after_truncation();
        done(kafka_error::none);
    });
}

void partition::after_truncation() {
    const offset leo = _log->end_offset();
    const offset hw = std::clamp(high_watermark(), _log->log_start_offset(), leo);
    _high_watermark.store(hw.value(), std::memory_order_release);
    _flushed = std::min(_flushed, leo);
    _flush_requested = std::min(_flush_requested, leo);
    // Storage dropped a producer snapshot past the new end; the state is
    // rebuilt from what is left (snapshot, then the batch headers after it).
    _producers = producer_state{};
    rebuild_producer_state();
    _segments_at_snapshot = _log->segment_count();
    _log->set_active_producers(_log->end_offset(), _producers.last_batches());
    _unreplicated_markers.clear();
    publish_txn_state();
}

}  // namespace strata::replication
