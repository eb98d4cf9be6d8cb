// Elections, epochs and the dispatch of inputs. Replication (Fetch, the high
// watermark, snapshots) is in replication.cc.
#include "strata/raft/raft_core.h"

#include <algorithm>

#include "strata/common/log.h"

namespace strata::raft {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
    static const auto instance = strata::log::get("raft");
    return instance;
}
}  // namespace

std::string_view to_string(raft_role role) {
    switch (role) {
        case raft_role::unattached: return "unattached";
        case raft_role::follower: return "follower";
        case raft_role::prospective: return "prospective";
        case raft_role::candidate: return "candidate";
        case raft_role::leader: return "leader";
        case raft_role::resigned: return "resigned";
    }
    return "unknown";
}

kafka_error to_kafka_error(raft_error error) {
    switch (error) {
        // Metadata writes reach the core through the controller, whose
        // clients retry NOT_CONTROLLER after finding the new one.
        case raft_error::not_leader: return kafka_error::not_controller;
        case raft_error::snapshot_not_applied: return kafka_error::invalid_request;
        case raft_error::snapshot_unknown_entry: return kafka_error::invalid_request;
    }
    return kafka_error::unknown_server_error;
}

raft_core::raft_core(raft_config config, raft_log& log, quorum_state persisted, millis now)
    : _config(std::move(config)),
      _log(log),
      _random(_config.seed),
      _epoch(persisted.current_epoch),
      _voted_for(persisted.voted_for),
      _leader(persisted.leader),
      _persisted(persisted) {
    std::sort(_config.voters.begin(), _config.voters.end());
    _config.voters.erase(std::unique(_config.voters.begin(), _config.voters.end()), _config.voters.end());
    // The log start is a snapshot, which only ever covers committed entries;
    // what lies past it is committed or not as the leader will tell.
    _high_watermark = _log.start_offset();
    _applied = _log.start_offset();
    if (auto snapshot = _log.latest_snapshot()) {
        _actions.push_back(apply_snapshot{*snapshot, _log.read_snapshot(0, static_cast<int32_t>(_log.snapshot_size()))});
    }
    if (_leader && *_leader != _config.self) {
        become_follower(_epoch, *_leader, now);
    } else if (_leader) {
        // Led this epoch before the restart; the leader state is gone, and
        // another leader for this epoch cannot exist, so wait and campaign.
        become_resigned(now);
    } else {
        become_unattached(_epoch, now);
    }
    if (is_voter() && _config.voters.size() == 1) {
        become_prospective(now);
    }
}

std::vector<action> raft_core::take_actions() {
    std::vector<action> out;
    out.swap(_actions);
    return out;
}

std::optional<node_id> raft_core::leader() const {
    if (_role == raft_role::follower || _role == raft_role::leader) {
        return _leader;
    }
    return std::nullopt;
}

bool raft_core::is_voter(node_id id) const {
    return std::binary_search(_config.voters.begin(), _config.voters.end(), id);
}

bool raft_core::log_up_to_date(epoch last_epoch, offset end) const {
    // Raft's election restriction: a candidate's log must be at least as
    // up to date as the voter's, comparing (last epoch, end offset).
    if (last_epoch != _log.last_epoch()) {
        return last_epoch > _log.last_epoch();
    }
    return end >= _log.end_offset();
}

bool raft_core::leader_is_live(millis now) const {
    return _role == raft_role::leader || (_role == raft_role::follower && now < _fetch_deadline);
}

millis raft_core::random_election_timeout() {
    millis jitter = _config.election_jitter > 0 ? static_cast<millis>(_random() % static_cast<uint64_t>(_config.election_jitter)) : 0;
    return _config.election_timeout + jitter;
}

void raft_core::send(node_id to, raft::request message) {
    _actions.push_back(send_request{to, std::move(message)});
}

