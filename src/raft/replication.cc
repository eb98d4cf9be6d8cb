// KRaft's pull replication: followers Fetch (fetch offset, last fetched
// epoch); the leader answers with entries, or with where the follower's log
// diverges from its own (DivergingEpoch) so that the follower truncates, or
// with the snapshot to fetch when the follower is behind the log start
// (KIP-630). The high watermark is what a majority of voters has fetched past
// in the leader's epoch; observers fetch too but do not count.
#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "strata/raft/raft_core.h"

namespace strata::raft {

namespace {
kafka_error epoch_error(epoch request_epoch, epoch ours) {
    if (request_epoch < ours) {
        return kafka_error::fenced_leader_epoch;
    }
    if (request_epoch > ours) {
        return kafka_error::unknown_leader_epoch;
    }
    return kafka_error::not_leader_or_follower;
}
}  // namespace

void raft_core::append_as_leader(entry_kind kind, std::string data) {
    _log.append(log_entry{_log.end_offset(), _epoch, kind, std::move(data)});
    // The leader counts its own entries toward the HW: they must be durable
    // before anything that follows (an apply, a response) is carried out.
    _actions.push_back(persist_log{_log.end_offset()});
}

raft_result<offset> raft_core::propose(std::string data, millis now) {
    if (_role != raft_role::leader) {
        return raft_error::not_leader;
    }
    offset at = _log.end_offset();
    append_as_leader(entry_kind::data, std::move(data));
    maybe_advance_high_watermark();
    return at;
}

raft_result<void> raft_core::snapshot_created(snapshot_id id, std::string data) {
    if (id.end_offset > _applied) {
        return raft_error::snapshot_not_applied;
    }
    if (id.end_offset <= _log.start_offset()) {
        return boost::outcome_v2::success();  // an older snapshot than the one held
    }
    if (_log.entry(id.end_offset - 1).ep != id.ep) {
        return raft_error::snapshot_unknown_entry;
    }
    _log.install_snapshot(id, std::move(data));
    _actions.push_back(persist_log{_log.end_offset()});
    return boost::outcome_v2::success();
}

void raft_core::maybe_advance_high_watermark() {
    if (_role != raft_role::leader) {
        return;
    }
    std::vector<offset> ends;
    if (is_voter()) {
        ends.push_back(_log.end_offset());
    }
    for (const auto& [voter, progress] : _voter_progress) {
        ends.push_back(progress.end_offset);
    }
    std::sort(ends.begin(), ends.end(), std::greater<>());
    offset majority_end = ends[majority() - 1];
    // Only once an entry of this epoch (the leader-change record) is
    // committed may the HW move: Raft's rule against committing an earlier
    // epoch's entries by counting replicas.
    if (majority_end > _epoch_start_offset && majority_end > _high_watermark) {
        _high_watermark = majority_end;
        apply_committed();
    }
}

void raft_core::apply_committed() {
    offset until = std::min(_high_watermark, _log.end_offset());
    if (_applied >= until) {
        return;
    }
    apply_entries batch;
    for (offset o = std::max(_applied, _log.start_offset()); o < until; o = o + 1) {
        batch.entries.push_back(_log.entry(o));
    }
    _applied = until;
    _actions.push_back(std::move(batch));
}

fetch_response raft_core::on_fetch(node_id from, const fetch_request& request, millis now) {
    fetch_response response;
    response.current_leader = current_leader();
    response.log_start_offset = _log.start_offset();
    response.high_watermark = _high_watermark;
    if (_role != raft_role::leader || request.current_leader_epoch != _epoch) {
        response.error = epoch_error(request.current_leader_epoch, _epoch);
        return response;
    }
    bool voter = is_voter(from);
    replica_progress& progress = voter ? _voter_progress[from] : _observer_progress[from];
    progress.last_fetch = now;  // check-quorum counts any Fetch in this epoch

    if (auto snapshot = _log.latest_snapshot(); snapshot && request.fetch_offset < _log.start_offset()) {
        response.snapshot = snapshot;
        return response;
    }
    auto epoch_end = _log.end_offset_for_epoch(request.last_fetched_epoch);
    if (!epoch_end) {
        response.snapshot = _log.latest_snapshot();
        return response;
    }
    if (epoch_end->ep != request.last_fetched_epoch || epoch_end->end_offset < request.fetch_offset) {
        // The follower's log is not a prefix of ours: tell it where the
        // largest epoch it may share with us ends; it truncates there.
        response.diverging_epoch = epoch_end;
        return response;
    }
    // Valid: the follower holds our log up to fetch_offset, durably (it
    // persists before it fetches again).
    progress.end_offset = request.fetch_offset;
    progress.begin_acknowledged = true;
    if (request.fetch_offset >= _log.end_offset()) {
        progress.last_caught_up = now;
    }
    if (voter) {
        maybe_advance_high_watermark();
    }
    response.high_watermark = _high_watermark;
    int64_t budget = std::min(request.max_bytes > 0 ? request.max_bytes : _config.fetch_max_bytes, _config.fetch_max_bytes);
    for (offset o = request.fetch_offset; o < _log.end_offset() && response.records.size() < _config.fetch_max_entries;
         o = o + 1) {
        const log_entry& entry = _log.entry(o);
        budget -= static_cast<int64_t>(entry.data.size());
        if (budget < 0 && !response.records.empty()) {
            break;
        }
        response.records.push_back(entry);
    }
    return response;
}

fetch_snapshot_response raft_core::on_fetch_snapshot(node_id from, const fetch_snapshot_request& request, millis now) {
    fetch_snapshot_response response;
    response.snapshot = request.snapshot;
    response.current_leader = current_leader();
    if (_role != raft_role::leader || request.current_leader_epoch != _epoch) {
        response.error = epoch_error(request.current_leader_epoch, _epoch);
        return response;
    }
    (is_voter(from) ? _voter_progress[from] : _observer_progress[from]).last_fetch = now;
    if (_log.latest_snapshot() != request.snapshot) {
        response.error = kafka_error::snapshot_not_found;
        return response;
    }
    response.size = _log.snapshot_size();
    if (request.position < 0 || request.position > response.size) {
        response.error = kafka_error::position_out_of_range;
        return response;
    }
    int32_t max_bytes = request.max_bytes > 0 ? std::min(request.max_bytes, _config.snapshot_chunk_bytes)
                                              : _config.snapshot_chunk_bytes;
    response.position = request.position;
    response.bytes = _log.read_snapshot(request.position, max_bytes);
    return response;
}

describe_quorum_response raft_core::on_describe_quorum() const {
    describe_quorum_response response;
    response.leader_id = leader();
    response.leader_epoch = _epoch;
    if (_role != raft_role::leader) {
        response.error = kafka_error::not_leader_or_follower;
        return response;
    }
    response.high_watermark = _high_watermark;
    auto describe = [](node_id id, const replica_progress& p) {
        return replica_state{id, p.end_offset, p.last_fetch, p.last_caught_up};
    };
    for (node_id voter : _config.voters) {
        if (voter == _config.self) {
            response.current_voters.push_back(replica_state{voter, _log.end_offset(), -1, -1});
        } else if (auto it = _voter_progress.find(voter); it != _voter_progress.end()) {
            response.current_voters.push_back(describe(voter, it->second));
        }
    }
    for (const auto& [observer, progress] : _observer_progress) {
        response.observers.push_back(describe(observer, progress));
    }
    return response;
}

void raft_core::send_fetch(node_id to, millis now) {
    fetch_request request{_config.self, _epoch, _log.end_offset(), _log.last_epoch(), _config.fetch_max_bytes,
                          _config.fetch_max_wait_ms};
    _fetch_in_flight = request;
    _fetch_target = to;
    _fetch_sent_at = now;
    send(to, request);
}

void raft_core::send_fetch_snapshot(millis now) {
    fetch_snapshot_request request{_config.self, _epoch, _snapshot_transfer->id,
                                   static_cast<int64_t>(_snapshot_transfer->bytes.size()),
                                   _config.snapshot_chunk_bytes};
    _snapshot_in_flight = request;
    _fetch_sent_at = now;
    send(_fetch_target, request);
}

void raft_core::tick_fetcher(millis now) {
    bool in_flight = _fetch_in_flight || _snapshot_in_flight;
    if (in_flight && now - _fetch_sent_at < _config.request_timeout) {
        return;
    }
    if (!in_flight && now < _next_fetch_at) {
        return;
    }
    if (_role == raft_role::follower) {
        if (_snapshot_transfer) {
            send_fetch_snapshot(now);
        } else {
            send_fetch(*_leader, now);
        }
        return;
    }
    // An observer with no leader asks the voters in turn; the answer names
    // the leader.
    if (!_config.voters.empty()) {
        node_id target = _config.voters[_discovery_index++ % _config.voters.size()];
        send_fetch(target, now);
        _next_fetch_at = now + _config.request_timeout;
    }
}

void raft_core::on_fetch_response(node_id from, const fetch_request& request, const fetch_response& response,
                                  millis now) {
    // Only the answer to the one Fetch in flight counts: it was computed
    // against exactly the log this node still has, so a duplicated, late or
    // reordered answer cannot be applied to a log that has moved on.
    if (!_fetch_in_flight || *_fetch_in_flight != request || from != _fetch_target) {
        return;
    }
    _fetch_in_flight.reset();
    if (observe_leader(response.current_leader, now)) {
        return;
    }
    if (response.error != kafka_error::none || _role != raft_role::follower || _leader != from) {
        _next_fetch_at = now + _config.retry_backoff;
        return;
    }
    _fetch_deadline = now + _config.fetch_timeout;  // the leader is alive
    if (response.diverging_epoch) {
        auto own = _log.end_offset_for_epoch(response.diverging_epoch->ep);
        offset truncate_to = std::min(own ? own->end_offset : _log.start_offset(), response.diverging_epoch->end_offset);
        truncate_to = std::max(truncate_to, _log.start_offset());
        if (truncate_to < _high_watermark) {
            throw std::logic_error(fmt::format("raft node {}: leader {} asks to truncate to {} below the HW {}",
                                               _config.self, from, truncate_to, _high_watermark));
        }
        _log.truncate_suffix(truncate_to);
        send_fetch(from, now);
        return;
    }
    if (response.snapshot) {
        _snapshot_transfer = snapshot_transfer{*response.snapshot, {}};
        send_fetch_snapshot(now);
        return;
    }
    size_t appended = 0;
    for (const log_entry& entry : response.records) {
        if (entry.off != _log.end_offset()) {
            break;  // cannot happen for an answer to this exact request
        }
        _log.append(entry);
        ++appended;
    }
    if (appended > 0) {
        // Durable before the next Fetch, whose offset tells the leader we
        // have these entries.
        _actions.push_back(persist_log{_log.end_offset()});
    }
    offset committed = std::min(response.high_watermark, _log.end_offset());
    const bool committed_more = committed > _high_watermark;
    if (committed_more) {
        _high_watermark = committed;
        apply_committed();
    }
    // Fetch again at once after news (entries, or a HW move that woke the
    // long poll), so that the next change is not delayed by the pause; the
    // pause is for answers with nothing new, so a leader that does not hold
    // fetches is not polled in a tight loop.
    if (appended > 0 || committed_more) {
        send_fetch(from, now);
    } else {
        _next_fetch_at = now + _config.fetch_interval;
    }
}

void raft_core::on_fetch_snapshot_response(node_id from, const fetch_snapshot_request& request,
                                           const fetch_snapshot_response& response, millis now) {
    if (!_snapshot_in_flight || *_snapshot_in_flight != request || from != _fetch_target) {
        return;
    }
    _snapshot_in_flight.reset();
    if (observe_leader(response.current_leader, now)) {
        return;
    }
    if (_role != raft_role::follower || _leader != from || !_snapshot_transfer) {
        return;
    }
    if (response.error != kafka_error::none) {
        // The leader took a newer snapshot: Fetch again to learn its id.
        _snapshot_transfer.reset();
        _next_fetch_at = now + _config.retry_backoff;
        return;
    }
    _fetch_deadline = now + _config.fetch_timeout;
    std::string& bytes = _snapshot_transfer->bytes;
    if (response.position != static_cast<int64_t>(bytes.size())) {
        send_fetch_snapshot(now);
        return;
    }
    bytes += response.bytes;
    if (static_cast<int64_t>(bytes.size()) < response.size) {
        send_fetch_snapshot(now);
        return;
    }
    snapshot_id id = _snapshot_transfer->id;
    std::string data = std::move(bytes);
    _snapshot_transfer.reset();
    if (id.end_offset < _high_watermark) {
        throw std::logic_error(fmt::format("raft node {}: snapshot {} from {} is behind the HW {}", _config.self, id,
                                           from, _high_watermark));
    }
    _log.install_snapshot(id, data);
    _actions.push_back(persist_log{_log.end_offset()});
    _high_watermark = std::max(_high_watermark, id.end_offset);
    _applied = std::max(_applied, id.end_offset);
    _actions.push_back(apply_snapshot{id, std::move(data)});
    send_fetch(from, now);
}

}  // namespace strata::raft
