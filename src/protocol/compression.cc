#include "strata/protocol/compression.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <memory>

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

namespace strata::protocol {

namespace {

using boost::outcome_v2::success;

// The output of a bounded decompression: a window of free space at the end of
// the caller's vector that grows geometrically, but never past max + 1 bytes
// of output, so that "one byte more than allowed" is how any codec reports a
// bomb, and nothing larger than the bound is ever allocated for output.
class bounded_output {
public:
    bounded_output(std::vector<uint8_t>& out, size_t max, size_t expected)
        : _out(out), _base(out.size()), _max(max), _expected(expected) {}

    // Free space to decompress into; never empty while within the bound.
    std::span<uint8_t> window() {
        size_t limit = _max == SIZE_MAX ? SIZE_MAX : _max + 1;
        if (_written == _out.size() - _base) {
            size_t grown = _written == 0 ? std::max<size_t>(_expected, 4096) : _written * 2;
            size_t target = std::min(grown, limit);
            if (target <= _written) return {};
            _out.resize(_base + target);
        }
        return std::span<uint8_t>(_out).subspan(_base + _written);
    }
    void commit(size_t n) { _written += n; }
    bool exceeded() const { return _written > _max; }
    size_t written() const { return _written; }
    void finish() { _out.resize(_base + _written); }
    void abandon() { _out.resize(_base); }
    compression_error fail(compression_error e) {
        abandon();
        return e;
    }

private:
    std::vector<uint8_t>& _out;
    size_t _base;
    size_t _max;
    size_t _expected;
    size_t _written = 0;
};

// A first guess at the output size: compressed Kafka payloads typically shrink
// 2-5x; the window doubles from there.
size_t expected_output(size_t input, size_t max) { return std::min(max, input * 4); }

uint8_t* tail(std::vector<uint8_t>& out, size_t grow_by) {
    size_t at = out.size();
    out.resize(at + grow_by);
    return out.data() + at;
}

void store_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

uint32_t load_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// ---- gzip ---------------------------------------------------------------------

constexpr int gzip_window_bits = 15 + 16;  // 32 KiB window, gzip wrapper only

compression_result<void> gzip_compress(std::span<const uint8_t> input, std::vector<uint8_t>& out, int level) {
    if (input.size() > UINT_MAX) return compression_error::codec_failure;
    z_stream zs{};
    if (deflateInit2(&zs, std::clamp(level, Z_DEFAULT_COMPRESSION, Z_BEST_COMPRESSION), Z_DEFLATED,
                     gzip_window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return compression_error::codec_failure;
    size_t base = out.size();
    uLong bound = deflateBound(&zs, static_cast<uLong>(input.size()));
    zs.next_in = const_cast<Bytef*>(input.data());
    zs.avail_in = static_cast<uInt>(input.size());
    zs.next_out = tail(out, bound);
    zs.avail_out = static_cast<uInt>(bound);
    int rc = deflate(&zs, Z_FINISH);
    size_t produced = bound - zs.avail_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        out.resize(base);
        return compression_error::codec_failure;
    }
    out.resize(base + produced);
    return success();
}

bool starts_gzip_member(std::span<const uint8_t> rest) {
    return rest.size() >= 2 && rest[0] == 0x1f && rest[1] == 0x8b;
}

compression_result<void> gzip_decompress(std::span<const uint8_t> input, size_t max, std::vector<uint8_t>& out) {
    z_stream zs{};
    if (inflateInit2(&zs, gzip_window_bits) != Z_OK) return compression_error::codec_failure;
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
    bounded_output output(out, max, expected_output(input.size(), max));
    const uint8_t* next = input.data();
    size_t left = input.size();
    for (;;) {
        auto window = output.window();
        zs.next_in = const_cast<Bytef*>(next);
        zs.avail_in = static_cast<uInt>(std::min<size_t>(left, UINT_MAX));
        zs.next_out = window.data();
        zs.avail_out = static_cast<uInt>(std::min<size_t>(window.size(), UINT_MAX));
        const uInt in_before = zs.avail_in;
        const uInt out_before = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        next += in_before - zs.avail_in;
        left -= in_before - zs.avail_in;
        output.commit(out_before - zs.avail_out);
        if (output.exceeded()) return output.fail(compression_error::output_too_large);
        if (rc == Z_STREAM_END) {
            if (left == 0) break;
            // The Java GZIPInputStream reads concatenated members; so do we.
            // Anything else after a member is garbage.
            if (!starts_gzip_member({next, left}) || inflateReset(&zs) != Z_OK)
                return output.fail(compression_error::corrupt_input);
            continue;
        }
        if (rc == Z_MEM_ERROR) return output.fail(compression_error::codec_failure);
        if (rc != Z_OK && rc != Z_BUF_ERROR) return output.fail(compression_error::corrupt_input);
        // No progress with input exhausted and room left: the stream is cut short.
        if (left == 0 && zs.avail_out > 0) return output.fail(compression_error::corrupt_input);
    }
    output.finish();
    return success();
}

// ---- snappy -------------------------------------------------------------------

constexpr uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t xerial_header_size = 16;  // magic, version, compatible version
constexpr size_t xerial_block_size = 32 * 1024;

compression_result<void> snappy_compress(std::span<const uint8_t> input, std::vector<uint8_t>& out) {
    uint8_t* header = tail(out, xerial_header_size);
    std::memcpy(header, xerial_magic, sizeof xerial_magic);
    store_be32(header + 8, 1);   // version
    store_be32(header + 12, 1);  // minimum compatible version
    for (size_t at = 0; at < input.size(); at += xerial_block_size) {
        size_t n = std::min(xerial_block_size, input.size() - at);
        size_t length_at = out.size();
        uint8_t* block = tail(out, 4 + snappy::MaxCompressedLength(n));
        size_t compressed = 0;
        snappy::RawCompress(reinterpret_cast<const char*>(input.data() + at), n, reinterpret_cast<char*>(block + 4),
                            &compressed);
        store_be32(out.data() + length_at, static_cast<uint32_t>(compressed));
        out.resize(length_at + 4 + compressed);
    }
    return success();
}

// One raw snappy block, appended to `out` within `max` total bytes of output
// for this decompression (`produced` so far).
compression_result<void> snappy_block(std::span<const uint8_t> block, size_t max, size_t produced,
                                      std::vector<uint8_t>& out) {
    size_t length = 0;
    const char* src = reinterpret_cast<const char*>(block.data());
    if (!snappy::GetUncompressedLength(src, block.size(), &length)) return compression_error::corrupt_input;
    // The length is a claim, so check it against the bound before allocating.
    if (length > max - produced) return compression_error::output_too_large;
    size_t at = out.size();
    out.resize(at + length);
    if (!snappy::RawUncompress(src, block.size(), reinterpret_cast<char*>(out.data() + at)))
        return compression_error::corrupt_input;
    return success();
}

compression_result<void> snappy_decompress(std::span<const uint8_t> input, size_t max, std::vector<uint8_t>& out) {
    const size_t base = out.size();
    auto fail = [&](compression_error e) -> compression_result<void> {
        out.resize(base);
        return e;
    };
    bool xerial = input.size() >= xerial_header_size && std::memcmp(input.data(), xerial_magic, 8) == 0;
    if (!xerial) {
        auto r = snappy_block(input, max, 0, out);
        return r ? r : fail(r.error());
    }
    auto rest = input.subspan(xerial_header_size);
    while (!rest.empty()) {
        if (rest.size() < 4) return fail(compression_error::corrupt_input);
        uint32_t length = load_be32(rest.data());
        if (length > rest.size() - 4) return fail(compression_error::corrupt_input);
        auto r = snappy_block(rest.subspan(4, length), max, out.size() - base, out);
        if (!r) return fail(r.error());
        rest = rest.subspan(4 + length);
    }
    return success();
}

// ---- lz4 ----------------------------------------------------------------------

compression_result<void> lz4_compress(std::span<const uint8_t> input, std::vector<uint8_t>& out, int level) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
    prefs.compressionLevel = std::clamp(level, 0, LZ4F_compressionLevel_max());
    size_t base = out.size();
    size_t bound = LZ4F_compressFrameBound(input.size(), &prefs);
    size_t n = LZ4F_compressFrame(tail(out, bound), bound, input.data(), input.size(), &prefs);
    if (LZ4F_isError(n)) {
        out.resize(base);
        return compression_error::codec_failure;
    }
    out.resize(base + n);
    return success();
}

compression_result<void> lz4_decompress(std::span<const uint8_t> input, size_t max, std::vector<uint8_t>& out) {
    LZ4F_dctx* raw = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) return compression_error::codec_failure;
    std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw, &LZ4F_freeDecompressionContext);
    bounded_output output(out, max, expected_output(input.size(), max));
    const uint8_t* next = input.data();
    size_t left = input.size();
    for (;;) {
        auto window = output.window();
        size_t produced = window.size();
        size_t consumed = left;
        size_t hint = LZ4F_decompress(ctx.get(), window.data(), &produced, next, &consumed, nullptr);
        if (LZ4F_isError(hint)) return output.fail(compression_error::corrupt_input);
        if (consumed == 0 && produced == 0) return output.fail(compression_error::corrupt_input);  // no progress
        next += consumed;
        left -= consumed;
        output.commit(produced);
        if (output.exceeded()) return output.fail(compression_error::output_too_large);
        if (hint == 0 && left == 0) break;  // a frame ended with the input
        // hint == 0 with input left: another frame follows (the context is
        // ready for it); anything that is not a frame fails on the next call.
        if (hint != 0 && left == 0 && produced < window.size())
            return output.fail(compression_error::corrupt_input);  // truncated
    }
    output.finish();
    return success();
}

