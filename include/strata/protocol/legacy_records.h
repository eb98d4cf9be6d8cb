// Message sets in the legacy formats, magic 0 and 1 (before Kafka 0.11), as
// old clients still send them in Produce v0-v2 (kafka-python with an old
// api_version, Sarama configured for a Kafka version before 0.11). The broker
// decodes them and converts them into one v2 batch (record_batch.h), so
// storage and fetch only ever see v2.
//
// A message set is a bare sequence (no count) of:
//
//   offset int64 | message_size int32 | message:
//     crc uint32        CRC-32 (zlib, not CRC-32C) of the rest of the message
//     magic int8        0 or 1
//     attributes int8   bits 0-2 codec (0 none, 1 gzip, 2 snappy, 3 lz4),
//                       bit 3 timestamp type (magic 1 only)
//     timestamp int64   magic 1 only
//     key bytes         int32 length, -1 for null
//     value bytes       int32 length, -1 for null
//
// A compressed message ("wrapper") has a null key and a value that is a
// compressed message set of "inner" messages of the same magic; wrappers do
// not nest. For magic 1 the inner offsets are relative (0, 1, ...) and the
// wrapper carries the absolute offset of the last one; a LogAppendTime
// wrapper's timestamp replaces the inner ones. The LZ4 framing of magic 0 on
// Kafka < 0.10 (wrong header checksum, pre-KIP-57) is not accepted.
//
// Pure functions; safe from any thread; errors as values (record_error).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "strata/protocol/record_batch.h"

namespace strata::protocol {

// One message after unwrapping; the spans point into the input or into the
// storage of the legacy_message_set that holds it.
struct legacy_message {
    int64_t offset = 0;  // as sent: relative within a magic 1 wrapper
    int8_t magic = 0;
    timestamp_type timestamp_kind = timestamp_type::create_time;
    int64_t timestamp = -1;  // -1 (none) for magic 0
    std::optional<bytes_view> key;
    std::optional<bytes_view> value;
};

// A decoded message set with compressed wrappers expanded. Move-only because
// the messages point into `storage`.
struct legacy_message_set {
    legacy_message_set() = default;
    legacy_message_set(legacy_message_set&&) = default;
    legacy_message_set& operator=(legacy_message_set&&) = default;
    legacy_message_set(const legacy_message_set&) = delete;
    legacy_message_set& operator=(const legacy_message_set&) = delete;

    int8_t magic = 0;
    compression_codec compression = compression_codec::none;  // of the (first) wrapper
    std::vector<std::vector<uint8_t>> storage;  // decompressed wrapper contents
    std::vector<legacy_message> messages;
};

// Decodes and checks a whole message set: framing, CRC-32 of every message
// (wrappers and inner ones), one magic throughout, no nested compression, no
// empty wrapper, at most `max_decompressed_bytes` of decompressed data in all.
record_result<legacy_message_set> decode_legacy_message_set(bytes_view payload, size_t max_decompressed_bytes);

struct legacy_conversion_options {
    size_t max_decompressed_bytes = size_t{64} << 20;
    // The codec of the v2 batch; by default the one the client used.
    std::optional<compression_codec> compression;
    compression_options compression_settings;
};

// Converts a produce payload in a legacy format into one v2 batch: record i
// gets offset delta i, timestamps are kept (-1 for magic 0), the timestamp
// type is the messages' own, and no producer id is set (legacy clients are
// neither idempotent nor transactional). Fails like decode_legacy_message_set,
// and with no_batches for an empty set.
record_result<std::vector<uint8_t>> convert_legacy_to_v2(bytes_view payload,
                                                         const legacy_conversion_options& options = {});

}  // namespace strata::protocol
