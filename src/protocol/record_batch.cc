#include "strata/protocol/record_batch.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "record_bytes.h"
#include "strata/protocol/crc32c.h"
#include "strata/protocol/wire.h"

namespace strata::protocol {

using boost::outcome_v2::success;
using detail::load_be;
using detail::store_be;

namespace {

// Field offsets of the v2 header (see the drawing in record_batch.h).
constexpr size_t base_offset_at = 0;
constexpr size_t batch_length_at = 8;
constexpr size_t leader_epoch_at = 12;
constexpr size_t magic_at = 16;
constexpr size_t crc_at = 17;
constexpr size_t attributes_at = 21;
constexpr size_t last_offset_delta_at = 23;
constexpr size_t base_timestamp_at = 27;
constexpr size_t max_timestamp_at = 35;
constexpr size_t producer_id_at = 43;
constexpr size_t producer_epoch_at = 51;
constexpr size_t base_sequence_at = 53;
constexpr size_t record_count_at = 57;
static_assert(record_count_at + 4 == record_batch_view::header_size);

// baseOffset and batchLength: what precedes every batch and legacy message.
constexpr size_t log_overhead = 12;

constexpr int16_t codec_mask = 0x07;
constexpr int16_t timestamp_type_bit = 0x08;
constexpr int16_t transactional_bit = 0x10;
constexpr int16_t control_bit = 0x20;
constexpr int16_t delete_horizon_bit = 0x40;

record_error magic_error(int8_t magic) { return magic == 0 || magic == 1 ? record_error::legacy_magic : record_error::unknown_magic; }

// The size of the batch at the start of `batch`, checked against the span.
size_t checked_batch_size(std::span<uint8_t> batch) {
    if (batch.size() < record_batch_view::header_size) throw std::invalid_argument("span shorter than a batch header");
    auto length = load_be<int32_t>(batch.data() + batch_length_at);
    size_t size = log_overhead + static_cast<size_t>(std::max(length, 0));
    if (size < record_batch_view::header_size || size > batch.size())
        throw std::invalid_argument("span does not hold the batch its header describes");
    return size;
}

uint32_t crc_of(const uint8_t* batch, size_t size) {
    return crc32c({batch + attributes_at, size - attributes_at});
}

record_error from_compression_error(compression_error e) {
    switch (e) {
        case compression_error::unsupported_codec: return record_error::unknown_compression;
        case compression_error::corrupt_input: return record_error::decompression_failed;
        case compression_error::output_too_large: return record_error::decompressed_too_large;
        case compression_error::codec_failure: return record_error::decompression_failed;
    }
    return record_error::decompression_failed;
}

std::optional<bytes_view> read_nullable(reader& r) {
    int32_t length = r.read_varint();
    if (length < -1) throw decode_error("negative length");
    if (length == -1) return std::nullopt;
    return r.read_raw(static_cast<size_t>(length));
}

bool same_bytes(const std::optional<bytes_view>& a, const std::optional<bytes_view>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || std::equal(a->begin(), a->end(), b->begin(), b->end());
}

}  // namespace

// ---- errors -------------------------------------------------------------------

kafka_error to_kafka_error(record_error error) {
    switch (error) {
        case record_error::truncated:
        case record_error::batch_too_small:
        case record_error::unknown_magic:
        case record_error::crc_mismatch:
        case record_error::unknown_compression:
        case record_error::decompression_failed:
        case record_error::decompressed_too_large:
        case record_error::malformed_message: return kafka_error::corrupt_message;
        case record_error::batch_too_large: return kafka_error::message_too_large;
        case record_error::legacy_magic:
        case record_error::mixed_magic:
        case record_error::invalid_record_count:
        case record_error::malformed_record:
        case record_error::record_count_mismatch:
        case record_error::invalid_offset_delta:
        case record_error::control_batch_not_allowed:
        case record_error::invalid_sequence:
        case record_error::missing_key:
        case record_error::no_batches:
        case record_error::too_many_batches:
        case record_error::nested_compression: return kafka_error::invalid_record;
        case record_error::invalid_timestamp: return kafka_error::invalid_timestamp;
        case record_error::compression_failed: return kafka_error::unknown_server_error;
    }
    return kafka_error::unknown_server_error;
}

std::string_view record_error_message(record_error error) {
    switch (error) {
        case record_error::truncated: return "batch runs past the end of the data";
        case record_error::batch_too_small: return "batch length below the header size";
        case record_error::unknown_magic: return "unknown magic byte";
        case record_error::crc_mismatch: return "checksum mismatch";
        case record_error::unknown_compression: return "unknown compression codec";
        case record_error::decompression_failed: return "records failed to decompress";
        case record_error::decompressed_too_large: return "decompressed records exceed the limit";
        case record_error::malformed_message: return "malformed legacy message";
        case record_error::batch_too_large: return "batch larger than max.message.bytes";
        case record_error::legacy_magic: return "message format v0/v1 where v2 is required";
        case record_error::mixed_magic: return "batches or messages of different magic";
        case record_error::invalid_record_count: return "invalid record count";
        case record_error::malformed_record: return "malformed record";
        case record_error::record_count_mismatch: return "records present differ from the record count";
        case record_error::invalid_offset_delta: return "record offset deltas not in sequence";
        case record_error::control_batch_not_allowed: return "clients may not write control batches";
        case record_error::invalid_sequence: return "producer id without a base sequence";
        case record_error::missing_key: return "record without a key on a compacted topic";
        case record_error::no_batches: return "no records";
        case record_error::too_many_batches: return "more than one record batch";
        case record_error::nested_compression: return "compressed message inside a compressed message";
        case record_error::invalid_timestamp: return "record timestamp not accepted by the topic";
        case record_error::compression_failed: return "compression failed";
    }
    return "unknown record error";
}

std::optional<int8_t> peek_magic(bytes_view payload) {
    if (payload.size() <= magic_at) return std::nullopt;
    return static_cast<int8_t>(payload[magic_at]);
}

// ---- record_batch_view --------------------------------------------------------

record_result<record_batch_view> record_batch_view::from(bytes_view bytes) {
    if (bytes.size() <= magic_at) return record_error::truncated;
    auto magic = static_cast<int8_t>(bytes[magic_at]);
    if (magic != 2) return magic_error(magic);
    auto length = load_be<int32_t>(bytes.data() + batch_length_at);
    if (length < static_cast<int32_t>(header_size - log_overhead)) return record_error::batch_too_small;
    size_t size = log_overhead + static_cast<size_t>(length);
    if (size > bytes.size()) return record_error::truncated;
    record_batch_view view(bytes.first(size));
    if ((view.attributes() & codec_mask) > static_cast<int>(compression_codec::zstd))
        return record_error::unknown_compression;
    return view;
}

int64_t record_batch_view::base_offset() const { return load_be<int64_t>(_bytes.data() + base_offset_at); }
int32_t record_batch_view::batch_length() const { return load_be<int32_t>(_bytes.data() + batch_length_at); }
int32_t record_batch_view::partition_leader_epoch() const { return load_be<int32_t>(_bytes.data() + leader_epoch_at); }
int8_t record_batch_view::magic() const { return static_cast<int8_t>(_bytes[magic_at]); }
uint32_t record_batch_view::crc() const { return load_be<uint32_t>(_bytes.data() + crc_at); }
int16_t record_batch_view::attributes() const { return load_be<int16_t>(_bytes.data() + attributes_at); }
int32_t record_batch_view::last_offset_delta() const { return load_be<int32_t>(_bytes.data() + last_offset_delta_at); }
int64_t record_batch_view::base_timestamp() const { return load_be<int64_t>(_bytes.data() + base_timestamp_at); }
int64_t record_batch_view::max_timestamp() const { return load_be<int64_t>(_bytes.data() + max_timestamp_at); }
int64_t record_batch_view::producer_id() const { return load_be<int64_t>(_bytes.data() + producer_id_at); }
int16_t record_batch_view::producer_epoch() const { return load_be<int16_t>(_bytes.data() + producer_epoch_at); }
int32_t record_batch_view::base_sequence() const { return load_be<int32_t>(_bytes.data() + base_sequence_at); }
int32_t record_batch_view::record_count() const { return load_be<int32_t>(_bytes.data() + record_count_at); }

timestamp_type record_batch_view::timestamp_kind() const {
    return (attributes() & timestamp_type_bit) ? timestamp_type::log_append_time : timestamp_type::create_time;
}

std::optional<int64_t> record_batch_view::delete_horizon_ms() const {
    if (!has_delete_horizon()) return std::nullopt;
    return base_timestamp();
}

uint32_t record_batch_view::compute_crc() const { return crc_of(_bytes.data(), _bytes.size()); }

record_result<std::optional<record_batch_view>> record_batch_sequence::next() {
    if (_rest.empty()) return std::optional<record_batch_view>{};
    auto batch = record_batch_view::from(_rest);
    if (!batch) return batch.error();
    _rest = _rest.subspan(batch.value().size());
    _consumed += batch.value().size();
    return std::optional<record_batch_view>{batch.value()};
}

// ---- records ------------------------------------------------------------------

bool record_header_view::operator==(const record_header_view& other) const {
    return key == other.key && same_bytes(value, other.value);
}

record_result<bool> record_reader::next(record_view& out) {
    if (_left <= 0) {
        if (!_rest.empty()) return record_error::record_count_mismatch;
        return false;
    }
    if (_rest.empty()) return record_error::record_count_mismatch;
    try {
        reader outer(_rest);
        int32_t length = outer.read_varint();
        if (length < 0) return record_error::malformed_record;
        reader r(outer.read_raw(static_cast<size_t>(length)));
        out.attributes = r.read_int8();
        out.timestamp_delta = r.read_varlong();
        out.offset_delta = r.read_varint();
        out.key = read_nullable(r);
        out.value = read_nullable(r);
        int32_t header_count = r.read_varint();
        // A header takes at least two bytes (two lengths), which bounds the
        // count before anything is reserved for it.
        if (header_count < 0 || static_cast<size_t>(header_count) > r.remaining() / 2)
            return record_error::malformed_record;
        out.headers.clear();
        out.headers.reserve(static_cast<size_t>(header_count));
        for (int32_t i = 0; i < header_count; ++i) {
            int32_t key_length = r.read_varint();
            if (key_length < 0) return record_error::malformed_record;
            auto key = r.read_raw(static_cast<size_t>(key_length));
            out.headers.push_back({{reinterpret_cast<const char*>(key.data()), key.size()}, read_nullable(r)});
        }
        // The length must be exactly the fields it announces.
        if (!r.empty()) return record_error::malformed_record;
        _rest = _rest.subspan(outer.position());
    } catch (const decode_error&) {
        return record_error::malformed_record;
    }
    --_left;
    return true;
}

record_result<bytes_view> uncompressed_records(const record_batch_view& batch, size_t max_decompressed_bytes,
                                               std::vector<uint8_t>& scratch) {
    if (batch.compression() == compression_codec::none) return batch.records_data();
    scratch.clear();
    auto r = decompress(batch.compression(), batch.records_data(), max_decompressed_bytes, scratch);
    if (!r) return from_compression_error(r.error());
    return bytes_view(scratch);
}

record_result<decoded_records> decode_records(const record_batch_view& batch, size_t max_decompressed_bytes) {
    decoded_records decoded;
    auto section = uncompressed_records(batch, max_decompressed_bytes, decoded.storage);
    if (!section) return section.error();
    int32_t count = batch.record_count();
    if (count < 0) return record_error::invalid_record_count;
    if (static_cast<size_t>(count) > section.value().size() / min_record_size)
        return record_error::record_count_mismatch;
    decoded.records.reserve(static_cast<size_t>(count));
    record_reader reader(section.value(), count);
    for (;;) {
        record_view record;
        auto more = reader.next(record);
        if (!more) return more.error();
        if (!more.value()) break;
        decoded.records.push_back(std::move(record));
    }
    return decoded;
}

// ---- validation ---------------------------------------------------------------

namespace {

// Kafka's AppendOrigin.CLIENT checks on the header (LogValidator.validateBatch).
record_result<void> validate_client_header(const record_batch_view& batch) {
    if (batch.record_count() <= 0 || batch.last_offset_delta() < 0 ||
        static_cast<int64_t>(batch.last_offset_delta()) + 1 != batch.record_count())
        return record_error::invalid_record_count;
    if (batch.is_control()) return record_error::control_batch_not_allowed;
    if (batch.has_producer_id() && batch.base_sequence() < 0) return record_error::invalid_sequence;
    return success();
}

record_result<void> validate_each_record(const record_batch_view& batch, const batch_validation_options& options) {
    std::vector<uint8_t> scratch;
    auto section = uncompressed_records(batch, options.max_decompressed_bytes, scratch);
    if (!section) return section.error();
    if (static_cast<size_t>(batch.record_count()) > section.value().size() / min_record_size)
        return record_error::record_count_mismatch;
    record_reader reader(section.value(), batch.record_count());
    record_view record;
    int64_t expected_delta = 0;
    int64_t previous_delta = -1;
    for (;;) {
        auto more = reader.next(record);
        if (!more) return more.error();
        if (!more.value()) return success();
        if (options.from_client) {
            // Clients number records 0, 1, 2, ...; stored as received, any
            // other numbering would disagree with lastOffsetDelta.
            if (record.offset_delta != expected_delta++) return record_error::invalid_offset_delta;
        } else if (record.offset_delta <= previous_delta || record.offset_delta > batch.last_offset_delta()) {
            return record_error::invalid_offset_delta;
        }
        previous_delta = record.offset_delta;
        if (options.require_keys && !record.key) return record_error::missing_key;
    }
}

}  // namespace

record_result<void> validate_batch(const record_batch_view& batch, const batch_validation_options& options) {
    if (batch.size() > options.max_batch_bytes) return record_error::batch_too_large;
    if (!batch.crc_ok()) return record_error::crc_mismatch;
    if (options.from_client) {
        auto header = validate_client_header(batch);
        if (!header) return header;
    }
    int32_t count = batch.record_count();
    if (count < 0) return record_error::invalid_record_count;
    // A count the data cannot hold, caught without decompressing.
    if (batch.compression() == compression_codec::none) {
        if (static_cast<size_t>(count) > batch.records_data().size() / min_record_size)
            return record_error::record_count_mismatch;
    } else if (static_cast<size_t>(count) > options.max_decompressed_bytes / min_record_size) {
        return record_error::decompressed_too_large;
    }
    if (options.verify_records || options.require_keys) return validate_each_record(batch, options);
    return success();
}

record_result<records_summary> validate_produce_records(bytes_view payload,
                                                        const produce_validation_options& options) {
    if (payload.empty()) return record_error::no_batches;
    records_summary summary;
    record_batch_sequence batches(payload);
    for (;;) {
        auto next = batches.next();
        if (!next) return next.error();
        if (!next.value()) break;
        const auto& batch = *next.value();
        if (options.require_single_batch && summary.batch_count == 1) return record_error::too_many_batches;
        auto valid = validate_batch(batch, options);
        if (!valid) return valid.error();
        if (summary.batch_count == 0) summary.compression = batch.compression();
        ++summary.batch_count;
        summary.record_count += batch.record_count();
        summary.offset_count += static_cast<int64_t>(batch.last_offset_delta()) + 1;
        summary.max_timestamp = std::max(summary.max_timestamp, batch.max_timestamp());
        summary.bytes += batch.size();
    }
    return summary;
}

// ---- in-place edits -----------------------------------------------------------

void stamp_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
    checked_batch_size(batch);
    store_be(batch.data() + base_offset_at, base_offset);
}

