// The one validation pass over a produce `records` payload (Kafka's
// LogValidator): framing, sizes, CRC, the client header checks and every
// record (offset deltas, keys on compacted topics, timestamp bounds), in a
// single walk of each batch. Its result tells the log what to write into each
// batch's header (the max timestamp computed from the records under CreateTime,
// the append time under LogAppendTime) and the CRC that goes with it, so that
// partition_log::append_validated writes the batches without parsing them again.
//
// Errors follow Kafka: a record-level problem (a null key on a compacted
// topic, a timestamp outside message.timestamp.before/after.max.ms, a
// LogAppendTime batch from a client on a CreateTime topic) fails the batch
// with INVALID_RECORD or INVALID_TIMESTAMP and names the offending records by
// index (ProduceResponse v8+ RecordErrors, KIP-467); everything else
// (framing, CRC, size, header fields) fails the batch without record errors.
// Pure function of its arguments; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/log.h"
#include "strata/storage/log_config.h"

namespace strata::storage {

inline constexpr int64_t unbounded_timestamp_ms = INT64_MAX;

struct produce_validation_config {
    size_t max_message_bytes = 1048588;  // max.message.bytes
    bool compacted = false;              // cleanup.policy contains compact
    protocol::timestamp_type timestamp_kind = protocol::timestamp_type::create_time;
    // message.timestamp.before.max.ms / after.max.ms (CreateTime only).
    int64_t timestamp_before_max_ms = unbounded_timestamp_ms;
    int64_t timestamp_after_max_ms = unbounded_timestamp_ms;
    append_origin origin = append_origin::client;
    // The broker's own bound on one batch's decompressed records.
    size_t max_decompressed_bytes = size_t{64} << 20;
    std::string partition;  // "topic-0", for the record errors' messages
};

// The settings a log_config implies (no timestamp bounds: those are the
// partition's, see replication::partition_config).
produce_validation_config validation_config_for(const log_config& config, append_origin origin);

// One offending record: its index in its batch and why (Kafka's RecordError).
struct record_failure {
    int32_t batch_index = 0;
    std::string message;
    bool operator==(const record_failure&) const = default;
};

struct validation_failure {
    kafka_error error = kafka_error::invalid_record;
    std::string message;
    std::vector<record_failure> record_errors;  // empty: the batch as a whole
    // The framing/content error behind a batch-level failure, for logs and tests.
    std::optional<protocol::record_error> cause;
};

// One batch as validated: where it is in the payload, and the header fields
// the log writes (maxTimestamp, the timestamp type bit and the CRC).
struct validated_batch {
    protocol::record_batch_view view;
    int64_t max_timestamp = -1;  // as stored: from the records, or the append time
    bool log_append_time = false;
    uint32_t crc = 0;  // the CRC of the batch with those header fields
};

struct validated_records {
    append_origin origin = append_origin::client;
    std::vector<validated_batch> batches;
    int64_t record_count = 0;
    int64_t max_timestamp = -1;
    int64_t log_append_time = -1;  // the append time stamped, with LogAppendTime
    size_t bytes = 0;
};

using validation_result =
    boost::outcome_v2::basic_result<validated_records, validation_failure, boost::outcome_v2::policy::terminate>;

// Validates `payload` as appended by `config.origin` at `now_ms`. The views in
// the result point into `payload`, which the caller keeps alive until the
// append.
validation_result validate_produce(protocol::bytes_view payload, const produce_validation_config& config,
                                   int64_t now_ms);

// The error message Kafka's RecordValidationException carries into the
// ProduceResponse for these record errors.
std::string record_errors_summary(kafka_error error, const std::vector<record_failure>& errors);

}  // namespace strata::storage
