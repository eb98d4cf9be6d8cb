#include "strata/replication/partition.h"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/common/log.h"
#include "strata/protocol/record_batch.h"

namespace strata::replication {

namespace {

const auto& logger() {
    static const auto instance = log::get("replication");
    return instance;
}

}  // namespace

partition::partition(int32_t self, topic_partition tp, protocol::uuid topic_id,
                     std::shared_ptr<storage::partition_log> log, partition_config config,
                     boost::asio::any_io_executor executor, storage::clock& clock, isr_update_sender isr_sender)
    : _self(self),
      _tp(std::move(tp)),
      _topic_id(topic_id),
      _log(std::move(log)),
      _config(std::move(config)),
      _clock(clock),
      _strand(boost::asio::make_strand(std::move(executor))),
      _isr_sender(std::move(isr_sender)) {
    _flushed = _log->flushed_offset();
    _high_watermark.store(std::min(_log->high_watermark(), _log->end_offset()).value());
    // Before the partition serves anything (its strand has not started).
    rebuild_producer_state();
    _segments_at_snapshot = _log->segment_count();
    expire_producers();
    _log->set_active_producers(_log->end_offset(), _producers.last_batches());
    publish_txn_state();
}

void partition::produce(protocol::bytes_view batches, std::shared_ptr<const void> owner, required_acks acks,
                        produce_callback done, txn_verifier verify) {
    boost::asio::post(_strand, [self = shared_from_this(), batches, owner = std::move(owner), acks,
                                done = std::move(done), verify = std::move(verify)]() mutable {
        self->do_produce(batches, std::move(owner), acks, std::move(done), std::move(verify));
    });
}

void partition::do_produce(protocol::bytes_view batches, std::shared_ptr<const void> owner, required_acks acks,
                           produce_callback done, txn_verifier verify) {
    produce_outcome out;
    auto fail = [&](kafka_error error, std::string message) {
        out.error = error;
        out.message = std::move(message);
        done(std::move(out));
    };
    if (!_leader.load(std::memory_order_relaxed)) return fail(kafka_error::not_leader_or_follower, {});
    if (acks == required_acks::all && static_cast<int32_t>(_isr.size()) < _config.min_insync_replicas) {
        return fail(kafka_error::not_enough_replicas,
                    fmt::format("the in-sync replica set has {} member(s), fewer than min.insync.replicas={}",
                                _isr.size(), _config.min_insync_replicas));
    }
    // Kafka's RecordBatchTooLargeException: a payload no segment can hold.
    if (batches.size() > _config.log.segment_bytes) {
        return fail(kafka_error::record_list_too_large,
                    fmt::format("{} bytes exceed segment.bytes={}", batches.size(), _config.log.segment_bytes));
    }
    auto validated = validate(batches);
    if (!validated) {
        out.log_start_offset = _log->log_start_offset();
        out.record_errors = std::move(validated.error().record_errors);
        return fail(validated.error().error, std::move(validated.error().message));
    }

    // Idempotent producers: a retried batch gets the offsets it already has;
    // a gap in the sequence is refused. (Produce v3+ carries one batch.)
    std::optional<std::pair<int64_t, int16_t>> producer;
    producer_batch sequence_range;
    if (const auto& b = validated.value().batches.front().view; b.has_producer_id()) {
        if (b.base_sequence() < 0)
            return fail(kafka_error::invalid_record, "an idempotent batch must carry a base sequence");
        producer.emplace(b.producer_id(), b.producer_epoch());
        if (b.is_transactional()) {
            // KIP-890 part 1: the producer's first batch of a transaction
            // here waits for the coordinator to confirm the partition is in
            // it; its later batches queue behind.
            auto parked = _verifying.find(b.producer_id());
            const bool must_verify = verify && !_producers.in_transaction(b.producer_id());
            if (parked != _verifying.end() || must_verify) {
                auto& queue = _verifying[b.producer_id()];
                queue.push_back(parked_produce{batches, std::move(owner), acks, std::move(done)});
                if (queue.size() == 1) {
                    std::weak_ptr<partition> weak = weak_from_this();
                    verify([weak, id = b.producer_id()](kafka_error e) {
                        if (auto self = weak.lock())
                            boost::asio::post(self->_strand, [self, id, e] { self->on_verified(id, e); });
                    });
                }
                return;
            }
        } else if (_producers.in_transaction(b.producer_id())) {
            return fail(kafka_error::invalid_txn_state,
                        "a non-transactional batch from a producer with an open transaction");
        }
        sequence_range.first_sequence = b.base_sequence();
        sequence_range.last_sequence =
            int32_t((int64_t(b.base_sequence()) + b.last_offset_delta()) % (int64_t(INT32_MAX) + 1));
        auto verdict = _producers.check(producer->first, producer->second, sequence_range.first_sequence,
                                        sequence_range.last_sequence);
        if (verdict.error != kafka_error::none) {
            out.log_start_offset = _log->log_start_offset();
            return fail(verdict.error, std::move(verdict.message));
        }
        if (verdict.duplicate_of) {
            out.base_offset = offset(verdict.duplicate_of->first_offset);
            out.log_start_offset = _log->log_start_offset();
            const offset end = offset(verdict.duplicate_of->last_offset).next();
            if (acks == required_acks::all && (high_watermark() < end || _flushed < end)) {
                request_flush(end);
                _pending.push_back(pending_produce{end, std::move(out), std::move(done)});
                return;
            }
            return done(std::move(out));
        }
    }

    auto appended = _log->append_validated(validated.value(), epoch());
    if (!appended) {
        out.log_start_offset = _log->log_start_offset();
        return fail(storage::to_kafka_error(appended.error()), storage::to_string(appended.error()));
    }
    const auto& a = appended.value();
    if (producer) {
        sequence_range.first_offset = a.base_offset.value();
        sequence_range.last_offset = a.last_offset.value();
        const bool transactional = validated.value().batches.front().view.is_transactional();
        const bool opens = transactional && !_producers.in_transaction(producer->first);
        _producers.record(producer->first, producer->second, sequence_range, a.max_timestamp, transactional);
        if (opens) publish_txn_state();
    }
    expire_producers();
    if (_log->segment_count() != _segments_at_snapshot) save_producer_snapshot();
    out.base_offset = a.base_offset;
    out.log_append_time = a.log_append_time;
    out.log_start_offset = _log->log_start_offset();
    if (a.max_timestamp > _max_timestamp.load(std::memory_order_relaxed))
        _max_timestamp.store(a.max_timestamp, std::memory_order_release);

    const offset end = a.last_offset.next();
    // Followers long-polling at the old log end fetch what was just added.
    wake_append_waiters();
    // acks=all waits for durability (a group-committed fdatasync), whatever
    // the flush policy; acks=0/1 do not, as in Kafka: the data is in the page
    // cache, which a process crash does not lose, and the log is flushed in
    // the background (flush.ms / flush.messages, and a periodic flush that
    // moves the recovery point).
    if (acks == required_acks::all) request_flush(end);
    update_high_watermark();
    if (acks == required_acks::all && (high_watermark() < end || _flushed < end)) {
        _pending.push_back(pending_produce{end, std::move(out), std::move(done)});
        return;
    }
    done(std::move(out));
}

storage::validation_result partition::validate(protocol::bytes_view batches) const {
    auto config = storage::validation_config_for(_config.log, storage::append_origin::client);
    config.timestamp_before_max_ms = _config.timestamp_before_max_ms;
    config.timestamp_after_max_ms = _config.timestamp_after_max_ms;
    config.partition = fmt::format("{}", _tp);
    return storage::validate_produce(batches, config, _clock.now_ms());
}

void partition::request_flush(offset upto) {
    if (_flush_requested >= upto) return;
    _flush_requested = upto;
    std::weak_ptr<partition> weak = weak_from_this();
    // The callback may run on the flusher thread: hop to the strand.
    _log->flush_to(upto, [weak, upto](storage::result<void> r) {
        auto self = weak.lock();
        if (!self) return;
        boost::asio::post(self->_strand, [self, upto, r = std::move(r)]() mutable { self->on_flushed(upto, std::move(r)); });
    });
}

void partition::on_flushed(offset upto, storage::result<void> r) {
    if (!r) {
        logger()->error("{}: flush to {} failed: {}", _tp, upto, r.error());
        // Every acks=all produce this flush covered fails; later ones retry
        // with their own flush.
        while (!_pending.empty() && _pending.front().required <= upto) {
            auto p = std::move(_pending.front());
            _pending.pop_front();
            p.outcome.error = kafka_error::kafka_storage_error;
            p.outcome.message = storage::to_string(r.error());
            p.done(std::move(p.outcome));
        }
        if (_flush_requested <= upto) _flush_requested = _flushed;
        return;
    }
    _flushed = std::max({_flushed, upto, std::min(_log->flushed_offset(), _log->end_offset())});
    update_high_watermark();
    complete_pending();
}

void partition::update_high_watermark() {
    if (!_leader.load(std::memory_order_relaxed)) return;
    const offset leo = _log->end_offset();
    // Kafka's rule: the HW is the smallest log end offset in the ISR (the
    // leader's own for an ISR of one), independent of fsync. A member that
    // has not fetched since this leadership began holds it where it is.
    offset hw = leo;
    for (int32_t member : maximal_isr()) {
        if (member == _self) continue;
        auto it = _followers.find(member);
        if (it == _followers.end() || it->second.end < offset(0)) return;
        hw = std::min(hw, it->second.end);
    }
    if (hw <= high_watermark()) return;
    // Closed transactions whose marker the HW now covers stop holding the LSO
    // back (before the HW moves, so that readers never see an LSO past a
    // marker that is not yet replicated).
    if (!_unreplicated_markers.empty() && _unreplicated_markers.front().second < hw.value()) {
        while (!_unreplicated_markers.empty() && _unreplicated_markers.front().second < hw.value())
            _unreplicated_markers.pop_front();
        publish_txn_state();
    }
    _high_watermark.store(hw.value(), std::memory_order_release);
    _log->set_high_watermark(hw);
    wake_waiters();
}

// ---- transactions ------------------------------------------------------------------

void partition::publish_txn_state() {
    int64_t first = _producers.first_unstable_offset();
    for (const auto& [start, marker] : _unreplicated_markers) first = std::min(first, start);
    _first_unstable.store(first, std::memory_order_release);
    _log->set_first_unstable_offset(offset(first));
}

void partition::index_aborted_transactions() {
    for (const auto& txn : _producers.take_aborted()) {
        // An I/O error here takes the log directory offline (the log watches
        // its writes), so no read_committed fetch is answered without it.
        if (auto r = _log->append_aborted_txn(txn); !r)
            logger()->error("{}: aborted transaction of producer {} at {} not indexed: {}", _tp, txn.producer_id,
                            txn.last_offset, storage::to_string(r.error()));
    }
}

void partition::rebuild_producer_state() {
    const auto stale = _log->aborted_txns_stale_from();
    if (auto rebuilt = _producers.rebuild(*_log); !rebuilt) {
        logger()->warn("{}: idempotent producer state not rebuilt ({}); retries may be duplicated", _tp,
                       storage::to_string(rebuilt.error()));
        _producers.take_aborted();
        return;
    }
    // The replay saw every abort since `stale` (rebuild skips a snapshot past
    // it): those are the missing .txnindex entries.
    auto aborted = _producers.take_aborted();
    if (!stale) return;
    if (auto r = _log->rebuild_aborted_txns(*stale, aborted); !r)
        logger()->error("{}: .txnindex not rebuilt from {}: {}", _tp, *stale, storage::to_string(r.error()));
}

storage::result<std::vector<aborted_txn>> partition::aborted_transactions(int64_t from, int64_t to) const {
    return _log->collect_aborted_txns(offset(from), offset(to));
}

void partition::on_verified(int64_t producer_id, kafka_error error) {
    auto it = _verifying.find(producer_id);
    if (it == _verifying.end()) return;
    auto parked = std::move(it->second);
    _verifying.erase(it);
    for (auto& p : parked) {
        if (error != kafka_error::none) {
            produce_outcome out;
            out.error = error;
            out.message = "the partition is not in the producer's transaction (KIP-890 verification)";
            out.log_start_offset = _log->log_start_offset();
            p.done(std::move(out));
            continue;
        }
        // Verified: appended in their order (the first opens the transaction).
        do_produce(p.batches, std::move(p.owner), p.acks, std::move(p.done), {});
    }
}

void partition::append_coordinator_batch(protocol::bytes_view batch, std::shared_ptr<const void> owner,
                                         produce_callback done) {
    boost::asio::post(_strand, [self = shared_from_this(), batch, owner = std::move(owner), done = std::move(done)]() mutable {
        self->do_append_coordinator_batch(batch, std::move(done));
    });
}

void partition::do_append_coordinator_batch(protocol::bytes_view batch, produce_callback done) {
    produce_outcome out;
    if (!_leader.load(std::memory_order_relaxed)) {
        out.error = kafka_error::not_leader_or_follower;
        return done(std::move(out));
    }
    if (static_cast<int32_t>(_isr.size()) < _config.min_insync_replicas) {
        out.error = kafka_error::not_enough_replicas;
        return done(std::move(out));
    }
    auto config = storage::validation_config_for(_config.log, storage::append_origin::internal);
    auto validated = storage::validate_produce(batch, config, _clock.now_ms());
    if (!validated) {
        out.error = validated.error().error;
        return done(std::move(out));
    }
    // A fenced producer's offsets are refused (its epoch is older than the
    // partition's, e.g. after the coordinator's abort marker).
    for (const auto& v : validated.value().batches)
        if (v.view.has_producer_id())
            if (auto e = _producers.check_marker(v.view.producer_id(), v.view.producer_epoch(), INT32_MAX);
                e != kafka_error::none) {
                out.error = e;
                return done(std::move(out));
            }
    auto appended = _log->append_validated(validated.value(), epoch());
    if (!appended) {
        out.error = storage::to_kafka_error(appended.error());
        return done(std::move(out));
    }
    const auto& a = appended.value();
    for (const auto& v : validated.value().batches) {
        const auto& b = v.view;
        if (!b.has_producer_id()) continue;
        producer_batch range{b.base_sequence(), b.base_sequence(), a.base_offset.value(), a.last_offset.value()};
        _producers.record(b.producer_id(), b.producer_epoch(), range, a.max_timestamp, b.is_transactional());
    }
    publish_txn_state();
    out.base_offset = a.base_offset;
    const offset end = a.last_offset.next();
    wake_append_waiters();
    request_flush(end);
    update_high_watermark();
    if (high_watermark() < end || _flushed < end) {
        _pending.push_back(pending_produce{end, std::move(out), std::move(done)});
        return;
    }
    done(std::move(out));
}

void partition::describe_producers(std::function<void(kafka_error, std::vector<producer_info>)> done) {
    boost::asio::post(_strand, [self = shared_from_this(), done = std::move(done)] {
        if (!self->_leader.load(std::memory_order_relaxed)) return done(kafka_error::not_leader_or_follower, {});
        done(kafka_error::none, self->_producers.describe());
    });
}

void partition::write_txn_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch, bool commit,
                                 done_callback done) {
    boost::asio::post(_strand, [self = shared_from_this(), producer_id, producer_epoch, coordinator_epoch, commit,
                                done = std::move(done)]() mutable {
        self->do_write_txn_marker(producer_id, producer_epoch, coordinator_epoch, commit, std::move(done));
    });
}

