// Confluent's v2 consumer API: consumer instances that are members of a
// classic consumer group (JoinGroup/SyncGroup with the range assignor, as
// the Java consumer's default), polled over HTTP. An instance heartbeats
// when it is polled; one not polled for the session timeout is removed from
// the group by the coordinator and rejoins at its next poll.
#include "v2_consumer.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "group_call.h"
#include "records.h"
#include "strata/common/log.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/consumer_protocol_assignment.h"
#include "strata/protocol/messages/consumer_protocol_subscription.h"
#include "strata/protocol/messages/heartbeat_request.h"
#include "strata/protocol/messages/heartbeat_response.h"
#include "strata/protocol/messages/join_group_request.h"
#include "strata/protocol/messages/join_group_response.h"
#include "strata/protocol/messages/leave_group_request.h"
#include "strata/protocol/messages/leave_group_response.h"
#include "strata/protocol/messages/offset_commit_request.h"
#include "strata/protocol/messages/offset_commit_response.h"
#include "strata/protocol/messages/offset_fetch_request.h"
#include "strata/protocol/messages/offset_fetch_response.h"
#include "strata/protocol/messages/sync_group_request.h"
#include "strata/protocol/messages/sync_group_response.h"

namespace strata::rest {

namespace asio = boost::asio;
namespace pm = protocol::messages;
using steady = std::chrono::steady_clock;

namespace {

const auto& v2_consumer_log() {
    static const auto instance = log::get("rest");
    return instance;
}

constexpr int32_t session_timeout_ms = 45000;  // Kafka's session.timeout.ms default
constexpr auto heartbeat_interval = std::chrono::seconds(3);
constexpr int64_t instance_timeout_ms = 300000;  // Confluent's consumer.instance.timeout.ms default
constexpr size_t max_instances = 10000;
const char* v2_json = "application/vnd.kafka.v2+json";

template <typename T>
std::vector<uint8_t> encode_versioned(const T& value, int16_t version) {
    protocol::encoded_output out;
    protocol::writer w(out);
    w.write_int16(version);
    value.encode(w, version);
    return std::move(out.bytes);
}

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

struct consumer_instance {
    std::string group, name, format;
    bool reset_to_earliest = false;
    bool auto_commit = true;
    std::vector<std::string> topics;
    std::string member_id;
    int32_t generation = -1;
    bool joined = false;
    std::map<topic_partition, int64_t> positions;  // assigned partitions -> next offset (-1: to look up)
    steady::time_point last_heartbeat{};
    std::atomic<bool> busy{false};  // one request of an instance at a time
    // When a request last used it (steady clock, ms): idle instances expire.
    std::atomic<int64_t> last_used_ms{0};
};

namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now().time_since_epoch()).count();
}

// Holds the instance for one request (Confluent serialises them too).
struct instance_lock {
    std::shared_ptr<consumer_instance> instance;
    ~instance_lock() {
        if (instance) instance->busy = false;
    }
};

awaitable<instance_lock> lock(std::mutex&, std::shared_ptr<consumer_instance> instance) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        bool expected = false;
        if (instance->busy.compare_exchange_strong(expected, true)) {
            instance->last_used_ms = now_ms();
            co_return instance_lock{instance};
        }
        timer.expires_after(std::chrono::milliseconds(2));
        co_await timer.async_wait(asio::use_awaitable);
    }
}

std::map<std::string, std::map<std::string, std::vector<int32_t>>> range_assign(
    const std::map<std::string, std::vector<std::string>>& subscriptions, const std::map<std::string, int32_t>& counts) {
    std::map<std::string, std::map<std::string, std::vector<int32_t>>> out;
    for (const auto& [member, topics] : subscriptions) out[member];
    for (const auto& [topic, count] : counts) {
        std::vector<std::string> members;
        for (const auto& [member, topics] : subscriptions)
            if (std::find(topics.begin(), topics.end(), topic) != topics.end()) members.push_back(member);
        if (members.empty()) continue;
        const int32_t per = count / int32_t(members.size());
        const int32_t extra = count % int32_t(members.size());
        for (int32_t i = 0; i < int32_t(members.size()); ++i) {
            const int32_t start = per * i + std::min(i, extra);
            for (int32_t p = start; p < start + per + (i < extra ? 1 : 0); ++p) out[members[i]][topic].push_back(p);
        }
    }
    return out;
}

