#include "strata/protocol/crc32c.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "crc32c_paths.h"

namespace strata::protocol {
namespace {

using crc32c_detail::extend_fn;

struct implementation {
    std::string name;
    extend_fn extend;
};

// crc32c_extend and every path this CPU can run (the portable one always).
std::vector<implementation> implementations() {
    std::vector<implementation> all{{"dispatch", &crc32c_extend}};
    for (const auto& path : crc32c_detail::paths())
        if (path.supported) all.push_back({path.name, path.extend});
    return all;
}

// The paths that are compared against the portable one.
std::vector<implementation> accelerated() {
    std::vector<implementation> all;
    for (const auto& path : crc32c_detail::paths())
        if (path.supported && path.extend != &crc32c_detail::extend_portable) all.push_back({path.name, path.extend});
    return all;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> out(n);
    for (auto& b : out) b = static_cast<uint8_t>(rng());
    return out;
}

TEST(crc32c, lists_every_path) {
    std::vector<std::string> names;
    for (const auto& path : crc32c_detail::paths()) names.push_back(path.name);
    EXPECT_EQ(names, (std::vector<std::string>{"portable", "pclmul", "sse4.2", "avx512-vpclmul"}));
    EXPECT_TRUE(crc32c_detail::paths()[0].supported);
    for (const auto& impl : implementations()) std::cout << "[ supported ] " << impl.name << "\n";
}

// RFC 3720 appendix B.4 and the usual check value.
TEST(crc32c, published_vectors) {
    std::vector<uint8_t> zeros(32, 0x00);
    std::vector<uint8_t> ones(32, 0xff);
    std::vector<uint8_t> ascending(32);
    std::iota(ascending.begin(), ascending.end(), uint8_t{0});
    std::vector<uint8_t> descending(ascending.rbegin(), ascending.rend());
    std::string_view check = "123456789";
    std::span<const uint8_t> check_bytes(reinterpret_cast<const uint8_t*>(check.data()), check.size());

    for (const auto& impl : implementations()) {
        SCOPED_TRACE(impl.name);
        EXPECT_EQ(impl.extend(0, zeros), 0x8A9136AAu);
        EXPECT_EQ(impl.extend(0, ones), 0x62A8AB43u);
        EXPECT_EQ(impl.extend(0, ascending), 0x46DD794Eu);
        EXPECT_EQ(impl.extend(0, descending), 0x113FDB5Cu);
        EXPECT_EQ(impl.extend(0, check_bytes), 0xE3069283u);
        EXPECT_EQ(impl.extend(0, {}), 0u);
        EXPECT_EQ(impl.extend(0x12345678, {}), 0x12345678u);
    }
    EXPECT_EQ(crc32c(check), 0xE3069283u);
}

// Long runs of 0x00 and 0xff bytes, past the folding threshold, with a zero
// initial CRC: the simplest inputs on which a wrong fold constant shows.
TEST(crc32c, long_zeros_and_ones) {
    for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xff}}) {
        for (size_t n : {size_t{256}, size_t{2048}, size_t{65536}}) {
            std::vector<uint8_t> data(n, fill);
            const uint32_t expected = crc32c_detail::extend_portable(0, data);
            for (const auto& impl : implementations())
                EXPECT_EQ(impl.extend(0, data), expected) << impl.name << " fill " << int{fill} << " n " << n;
        }
    }
}

// Every length from 0 to 2048 (the short-input cutovers at 160 and 256 bytes,
// the 16-, 64- and 256-byte folds, every tail) at every offset 0..63 into the buffer (so
// every alignment of the 64-byte loads), with a random initial CRC.
TEST(crc32c, paths_match_portable_on_every_short_length) {
    auto paths = accelerated();
    if (paths.empty()) GTEST_SKIP() << "only the portable path on this CPU";
    std::mt19937 rng(42);
    const auto buffer = random_bytes(2048 + 64, 1);
    std::span<const uint8_t> all(buffer);
    for (size_t offset = 0; offset < 64; ++offset) {
        for (size_t length = 0; length <= 2048; ++length) {
            auto piece = all.subspan(offset, length);
            const uint32_t seed = static_cast<uint32_t>(rng());
            const uint32_t expected = crc32c_detail::extend_portable(seed, piece);
            for (const auto& impl : paths)
                ASSERT_EQ(impl.extend(seed, piece), expected)
                    << impl.name << " offset " << offset << " length " << length << " seed " << seed;
        }
    }
}

