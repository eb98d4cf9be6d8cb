// Kafka record batches, message format v2 (magic 2): parsing in place,
// validation of produce payloads, record iteration, encoding, and the few
// in-place edits the broker makes to stored batches.
//
// A batch, as received, stored in segments and served to consumers:
//
//   offset  size  field                   in CRC
//        0     8  baseOffset              no   stamped by the leader on append
//        8     4  batchLength             no   bytes after this field
//       12     4  partitionLeaderEpoch    no   stamped by the leader on append
//       16     1  magic (2)               no
//       17     4  crc (CRC-32C, unsigned) no
//       21     2  attributes              yes  bits 0-2 codec, 3 timestamp type
//                                              (1 = LogAppendTime), 4 transactional,
//                                              5 control, 6 hasDeleteHorizonMs
//       23     4  lastOffsetDelta         yes
//       27     8  baseTimestamp           yes  delete horizon when bit 6 is set
//       35     8  maxTimestamp            yes
//       43     8  producerId              yes  -1 when not idempotent
//       51     2  producerEpoch           yes
//       53     4  baseSequence            yes
//       57     4  recordCount             yes
//       61     -  records                 yes  compressed as one block if codec != 0
//
// All integers are big-endian. Each record (zig-zag varints):
//
//   length varint | attributes int8 (unused) | timestampDelta varlong |
//   offsetDelta varint | keyLength varint (-1 null) | key |
//   valueLength varint (-1 null) | value | headerCount varint |
//   [headerKeyLength varint | headerKey | headerValueLength varint (-1 null) | headerValue]*
//
// Everything here is a pure function of its arguments: no shared state, safe
// from any thread. Views point into memory owned by the caller, who keeps it
// alive. Malformed input is an error value (record_error), never an exception
// or undefined behaviour, and no length is trusted before it is checked against
// the bytes that hold it, so parsing allocates at most what the input (or the
// caller's decompression bound) justifies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/protocol/compression.h"

namespace strata::protocol {

using bytes_view = std::span<const uint8_t>;

enum class timestamp_type : uint8_t {
    create_time = 0,
    log_append_time = 1,
};

// Why a batch (or a legacy message set) was refused. to_kafka_error() gives the
// code a produce response carries, following where Kafka raises
// CorruptRecordException (CORRUPT_MESSAGE), InvalidRecordException
// (INVALID_RECORD) and RecordTooLargeException (MESSAGE_TOO_LARGE).
enum class record_error : uint8_t {
    // The bytes do not frame or check out: CORRUPT_MESSAGE.
    truncated,               // a length runs past the end of the bytes
    batch_too_small,         // a length below the format's fixed header
    unknown_magic,           // a magic byte this format does not define
    crc_mismatch,            // CRC-32C (v2) or CRC-32 (v0/v1) differs
    unknown_compression,     // codec id 5-7 (or 4 in a legacy message)
    decompression_failed,    // the codec rejected the compressed records
    decompressed_too_large,  // decompressed records exceed the caller's bound
    malformed_message,       // a legacy message's key/value lengths do not fit
    // A batch larger than max.message.bytes: MESSAGE_TOO_LARGE.
    batch_too_large,
    // Well-framed, but not acceptable contents: INVALID_RECORD.
    legacy_magic,            // magic 0/1 where only v2 batches are allowed
    mixed_magic,             // batches or inner messages of different magics
    invalid_record_count,    // recordCount <= 0, or not lastOffsetDelta + 1
    malformed_record,        // a record's varints or lengths do not fit
    record_count_mismatch,   // records present differ from recordCount
    invalid_offset_delta,    // offset deltas not 0, 1, 2, ... in a client batch
    control_batch_not_allowed,
    invalid_sequence,        // a producer id with a negative base sequence
    missing_key,             // a null key where keys are required (compaction)
    no_batches,              // an empty payload, or a wrapper with no messages
    too_many_batches,        // produce v3+ carries exactly one batch
    nested_compression,      // a legacy compressed message inside another
    // A record timestamp the topic does not accept: INVALID_TIMESTAMP.
    invalid_timestamp,
    // Not the input's fault: UNKNOWN_SERVER_ERROR.
    compression_failed,      // the codec failed while building a batch
};

kafka_error to_kafka_error(record_error error);
std::string_view record_error_message(record_error error);

template <typename T>
using record_result = boost::outcome_v2::basic_result<T, record_error, boost::outcome_v2::policy::terminate>;

// The magic byte of the first batch or message in `payload` (at offset 16 in
// every format), or nullopt if there are not 17 bytes.
std::optional<int8_t> peek_magic(bytes_view payload);

// A read-only view of one v2 batch. Constructed only through from(), which
// checks the framing (so every accessor reads inside the span); the CRC and
// the records are checked separately because they cost a pass over the data.
class record_batch_view {
public:
    static constexpr size_t header_size = 61;
    static constexpr size_t crc_offset = 17;
    static constexpr size_t attributes_offset = 21;  // the CRC covers from here