void partition::do_write_txn_marker(int64_t producer_id, int16_t producer_epoch, int32_t coordinator_epoch,
                                    bool commit, done_callback done) {
    if (!_leader.load(std::memory_order_relaxed)) return done(kafka_error::not_leader_or_follower);
    if (auto e = _producers.check_marker(producer_id, producer_epoch, coordinator_epoch); e != kafka_error::none)
        return done(e);
    protocol::record_batch_options options;
    options.producer_id = producer_id;
    options.producer_epoch = producer_epoch;
    options.is_transactional = true;
    options.is_control = true;
    protocol::record_batch_builder builder(options);
    const auto key = txn_marker_key(commit);
    const auto value = txn_marker_value(coordinator_epoch);
    const int64_t now = _clock.now_ms();
    builder.append(now, protocol::bytes_view(key), protocol::bytes_view(value));
    auto built = builder.build();
    if (!built) return done(kafka_error::unknown_server_error);
    auto bytes = std::make_shared<std::vector<uint8_t>>(std::move(built).value());
    auto config = storage::validation_config_for(_config.log, storage::append_origin::internal);
    auto validated = storage::validate_produce(*bytes, config, now);
    if (!validated) return done(validated.error().error);
    auto appended = _log->append_validated(validated.value(), epoch());
    if (!appended) return done(storage::to_kafka_error(appended.error()));
    const int64_t marker_offset = appended.value().base_offset.value();
    const int64_t first = _producers.in_transaction(producer_id) ? _producers.first_unstable_offset() : -1;
    // (The first offset of this producer's transaction, for the LSO until the
    // marker is replicated: at most the earliest open one's.)
    _producers.end_transaction(producer_id, producer_epoch, txn_marker{commit, coordinator_epoch}, marker_offset, now);
    index_aborted_transactions();
    if (first >= 0) _unreplicated_markers.emplace_back(first, marker_offset);
    publish_txn_state();
    if (_log->segment_count() != _segments_at_snapshot) save_producer_snapshot();
    wake_append_waiters();
    const offset end = offset(marker_offset).next();
    request_flush(end);
    update_high_watermark();
    if (high_watermark() < end || _flushed < end) {
        produce_outcome out;
        _pending.push_back(pending_produce{end, std::move(out), [done = std::move(done)](produce_outcome o) {
                                               done(o.error);
                                           }});
        return;
    }
    done(kafka_error::none);
}