void stamp_partition_leader_epoch(std::span<uint8_t> batch, int32_t partition_leader_epoch) {
    checked_batch_size(batch);
    store_be(batch.data() + leader_epoch_at, partition_leader_epoch);
}

void set_max_timestamp(std::span<uint8_t> batch, timestamp_type type, int64_t max_timestamp) {
    size_t size = checked_batch_size(batch);
    auto attributes = load_be<int16_t>(batch.data() + attributes_at);
    auto updated = static_cast<int16_t>(type == timestamp_type::log_append_time ? attributes | timestamp_type_bit
                                                                                : attributes & ~timestamp_type_bit);
    if (updated == attributes && load_be<int64_t>(batch.data() + max_timestamp_at) == max_timestamp) return;
    store_be(batch.data() + attributes_at, updated);
    store_be(batch.data() + max_timestamp_at, max_timestamp);
    store_be(batch.data() + crc_at, crc_of(batch.data(), size));
}

// ---- builder ------------------------------------------------------------------

record_batch_builder::record_batch_builder(record_batch_options options) : _options(std::move(options)) {
    if (_options.delete_horizon_ms) _base_timestamp = *_options.delete_horizon_ms;
}

void record_batch_builder::append(int64_t timestamp, std::optional<bytes_view> key, std::optional<bytes_view> value,
                                  std::span<const record_header_view> headers) {
    append_at(_last_offset_delta + 1, timestamp, key, value, headers);
}

