// strata perf produce | consume: throughput (and produce latency
// percentiles) against a topic, with a live progress line on stderr.
//
// perf produce keeps `--in-flight` produce requests outstanding per
// partition leader, each carrying one batch of records to one partition
// (round-robin). A record's latency is its request's round trip: records are
// built into a batch at once, so there is no linger time to add.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <random>

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "ops.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/metadata_request.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/produce_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::cli {

namespace pm = protocol::messages;
namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using steady = std::chrono::steady_clock;

namespace {

double seconds_since(steady::time_point start) {
    return std::chrono::duration<double>(steady::now() - start).count();
}

// Prints the live progress line: rewritten in place on a terminal, one line
// per interval otherwise.
class progress_line {
public:
    progress_line() : _tty(isatty(STDERR_FILENO)) {}
    void show(const std::string& text) {
        if (_tty) {
            std::fprintf(stderr, "\r\033[K%s", text.c_str());
        } else {
            std::fprintf(stderr, "%s\n", text.c_str());
        }
        std::fflush(stderr);
        _shown = true;
    }
    void finish() {
        if (_tty && _shown) std::fprintf(stderr, "\r\033[K");
    }

private:
    bool _tty;
    bool _shown = false;
};

std::string human_bytes_per_second(double bytes_per_second) {
    return fmt::format("{:.2f} MiB/s", bytes_per_second / (1024.0 * 1024.0));
}

// ---- perf produce -------------------------------------------------------------------

struct perf_produce_args {
    std::string topic;
    int64_t records = 100000;
    int record_size = 100;
    int64_t throughput = -1;
    std::string acks = "all";
    int batch_bytes = 65536;
    std::string compression = "none";
    int in_flight = 5;
    int interval_ms = 1000;
};

struct produce_state {
    perf_produce_args args;
    int16_t acks = -1;
    int timeout_ms = 30000;
    protocol::compression_codec codec = protocol::compression_codec::none;
    std::vector<uint8_t> payload;
    std::vector<int32_t> partitions;
    std::map<int32_t, int32_t> leader;
    std::map<int32_t, std::shared_ptr<net::client_connection>> connections;
    std::map<int32_t, int16_t> versions;
    int64_t records_per_batch = 1;

    int64_t next_record = 0;  // records handed to workers
    int64_t acked = 0;
    int64_t acked_bytes = 0;
    size_t next_partition = 0;
    int workers_running = 0;
    std::vector<double> latencies_ms;  // one entry per batch, weighted below
    std::vector<int64_t> batch_sizes;
    std::optional<cli_error> failure;
    steady::time_point start;
    bool done = false;
};

asio::awaitable<void> produce_worker(std::shared_ptr<produce_state> s) {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer pacer(executor);
    while (!s->failure && s->next_record < s->args.records) {
        const int64_t count = std::min(s->records_per_batch, s->args.records - s->next_record);
        s->next_record += count;
        if (s->args.throughput > 0) {
            // Pace to the target rate: this batch may start once the records before it are due.
            const double due = static_cast<double>(s->next_record - count) / static_cast<double>(s->args.throughput);
            const auto at = s->start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(due));
            if (at > steady::now()) {
                pacer.expires_at(at);
                boost::system::error_code ignored;
                co_await pacer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            }
        }
        const int32_t partition = s->partitions[s->next_partition++ % s->partitions.size()];
        protocol::record_batch_options options;
        options.compression = s->codec;
        protocol::record_batch_builder builder(options);
        const int64_t now = now_ms();
        for (int64_t i = 0; i < count; ++i) builder.append(now, std::nullopt, protocol::bytes_view(s->payload));
        auto built = builder.build();
        if (!built) {
            s->failure = cli_error(fmt::format("could not build a batch: {}", built.error()));
            break;
        }
        auto batch = std::make_shared<std::vector<uint8_t>>(std::move(built.value()));
        pm::produce_request request;
        request.acks = s->acks;
        request.timeout_ms = s->timeout_ms;
        pm::produce_request::topic_produce_data topic;
        topic.name = s->args.topic;
        pm::produce_request::partition_produce_data data;
        data.index = partition;
        data.records = protocol::records::from_memory(*batch, batch);
        topic.partition_data.push_back(std::move(data));
        request.topic_data.push_back(std::move(topic));
        const int32_t leader = s->leader[partition];
        auto connection = s->connections[leader];
        const auto sent = steady::now();
        if (s->acks == 0) {
            protocol::encoded_output body;
            protocol::writer w(body);
            request.encode(w, s->versions[leader]);
            co_await connection->request(protocol::api_key::produce, s->versions[leader], std::move(body),
                                         std::chrono::milliseconds(1));
        } else {
            auto answer = co_await connection->call<pm::produce_response>(std::move(request), s->versions[leader],
                                                                          std::chrono::milliseconds(s->timeout_ms));
            if (!answer) {
                s->failure =
                    cli_error(fmt::format("produce to broker {} failed: {}", leader, net::to_string(answer.error())),
                              "check that the broker is running");
                break;
            }
            for (const auto& t : answer.value().responses)
                for (const auto& p : t.partition_responses)
                    if (p.error_code != 0 && !s->failure) {
                        try {
                            throw_kafka_error(p.error_code, fmt::format("producing to {}-{}", t.name, p.index),
                                              p.error_message);
                        } catch (const cli_error& e) {
                            s->failure = e;
                        }
                    }
            if (s->failure) break;
        }
        s->latencies_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - sent).count());
        s->batch_sizes.push_back(count);
        s->acked += count;
        s->acked_bytes += count * static_cast<int64_t>(s->payload.size());
    }
    if (--s->workers_running == 0) s->done = true;
}