void partition::complete_pending(kafka_error error_for_all) {
    while (!_pending.empty()) {
        auto& front = _pending.front();
        if (error_for_all == kafka_error::none && (front.required > high_watermark() || front.required > _flushed))
            break;
        auto p = std::move(front);
        _pending.pop_front();
        if (error_for_all != kafka_error::none) p.outcome.error = error_for_all;
        p.done(std::move(p.outcome));
    }
}

void partition::add_waiter(const std::shared_ptr<async_signal>& signal, bool on_append) {
    std::lock_guard lock(_waiters_mutex);
    // Drop waiters that gave up, so that a partition nobody produces to does
    // not collect one per long poll.
    auto gone = [](const std::weak_ptr<async_signal>& w) {
        auto s = w.lock();
        return !s || s->fired();
    };
    std::erase_if(_waiters, gone);
    _waiters.push_back(signal);
    if (on_append) {
        std::erase_if(_append_waiters, gone);
        _append_waiters.push_back(signal);
    }
}

void partition::wake_waiters() {
    std::vector<std::weak_ptr<async_signal>> waiters, append_waiters;
    {
        std::lock_guard lock(_waiters_mutex);
        waiters.swap(_waiters);
        append_waiters.swap(_append_waiters);
    }
    for (auto& w : waiters)
        if (auto s = w.lock()) s->notify();
    for (auto& w : append_waiters)
        if (auto s = w.lock()) s->notify();
}

