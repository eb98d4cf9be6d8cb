#include "group_member.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "group_ops.h"
#include "strata/protocol/messages/consumer_protocol_assignment.h"
#include "strata/protocol/messages/consumer_protocol_subscription.h"
#include "strata/protocol/messages/heartbeat_request.h"
#include "strata/protocol/messages/heartbeat_response.h"
#include "strata/protocol/messages/join_group_request.h"
#include "strata/protocol/messages/join_group_response.h"
#include "strata/protocol/messages/leave_group_request.h"
#include "strata/protocol/messages/leave_group_response.h"
#include "strata/protocol/messages/sync_group_request.h"
#include "strata/protocol/messages/sync_group_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using steady = std::chrono::steady_clock;

std::map<std::string, std::map<std::string, std::vector<int32_t>>> range_assign(
    const std::map<std::string, std::vector<std::string>>& subscriptions,
    const std::map<std::string, int32_t>& partition_counts) {
    std::map<std::string, std::map<std::string, std::vector<int32_t>>> out;
    for (const auto& [member, topics] : subscriptions) out[member];
    for (const auto& [topic, count] : partition_counts) {
        std::vector<std::string> members;  // std::map keeps them sorted by id
        for (const auto& [member, topics] : subscriptions)
            if (std::find(topics.begin(), topics.end(), topic) != topics.end()) members.push_back(member);
        if (members.empty()) continue;
        const int32_t per_member = count / static_cast<int32_t>(members.size());
        const int32_t extra = count % static_cast<int32_t>(members.size());
        for (int32_t i = 0; i < static_cast<int32_t>(members.size()); ++i) {
            const int32_t start = per_member * i + std::min(i, extra);
            const int32_t length = per_member + (i < extra ? 1 : 0);
            auto& partitions = out[members[i]][topic];
            for (int32_t p = start; p < start + length; ++p) partitions.push_back(p);
        }
    }
    return out;
}

namespace {

// Consumer protocol payloads are a version (int16) then the struct.
template <typename T>
std::vector<uint8_t> encode_versioned(const T& value, int16_t version) {
    protocol::encoded_output out;
    protocol::writer w(out);
    w.write_int16(version);
    value.encode(w, version);
    return std::move(out.bytes);
}

// A newer version decodes as the newest we know: Kafka's consumer protocol
// only ever appends fields.
template <typename T>
bool decode_versioned(const std::vector<uint8_t>& bytes, T& value) {
    if (bytes.size() < 2) return false;
    try {
        protocol::reader r(bytes);
        const int16_t version = r.read_int16();
        if (version < 0) return false;
        value.decode(r, std::min<int16_t>(version, T::highest_supported_version));
        return true;
    } catch (const protocol::decode_error&) {
        return false;
    }
}

bool is(int16_t code, kafka_error error) {
    return code == kafka_error_code(error);
}

}  // namespace

group_member::group_member(kafka_client& client, std::string group, std::vector<std::string> topics)
    : _client(client), _group(std::move(group)), _topics(std::move(topics)) {}

