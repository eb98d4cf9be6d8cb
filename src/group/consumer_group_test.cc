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
    member_subscriptions members;
    for (std::string id : {"m1", "m2", "m3", "m4"}) members[id] = {"t"};
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

// ---- regex subscriptions (ConsumerGroupHeartbeat v1) --------------------------------

consumer_heartbeat join_regex(std::string id, std::string regex) {
    consumer_heartbeat h;
    h.member_id = std::move(id);
    h.member_epoch = 0;
    h.subscribed_topic_names = std::vector<std::string>{};  // librdkafka sends both
    h.subscribed_topic_regex = std::move(regex);
    return h;
}

size_t count(const std::optional<partition_assignment>& a) {
    size_t n = 0;
    if (a)
        for (const auto& [t, ps] : *a) n += ps.size();
    return n;
}

// A member's first heartbeat with a pattern new to the group, then the
// coordinator's resolution (its tick), then the member's next heartbeat.
consumer_heartbeat_result join_and_resolve(consumer_group& g, consumer_heartbeat h, const topic_catalog& catalog) {
    auto first = g.heartbeat(h, catalog, 0, "");
    EXPECT_EQ(first.error, kafka_error::none);
    g.resolve_regexes(catalog);
    return g.heartbeat(beat(first.member_id, first.member_epoch, first.assignment), catalog, 1, "");
}

TEST(consumer_group_regex, a_regex_is_matched_against_whole_topic_names) {
    const topic_catalog catalog{{"orders-eu", {topic_id(1), 2}},
                                {"orders-us", {topic_id(2), 3}},
                                {"old-orders-eu", {topic_id(3), 4}},
                                {"payments", {topic_id(4), 5}}};
    consumer_group g("g", {});
    auto r = join_and_resolve(g, join_regex("a", "orders-.*"), catalog);
    EXPECT_EQ(r.error, kafka_error::none);
    ASSERT_TRUE(r.assignment);
    // Not old-orders-eu: the pattern must match the whole name, as Kafka's matches().
    EXPECT_EQ(r.assignment->size(), 2u);
    EXPECT_TRUE(r.assignment->contains(topic_id(1)));
    EXPECT_TRUE(r.assignment->contains(topic_id(2)));
    EXPECT_EQ(count(r.assignment), 5u);
    EXPECT_EQ(g.subscribed_topic_names(), (std::set<std::string>{"orders-eu", "orders-us"}));
}

TEST(consumer_group_regex, literal_names_come_at_once_and_a_new_patterns_topics_after_its_resolution) {
    const topic_catalog catalog{{"a1", {topic_id(1), 1}}, {"a2", {topic_id(2), 1}}, {"b", {topic_id(3), 1}}};
    consumer_group g("g", {});
    auto h = join_regex("m", "^a.*");
    h.subscribed_topic_names = std::vector<std::string>{"b"};
    auto r = g.heartbeat(h, catalog, 0, "");
    EXPECT_EQ(count(r.assignment), 1u);  // b only: Kafka resolves the pattern after this heartbeat
    EXPECT_TRUE(g.has_unresolved_regexes());
    EXPECT_TRUE(g.resolve_regexes(catalog));  // a new group epoch
    EXPECT_FALSE(g.resolve_regexes(catalog));
    r = g.heartbeat(beat("m", r.member_epoch, r.assignment), catalog, 1, "");
    EXPECT_EQ(r.member_epoch, 2);
    EXPECT_EQ(count(r.assignment), 3u);  // the union

    // A second member with the same pattern: already resolved, at once.
    auto second = g.heartbeat(join_regex("n", "^a.*"), catalog, 2, "");
    EXPECT_EQ(second.error, kafka_error::none);
    EXPECT_FALSE(g.has_unresolved_regexes());
    EXPECT_EQ(g.group_epoch(), 3);  // the join's epoch; no second one from a resolution
}

