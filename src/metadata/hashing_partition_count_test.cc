#include "strata/metadata/hashing_partition_count.h"

#include <gtest/gtest.h>

namespace strata::metadata {
namespace {

using namespace std::chrono_literals;
using clock = hashing_partition_count::clock;

TEST(HashingPartitionCount, ConfiguredUntilTheTopicExists) {
    hashing_partition_count count(5);
    EXPECT_EQ(count(0), 5);
    EXPECT_FALSE(count.settled());  // (the caller knows the topic is not there)
}

// The ordering seen in CI: a CreateTopics of 5 partitions reaches the image
// one partition record at a time, and a key hashed meanwhile must land where
// it lands once all 5 are there (the group "g-offsets" hashes to 0 over 2
// partitions, to 1 over 5).
TEST(HashingPartitionCount, APartOfANewTopicIsNeverHashedOver) {
    hashing_partition_count count(5);
    const auto t0 = clock::now();
    EXPECT_EQ(count(0, t0), 5);
    for (size_t seen = 1; seen < 5; ++seen) {
        EXPECT_EQ(count(seen, t0 + std::chrono::milliseconds(seen)), 5);
        EXPECT_FALSE(count.settled()) << seen;
    }
    EXPECT_EQ(count(5, t0 + 10ms), 5);
    EXPECT_TRUE(count.settled());
    EXPECT_EQ(count(5, t0 + 1h), 5);
}

TEST(HashingPartitionCount, ATopicWithMorePartitionsThanConfiguredIsTakenAsItIs) {
    hashing_partition_count count(5);
    EXPECT_EQ(count(8), 8);
}

// Made elsewhere (or before a config change) with fewer partitions: taken
// once it has stayed the same for the settle time, and kept.
TEST(HashingPartitionCount, AShortTopicIsTakenOnceItHasSettled) {
    hashing_partition_count count(50, 2000ms);
    const auto t0 = clock::now();
    EXPECT_EQ(count(3, t0), 50);
    EXPECT_EQ(count(3, t0 + 1999ms), 50);
    EXPECT_FALSE(count.settled());
    EXPECT_EQ(count(3, t0 + 2000ms), 3);
    EXPECT_TRUE(count.settled());
    EXPECT_EQ(count(3, t0 + 2001ms), 3);
}

TEST(HashingPartitionCount, GrowthRestartsTheSettleTime) {
    hashing_partition_count count(50, 2000ms);
    const auto t0 = clock::now();
    EXPECT_EQ(count(3, t0), 50);
    EXPECT_EQ(count(4, t0 + 1500ms), 50);
    EXPECT_EQ(count(4, t0 + 3000ms), 50);  // 1.5 s at 4
    EXPECT_EQ(count(4, t0 + 3500ms), 4);
}

TEST(HashingPartitionCount, ADeletedTopicStartsOver) {
    hashing_partition_count count(5);
    const auto t0 = clock::now();
    EXPECT_EQ(count(5, t0), 5);
    EXPECT_EQ(count(0, t0 + 1s), 5);
    EXPECT_EQ(count(2, t0 + 2s), 5);  // being made again: a part
}

}  // namespace
}  // namespace strata::metadata
