// The KIP-848 consumer group: joining, the assignors, and a member giving
// up partitions before another gets them.
#include "consumer_group.h"

#include <gtest/gtest.h>

namespace strata::group {
namespace {

protocol::uuid topic_id(uint8_t n) {
    protocol::uuid u;
    u.bytes[15] = n;
    return u;
}

const topic_catalog topics{{"t", {topic_id(1), 6}}};

consumer_heartbeat join(std::string id, std::optional<std::string> assignor = std::nullopt) {
    consumer_heartbeat h;
    h.member_id = std::move(id);
    h.member_epoch = 0;
    h.subscribed_topic_names = std::vector<std::string>{"t"};
    h.server_assignor = std::move(assignor);
    return h;
}

consumer_heartbeat beat(const std::string& id, int32_t epoch, std::optional<partition_assignment> owned) {
    consumer_heartbeat h;
    h.member_id = id;
    h.member_epoch = epoch;
    h.owned = std::move(owned);
    return h;
}

std::set<int32_t> parts(const std::optional<partition_assignment>& a) {
    if (!a || !a->contains(topic_id(1))) return {};
    return a->at(topic_id(1));
}

TEST(consumer_group, a_lone_member_gets_every_partition_at_epoch_one) {
    consumer_group g("g", {});
    auto r = g.heartbeat(join("a"), topics, 0, "unused");
    EXPECT_EQ(r.error, kafka_error::none);
    EXPECT_EQ(r.member_epoch, 1);
    EXPECT_EQ(parts(r.assignment), (std::set<int32_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(g.state(), "Stable");
}

TEST(consumer_group, a_v0_member_without_an_id_gets_one) {
    consumer_group g("g", {});
    auto r = g.heartbeat(join(""), topics, 0, "generated");
    EXPECT_EQ(r.member_id, "generated");
}

TEST(consumer_group, partitions_move_only_after_their_owner_revoked_them) {
    consumer_group g("g", {});
    auto a = g.heartbeat(join("a"), topics, 0, "");
    auto b = g.heartbeat(join("b"), topics, 0, "");
    EXPECT_EQ(b.member_epoch, 2);
    EXPECT_TRUE(parts(b.assignment).empty());  // a still owns everything
    EXPECT_EQ(g.state(), "Reconciling");

    // a is told to keep only its half; its epoch stays until it lets go.
    auto a2 = g.heartbeat(beat("a", 1, a.assignment), topics, 10, "");
    EXPECT_EQ(a2.member_epoch, 1);
    EXPECT_EQ(parts(a2.assignment).size(), 3u);
    auto b2 = g.heartbeat(beat("b", 2, b.assignment), topics, 20, "");
    EXPECT_TRUE(parts(b2.assignment).empty());

    auto a3 = g.heartbeat(beat("a", 1, a2.assignment), topics, 30, "");  // revoked
    EXPECT_EQ(a3.member_epoch, 2);
    auto b3 = g.heartbeat(beat("b", 2, b2.assignment), topics, 40, "");
    EXPECT_EQ(parts(b3.assignment).size(), 3u);
    std::set<int32_t> all = parts(a3.assignment);
    for (int32_t p : parts(b3.assignment)) EXPECT_TRUE(all.insert(p).second);
    EXPECT_EQ(all.size(), 6u);
    EXPECT_EQ(g.state(), "Stable");
}

TEST(consumer_group, epochs_are_fenced_and_sessions_expire) {
    consumer_group_limits limits;
    limits.session_timeout_ms = 1000;
    consumer_group g("g", limits);
    g.heartbeat(join("a"), topics, 0, "");
    EXPECT_EQ(g.heartbeat(beat("a", 7, std::nullopt), topics, 1, "").error, kafka_error::fenced_member_epoch);
    EXPECT_EQ(g.heartbeat(beat("x", 1, std::nullopt), topics, 1, "").error, kafka_error::unknown_member_id);
    EXPECT_EQ(g.validate_member_epoch("a", 1), kafka_error::none);
    EXPECT_EQ(g.validate_member_epoch("a", 0), kafka_error::stale_member_epoch);
    EXPECT_TRUE(g.tick(1001));
    EXPECT_TRUE(g.members().empty());
    EXPECT_EQ(g.state(), "Empty");
}

TEST(consumer_group, leaving_and_unknown_assignors) {
    consumer_group g("g", {});
    g.heartbeat(join("a"), topics, 0, "");
    auto left = g.heartbeat(beat("a", -1, std::nullopt), topics, 1, "");
    EXPECT_EQ(left.member_epoch, -1);
    EXPECT_TRUE(g.members().empty());
    EXPECT_EQ(g.heartbeat(join("b", "sticky-ish"), topics, 2, "").error, kafka_error::unsupported_assignor);
}

TEST(consumer_group_assignors, range_gives_consecutive_partitions_uniform_balances_and_sticks) {
    std::map<std::string, consumer_member> members;
    for (std::string id : {"m1", "m2", "m3", "m4"}) members[id].subscribed_topics = {"t"};
    auto range = assign_range(members, topics);
    EXPECT_EQ(range["m1"][topic_id(1)], (std::set<int32_t>{0, 1}));
    EXPECT_EQ(range["m2"][topic_id(1)], (std::set<int32_t>{2, 3}));
    EXPECT_EQ(range["m3"][topic_id(1)], (std::set<int32_t>{4}));
    EXPECT_EQ(range["m4"][topic_id(1)], (std::set<int32_t>{5}));

    auto uniform = assign_uniform(members, topics, {});
    for (const auto& [id, a] : uniform) EXPECT_LE(a.at(topic_id(1)).size(), 2u);
    // m4 leaves: everyone else keeps what it had.
    members.erase("m4");
    auto after = assign_uniform(members, topics, uniform);
    for (const auto& [id, a] : after)
        for (int32_t p : uniform[id][topic_id(1)]) EXPECT_TRUE(a.at(topic_id(1)).contains(p)) << id << " lost " << p;
    size_t total = 0;
    for (const auto& [id, a] : after) total += a.at(topic_id(1)).size();
    EXPECT_EQ(total, 6u);
}

}  // namespace
}  // namespace strata::group