    // The batch at the start of `bytes` (which may continue past it): needs
    // magic 2, batchLength + 12 >= header_size and <= bytes.size(), and a
    // known codec.
    static record_result<record_batch_view> from(bytes_view bytes);

    int64_t base_offset() const;
    int32_t batch_length() const;
    int32_t partition_leader_epoch() const;
    int8_t magic() const;
    uint32_t crc() const;
    int16_t attributes() const;
    int32_t last_offset_delta() const;
    int64_t base_timestamp() const;
    int64_t max_timestamp() const;
    int64_t producer_id() const;
    int16_t producer_epoch() const;
    int32_t base_sequence() const;
    int32_t record_count() const;

    compression_codec compression() const { return static_cast<compression_codec>(attributes() & 0x7); }
    timestamp_type timestamp_kind() const;
    bool is_transactional() const { return (attributes() & 0x10) != 0; }
    bool is_control() const { return (attributes() & 0x20) != 0; }
    bool has_delete_horizon() const { return (attributes() & 0x40) != 0; }
    std::optional<int64_t> delete_horizon_ms() const;
    // Wraps like Kafka's Java long: baseOffset is outside the CRC and, until
    // the leader stamps it, whatever the client sent.
    int64_t last_offset() const {
        return static_cast<int64_t>(static_cast<uint64_t>(base_offset()) + static_cast<uint64_t>(last_offset_delta()));
    }
    bool has_producer_id() const { return producer_id() >= 0; }

    bytes_view bytes() const { return _bytes; }
    size_t size() const { return _bytes.size(); }
    // The records section after the header: compressed unless compression() is none.
    bytes_view records_data() const { return _bytes.subspan(header_size); }

    uint32_t compute_crc() const;
    bool crc_ok() const { return compute_crc() == crc(); }

private:
    explicit record_batch_view(bytes_view bytes) : _bytes(bytes) {}
    bytes_view _bytes;
};

// Splits a records payload (a produce partition's `records`, a fetched
// segment range) into v2 batches by their length fields. It checks framing
// (record_batch_view::from) but not CRCs.
class record_batch_sequence {
public:
    explicit record_batch_sequence(bytes_view payload) : _rest(payload) {}

    // The next batch; nullopt at the end; an error for a bad or cut-off batch.
    record_result<std::optional<record_batch_view>> next();
    size_t consumed() const { return _consumed; }

private:
    bytes_view _rest;
    size_t _consumed = 0;
};

struct record_header_view {
    std::string_view key;
    std::optional<bytes_view> value;
    bool operator==(const record_header_view&) const;
};

// One decoded record; the spans point into the batch or into decompressed
// storage held by whoever decoded it.
struct record_view {
    int8_t attributes = 0;
    int64_t timestamp_delta = 0;
    int32_t offset_delta = 0;
    std::optional<bytes_view> key;
    std::optional<bytes_view> value;
    std::vector<record_header_view> headers;
};

// Walks an uncompressed records section. `count` is the batch's recordCount.
class record_reader {
public:
    record_reader(bytes_view records, int32_t count) : _rest(records), _left(count) {}

    // Decodes the next record into `out` (reusing its header storage) and
    // returns true; returns false after the last one, once it has checked that
    // no bytes are left over.
    record_result<bool> next(record_view& out);

private:
    bytes_view _rest;
    int64_t _left;
};

// The smallest encoded record (length, attributes, timestamp and offset
// deltas, null key, null value, no headers: one byte each): bounds how many
// records a section can hold before anything is allocated for them.
inline constexpr size_t min_record_size = 7;

// The uncompressed records section of `batch`: its own bytes if uncompressed,
// else decompressed into `scratch` (replacing its contents) within
// `max_decompressed_bytes`.
record_result<bytes_view> uncompressed_records(const record_batch_view& batch, size_t max_decompressed_bytes,
                                               std::vector<uint8_t>& scratch);

// Every record of a batch, owning what it decoded. Move-only, because the
// records point into `storage` (or into the batch, which the caller keeps).
struct decoded_records {
    decoded_records() = default;
    decoded_records(decoded_records&&) = default;
    decoded_records& operator=(decoded_records&&) = default;
    decoded_records(const decoded_records&) = delete;
    decoded_records& operator=(const decoded_records&) = delete;