// Latency percentiles over records: each batch's latency counts once per record.
json latency_summary(const std::vector<double>& latencies, const std::vector<int64_t>& weights) {
    std::vector<std::pair<double, int64_t>> points;
    int64_t total = 0;
    double sum = 0;
    for (size_t i = 0; i < latencies.size(); ++i) {
        points.emplace_back(latencies[i], weights[i]);
        total += weights[i];
        sum += latencies[i] * static_cast<double>(weights[i]);
    }
    std::sort(points.begin(), points.end());
    auto percentile = [&](double q) {
        if (points.empty()) return 0.0;
        const auto rank = static_cast<int64_t>(q * static_cast<double>(total - 1));
        int64_t seen = 0;
        for (const auto& [value, weight] : points) {
            seen += weight;
            if (seen > rank) return value;
        }
        return points.back().first;
    };
    auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
    return json{{"avg", round3(total ? sum / static_cast<double>(total) : 0.0)},
                {"p50", round3(percentile(0.50))},
                {"p95", round3(percentile(0.95))},
                {"p99", round3(percentile(0.99))},
                {"p999", round3(percentile(0.999))},
                {"max", round3(points.empty() ? 0.0 : points.back().first)}};
}

void perf_produce(const global_options& g, const perf_produce_args& a) {
    auto s = std::make_shared<produce_state>();
    s->args = a;
    s->timeout_ms = g.timeout_ms;
    if (a.acks == "all" || a.acks == "-1")
        s->acks = -1;
    else
        s->acks = static_cast<int16_t>(std::stoi(a.acks));
    if (a.compression == "gzip")
        s->codec = protocol::compression_codec::gzip;
    else if (a.compression == "snappy")
        s->codec = protocol::compression_codec::snappy;
    else if (a.compression == "lz4")
        s->codec = protocol::compression_codec::lz4;
    else if (a.compression == "zstd")
        s->codec = protocol::compression_codec::zstd;
    // Printable random bytes: compressible like real text, not like zeros.
    std::mt19937 rng(42);
    s->payload.resize(static_cast<size_t>(a.record_size));
    for (auto& b : s->payload) b = static_cast<uint8_t>('A' + rng() % 26);
    s->records_per_batch = std::max<int64_t>(1, a.batch_bytes / std::max(1, a.record_size));

    kafka_client client(g);
    auto md = client.topic_metadata(a.topic);
    s->partitions = partition_ids(md);
    for (int32_t p : s->partitions) {
        const int32_t leader = leader_of(md, p);
        s->leader[p] = leader;
        if (!s->connections.count(leader)) {
            s->connections[leader] = client.connection(leader);
            s->versions[leader] = client.version_of<pm::produce_request>(leader);
        }
    }
    s->start = steady::now();
    const int workers = std::max<int>(1, a.in_flight) * static_cast<int>(s->connections.size());
    s->workers_running = workers;
    for (int i = 0; i < workers; ++i) asio::co_spawn(client.io(), produce_worker(s), asio::detached);

    progress_line progress;
    auto next_report = steady::now() + std::chrono::milliseconds(a.interval_ms);
    int64_t last_acked = 0;
    auto last_time = steady::now();
    asio::steady_timer tick(client.io());
    bool ticked = false;
    auto arm = [&] {
        ticked = false;
        tick.expires_at(next_report);
        tick.async_wait([&](boost::system::error_code) { ticked = true; });
    };
    arm();
    while (!s->done) {
        client.run_until([&] { return s->done || ticked; });
        if (ticked) {
            const double dt = seconds_since(last_time);
            const int64_t delta = s->acked - last_acked;
            progress.show(fmt::format("{} records sent, {:.1f} records/s ({}), {:.1f}% done", s->acked,
                                      static_cast<double>(delta) / dt,
                                      human_bytes_per_second(static_cast<double>(delta * a.record_size) / dt),
                                      100.0 * static_cast<double>(s->acked) / static_cast<double>(a.records)));
            last_acked = s->acked;
            last_time = steady::now();
            next_report += std::chrono::milliseconds(a.interval_ms);
            arm();
        }
    }
    tick.cancel();
    client.run_until([&] { return ticked; });
    progress.finish();
    if (s->failure) throw *s->failure;
    if (s->acks == 0) {
        // Nothing answers acks=0: one round trip per connection, written after
        // every produce request, makes sure they all left before we exit.
        for (const auto& [leader, connection] : s->connections) {
            pm::metadata_request request;
            request.topics.emplace();
            client.call<pm::metadata_response>(leader, request);
        }
    }
    const double elapsed = seconds_since(s->start);
    auto latency = latency_summary(s->latencies_ms, s->batch_sizes);
    json doc{{"topic", a.topic},
             {"records", s->acked},
             {"record_size", a.record_size},
             {"bytes", s->acked_bytes},
             {"seconds", std::round(elapsed * 1000.0) / 1000.0},
             {"records_per_second", std::round(static_cast<double>(s->acked) / elapsed)},
             {"mib_per_second", std::round(static_cast<double>(s->acked_bytes) / elapsed / 1048576.0 * 100.0) / 100.0},
             {"acks", a.acks},
             {"compression", a.compression},
             {"latency_ms", s->acks == 0 ? json(nullptr) : latency}};
    if (g.format() == output_format::table && s->acks == 0) {
        std::cout << fmt::format(
            "{} records sent in {:.2f} s: {:.1f} records/s ({})\n"
            "latency: not measured with acks=0 (nothing is acknowledged)\n",
            s->acked, elapsed, static_cast<double>(s->acked) / elapsed,
            human_bytes_per_second(static_cast<double>(s->acked_bytes) / elapsed));
    } else if (g.format() == output_format::table) {
        std::cout << fmt::format(
            "{} records sent in {:.2f} s: {:.1f} records/s ({})\n"
            "latency ms: avg {:.2f}, p50 {:.2f}, p95 {:.2f}, p99 {:.2f}, p99.9 {:.2f}, max {:.2f}\n",
            s->acked, elapsed, static_cast<double>(s->acked) / elapsed,
            human_bytes_per_second(static_cast<double>(s->acked_bytes) / elapsed), latency["avg"].get<double>(),
            latency["p50"].get<double>(), latency["p95"].get<double>(), latency["p99"].get<double>(),
            latency["p999"].get<double>(), latency["max"].get<double>());
    } else {
        print_result(g, doc, {});
    }
}