void raft_core::transition(raft_role role, epoch ep, std::optional<node_id> voted_for,
                           std::optional<node_id> leader) {
    if (ep < _epoch || (ep == _epoch && _voted_for && voted_for != _voted_for)) {
        throw std::logic_error(fmt::format("raft node {}: epoch {} vote {} would move back from epoch {} vote {}",
                                           _config.self, ep, voted_for.value_or(node_id{-1}), _epoch,
                                           _voted_for.value_or(node_id{-1})));
    }
    if (role != _role || ep != _epoch) {
        logger()->debug("node {}: {} -> {} in epoch {} (leader {})", _config.self, to_string(_role), to_string(role), ep,
                        leader.value_or(node_id{-1}));
    }
    _role = role;
    _epoch = ep;
    _voted_for = voted_for;
    _leader = leader;
    quorum_state state{_epoch, _voted_for, _leader};
    if (state != _persisted) {
        _persisted = state;
        _actions.push_back(persist_quorum_state{state});
    }
    leader_id_and_epoch now_known = current_leader();
    if (now_known != _announced) {
        _announced = now_known;
        _actions.push_back(leader_changed{_epoch, now_known.leader_id});
    }
    // Role-specific volatile state starts afresh with every transition.
    _granted.clear();
    _answered.clear();
    _fetch_in_flight.reset();
    _snapshot_in_flight.reset();
    _snapshot_transfer.reset();
    _voter_progress.clear();
    _observer_progress.clear();
}

void raft_core::become_unattached(epoch ep, millis now, std::optional<millis> election_delay) {
    std::optional<node_id> voted = ep == _epoch ? _voted_for : std::nullopt;
    transition(raft_role::unattached, ep, voted, std::nullopt);
    _election_deadline = now + election_delay.value_or(random_election_timeout());
    _next_fetch_at = now;
}

void raft_core::become_follower(epoch ep, node_id leader, millis now) {
    std::optional<node_id> voted = ep == _epoch ? _voted_for : std::nullopt;
    transition(raft_role::follower, ep, voted, leader);
    _fetch_deadline = now + _config.fetch_timeout;
    send_fetch(leader, now);
}

void raft_core::become_prospective(millis now) {
    if (!_config.pre_vote) {
        become_candidate(now);
        return;
    }
    // The epoch, the vote and the last known leader stay: a pre-vote changes
    // nothing durable, so a node cut off from the quorum can ask for as many
    // rounds as it likes without raising the epoch (KIP-996).
    transition(raft_role::prospective, _epoch, _voted_for, _leader);
    _granted.insert(_config.self);
    _answered.insert(_config.self);
    _election_deadline = now + random_election_timeout();
    if (_granted.size() >= majority()) {
        become_candidate(now);
        return;
    }
    send_vote_requests(true, now);
}

void raft_core::become_candidate(millis now) {
    transition(raft_role::candidate, next(_epoch), _config.self, std::nullopt);
    _granted.insert(_config.self);
    _answered.insert(_config.self);
    _election_deadline = now + random_election_timeout();
    if (_granted.size() >= majority()) {
        become_leader(now);
        return;
    }
    send_vote_requests(false, now);
}

void raft_core::send_vote_requests(bool pre_vote, millis now) {
    for (node_id voter : _config.voters) {
        if (_answered.contains(voter)) {
            continue;
        }
        send(voter, vote_request{pre_vote ? next(_epoch) : _epoch, _config.self, voter, _log.last_epoch(),
                                 _log.end_offset(), pre_vote});
    }
    _vote_resend_at = now + _config.request_timeout;
}

void raft_core::become_leader(millis now) {
    transition(raft_role::leader, _epoch, _voted_for, _config.self);
    _leader_since = now;
    for (node_id voter : _config.voters) {
        if (voter != _config.self) {
            // A grace period for check-quorum: every voter counts as heard
            // from at the start of the epoch.
            _voter_progress[voter].last_fetch = now;
        }
    }
    // Raft commits entries of earlier epochs only through one of its own
    // epoch: the leader-change record is that entry, and the HW cannot move
    // until it is committed.
    _epoch_start_offset = _log.end_offset();
    append_as_leader(entry_kind::leader_change, {});
    for (node_id voter : _config.voters) {
        if (voter != _config.self) {
            send(voter, begin_quorum_epoch_request{voter, _config.self, _epoch});
        }
    }
    _begin_resend_at = now + _config.request_timeout;
    maybe_advance_high_watermark();
}

