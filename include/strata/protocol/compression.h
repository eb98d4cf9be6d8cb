// The compression codecs of Kafka record batches (attributes bits 0-2), in
// the exact framings Kafka clients write and read:
//
//   gzip    RFC 1952 gzip members (zlib). Concatenated members are accepted.
//   snappy  The Java client writes the xerial "snappy-java" stream framing:
//             magic  82 'S' 'N' 'A' 'P' 'P' 'Y' 00   (8 bytes)
//             version int32 BE, compatible version int32 BE
//             then repeated [int32 BE compressed length][raw snappy block]
//           librdkafka and others may write one raw snappy block. Both are
//           read; compress() writes the xerial framing (32 KiB blocks, like
//           the Java client) because every client reads it.
//   lz4     The LZ4 frame format (KIP-57 fixed Kafka's header checksum), with
//           independent 64 KiB blocks and no content size or checksum, the
//           way the Java client writes it. The pre-KIP-57 variant with the
//           broken header checksum (magic 0/1 on Kafka < 0.10) is rejected.
//   zstd    zstd frames (KIP-110); content size may be absent.
//
// Decompression is bounded: the caller passes the most output it accepts
// (normally the partition's max.message.bytes) and anything that would grow
// beyond it fails with output_too_large before more than that bound (plus a
// codec's fixed working memory, at most a few MiB for LZ4's 4 MiB blocks and
// zstd's window) is allocated. A zip bomb costs the broker a bounded amount of
// memory and one error. Corrupt input is an error value, never an exception or
// a crash. All functions are thread-safe and keep no state between calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>
#include <boost/outcome/success_failure.hpp>
#include <fmt/core.h>

namespace strata::protocol {

enum class compression_codec : uint8_t {
    none = 0,
    gzip = 1,
    snappy = 2,
    lz4 = 3,
    zstd = 4,
};

// The codec for an attributes value's low three bits; nullopt for 5-7.
std::optional<compression_codec> compression_codec_from_id(int id);
// Kafka's compression.type spelling: "none", "gzip", "snappy", "lz4", "zstd".
std::string_view compression_codec_name(compression_codec codec);

enum class compression_error : uint8_t {
    unsupported_codec,  // an id outside 0-4
    corrupt_input,      // malformed, truncated, bad checksum, trailing garbage
    output_too_large,   // decompressed data would exceed the caller's bound
    codec_failure,      // the library failed for another reason (out of memory)
};

std::string_view compression_error_message(compression_error error);

template <typename T>
using compression_result = boost::outcome_v2::basic_result<T, compression_error, boost::outcome_v2::policy::terminate>;

// The codec's level (snappy has none); nullopt means gzip 6 and zstd 3, as in
// Kafka, and LZ4's fast mode (Kafka 3.8+ producers default to 9, which costs
// several times the CPU). Levels outside a codec's range are clamped.
struct compression_options {
    std::optional<int> level;
};

// Appends the compressed form of `input` to `out`. `none` copies.
compression_result<void> compress(compression_codec codec, std::span<const uint8_t> input, std::vector<uint8_t>& out,
                                  const compression_options& options = {});

// Appends the decompressed form of `input` to `out`, failing with
// output_too_large if it exceeds `max_output` bytes. On failure `out` is left
// as it was. `none` copies (and is bounded too).
compression_result<void> decompress(compression_codec codec, std::span<const uint8_t> input, size_t max_output,
                                    std::vector<uint8_t>& out);

inline compression_result<std::vector<uint8_t>> decompress(compression_codec codec, std::span<const uint8_t> input,
                                                           size_t max_output) {
    std::vector<uint8_t> out;
    auto r = decompress(codec, input, max_output, out);
    if (!r) return r.error();
    return out;
}

}  // namespace strata::protocol

template <>
struct fmt::formatter<strata::protocol::compression_codec> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(strata::protocol::compression_codec codec, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "{}", strata::protocol::compression_codec_name(codec));
    }
};

template <>
struct fmt::formatter<strata::protocol::compression_error> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(strata::protocol::compression_error error, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "{}", strata::protocol::compression_error_message(error));
    }
};
