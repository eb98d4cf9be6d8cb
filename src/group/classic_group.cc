#include "classic_group.h"

#include <algorithm>

#include "strata/protocol/messages/consumer_protocol_subscription.h"

namespace strata::group {

namespace coord = protocol::coordinator;

std::string_view state_name(group_state state) {
    switch (state) {
        case group_state::empty:
            return "Empty";
        case group_state::preparing_rebalance:
            return "PreparingRebalance";
        case group_state::completing_rebalance:
            return "CompletingRebalance";
        case group_state::stable:
            return "Stable";
        case group_state::dead:
            return "Dead";
    }
    return "Unknown";
}

std::optional<group_state> parse_state(std::string_view name) {
    for (auto s : {group_state::empty, group_state::preparing_rebalance, group_state::completing_rebalance,
                   group_state::stable, group_state::dead}) {
        const auto n = state_name(s);
        if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(),
                                                  [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
            return s;
    }
    return std::nullopt;
}

const std::vector<uint8_t>* member::metadata_for(const std::string& protocol) const {
    for (const auto& p : protocols)
        if (p.name == protocol) return &p.metadata;
    return nullptr;
}

classic_group::classic_group(std::string id, const group_limits& limits, group_environment& env)
    : _id(std::move(id)), _limits(limits), _env(env) {}

classic_group::~classic_group() {
    *_alive = false;
}

void classic_group::transition(group_state to, int64_t now_ms) {
    _state = to;
    _state_timestamp_ms = now_ms;
}

std::set<std::string> classic_group::subscribed_topics() const {
    std::set<std::string> topics;
    if (_protocol_type != "consumer" || !_protocol_name) return topics;
    for (const auto& [id, m] : _members) {
        const auto* metadata = m.metadata_for(*_protocol_name);
        if (!metadata || metadata->size() < 2) continue;
        try {
            protocol::reader r(*metadata);
            const int16_t version = r.read_int16();
            protocol::messages::consumer_protocol_subscription sub;
            sub.decode(r, std::min<int16_t>(
                              version, protocol::messages::consumer_protocol_subscription::highest_supported_version));
            topics.insert(sub.topics.begin(), sub.topics.end());
        } catch (const std::exception&) {
            // Not a consumer subscription we can read: it names no topic we know.
        }
    }
    return topics;
}

bool classic_group::supports_protocols(const std::string& type, const std::vector<member_protocol>& protocols) const {
    if (_members.empty()) return !type.empty() && !protocols.empty();
    if (_protocol_type != type) return false;
    for (const auto& p : protocols) {
        bool everyone = true;
        for (const auto& [id, m] : _members) everyone = everyone && m.metadata_for(p.name);
        if (everyone) return true;
    }
    return false;
}

// Kafka's vote: among the protocols every member supports, each member votes
// for the first it lists; the most votes win (ties: the first member's
// preference order).
std::string classic_group::select_protocol() const {
    std::vector<std::string> candidates;
    if (_members.empty()) return {};
    for (const auto& p : _members.begin()->second.protocols) {
        bool everyone = true;
        for (const auto& [id, m] : _members) everyone = everyone && m.metadata_for(p.name);
        if (everyone) candidates.push_back(p.name);
    }
    std::map<std::string, int> votes;
    for (const auto& [id, m] : _members)
        for (const auto& p : m.protocols)
            if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
                ++votes[p.name];
                break;
            }
    std::string best;
    int best_votes = -1;
    for (const auto& c : candidates)
        if (votes[c] > best_votes) best = c, best_votes = votes[c];
    return best;
}

int32_t classic_group::max_rebalance_timeout_ms() const {
    int32_t result = 0;
    for (const auto& [id, m] : _members) result = std::max(result, m.rebalance_timeout_ms);
    return result;
}

bool classic_group::all_members_joined() const {
    if (!_pending_members.empty()) return false;
    for (const auto& [id, m] : _members)
        if (!m.awaiting_join) return false;
    return true;
}

bool classic_group::is_static_member_fenced(const std::string& member_id,
                                            const std::optional<std::string>& instance_id) const {
    if (!instance_id) return false;
    auto it = _static_members.find(*instance_id);
    return it != _static_members.end() && it->second != member_id;
}

void classic_group::reset_heartbeat(member& m, int64_t now_ms) {
    m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
}

join_result classic_group::current_join_result(const member& m, bool with_members) const {
    join_result r;
    r.generation = _generation;
    r.protocol_type = _protocol_type;
    r.protocol_name = _protocol_name;
    r.leader_id = _leader.value_or("");
    r.member_id = m.member_id;
    if (with_members && _protocol_name) {
        for (const auto& [id, other] : _members) {
            const auto* metadata = other.metadata_for(*_protocol_name);
            r.members.push_back({id, other.group_instance_id, metadata ? *metadata : std::vector<uint8_t>{}});
        }
    }
    return r;
}

// ---- JoinGroup --------------------------------------------------------------

void classic_group::join(join_params params, int64_t now_ms, join_callback done) {
    _clock_ms = now_ms;
    auto fail = [&](kafka_error e, std::string member_id = {}) {
        join_result r;
        r.error = e;
        r.member_id = std::move(member_id);
        done(std::move(r));
    };
    if (params.session_timeout_ms < _limits.min_session_timeout_ms ||
        params.session_timeout_ms > _limits.max_session_timeout_ms)
        return fail(kafka_error::invalid_session_timeout, params.member_id);
    if (params.rebalance_timeout_ms < 0) params.rebalance_timeout_ms = params.session_timeout_ms;
    if (_state == group_state::dead) return fail(kafka_error::coordinator_not_available, params.member_id);
    if (!supports_protocols(params.protocol_type, params.protocols))
        return fail(kafka_error::inconsistent_group_protocol, params.member_id);

    if (params.member_id.empty()) {
        const bool known_static = params.group_instance_id && _static_members.contains(*params.group_instance_id);
        if (!known_static && _members.size() + _pending_members.size() >= static_cast<size_t>(_limits.max_size))
            return fail(kafka_error::group_max_size_reached);
        if (params.group_instance_id) return static_member_join(std::move(params), now_ms, std::move(done));
        auto id = _env.new_member_id(params.client_id);
        if (params.require_known_member_id) {
            // KIP-394: the member gets its id first and joins with it, so that a
            // client whose JoinGroup times out does not leave a ghost member.
            _pending_members[id] = now_ms + params.session_timeout_ms;
            return fail(kafka_error::member_id_required, id);
        }
        return add_member_and_rebalance(std::move(params), std::move(id), now_ms, std::move(done));
    }

    if (auto pending = _pending_members.find(params.member_id); pending != _pending_members.end()) {
        _pending_members.erase(pending);
        auto id = params.member_id;
        return add_member_and_rebalance(std::move(params), std::move(id), now_ms, std::move(done));
    }
    if (is_static_member_fenced(params.member_id, params.group_instance_id))
        return fail(kafka_error::fenced_instance_id, params.member_id);
    auto it = _members.find(params.member_id);
    if (it == _members.end()) return fail(kafka_error::unknown_member_id, params.member_id);
    member& m = it->second;
    switch (_state) {
        case group_state::preparing_rebalance:
            return update_member_and_rebalance(m, params, now_ms, std::move(done));
        case group_state::completing_rebalance:
            if (m.protocols == params.protocols) {
                // A retried JoinGroup whose response was lost: the same answer again.
                reset_heartbeat(m, now_ms);
                return done(current_join_result(m, _leader == m.member_id));
            }
            return update_member_and_rebalance(m, params, now_ms, std::move(done));
        case group_state::stable:
            if (_leader == m.member_id || m.protocols != params.protocols)
                return update_member_and_rebalance(m, params, now_ms, std::move(done));
            reset_heartbeat(m, now_ms);
            return done(current_join_result(m, false));
        case group_state::empty:
        case group_state::dead:
            return fail(kafka_error::unknown_member_id, params.member_id);
    }
}

void classic_group::add_member_and_rebalance(join_params params, std::string member_id, int64_t now_ms,
                                             join_callback done) {
    member m;
    m.member_id = member_id;
    m.group_instance_id = params.group_instance_id;
    m.client_id = std::move(params.client_id);
    m.client_host = std::move(params.client_host);
    m.session_timeout_ms = params.session_timeout_ms;
    m.rebalance_timeout_ms = params.rebalance_timeout_ms;
    m.protocols = std::move(params.protocols);
    m.awaiting_join = std::move(done);
    reset_heartbeat(m, now_ms);
    if (_members.empty()) _protocol_type = params.protocol_type;
    if (!_leader) _leader = member_id;
    if (m.group_instance_id) _static_members[*m.group_instance_id] = member_id;
    _members.emplace(member_id, std::move(m));
    if (_state == group_state::preparing_rebalance && _initial_delay)
        _join_deadline_ms = std::min(now_ms + _limits.initial_rebalance_delay_ms, _rebalance_limit_ms);
    maybe_prepare_rebalance(now_ms);
    maybe_complete_join(now_ms);
}

void classic_group::update_member_and_rebalance(member& m, join_params& params, int64_t now_ms, join_callback done) {
    m.protocols = std::move(params.protocols);
    m.session_timeout_ms = params.session_timeout_ms;
    m.rebalance_timeout_ms = params.rebalance_timeout_ms;
    m.client_id = std::move(params.client_id);
    m.client_host = std::move(params.client_host);
    if (m.awaiting_join) {
        // A second JoinGroup while the first waits: the newer one is answered.
        join_result superseded;
        superseded.error = kafka_error::rebalance_in_progress;
        superseded.member_id = m.member_id;
        std::exchange(m.awaiting_join, {})(std::move(superseded));
    }
    m.awaiting_join = std::move(done);
    reset_heartbeat(m, now_ms);
    maybe_prepare_rebalance(now_ms);
    maybe_complete_join(now_ms);
}

// KIP-345: a member with group.instance.id that (re)joins without a member id.
void classic_group::static_member_join(join_params params, int64_t now_ms, join_callback done) {
    const std::string instance = *params.group_instance_id;
    auto known = _static_members.find(instance);
    auto new_id = _env.new_member_id(params.client_id);
    if (known == _static_members.end())
        return add_member_and_rebalance(std::move(params), new_id, now_ms, std::move(done));

    // The restarted instance takes over its old member: the old one's waiting
    // requests are fenced.
    const std::string old_id = known->second;
    const std::string old_leader = _leader.value_or("");
    auto node = _members.extract(old_id);
    member& old = node.mapped();
    if (old.awaiting_join) {
        join_result fenced;
        fenced.error = kafka_error::fenced_instance_id;
        fenced.member_id = old_id;
        std::exchange(old.awaiting_join, {})(std::move(fenced));
    }
    if (old.awaiting_sync) {
        sync_result fenced;
        fenced.error = kafka_error::fenced_instance_id;
        std::exchange(old.awaiting_sync, {})(std::move(fenced));
    }
    node.key() = new_id;
    node.mapped().member_id = new_id;
    auto inserted = _members.insert(std::move(node));
    member& m = inserted.position->second;
    known->second = new_id;
    if (_leader == old_id) _leader = new_id;
    if (_pending_sync.erase(old_id)) _pending_sync.insert(new_id);

    switch (_state) {
        case group_state::stable: {
            auto old_protocols = m.protocols;
            m.protocols = params.protocols;
            if (select_protocol() != _protocol_name) {
                m.protocols = std::move(old_protocols);
                return update_member_and_rebalance(m, params, now_ms, std::move(done));
            }
            m.session_timeout_ms = params.session_timeout_ms;
            m.rebalance_timeout_ms = params.rebalance_timeout_ms;
            m.client_id = params.client_id;
            m.client_host = params.client_host;
            reset_heartbeat(m, now_ms);
            // No rebalance: the member keeps its assignment once its new id is durable.
            return store_rejoined_static_member(new_id, old_leader, params.supports_skip_assignment, now_ms,
                                                std::move(done));
        }
        case group_state::completing_rebalance:
            return update_member_and_rebalance(m, params, now_ms, std::move(done));
        case group_state::preparing_rebalance:
        case group_state::empty:
        case group_state::dead:
            return update_member_and_rebalance(m, params, now_ms, std::move(done));
    }
}

// A static member rejoined a Stable group without changing its protocols: it
// keeps its assignment once its new member id is durable, and nobody
// rebalances. Kafka's answer (GroupCoordinator.updateStaticMemberAndRebalance):
// from JoinGroup v9 the leader hears it leads, with the members, and
// skip_assignment set; before v9 every rejoining member is told the leader id
// from before the rejoin, so a rejoining leader does not take itself for the
// leader and run an assignment the Stable group would never hand out.
void classic_group::store_rejoined_static_member(const std::string& new_id, const std::string& old_leader,
                                                 bool supports_skip_assignment, int64_t now_ms, join_callback done) {
    std::weak_ptr<bool> alive = _alive;
    const int32_t generation = _generation;
    _env.store_group(*this, to_record(now_ms),
                     [this, alive, new_id, old_leader, supports_skip_assignment, generation,
                      done = std::move(done)](kafka_error error) {
                         auto a = alive.lock();
                         if (!a || !*a) return;  // the callback's owner answers
                         auto it = _members.find(new_id);
                         if (error != kafka_error::none || it == _members.end() || generation != _generation) {
                             join_result r;
                             r.error = error != kafka_error::none ? error : kafka_error::rebalance_in_progress;
                             r.member_id = new_id;
                             return done(std::move(r));
                         }
                         if (!supports_skip_assignment) {
                             auto r = current_join_result(it->second, false);
                             r.leader_id = old_leader;
                             return done(std::move(r));
                         }
                         const bool leader = _leader == new_id;
                         auto r = current_join_result(it->second, leader);
                         r.skip_assignment = leader;
                         done(std::move(r));
                     });
}

void classic_group::maybe_prepare_rebalance(int64_t now_ms) {
    if (_state == group_state::stable || _state == group_state::completing_rebalance || _state == group_state::empty)
        prepare_rebalance(now_ms);
}

void classic_group::prepare_rebalance(int64_t now_ms) {
    if (_state == group_state::completing_rebalance) propagate_assignment(kafka_error::rebalance_in_progress);
    _pending_sync.clear();
    const bool from_empty = _state == group_state::empty;
    const int32_t rebalance_timeout = max_rebalance_timeout_ms();
    if (from_empty && _limits.initial_rebalance_delay_ms > 0) {
        _initial_delay = true;
        _rebalance_limit_ms = now_ms + rebalance_timeout;
        _join_deadline_ms = std::min<int64_t>(now_ms + _limits.initial_rebalance_delay_ms, _rebalance_limit_ms);
    } else {
        _initial_delay = false;
        _join_deadline_ms = now_ms + rebalance_timeout;
    }
    transition(group_state::preparing_rebalance, now_ms);
    // With nobody left to wait for (the last member left) it ends at once.
    maybe_complete_join(now_ms);
}

void classic_group::maybe_complete_join(int64_t now_ms) {
    if (_state == group_state::preparing_rebalance && !_initial_delay && all_members_joined()) complete_join(now_ms);
}

void classic_group::complete_join(int64_t now_ms) {
    _initial_delay = false;
    std::vector<std::string> gone;
    for (const auto& [id, m] : _members)
        if (!m.awaiting_join) gone.push_back(id);
    for (const auto& id : gone) remove_member(id);
    if (_state == group_state::dead) return;

    ++_generation;
    if (_members.empty()) {
        _protocol_name.reset();
        transition(group_state::empty, now_ms);
        _env.store_group(*this, to_record(now_ms), [](kafka_error) {});
        return;
    }
    _protocol_name = select_protocol();
    transition(group_state::completing_rebalance, now_ms);
    if (!_leader || !_members.contains(*_leader)) _leader = _members.begin()->first;
    _sync_deadline_ms = now_ms + max_rebalance_timeout_ms();
    // Answer after the loop: a callback may not call back into the group,
    // but collecting first keeps the member map untouched while iterating.
    std::vector<std::pair<join_callback, join_result>> answers;
    for (auto& [id, m] : _members) {
        answers.emplace_back(std::exchange(m.awaiting_join, {}), current_join_result(m, _leader == id));
        reset_heartbeat(m, now_ms);
        _pending_sync.insert(id);
    }
    for (auto& [callback, result] : answers) callback(std::move(result));
}

void classic_group::remove_member(const std::string& member_id) {
    auto it = _members.find(member_id);
    if (it == _members.end()) return;
    member& m = it->second;
    if (m.awaiting_join) {
        join_result r;
        r.error = kafka_error::unknown_member_id;
        r.member_id = member_id;
        std::exchange(m.awaiting_join, {})(std::move(r));
    }
    if (m.awaiting_sync) {
        sync_result r;
        r.error = kafka_error::unknown_member_id;
        std::exchange(m.awaiting_sync, {})(std::move(r));
    }
    if (m.group_instance_id) {
        auto s = _static_members.find(*m.group_instance_id);
        if (s != _static_members.end() && s->second == member_id) _static_members.erase(s);
    }
    _pending_sync.erase(member_id);
    _members.erase(it);
    if (_leader == member_id) {
        if (_members.empty())
            _leader.reset();
        else
            _leader = _members.begin()->first;
    }
}

void classic_group::remove_member_and_update(const std::string& member_id, int64_t now_ms) {
    remove_member(member_id);
    switch (_state) {
        case group_state::dead:
        case group_state::empty:
            break;
        case group_state::stable:
        case group_state::completing_rebalance:
            prepare_rebalance(now_ms);
            break;
        case group_state::preparing_rebalance:
            maybe_complete_join(now_ms);
            break;
    }
}

void classic_group::propagate_assignment(kafka_error error) {
    std::vector<std::pair<sync_callback, sync_result>> answers;
    for (auto& [id, m] : _members) {
        if (error != kafka_error::none) m.assignment.clear();
        if (!m.awaiting_sync) continue;
        sync_result r;
        r.error = error;
        r.protocol_type = _protocol_type;
        r.protocol_name = _protocol_name;
        if (error == kafka_error::none) r.assignment = m.assignment;
        answers.emplace_back(std::exchange(m.awaiting_sync, {}), std::move(r));
    }
    for (auto& [callback, result] : answers) callback(std::move(result));
}

// ---- SyncGroup --------------------------------------------------------------

void classic_group::sync(sync_params params, int64_t now_ms, sync_callback done) {
    _clock_ms = now_ms;
    auto fail = [&](kafka_error e) {
        sync_result r;
        r.error = e;
        done(std::move(r));
    };
    if (_state == group_state::dead) return fail(kafka_error::coordinator_not_available);
    if (is_static_member_fenced(params.member_id, params.group_instance_id))
        return fail(kafka_error::fenced_instance_id);
    auto it = _members.find(params.member_id);
    if (it == _members.end()) return fail(kafka_error::unknown_member_id);
    if (params.generation != _generation) return fail(kafka_error::illegal_generation);
    if ((params.protocol_type && params.protocol_type != _protocol_type) ||
        (params.protocol_name && params.protocol_name != _protocol_name))
        return fail(kafka_error::inconsistent_group_protocol);
    member& m = it->second;
    switch (_state) {
        case group_state::empty:
            return fail(kafka_error::unknown_member_id);
        case group_state::preparing_rebalance:
            return fail(kafka_error::rebalance_in_progress);
        case group_state::dead:
            return fail(kafka_error::coordinator_not_available);
        case group_state::stable: {
            _pending_sync.erase(m.member_id);
            reset_heartbeat(m, now_ms);
            sync_result r;
            r.protocol_type = _protocol_type;
            r.protocol_name = _protocol_name;
            r.assignment = m.assignment;
            return done(std::move(r));
        }
        case group_state::completing_rebalance:
            break;
    }
    if (m.awaiting_sync) {
        // A retried SyncGroup while the first waits: the newer one is answered.
        sync_result superseded;
        superseded.error = kafka_error::rebalance_in_progress;
        std::exchange(m.awaiting_sync, {})(std::move(superseded));
    }
    m.awaiting_sync = std::move(done);
    _pending_sync.erase(m.member_id);
    reset_heartbeat(m, now_ms);
    if (_leader != m.member_id) return;

    std::map<std::string, std::vector<uint8_t>> assignments;
    for (auto& [id, bytes] : params.assignments)
        if (_members.contains(id)) assignments[id] = std::move(bytes);
    for (const auto& [id, other] : _members) assignments.try_emplace(id);
    std::weak_ptr<bool> alive = _alive;
    const int32_t generation = _generation;
    auto record = to_record(now_ms, &assignments);
    _env.store_group(*this, std::move(record),
                     [this, alive, generation, assignments = std::move(assignments)](kafka_error error) mutable {
                         auto a = alive.lock();
                         if (!a || !*a) return;
                         on_leader_sync_stored(generation, std::move(assignments), error, _clock_ms);
                     });
}

void classic_group::on_leader_sync_stored(int32_t generation, std::map<std::string, std::vector<uint8_t>> assignments,
                                          kafka_error error, int64_t now_ms) {
    if (_state != group_state::completing_rebalance || generation != _generation) return;
    if (error != kafka_error::none) {
        propagate_assignment(error);
        prepare_rebalance(now_ms);
        return;
    }
    for (auto& [id, bytes] : assignments)
        if (auto it = _members.find(id); it != _members.end()) it->second.assignment = std::move(bytes);
    propagate_assignment(kafka_error::none);
    transition(group_state::stable, now_ms);
}

// ---- Heartbeat, LeaveGroup, timers --------------------------------------------

kafka_error classic_group::heartbeat(const std::string& member_id, const std::optional<std::string>& instance_id,
                                     int32_t generation, int64_t now_ms) {
    _clock_ms = now_ms;
    if (_state == group_state::dead) return kafka_error::coordinator_not_available;
    if (is_static_member_fenced(member_id, instance_id)) return kafka_error::fenced_instance_id;
    auto it = _members.find(member_id);
    if (it == _members.end()) return kafka_error::unknown_member_id;
    if (generation != _generation) return kafka_error::illegal_generation;
    switch (_state) {
        case group_state::empty:
            return kafka_error::unknown_member_id;
        case group_state::completing_rebalance:
        case group_state::stable:
            reset_heartbeat(it->second, now_ms);
            return kafka_error::none;
        case group_state::preparing_rebalance:
            reset_heartbeat(it->second, now_ms);
            return kafka_error::rebalance_in_progress;
        case group_state::dead:
            break;
    }
    return kafka_error::coordinator_not_available;
}

kafka_error classic_group::leave(const std::string& member_id, const std::optional<std::string>& instance_id,
                                 int64_t now_ms) {
    _clock_ms = now_ms;
    if (_state == group_state::dead) return kafka_error::coordinator_not_available;
    std::string id = member_id;
    if (id.empty()) {
        if (!instance_id) return kafka_error::unknown_member_id;
        auto s = _static_members.find(*instance_id);
        if (s == _static_members.end()) return kafka_error::unknown_member_id;
        id = s->second;
    } else if (is_static_member_fenced(id, instance_id)) {
        return kafka_error::fenced_instance_id;
    }
    if (_pending_members.erase(id)) {
        maybe_complete_join(now_ms);
        return kafka_error::none;
    }
    if (!_members.contains(id)) return kafka_error::unknown_member_id;
    remove_member_and_update(id, now_ms);
    return kafka_error::none;
}

void classic_group::tick(int64_t now_ms) {
    _clock_ms = now_ms;
    if (_state == group_state::dead) return;
    for (auto it = _pending_members.begin(); it != _pending_members.end();) {
        if (it->second <= now_ms)
            it = _pending_members.erase(it);
        else
            ++it;
    }
    std::vector<std::string> expired;
    for (const auto& [id, m] : _members)
        if (!m.awaiting_join && !m.awaiting_sync && m.heartbeat_deadline_ms <= now_ms) expired.push_back(id);
    if (_state == group_state::completing_rebalance || _state == group_state::stable) {
        if (!_pending_sync.empty() && _sync_deadline_ms <= now_ms)
            for (const auto& id : _pending_sync)
                if (std::find(expired.begin(), expired.end(), id) == expired.end()) expired.push_back(id);
    }
    for (const auto& id : expired) remove_member_and_update(id, now_ms);
    if (_state == group_state::preparing_rebalance) {
        if (_join_deadline_ms <= now_ms)
            complete_join(now_ms);
        else
            maybe_complete_join(now_ms);
    }
}

// ---- offsets ----------------------------------------------------------------------

kafka_error classic_group::validate_offset_commit(const std::string& member_id,
                                                  const std::optional<std::string>& instance_id, int32_t generation,
                                                  int64_t now_ms) {
    _clock_ms = now_ms;
    if (_state == group_state::dead) return kafka_error::coordinator_not_available;
    // Generation -1 on an Empty group: an admin client or a consumer without
    // group management, whatever member id it names (Kafka checks this first).
    if (generation < 0 && _state == group_state::empty) return kafka_error::none;
    if (generation >= 0 || !member_id.empty() || instance_id) {
        if (is_static_member_fenced(member_id, instance_id)) return kafka_error::fenced_instance_id;
        auto it = _members.find(member_id);
        if (it == _members.end()) return kafka_error::unknown_member_id;
        if (generation != _generation) return kafka_error::illegal_generation;
        if (_state == group_state::completing_rebalance) return kafka_error::rebalance_in_progress;
        reset_heartbeat(it->second, now_ms);
        return kafka_error::none;
    }
    // Without an identity, only while no member is in the group.
    return kafka_error::unknown_member_id;
}

// ---- records ----------------------------------------------------------------------

coord::group_metadata_value classic_group::to_record(
    int64_t now_ms, const std::map<std::string, std::vector<uint8_t>>* assignments) const {
    coord::group_metadata_value v;
    v.protocol_type = _protocol_type.value_or("");
    v.generation = _generation;
    v.protocol = _protocol_name;
    v.leader = _leader;
    v.current_state_timestamp = now_ms;
    for (const auto& [id, m] : _members) {
        auto& out = v.members.emplace_back();
        out.member_id = id;
        out.group_instance_id = m.group_instance_id;
        out.client_id = m.client_id;
        out.client_host = m.client_host;
        out.rebalance_timeout = m.rebalance_timeout_ms;
        out.session_timeout = m.session_timeout_ms;
        if (_protocol_name)
            if (const auto* metadata = m.metadata_for(*_protocol_name)) out.subscription = *metadata;
        if (assignments) {
            if (auto a = assignments->find(id); a != assignments->end()) out.assignment = a->second;
        } else {
            out.assignment = m.assignment;
        }
    }
    return v;
}

void classic_group::load(const coord::group_metadata_value& value, int64_t now_ms) {
    _members.clear();
    _static_members.clear();
    _pending_members.clear();
    _pending_sync.clear();
    _protocol_type = value.protocol_type.empty() ? std::nullopt : std::optional<std::string>(value.protocol_type);
    _generation = value.generation;
    _protocol_name = value.protocol;
    _leader = value.leader;
    for (const auto& in : value.members) {
        member m;
        m.member_id = in.member_id;
        m.group_instance_id = in.group_instance_id;
        m.client_id = in.client_id;
        m.client_host = in.client_host;
        m.session_timeout_ms = in.session_timeout;
        m.rebalance_timeout_ms = in.rebalance_timeout < 0 ? in.session_timeout : in.rebalance_timeout;
        if (_protocol_name) m.protocols.push_back({*_protocol_name, in.subscription});
        m.assignment = in.assignment;
        reset_heartbeat(m, now_ms);
        if (m.group_instance_id) _static_members[*m.group_instance_id] = m.member_id;
        _members.emplace(m.member_id, std::move(m));
    }
    if (_leader && !_members.contains(*_leader)) _leader.reset();
    _state = _members.empty() ? group_state::empty : group_state::stable;
    _state_timestamp_ms = value.current_state_timestamp >= 0 ? value.current_state_timestamp : now_ms;
}

void classic_group::mark_dead(kafka_error error) {
    for (auto& [id, m] : _members) {
        if (m.awaiting_join) {
            join_result r;
            r.error = error;
            r.member_id = id;
            std::exchange(m.awaiting_join, {})(std::move(r));
        }
        if (m.awaiting_sync) {
            sync_result r;
            r.error = error;
            std::exchange(m.awaiting_sync, {})(std::move(r));
        }
    }
    _state = group_state::dead;
}

bool classic_group::can_forget() const {
    return _state == group_state::empty && _members.empty() && _pending_members.empty() && _offsets.empty() &&
           _pending_commits.empty();
}

}  // namespace strata::group
