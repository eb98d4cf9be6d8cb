#include "strata/protocol/compression.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

namespace strata::protocol {
namespace {

constexpr compression_codec all_codecs[] = {compression_codec::none, compression_codec::gzip,
                                            compression_codec::snappy, compression_codec::lz4,
                                            compression_codec::zstd};
constexpr compression_codec real_codecs[] = {compression_codec::gzip, compression_codec::snappy,
                                             compression_codec::lz4, compression_codec::zstd};

// Text-like data that compresses, with some randomness so that it is not trivial.
std::vector<uint8_t> sample(size_t n, uint32_t seed = 1) {
    std::mt19937 rng(seed);
    static const std::string words[] = {"kafka ", "record ", "batch ", "offset ", "partition ", "leader ", "epoch "};
    std::vector<uint8_t> out;
    out.reserve(n + 16);
    while (out.size() < n) {
        const auto& w = words[rng() % std::size(words)];
        out.insert(out.end(), w.begin(), w.end());
        if (rng() % 8 == 0) out.push_back(static_cast<uint8_t>(rng()));
    }
    out.resize(n);
    return out;
}

std::vector<uint8_t> compressed(compression_codec codec, std::span<const uint8_t> input,
                                compression_options options = {}) {
    std::vector<uint8_t> out;
    auto r = compress(codec, input, out, options);
    EXPECT_TRUE(r.has_value()) << compression_codec_name(codec);
    return out;
}

TEST(compression, codec_ids_and_names) {
    for (int id = 0; id <= 4; ++id) {
        auto codec = compression_codec_from_id(id);
        ASSERT_TRUE(codec.has_value());
        EXPECT_EQ(static_cast<int>(*codec), id);
    }
    EXPECT_FALSE(compression_codec_from_id(5).has_value());
    EXPECT_FALSE(compression_codec_from_id(-1).has_value());
    EXPECT_EQ(compression_codec_name(compression_codec::zstd), "zstd");
    std::vector<uint8_t> out;
    auto r = decompress(static_cast<compression_codec>(6), std::vector<uint8_t>{1, 2, 3}, 100, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), compression_error::unsupported_codec);
}

TEST(compression, round_trips_every_codec_and_size) {
    for (auto codec : all_codecs) {
        for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{32 * 1024}, size_t{32 * 1024 + 1},
                         size_t{300 * 1000}}) {
            SCOPED_TRACE(std::string(compression_codec_name(codec)) + " " + std::to_string(n));
            auto input = sample(n, static_cast<uint32_t>(n));
            auto packed = compressed(codec, input);
            if (codec != compression_codec::none && n >= 32 * 1024) {
                EXPECT_LT(packed.size(), input.size());
            }
            auto unpacked = decompress(codec, packed, n);
            ASSERT_TRUE(unpacked.has_value()) << compression_error_message(unpacked.error());
            EXPECT_EQ(unpacked.value(), input);
        }
    }
}

TEST(compression, levels_round_trip) {
    auto input = sample(100000);
    for (auto codec : real_codecs) {
        for (int level : {-5, 1, 9, 12, 30}) {
            auto packed = compressed(codec, input, {level});
            auto unpacked = decompress(codec, packed, input.size());
            ASSERT_TRUE(unpacked.has_value()) << compression_codec_name(codec) << " level " << level;
            EXPECT_EQ(unpacked.value(), input);
        }
    }
}

TEST(compression, decompress_appends_and_keeps_output_on_failure) {
    auto input = sample(5000);
    for (auto codec : all_codecs) {
        auto packed = compressed(codec, input);
        std::vector<uint8_t> out = {9, 9, 9};
        ASSERT_TRUE(decompress(codec, packed, input.size(), out));
        ASSERT_EQ(out.size(), input.size() + 3);
        EXPECT_TRUE(std::equal(input.begin(), input.end(), out.begin() + 3));

        std::vector<uint8_t> kept = {7, 7};
        auto r = decompress(codec, packed, input.size() - 1, kept);
        ASSERT_FALSE(r) << compression_codec_name(codec);
        EXPECT_EQ(r.error(), compression_error::output_too_large);
        EXPECT_EQ(kept, (std::vector<uint8_t>{7, 7}));
    }
}

// 64 MiB of zeros shrink to at most a few MiB; decompressing with a 1 MiB
// bound must stop at the bound without allocating for the rest.
TEST(compression, zip_bomb_is_bounded) {
    const size_t bomb_size = 64u << 20;
    const size_t bound = 1u << 20;
    std::vector<uint8_t> zeros(bomb_size, 0);
    for (auto codec : real_codecs) {
        SCOPED_TRACE(compression_codec_name(codec));
        auto packed = compressed(codec, zeros);
        EXPECT_LT(packed.size(), bomb_size / 10);
        std::vector<uint8_t> out;
        auto r = decompress(codec, packed, bound, out);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), compression_error::output_too_large);
        EXPECT_TRUE(out.empty());
        EXPECT_LE(out.capacity(), 4 * bound);
    }
}