// Random lengths up to 1 MiB (several long and short rounds of the SSE4.2
// streams, many 256-byte folds) at random offsets, with random initial CRCs.
TEST(crc32c, paths_match_portable_on_random_long_input) {
    auto paths = accelerated();
    if (paths.empty()) GTEST_SKIP() << "only the portable path on this CPU";
    std::mt19937_64 rng(7);
    const auto buffer = random_bytes((1 << 20) + 64, 2);
    std::span<const uint8_t> all(buffer);
    for (int round = 0; round < 60; ++round) {
        const size_t offset = rng() % 64;
        const size_t length = rng() % ((1 << 20) + 1);
        const uint32_t seed = static_cast<uint32_t>(rng());
        auto piece = all.subspan(offset, length);
        const uint32_t expected = crc32c_detail::extend_portable(seed, piece);
        for (const auto& impl : paths)
            ASSERT_EQ(impl.extend(seed, piece), expected)
                << impl.name << " offset " << offset << " length " << length << " seed " << seed;
    }
    // Exactly 1 MiB, and the SSE4.2 block boundaries (3 x 8192, 3 x 256).
    for (size_t length : {size_t{1} << 20, size_t{768}, size_t{767}, size_t{769}, size_t{24576}, size_t{24575},
                          size_t{24577}}) {
        auto piece = all.first(length);
        const uint32_t expected = crc32c_detail::extend_portable(0, piece);
        for (const auto& impl : paths) ASSERT_EQ(impl.extend(0, piece), expected) << impl.name << " " << length;
    }
}

// crc32c_extend over a buffer cut in pieces equals the one-shot CRC, whichever
// path each piece's length takes (pieces short and long, split anywhere).
TEST(crc32c, extend_over_split_buffers_equals_whole) {
    const auto data = random_bytes(300000, 3);
    std::span<const uint8_t> all(data);
    const uint32_t whole = crc32c_detail::extend_portable(0, all);
    for (const auto& impl : implementations()) {
        SCOPED_TRACE(impl.name);
        EXPECT_EQ(impl.extend(0, all), whole);
        for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{255}, size_t{256}, size_t{257}, size_t{8193},
                             size_t{150000}, data.size()}) {
            EXPECT_EQ(impl.extend(impl.extend(0, all.first(split)), all.subspan(split)), whole) << split;
        }
        // Many random pieces.
        std::mt19937 rng(11);
        for (int round = 0; round < 5; ++round) {
            uint32_t crc = 0;
            for (size_t at = 0; at < data.size();) {
                size_t piece = std::min<size_t>(data.size() - at, rng() % (round % 2 ? 600 : 40000));
                crc = impl.extend(crc, all.subspan(at, piece));
                at += piece;
            }
            EXPECT_EQ(crc, whole) << "round " << round;
        }
    }
    EXPECT_EQ(crc32c_extend(crc32c(all.first(1000)), all.subspan(1000)), crc32c(all));
}

}  // namespace
}  // namespace strata::protocol

namespace strata::protocol {
namespace {

// crc32c_combine(crc(a), crc(b), |b|) is crc(a || b) for every split,
// including empty halves and lengths across several powers of two.
TEST(crc32c_combine, equals_the_crc_of_the_concatenation) {
    std::mt19937_64 rng(7);
    for (size_t total : {0, 1, 61, 100, 4096, 100'000}) {
        std::vector<uint8_t> data(total);
        for (auto& b : data) b = uint8_t(rng());
        for (size_t split : {size_t{0}, total / 3, total}) {
            std::span<const uint8_t> all(data), a = all.first(split), b = all.subspan(split);
            EXPECT_EQ(crc32c_combine(crc32c(a), crc32c(b), b.size()), crc32c(all)) << total << "/" << split;
        }
    }
}

}  // namespace
}  // namespace strata::protocol
