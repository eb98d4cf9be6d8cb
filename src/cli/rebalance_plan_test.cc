// The move planners of `strata broker decommission` and `strata cluster
// rebalance` (rebalance_plan.cc) on hand-made cluster layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "rebalance_plan.h"

namespace strata::cli {
namespace {

using ids = std::vector<int32_t>;

cluster_layout layout_of(std::map<int32_t, std::optional<std::string>> brokers, std::vector<ids> assignments) {
    cluster_layout out;
    out.brokers = std::move(brokers);
    int32_t index = 0;
    for (auto& replicas : assignments) {
        partition_placement p;
        p.topic = "t";
        p.partition = index++;
        p.leader = replicas.front();
        p.replicas = replicas;
        p.isr = replicas;
        out.partitions.push_back(std::move(p));
    }
    return out;
}

// The replicas of every partition once `moves` are done.
std::vector<ids> after(const cluster_layout& layout, const std::vector<partition_move>& moves) {
    std::vector<ids> out;
    for (const auto& p : layout.partitions) out.push_back(p.replicas);
    for (const auto& m : moves) out.at(size_t(m.partition)) = m.replicas;
    return out;
}

std::map<int32_t, int> replicas_per_broker(const std::vector<ids>& assignments) {
    std::map<int32_t, int> out;
    for (const auto& r : assignments)
        for (int32_t id : r) ++out[id];
    return out;
}

std::map<int32_t, int> preferred_per_broker(const std::vector<ids>& assignments) {
    std::map<int32_t, int> out;
    for (const auto& r : assignments) ++out[r.front()];
    return out;
}

void expect_no_duplicates(const std::vector<ids>& assignments) {
    for (const auto& r : assignments) EXPECT_EQ(std::set<int32_t>(r.begin(), r.end()).size(), r.size());
}

TEST(PlanDecommission, ReplacesTheBrokerEverywhereSpreadingTheLoad) {
    // Four brokers, RF 3: broker 1 is in every partition and leads two.
    auto layout = layout_of({{1, {}}, {2, {}}, {3, {}}, {4, {}}},
                            {{1, 2, 3}, {2, 3, 1}, {3, 1, 4}, {1, 4, 2}, {4, 2, 3}});
    auto moves = plan_decommission(layout, 1);
    ASSERT_EQ(moves.size(), 4u);
    auto result = after(layout, moves);
    expect_no_duplicates(result);
    auto counts = replicas_per_broker(result);
    EXPECT_EQ(counts.count(1), 0u);
    // 15 replicas on three brokers: five each.
    EXPECT_EQ(counts[2], 5);
    EXPECT_EQ(counts[3], 5);
    EXPECT_EQ(counts[4], 5);
    // The replacement takes the removed broker's place (so its rank).
    EXPECT_EQ(result[0], (ids{4, 2, 3}));
}

TEST(PlanDecommission, KeepsReplicasOnDistinctRacks) {
    // Racks a: {1, 2}, b: {3, 4}, c: {5}. Broker 3 leaves: its partitions
    // must go to broker 4 (rack b) rather than to a rack they are on already.
    auto layout = layout_of({{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}},
                            {{1, 3, 5}, {3, 2, 5}, {2, 4, 5}});
    auto moves = plan_decommission(layout, 3);
    auto result = after(layout, moves);
    EXPECT_EQ(result[0], (ids{1, 4, 5}));
    EXPECT_EQ(result[1], (ids{4, 2, 5}));
    EXPECT_EQ(result[2], (ids{2, 4, 5}));  // untouched
    EXPECT_EQ(moves.size(), 2u);
}

TEST(PlanDecommission, LeavesOutWhatCannotMoveAndWhatIsMovingAlready) {
    // Three brokers, RF 3: nowhere to go.
    auto full = layout_of({{1, {}}, {2, {}}, {3, {}}}, {{1, 2, 3}});
    EXPECT_TRUE(plan_decommission(full, 3).empty());
    // A partition already moving off broker 1 (target {2, 3, 4}) needs no move.
    auto layout = layout_of({{1, {}}, {2, {}}, {3, {}}, {4, {}}}, {{2, 3, 4, 1}});
    layout.partitions[0].adding = {4};
    layout.partitions[0].removing = {1};
    EXPECT_TRUE(plan_decommission(layout, 1).empty());
}

TEST(PlanRebalance, SpreadsReplicasAndPreferredLeadersOntoANewBroker) {
    // Six partitions RF 3 on brokers 1-3; broker 4 just joined, empty.
    auto layout = layout_of({{1, {}}, {2, {}}, {3, {}}, {4, {}}},
                            {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}, {1, 3, 2}, {2, 1, 3}, {3, 2, 1}});
    auto moves = plan_rebalance(layout);
    auto result = after(layout, moves);
    expect_no_duplicates(result);
    auto counts = replicas_per_broker(result);
    // 18 replicas on four brokers: 4 or 5 each.
    for (int32_t id : {1, 2, 3, 4}) {
        EXPECT_GE(counts[id], 4) << "broker " << id;
        EXPECT_LE(counts[id], 5) << "broker " << id;
    }
    auto preferred = preferred_per_broker(result);
    for (int32_t id : {1, 2, 3, 4}) {
        EXPECT_GE(preferred[id], 1) << "broker " << id;
        EXPECT_LE(preferred[id], 2) << "broker " << id;
    }
    // A balanced cluster plans nothing.
    auto balanced = layout;
    for (size_t i = 0; i < balanced.partitions.size(); ++i) balanced.partitions[i].replicas = result[i];
    EXPECT_TRUE(plan_rebalance(balanced).empty());
}

TEST(PlanRebalance, NeverPutsTwoReplicasOnOneRackThatWereOnTwo) {
    // Brokers 1, 2 on rack a, 3 on rack b, 4 (new) on rack a. Every
    // partition is on both racks; moving 3's replicas to 4 would lose rack b.
    auto layout = layout_of({{1, "a"}, {2, "a"}, {3, "b"}, {4, "a"}}, {{1, 3}, {2, 3}, {1, 3}, {2, 3}});
    auto moves = plan_rebalance(layout);
    auto result = after(layout, moves);
    for (const auto& r : result) EXPECT_TRUE(std::find(r.begin(), r.end(), 3) != r.end());
    auto counts = replicas_per_broker(result);
    EXPECT_EQ(counts[3], 4);
    EXPECT_GE(counts[4], 1);  // it took some of 1's and 2's
}

TEST(PlanRebalance, LeavesPartitionsBeingReassignedAlone) {
    auto layout = layout_of({{1, {}}, {2, {}}, {3, {}}, {4, {}}}, {{1, 2, 3, 4}, {1, 2, 3}});
    layout.partitions[0].adding = {4};
    layout.partitions[0].removing = {1};
    for (const auto& m : plan_rebalance(layout)) EXPECT_NE(m.partition, 0);
}

}  // namespace
}  // namespace strata::cli
