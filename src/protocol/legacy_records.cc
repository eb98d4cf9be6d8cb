#include "strata/protocol/legacy_records.h"

#include <zlib.h>

#include "record_bytes.h"
#include "strata/protocol/wire.h"

namespace strata::protocol {

using boost::outcome_v2::success;
using detail::load_be;

namespace {

constexpr size_t log_overhead = 12;         // offset, message_size
constexpr size_t message_overhead_v0 = 14;  // crc, magic, attributes, two -1 lengths
constexpr size_t message_overhead_v1 = 22;  // ... and a timestamp
constexpr int8_t codec_mask = 0x07;
constexpr int8_t timestamp_type_bit = 0x08;

struct parsed_message {
    legacy_message message;
    compression_codec compression = compression_codec::none;
};

std::optional<bytes_view> read_legacy_bytes(reader& r) {
    int32_t length = r.read_int32();
    if (length < -1) throw decode_error("negative length");
    if (length == -1) return std::nullopt;
    return r.read_raw(static_cast<size_t>(length));
}

// One message (after offset and message_size), checked.
record_result<parsed_message> parse_message(bytes_view m, int64_t offset) {
    if (m.size() < message_overhead_v0) return record_error::batch_too_small;
    uint32_t expected = load_be<uint32_t>(m.data());
    auto actual = static_cast<uint32_t>(crc32(0, m.data() + 4, static_cast<uInt>(m.size() - 4)));
    if (actual != expected) return record_error::crc_mismatch;

    parsed_message p;
    p.message.offset = offset;
    p.message.magic = static_cast<int8_t>(m[4]);
    if (p.message.magic == 2) return record_error::mixed_magic;
    if (p.message.magic != 0 && p.message.magic != 1) return record_error::unknown_magic;
    auto attributes = static_cast<int8_t>(m[5]);
    // zstd (4) exists only in v2 batches.
    int codec = attributes & codec_mask;
    if (codec > static_cast<int>(compression_codec::lz4)) return record_error::unknown_compression;
    p.compression = static_cast<compression_codec>(codec);

    size_t header = 6;
    if (p.message.magic == 1) {
        if (m.size() < message_overhead_v1) return record_error::batch_too_small;
        p.message.timestamp = load_be<int64_t>(m.data() + 6);
        if (attributes & timestamp_type_bit) p.message.timestamp_kind = timestamp_type::log_append_time;
        header += 8;
    }
    try {
        reader r(m.subspan(header));
        p.message.key = read_legacy_bytes(r);
        p.message.value = read_legacy_bytes(r);
        if (!r.empty()) return record_error::malformed_message;
    } catch (const decode_error&) {
        return record_error::malformed_message;
    }
    return p;
}

class message_set_decoder {
public:
    message_set_decoder(legacy_message_set& set, size_t max_decompressed)
        : _set(set), _budget(max_decompressed) {}

    record_result<void> decode(bytes_view data, bool inside_wrapper) {
        while (!data.empty()) {
            if (data.size() < log_overhead) return record_error::truncated;
            auto offset = load_be<int64_t>(data.data());
            auto size = load_be<int32_t>(data.data() + 8);
            if (size < static_cast<int32_t>(message_overhead_v0)) return record_error::batch_too_small;
            if (static_cast<size_t>(size) > data.size() - log_overhead) return record_error::truncated;
            auto parsed = parse_message(data.subspan(log_overhead, static_cast<size_t>(size)), offset);
            if (!parsed) return parsed.error();
            data = data.subspan(log_overhead + static_cast<size_t>(size));

            auto& p = parsed.value();
            // Inner messages share their wrapper's magic, and Kafka takes a
            // set's magic from its first entry.
            if (!_magic) _magic = p.message.magic;
            if (p.message.magic != *_magic) return record_error::mixed_magic;
            _set.magic = *_magic;
            if (p.compression == compression_codec::none) {
                _set.messages.push_back(p.message);
                continue;
            }
            if (inside_wrapper) return record_error::nested_compression;
            auto unwrapped = unwrap(p);
            if (!unwrapped) return unwrapped;
        }
        return success();
    }

private:
    // Decompresses a wrapper and decodes its inner messages.
    record_result<void> unwrap(const parsed_message& wrapper) {
        if (!wrapper.message.value) return record_error::malformed_message;
        if (!_seen_wrapper) _set.compression = wrapper.compression;
        _seen_wrapper = true;
        // The outer vector may reallocate; the inner buffers (and the spans
        // into them) do not move.
        auto& buffer = _set.storage.emplace_back();
        auto r = decompress(wrapper.compression, *wrapper.message.value, _budget, buffer);
        if (!r) {
            return r.error() == compression_error::output_too_large ? record_error::decompressed_too_large
                                                                     : record_error::decompression_failed;
        }
        _budget -= buffer.size();
        size_t first = _set.messages.size();
        auto inner = decode(buffer, true);
        if (!inner) return inner;
        if (_set.messages.size() == first) return record_error::no_batches;
        // A LogAppendTime wrapper's timestamp stands for all its messages.
        if (wrapper.message.magic == 1 && wrapper.message.timestamp_kind == timestamp_type::log_append_time) {
            for (size_t i = first; i < _set.messages.size(); ++i) {
                _set.messages[i].timestamp = wrapper.message.timestamp;
                _set.messages[i].timestamp_kind = timestamp_type::log_append_time;
            }
        }
        return success();
    }

    legacy_message_set& _set;
    size_t _budget;
    std::optional<int8_t> _magic;
    bool _seen_wrapper = false;
};

}  // namespace

record_result<legacy_message_set> decode_legacy_message_set(bytes_view payload, size_t max_decompressed_bytes) {
    legacy_message_set set;
    message_set_decoder decoder(set, max_decompressed_bytes);
    auto r = decoder.decode(payload, false);
    if (!r) return r.error();
    return set;
}

record_result<std::vector<uint8_t>> convert_legacy_to_v2(bytes_view payload,
                                                         const legacy_conversion_options& options) {
    auto decoded = decode_legacy_message_set(payload, options.max_decompressed_bytes);
    if (!decoded) return decoded.error();
    const auto& set = decoded.value();
    if (set.messages.empty()) return record_error::no_batches;

    record_batch_options batch;
    batch.compression = options.compression.value_or(set.compression);
    batch.compression_settings = options.compression_settings;
    batch.timestamp_kind = set.messages.front().timestamp_kind;
    if (batch.timestamp_kind == timestamp_type::log_append_time) {
        for (const auto& m : set.messages) batch.log_append_time = std::max(batch.log_append_time, m.timestamp);
    }
    record_batch_builder builder(batch);
    for (const auto& m : set.messages) builder.append(m.timestamp, m.key, m.value);
    return builder.build();
}

}  // namespace strata::protocol
