#include "strata/common/kafka_error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace strata {
namespace {

TEST(kafka_error, numbers_match_kafka) {
    EXPECT_EQ(kafka_error_code(kafka_error::unknown_server_error), -1);
    EXPECT_EQ(kafka_error_code(kafka_error::none), 0);
    EXPECT_EQ(kafka_error_code(kafka_error::corrupt_message), 2);
    EXPECT_EQ(kafka_error_code(kafka_error::not_leader_or_follower), 6);
    EXPECT_EQ(kafka_error_code(kafka_error::unsupported_version), 35);
    EXPECT_EQ(kafka_error_code(kafka_error::invalid_record), 87);
    EXPECT_EQ(kafka_error_code(kafka_error::unknown_topic_id), 100);
    EXPECT_EQ(kafka_error_code(kafka_error::stale_member_epoch), 113);
    EXPECT_EQ(kafka_error_code(kafka_error::rebootstrap_required), 129);
    EXPECT_EQ(kafka_error_code(kafka_error::share_session_limit_reached), 133);
}

TEST(kafka_error, every_code_has_a_unique_name) {
    std::set<std::string_view> names;
    for (int code = -1; code <= 133; ++code) {
        auto e = kafka_error_from_code(static_cast<int16_t>(code));
        ASSERT_TRUE(e.has_value()) << code;
        EXPECT_EQ(kafka_error_code(*e), code);
        auto name = kafka_error_name(*e);
        EXPECT_NE(name, "UNKNOWN_ERROR_CODE") << code;
        EXPECT_TRUE(names.insert(name).second) << name;
    }
    EXPECT_FALSE(kafka_error_from_code(-2).has_value());
    EXPECT_FALSE(kafka_error_from_code(134).has_value());
    EXPECT_EQ(kafka_error_name(kafka_error::not_leader_or_follower), "NOT_LEADER_OR_FOLLOWER");
    EXPECT_EQ(kafka_error_name(kafka_error::fetch_session_topic_id_error), "FETCH_SESSION_TOPIC_ID_ERROR");
    EXPECT_EQ(kafka_error_name(static_cast<kafka_error>(999)), "UNKNOWN_ERROR_CODE");
}

TEST(kafka_error, retriable_follows_kafka) {
    for (auto e : {kafka_error::corrupt_message, kafka_error::not_leader_or_follower, kafka_error::request_timed_out,
                   kafka_error::not_enough_replicas, kafka_error::not_coordinator, kafka_error::not_controller,
                   kafka_error::kafka_storage_error, kafka_error::fenced_leader_epoch,
                   kafka_error::throttling_quota_exceeded, kafka_error::share_session_limit_reached})
        EXPECT_TRUE(is_retriable(e)) << kafka_error_name(e);
    for (auto e : {kafka_error::none, kafka_error::unknown_server_error, kafka_error::offset_out_of_range,
                   kafka_error::message_too_large, kafka_error::invalid_record, kafka_error::rebalance_in_progress,
                   kafka_error::out_of_order_sequence_number, kafka_error::producer_fenced,
                   kafka_error::unknown_producer_id, kafka_error::transaction_abortable})
        EXPECT_FALSE(is_retriable(e)) << kafka_error_name(e);
}

// The retriable column, checked whole against Kafka 4.1's protocol guide (the
// codes whose exception is a RetriableException), so an edit to the table
// that flips one is caught.
TEST(kafka_error, the_retriable_codes_are_exactly_kafkas) {
    const std::set<int> kafka_retriable{2,  3,  5,  6,  7,  9,  13, 14,  15,  16,  19,  20,  41,  51,  56,  70, 71,
                                        72, 74, 75, 78, 80, 83, 84, 88, 89, 100, 103, 106, 122, 123, 133};
    for (int code = -1; code <= 133; ++code) {
        auto e = kafka_error_from_code(static_cast<int16_t>(code));
        ASSERT_TRUE(e.has_value()) << code;
        EXPECT_EQ(is_retriable(*e), kafka_retriable.count(code) == 1) << kafka_error_name(*e);
    }
    EXPECT_FALSE(is_retriable(static_cast<kafka_error>(999)));
}

TEST(kafka_error, every_code_but_none_has_a_message) {
    for (int code = -1; code <= 133; ++code) {
        auto e = *kafka_error_from_code(static_cast<int16_t>(code));
        auto message = kafka_error_message(e);
        if (e == kafka_error::none) {
            EXPECT_TRUE(message.empty());
            continue;
        }
        EXPECT_FALSE(message.empty()) << kafka_error_name(e);
        EXPECT_EQ(message.back(), '.') << kafka_error_name(e);
    }
    EXPECT_EQ(kafka_error_message(kafka_error::unknown_topic_or_partition),
              "This server does not host this topic-partition.");
    EXPECT_EQ(kafka_error_message(static_cast<kafka_error>(999)), "Unknown error code.");
}

TEST(kafka_error, formats_name_and_code) {
    EXPECT_EQ(fmt::format("{}", kafka_error::not_leader_or_follower), "NOT_LEADER_OR_FOLLOWER(6)");
    EXPECT_EQ(fmt::format("{}", kafka_error::unknown_server_error), "UNKNOWN_SERVER_ERROR(-1)");
    EXPECT_EQ(fmt::format("{}", static_cast<kafka_error>(500)), "UNKNOWN_ERROR_CODE(500)");
}

}  // namespace
}  // namespace strata