TEST(consumer_group_regex, an_invalid_regex_is_refused_and_changes_nothing) {
    consumer_group g("g", {});
    auto r = g.heartbeat(join_regex("a", "orders-(.*"), topics, 0, "");
    EXPECT_EQ(r.error, kafka_error::invalid_regular_expression);
    EXPECT_NE(r.error_message.find("orders-(.*"), std::string::npos) << r.error_message;
    EXPECT_TRUE(g.members().empty());
    EXPECT_EQ(g.group_epoch(), 0);

    // A member in the group keeps its old pattern when it sends a bad one.
    join_and_resolve(g, join_regex("b", "t"), topics);
    const int32_t epoch = g.group_epoch();
    auto bad = beat("b", g.members().at("b").epoch, std::nullopt);
    bad.subscribed_topic_regex = "(?<=x)t";  // lookbehind: RE2 (and RE2/J) refuse it
    EXPECT_EQ(g.heartbeat(bad, topics, 1, "").error, kafka_error::invalid_regular_expression);
    EXPECT_EQ(g.members().at("b").subscribed_topic_regex, "t");
    EXPECT_EQ(g.group_epoch(), epoch);
}

TEST(consumer_group_regex, joining_needs_names_or_a_regex) {
    consumer_group g("g", {});
    consumer_heartbeat h;
    h.member_id = "a";
    h.member_epoch = 0;
    EXPECT_EQ(g.heartbeat(h, topics, 0, "").error, kafka_error::invalid_request);
    h.subscribed_topic_regex = "";  // an empty regex is a subscription to nothing yet
    auto r = g.heartbeat(h, topics, 0, "");
    EXPECT_EQ(r.error, kafka_error::none);
    EXPECT_EQ(count(r.assignment), 0u);
}

TEST(consumer_group_regex, created_and_deleted_topics_move_the_assignment) {
    topic_catalog catalog{{"logs-1", {topic_id(1), 2}}, {"other", {topic_id(9), 2}}};
    consumer_group g("g", {});
    auto r = join_and_resolve(g, join_regex("a", "logs-[0-9]+"), catalog);
    EXPECT_EQ(count(r.assignment), 2u);
    const int32_t first_epoch = r.member_epoch;

    // A heartbeat with nothing new and no new topic changes nothing.
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 10, "");
    EXPECT_EQ(r.member_epoch, first_epoch);

    // A matching topic is created: the next heartbeat brings a new epoch with it.
    catalog["logs-2"] = {topic_id(2), 3};
    catalog["logs-x"] = {topic_id(3), 3};  // does not match
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 20, "");
    EXPECT_GT(r.member_epoch, first_epoch);
    EXPECT_EQ(count(r.assignment), 5u);
    EXPECT_TRUE(r.assignment->contains(topic_id(2)));
    EXPECT_FALSE(r.assignment->contains(topic_id(3)));

    // logs-1 is deleted: its partitions leave the target (and the member
    // gives them up, as any revocation).
    const int32_t second_epoch = r.member_epoch;
    catalog.erase("logs-1");
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 30, "");
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 40, "");
    EXPECT_GT(r.member_epoch, second_epoch);
    EXPECT_FALSE(r.assignment->contains(topic_id(1)));
    EXPECT_EQ(count(r.assignment), 3u);
    EXPECT_EQ(g.state(), "Stable");
}

TEST(consumer_group_regex, changing_or_clearing_the_regex_resubscribes) {
    const topic_catalog catalog{{"x1", {topic_id(1), 1}}, {"y1", {topic_id(2), 1}}};
    consumer_group g("g", {});
    auto r = join_and_resolve(g, join_regex("a", "x.*"), catalog);
    ASSERT_TRUE(r.assignment->contains(topic_id(1)));
    auto h = beat("a", r.member_epoch, r.assignment);
    h.subscribed_topic_regex = "y.*";
    r = g.heartbeat(h, catalog, 1, "");  // x1 to revoke first
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 2, "");
    EXPECT_EQ(count(r.assignment), 0u);
    EXPECT_TRUE(g.resolve_regexes(catalog));
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 2, "");
    EXPECT_EQ(r.assignment->size(), 1u);
    EXPECT_TRUE(r.assignment->contains(topic_id(2)));

    h = beat("a", r.member_epoch, r.assignment);
    h.subscribed_topic_regex = "";  // cleared: subscribed to nothing
    r = g.heartbeat(h, catalog, 3, "");
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 4, "");
    EXPECT_EQ(count(r.assignment), 0u);
    EXPECT_TRUE(g.subscribed_topic_names().empty());
}