void partition::wake_append_waiters() {
    std::vector<std::weak_ptr<async_signal>> waiters;
    {
        std::lock_guard lock(_waiters_mutex);
        if (_append_waiters.empty()) return;
        waiters.swap(_append_waiters);
    }
    for (auto& w : waiters)
        if (auto s = w.lock()) s->notify();
}

void partition::become_leader(leadership l) {
    boost::asio::post(_strand, [self = shared_from_this(), l = std::move(l)]() mutable {
        self->apply_leadership(std::move(l));
    });
}

void partition::stop_leading(kafka_error error_for_pending) {
    _leader.store(false, std::memory_order_release);
    _followers.clear();
    {
        std::lock_guard lock(_isr_mutex);
        _followers_copy.clear();
    }
    _isr_in_flight.reset();
    complete_pending(error_for_pending);
    wake_waiters();
}

// Kafka's producer.id.expiration.check.interval.ms: at most this often.
void partition::expire_producers() {
    constexpr int64_t check_interval_ms = 600'000;
    const int64_t now = _clock.now_ms();
    if (_producers_checked_ms >= 0 && now - _producers_checked_ms < check_interval_ms) return;
    _producers_checked_ms = now;
    if (size_t gone = _producers.expire(now, _config.producer_id_expiration_ms); gone > 0)
        logger()->debug("{}: {} idempotent producers expired (producer.id.expiration.ms={})", _tp, gone,
                        _config.producer_id_expiration_ms);
}

