#include "strata/replication/replica_selector.h"

#include <gtest/gtest.h>

namespace strata::replication {
namespace {

replica_view view(int32_t id, std::optional<std::string> rack, int64_t end, int64_t since_caught_up = 0) {
    return replica_view{id, std::move(rack), end, since_caught_up};
}

TEST(replica_selector, parses_kafkas_class_names) {
    EXPECT_EQ(parse_replica_selector(""), replica_selector::none);
    EXPECT_EQ(parse_replica_selector("org.apache.kafka.common.replica.RackAwareReplicaSelector"),
              replica_selector::rack_aware);
    EXPECT_EQ(parse_replica_selector("org.apache.kafka.common.replica.LeaderSelector"), replica_selector::leader);
    EXPECT_EQ(parse_replica_selector("com.example.MySelector"), std::nullopt);
}

TEST(replica_selector, without_a_rack_aware_selector_the_leader_serves) {
    const auto leader = view(1, "a", 100);
    const std::vector<replica_view> followers{view(2, "b", 100)};
    EXPECT_EQ(select_read_replica(replica_selector::none, "b", leader, followers), 1);
    EXPECT_EQ(select_read_replica(replica_selector::leader, "b", leader, followers), 1);
}

TEST(replica_selector, the_same_rack_follower_serves_a_consumer_in_its_rack) {
    const auto leader = view(1, "a", 100);
    const std::vector<replica_view> followers{view(2, "b", 100), view(3, "c", 100)};
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "b", leader, followers), 2);
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "c", leader, followers), 3);
}

TEST(replica_selector, the_leader_serves_its_own_rack_no_rack_and_unknown_racks) {
    const auto leader = view(1, "a", 100);
    const std::vector<replica_view> followers{view(2, "a", 100), view(3, std::nullopt, 100)};
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "a", leader, followers), 1);
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "", leader, followers), 1);
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "z", leader, followers), 1);
}

TEST(replica_selector, the_most_caught_up_follower_of_the_rack_wins) {
    const auto leader = view(1, "a", 100);
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "b", leader,
                                  {view(2, "b", 90), view(3, "b", 100), view(4, "c", 100)}),
              3);
    // Same log end: the one caught up most recently, then the smaller id.
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "b", leader, {view(2, "b", 100, 50), view(3, "b", 100, 10)}),
              3);
    EXPECT_EQ(select_read_replica(replica_selector::rack_aware, "b", leader, {view(3, "b", 100), view(2, "b", 100)}), 2);
}

}  // namespace
}  // namespace strata::replication