void raft_core::become_resigned(millis now) {
    std::vector<std::pair<offset, node_id>> by_progress;
    for (const auto& [voter, progress] : _voter_progress) {
        by_progress.emplace_back(progress.end_offset, voter);
    }
    bool was_leader = _role == raft_role::leader;
    transition(raft_role::resigned, _epoch, _voted_for, std::nullopt);
    _election_deadline = now + random_election_timeout();
    if (!was_leader) {
        return;
    }
    // Most caught-up first: the first preferred candidate campaigns at once.
    std::sort(by_progress.begin(), by_progress.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    end_quorum_epoch_request request{_config.self, _epoch, {}};
    for (const auto& entry : by_progress) {
        request.preferred_candidates.push_back(entry.second);
    }
    for (node_id voter : _config.voters) {
        if (voter != _config.self) {
            send(voter, request);
        }
    }
}

void raft_core::resign(millis now) {
    if (_role == raft_role::leader) {
        become_resigned(now);
    }
}

bool raft_core::observe_leader(const leader_id_and_epoch& seen, millis now) {
    // Any answer may reveal a newer epoch, or the leader of ours.
    if (seen.leader_epoch > _epoch) {
        if (seen.leader_id && *seen.leader_id != _config.self) {
            become_follower(seen.leader_epoch, *seen.leader_id, now);
        } else {
            become_unattached(seen.leader_epoch, now);
        }
        return true;
    }
    if (seen.leader_epoch == _epoch && seen.leader_id && !_leader && *seen.leader_id != _config.self &&
        _role != raft_role::leader) {
        become_follower(_epoch, *seen.leader_id, now);
        return true;
    }
    return false;
}

raft::response raft_core::handle_request(node_id from, const raft::request& request, millis now) {
    return std::visit(
        [&](const auto& r) -> raft::response {
            using type = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<type, vote_request>) {
                return on_vote(from, r, now);
            } else if constexpr (std::is_same_v<type, begin_quorum_epoch_request>) {
                return on_begin_quorum_epoch(from, r, now);
            } else if constexpr (std::is_same_v<type, end_quorum_epoch_request>) {
                return on_end_quorum_epoch(from, r, now);
            } else if constexpr (std::is_same_v<type, fetch_request>) {
                return on_fetch(from, r, now);
            } else if constexpr (std::is_same_v<type, fetch_snapshot_request>) {
                return on_fetch_snapshot(from, r, now);
            } else {
                return on_describe_quorum();
            }
        },
        request);
}

void raft_core::handle_response(node_id from, const raft::request& request, const raft::response& response,
                                millis now) {
    if (request.index() != response.index()) {
        return;  // the shell paired them wrongly; nothing to learn
    }
    std::visit(
        [&](const auto& req) {
            using type = std::decay_t<decltype(req)>;
            if constexpr (std::is_same_v<type, vote_request>) {
                on_vote_response(from, req, std::get<vote_response>(response), now);
            } else if constexpr (std::is_same_v<type, begin_quorum_epoch_request>) {
                const auto& resp = std::get<begin_quorum_epoch_response>(response);
                if (observe_leader({resp.leader_id, resp.leader_epoch}, now)) {
                    return;
                }
                if (_role == raft_role::leader && req.leader_epoch == _epoch && resp.error == kafka_error::none) {
                    _voter_progress[from].begin_acknowledged = true;
                }
            } else if constexpr (std::is_same_v<type, end_quorum_epoch_request>) {
                const auto& resp = std::get<end_quorum_epoch_response>(response);
                observe_leader({resp.leader_id, resp.leader_epoch}, now);
            } else if constexpr (std::is_same_v<type, fetch_request>) {
                on_fetch_response(from, req, std::get<fetch_response>(response), now);
            } else if constexpr (std::is_same_v<type, fetch_snapshot_request>) {
                on_fetch_snapshot_response(from, req, std::get<fetch_snapshot_response>(response), now);
            }
        },
        request);
}