awaitable<std::vector<pm::sync_group_request::sync_group_request_assignment>> leader_assignments(
    context& ctx, const pm::join_group_response& joined) {
    std::map<std::string, std::vector<std::string>> subscriptions;
    std::map<std::string, int32_t> counts;
    for (const auto& m : joined.members) {
        pm::consumer_protocol_subscription s;
        if (!decode_versioned(m.metadata, s)) s.topics.clear();
        subscriptions[m.member_id] = s.topics;
        for (const auto& t : s.topics) counts[t] = 0;
    }
    std::vector<std::string> names;
    for (const auto& [t, c] : counts) names.push_back(t);
    auto md = co_await ctx.metadata(names);
    for (const auto& t : md.topics)
        if (t.error_code == 0 && t.name) counts[*t.name] = int32_t(t.partitions.size());
    std::vector<pm::sync_group_request::sync_group_request_assignment> out;
    for (const auto& [member, topics] : range_assign(subscriptions, counts)) {
        pm::consumer_protocol_assignment assignment;
        for (const auto& [topic, partitions] : topics) {
            if (partitions.empty()) continue;
            auto& tp = assignment.assigned_partitions.emplace_back();
            tp.topic = topic;
            tp.partitions = partitions;
        }
        auto& a = out.emplace_back();
        a.member_id = member;
        a.assignment = encode_versioned(assignment, 0);
    }
    co_return out;
}

awaitable<void> sleep_ms(int ms) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(asio::use_awaitable);
}

// JoinGroup then SyncGroup until a generation is reached (as the Java
// consumer's poll does); the assigned partitions get positions to look up.
awaitable<void> join(context& ctx, consumer_instance& c) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        if (attempt > 0) co_await sleep_ms(std::min(50 * attempt, 500));
        pm::consumer_protocol_subscription subscription;
        subscription.topics = c.topics;
        pm::join_group_request request;
        request.group_id = c.group;
        request.session_timeout_ms = session_timeout_ms;
        request.rebalance_timeout_ms = 60000;
        request.member_id = c.member_id;
        request.protocol_type = "consumer";
        auto& range = request.protocols.emplace_back();
        range.name = "range";
        range.metadata = encode_versioned(subscription, 0);
        auto joined = co_await group_call<pm::join_group_response>(ctx, c.group, request, 9);
        v2_consumer_log()->debug("v2 consumer {}/{}: JoinGroup answered {} (member {}, generation {})", c.group, c.name,
                        joined.error_code, joined.member_id, joined.generation_id);
        if (is(joined.error_code, kafka_error::member_id_required)) {
            c.member_id = joined.member_id;
            continue;
        }
        if (is(joined.error_code, kafka_error::unknown_member_id)) {
            c.member_id.clear();
            continue;
        }
        if (is(joined.error_code, kafka_error::rebalance_in_progress) ||
            is(joined.error_code, kafka_error::coordinator_load_in_progress) ||
            is(joined.error_code, kafka_error::coordinator_not_available))
            continue;
        check_kafka(joined.error_code);
        c.member_id = joined.member_id;
        c.generation = joined.generation_id;
        pm::sync_group_request sync;
        sync.group_id = c.group;
        sync.generation_id = c.generation;
        sync.member_id = c.member_id;
        sync.protocol_type = "consumer";
        sync.protocol_name = joined.protocol_name.value_or("range");
        if (joined.leader == c.member_id && !joined.skip_assignment) sync.assignments = co_await leader_assignments(ctx, joined);
        auto synced = co_await group_call<pm::sync_group_response>(ctx, c.group, sync, 5);
        v2_consumer_log()->debug("v2 consumer {}/{}: SyncGroup answered {}", c.group, c.name, synced.error_code);
        if (is(synced.error_code, kafka_error::rebalance_in_progress) || is(synced.error_code, kafka_error::illegal_generation))
            continue;
        if (is(synced.error_code, kafka_error::unknown_member_id)) {
            c.member_id.clear();
            continue;
        }
        check_kafka(synced.error_code);
        std::map<topic_partition, int64_t> positions;
        pm::consumer_protocol_assignment assignment;
        if (decode_versioned(synced.assignment, assignment))
            for (const auto& tp : assignment.assigned_partitions)
                for (int32_t p : tp.partitions) {
                    auto old = c.positions.find({tp.topic, p});
                    positions[{tp.topic, p}] = old == c.positions.end() ? -1 : old->second;
                }
        c.positions = std::move(positions);
        c.joined = true;
        c.last_heartbeat = steady::now();
        co_return;
    }
    throw rest_error(500, 50002, fmt::format("could not join consumer group {}", c.group));
}