// ---- zstd ---------------------------------------------------------------------

compression_result<void> zstd_compress(std::span<const uint8_t> input, std::vector<uint8_t>& out, int level) {
    size_t base = out.size();
    size_t bound = ZSTD_compressBound(input.size());
    size_t n = ZSTD_compress(tail(out, bound), bound, input.data(), input.size(),
                             std::clamp(level, ZSTD_minCLevel(), ZSTD_maxCLevel()));
    if (ZSTD_isError(n)) {
        out.resize(base);
        return compression_error::codec_failure;
    }
    out.resize(base + n);
    return success();
}

// Frames whose window exceeds what the streaming decoder may allocate (see
// zstd_decompress) are decoded in one shot into a buffer of the caller's bound:
// the one-shot decoder uses its output as the window, and untouched pages of
// the uninitialised buffer cost no memory.
compression_result<void> zstd_decompress_one_shot(ZSTD_DCtx* ctx, std::span<const uint8_t> input, size_t max,
                                                  std::vector<uint8_t>& out) {
    std::unique_ptr<uint8_t[]> buffer(new (std::nothrow) uint8_t[std::max<size_t>(max, 1)]);
    if (!buffer) return compression_error::codec_failure;
    size_t n = ZSTD_decompressDCtx(ctx, buffer.get(), max, input.data(), input.size());
    if (ZSTD_isError(n)) {
        auto code = ZSTD_getErrorCode(n);
        if (code == ZSTD_error_dstSize_tooSmall) return compression_error::output_too_large;
        if (code == ZSTD_error_memory_allocation) return compression_error::codec_failure;
        return compression_error::corrupt_input;
    }
    out.insert(out.end(), buffer.get(), buffer.get() + n);
    return success();
}