vote_response raft_core::on_vote(node_id from, const vote_request& request, millis now) {
    vote_response response{kafka_error::none, leader(), _epoch, false};
    if (!is_voter() || !is_voter(request.candidate_id)) {
        response.error = kafka_error::inconsistent_voter_set;
        return response;
    }
    if (request.candidate_epoch < _epoch) {
        return response;
    }
    bool up_to_date = log_up_to_date(request.last_offset_epoch, request.last_offset);
    if (request.pre_vote) {
        // KIP-996: answer as a vote in the next epoch would be answered, but
        // change nothing, and refuse while this node still hears from a
        // leader, so that a node rejoining after a partition cannot unseat a
        // healthy one.
        response.vote_granted = request.candidate_epoch > _epoch && up_to_date && !leader_is_live(now);
        return response;
    }
    if (request.candidate_epoch > _epoch) {
        become_unattached(request.candidate_epoch, now);
    }
    // One vote per epoch; and none once the epoch's leader is known.
    bool already_voted = _voted_for == request.candidate_id;
    if ((already_voted || (!_voted_for && !_leader)) && up_to_date) {
        if (!already_voted) {
            // Persisted (the transition's action) before the response leaves.
            transition(raft_role::unattached, _epoch, request.candidate_id, std::nullopt);
            _election_deadline = now + random_election_timeout();
        }
        response.vote_granted = true;
    }
    response.leader_id = leader();
    response.leader_epoch = _epoch;
    return response;
}

void raft_core::on_vote_response(node_id from, const vote_request& request, const vote_response& response,
                                 millis now) {
    if (observe_leader({response.leader_id, response.leader_epoch}, now)) {
        return;
    }
    if (response.error != kafka_error::none) {
        return;
    }
    bool round_is_current = request.pre_vote ? (_role == raft_role::prospective && request.candidate_epoch == next(_epoch))
                                             : (_role == raft_role::candidate && request.candidate_epoch == _epoch);
    if (!round_is_current) {
        return;
    }
    _answered.insert(from);
    if (response.vote_granted) {
        _granted.insert(from);
        if (_granted.size() >= majority()) {
            request.pre_vote ? become_candidate(now) : become_leader(now);
        }
    }
    // A rejection naming the leader we lost is no reason to follow it again
    // at once: two followers that lose the leader a little apart would each
    // send the other back to it, forever. The election timeout does that.
}

begin_quorum_epoch_response raft_core::on_begin_quorum_epoch(node_id from, const begin_quorum_epoch_request& request,
                                                             millis now) {
    if (request.leader_epoch < _epoch) {
        return {kafka_error::fenced_leader_epoch, leader(), _epoch};
    }
    if (request.leader_epoch == _epoch && _leader && *_leader != request.leader_id) {
        // Two leaders in one epoch: impossible unless a peer is broken.
        logger()->error("node {}: BeginQuorumEpoch from {} for epoch {} led by {}", _config.self, request.leader_id,
                        _epoch, *_leader);
        return {kafka_error::invalid_request, leader(), _epoch};
    }
    if (request.leader_epoch > _epoch || _role != raft_role::follower) {
        if (request.leader_id != _config.self) {
            become_follower(request.leader_epoch, request.leader_id, now);
        }
    }
    return {kafka_error::none, leader(), _epoch};
}

end_quorum_epoch_response raft_core::on_end_quorum_epoch(node_id from, const end_quorum_epoch_request& request,
                                                         millis now) {
    if (request.leader_epoch < _epoch) {
        return {kafka_error::fenced_leader_epoch, leader(), _epoch};
    }
    bool leader_left = request.leader_epoch > _epoch ||
                       (_leader == request.leader_id && _role != raft_role::leader && _role != raft_role::candidate);
    if (leader_left) {
        // The preferred successor campaigns at once, the others later, so
        // that the most caught-up voter usually wins without a split vote.
        auto position = std::find(request.preferred_candidates.begin(), request.preferred_candidates.end(),
                                  _config.self);
        millis delay = position == request.preferred_candidates.end()
                           ? random_election_timeout()
                           : (position - request.preferred_candidates.begin()) * _config.election_timeout /
                                 static_cast<millis>(std::max<size_t>(1, _config.voters.size()));
        become_unattached(request.leader_epoch, now, delay);
    }
    return {kafka_error::none, leader(), _epoch};
}

