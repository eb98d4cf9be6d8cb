// The leader's side of replication: leadership from the image, followers'
// fetch state, and ISR shrink and expansion through AlterPartition (Kafka's
// Partition.maybeShrinkIsr / maybeExpandIsr). Everything here runs on the
// partition's strand.
#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "strata/common/log.h"
#include "strata/replication/partition.h"

namespace strata::replication {

namespace {

const auto& logger() {
    static const auto instance = log::get("replication");
    return instance;
}

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// After an error that retrying at once would only repeat.
constexpr int64_t isr_retry_backoff_ms = 200;

}  // namespace

std::vector<int32_t> partition::isr() const {
    std::lock_guard lock(_isr_mutex);
    return _isr_copy;
}

void partition::apply_leadership(leadership l) {
    const int64_t now = _clock.now_ms();
    const bool was_leader = _leader.load(std::memory_order_relaxed);
    const bool new_epoch = !was_leader || l.epoch.value() != _epoch.load(std::memory_order_relaxed);
    if (new_epoch) {
        // Kafka: a new leader knows nothing of its followers' logs yet, and
        // gives the ISR members replica.lag.time.max.ms from now to show up.
        _followers.clear();
        _isr_in_flight.reset();
        _epoch_start = _log->end_offset();
        // Kafka's makeLeader: the new epoch starts at the log end in the
        // epoch history before any follower can ask about it, so that
        // OffsetForLeaderEpoch and the diverging epoch answered to a follower
        // that has records of an epoch this log never saw are exact (the
        // end of this log's last epoch before it), even when this leader
        // appends nothing at its epoch. Done before leadership is published.
        if (auto r = _log->assign_epoch_start(l.epoch); !r)
            logger()->error("{}: recording leader epoch {} at offset {} failed: {}", _tp, l.epoch, _epoch_start,
                            r.error());
    }
    for (int32_t replica : l.replicas) {
        if (replica == _self || _followers.contains(replica)) continue;
        follower_state f;
        f.last_caught_up_ms = contains(l.isr, replica) ? now : 0;
        _followers.emplace(replica, f);
    }
    std::erase_if(_followers, [&](const auto& entry) { return !contains(l.replicas, entry.first); });
    // The image moved past the partition epoch an AlterPartition was sent
    // at: it carries that change, or another that overtook it.
    if (_isr_in_flight && l.partition_epoch > _isr_in_flight->sent_partition_epoch) _isr_in_flight.reset();

    const bool isr_changed = _isr != l.isr;
    _replicas = std::move(l.replicas);
    _isr = std::move(l.isr);
    _partition_epoch = l.partition_epoch;
    {
        std::lock_guard lock(_isr_mutex);
        _isr_copy = _isr;
        _followers_copy.clear();
        for (const auto& [id, f] : _followers) _followers_copy.push_back({id, f.end, f.log_start, f.last_caught_up_ms});
    }
    _epoch.store(l.epoch.value(), std::memory_order_release);
    _leader_id.store(_self, std::memory_order_release);
    _leader.store(true, std::memory_order_release);
    _stopped = false;
    if (new_epoch)
        logger()->info("{}: leader at epoch {} from offset {} (ISR {})", _tp, l.epoch, _epoch_start, fmt::join(_isr, ","));
    else if (isr_changed)
        logger()->info("{}: ISR now {} (partition epoch {})", _tp, fmt::join(_isr, ","), _partition_epoch);
    update_high_watermark();
    if (_config.log.flush == storage::flush_mode::group_commit && _flushed < _log->end_offset())
        request_flush(_log->end_offset());
    // A smaller ISR may let the HW (and acks=all produces) move on.
    complete_pending();
    // Followers' fetches held for this leadership (they knew the new epoch
    // before this broker did) read again now, as Kafka completes the delayed
    // fetches of a partition whose leadership changed.
    if (new_epoch) wake_waiters();
}

std::vector<int32_t> partition::maximal_isr() const {
    // KIP-497: while a change is in flight the HW counts the members of both
    // the ISR in force and the one asked for, so that a replica joining the
    // ISR has everything acknowledged by the time the controller commits it.
    if (!_isr_in_flight) return _isr;
    std::vector<int32_t> out = _isr;
    for (int32_t id : _isr_in_flight->isr)
        if (!contains(out, id)) out.push_back(id);
    return out;
}

void partition::record_follower_fetch(int32_t replica, int64_t broker_epoch, offset fetch_offset, offset log_start) {
    boost::asio::post(_strand, [self = shared_from_this(), replica, broker_epoch, fetch_offset, log_start] {
        self->on_follower_fetch(replica, broker_epoch, fetch_offset, log_start);
    });
}

std::vector<partition::read_candidate> partition::read_candidates(offset fetch_offset) const {
    const int64_t now = _clock.now_ms();
    std::vector<read_candidate> out;
    std::lock_guard lock(_isr_mutex);
    for (const auto& f : _followers_copy) {
        // Kafka's findPreferredReadReplica: only ISR members (one outside may
        // lag without bound), and only those whose log holds the offset.
        if (!contains(_isr_copy, f.id) || f.end < fetch_offset || f.log_start > fetch_offset) continue;
        out.push_back({f.id, f.end.value(), std::max<int64_t>(now - f.last_caught_up_ms, 0)});
    }
    return out;
}

void partition::publish_follower(int32_t replica, const follower_state& f) {
    std::lock_guard lock(_isr_mutex);
    for (auto& copy : _followers_copy) {
        if (copy.id != replica) continue;
        copy.end = f.end;
        copy.log_start = f.log_start;
        copy.last_caught_up_ms = f.last_caught_up_ms;
        return;
    }
}

void partition::on_follower_fetch(int32_t replica, int64_t broker_epoch, offset fetch_offset, offset log_start) {
    if (!_leader.load(std::memory_order_relaxed)) return;
    auto it = _followers.find(replica);
    if (it == _followers.end()) return;  // not a replica of this partition
    const int64_t now = _clock.now_ms();
    const offset leo = _log->end_offset();
    auto& f = it->second;
    fetch_offset = std::min(fetch_offset, leo);
    // Kafka's Replica.updateFetchState: caught up now if the follower has
    // everything; caught up as of its previous fetch if it has what the
    // leader had then.
    if (fetch_offset >= leo)
        f.last_caught_up_ms = std::max(f.last_caught_up_ms, now);
    else if (f.leader_end_at_last_fetch >= offset(0) && fetch_offset >= f.leader_end_at_last_fetch)
        f.last_caught_up_ms = std::max(f.last_caught_up_ms, f.last_fetch_ms);
    f.leader_end_at_last_fetch = leo;
    f.last_fetch_ms = now;
    f.end = fetch_offset;
    if (log_start >= offset(0)) f.log_start = log_start;
    f.broker_epoch = broker_epoch;
    publish_follower(replica, f);
    update_high_watermark();
    complete_pending();
    maybe_expand_isr(replica);
}

void partition::maybe_expand_isr(int32_t replica) {
    if (_isr_in_flight || contains(_isr, replica) || _clock.now_ms() < _next_isr_attempt_ms) return;
    const auto& f = _followers.at(replica);
    // In sync: it has everything below the HW, and at least this leadership's
    // first offset (so that it holds this leader's view of the log).
    if (f.end < high_watermark() || f.end < _epoch_start) return;
    auto isr = _isr;
    isr.push_back(replica);
    logger()->info("{}: replica {} caught up at offset {}; expanding the ISR to {}", _tp, replica, f.end,
                   fmt::join(isr, ","));
    send_isr_update(std::move(isr));
}

void partition::check_isr() {
    boost::asio::post(_strand, [self = shared_from_this()] { self->maybe_shrink_isr(); });
}

void partition::maybe_shrink_isr() {
    if (!_leader.load(std::memory_order_relaxed) || _isr_in_flight) return;
    const int64_t now = _clock.now_ms();
    if (now < _next_isr_attempt_ms) return;
    const offset leo = _log->end_offset();
    std::vector<int32_t> isr, out;
    for (int32_t member : _isr) {
        auto it = _followers.find(member);
        // Kafka's isCaughtUp: a follower at the leader's log end is in sync
        // however long ago it fetched; otherwise it must have caught up
        // within replica.lag.time.max.ms.
        const bool lagging = member != _self && it != _followers.end() && it->second.end != leo &&
                             now - it->second.last_caught_up_ms > _config.replica_lag_time_max_ms;
        (lagging ? out : isr).push_back(member);
    }
    if (out.empty()) return;
    logger()->info("{}: replica(s) {} have not caught up within replica.lag.time.max.ms={}; shrinking the ISR to {}",
                   _tp, fmt::join(out, ","), _config.replica_lag_time_max_ms, fmt::join(isr, ","));
    send_isr_update(std::move(isr));
}

void partition::send_isr_update(std::vector<int32_t> isr) {
    if (!_isr_sender) return;
    _isr_in_flight = isr_change{isr, _partition_epoch};
    isr_update_request request;
    request.tp = _tp;
    request.topic_id = _topic_id;
    request.epoch = epoch();
    request.partition_epoch = _partition_epoch;
    for (int32_t id : isr) {
        auto it = _followers.find(id);
        request.isr.push_back({id, it == _followers.end() ? int64_t(-1) : it->second.broker_epoch});
    }
    std::weak_ptr<partition> weak = weak_from_this();
    const leader_epoch sent_epoch = epoch();
    const int32_t sent_partition_epoch = _partition_epoch;
    _isr_sender(std::move(request), [weak, sent_epoch, sent_partition_epoch](isr_update_result result) {
        auto self = weak.lock();
        if (!self) return;
        boost::asio::post(self->_strand, [self, sent_epoch, sent_partition_epoch, result = std::move(result)]() mutable {
            self->on_isr_update(std::move(result), sent_epoch, sent_partition_epoch);
        });
    });
}

void partition::on_isr_update(isr_update_result result, leader_epoch sent_epoch, int32_t sent_partition_epoch) {
    // An answer for a request this leadership no longer waits for.
    if (!_leader.load(std::memory_order_relaxed) || epoch() != sent_epoch || !_isr_in_flight ||
        _isr_in_flight->sent_partition_epoch != sent_partition_epoch)
        return;
    switch (result.error) {
        case kafka_error::none:
            // The change is committed; it takes effect when the image brings
            // it (apply_leadership), which may already have happened.
            if (_partition_epoch >= result.partition_epoch || result.isr == _isr) _isr_in_flight.reset();
            return;
        case kafka_error::invalid_update_version:
        case kafka_error::fenced_leader_epoch:
        case kafka_error::not_leader_or_follower:
        case kafka_error::new_leader_elected:  // a reassignment completed and moved leadership off us
            // Our partition or leader epoch is stale: the image that
            // supersedes it is on its way and clears the request.
            logger()->info("{}: AlterPartition answered {}; waiting for the metadata image", _tp,
                           kafka_error_name(result.error));
            return;
        default:
            // NOT_CONTROLLER, REQUEST_TIMED_OUT (no controller reachable),
            // INELIGIBLE_REPLICA (fenced or shutting down), ...: the next
            // fetch or ISR check asks again after a pause.
            logger()->info("{}: AlterPartition answered {}; retrying", _tp, kafka_error_name(result.error));
            _isr_in_flight.reset();
            _next_isr_attempt_ms = _clock.now_ms() + isr_retry_backoff_ms;
            return;
    }
}

}  // namespace strata::replication