namespace {

size_t int32_length(size_t n) {
    if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("field longer than a record can hold");
    return n;
}

size_t nullable_size(const std::optional<bytes_view>& field) {
    if (!field) return detail::varint_size(-1);
    return detail::varint_size(static_cast<int64_t>(int32_length(field->size()))) + field->size();
}

void append_nullable(std::vector<uint8_t>& out, const std::optional<bytes_view>& field) {
    if (!field) {
        detail::append_varint(out, -1);
        return;
    }
    detail::append_varint(out, static_cast<int64_t>(field->size()));
    out.insert(out.end(), field->begin(), field->end());
}

}  // namespace

void record_batch_builder::append_at(int32_t offset_delta, int64_t timestamp, std::optional<bytes_view> key,
                                     std::optional<bytes_view> value, std::span<const record_header_view> headers) {
    if (offset_delta <= _last_offset_delta) throw std::invalid_argument("record offset deltas must increase");
    if (!_base_timestamp) _base_timestamp = timestamp;
    // Java's wrapping long arithmetic, as Kafka's builder computes it: a
    // legacy message set converts with whatever timestamps the client sent,
    // and base + delta gives each one back all the same.
    auto timestamp_delta =
        static_cast<int64_t>(static_cast<uint64_t>(timestamp) - static_cast<uint64_t>(*_base_timestamp));

    size_t body = 1 + detail::varint_size(timestamp_delta) + detail::varint_size(offset_delta) + nullable_size(key) +
                  nullable_size(value) + detail::varint_size(static_cast<int64_t>(headers.size()));
    for (const auto& h : headers) {
        body += detail::varint_size(static_cast<int64_t>(int32_length(h.key.size()))) + h.key.size();
        body += nullable_size(h.value);
    }
    detail::append_varint(_records, static_cast<int64_t>(int32_length(body)));
    _records.push_back(0);  // attributes: unused
    detail::append_varint(_records, timestamp_delta);
    detail::append_varint(_records, offset_delta);
    append_nullable(_records, key);
    append_nullable(_records, value);
    detail::append_varint(_records, static_cast<int64_t>(headers.size()));
    for (const auto& h : headers) {
        detail::append_varint(_records, static_cast<int64_t>(h.key.size()));
        _records.insert(_records.end(), h.key.begin(), h.key.end());
        append_nullable(_records, h.value);
    }
    ++_count;
    _last_offset_delta = offset_delta;
    _max_timestamp = std::max(_max_timestamp, timestamp);
}

