// libFuzzer target: the `records` bytes of a Produce partition (or a fetched
// segment range), as the broker checks and reads them:
//
// - v2 batches (magic 2): produce validation with every option set, batch
//   iteration, record decoding (both ways: decode_records and
//   for_each_record, which must agree), bounded decompression, the in-place
//   edits the log makes (stamping, LogAppendTime), and a rebuild of every
//   batch that validates (what the log cleaner does), which must give back
//   the same records;
// - legacy message sets (magic 0/1): decoding and conversion to one v2
//   batch, which must validate and hold the same keys, values and
//   timestamps.
//
// Mutations break checksums, which would stop almost every input at the CRC
// check; so each input is also run with its checksums recomputed (the v2
// batches' CRC-32C, the top-level legacy messages' CRC-32) to reach what
// lies behind them. Seeds: corpus/batches/ and ../golden/batches/.
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "strata/protocol/crc32c.h"
#include "strata/protocol/legacy_records.h"
#include "strata/protocol/record_batch.h"

using namespace strata::protocol;
using strata::fuzz::finding;
using strata::fuzz::require;

namespace {

// The bound on decompressed bytes (max.message.bytes' role): large enough
// for any input libFuzzer makes to decompress, small enough to keep a run
// fast.
constexpr size_t max_decompressed = size_t{1} << 20;

// What a batch may allocate: the bounded decompression (a few times the
// bound while its buffer grows, plus codec state: LZ4's 4 MiB blocks, the
// zstd window) and the decoded records (at most one per 7 bytes of records,
// each a record_view).
constexpr size_t batch_fixed_bytes = 48 * max_decompressed;
constexpr size_t batch_bytes_per_input_byte = 256;

void store_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

uint32_t load_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Recomputes the checksum of every top-level v2 batch and legacy message
// that its length field frames, stopping at the first that does not fit.
std::vector<uint8_t> with_checksums_fixed(std::span<const uint8_t> payload) {
    std::vector<uint8_t> out(payload.begin(), payload.end());
    size_t at = 0;
    while (out.size() - at >= 17) {
        auto length = static_cast<int32_t>(load_be32(out.data() + at + 8));
        if (length < 0 || static_cast<size_t>(length) > out.size() - at - 12) break;
        uint8_t* entry = out.data() + at;
        size_t size = 12 + static_cast<size_t>(length);
        int8_t magic = static_cast<int8_t>(entry[16]);
        if (magic == 2 && size >= record_batch_view::header_size) {
            store_be32(entry + record_batch_view::crc_offset,
                       crc32c({entry + record_batch_view::attributes_offset, size - record_batch_view::attributes_offset}));
        } else if ((magic == 0 || magic == 1) && length >= 4) {
            // offset, size, then crc over the rest of the message.
            store_be32(entry + 12, static_cast<uint32_t>(crc32(0, entry + 16, static_cast<uInt>(length - 4))));
        } else {
            break;
        }
        at += size;
    }
    return out;
}

bool same(const std::optional<bytes_view>& a, const std::optional<bytes_view>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || std::equal(a->begin(), a->end(), b->begin(), b->end());
}

int64_t wrapping_add(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// What the log cleaner does to a batch it keeps: decode every record and
// build a new batch from them with the same header. The result must hold the
// same records at the same offsets and timestamps.
void check_rebuild(const record_batch_view& batch, const decoded_records& decoded) {
    record_batch_options options;
    options.base_offset = batch.base_offset();
    options.partition_leader_epoch = batch.partition_leader_epoch();
    options.producer_id = batch.producer_id();
    options.producer_epoch = batch.producer_epoch();
    options.base_sequence = batch.base_sequence();
    options.is_transactional = batch.is_transactional();
    options.is_control = batch.is_control();
    options.timestamp_kind = batch.timestamp_kind();
    options.log_append_time = batch.max_timestamp();
    options.delete_horizon_ms = batch.delete_horizon_ms();
    options.last_offset_delta = batch.last_offset_delta();
    record_batch_builder builder(options);
    for (const auto& r : decoded.records) {
        std::vector<record_header_view> headers(r.headers.begin(), r.headers.end());
        builder.append_at(r.offset_delta, wrapping_add(batch.base_timestamp(), r.timestamp_delta), r.key, r.value,
                          headers);
    }
    auto built = builder.build();
    require(built.has_value(), "rebuilding a valid batch failed");
    auto view = record_batch_view::from(built.value());
    require(view.has_value() && view.value().size() == built.value().size(), "a rebuilt batch does not frame");
    const auto& rebuilt = view.value();
    require(rebuilt.crc_ok(), "a rebuilt batch has a bad CRC");
    require(rebuilt.record_count() == batch.record_count() && rebuilt.last_offset_delta() == batch.last_offset_delta() &&
                rebuilt.producer_id() == batch.producer_id() && rebuilt.base_sequence() == batch.base_sequence() &&
                rebuilt.is_control() == batch.is_control() && rebuilt.is_transactional() == batch.is_transactional(),
            "a rebuilt batch's header differs");
    auto again = decode_records(rebuilt, max_decompressed);
    require(again.has_value(), "a rebuilt batch does not decode");
    const auto& records = again.value().records;
    require(records.size() == decoded.records.size(), "a rebuilt batch holds a different number of records");
    for (size_t i = 0; i < records.size(); ++i) {
        const auto& a = decoded.records[i];
        const auto& b = records[i];
        require(a.offset_delta == b.offset_delta, "a rebuilt record has another offset");
        require(wrapping_add(batch.base_timestamp(), a.timestamp_delta) ==
                    wrapping_add(rebuilt.base_timestamp(), b.timestamp_delta),
                "a rebuilt record has another timestamp");
        require(same(a.key, b.key) && same(a.value, b.value) && a.headers == b.headers,
                "a rebuilt record has other contents");
    }
}

// The log's in-place edits on a copy of a batch whose CRC holds.
void check_edits(const record_batch_view& batch) {
    std::vector<uint8_t> copy(batch.bytes().begin(), batch.bytes().end());
    stamp_base_offset(copy, 1234567);
    stamp_partition_leader_epoch(copy, 42);
    auto stamped = record_batch_view::from(copy);
    require(stamped.has_value() && stamped.value().crc_ok(), "stamping broke the CRC");
    require(stamped.value().base_offset() == 1234567 && stamped.value().partition_leader_epoch() == 42,
            "stamping did not stamp");
    set_max_timestamp(copy, timestamp_type::log_append_time, 1700000000000);
    auto appended = record_batch_view::from(copy);
    require(appended.has_value() && appended.value().crc_ok(), "set_max_timestamp left a bad CRC");
    require(appended.value().timestamp_kind() == timestamp_type::log_append_time &&
                appended.value().max_timestamp() == 1700000000000,
            "set_max_timestamp did not set");
}

void check_batch(const record_batch_view& batch) {
    (void)batch.crc_ok();
    (void)batch.delete_horizon_ms();
    (void)batch.last_offset();

    auto decoded = decode_records(batch, max_decompressed);
    std::vector<uint8_t> scratch;
    size_t visited = 0;
    auto walked = for_each_record(batch, max_decompressed, scratch, [&](const record_view&) { ++visited; });
    if (decoded.has_value()) {
        require(walked.has_value(), "decode_records accepts a batch that for_each_record refuses");
        require(visited == decoded.value().records.size(), "decode_records and for_each_record disagree");
        require(decoded.value().records.size() == static_cast<size_t>(batch.record_count()),
                "decode_records returned a count other than recordCount");
    }

    batch_validation_options replication;
    replication.from_client = false;
    replication.verify_records = true;
    replication.max_decompressed_bytes = max_decompressed;
    auto valid = validate_batch(batch, replication);
    if (valid.has_value()) {
        require(batch.crc_ok(), "a batch with a bad CRC validated");
        require(decoded.has_value(), "a batch validates with verify_records but does not decode");
        check_rebuild(batch, decoded.value());
        check_edits(batch);
    }
}

void check_v2(std::span<const uint8_t> payload) {
    produce_validation_options client;
    client.max_decompressed_bytes = max_decompressed;
    for (bool verify : {false, true}) {
        client.verify_records = verify;
        auto summary = validate_produce_records(payload, client);
        if (summary.has_value()) {
            require(summary.value().batch_count == 1 && summary.value().bytes <= payload.size(),
                    "a produce payload validated with a wrong summary");
        }
    }
    produce_validation_options compacted = client;
    compacted.require_keys = true;
    compacted.require_single_batch = false;
    (void)validate_produce_records(payload, compacted);

    record_batch_sequence batches(payload);
    for (int n = 0; n < 64; ++n) {
        auto next = batches.next();
        if (!next.has_value() || !next.value()) break;
        check_batch(*next.value());
    }
    require(batches.consumed() <= payload.size(), "record_batch_sequence consumed more than it was given");
}

void check_legacy(std::span<const uint8_t> payload) {
    auto set = decode_legacy_message_set(payload, max_decompressed);
    legacy_conversion_options options;
    options.max_decompressed_bytes = max_decompressed;
    options.compression = compression_codec::none;
    auto converted = convert_legacy_to_v2(payload, options);
    if (!set.has_value()) {
        require(!converted.has_value(), "conversion accepts a message set that decoding refuses");
        return;
    }
    const auto& messages = set.value().messages;
    if (messages.empty()) {
        require(!converted.has_value(), "an empty message set converted");
        return;
    }
    require(converted.has_value(), "a decoded message set does not convert");
    auto batch = record_batch_view::from(converted.value());
    require(batch.has_value(), "a converted message set is not a v2 batch");
    batch_validation_options replication;
    replication.from_client = false;
    replication.verify_records = true;
    replication.max_decompressed_bytes = max_decompressed;
    require(validate_batch(batch.value(), replication).has_value(), "a converted message set does not validate");
    auto decoded = decode_records(batch.value(), max_decompressed);
    require(decoded.has_value() && decoded.value().records.size() == messages.size(),
            "a converted message set holds a different number of records");
    for (size_t i = 0; i < messages.size(); ++i) {
        const auto& r = decoded.value().records[i];
        require(r.offset_delta == static_cast<int32_t>(i), "converted records are not numbered 0, 1, 2, ...");
        require(same(r.key, messages[i].key) && same(r.value, messages[i].value), "a converted record differs");
        if (messages[i].timestamp_kind == timestamp_type::create_time)
            require(wrapping_add(batch.value().base_timestamp(), r.timestamp_delta) == messages[i].timestamp,
                    "a converted record has another timestamp");
    }
}

void check_payload(std::span<const uint8_t> payload) {
    auto magic = peek_magic(payload);
    if (magic && (*magic == 0 || *magic == 1))
        check_legacy(payload);
    else
        check_v2(payload);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> payload(data, size);
    {
        strata::fuzz::allocation_budget budget(size, batch_bytes_per_input_byte, batch_fixed_bytes);
        check_payload(payload);
        budget.check("the records payload");
    }
    auto fixed = with_checksums_fixed(payload);
    if (!std::equal(fixed.begin(), fixed.end(), payload.begin(), payload.end())) {
        strata::fuzz::allocation_budget budget(size, batch_bytes_per_input_byte, batch_fixed_bytes);
        check_payload(fixed);
        budget.check("the records payload with its checksums fixed");
    }
    return 0;
}