// A heartbeat when one is due; false when the group rebalances (rejoin).
awaitable<bool> heartbeat(context& ctx, consumer_instance& c) {
    if (steady::now() - c.last_heartbeat < heartbeat_interval) co_return true;
    pm::heartbeat_request request;
    request.group_id = c.group;
    request.generation_id = c.generation;
    request.member_id = c.member_id;
    auto response = co_await group_call<pm::heartbeat_response>(ctx, c.group, request, 4);
    c.last_heartbeat = steady::now();
    if (response.error_code == 0) co_return true;
    if (is(response.error_code, kafka_error::unknown_member_id)) c.member_id.clear();
    co_return false;
}

awaitable<std::map<topic_partition, int64_t>> committed(context& ctx, const std::string& group,
                                                        const std::vector<topic_partition>& partitions) {
    pm::offset_fetch_request request;
    request.group_id = group;
    request.topics.emplace();
    std::map<std::string, size_t> index;
    for (const auto& [topic, partition] : partitions) {
        auto [it, added] = index.emplace(topic, request.topics->size());
        if (added) request.topics->emplace_back().name = topic;
        (*request.topics)[it->second].partition_indexes.push_back(partition);
    }
    auto response = co_await group_call<pm::offset_fetch_response>(ctx, group, request, 7);
    check_kafka(response.error_code);
    std::map<topic_partition, int64_t> out;
    for (const auto& t : response.topics)
        for (const auto& p : t.partitions) {
            // A topic the user may not describe is refused, as the Java
            // consumer's committed() throws TopicAuthorizationException (403
            // in Confluent's proxy); other partition errors read as "none".
            if (is(p.error_code, kafka_error::topic_authorization_failed) ||
                is(p.error_code, kafka_error::group_authorization_failed))
                check_kafka(p.error_code);
            if (p.error_code == 0 && p.committed_offset >= 0) out[{t.name, p.partition_index}] = p.committed_offset;
        }
    co_return out;
}

awaitable<void> resolve_positions(context& ctx, consumer_instance& c) {
    std::vector<topic_partition> unknown;
    for (const auto& [tp, position] : c.positions)
        if (position < 0) unknown.push_back(tp);
    if (unknown.empty()) co_return;
    auto found = co_await committed(ctx, c.group, unknown);
    std::vector<topic_partition> reset;
    for (const auto& tp : unknown) {
        if (auto it = found.find(tp); it != found.end()) c.positions[tp] = it->second;
        else reset.push_back(tp);
    }
    auto ranges = co_await list_offsets(ctx, reset);
    for (const auto& tp : reset)
        if (auto it = ranges.find(tp); it != ranges.end())
            c.positions[tp] = c.reset_to_earliest ? it->second.earliest : it->second.latest;
}

awaitable<void> commit(context& ctx, consumer_instance& c, const std::map<topic_partition, int64_t>& offsets) {
    if (offsets.empty()) co_return;
    pm::offset_commit_request request;
    request.group_id = c.group;
    // A member commits with its generation; an instance outside the group
    // (no subscription) commits as Kafka's simple consumers do.
    request.generation_id_or_member_epoch = c.joined ? c.generation : -1;
    request.member_id = c.joined ? c.member_id : "";
    std::map<std::string, size_t> index;
    for (const auto& [tp, offset] : offsets) {
        auto [it, added] = index.emplace(tp.first, request.topics.size());
        if (added) request.topics.emplace_back().name = tp.first;
        auto& p = request.topics[it->second].partitions.emplace_back();
        p.partition_index = tp.second;
        p.committed_offset = offset;
    }
    auto response = co_await group_call<pm::offset_commit_response>(ctx, c.group, request, 8);
    for (const auto& t : response.topics)
        for (const auto& p : t.partitions) check_kafka(p.error_code);
}