record_result<std::vector<uint8_t>> record_batch_builder::build() const {
    const auto& o = _options;
    std::vector<uint8_t> out(record_batch_view::header_size);
    if (auto packed = compress(o.compression, _records, out, o.compression_settings); !packed)
        return record_error::compression_failed;
    if (out.size() - log_overhead > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("batch larger than 2 GiB");

    int16_t attributes = static_cast<int16_t>(o.compression);
    if (o.timestamp_kind == timestamp_type::log_append_time) attributes |= timestamp_type_bit;
    if (o.is_transactional) attributes |= transactional_bit;
    if (o.is_control) attributes |= control_bit;
    if (o.delete_horizon_ms) attributes |= delete_horizon_bit;
    int64_t max_timestamp = o.timestamp_kind == timestamp_type::log_append_time ? o.log_append_time : _max_timestamp;

    uint8_t* h = out.data();
    store_be(h + base_offset_at, o.base_offset);
    store_be(h + batch_length_at, static_cast<int32_t>(out.size() - log_overhead));
    store_be(h + leader_epoch_at, o.partition_leader_epoch);
    h[magic_at] = 2;
    store_be(h + attributes_at, attributes);
    store_be(h + last_offset_delta_at, o.last_offset_delta.value_or(_count > 0 ? _last_offset_delta : 0));
    store_be(h + base_timestamp_at, _base_timestamp.value_or(-1));
    store_be(h + max_timestamp_at, max_timestamp);
    store_be(h + producer_id_at, o.producer_id);
    store_be(h + producer_epoch_at, o.producer_epoch);
    store_be(h + base_sequence_at, o.base_sequence);
    store_be(h + record_count_at, _count);
    store_be(h + crc_at, crc_of(h, out.size()));
    return out;
}

}  // namespace strata::protocol