TEST(compression, exact_bound_is_accepted) {
    auto input = sample(70000);
    for (auto codec : all_codecs) {
        auto packed = compressed(codec, input);
        EXPECT_TRUE(decompress(codec, packed, input.size()).has_value()) << compression_codec_name(codec);
        EXPECT_FALSE(decompress(codec, packed, input.size() - 1).has_value()) << compression_codec_name(codec);
    }
}

TEST(compression, truncated_input_is_rejected) {
    auto input = sample(3000);
    for (auto codec : real_codecs) {
        auto packed = compressed(codec, input);
        for (size_t cut = 0; cut < packed.size(); ++cut) {
            // A xerial stream cut right after its header is a valid empty stream.
            if (codec == compression_codec::snappy && cut == 16) continue;
            std::span<const uint8_t> prefix(packed.data(), cut);
            auto r = decompress(codec, prefix, input.size());
            EXPECT_FALSE(r.has_value()) << compression_codec_name(codec) << " cut at " << cut;
        }
    }
}

TEST(compression, garbage_is_rejected) {
    std::mt19937 rng(3);
    for (auto codec : real_codecs) {
        for (int trial = 0; trial < 200; ++trial) {
            std::vector<uint8_t> garbage(rng() % 300 + 1);
            for (auto& b : garbage) b = static_cast<uint8_t>(rng());
            auto r = decompress(codec, garbage, 1 << 20);
            // Raw snappy has no checksum: random bytes can be a valid block.
            if (codec != compression_codec::snappy) {
                EXPECT_FALSE(r.has_value()) << compression_codec_name(codec);
            }
        }
    }
}

TEST(compression, corrupted_checksummed_streams_are_rejected) {
    auto input = sample(20000);
    // gzip always carries a CRC-32; the others only when asked to.
    auto gz = compressed(compression_codec::gzip, input);
    for (size_t i = 10; i < gz.size(); i += 7) {
        auto bad = gz;
        bad[i] ^= 0x5a;
        auto r = decompress(compression_codec::gzip, bad, input.size());
        EXPECT_FALSE(r.has_value()) << "flip at " << i;
    }
    auto trailing = gz;
    trailing.push_back(0);
    auto r = decompress(compression_codec::gzip, trailing, input.size());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), compression_error::corrupt_input);
}

TEST(compression, gzip_concatenated_members) {
    auto a = sample(1000, 1);
    auto b = sample(2000, 2);
    auto packed = compressed(compression_codec::gzip, a);
    auto second = compressed(compression_codec::gzip, b);
    packed.insert(packed.end(), second.begin(), second.end());
    auto out = decompress(compression_codec::gzip, packed, 3000);
    ASSERT_TRUE(out);
    auto expected = a;
    expected.insert(expected.end(), b.begin(), b.end());
    EXPECT_EQ(out.value(), expected);
}

// What the Java client writes: xerial framing built here with the raw snappy
// API, independent of our encoder; and librdkafka's single raw block.
TEST(compression, snappy_xerial_and_raw_decode) {
    auto input = sample(50000);
    std::vector<uint8_t> framed = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    for (size_t at = 0; at < input.size(); at += 20000) {
        size_t n = std::min<size_t>(20000, input.size() - at);
        std::string block;
        snappy::Compress(reinterpret_cast<const char*>(input.data() + at), n, &block);
        uint32_t len = static_cast<uint32_t>(block.size());
        uint8_t be[4] = {static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16),
                         static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
        framed.insert(framed.end(), be, be + 4);
        framed.insert(framed.end(), block.begin(), block.end());
    }
    auto out = decompress(compression_codec::snappy, framed, input.size());
    ASSERT_TRUE(out);
    EXPECT_EQ(out.value(), input);
    // A block length running past the end.
    auto cut = framed;
    cut.resize(cut.size() - 1);
    EXPECT_FALSE(decompress(compression_codec::snappy, cut, input.size()));
    // Each block counts against the bound before its buffer is allocated.
    auto r = decompress(compression_codec::snappy, framed, 30000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), compression_error::output_too_large);

    std::string raw;
    snappy::Compress(reinterpret_cast<const char*>(input.data()), input.size(), &raw);
    std::vector<uint8_t> raw_bytes(raw.begin(), raw.end());
    auto raw_out = decompress(compression_codec::snappy, raw_bytes, input.size());
    ASSERT_TRUE(raw_out);
    EXPECT_EQ(raw_out.value(), input);
    // A raw block claiming 2^32-1 bytes fails on the claim, before allocating.
    std::vector<uint8_t> liar = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    auto lie = decompress(compression_codec::snappy, liar, 1 << 20);
    ASSERT_FALSE(lie);
    EXPECT_EQ(lie.error(), compression_error::output_too_large);
}