    std::vector<uint8_t> storage;  // decompressed records; empty for uncompressed batches
    std::vector<record_view> records;
};

record_result<decoded_records> decode_records(const record_batch_view& batch, size_t max_decompressed_bytes);

// Calls fn(const record_view&) for every record of the batch, decoding into
// one reused record_view (no allocation per record beyond header growth).
template <typename Fn>
record_result<void> for_each_record(const record_batch_view& batch, size_t max_decompressed_bytes,
                                    std::vector<uint8_t>& scratch, Fn&& fn) {
    auto section = uncompressed_records(batch, max_decompressed_bytes, scratch);
    if (!section) return section.error();
    record_reader reader(section.value(), batch.record_count());
    record_view record;
    for (;;) {
        auto more = reader.next(record);
        if (!more) return more.error();
        if (!more.value()) return boost::outcome_v2::success();
        fn(static_cast<const record_view&>(record));
    }
}

// ---- validation ---------------------------------------------------------------

struct batch_validation_options {
    // max.message.bytes: a batch (as received, compressed) larger than this
    // fails with batch_too_large.
    size_t max_batch_bytes = SIZE_MAX;
    // Bound on one batch's decompressed records. Compressed batches may hold
    // far more than max.message.bytes uncompressed, so this is the broker's
    // own memory guard, not a Kafka setting.
    size_t max_decompressed_bytes = size_t{64} << 20;
    // Kafka's checks for batches from clients (AppendOrigin.CLIENT):
    // recordCount > 0 and == lastOffsetDelta + 1, no control batches, a base
    // sequence with every producer id, and offset deltas 0, 1, 2, ... when
    // records are walked. Off for replication and the cleaner.
    bool from_client = true;
    // Decompress (bounded) and decode every record. Off: framing, sizes,
    // magic, CRC and header fields only. (The produce path validates with
    // storage::validate_produce, which walks every client record once.)
    bool verify_records = false;
    // Compacted topics refuse null keys; implies verify_records.
    bool require_keys = false;
};

struct produce_validation_options : batch_validation_options {
    // Produce v3+ carries exactly one batch per partition.
    bool require_single_batch = true;
};

// What validation learned without decoding records, for the log append.
struct records_summary {
    int32_t batch_count = 0;
    int64_t record_count = 0;  // sum of recordCount
    int64_t offset_count = 0;  // sum of lastOffsetDelta + 1: the offsets the batches take
    int64_t max_timestamp = -1;
    compression_codec compression = compression_codec::none;  // of the first batch
    size_t bytes = 0;
};

// Validates one batch: framing, size, magic, codec, CRC, header sanity and,
// when asked, every record.
record_result<void> validate_batch(const record_batch_view& batch, const batch_validation_options& options);

// Validates a whole produce `records` payload: a sequence of v2 batches of
// which each is validated as above, with nothing left over. Legacy (magic
// 0/1) payloads fail with legacy_magic; convert them first
// (legacy_records.h).
record_result<records_summary> validate_produce_records(bytes_view payload,
                                                        const produce_validation_options& options);

// ---- in-place edits -----------------------------------------------------------
// `batch` starts with a batch that record_batch_view::from accepted; a span
// too short for it throws std::invalid_argument (a broken invariant, not bad
// input).

// Outside the CRC: no recomputation.
void stamp_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void stamp_partition_leader_epoch(std::span<uint8_t> batch, int32_t partition_leader_epoch);

// Sets the timestamp type bit and maxTimestamp (for LogAppendTime topics, the
// append time) and recomputes the CRC, which covers both.
void set_max_timestamp(std::span<uint8_t> batch, timestamp_type type, int64_t max_timestamp);

// ---- encoding -----------------------------------------------------------------

struct record_batch_options {
    compression_codec compression = compression_codec::none;
    compression_options compression_settings;
    timestamp_type timestamp_kind = timestamp_type::create_time;
    // With log_append_time: the batch's maxTimestamp (the records keep theirs).
    int64_t log_append_time = -1;
    int64_t base_offset = 0;
    int32_t partition_leader_epoch = -1;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    int32_t base_sequence = -1;
    bool is_transactional = false;
    bool is_control = false;
    // Sets attributes bit 6; baseTimestamp becomes the horizon and record
    // timestamp deltas are taken from it (KIP-534).
    std::optional<int64_t> delete_horizon_ms;
    // The cleaner keeps the original batch's last offset even when its last
    // records are gone; by default the last appended record's delta (0 for an
    // empty batch).
    std::optional<int32_t> last_offset_delta;
};

// Builds one v2 batch. Used by tests, the log cleaner, legacy conversion and
// the admin tool; not on the produce path, which stores client batches as
// received. Not thread-safe.
class record_batch_builder {
public:
    explicit record_batch_builder(record_batch_options options = {});

    // Appends a record at the next offset delta (0, 1, 2, ...).
    void append(int64_t timestamp, std::optional<bytes_view> key, std::optional<bytes_view> value,
                std::span<const record_header_view> headers = {});
    // Appends a record at an explicit offset delta, which must exceed the
    // previous one (the cleaner keeps surviving records' offsets).
    void append_at(int32_t offset_delta, int64_t timestamp, std::optional<bytes_view> key,
                   std::optional<bytes_view> value, std::span<const record_header_view> headers = {});

    int32_t record_count() const { return _count; }
    size_t uncompressed_size() const { return record_batch_view::header_size + _records.size(); }

    // Encodes the batch; fails only if compression fails.
    record_result<std::vector<uint8_t>> build() const;

private:
    record_batch_options _options;
    std::vector<uint8_t> _records;
    int32_t _count = 0;
    int32_t _last_offset_delta = -1;
    std::optional<int64_t> _base_timestamp;
    int64_t _max_timestamp = -1;
};

}  // namespace strata::protocol

template <>
struct fmt::formatter<strata::protocol::record_error> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(strata::protocol::record_error error, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "{}", strata::protocol::record_error_message(error));
    }
};