// ---- perf consume -------------------------------------------------------------------

struct consume_args {
    std::string topic;
    int64_t records = -1;
    int interval_ms = 1000;
    int fetch_bytes = 8 << 20;
};

void perf_consume(const global_options& g, const consume_args& a) {
    kafka_client client(g);
    auto md = client.topic_metadata(a.topic);
    auto ids = partition_ids(md);
    auto start_offsets = list_offsets(client, md, ids, earliest_timestamp);
    auto end_offsets = list_offsets(client, md, ids, latest_timestamp);
    std::map<int32_t, int64_t> position;
    int64_t available = 0;
    for (int32_t p : ids) {
        position[p] = start_offsets[p].offset;
        available += end_offsets[p].offset - start_offsets[p].offset;
    }
    const int64_t target = a.records >= 0 ? a.records : available;
    int64_t consumed = 0, bytes = 0;
    std::vector<uint8_t> scratch;
    progress_line progress;
    const auto start = steady::now();
    auto last_time = start;
    int64_t last_consumed = 0;
    const auto idle_limit = std::chrono::milliseconds(std::max(g.timeout_ms, 1000));
    auto last_progress = steady::now();
    while (consumed < target) {
        std::map<int32_t, std::vector<int32_t>> by_leader;
        for (int32_t p : ids) by_leader[leader_of(md, p)].push_back(p);
        const int64_t before = consumed;
        for (const auto& [leader, parts] : by_leader) {
            pm::fetch_request request;
            request.replica_id = -1;
            request.max_wait_ms = 500;
            request.min_bytes = 1;
            request.max_bytes = 64 << 20;
            request.session_epoch = -1;
            pm::fetch_request::fetch_topic topic;
            topic.topic = a.topic;
            for (int32_t p : parts) {
                pm::fetch_request::fetch_partition fp;
                fp.partition = p;
                fp.fetch_offset = position[p];
                fp.partition_max_bytes = a.fetch_bytes;
                topic.partitions.push_back(fp);
            }
            request.topics.push_back(std::move(topic));
            auto response = client.call<pm::fetch_response>(leader, request);
            for (const auto& t : response.responses)
                for (const auto& pd : t.partitions) {
                    if (pd.error_code != 0)
                        throw_kafka_error(pd.error_code, fmt::format("fetching {}-{}", a.topic, pd.partition_index));
                    if (!pd.records) continue;
                    protocol::record_batch_sequence batches(pd.records->bytes());
                    for (;;) {
                        auto next = batches.next();
                        if (!next || !next.value()) break;
                        const auto& batch = *next.value();
                        if (batch.last_offset() < position[pd.partition_index]) continue;
                        if (!batch.is_control()) {
                            auto walked = protocol::for_each_record(
                                batch, 64 << 20, scratch, [&](const protocol::record_view& r) {
                                    if (batch.base_offset() + r.offset_delta < position[pd.partition_index]) return;
                                    if (consumed >= target) return;
                                    ++consumed;
                                    bytes += r.value ? static_cast<int64_t>(r.value->size()) : 0;
                                });
                            if (!walked) throw cli_error(fmt::format("corrupt batch: {}", walked.error()));
                        }
                        position[pd.partition_index] = batch.last_offset() + 1;
                    }
                }
        }
        if (consumed > before) {
            last_progress = steady::now();
        } else if (steady::now() - last_progress > idle_limit) {
            throw cli_error(
                fmt::format("no new records for {} ms after {} of {}", idle_limit.count(), consumed, target),
                "produce more records, or lower --records");
        }
        if (steady::now() - last_time >= std::chrono::milliseconds(a.interval_ms)) {
            const double dt = seconds_since(last_time);
            progress.show(
                fmt::format("{} records consumed, {:.1f} records/s, {:.1f}% done", consumed,
                            static_cast<double>(consumed - last_consumed) / dt,
                            target ? 100.0 * static_cast<double>(consumed) / static_cast<double>(target) : 100.0));
            last_consumed = consumed;
            last_time = steady::now();
        }
    }
    progress.finish();
    const double elapsed = std::max(seconds_since(start), 1e-6);
    json doc{{"topic", a.topic},
             {"records", consumed},
             {"bytes", bytes},
             {"seconds", std::round(elapsed * 1000.0) / 1000.0},
             {"records_per_second", std::round(static_cast<double>(consumed) / elapsed)},
             {"mib_per_second", std::round(static_cast<double>(bytes) / elapsed / 1048576.0 * 100.0) / 100.0}};
    if (g.format() == output_format::table) {
        std::cout << fmt::format("{} records consumed in {:.2f} s: {:.1f} records/s ({})\n", consumed, elapsed,
                                 static_cast<double>(consumed) / elapsed,
                                 human_bytes_per_second(static_cast<double>(bytes) / elapsed));
    } else {
        print_result(g, doc, {});
    }
}

}  // namespace

