#include "consumer_group.h"

#include <algorithm>

namespace strata::group {

namespace {

bool contains(const partition_assignment& a, const protocol::uuid& topic, int32_t partition) {
    auto it = a.find(topic);
    return it != a.end() && it->second.contains(partition);
}

partition_assignment intersect(const partition_assignment& a, const partition_assignment& b) {
    partition_assignment out;
    for (const auto& [topic, parts] : a)
        for (int32_t p : parts)
            if (contains(b, topic, p)) out[topic].insert(p);
    return out;
}

partition_assignment minus(const partition_assignment& a, const partition_assignment& b) {
    partition_assignment out;
    for (const auto& [topic, parts] : a)
        for (int32_t p : parts)
            if (!contains(b, topic, p)) out[topic].insert(p);
    return out;
}

bool empty(const partition_assignment& a) {
    return std::all_of(a.begin(), a.end(), [](const auto& kv) { return kv.second.empty(); });
}

}  // namespace

const partition_assignment& consumer_group::target_of(const std::string& member_id) const {
    static const partition_assignment none;
    auto it = _target.find(member_id);
    return it == _target.end() ? none : it->second;
}

std::string consumer_group::assignor() const {
    for (const auto& [id, m] : _members)
        if (m.server_assignor) return *m.server_assignor;
    return "uniform";
}

std::string consumer_group::state() const {
    if (_members.empty()) return "Empty";
    if (_group_epoch != _assignment_epoch) return "Assigning";
    for (const auto& [id, m] : _members) {
        if (m.epoch == -2) continue;  // a static member away keeps what it had, as Kafka's does
        if (m.epoch != _assignment_epoch || !empty(m.pending_revocation) || minus(target_of(id), m.assigned).size() > 0)
            return "Reconciling";
    }
    return "Stable";
}

consumer_group_state consumer_group::persisted_state() const {
    consumer_group_state s;
    s.group_epoch = _group_epoch;
    s.assignment_epoch = _assignment_epoch;
    s.subscribed_metadata = _subscribed_metadata;
    s.members = _members;
    s.target = _target;
    return s;
}

void consumer_group::restore(consumer_group_state state, int64_t now_ms) {
    _group_epoch = state.group_epoch;
    _assignment_epoch = state.assignment_epoch;
    _subscribed_metadata = std::move(state.subscribed_metadata);
    _members = std::move(state.members);
    _target = std::move(state.target);
    for (auto& [id, m] : _members) {
        m.member_id = id;
        m.deadline_ms = now_ms + _limits.session_timeout_ms;
    }
}

member_state reconciliation_state(const consumer_member& m, const partition_assignment& target) {
    if (!empty(m.pending_revocation)) return member_state::unrevoked_partitions;
    if (!empty(minus(target, m.assigned))) return member_state::unreleased_partitions;
    return member_state::stable;
}

void consumer_group::remove_member(const std::string& member_id) {
    _members.erase(member_id);
    _target.erase(member_id);
    ++_group_epoch;
}

bool consumer_group::tick(int64_t now_ms) {
    std::vector<std::string> expired;
    for (const auto& [id, m] : _members)
        if (m.deadline_ms <= now_ms) expired.push_back(id);
    for (const auto& id : expired) remove_member(id);
    return !expired.empty();
}

kafka_error consumer_group::validate_member_epoch(const std::string& member_id, int32_t epoch) const {
    auto it = _members.find(member_id);
    if (it == _members.end()) return kafka_error::unknown_member_id;
    if (epoch != it->second.epoch) return kafka_error::stale_member_epoch;
    return kafka_error::none;
}

bool consumer_group::owned_by_other(const std::string& member_id, const protocol::uuid& topic,
                                    int32_t partition) const {
    for (const auto& [id, m] : _members) {
        if (id == member_id) continue;
        if (contains(m.assigned, topic, partition) || contains(m.pending_revocation, topic, partition)) return true;
    }
    return false;
}

std::set<std::string> consumer_group::subscribed_topic_names() const {
    std::set<std::string> out;
    for (const auto& [name, partitions] : _subscribed_metadata) out.insert(name);
    return out;
}

// Each member's topics: its names plus every topic whose whole name its regex
// matches (Kafka matches every topic of the metadata image, internal ones
// included). Resolved afresh against `topics` each time, so a topic created
// or deleted moves the assignment at the next heartbeat. One pass over the
// topics per distinct pattern.
member_subscriptions consumer_group::resolve_subscriptions(const topic_catalog& topics) {
    std::map<std::string, std::set<std::string>> matched;  // by pattern
    for (const auto& [id, m] : _members)
        if (!m.subscribed_topic_regex.empty()) matched.emplace(m.subscribed_topic_regex, std::set<std::string>{});
    std::erase_if(_regexes, [&](const auto& kv) { return !matched.contains(kv.first); });
    std::erase_if(_unresolved, [&](const std::string& pattern) { return !matched.contains(pattern); });
    for (auto& [pattern, names] : matched) {
        if (_unresolved.contains(pattern)) continue;  // matches nothing until resolve_regexes
        auto& compiled = _regexes[pattern];
        if (!compiled) {
            std::string error;  // validated when the member sent it; a bad one read back matches nothing
            compiled = topic_regex::compile(pattern, error);
            if (!compiled) continue;
        }
        for (const auto& [name, info] : topics)
            if (compiled->matches(name)) names.insert(name);
    }
    member_subscriptions out;
    for (const auto& [id, m] : _members) {
        auto& topics_of = out[id];
        topics_of.insert(m.subscribed_topics.begin(), m.subscribed_topics.end());
        if (!m.subscribed_topic_regex.empty()) {
            const auto& names = matched[m.subscribed_topic_regex];
            topics_of.insert(names.begin(), names.end());
        }
    }
    return out;
}

// A member joining with an instance id (static membership): the member that
// holds the id, if it left for now (epoch -2), hands its place over (its
// assignment, target and epoch) with no rebalance; if it is still there,
// Kafka refuses the newcomer (UNRELEASED_INSTANCE_ID), unlike the classic
// protocol, which fences the old member.
kafka_error consumer_group::take_over_instance(const std::string& instance_id, const std::string& member_id,
                                               bool& taken_over, std::string& message) {
    auto holder = std::find_if(_members.begin(), _members.end(),
                               [&](const auto& kv) { return kv.second.instance_id == instance_id; });
    if (holder == _members.end() || holder->first == member_id) return kafka_error::none;
    if (holder->second.epoch != -2) {
        message = "Static member " + member_id + " with instance id " + instance_id +
                  " cannot join the group because the instance id is owned by member " + holder->first + ".";
        return kafka_error::unreleased_instance_id;
    }
    consumer_member moved = std::move(holder->second);
    moved.member_id = member_id;
    moved.epoch = moved.previous_epoch;
    if (auto target = _target.find(holder->first); target != _target.end()) {
        _target[member_id] = std::move(target->second);
        _target.erase(target);
    }
    _members.erase(holder);
    _members.emplace(member_id, std::move(moved));
    taken_over = true;
    return kafka_error::none;
}

// Kafka validates a regex before the heartbeat changes anything: a member
// that sends an invalid one is neither added nor changed.
kafka_error consumer_group::check_regex(const std::optional<std::string>& regex, std::string& message) {
    if (!regex || regex->empty() || _regexes.contains(*regex)) return kafka_error::none;
    std::string error;
    auto compiled = topic_regex::compile(*regex, error);
    if (!compiled) {
        message = "SubscribedTopicRegex `" + *regex + "` is not a valid regular expression: " + error + ".";
        return kafka_error::invalid_regular_expression;
    }
    _regexes.emplace(*regex, std::move(compiled));
    return kafka_error::none;
}

bool consumer_group::resolve_regexes(const topic_catalog& topics) {
    if (_unresolved.empty()) return false;
    _unresolved.clear();
    const int32_t epoch = _group_epoch;
    maybe_compute_target(topics, false);
    return _group_epoch != epoch;
}

void consumer_group::maybe_compute_target(const topic_catalog& topics, bool membership_changed) {
    // A subscribed topic that appeared, went or grew is a new group epoch;
    // so is a topic that a regex matches now or no longer.
    const auto subscriptions = resolve_subscriptions(topics);
    std::map<std::string, int32_t> metadata;
    for (const auto& [id, names] : subscriptions)
        for (const auto& t : names)
            if (auto it = topics.find(t); it != topics.end()) metadata[t] = it->second.partitions;
    if (metadata != _subscribed_metadata) {
        _subscribed_metadata = std::move(metadata);
        membership_changed = true;
    }
    if (membership_changed) ++_group_epoch;  // one new epoch per heartbeat at most
    if (_assignment_epoch == _group_epoch) return;
    _target = assignor() == "range" ? assign_range(subscriptions, topics)
                                    : assign_uniform(subscriptions, topics, _target);
    _assignment_epoch = _group_epoch;
}

// Kafka's CurrentAssignmentBuilder, simplified: first the member gives up
// what its target no longer holds (its epoch stays until it has, which it
// shows by no longer listing them as owned); then it gets its target minus
// what other members have not released yet, at the assignment epoch.
void consumer_group::reconcile(consumer_member& m, const std::optional<partition_assignment>& owned) {
    const auto& target = target_of(m.member_id);
    if (!empty(m.pending_revocation)) {
        if (!owned || !empty(intersect(*owned, m.pending_revocation))) return;
        m.pending_revocation.clear();
    }
    auto revoke = minus(m.assigned, target);
    if (!empty(revoke)) {
        m.assigned = intersect(m.assigned, target);
        m.pending_revocation = std::move(revoke);
        return;
    }
    partition_assignment next;
    for (const auto& [topic, parts] : target)
        for (int32_t p : parts)
            if (contains(m.assigned, topic, p) || !owned_by_other(m.member_id, topic, p)) next[topic].insert(p);
    if (m.epoch != _assignment_epoch) {
        m.previous_epoch = m.epoch;
        m.epoch = _assignment_epoch;
    }
    m.assigned = std::move(next);
}

void consumer_group::leave(const consumer_heartbeat& request) {
    auto it = _members.find(request.member_id);
    if (it == _members.end()) return;
    if (request.member_epoch == -2 && it->second.instance_id) {
        // A static member leaving for now (KIP-345 under KIP-848): it keeps
        // its assignment for its session, without a rebalance, for the next
        // member with its instance id.
        it->second.previous_epoch = it->second.epoch;
        it->second.epoch = -2;
        it->second.pending_revocation.clear();
    } else {
        remove_member(request.member_id);
    }
}

// The member a joining heartbeat (epoch 0) is about: new, taking a static
// member's place, or one that lost its epoch and starts over.
consumer_member* consumer_group::join(const consumer_heartbeat& request, const std::string& new_member_id,
                                      bool& changed, kafka_error& error, std::string& message) {
    std::string id = request.member_id.empty() ? new_member_id : request.member_id;
    bool taken_over = false;
    if (request.instance_id) {
        error = take_over_instance(*request.instance_id, id, taken_over, message);
        if (error != kafka_error::none) return nullptr;
    }
    auto it = _members.find(id);
    if (it == _members.end()) {
        if (_members.size() >= static_cast<size_t>(_limits.max_size)) {
            error = kafka_error::group_max_size_reached;
            return nullptr;
        }
        if (!request.subscribed_topic_names && !request.subscribed_topic_regex) {
            error = kafka_error::invalid_request;
            message = "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.";
            return nullptr;
        }
        it = _members.emplace(id, consumer_member{}).first;
        it->second.member_id = id;
        changed = true;
    } else if (!taken_over) {
        // A member that rejoins (it lost its epoch) starts over.
        it->second.assigned.clear();
        it->second.pending_revocation.clear();
        it->second.epoch = 0;
        changed = true;
    }
    return &it->second;
}

// What the heartbeat says of the member; true if its subscription changed.
bool consumer_group::update_member(consumer_member& m, const consumer_heartbeat& request) {
    bool changed = false;
    m.client_id = request.client_id;
    m.client_host = request.client_host;
    if (request.instance_id) m.instance_id = request.instance_id;
    if (request.rack_id) m.rack_id = request.rack_id;
    if (request.rebalance_timeout_ms >= 0) m.rebalance_timeout_ms = request.rebalance_timeout_ms;
    if (request.server_assignor) m.server_assignor = request.server_assignor;
    if (request.subscribed_topic_regex && *request.subscribed_topic_regex != m.subscribed_topic_regex) {
        const auto& pattern = *request.subscribed_topic_regex;
        // A pattern no member uses yet is resolved after this heartbeat, as
        // Kafka resolves it off the request path: its topics come in a later
        // epoch than the member's literal names.
        const bool in_use = std::any_of(_members.begin(), _members.end(),
                                        [&](const auto& kv) { return kv.second.subscribed_topic_regex == pattern; });
        if (!pattern.empty() && !in_use) _unresolved.insert(pattern);
        m.subscribed_topic_regex = pattern;
        changed = true;
    }
    if (request.subscribed_topic_names) {
        auto sorted = *request.subscribed_topic_names;
        std::sort(sorted.begin(), sorted.end());
        if (sorted != m.subscribed_topics) {
            m.subscribed_topics = std::move(sorted);
            changed = true;
        }
    }
    return changed;
}

consumer_heartbeat_result consumer_group::heartbeat(consumer_heartbeat request, const topic_catalog& topics,
                                                    int64_t now_ms, const std::string& new_member_id) {
    consumer_heartbeat_result out;
    auto fail = [&](kafka_error e, std::string message = {}) {
        out.error = e;
        out.error_message = std::move(message);
        out.member_id = request.member_id;
        out.member_epoch = request.member_epoch;
        return out;
    };
    if (request.server_assignor && *request.server_assignor != "uniform" && *request.server_assignor != "range")
        return fail(kafka_error::unsupported_assignor, "assignors: uniform, range");
    if (std::string message; check_regex(request.subscribed_topic_regex, message) != kafka_error::none)
        return fail(kafka_error::invalid_regular_expression, std::move(message));

    if (request.member_epoch == -1 || request.member_epoch == -2) {
        leave(request);
        out.member_id = request.member_id;
        out.member_epoch = request.member_epoch;
        return out;
    }

    consumer_member* m = nullptr;
    bool changed = false;
    if (request.member_epoch == 0) {
        kafka_error e = kafka_error::none;
        std::string message;
        m = join(request, new_member_id, changed, e, message);
        if (!m) return fail(e, std::move(message));
    } else {
        auto it = _members.find(request.member_id);
        if (it == _members.end()) return fail(kafka_error::unknown_member_id);
        m = &it->second;
        if (request.member_epoch != m->epoch && request.member_epoch != m->previous_epoch)
            return fail(kafka_error::fenced_member_epoch);
    }
    m->deadline_ms = now_ms + _limits.session_timeout_ms;
    changed = update_member(*m, request) || changed;
    maybe_compute_target(topics, changed);
    reconcile(*m, request.owned);
    out.member_id = m->member_id;
    out.member_epoch = m->epoch;
    out.assignment = m->assigned;
    return out;
}

// ---- assignors -------------------------------------------------------------------

std::map<std::string, partition_assignment> assign_uniform(const member_subscriptions& members,
                                                           const topic_catalog& topics,
                                                           const std::map<std::string, partition_assignment>& current) {
    std::map<std::string, partition_assignment> out;
    std::map<std::string, size_t> load;
    for (const auto& [id, m] : members) load[id] = 0;
    // Every subscribed partition, with who may take it.
    std::vector<std::pair<const topic_info*, std::vector<std::string>>> subscribed;
    for (const auto& [name, info] : topics) {
        std::vector<std::string> subscribers;
        for (const auto& [id, m] : members)
            if (m.contains(name)) subscribers.push_back(id);
        if (!subscribers.empty()) subscribed.emplace_back(&info, std::move(subscribers));
    }
    size_t total = 0;
    for (const auto& [info, subs] : subscribed) total += static_cast<size_t>(info->partitions);
    const size_t quota = members.empty() ? 0 : (total + members.size() - 1) / members.size();
    // Stickiness first: a partition stays with its current owner while the
    // owner is under its quota.
    std::vector<std::pair<const topic_info*, int32_t>> unassigned;
    for (const auto& [info, subs] : subscribed) {
        for (int32_t p = 0; p < info->partitions; ++p) {
            bool kept = false;
            for (const auto& id : subs) {
                auto c = current.find(id);
                if (c != current.end() && contains(c->second, info->id, p) && load[id] < quota) {
                    out[id][info->id].insert(p);
                    ++load[id];
                    kept = true;
                    break;
                }
            }
            if (!kept) unassigned.emplace_back(info, p);
        }
    }
    for (const auto& entry : unassigned) {
        const topic_info* info = entry.first;  // not a structured binding: clang 14 cannot capture those
        const int32_t p = entry.second;
        const auto& subs =
            std::find_if(subscribed.begin(), subscribed.end(), [&](const auto& s) { return s.first == info; })->second;
        const auto& best = *std::min_element(
            subs.begin(), subs.end(), [&](const std::string& a, const std::string& b) { return load[a] < load[b]; });
        out[best][info->id].insert(p);
        ++load[best];
    }
    return out;
}

std::map<std::string, partition_assignment> assign_range(const member_subscriptions& members,
                                                         const topic_catalog& topics) {
    std::map<std::string, partition_assignment> out;
    for (const auto& [name, info] : topics) {
        std::vector<std::string> subs;
        for (const auto& [id, m] : members)
            if (m.contains(name)) subs.push_back(id);
        if (subs.empty()) continue;
        const int32_t n = info.partitions;
        const int32_t k = static_cast<int32_t>(subs.size());
        int32_t next = 0;
        for (int32_t i = 0; i < k; ++i) {
            const int32_t count = n / k + (i < n % k ? 1 : 0);
            for (int32_t j = 0; j < count; ++j) out[subs[static_cast<size_t>(i)]][info.id].insert(next++);
        }
    }
    return out;
}

}  // namespace strata::group
