#include "strata/protocol/crc32c.h"

#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <vector>

namespace strata::protocol {
namespace {

using extend_fn = uint32_t (*)(uint32_t, std::span<const uint8_t>);

struct implementation {
    const char* name;
    extend_fn extend;
};

std::vector<implementation> implementations() {
    std::vector<implementation> all{{"dispatch", &crc32c_extend}, {"portable", &crc32c_extend_portable}};
    if (crc32c_hardware_available()) all.push_back({"hardware", &crc32c_extend_hardware});
    return all;
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

    for (auto impl : implementations()) {
        SCOPED_TRACE(impl.name);
        EXPECT_EQ(impl.extend(0, zeros), 0x8A9136AAu);
        EXPECT_EQ(impl.extend(0, ones), 0x62A8AB43u);
        EXPECT_EQ(impl.extend(0, ascending), 0x46DD794Eu);
        EXPECT_EQ(impl.extend(0, descending), 0x113FDB5Cu);
        EXPECT_EQ(impl.extend(0, check_bytes), 0xE3069283u);
        EXPECT_EQ(impl.extend(0, {}), 0u);
    }
    EXPECT_EQ(crc32c(check), 0xE3069283u);
}

TEST(crc32c, extend_equals_whole) {
    std::vector<uint8_t> data(100000);
    std::mt19937 rng(7);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    const uint32_t whole = crc32c(data);
    for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{255}, size_t{8193}, size_t{50000}, data.size()}) {
        std::span<const uint8_t> all(data);
        EXPECT_EQ(crc32c_extend(crc32c(all.first(split)), all.subspan(split)), whole) << split;
    }
}

// The hardware path has three regimes (24 KiB blocks, 768 B blocks, words,
// bytes); every length up to past two long rounds, at every alignment, must
// agree with the table.
TEST(crc32c, hardware_matches_portable_on_random_input) {
    if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2";
    std::mt19937 rng(42);
    std::vector<uint8_t> buffer(3 * 8192 * 2 + 3 * 256 + 64);
    for (auto& b : buffer) b = static_cast<uint8_t>(rng());
    std::span<const uint8_t> all(buffer);
    for (size_t offset = 0; offset < 8; ++offset) {
        for (size_t length = 0; length + offset <= buffer.size(); length += (length < 1024 ? 1 : 97)) {
            auto piece = all.subspan(offset, length);
            uint32_t seed = static_cast<uint32_t>(rng());
            ASSERT_EQ(crc32c_extend_hardware(seed, piece), crc32c_extend_portable(seed, piece))
                << "offset " << offset << " length " << length;
        }
    }
    // Exactly at the block boundaries.
    for (size_t length : {size_t{768}, size_t{767}, size_t{769}, size_t{24576}, size_t{24575}, size_t{24577}}) {
        auto piece = all.first(length);
        ASSERT_EQ(crc32c_extend_hardware(0, piece), crc32c_extend_portable(0, piece)) << length;
    }
}

}  // namespace
}  // namespace strata::protocol