awaitable<void> leave(context& ctx, consumer_instance& c) {
    if (!c.joined || c.member_id.empty()) co_return;
    pm::leave_group_request request;
    request.group_id = c.group;
    auto& m = request.members.emplace_back();
    m.member_id = c.member_id;
    m.reason = "the REST consumer instance was deleted or unsubscribed";
    co_await group_call<pm::leave_group_response>(ctx, c.group, request, 5);
    c.joined = false;
    c.member_id.clear();
    c.positions.clear();
}

json record_json(const fetched_record& r, bool binary) {
    auto field = [binary, &r](const std::optional<std::vector<uint8_t>>& bytes) -> json {
        if (!bytes) return nullptr;
        if (binary) return base64_encode(*bytes);
        try {
            return json::parse(bytes->begin(), bytes->end());
        } catch (const json::parse_error&) {
            throw rest_error(500, 50002, fmt::format("Record at {}-{} offset {} is not JSON; consume it as binary", r.topic, r.partition, r.offset));
        }
    };
    return {{"topic", r.topic}, {"key", field(r.key)}, {"value", field(r.value)}, {"partition", r.partition}, {"offset", r.offset}};
}

std::vector<topic_partition> parse_partitions(const json& body, const char* field) {
    std::vector<topic_partition> out;
    if (!body.is_object() || !body.contains(field) || !body[field].is_array())
        throw rest_error(422, 42204, fmt::format("Expected {{\"{}\": [{{\"topic\": ..., \"partition\": ...}}]}}", field));
    for (const auto& p : body[field]) {
        if (!p.is_object() || !p.contains("topic") || !p["topic"].is_string() || !p.contains("partition") || !p["partition"].is_number_integer())
            throw rest_error(422, 42202, "Each entry needs a string \"topic\" and an integer \"partition\"");
        out.emplace_back(p["topic"].get<std::string>(), p["partition"].get<int32_t>());
    }
    return out;
}

}  // namespace

std::shared_ptr<consumer_instance> consumer_registry::find(const std::string& group, const std::string& name) {
    std::lock_guard guard(_mutex);
    auto it = _instances.find({group, name});
    // Confluent's words; instances live in the broker that created them
    // (as in the Confluent proxy process that did), at the base_uri it gave.
    if (it == _instances.end())
        throw rest_error(404, 40403, "Consumer instance not found. (A v2 consumer instance is held by the broker that "
                                     "created it: call the base_uri its creation returned.)");
    return it->second;
}

