// Decode and encode of the hot messages at their newest versions: Produce
// with one 1 MiB batch (whose records are never copied), Fetch request and
// response, Metadata response for 100 topics x 10 partitions.
#include <benchmark/benchmark.h>

#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/metadata_response.h"
#include "strata/protocol/messages/produce_request.h"

namespace {

using namespace strata::protocol;

template <typename M>
std::vector<uint8_t> encode(const M& m, int16_t v) {
    encoded_output out;
    out.bytes.reserve(m.size(v));
    writer w(out);
    m.encode(w, v);
    return std::move(out.bytes);
}

const std::vector<uint8_t>& megabyte() {
    static const std::vector<uint8_t> payload(1 << 20, 0x42);
    return payload;
}

messages::produce_request produce_1mib() {
    messages::produce_request p;
    p.acks = -1;
    p.timeout_ms = 30000;
    auto& t = p.topic_data.emplace_back();
    t.name = "bench-topic";
    auto& part = t.partition_data.emplace_back();
    part.records = records::from_memory(megabyte());
    return p;
}

messages::fetch_request fetch_request_50() {
    messages::fetch_request f;
    f.max_wait_ms = 500;
    f.min_bytes = 1;
    for (int t = 0; t < 5; ++t) {
        auto& topic = f.topics.emplace_back();
        topic.topic_id = uuid::random();
        for (int p = 0; p < 10; ++p) {
            auto& part = topic.partitions.emplace_back();
            part.partition = p;
            part.fetch_offset = 123456789;
            part.partition_max_bytes = 1 << 20;
        }
    }
    return f;
}

messages::metadata_response metadata_1000() {
    messages::metadata_response m;
    for (int b = 0; b < 3; ++b) {
        auto& broker = m.brokers.emplace_back();
        broker.node_id = b;
        broker.host = "broker-" + std::to_string(b) + ".example.com";
        broker.port = 9092;
    }
    for (int t = 0; t < 100; ++t) {
        auto& topic = m.topics.emplace_back();
        topic.name = "topic-" + std::to_string(t);
        topic.topic_id = uuid::random();
        for (int p = 0; p < 10; ++p) {
            auto& part = topic.partitions.emplace_back();
            part.partition_index = p;
            part.leader_id = p % 3;
            part.replica_nodes = {0, 1, 2};
            part.isr_nodes = {0, 1, 2};
        }
    }
    return m;
}

void produce_decode(benchmark::State& state) {
    auto bytes = encode(produce_1mib(), 11);
    for (auto _ : state) {
        reader r(bytes);
        messages::produce_request p;
        p.decode(r, 11);
        benchmark::DoNotOptimize(p);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
}
BENCHMARK(produce_decode);

void produce_encode(benchmark::State& state) {
    auto p = produce_1mib();
    for (auto _ : state) benchmark::DoNotOptimize(encode(p, 11));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * p.size(11)));
}
BENCHMARK(produce_encode);

void fetch_request_decode(benchmark::State& state) {
    auto bytes = encode(fetch_request_50(), 17);
    for (auto _ : state) {
        reader r(bytes);
        messages::fetch_request f;
        f.decode(r, 17);
        benchmark::DoNotOptimize(f);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(fetch_request_decode);

void fetch_response_encode_file_regions(benchmark::State& state) {
    // 50 partitions each carrying a 1 MiB file region: the encoder writes
    // only the framing; the records go by sendfile.
    messages::fetch_response resp;
    auto& topic = resp.responses.emplace_back();
    topic.topic_id = uuid::random();
    for (int p = 0; p < 50; ++p) {
        auto& part = topic.partitions.emplace_back();
        part.partition_index = p;
        part.high_watermark = 1000;
        part.records = records::from_file(file_region{3, static_cast<uint64_t>(p) << 20, 1 << 20, nullptr});
    }
    for (auto _ : state) {
        encoded_output out;
        writer w(out);
        resp.encode(w, 17);
        benchmark::DoNotOptimize(out);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(fetch_response_encode_file_regions);

void metadata_response_encode(benchmark::State& state) {
    auto m = metadata_1000();
    for (auto _ : state) benchmark::DoNotOptimize(encode(m, 12));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(metadata_response_encode);

void metadata_response_decode(benchmark::State& state) {
    auto bytes = encode(metadata_1000(), 12);
    for (auto _ : state) {
        reader r(bytes);
        messages::metadata_response m;
        m.decode(r, 12);
        benchmark::DoNotOptimize(m);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(metadata_response_decode);

}  // namespace