std::map<std::string, std::vector<int32_t>> group_member::join() {
    const auto deadline = steady::now() + rebalance_timeout * 4;
    const auto call_timeout = rebalance_timeout + std::chrono::milliseconds(5000);
    for (int attempt = 0;; ++attempt) {
        if (steady::now() > deadline)
            throw cli_error(fmt::format("could not join group '{}' in time", _group),
                            "the group keeps rebalancing; check its other members with `strata group describe`");
        if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * attempt, 1000)));
        const int32_t coordinator = _client.group_coordinator(_group);

        pm::consumer_protocol_subscription subscription;
        subscription.topics = _topics;
        pm::join_group_request join;
        join.group_id = _group;
        join.session_timeout_ms = static_cast<int32_t>(session_timeout.count());
        join.rebalance_timeout_ms = static_cast<int32_t>(rebalance_timeout.count());
        join.member_id = _member_id;
        join.protocol_type = "consumer";
        pm::join_group_request::join_group_request_protocol range;
        range.name = "range";
        range.metadata = encode_versioned(subscription, 0);
        join.protocols.push_back(range);
        auto joined = _client.call_with_timeout<pm::join_group_response>(coordinator, join, call_timeout);
        const int16_t error = joined.error_code;
        if (is(error, kafka_error::member_id_required)) {
            _member_id = joined.member_id;  // KIP-394: join again with the id the coordinator gave
            continue;
        }
        if (is(error, kafka_error::unknown_member_id)) {
            _member_id.clear();
            continue;
        }
        if (is(error, kafka_error::not_coordinator) || is(error, kafka_error::coordinator_not_available) ||
            is(error, kafka_error::coordinator_load_in_progress)) {
            _client.forget_coordinator(_group);
            continue;
        }
        if (is(error, kafka_error::rebalance_in_progress)) continue;
        if (error != 0) throw_kafka_error(error, fmt::format("joining group '{}'", _group));
        _member_id = joined.member_id;
        _generation = joined.generation_id;

        pm::sync_group_request sync;
        sync.group_id = _group;
        sync.generation_id = _generation;
        sync.member_id = _member_id;
        sync.protocol_type = "consumer";
        sync.protocol_name = joined.protocol_name.value_or("range");
        if (joined.leader == _member_id && !joined.skip_assignment) {
            std::map<std::string, std::vector<std::string>> subscriptions;
            std::map<std::string, int32_t> counts;
            for (const auto& m : joined.members) {
                pm::consumer_protocol_subscription s;
                if (!decode_versioned(m.metadata, s)) s.topics.clear();
                subscriptions[m.member_id] = s.topics;
                for (const auto& t : s.topics) counts[t] = 0;
            }
            // Topics that do not exist (yet) get no partitions, as in Kafka.
            auto md = _client.metadata(std::vector<std::string>([&] {
                std::vector<std::string> names;
                for (const auto& [t, c] : counts) names.push_back(t);
                return names;
            }()));
            for (const auto& t : md.topics)
                if (t.error_code == 0 && t.name) counts[*t.name] = static_cast<int32_t>(t.partitions.size());
            for (auto it = counts.begin(); it != counts.end();) it = it->second > 0 ? std::next(it) : counts.erase(it);
            for (const auto& [member, topics] : range_assign(subscriptions, counts)) {
                pm::consumer_protocol_assignment assignment;
                for (const auto& [topic, partitions] : topics) {
                    pm::consumer_protocol_assignment::topic_partition tp;
                    tp.topic = topic;
                    tp.partitions = partitions;
                    assignment.assigned_partitions.push_back(tp);
                }
                pm::sync_group_request::sync_group_request_assignment a;
                a.member_id = member;
                a.assignment = encode_versioned(assignment, 0);
                sync.assignments.push_back(a);
            }
        }
        auto synced = _client.call_with_timeout<pm::sync_group_response>(coordinator, sync, call_timeout);
        if (is(synced.error_code, kafka_error::unknown_member_id)) {
            _member_id.clear();
            continue;
        }
        if (is(synced.error_code, kafka_error::rebalance_in_progress) ||
            is(synced.error_code, kafka_error::illegal_generation))
            continue;
        if (is(synced.error_code, kafka_error::not_coordinator) ||
            is(synced.error_code, kafka_error::coordinator_not_available)) {
            _client.forget_coordinator(_group);
            continue;
        }
        if (synced.error_code != 0) throw_kafka_error(synced.error_code, fmt::format("syncing group '{}'", _group));
        _last_heartbeat = steady::now();
        std::map<std::string, std::vector<int32_t>> mine;
        pm::consumer_protocol_assignment assignment;
        if (decode_versioned(synced.assignment, assignment))
            for (const auto& tp : assignment.assigned_partitions)
                for (int32_t p : tp.partitions) mine[tp.topic].push_back(p);
        for (auto& [topic, partitions] : mine) std::sort(partitions.begin(), partitions.end());
        return mine;
    }
}

bool group_member::heartbeat_if_due() {
    if (steady::now() - _last_heartbeat < heartbeat_interval) return true;
    _last_heartbeat = steady::now();
    pm::heartbeat_request request;
    request.group_id = _group;
    request.generation_id = _generation;
    request.member_id = _member_id;
    auto response = _client.call<pm::heartbeat_response>(_client.group_coordinator(_group), request);
    const int16_t error = response.error_code;
    if (error == 0) return true;
    if (is(error, kafka_error::rebalance_in_progress) || is(error, kafka_error::illegal_generation)) return false;
    if (is(error, kafka_error::unknown_member_id)) {
        _member_id.clear();
        return false;
    }
    if (is(error, kafka_error::not_coordinator) || is(error, kafka_error::coordinator_not_available)) {
        _client.forget_coordinator(_group);
        return false;
    }
    throw_kafka_error(error, fmt::format("heartbeat to group '{}'", _group));
}

void group_member::commit(const std::string& topic, const std::map<int32_t, int64_t>& offsets) {
    commit_offsets(_client, _group, topic, offsets, _generation, _member_id);
}

void group_member::leave() {
    if (_member_id.empty()) return;
    try {
        const int32_t coordinator = _client.group_coordinator(_group);
        pm::leave_group_request request;
        request.group_id = _group;
        if (_client.version_of<pm::leave_group_request>(coordinator) >= 3) {
            pm::leave_group_request::member_identity me;
            me.member_id = _member_id;
            me.reason = "strata consume finished";
            request.members.push_back(me);
        } else {
            request.member_id = _member_id;
        }
        _client.call<pm::leave_group_response>(coordinator, request);
    } catch (const cli_error&) {
        // The session timeout removes the member anyway.
    }
    _member_id.clear();
}

}  // namespace strata::cli