// Kafka takes a producer snapshot when a segment rolls and when the log
// closes; so does the partition (at a roll, and when it stops leading or the
// broker shuts down), so that a restart replays at most the active segment's
// batch headers. Only producers that appended write anything worth saving.
void partition::save_producer_snapshot() {
    _segments_at_snapshot = _log->segment_count();
    // The cleaner's view of the producers goes with each snapshot: it
    // cleans only below its offset, which a roll has just moved past the
    // sealed segments.
    _log->set_active_producers(_log->end_offset(), _producers.last_batches());
    if (_producers.producers() == 0) return;
    // A deleted log refuses (closed); a failure only means a longer replay.
    (void)_log->save_producer_snapshot(_log->end_offset(), _producers.encode());
}

void partition::after_pending(std::function<void()> then) {
    boost::asio::post(_strand, std::move(then));
}

void partition::stop(std::function<void()> then) {
    boost::asio::post(_strand, [self = shared_from_this(), then = std::move(then)] {
        self->_stopped = true;
        self->_leader_id.store(-1, std::memory_order_release);
        self->stop_leading(kafka_error::not_leader_or_follower);
        self->save_producer_snapshot();
        if (then) then();
    });
}

void partition::delete_records(int64_t before, delete_records_callback done) {
    boost::asio::post(_strand, [self = shared_from_this(), before, done = std::move(done)] {
        if (!self->_leader.load(std::memory_order_relaxed))
            return done(kafka_error::not_leader_or_follower, offset(-1));
        if (!self->_config.log.deletes())
            return done(kafka_error::policy_violation, offset(-1));  // compact-only topics keep their records
        const offset hw = self->high_watermark();
        const offset target = before == -1 ? hw : offset(before);
        if (before < -1 || target > hw) return done(kafka_error::offset_out_of_range, offset(-1));
        auto moved = self->_log->delete_records_before(target);
        if (!moved) return done(kafka_error::kafka_storage_error, offset(-1));
        done(kafka_error::none, moved.value());
    });
}

void partition::update_config(partition_config config) {
    boost::asio::post(_strand, [self = shared_from_this(), config = std::move(config)]() mutable {
        self->_log->reconfigure(config.log);
        self->_config = std::move(config);
    });
}

}  // namespace strata::replication
