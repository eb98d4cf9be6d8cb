#include "records.h"

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::rest {

namespace pm = protocol::messages;

std::string iso_time(int64_t millis) {
    const std::time_t seconds = std::time_t(millis / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03}Z", text, millis % 1000);
}

namespace {

std::optional<std::vector<uint8_t>> copy(const std::optional<protocol::bytes_view>& bytes) {
    if (!bytes) return std::nullopt;
    return std::vector<uint8_t>(bytes->begin(), bytes->end());
}

// Appends the records of `data` at or after `from`.
void decode_partition(const std::string& topic, int32_t partition, int64_t from, std::span<const uint8_t> data,
                      std::vector<fetched_record>& out) {
    protocol::record_batch_sequence batches(data);
    std::vector<uint8_t> scratch;
    for (;;) {
        auto next = batches.next();
        if (!next || !next.value()) return;  // the end, or a batch cut off at max bytes
        const auto& batch = *next.value();
        if (batch.is_control()) continue;
        const bool append_time = batch.timestamp_kind() == protocol::timestamp_type::log_append_time;
        auto done = protocol::for_each_record(batch, 64 << 20, scratch, [&](const protocol::record_view& r) {
            const int64_t offset = batch.base_offset() + r.offset_delta;
            if (offset < from) return;
            fetched_record record;
            record.topic = topic;
            record.partition = partition;
            record.offset = offset;
            record.timestamp = append_time ? batch.max_timestamp() : batch.base_timestamp() + r.timestamp_delta;
            record.key = copy(r.key);
            record.value = copy(r.value);
            for (const auto& h : r.headers) record.headers.emplace_back(std::string(h.key), copy(h.value));
            out.push_back(std::move(record));
        });
        if (!done) return;
    }
}

}  // namespace

namespace {

pm::fetch_request fetch_request_for(const std::map<topic_partition, int64_t>& positions, int32_t max_bytes,
                                    int32_t max_wait_ms) {
    pm::fetch_request request;
    request.replica_id = -1;
    request.max_wait_ms = max_wait_ms;
    request.min_bytes = 1;
    request.max_bytes = max_bytes;
    request.isolation_level = 0;  // read_uncommitted, the Java consumer's default
    request.session_id = 0;
    request.session_epoch = -1;  // no fetch session
    std::map<std::string, size_t> index;
    for (const auto& [tp, offset] : positions) {
        auto [it, added] = index.emplace(tp.first, request.topics.size());
        if (added) request.topics.emplace_back().topic = tp.first;
        auto& p = request.topics[it->second].partitions.emplace_back();
        p.partition = tp.second;
        p.fetch_offset = offset;
        p.partition_max_bytes = max_bytes;
    }
    return request;
}

void add_answer(const pm::fetch_response& response, const std::map<topic_partition, int64_t>& positions,
                fetch_result& result) {
    for (const auto& t : response.responses)
        for (const auto& p : t.partitions) {
            const topic_partition tp{t.topic, p.partition_index};
            if (p.error_code != 0) {
                result.errors[tp] = p.error_code;
                continue;
            }
            result.errors.erase(tp);
            result.high_watermarks[tp] = p.high_watermark;
            if (p.records && p.records->size() > 0) {
                const auto found = positions.find(tp);
                decode_partition(t.topic, p.partition_index, found == positions.end() ? 0 : found->second,
                                 p.records->bytes(), result.records);
            }
        }
}

// Partitions this broker holds no replica of (NOT_LEADER_OR_FOLLOWER: the
// REST user may read them, the authorize stage answered here) are fetched
// from their leaders over the proxy's links, as a consumer would; a
// partition still unanswered keeps its error.
awaitable<void> fetch_at_leaders(context& ctx, const std::map<topic_partition, int64_t>& positions, int32_t max_bytes,
                                 int32_t max_wait_ms, fetch_result& result) {
    std::vector<std::string> topics;
    for (const auto& [tp, offset] : positions)
        if (std::find(topics.begin(), topics.end(), tp.first) == topics.end()) topics.push_back(tp.first);
    auto md = co_await ctx.metadata(topics);
    std::map<int32_t, broker_address> brokers;
    for (const auto& b : md.brokers) brokers[b.node_id] = broker_address{b.node_id, b.host, b.port};
    std::map<int32_t, std::map<topic_partition, int64_t>> by_leader;
    for (const auto& t : md.topics)
        for (const auto& p : t.partitions) {
            if (!t.name || p.leader_id < 0 || p.leader_id == ctx.node_id || !brokers.contains(p.leader_id)) continue;
            const auto found = positions.find(topic_partition{*t.name, p.partition_index});
            if (found != positions.end()) by_leader[p.leader_id].insert(*found);
        }
    const auto executor = co_await boost::asio::this_coro::executor;
    const int16_t version = co_await ctx.kafka.version_for(protocol::api_key::fetch, 12);
    for (const auto& [leader, wanted] : by_leader) {
        auto link = ctx.peers->connection(executor, brokers[leader]);
        if (!link) co_return;
        auto answer = co_await link->call<pm::fetch_response>(fetch_request_for(wanted, max_bytes, max_wait_ms), version,
                                                               std::chrono::milliseconds(max_wait_ms + 10000));
        if (answer && answer.value().error_code == 0) add_answer(answer.value(), wanted, result);
    }
}

}  // namespace

awaitable<fetch_result> fetch_records(context& ctx, const std::map<topic_partition, int64_t>& positions, int32_t max_bytes,
                                      int32_t max_wait_ms) {
    fetch_result result;
    if (positions.empty()) co_return result;
    // v12: topics by name.
    auto response = co_await ctx.kafka.call<pm::fetch_response>(fetch_request_for(positions, max_bytes, max_wait_ms), 12);
    check_kafka(response.error_code);
    add_answer(response, positions, result);
    std::map<topic_partition, int64_t> elsewhere;
    for (const auto& [tp, error] : result.errors)
        if (error == kafka_error_code(kafka_error::not_leader_or_follower)) elsewhere[tp] = positions.at(tp);
    // Without waiting again when this broker's partitions had records.
    if (!elsewhere.empty() && ctx.peers)
        co_await fetch_at_leaders(ctx, elsewhere, max_bytes, result.records.empty() ? max_wait_ms : 0, result);
    co_return result;
}

}  // namespace strata::rest
