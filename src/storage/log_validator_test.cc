// The single produce validation pass: the max timestamp recomputed from the
// records with a CRC that checks out, record errors (KIP-467) for keys and
// timestamps, batch-level errors for everything else.
#include "strata/storage/log_validator.h"

#include <gtest/gtest.h>

#include "storage_test_support.h"
#include "strata/protocol/crc32c.h"

namespace strata::storage {
namespace {

using testing::make_batch;

constexpr int64_t t0 = 1'700'000'000'000;

produce_validation_config client_config() {
    produce_validation_config c;
    c.partition = "topic-0";
    return c;
}

// What the log would store: the header with validation's fields, then the
// records as received.
std::vector<uint8_t> as_stored(const validated_batch& b) {
    std::vector<uint8_t> out(b.view.bytes().begin(), b.view.bytes().end());
    protocol::set_max_timestamp(
        out, b.log_append_time ? protocol::timestamp_type::log_append_time : protocol::timestamp_type::create_time,
        b.max_timestamp);
    return out;
}

// Sarama 1.22 sends -1 in a v2 batch's maxTimestamp.
std::vector<uint8_t> without_max_timestamp(std::vector<uint8_t> batch) {
    protocol::set_max_timestamp(batch, protocol::timestamp_type::create_time, -1);
    return batch;
}

TEST(log_validator, recomputes_the_max_timestamp_under_create_time) {
    for (auto codec :
         {protocol::compression_codec::none, protocol::compression_codec::lz4, protocol::compression_codec::zstd}) {
        auto batch =
            without_max_timestamp(make_batch({{"a", "x", t0 + 30}, {"b", "y", t0 + 90}, {"c", "z", t0}}, codec));
        ASSERT_EQ(protocol::record_batch_view::from(batch).value().max_timestamp(), -1);
        auto v = validate_produce(batch, client_config(), t0);
        ASSERT_TRUE(v) << v.error().message;
        ASSERT_EQ(v.value().batches.size(), 1u);
        const auto& b = v.value().batches.front();
        EXPECT_EQ(b.max_timestamp, t0 + 90);
        EXPECT_EQ(v.value().max_timestamp, t0 + 90);
        EXPECT_FALSE(b.log_append_time);
        // The CRC validation computed is the one of the rewritten header.
        auto stored = as_stored(b);
        EXPECT_EQ(protocol::record_batch_view::from(stored).value().crc(), b.crc);
        EXPECT_TRUE(protocol::record_batch_view::from(stored).value().crc_ok());
    }
}

TEST(log_validator, keeps_a_correct_header_and_its_crc) {
    auto batch = make_batch({{"a", "x", t0}, {"b", "y", t0 + 5}});
    auto v = validate_produce(batch, client_config(), t0).value();
    EXPECT_EQ(v.batches.front().max_timestamp, t0 + 5);
    EXPECT_EQ(v.batches.front().crc, protocol::record_batch_view::from(batch).value().crc());
}

TEST(log_validator, log_append_time_sets_the_type_bit_and_the_crc) {
    auto config = client_config();
    config.timestamp_kind = protocol::timestamp_type::log_append_time;
    auto batch = make_batch({{"a", "x", t0}});  // the result points into it
    auto v = validate_produce(batch, config, t0 + 777).value();
    EXPECT_EQ(v.log_append_time, t0 + 777);
    const auto& b = v.batches.front();
    EXPECT_TRUE(b.log_append_time);
    EXPECT_EQ(b.max_timestamp, t0 + 777);
    auto stored = as_stored(b);
    EXPECT_EQ(protocol::record_batch_view::from(stored).value().crc(), b.crc);
}

TEST(log_validator, keyless_records_on_a_compacted_topic_are_record_errors) {
    auto config = client_config();
    config.compacted = true;
    auto batch = make_batch({{"a", "x"}, {std::nullopt, "y"}, {"c", "z"}, {std::nullopt, "w"}});
    auto v = validate_produce(batch, config, t0);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().error, kafka_error::invalid_record);
    const std::string why = "Compacted topic cannot accept message without key in topic partition topic-0";
    EXPECT_EQ(v.error().record_errors, (std::vector<record_failure>{{1, why}, {3, why}}));
    EXPECT_EQ(v.error().message,
              "One or more records have been rejected due to 2 record errors in total, and only showing the first "
              "three errors at most: [RecordError(batchIndex=1, message='" +
                  why + "'), RecordError(batchIndex=3, message='" + why + "')]");
    // Keys everywhere: accepted.
    EXPECT_TRUE(validate_produce(make_batch({{"a", "x"}, {"b", std::nullopt}}), config, t0));
}

TEST(log_validator, timestamps_outside_the_bounds_are_record_errors) {
    auto config = client_config();
    config.timestamp_before_max_ms = 1000;
    config.timestamp_after_max_ms = 2000;
    auto batch =
        make_batch({{"a", "x", t0 - 1001}, {"b", "y", t0 - 1000}, {"c", "z", t0 + 2000}, {"d", "w", t0 + 2001}});
    auto v = validate_produce(batch, config, t0);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().error, kafka_error::invalid_timestamp);
    ASSERT_EQ(v.error().record_errors.size(), 2u);
    EXPECT_EQ(v.error().record_errors[0].batch_index, 0);
    EXPECT_EQ(v.error().record_errors[1].batch_index, 3);
    EXPECT_EQ(v.error().record_errors[1].message,
              fmt::format("Timestamp {} of message with offset 3 is out of range. The timestamp should be within "
                          "[{}, {}]",
                          t0 + 2001, t0 - 1000, t0 + 2000));
    EXPECT_EQ(v.error().message, "One or more records have been rejected due to invalid timestamp");
    // Both kinds in one batch: Kafka reports INVALID_TIMESTAMP with every record error.
    config.compacted = true;
    auto mixed = validate_produce(make_batch({{std::nullopt, "x", t0}, {"b", "y", t0 - 5000}}), config, t0);
    ASSERT_FALSE(mixed);
    EXPECT_EQ(mixed.error().error, kafka_error::invalid_timestamp);
    EXPECT_EQ(mixed.error().record_errors.size(), 2u);
    // LogAppendTime topics take any client timestamp.
    config.compacted = false;
    config.timestamp_kind = protocol::timestamp_type::log_append_time;
    EXPECT_TRUE(validate_produce(batch, config, t0));
}

TEST(log_validator, framing_and_crc_errors_fail_the_batch_without_record_errors) {
    auto batch = make_batch({{"a", "x"}, {"b", "y"}});
    batch[70] ^= 0xff;
    auto v = validate_produce(batch, client_config(), t0);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().error, kafka_error::corrupt_message);
    EXPECT_TRUE(v.error().record_errors.empty());
    EXPECT_EQ(v.error().cause, protocol::record_error::crc_mismatch);

    auto config = client_config();
    config.max_message_bytes = 50;
    auto big = validate_produce(make_batch({{"a", "x"}}), config, t0);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().error, kafka_error::message_too_large);

    EXPECT_EQ(validate_produce({}, client_config(), t0).error().error, kafka_error::invalid_record);
}

TEST(log_validator, replicated_batches_are_kept_as_they_are) {
    auto batch = without_max_timestamp(make_batch({{"a", "x", t0}}));
    auto config = client_config();
    config.origin = append_origin::replication;
    config.compacted = true;
    auto v = validate_produce(batch, config, t0).value();
    EXPECT_EQ(v.batches.front().max_timestamp, -1);
    EXPECT_EQ(v.batches.front().crc, protocol::record_batch_view::from(batch).value().crc());
}

}  // namespace
}  // namespace strata::storage
