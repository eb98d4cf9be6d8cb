// libFuzzer target: bounded decompression (compression.h) of every codec
// Kafka batches use, on hostile input:
//
//   selector uint8 | compressed bytes
//
// The selector's low 3 bits pick the codec (modulo 5: none, gzip, snappy,
// lz4, zstd), its high 5 bits the output bound (from 0 bytes to 1 MiB), so
// that the bound's edges are exercised as much as the codecs. Checked:
// - a success never exceeds the bound, and is exact about it: the same
//   input decompresses with a bound of exactly its output size, and fails
//   with output_too_large one byte below (zstd: see the note below);
// - a failure leaves the output vector as it was;
// - compress() then decompress() gives the output back;
// - memory stays within a few times the bound plus the codecs' fixed state
//   (a zip bomb costs a bounded amount).
// Seeds: corpus/compressed/, several payloads in each codec and framing.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "strata/protocol/compression.h"

using namespace strata::protocol;
using strata::fuzz::require;

namespace {

constexpr size_t bounds[] = {0,     1,     2,      7,      16,      100,     255,     256,
                             1000,  4095,  4096,   4097,   10000,   32767,   32768,   65535,
                             65536, 65537, 100000, 131072, 200000,  262144,  300000,  500000,
                             524288, 700000, 1000000, 1048575, 1048576, 1048576, 1048576, 1048576};
static_assert(std::size(bounds) == 32);

// Output grows geometrically within max + 1, so its allocations sum to a
// few times the bound; codec state is fixed (LZ4 blocks of up to 4 MiB,
// zstd's context and a window of at most twice the bound, gzip's 32 KiB).
constexpr size_t output_factor = 16;
constexpr size_t codec_fixed_bytes = size_t{16} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto codec = static_cast<compression_codec>((data[0] & 0x7) % 5);
    size_t bound = bounds[data[0] >> 3];
    std::span<const uint8_t> input(data + 1, size - 1);
    std::string what = std::string(compression_codec_name(codec)) + " with a bound of " + std::to_string(bound);

    std::vector<uint8_t> out = {0xde, 0xad};  // decompress appends: keep a prefix to see that it does
    compression_result<void> r = boost::outcome_v2::success();
    {
        strata::fuzz::allocation_budget budget(size, output_factor, codec_fixed_bytes + output_factor * bound);
        r = decompress(codec, input, bound, out);
        budget.check(what.c_str());
    }
    require(out.size() >= 2 && out[0] == 0xde && out[1] == 0xad, what + ": decompress touched what it appends to");
    if (!r) {
        require(out.size() == 2, what + ": a failed decompression left output behind");
        return 0;
    }
    std::vector<uint8_t> plain(out.begin() + 2, out.end());
    require(plain.size() <= bound, what + ": output exceeds the bound");

    // Exact at the bound. zstd is let off part of it: where a frame's window
    // exceeds the bound, it falls back from the streaming decoder to the
    // one-shot one, and libzstd's two decoders disagree on some degenerate
    // frames (an empty compressed block: streaming reads nothing, one-shot
    // says corrupt). So for zstd a smaller bound may turn a success into
    // corrupt_input, never into a wrong or oversized output.
    bool lenient = codec == compression_codec::zstd;
    auto exact = decompress(codec, input, plain.size());
    if (exact.has_value())
        require(exact.value() == plain, what + ": decompresses to other bytes with a bound of its output size");
    else
        require(lenient && exact.error() == compression_error::corrupt_input,
                what + ": does not decompress again with a bound of its output size " + std::to_string(plain.size()));
    if (!plain.empty()) {
        auto below = decompress(codec, input, plain.size() - 1);
        require(!below.has_value(), what + ": decompresses with a bound one byte below its output size");
        require(below.error() == compression_error::output_too_large ||
                    (lenient && below.error() == compression_error::corrupt_input),
                what + ": a bound one byte below the output size does not fail with output_too_large");
    }

    // Round trip through our own compressor.
    std::vector<uint8_t> packed;
    require(compress(codec, plain, packed).has_value(), what + ": compressing decompressed data failed");
    auto unpacked = decompress(codec, packed, plain.size());
    require(unpacked.has_value() && unpacked.value() == plain, what + ": compress then decompress changed the data");
    return 0;
}
