#include "fetch_sessions.h"

#include <algorithm>

namespace strata::server {

namespace pm = protocol::messages;

namespace {
constexpr int32_t initial_epoch = 0;
constexpr int32_t final_epoch = -1;

int32_t next_epoch(int32_t epoch) { return epoch == INT32_MAX ? 1 : epoch + 1; }
}  // namespace

fetch_session_cache::fetch_session_cache(fetch_session_options options) : _options(options) {}

size_t fetch_session_cache::size() const {
    std::lock_guard lock(_mutex);
    return _sessions.size();
}

std::string fetch_session_cache::topic_key(const std::string& name, const protocol::uuid& id, bool by_id) {
    return by_id ? "#" + id.to_string() : name;
}

int32_t fetch_session_cache::new_session_id() {
    std::uniform_int_distribution<int32_t> pick(1, INT32_MAX);
    for (;;) {
        int32_t id = pick(_random);
        if (!_sessions.count(id)) return id;
    }
}

bool fetch_session_cache::make_room(std::chrono::steady_clock::time_point now) {
    if (_sessions.size() < _options.max_sessions) return true;
    auto oldest = std::min_element(_sessions.begin(), _sessions.end(),
                                   [](const auto& a, const auto& b) { return a.second.last_used < b.second.last_used; });
    if (oldest == _sessions.end() || now - oldest->second.last_used < _options.eviction_idle) return false;
    _sessions.erase(oldest);
    return true;
}

void fetch_session_cache::add_partitions(session& s, const pm::fetch_request& request, bool by_id) {
    for (const auto& topic : request.topics) {
        const auto key = topic_key(topic.topic, topic.topic_id, by_id);
        s.topics[key] = {topic.topic, topic.topic_id};
        for (const auto& p : topic.partitions) {
            const auto id = std::make_pair(key, p.partition);
            auto [it, added] = s.partitions.try_emplace(id);
            if (added) s.order.push_back(id);
            it->second.request = p;  // a new position or limit replaces the old
        }
    }
}

std::vector<pm::fetch_request::fetch_topic> fetch_session_cache::topics_of(const session& s) {
    std::vector<pm::fetch_request::fetch_topic> topics;
    const std::string* last_key = nullptr;
    for (const auto& id : s.order) {
        if (!last_key || *last_key != id.first) {
            last_key = &id.first;
            auto& t = topics.emplace_back();
            const auto& [name, uuid] = s.topics.at(id.first);
            t.topic = name;
            t.topic_id = uuid;
        }
        topics.back().partitions.push_back(s.partitions.at(id).request);
    }
    return topics;
}

fetch_plan fetch_session_cache::plan(const pm::fetch_request& request, bool by_id) {
    fetch_plan out;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(_mutex);
    const bool full = request.session_epoch == initial_epoch || request.session_epoch == final_epoch;
    if (full) {
        // A full fetch closes the session it names; with the initial epoch
        // it opens a new one (when there is room: else it stays sessionless).
        if (request.session_id != 0) _sessions.erase(request.session_id);
        out.topics = request.topics;
        if (request.session_epoch == initial_epoch && !request.topics.empty() && make_room(now)) {
            session s;
            s.id = new_session_id();
            s.last_used = now;
            add_partitions(s, request, by_id);
            out.session_id = s.id;
            _sessions.emplace(s.id, std::move(s));
        }
        return out;
    }
    auto found = _sessions.find(request.session_id);
    if (found == _sessions.end()) {
        out.error = kafka_error::fetch_session_id_not_found;
        return out;
    }
    session& s = found->second;
    if (request.session_epoch != s.next_epoch) {
        out.error = kafka_error::invalid_fetch_session_epoch;
        return out;
    }
    add_partitions(s, request, by_id);
    for (const auto& forgotten : request.forgotten_topics_data) {
        const auto key = topic_key(forgotten.topic, forgotten.topic_id, by_id);
        for (int32_t p : forgotten.partitions) {
            const auto id = std::make_pair(key, p);
            if (s.partitions.erase(id)) std::erase(s.order, id);
        }
    }
    if (s.partitions.empty()) {
        // Nothing left to fetch: the session ends and this is sessionless.
        _sessions.erase(found);
        return out;
    }
    s.next_epoch = next_epoch(s.next_epoch);
    s.last_used = now;
    out.topics = topics_of(s);
    out.session_id = s.id;
    out.incremental = true;
    return out;
}

void fetch_session_cache::finish(const fetch_plan& plan, pm::fetch_response& response, bool by_id) {
    if (plan.session_id == 0) return;
    std::lock_guard lock(_mutex);
    auto found = _sessions.find(plan.session_id);
    session* s = found == _sessions.end() ? nullptr : &found->second;
    for (auto& topic : response.responses) {
        const auto key = topic_key(topic.topic, topic.topic_id, by_id);
        std::erase_if(topic.partitions, [&](const pm::fetch_response::partition_data& p) {
            partition_state* state = nullptr;
            if (s) {
                auto it = s->partitions.find({key, p.partition_index});
                if (it != s->partitions.end()) state = &it->second;
            }
            const bool news = !state || p.error_code != 0 || (p.records && p.records->size() > 0) ||
                              p.high_watermark != state->high_watermark ||
                              p.last_stable_offset != state->last_stable_offset ||
                              p.log_start_offset != state->log_start_offset;
            if (state && news) {
                state->high_watermark = p.high_watermark;
                state->last_stable_offset = p.last_stable_offset;
                state->log_start_offset = p.log_start_offset;
            }
            return plan.incremental && !news;
        });
    }
    if (plan.incremental)
        std::erase_if(response.responses, [](const auto& t) { return t.partitions.empty(); });
}

}  // namespace strata::server
