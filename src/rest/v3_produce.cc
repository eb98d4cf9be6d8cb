// POST /v3/clusters/{id}/topics/{topic}/records: one record, or (streaming
// mode) several JSON objects concatenated in one request body, answered with
// one delivery report per record in the same order. The records are sent in
// chunks of about 256 KiB as they are parsed, one record batch per partition
// per chunk and one Produce (acks=all) per chunk, up to 4 in flight.
// Batches of partitions led by another broker are sent on to their leader
// (forward(), below), as Confluent's REST Proxy, a Kafka client, would.
// Also Strata's GET .../partitions/{p}/records for the console's browser.
#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>

#include <fmt/format.h>

#include "common.h"
#include "group_call.h"
#include "offsets.h"
#include "produce_records.h"
#include "records.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/produce_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::rest {

namespace pm = protocol::messages;

namespace {

std::atomic<uint32_t> sticky_counter{0};

// Records are sent in chunks of about this many bytes (key, value and
// headers): one record batch per partition per chunk, one Produce per chunk.
// Small enough that the first chunk's append and fsync overlap the parsing
// of the next ones; a batch stays far under message.max.bytes' default, so
// it is never refused for size (a record above it travels alone).
constexpr size_t chunk_bytes = 256 * 1024;
// Produce requests of one HTTP request in flight at once at most.
constexpr size_t max_in_flight = 4;

// How long the batches of a partition led elsewhere may wait for a leader
// that takes them (leader changes, an unreachable leader), as group calls
// wait for a coordinator: then the records' reports carry the last error.
constexpr std::chrono::milliseconds leader_wait{15000};

// One chunk's Produce, sent and not yet answered; the indexes of its records
// (into the request's deliveries) per partition, in batch order. `done` once
// answered here and, for partitions led elsewhere, by their leaders.
struct in_flight {
    std::map<int32_t, std::vector<size_t>> members;
    std::map<int32_t, std::shared_ptr<std::vector<uint8_t>>> batches;  // kept for forwarding
    std::optional<pm::produce_response> response;
    std::exception_ptr error;
    bool done = false;
};

// The Produce calls of one HTTP request. Everything here runs on the HTTP
// connection's thread (the calls are spawned on its executor, and resume
// there), so no lock. `wake` never expires: cancel() (whenever a call
// completes) wakes every coroutine waiting on it, and each checks again
// what it waits for.
struct pipeline {
    explicit pipeline(boost::asio::any_io_executor executor) : wake(std::move(executor)) {
        wake.expires_at(boost::asio::steady_timer::time_point::max());
    }
    boost::asio::steady_timer wake;
    std::deque<std::shared_ptr<in_flight>> calls;  // in the order sent
};

awaitable<pm::produce_response> send_produce(kafka_call& kafka, pm::produce_request request) {
    co_return co_await kafka.call<pm::produce_response>(request, 9);
}

awaitable<void> wake_up(pipeline& p) {
    boost::system::error_code ignored;  // operation_aborted is the wake-up
    co_await p.wake.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
}

awaitable<void> wait_for(pipeline& p, const in_flight& call) {
    while (!call.done) co_await wake_up(p);
}

// Whether a call sent before `call` and holding records of one of
// `partitions` is still unfinished (its records must reach the leader first).
bool earlier_pending(const pipeline& p, const in_flight& call, const std::vector<int32_t>& partitions) {
    for (const auto& c : p.calls) {
        if (c.get() == &call) return false;
        if (c->done) continue;
        for (const int32_t partition : partitions)
            if (c->members.contains(partition)) return true;
    }
    return false;
}

pm::produce_response::partition_produce_response* answer_of(pm::produce_response& response, int32_t partition) {
    for (auto& t : response.responses)
        for (auto& pr : t.partition_responses)
            if (pr.index == partition) return &pr;
    return nullptr;
}

bool leader_error(int16_t code) {
    return code == kafka_error_code(kafka_error::not_leader_or_follower) ||
           code == kafka_error_code(kafka_error::leader_not_available);
}

// The partitions of `call` this broker answered NOT_LEADER_OR_FOLLOWER for:
// the authorize stage let the REST user write them (it answers before the
// leadership check), so they go to their leaders over the proxy's links,
// with the inter-broker credentials, as group_call.h does for groups.
// They wait for the earlier calls holding the same partitions (which may be
// forwarding too), so a partition's records keep the body's order; a leader
// change is retried after new metadata, for up to leader_wait, then the
// partition's answer carries the last error. The local answers are
// replaced by the leaders'.
awaitable<void> forward(context& ctx, std::shared_ptr<pipeline> p, std::shared_ptr<in_flight> call, std::string topic,
                        std::vector<int32_t> partitions) {
    while (earlier_pending(*p, *call, partitions)) co_await wake_up(*p);
    const auto executor = co_await boost::asio::this_coro::executor;
    const int16_t version = co_await ctx.kafka.version_for(protocol::api_key::produce, 9);
    const auto deadline = std::chrono::steady_clock::now() + leader_wait;
    std::map<int32_t, std::string> why;  // partition -> why its last attempt failed
    for (int attempt = 0; !partitions.empty(); ++attempt) {
        if (attempt > 0) {
            if (std::chrono::steady_clock::now() >= deadline) break;
            co_await backoff(attempt);
        }
        auto md = co_await ctx.metadata(one_topic(topic));
        std::map<int32_t, broker_address> brokers;
        for (const auto& b : md.brokers) brokers[b.node_id] = broker_address{b.node_id, b.host, b.port};
        std::map<int32_t, std::vector<int32_t>> by_leader;
        for (const auto& t : md.topics)
            if (t.name && *t.name == topic)
                for (const auto& part : t.partitions)
                    if (std::find(partitions.begin(), partitions.end(), part.partition_index) != partitions.end()) {
                        if (part.leader_id >= 0 && (part.leader_id == ctx.node_id || brokers.contains(part.leader_id)))
                            by_leader[part.leader_id].push_back(part.partition_index);
                        else
                            why[part.partition_index] = "no leader in the metadata";
                    }
        std::vector<int32_t> again;
        for (const int32_t partition : partitions) {
            const bool placed = std::any_of(by_leader.begin(), by_leader.end(), [&](const auto& entry) {
                return std::find(entry.second.begin(), entry.second.end(), partition) != entry.second.end();
            });
            if (!placed) again.push_back(partition);
        }
        for (const auto& [leader, led] : by_leader) {
            pm::produce_request request;
            request.acks = -1;
            request.timeout_ms = 30000;
            auto& t = request.topic_data.emplace_back();
            t.name = topic;
            for (const int32_t partition : led) {
                auto& pd = t.partition_data.emplace_back();
                pd.index = partition;
                const auto& owner = call->batches.at(partition);
                pd.records = protocol::records::from_memory(*owner, owner);
            }
            pm::produce_response answer;
            if (leader == ctx.node_id) {
                // Leadership moved here: in process, as the REST user.
                answer = co_await ctx.kafka.call<pm::produce_response>(request, 9);
            } else {
                const auto& where = brokers.at(leader);
                auto link = ctx.peers->connection(executor, where);
                if (!link) throw rest_error(500, 50003, "Retriable Kafka error: the broker is stopping");
                auto remote = co_await link->call<pm::produce_response>(request, version, std::chrono::milliseconds(35000));
                if (!remote) {
                    if (remote.error() == net::client_error::closed)
                        throw rest_error(500, 50003, "Retriable Kafka error: the broker is stopping");
                    const std::string failure =
                        fmt::format("leader {} at {}:{}: {}", leader, where.host, where.port,
                                    link->last_failure().empty() ? std::string(net::to_string(remote.error()))
                                                                 : link->last_failure());
                    for (const int32_t partition : led) {
                        why[partition] = failure;
                        again.push_back(partition);
                    }
                    continue;
                }
                answer = std::move(remote).value();
            }
            for (const int32_t partition : led) {
                auto* got = answer_of(answer, partition);
                auto* mine = answer_of(*call->response, partition);
                if (!got || !mine) {
                    why[partition] = fmt::format("broker {} did not answer for the partition", leader);
                    again.push_back(partition);
                    continue;
                }
                if (leader_error(got->error_code)) {
                    why[partition] = fmt::format("broker {} answered {}", leader,
                                                 kafka_error_name(static_cast<kafka_error>(got->error_code)));
                    again.push_back(partition);
                    continue;
                }
                *mine = std::move(*got);
            }
        }
        partitions = std::move(again);
    }
    for (const int32_t partition : partitions)
        if (auto* mine = answer_of(*call->response, partition)) {
            mine->error_code = kafka_error_code(kafka_error::not_leader_or_follower);
            mine->error_message = fmt::format("no leader of partition {} took the records within {} ms ({})", partition,
                                              leader_wait.count(), why[partition]);
        }
}

// The records of one chunk being batched.
struct chunk {
    std::map<int32_t, protocol::record_batch_builder> builders;
    std::map<int32_t, std::vector<size_t>> members;
    size_t bytes = 0;
};

// Sends `c` as one Produce (acks=all), in order after the ones before it:
// each call is spawned on this thread's executor, and the broker's handler
// hands a Produce's batches to their partitions before its first
// suspension, so appends follow the order the calls start in (the contract
// of net::request_handler, as for one Kafka connection).
awaitable<void> send_chunk(context& ctx, const std::shared_ptr<pipeline>& p, const std::string& topic, chunk& c) {
    if (c.builders.empty()) co_return;
    auto call = std::make_shared<in_flight>();
    pm::produce_request request;
    request.acks = -1;
    request.timeout_ms = 30000;
    auto& t = request.topic_data.emplace_back();
    t.name = topic;
    for (auto& [partition, builder] : c.builders) {
        auto built = builder.build();
        if (!built) throw rest_error(500, 50002, "could not build a record batch");
        auto owner = std::make_shared<std::vector<uint8_t>>(std::move(built).value());
        auto& pd = t.partition_data.emplace_back();
        pd.index = partition;
        pd.records = protocol::records::from_memory(*owner, owner);
        call->batches[partition] = std::move(owner);
    }
    call->members = std::move(c.members);
    c = chunk{};
    auto executor = co_await boost::asio::this_coro::executor;
    p->calls.push_back(call);
    boost::asio::co_spawn(
        executor, send_produce(ctx.kafka, std::move(request)),
        [&ctx, p, call, topic, executor](std::exception_ptr e, pm::produce_response response) {
            const auto finish = [p, call](std::exception_ptr error) {
                if (error) call->error = error;
                call->batches.clear();
                call->done = true;
                p->wake.cancel();
            };
            if (e) return finish(e);
            call->response = std::move(response);
            std::vector<int32_t> elsewhere;
            for (const auto& tr : call->response->responses)
                for (const auto& pr : tr.partition_responses)
                    if (pr.error_code == kafka_error_code(kafka_error::not_leader_or_follower) &&
                        call->members.contains(pr.index))
                        elsewhere.push_back(pr.index);
            if (elsewhere.empty() || !ctx.peers) return finish(nullptr);
            boost::asio::co_spawn(executor, forward(ctx, p, call, topic, std::move(elsewhere)), finish);
        });
    // Let the call start (hand its batches over) before parsing on.
    co_await boost::asio::post(executor, boost::asio::use_awaitable);
}

// Offsets (or errors) of a completed call into the deliveries.
void settle(const in_flight& call, std::vector<delivery>& deliveries) {
    if (call.error) std::rethrow_exception(call.error);
    for (const auto& tr : call.response->responses)
        for (const auto& pr : tr.partition_responses) {
            const auto found = call.members.find(pr.index);
            if (found == call.members.end()) continue;
            for (size_t k = 0; k < found->second.size(); ++k) {
                auto& d = deliveries[found->second[k]];
                if (pr.error_code != 0) {
                    try {
                        throw_kafka(pr.error_code, pr.error_message);
                    } catch (const rest_error& e) {
                        d.error = e;
                    }
                    continue;
                }
                d.offset = pr.base_offset + int64_t(k);
                d.log_append_time = pr.log_append_time_ms;
            }
        }
}

awaitable<http::response> produce(context& ctx, const http::request& request, const path_params& p) {
    auto m = co_await ctx.cluster(p[0], one_topic(p[1]));
    int32_t partitions = 0;
    for (const auto& t : m.topics)
        if (t.name && *t.name == p[1]) {
            if (t.error_code != 0) throw_kafka(t.error_code);
            partitions = int32_t(t.partitions.size());
        }
    if (partitions == 0) throw rest_error(404, 40403, "This server does not host this topic-partition.");
    const auto texts = split_concatenated(request.body);
    if (texts.empty()) throw rest_error(400, 400, "Request body is empty; a JSON record is expected");
    const bool single = texts.size() == 1;
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const int32_t sticky = int32_t(sticky_counter++ % uint32_t(partitions));
    // Negotiated before the first chunk: a call that has to ask ApiVersions
    // first would suspend before its append, out of order.
    co_await ctx.kafka.version_for(protocol::api_key::produce, 9);

    std::vector<delivery> deliveries(texts.size());
    record_parser parser;
    chunk current;
    auto calls = std::make_shared<pipeline>(co_await boost::asio::this_coro::executor);
    // Every call sent is waited for before this returns, also when it throws.
    std::exception_ptr failure;
    try {
        for (size_t i = 0; i < texts.size(); ++i) {
            auto& d = deliveries[i];
            const parsed_record* r = nullptr;
            try {
                r = &parser.parse(texts[i], now);
                d.partition = r->partition;
                if (d.partition < 0)
                    d.partition = r->key ? murmur2(*r->key) % partitions : sticky;
                else if (d.partition >= partitions)
                    throw rest_error(404, 40402, "Partition not found.");
            } catch (const rest_error& e) {
                if (single) throw;
                d.error = e;
                continue;
            }
            d.timestamp = r->timestamp;
            d.key_type = r->key_type;
            d.value_type = r->value_type;
            d.key_size = r->key ? int64_t(r->key->size()) : -1;
            d.value_size = r->value ? int64_t(r->value->size()) : -1;
            size_t size = (r->key ? r->key->size() : 0) + (r->value ? r->value->size() : 0) + 64;
            for (const auto& h : r->headers) size += h.key.size() + (h.value ? h.value->size() : 0) + 8;
            if (current.bytes > 0 && current.bytes + size > chunk_bytes) {
                if (calls->calls.size() >= max_in_flight) {
                    co_await wait_for(*calls, *calls->calls.front());
                    settle(*calls->calls.front(), deliveries);
                    calls->calls.pop_front();
                }
                co_await send_chunk(ctx, calls, p[1], current);
            }
            current.builders[d.partition].append(r->timestamp, r->key, r->value, r->headers);
            current.members[d.partition].push_back(i);
            current.bytes += size;
        }
        co_await send_chunk(ctx, calls, p[1], current);
    } catch (...) {
        failure = std::current_exception();
    }
    while (!calls->calls.empty()) {
        co_await wait_for(*calls, *calls->calls.front());
        if (!failure) {
            try {
                settle(*calls->calls.front(), deliveries);
            } catch (...) {
                failure = std::current_exception();
            }
        }
        calls->calls.pop_front();
    }
    if (failure) std::rethrow_exception(failure);
    if (single && deliveries.front().error) throw *deliveries.front().error;

    report_writer writer(p[0], p[1]);
    std::string body;
    body.reserve(deliveries.size() * 240);
    for (const auto& d : deliveries) {
        writer.write(body, d);
        if (!single) body += '\n';
    }
    http::response out;
    out.content_type = "application/json";
    out.body = std::move(body);
    co_return out;
}

json bytes_json(const std::optional<std::vector<uint8_t>>& bytes) {
    return bytes ? json(base64_encode(*bytes)) : json(nullptr);
}

// Strata's addition (Confluent's v3 has no read): records of one partition
// from an offset, or from the first record at or after a time (ms since the
// epoch: ListOffsets by timestamp, as a consumer's offsetsForTimes), keys,
// values and header values in base64.
awaitable<http::response> read_partition(context& ctx, const http::request& request, const path_params& p) {
    co_await ctx.cluster(p[0], no_topics());
    const auto query = parse_query(request.query);
    int32_t partition = 0;
    int64_t offset = 0;
    std::optional<int64_t> timestamp;
    size_t max_records = 50;
    try {
        partition = std::stoi(p[2]);
        if (query.count("offset")) offset = std::stoll(query.at("offset"));
        if (query.count("timestamp")) timestamp = std::stoll(query.at("timestamp"));
        if (query.count("max_records")) max_records = std::stoul(query.at("max_records"));
    } catch (const std::exception&) {
        throw rest_error(400, 42202, "Invalid partition, offset or timestamp");
    }
    if (timestamp && *timestamp < 0) throw rest_error(400, 42202, "Invalid timestamp: milliseconds since the epoch");
    if (timestamp) {
        // An unknown topic or partition is left out here, and refused by
        // the fetch below; no record that late reads from the end.
        const std::vector<topic_partition> wanted{{p[1], partition}};
        auto found = co_await offsets_at(ctx, wanted, *timestamp);
        if (auto it = found.find(wanted[0]); it != found.end() && it->second >= 0) {
            offset = it->second;
        } else if (it != found.end()) {
            auto end = co_await offsets_at(ctx, wanted, -1);
            if (auto e = end.find(wanted[0]); e != end.end()) offset = e->second;
        }
    }
    const std::map<topic_partition, int64_t> positions{{{p[1], partition}, offset}};
    auto fetched = co_await fetch_records(ctx, positions, 1 << 20, 0);
    for (const auto& [tp, error] : fetched.errors) throw_kafka(error);
    json data = json::array();
    for (const auto& r : fetched.records) {
        if (data.size() >= max_records) break;
        json headers = json::array();
        for (const auto& [name, value] : r.headers) headers.push_back({{"name", name}, {"value", bytes_json(value)}});
        data.push_back({{"partition_id", r.partition}, {"offset", r.offset}, {"timestamp", r.timestamp},
                        {"key", bytes_json(r.key)}, {"value", bytes_json(r.value)}, {"headers", headers}});
    }
    const auto hw = fetched.high_watermarks.find({p[1], partition});
    co_return json_response(200, {{"kind", "StrataRecordList"}, {"topic_name", p[1]}, {"partition_id", partition},
                                  {"high_watermark", hw == fetched.high_watermarks.end() ? json(nullptr) : json(hw->second)},
                                  {"data", data}});
}

}  // namespace

void add_v3_produce_routes(std::vector<route>& routes) {
    routes.push_back({"POST", "/v3/clusters/{}/topics/{}/records", produce});
    routes.push_back({"GET", "/v3/clusters/{}/topics/{}/partitions/{}/records", read_partition});
}

}  // namespace strata::rest