// True when `input` is a sequence of zstd frames of the standard format
// (magic FD2FB528) or skippable frames. libzstd as Debian builds it also
// decodes the pre-1.0 "legacy" formats (v0.5-v0.7), whose decoders ignore
// ZSTD_d_windowLogMax and allocate what a frame header asks: found by
// decompress_fuzz, an 11-byte v0.7 frame made it allocate 63 MB. No Kafka
// client writes them (KIP-110 came with zstd 1.3), so they are refused.
bool only_standard_zstd_frames(std::span<const uint8_t> input) {
    constexpr uint32_t standard_magic = 0xFD2FB528;
    constexpr uint32_t skippable_magic = 0x184D2A50;  // low 4 bits free
    while (!input.empty()) {
        if (input.size() < 4) return false;
        uint32_t magic = uint32_t{input[0]} | (uint32_t{input[1]} << 8) | (uint32_t{input[2]} << 16) |
                         (uint32_t{input[3]} << 24);
        if (magic != standard_magic && (magic & 0xFFFFFFF0) != skippable_magic) return false;
        // Walks the block headers only; allocates nothing.
        size_t frame = ZSTD_findFrameCompressedSize(input.data(), input.size());
        if (ZSTD_isError(frame) || frame == 0 || frame > input.size()) return false;
        input = input.subspan(frame);
    }
    return true;
}