TEST(consumer_group_regex, members_with_one_pattern_share_its_topics) {
    const topic_catalog catalog{{"p-a", {topic_id(1), 4}}, {"p-b", {topic_id(2), 4}}};
    consumer_group g("g", {});
    auto a = g.heartbeat(join_regex("a", "p-.*"), catalog, 0, "");
    auto b = g.heartbeat(join_regex("b", "p-.*"), catalog, 0, "");
    EXPECT_TRUE(g.resolve_regexes(catalog));
    for (int i = 1; i < 4; ++i) {
        a = g.heartbeat(beat("a", a.member_epoch, a.assignment), catalog, i, "");
        b = g.heartbeat(beat("b", b.member_epoch, b.assignment), catalog, i, "");
    }
    EXPECT_EQ(g.state(), "Stable");
    EXPECT_EQ(count(a.assignment), 4u);
    EXPECT_EQ(count(b.assignment), 4u);
}

// ---- static membership under KIP-848 ---------------------------------------------------

consumer_heartbeat join_static(std::string id, std::string instance) {
    auto h = join(std::move(id));
    h.instance_id = std::move(instance);
    return h;
}

TEST(consumer_group_static, a_held_instance_id_is_refused_to_a_newcomer) {
    consumer_group g("g", {});
    auto a = g.heartbeat(join_static("a", "i1"), topics, 0, "");
    auto b = g.heartbeat(join_static("b", "i1"), topics, 1, "");
    EXPECT_EQ(b.error, kafka_error::unreleased_instance_id);
    EXPECT_EQ(g.members().size(), 1u);
    EXPECT_EQ(g.group_epoch(), a.member_epoch);
    // The holder itself rejoining with epoch 0 is no conflict.
    EXPECT_EQ(g.heartbeat(join_static("a", "i1"), topics, 2, "").error, kafka_error::none);
}

TEST(consumer_group_static, a_member_leaving_for_now_hands_its_partitions_to_its_successor) {
    consumer_group g("g", {});
    auto a = g.heartbeat(join_static("a", "i1"), topics, 0, "");
    auto b = g.heartbeat(join("b"), topics, 0, "");
    for (int i = 1; i < 4; ++i) {
        a = g.heartbeat(beat("a", a.member_epoch, a.assignment), topics, i, "");
        b = g.heartbeat(beat("b", b.member_epoch, b.assignment), topics, i, "");
    }
    ASSERT_EQ(g.state(), "Stable");
    const int32_t epoch = g.group_epoch();
    const auto held = parts(a.assignment);
    ASSERT_EQ(held.size(), 3u);

    auto left = g.heartbeat(beat("a", -2, std::nullopt), topics, 10, "");
    EXPECT_EQ(left.member_epoch, -2);
    EXPECT_EQ(g.members().size(), 2u);  // still there, with its partitions
    EXPECT_EQ(g.state(), "Stable");
    b = g.heartbeat(beat("b", b.member_epoch, b.assignment), topics, 11, "");
    EXPECT_EQ(parts(b.assignment).size(), 3u);  // no rebalance
    EXPECT_EQ(g.group_epoch(), epoch);

    auto successor = g.heartbeat(join_static("a2", "i1"), topics, 12, "");
    EXPECT_EQ(successor.error, kafka_error::none);
    EXPECT_EQ(parts(successor.assignment), held);
    EXPECT_EQ(g.group_epoch(), epoch);
    EXPECT_FALSE(g.members().contains("a"));
    EXPECT_EQ(g.state(), "Stable");

    // A non-static member's -2 is a leave like -1.
    g.heartbeat(beat("b", -2, std::nullopt), topics, 13, "");
    EXPECT_FALSE(g.members().contains("b"));
}

TEST(topic_regex, rejects_what_re2_rejects_and_matches_whole_names) {
    std::string error;
    EXPECT_EQ(topic_regex::compile("a(b", error), nullptr);
    EXPECT_FALSE(error.empty());
    auto r = topic_regex::compile("(?i)topic_[0-9]{2}", error);
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->matches("TOPIC_42"));
    EXPECT_FALSE(r->matches("topic_420"));
    EXPECT_FALSE(r->matches("my_topic_42"));
}

}  // namespace
}  // namespace strata::group