void consumer_registry::add_routes(std::vector<route>& routes) {
    routes.push_back({"POST", "/consumers/{}", [this](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
        const json body = request.body.empty() ? json::object() : parse_body(request);
        if (!body.is_object()) throw rest_error(422, 42204, "Expected a JSON object");
        auto c = std::make_shared<consumer_instance>();
        c->group = p[0];
        c->name = body.value("name", "");
        // Named after this broker, so names are unique in the cluster and a
        // call on another broker can say where the instance is.
        if (c->name.empty()) c->name = fmt::format("rest-consumer-{}-{}", ctx.node_id, _next_id++);
        c->format = body.value("format", "binary");
        if (c->format != "binary" && c->format != "json")
            throw rest_error(422, 42204, fmt::format("Unsupported format {} (binary or json)", c->format));
        c->reset_to_earliest = body.value("auto.offset.reset", "latest") == "earliest";
        const json commit_flag = body.value("auto.commit.enable", json("true"));
        c->auto_commit = commit_flag.is_boolean() ? commit_flag.get<bool>() : commit_flag != "false";
        c->last_used_ms = now_ms();
        {
            std::lock_guard guard(_mutex);
            // Instances idle for consumer.instance.timeout.ms are dropped (the
            // coordinator has long removed them from their groups), so
            // abandoned ones do not pile up; the map is bounded besides.
            std::erase_if(_instances, [now = now_ms()](const auto& entry) {
                return !entry.second->busy && now - entry.second->last_used_ms > instance_timeout_ms;
            });
            if (_instances.size() >= max_instances)
                throw rest_error(429, 42901, fmt::format("Too many consumer instances ({} at most)", max_instances));
            if (!_instances.emplace(std::pair{c->group, c->name}, c).second)
                throw rest_error(409, 40902, "Consumer with specified consumer ID already exists in the specified consumer group.");
        }
        co_return json_response(200, {{"instance_id", c->name}, {"base_uri", fmt::format("{}/consumers/{}/instances/{}", ctx.base, c->group, c->name)}}, v2_json);
    }});
    routes.push_back({"DELETE", "/consumers/{}/instances/{}", [this](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        {
            std::lock_guard guard(_mutex);
            _instances.erase({p[0], p[1]});
        }
        co_await leave(ctx, *held.instance);
        co_return no_content();
    }});
    routes.push_back({"POST", "/consumers/{}/instances/{}/subscription", [this](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        const json body = parse_body(request);
        if (!body.is_object() || !body.contains("topics") || !body["topics"].is_array())
            throw rest_error(422, 42204, "Expected {\"topics\": [...]} (topic_pattern is not supported)");
        std::vector<std::string> topics;
        for (const auto& t : body["topics"]) {
            if (!t.is_string()) throw rest_error(422, 42204, "Topic names must be strings");
            topics.push_back(t.get<std::string>());
        }
        auto& c = *held.instance;
        if (c.joined) co_await leave(ctx, c);
        c.topics = std::move(topics);
        co_return no_content();
    }});
    routes.push_back({"GET", "/consumers/{}/instances/{}/subscription", [this](context&, const http::request&, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        co_return json_response(200, {{"topics", held.instance->topics}}, v2_json);
    }});
    routes.push_back({"DELETE", "/consumers/{}/instances/{}/subscription", [this](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        co_await leave(ctx, *held.instance);
        held.instance->topics.clear();
        co_return no_content();
    }});
    routes.push_back({"GET", "/consumers/{}/instances/{}/assignments", [this](context&, const http::request&, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        json partitions = json::array();
        for (const auto& [tp, position] : held.instance->positions) partitions.push_back({{"topic", tp.first}, {"partition", tp.second}});
        co_return json_response(200, {{"partitions", partitions}}, v2_json);
    }});
    routes.push_back({"GET", "/consumers/{}/instances/{}/records", [this](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        auto& c = *held.instance;
        const auto query = parse_query(request.query);
        int32_t timeout = 1000, max_bytes = int32_t(std::min<size_t>(_max_poll_bytes, INT32_MAX));
        try {
            if (query.count("timeout")) timeout = std::stoi(query.at("timeout"));
            if (query.count("max_bytes")) max_bytes = std::stoi(query.at("max_bytes"));
        } catch (const std::exception&) {
            throw rest_error(400, 400, "timeout and max_bytes must be integers");
        }
        const auto accept = request.header("accept");
        const bool binary = accept.find(".json.") != std::string_view::npos ? false
                            : accept.find(".binary.") != std::string_view::npos ? true
                                                                                : c.format == "binary";
        if (c.topics.empty()) throw rest_error(409, 40903, "Consumer has no subscription.");
        if (!c.joined || !(co_await heartbeat(ctx, c))) co_await join(ctx, c);
        co_await resolve_positions(ctx, c);
        std::map<topic_partition, int64_t> positions;
        for (const auto& [tp, position] : c.positions)
            if (position >= 0) positions[tp] = position;
        // The long poll in short fetches, so that a stopping broker ends it
        // within one of them.
        const auto deadline = steady::now() + std::chrono::milliseconds(std::clamp(timeout, 0, 30000));
        fetch_result fetched;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
            fetched = co_await fetch_records(ctx, positions, max_bytes, int32_t(std::clamp<int64_t>(left, 0, 500)));
            if (positions.empty() || !fetched.records.empty() || !fetched.errors.empty() || left <= 500 || _stopping)
                break;
        }
        json data = json::array();
        for (const auto& r : fetched.records) {
            data.push_back(record_json(r, binary));
            c.positions[{r.topic, r.partition}] = r.offset + 1;
        }
        for (const auto& [tp, error] : fetched.errors)
            if (is(error, kafka_error::offset_out_of_range)) c.positions[tp] = -1;  // reset again at the next poll
        if (c.auto_commit && !fetched.records.empty()) {
            std::map<topic_partition, int64_t> offsets;
            for (const auto& [tp, position] : c.positions)
                if (position >= 0) offsets[tp] = position;
            co_await commit(ctx, c, offsets);
        }
        co_return json_response(200, data, binary ? "application/vnd.kafka.binary.v2+json" : "application/vnd.kafka.json.v2+json");
    }});
    routes.push_back({"POST", "/consumers/{}/instances/{}/offsets", [this](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        auto& c = *held.instance;
        std::map<topic_partition, int64_t> offsets;
        if (request.body.empty()) {
            for (const auto& [tp, position] : c.positions)
                if (position >= 0) offsets[tp] = position;
        } else {
            const json body = parse_body(request);
            if (!body.is_object() || !body.contains("offsets") || !body["offsets"].is_array())
                throw rest_error(422, 42204, "Expected {\"offsets\": [{\"topic\": ..., \"partition\": ..., \"offset\": ...}]}");
            for (const auto& o : body["offsets"]) {
                if (!o.is_object() || !o.contains("topic") || !o["topic"].is_string() || !o.value("partition", json()).is_number_integer() ||
                    !o.value("offset", json()).is_number_integer())
                    throw rest_error(422, 42202, "Each offset needs \"topic\", \"partition\" and \"offset\"");
                // v2 commits the offset given (the next to read), as Confluent passes it through.
                offsets[{o["topic"].get<std::string>(), o["partition"].get<int32_t>()}] = o["offset"].get<int64_t>();
            }
        }
        co_await commit(ctx, c, offsets);
        http::response out;
        out.content_type = v2_json;
        co_return out;
    }});
    routes.push_back({"GET", "/consumers/{}/instances/{}/offsets", [this](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
        auto held = co_await lock(_mutex, find(p[0], p[1]));
        const auto partitions = parse_partitions(parse_body(request), "partitions");
        auto found = co_await committed(ctx, p[0], partitions);
        json offsets = json::array();
        for (const auto& tp : partitions) {
            auto it = found.find(tp);
            offsets.push_back({{"topic", tp.first}, {"partition", tp.second}, {"offset", it == found.end() ? -1 : it->second}, {"metadata", ""}});
        }
        co_return json_response(200, {{"offsets", offsets}}, v2_json);
    }});
    auto seek = [this](int which) {
        return [this, which](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
            auto held = co_await lock(_mutex, find(p[0], p[1]));
            auto& c = *held.instance;
            const json body = parse_body(request);
            if (which == 0) {
                if (!body.is_object() || !body.contains("offsets") || !body["offsets"].is_array())
                    throw rest_error(422, 42204, "Expected {\"offsets\": [{\"topic\", \"partition\", \"offset\"}]}");
                for (const auto& o : body["offsets"]) c.positions[{o.at("topic").get<std::string>(), o.at("partition").get<int32_t>()}] = o.at("offset").get<int64_t>();
            } else {
                const auto partitions = parse_partitions(body, "partitions");
                auto ranges = co_await list_offsets(ctx, partitions);
                for (const auto& tp : partitions)
                    if (auto it = ranges.find(tp); it != ranges.end()) c.positions[tp] = which == 1 ? it->second.earliest : it->second.latest;
            }
            co_return no_content();
        };
    };
    routes.push_back({"POST", "/consumers/{}/instances/{}/positions", seek(0)});
    routes.push_back({"POST", "/consumers/{}/instances/{}/positions/beginning", seek(1)});
    routes.push_back({"POST", "/consumers/{}/instances/{}/positions/end", seek(2)});
}

}  // namespace strata::rest