// Frames as other LZ4 writers make them: linked 4 MiB blocks, content size and
// both checksums.
TEST(compression, lz4_other_frame_options) {
    auto input = sample(200000);
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.frameInfo.contentSize = input.size();
    std::vector<uint8_t> frame(LZ4F_compressFrameBound(input.size(), &prefs));
    size_t n = LZ4F_compressFrame(frame.data(), frame.size(), input.data(), input.size(), &prefs);
    ASSERT_FALSE(LZ4F_isError(n));
    frame.resize(n);
    auto out = decompress(compression_codec::lz4, frame, input.size());
    ASSERT_TRUE(out);
    EXPECT_EQ(out.value(), input);
    frame[frame.size() / 2] ^= 1;  // caught by the block checksum
    EXPECT_FALSE(decompress(compression_codec::lz4, frame, input.size()));
    // The frame header's own checksum byte (the pre-KIP-57 bug got it wrong).
    auto ours = compressed(compression_codec::lz4, input);
    ours[6] ^= 0xff;
    EXPECT_FALSE(decompress(compression_codec::lz4, ours, input.size()));
}

// zstd frames without a content size (streaming writers such as the Java
// client), including windows far larger than the output bound.
std::vector<uint8_t> zstd_stream(std::span<const uint8_t> input, int window_log) {
    ZSTD_CCtx* cctx = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, window_log);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    std::vector<uint8_t> out(ZSTD_compressBound(input.size()) + 64);
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    // Feed in two pieces so that the size is unknown when the header is written.
    size_t half = input.size() / 2;
    ZSTD_inBuffer first{input.data(), half, 0};
    ZSTD_compressStream2(cctx, &o, &first, ZSTD_e_continue);
    ZSTD_inBuffer second{input.data() + half, input.size() - half, 0};
    size_t rc;
    do {
        rc = ZSTD_compressStream2(cctx, &o, &second, ZSTD_e_end);
    } while (rc != 0 && !ZSTD_isError(rc));
    ZSTD_freeCCtx(cctx);
    out.resize(o.pos);
    return out;
}

TEST(compression, zstd_without_content_size) {
    auto input = sample(600000);
    for (int window_log : {17, 21, 27}) {
        SCOPED_TRACE(window_log);
        auto frame = zstd_stream(input, window_log);
        ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
        auto out = decompress(compression_codec::zstd, frame, input.size());
        ASSERT_TRUE(out) << compression_error_message(out.error());
        EXPECT_EQ(out.value(), input);
        auto small = decompress(compression_codec::zstd, frame, input.size() - 1);
        ASSERT_FALSE(small);
        EXPECT_EQ(small.error(), compression_error::output_too_large);
        auto bad = frame;
        bad[bad.size() - 2] ^= 1;  // the content checksum
        EXPECT_FALSE(decompress(compression_codec::zstd, bad, input.size()));
    }
    // A declared content size beyond the bound is refused up front.
    auto packed = compressed(compression_codec::zstd, input);
    auto r = decompress(compression_codec::zstd, packed, 1000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), compression_error::output_too_large);
}

// Found by decompress_fuzz: libzstd also decodes the pre-1.0 legacy formats,
// whose decoders ignore the window limit; this 10-byte v0.7 frame (magic
// FD2FB527) made it allocate 63 MB and write 1 MiB before failing. No Kafka
// client writes them, so they are refused before libzstd sees them; standard
// and skippable frames still decode, alone or concatenated.
TEST(compression, zstd_legacy_frames_are_refused) {
    const std::vector<uint8_t> legacy = {0x27, 0xb5, 0x2f, 0xfd, 0x00, 0x7f, 0x03, 0x86, 0x00, 0x00};
    std::vector<uint8_t> out = {1, 2};
    auto r = decompress(compression_codec::zstd, legacy, 1u << 20, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), compression_error::corrupt_input);
    EXPECT_EQ(out, (std::vector<uint8_t>{1, 2}));

    auto input = sample(5000);
    auto standard = compressed(compression_codec::zstd, input);
    const std::vector<uint8_t> skippable = {0x5a, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'};
    auto framed = skippable;
    framed.insert(framed.end(), standard.begin(), standard.end());
    framed.insert(framed.end(), skippable.begin(), skippable.end());
    auto ok = decompress(compression_codec::zstd, framed, input.size());
    ASSERT_TRUE(ok) << compression_error_message(ok.error());
    EXPECT_EQ(ok.value(), input);

    auto then_legacy = standard;
    then_legacy.insert(then_legacy.end(), legacy.begin(), legacy.end());
    EXPECT_FALSE(decompress(compression_codec::zstd, then_legacy, 1u << 20));
}

}  // namespace
}  // namespace strata::protocol
