#include "strata/storage/log_validator.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "strata/protocol/crc32c.h"

namespace strata::storage {
namespace {

using protocol::record_batch_view;
using protocol::record_error;

constexpr int64_t no_timestamp = -1;
constexpr size_t max_timestamp_at = 35;
constexpr uint16_t timestamp_type_bit = 0x08;
constexpr size_t crc_covered_header = record_batch_view::header_size - record_batch_view::attributes_offset;

validation_failure batch_failure(record_error cause) {
    validation_failure f;
    f.error = protocol::to_kafka_error(cause);
    f.message = std::string(protocol::record_error_message(cause));
    f.cause = cause;
    return f;
}

// Kafka's AppendOrigin.CLIENT header checks (LogValidator.validateBatch).
std::optional<record_error> check_client_header(const record_batch_view& batch) {
    if (batch.record_count() <= 0 || batch.last_offset_delta() < 0 ||
        int64_t(batch.last_offset_delta()) + 1 != batch.record_count())
        return record_error::invalid_record_count;
    if (batch.is_control()) return record_error::control_batch_not_allowed;
    if (batch.has_producer_id() && batch.base_sequence() < 0) return record_error::invalid_sequence;
    return std::nullopt;
}

// Size, CRC and header fields. Returns the CRC of the records section alone,
// taken on the way, so that a rewritten header needs no second pass.
protocol::record_result<uint32_t> check_header(const record_batch_view& batch,
                                               const produce_validation_config& config) {
    if (batch.size() > config.max_message_bytes) return record_error::batch_too_large;
    const auto covered = batch.bytes().subspan(record_batch_view::attributes_offset, crc_covered_header);
    const uint32_t records_crc = protocol::crc32c(batch.records_data());
    if (protocol::crc32c_combine(protocol::crc32c(covered), records_crc, batch.records_data().size()) != batch.crc())
        return record_error::crc_mismatch;
    if (config.origin == append_origin::client) {
        if (auto bad = check_client_header(batch)) return *bad;
    }
    const int32_t count = batch.record_count();
    if (count < 0) return record_error::invalid_record_count;
    // A count the data cannot hold, caught without decompressing.
    if (batch.compression() == protocol::compression_codec::none) {
        if (size_t(count) > batch.records_data().size() / protocol::min_record_size)
            return record_error::record_count_mismatch;
    } else if (size_t(count) > config.max_decompressed_bytes / protocol::min_record_size) {
        return record_error::decompressed_too_large;
    }
    return records_crc;
}

// Kafka's validateKey and validateTimestamp for one record; `timestamp` is
// the record's (the batch's maxTimestamp for a LogAppendTime batch, as
// Kafka's Record.timestamp() gives it).
std::optional<std::pair<kafka_error, std::string>> check_record(const record_batch_view& batch,
                                                                const protocol::record_view& record, int64_t timestamp,
                                                                const produce_validation_config& config,
                                                                int64_t now_ms) {
    if (config.compacted && !record.key)
        return std::pair{
            kafka_error::invalid_record,
            fmt::format("Compacted topic cannot accept message without key in topic partition {}", config.partition)};
    if (config.timestamp_kind == protocol::timestamp_type::create_time && timestamp != no_timestamp) {
        // As Kafka computes it: now - ts against before, ts - now against after.
        const bool too_early = config.timestamp_before_max_ms != unbounded_timestamp_ms &&
                               now_ms - timestamp > config.timestamp_before_max_ms;
        const bool too_late = config.timestamp_after_max_ms != unbounded_timestamp_ms &&
                              timestamp - now_ms > config.timestamp_after_max_ms;
        if (!too_early && !too_late) return std::nullopt;
        auto bound = [](int64_t now, int64_t delta, int sign) {
            return delta == unbounded_timestamp_ms ? (sign < 0 ? INT64_MIN : INT64_MAX) : now + sign * delta;
        };
        return std::pair{kafka_error::invalid_timestamp,
                         fmt::format("Timestamp {} of message with offset {} is out of range. The timestamp should "
                                     "be within [{}, {}]",
                                     timestamp, record.offset_delta, bound(now_ms, config.timestamp_before_max_ms, -1),
                                     bound(now_ms, config.timestamp_after_max_ms, 1))};
    }
    if (batch.timestamp_kind() == protocol::timestamp_type::log_append_time)
        return std::pair{kafka_error::invalid_timestamp,
                         std::string("Invalid timestamp type in message. Producer should not set timestamp type to "
                                     "LogAppendTime.")};
    return std::nullopt;
}

struct walked_batch {
    int64_t max_timestamp = no_timestamp;
    std::vector<record_failure> failures;
    bool timestamp_failure = false;
};

// One walk over a client batch's records (decompressed once, into
// `scratch`): offset deltas, keys, timestamps and the max timestamp.
protocol::record_result<walked_batch> walk_records(const record_batch_view& batch,
                                                   const produce_validation_config& config, int64_t now_ms,
                                                   std::vector<uint8_t>& scratch) {
    auto section = protocol::uncompressed_records(batch, config.max_decompressed_bytes, scratch);
    if (!section) return section.error();
    if (size_t(batch.record_count()) > section.value().size() / protocol::min_record_size)
        return record_error::record_count_mismatch;
    const bool append_time_batch = batch.timestamp_kind() == protocol::timestamp_type::log_append_time;
    walked_batch out;
    protocol::record_reader reader(section.value(), batch.record_count());
    protocol::record_view record;
    for (int32_t index = 0;; ++index) {
        auto more = reader.next(record);
        if (!more) return more.error();
        if (!more.value()) return out;
        // Clients number records 0, 1, 2, ...; stored as received, any other
        // numbering would disagree with lastOffsetDelta.
        if (record.offset_delta != index) return record_error::invalid_offset_delta;
        const int64_t timestamp =
            append_time_batch ? batch.max_timestamp() : batch.base_timestamp() + record.timestamp_delta;
        out.max_timestamp = std::max(out.max_timestamp, timestamp);
        if (auto bad = check_record(batch, record, timestamp, config, now_ms)) {
            out.timestamp_failure |= bad->first == kafka_error::invalid_timestamp;
            out.failures.push_back({index, std::move(bad->second)});
        }
    }
}

// The CRC of `batch` with the timestamp type bit and maxTimestamp as given.
uint32_t crc_with(const record_batch_view& batch, uint32_t records_crc, bool log_append_time, int64_t max_timestamp) {
    if (batch.max_timestamp() == max_timestamp &&
        (batch.timestamp_kind() == protocol::timestamp_type::log_append_time) == log_append_time)
        return batch.crc();
    std::array<uint8_t, crc_covered_header> covered;
    std::memcpy(covered.data(), batch.bytes().data() + record_batch_view::attributes_offset, covered.size());
    uint16_t attributes = uint16_t((covered[0] << 8) | covered[1]);
    attributes = log_append_time ? (attributes | timestamp_type_bit) : (attributes & ~timestamp_type_bit);
    covered[0] = uint8_t(attributes >> 8);
    covered[1] = uint8_t(attributes);
    uint8_t* ts = covered.data() + (max_timestamp_at - record_batch_view::attributes_offset);
    for (int i = 0; i < 8; ++i) ts[i] = uint8_t(uint64_t(max_timestamp) >> (56 - 8 * i));
    return protocol::crc32c_combine(protocol::crc32c(covered), records_crc, batch.records_data().size());
}

}  // namespace

produce_validation_config validation_config_for(const log_config& config, append_origin origin) {
    produce_validation_config out;
    out.max_message_bytes = config.max_message_bytes;
    out.compacted = config.compacted();
    out.timestamp_kind = config.timestamp_kind;
    out.origin = origin;
    return out;
}

std::string record_errors_summary(kafka_error error, const std::vector<record_failure>& errors) {
    if (error == kafka_error::invalid_timestamp)
        return "One or more records have been rejected due to invalid timestamp";
    std::string shown;
    for (size_t i = 0; i < std::min<size_t>(errors.size(), 3); ++i) {
        if (i > 0) shown += ", ";
        shown += fmt::format("RecordError(batchIndex={}, message='{}')", errors[i].batch_index, errors[i].message);
    }
    return fmt::format(
        "One or more records have been rejected due to {} record errors in total, and only showing "
        "the first three errors at most: [{}]",
        errors.size(), shown);
}

validation_result validate_produce(protocol::bytes_view payload, const produce_validation_config& config,
                                   int64_t now_ms) {
    if (payload.empty()) return batch_failure(record_error::no_batches);
    const bool client = config.origin == append_origin::client;
    const bool stamp_append_time = config.origin != append_origin::replication &&
                                   config.timestamp_kind == protocol::timestamp_type::log_append_time;
    validated_records out;
    out.origin = config.origin;
    if (stamp_append_time) out.log_append_time = now_ms;
    std::vector<uint8_t> scratch;
    protocol::record_batch_sequence sequence(payload);
    for (;;) {
        auto next = sequence.next();
        if (!next) return batch_failure(next.error());
        if (!next.value()) break;
        const auto& batch = *next.value();
        auto records_crc = check_header(batch, config);
        if (!records_crc) return batch_failure(records_crc.error());
        // Followers and the broker's own batches are stored as they are;
        // client batches get their records checked and their max timestamp
        // recomputed (Kafka trusts no client's header for it).
        int64_t max_timestamp = batch.max_timestamp();
        if (client) {
            auto walked = walk_records(batch, config, now_ms, scratch);
            if (!walked) return batch_failure(walked.error());
            if (!walked.value().failures.empty()) {
                validation_failure f;
                f.error =
                    walked.value().timestamp_failure ? kafka_error::invalid_timestamp : kafka_error::invalid_record;
                f.cause =
                    walked.value().timestamp_failure ? record_error::invalid_timestamp : record_error::missing_key;
                f.message = record_errors_summary(f.error, walked.value().failures);
                f.record_errors = std::move(walked.value().failures);
                return f;
            }
            max_timestamp = walked.value().max_timestamp;
        }
        bool append_time = batch.timestamp_kind() == protocol::timestamp_type::log_append_time;
        if (stamp_append_time) {
            max_timestamp = now_ms;
            append_time = true;
        } else if (client) {
            append_time = false;
        }
        const uint32_t crc = crc_with(batch, records_crc.value(), append_time, max_timestamp);
        out.batches.push_back(validated_batch{batch, max_timestamp, append_time, crc});
        out.record_count += batch.record_count();
        out.max_timestamp = std::max(out.max_timestamp, max_timestamp);
        out.bytes += batch.size();
    }
    return out;
}

}  // namespace strata::storage