compression_result<void> zstd_decompress(std::span<const uint8_t> input, size_t max, std::vector<uint8_t>& out) {
    if (!only_standard_zstd_frames(input)) return compression_error::corrupt_input;
    // A declared content size beyond the bound fails before any work.
    unsigned long long declared = ZSTD_getFrameContentSize(input.data(), input.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) return compression_error::corrupt_input;
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max) return compression_error::output_too_large;

    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
    if (!ctx) return compression_error::codec_failure;
    // The streaming decoder allocates the window a frame header declares
    // (up to 128 MiB by default). A window larger than the bound is never
    // needed to produce at most `max` bytes, so cap it there; frames written
    // with a larger window (high levels without a content size) take the
    // one-shot path below instead of being refused.
    constexpr int smallest_window_log = 10;  // ZSTD_WINDOWLOG_ABSOLUTEMIN
    constexpr int default_window_log_limit = 27;  // ZSTD_WINDOWLOG_LIMIT_DEFAULT
    int window_log = std::clamp(static_cast<int>(std::bit_width(max)), smallest_window_log, default_window_log_limit);
    ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, window_log);

    size_t expected = declared != ZSTD_CONTENTSIZE_UNKNOWN ? static_cast<size_t>(declared) + 1
                                                           : expected_output(input.size(), max);
    bounded_output output(out, max, expected);
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    for (;;) {
        auto window = output.window();
        ZSTD_outBuffer o{window.data(), window.size(), 0};
        size_t rc = ZSTD_decompressStream(ctx.get(), &o, &in);
        output.commit(o.pos);
        if (ZSTD_isError(rc)) {
            output.abandon();
            auto code = ZSTD_getErrorCode(rc);
            if (code == ZSTD_error_frameParameter_windowTooLarge) {
                ZSTD_DCtx_reset(ctx.get(), ZSTD_reset_session_and_parameters);
                return zstd_decompress_one_shot(ctx.get(), input, max, out);
            }
            if (code == ZSTD_error_memory_allocation) return compression_error::codec_failure;
            return compression_error::corrupt_input;
        }
        if (output.exceeded()) return output.fail(compression_error::output_too_large);
        if (rc == 0 && in.pos == in.size) break;  // the last frame is complete
        if (rc != 0 && in.pos == in.size && o.pos < o.size)
            return output.fail(compression_error::corrupt_input);  // truncated
    }
    output.finish();
    return success();
}

}  // namespace

std::optional<compression_codec> compression_codec_from_id(int id) {
    if (id < 0 || id > 4) return std::nullopt;
    return static_cast<compression_codec>(id);
}

std::string_view compression_codec_name(compression_codec codec) {
    switch (codec) {
        case compression_codec::none: return "none";
        case compression_codec::gzip: return "gzip";
        case compression_codec::snappy: return "snappy";
        case compression_codec::lz4: return "lz4";
        case compression_codec::zstd: return "zstd";
    }
    return "unknown";
}

std::string_view compression_error_message(compression_error error) {
    switch (error) {
        case compression_error::unsupported_codec: return "unsupported compression codec";
        case compression_error::corrupt_input: return "corrupt compressed data";
        case compression_error::output_too_large: return "decompressed data exceeds the size limit";
        case compression_error::codec_failure: return "compression library failure";
    }
    return "unknown compression error";
}

compression_result<void> compress(compression_codec codec, std::span<const uint8_t> input, std::vector<uint8_t>& out,
                                  const compression_options& options) {
    switch (codec) {
        case compression_codec::none: out.insert(out.end(), input.begin(), input.end()); return success();
        case compression_codec::gzip: return gzip_compress(input, out, options.level.value_or(Z_DEFAULT_COMPRESSION));
        case compression_codec::snappy: return snappy_compress(input, out);
        case compression_codec::lz4: return lz4_compress(input, out, options.level.value_or(0));
        case compression_codec::zstd: return zstd_compress(input, out, options.level.value_or(ZSTD_CLEVEL_DEFAULT));
    }
    return compression_error::unsupported_codec;
}

compression_result<void> decompress(compression_codec codec, std::span<const uint8_t> input, size_t max_output,
                                    std::vector<uint8_t>& out) {
    switch (codec) {
        case compression_codec::none:
            if (input.size() > max_output) return compression_error::output_too_large;
            out.insert(out.end(), input.begin(), input.end());
            return success();
        case compression_codec::gzip: return gzip_decompress(input, max_output, out);
        case compression_codec::snappy: return snappy_decompress(input, max_output, out);
        case compression_codec::lz4: return lz4_decompress(input, max_output, out);
        case compression_codec::zstd: return zstd_decompress(input, max_output, out);
    }
    return compression_error::unsupported_codec;
}

}  // namespace strata::protocol
