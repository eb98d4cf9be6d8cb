// CRC-32C and record-batch validation throughput on 1 MiB, printed beside
// memcpy on the same buffers: the produce path checksums every byte it
// stores, so the CRC should cost a fraction of a copy.
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crc32c_paths.h"
#include "strata/protocol/crc32c.h"
#include "strata/protocol/record_batch.h"

namespace strata::protocol {
namespace {

constexpr size_t mebibyte = 1 << 20;

std::vector<uint8_t> random_bytes(size_t n) {
    std::mt19937_64 rng(1);
    std::vector<uint8_t> out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng());
    return out;
}

void bm_memcpy(benchmark::State& state) {
    auto src = random_bytes(mebibyte);
    std::vector<uint8_t> dst(mebibyte);
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), src.size());
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * src.size()));
}
BENCHMARK(bm_memcpy);

// Every CRC-32C path on 1 MiB (those the CPU lacks report an error), then
// on 4 KiB, where the setup of the folds shows. crc32c_extend runs the last
// supported one.
void bm_crc32c(benchmark::State& state, size_t path_index) {
    const auto& path = crc32c_detail::paths()[path_index];
    if (!path.supported) {
        state.SkipWithError("not supported on this CPU");
        return;
    }
    auto data = random_bytes(static_cast<size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(path.extend(0, data));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

[[maybe_unused]] const bool crc32c_benchmarks_registered = [] {
    for (size_t i = 0; i < crc32c_detail::paths().size(); ++i)
        benchmark::RegisterBenchmark((std::string("bm_crc32c/") + crc32c_detail::paths()[i].name).c_str(),
                                     bm_crc32c, i)
            ->Arg(mebibyte)
            ->Arg(4096)
            ->Arg(256);
    return true;
}();

// A batch of about 1 MiB: 1000 records of 1 KiB values, like a producer
// with batch.size=1MiB and 1 KB records.
std::vector<uint8_t> one_mebibyte_batch(compression_codec codec) {
    record_batch_options options;
    options.compression = codec;
    record_batch_builder builder(options);
    std::mt19937 rng(2);
    std::string value(1000, ' ');
    for (int i = 0; i < 1000; ++i) {
        for (auto& c : value) c = static_cast<char>('a' + rng() % 8);  // compressible, not trivially
        std::string key = "key-" + std::to_string(i);
        builder.append(1700000000000 + i, bytes_view(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                       bytes_view(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
    return builder.build().value();
}

// What the produce path does to every batch: framing, header checks, CRC.
void bm_validate_batch(benchmark::State& state) {
    auto batch = one_mebibyte_batch(compression_codec::none);
    produce_validation_options options;
    for (auto _ : state) benchmark::DoNotOptimize(validate_produce_records(batch, options).has_value());
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
}
BENCHMARK(bm_validate_batch);

// The same with every record decoded (what a compacted topic needs).
void bm_validate_batch_records(benchmark::State& state) {
    auto codec = static_cast<compression_codec>(state.range(0));
    auto batch = one_mebibyte_batch(codec);
    produce_validation_options options;
    options.verify_records = true;
    for (auto _ : state) benchmark::DoNotOptimize(validate_produce_records(batch, options).has_value());
    state.SetLabel(std::string(compression_codec_name(codec)) + ", " + std::to_string(batch.size()) + " bytes");
    // Throughput in uncompressed bytes, so that codecs compare.
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * one_mebibyte_batch(compression_codec::none).size()));
}
BENCHMARK(bm_validate_batch_records)
    ->Arg(static_cast<int>(compression_codec::none))
    ->Arg(static_cast<int>(compression_codec::lz4))
    ->Arg(static_cast<int>(compression_codec::zstd));

}  // namespace
}  // namespace strata::protocol

BENCHMARK_MAIN();
