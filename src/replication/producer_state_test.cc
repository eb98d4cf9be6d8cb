#include "strata/replication/producer_state.h"

#include <gtest/gtest.h>

namespace strata::replication {
namespace {

TEST(producer_state, retries_are_duplicates_and_gaps_are_refused) {
    producer_state s;
    EXPECT_EQ(s.check(7, 0, 0, 9).error, kafka_error::none);  // a new producer
    s.record(7, 0, {0, 9, 100, 109});
    // The same range again is a retry: answered with its offsets.
    auto retry = s.check(7, 0, 0, 9);
    ASSERT_TRUE(retry.duplicate_of);
    EXPECT_EQ(retry.duplicate_of->first_offset, 100);
    EXPECT_EQ(s.check(7, 0, 10, 19).error, kafka_error::none);
    EXPECT_EQ(s.check(7, 0, 11, 19).error, kafka_error::out_of_order_sequence_number);
    EXPECT_EQ(s.check(7, 0, 5, 9).error, kafka_error::out_of_order_sequence_number);
}

TEST(producer_state, keeps_five_batches_and_checks_epochs) {
    producer_state s;
    for (int i = 0; i < 7; ++i) s.record(1, 3, {i * 10, i * 10 + 9, i * 100, i * 100 + 9});
    EXPECT_FALSE(s.check(1, 3, 10, 19).duplicate_of);  // fell out of the window
    EXPECT_TRUE(s.check(1, 3, 20, 29).duplicate_of);
    EXPECT_EQ(s.check(1, 2, 70, 79).error, kafka_error::invalid_producer_epoch);
    EXPECT_EQ(s.check(1, 4, 0, 5).error, kafka_error::none);  // a new epoch starts over
    EXPECT_EQ(s.check(1, 4, 3, 5).error, kafka_error::out_of_order_sequence_number);
    EXPECT_EQ(s.check(2, 0, 42, 50).error, kafka_error::none);  // unknown producer: any sequence
}

TEST(producer_state, sequence_wraps_after_int_max) {
    producer_state s;
    s.record(1, 0, {INT32_MAX - 1, INT32_MAX, 0, 1});
    EXPECT_EQ(s.check(1, 0, 0, 4).error, kafka_error::none);
}

}  // namespace
}  // namespace strata::replication