void add_perf_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* perf = app.add_subcommand("perf", "Measure produce and consume throughput and latency");
    perf->require_subcommand(1);
    perf->footer("Example:\n  strata perf produce bench -n 1000000 -s 100");

    auto pa = std::make_shared<perf_produce_args>();
    auto* p = perf->add_subcommand("produce", "Produce records as fast as allowed; report throughput and latency");
    p->add_option("topic", pa->topic, "Topic (must exist)")->required();
    p->add_option("-n,--records", pa->records, "How many records")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
    p->add_option("-s,--record-size", pa->record_size, "Value size in bytes")->check(CLI::Range(0, 16 << 20));
    p->add_option("-t,--throughput", pa->throughput, "Target records/s (-1: unlimited)");
    p->add_option("-a,--acks", pa->acks, "0, 1 or all")->check(CLI::IsMember({"0", "1", "all", "-1"}));
    p->add_option("--batch-bytes", pa->batch_bytes, "Bytes of values per batch")->check(CLI::Range(1, 64 << 20));
    p->add_option("-z,--compression", pa->compression, "Compression codec")
        ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
    p->add_option("--in-flight", pa->in_flight, "Outstanding requests per broker")->check(CLI::Range(1, 1000));
    p->add_option("--interval", pa->interval_ms, "Progress line interval (ms)")->check(CLI::Range(10, 3600000));
    p->footer("Example:\n  strata perf produce bench -n 1000000 -s 100 --acks all -z lz4");
    p->callback([global, pa] { perf_produce(*global, *pa); });

    auto ca = std::make_shared<consume_args>();
    auto* c = perf->add_subcommand("consume", "Consume a topic from the beginning; report throughput");
    c->add_option("topic", ca->topic, "Topic")->required();
    c->add_option("-n,--records", ca->records, "Stop after this many (default: what the topic holds now)");
    c->add_option("--fetch-bytes", ca->fetch_bytes, "Max bytes per partition per fetch")
        ->check(CLI::Range(1024, 256 << 20));
    c->add_option("--interval", ca->interval_ms, "Progress line interval (ms)")->check(CLI::Range(10, 3600000));
    c->footer("Example:\n  strata perf consume bench -n 1000000");
    c->callback([global, ca] { perf_consume(*global, *ca); });
}

}  // namespace strata::cli