void raft_core::leader_unreachable(node_id leader, millis now) {
    if (_role != raft_role::follower || _leader != leader || !is_voter()) return;
    const millis jitter =
        _config.election_jitter > 0 ? static_cast<millis>(_random() % static_cast<uint64_t>(_config.election_jitter)) : 0;
    _fetch_deadline = std::min(_fetch_deadline, now + jitter);
}

void raft_core::tick(millis now) {
    switch (_role) {
        case raft_role::leader:
            tick_leader(now);
            return;
        case raft_role::follower:
            if (now >= _fetch_deadline) {
                logger()->debug("node {}: no fetch answer from leader {} within {} ms", _config.self,
                                _leader.value_or(node_id{-1}), _config.fetch_timeout);
                if (is_voter()) {
                    become_prospective(now);
                } else {
                    become_unattached(_epoch, now);
                }
                return;
            }
            tick_fetcher(now);
            return;
        case raft_role::unattached:
            if (!is_voter()) {
                tick_fetcher(now);  // an observer looks for the leader
            } else if (now >= _election_deadline) {
                become_prospective(now);
            }
            return;
        case raft_role::resigned:
            if (now >= _election_deadline) {
                become_prospective(now);
            }
            return;
        case raft_role::prospective:
        case raft_role::candidate:
            if (now >= _election_deadline && _role == raft_role::prospective && _leader) {
                // The pre-vote failed while the epoch's leader is known: the
                // others still hear from it, so try fetching from it again
                // (KIP-996); a fetch timeout brings us back here if not.
                become_follower(_epoch, *_leader, now);
            } else if (now >= _election_deadline) {
                // Lost or split: start over with a pre-vote (KIP-996), after a
                // new random timeout.
                become_prospective(now);
            } else if (now >= _vote_resend_at) {
                send_vote_requests(_role == raft_role::prospective, now);
            }
            return;
    }
}

void raft_core::tick_leader(millis now) {
    // Check-quorum: a leader cut off from a majority steps down, so that
    // clients go looking for the leader the majority has elected.
    millis check_quorum_timeout = _config.fetch_timeout * 3 / 2;
    size_t heard = is_voter() ? 1 : 0;
    for (const auto& [voter, progress] : _voter_progress) {
        if (now - progress.last_fetch < check_quorum_timeout) {
            ++heard;
        }
    }
    if (heard < majority()) {
        logger()->info("node {}: resigning leadership of epoch {}: heard from {} of {} voters in {} ms", _config.self,
                       _epoch, heard, _config.voters.size(), check_quorum_timeout);
        become_resigned(now);
        return;
    }
    if (now >= _begin_resend_at) {
        for (auto& [voter, progress] : _voter_progress) {
            if (!progress.begin_acknowledged && progress.end_offset < offset{0}) {
                send(voter, begin_quorum_epoch_request{voter, _config.self, _epoch});
            }
        }
        _begin_resend_at = now + _config.request_timeout;
    }
}

millis raft_core::next_deadline() const {
    switch (_role) {
        case raft_role::leader:
            return _begin_resend_at;  // also when check-quorum is next evaluated
        case raft_role::follower:
            return std::min({_fetch_deadline, _fetch_in_flight || _snapshot_in_flight
                                                  ? _fetch_sent_at + _config.request_timeout
                                                  : _next_fetch_at});
        case raft_role::unattached:
            return is_voter() ? _election_deadline : _next_fetch_at;
        case raft_role::resigned:
            return _election_deadline;
        case raft_role::prospective:
        case raft_role::candidate:
            return std::min(_election_deadline, _vote_resend_at);
    }
    return 0;
}

}  // namespace strata::raft
