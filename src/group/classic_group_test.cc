// The classic group state machine, step by step with injected time and a
// store that completes when the test says so.
#include "classic_group.h"

#include <gtest/gtest.h>

#include <deque>

#include "strata/group/group_coordinator.h"

namespace strata::group {
namespace {

struct fake_env final : group_environment {
    void store_group(classic_group&, protocol::coordinator::group_metadata_value value,
                     std::function<void(kafka_error)> done) override {
        stored.push_back(value);
        if (immediate)
            done(fail_with);
        else
            pending.push_back(std::move(done));
    }
    std::string new_member_id(const std::string& client_id) override { return client_id + "-" + std::to_string(++ids); }
    void complete_stores(kafka_error e = kafka_error::none) {
        while (!pending.empty()) {
            auto done = std::move(pending.front());
            pending.pop_front();
            done(e);
        }
    }
    bool immediate = true;
    kafka_error fail_with = kafka_error::none;
    std::vector<protocol::coordinator::group_metadata_value> stored;
    std::deque<std::function<void(kafka_error)>> pending;
    int ids = 0;
};

group_limits no_delay() {
    group_limits l;
    l.min_session_timeout_ms = 1000;
    l.initial_rebalance_delay_ms = 0;
    return l;
}

join_params params(std::string client, std::string member_id = {}, std::vector<uint8_t> metadata = {1}) {
    join_params p;
    p.member_id = std::move(member_id);
    p.client_id = std::move(client);
    p.client_host = "/127.0.0.1";
    p.session_timeout_ms = 10000;
    p.rebalance_timeout_ms = 30000;
    p.protocol_type = "consumer";
    p.protocols.push_back({"range", std::move(metadata)});
    return p;
}

// Captures a callback's result.
template <typename R>
struct captured {
    std::optional<R> value;
    std::function<void(R)> callback() {
        return [this](R r) { value = std::move(r); };
    }
};

struct group_test : ::testing::Test {
    fake_env env;
    classic_group group{"g", no_delay(), env};
    int64_t now = 1000;

    // Joins a new dynamic member through KIP-394 and returns its id (the join
    // is left waiting or completed, per the group).
    std::string join_new(const std::string& client, captured<join_result>& out) {
        captured<join_result> first;
        auto p = params(client);
        p.require_known_member_id = true;
        group.join(p, now, first.callback());
        EXPECT_EQ(first.value->error, kafka_error::member_id_required);
        p.member_id = first.value->member_id;
        group.join(p, now, out.callback());
        return first.value->member_id;
    }

    sync_result sync(const std::string& member, int32_t generation,
                     std::vector<std::pair<std::string, std::vector<uint8_t>>> assignments = {}) {
        // Kept alive: the answer may come after a deferred store.
        auto& out = *syncs.emplace_back(std::make_unique<captured<sync_result>>());
        sync_params p;
        p.member_id = member;
        p.generation = generation;
        p.assignments = std::move(assignments);
        group.sync(p, now, out.callback());
        return out.value.value_or(sync_result{kafka_error::unknown_server_error, {}, {}, {}});
    }
    std::vector<std::unique_ptr<captured<sync_result>>> syncs;
};

TEST_F(group_test, a_lone_member_gets_an_id_then_joins_syncs_and_is_stable) {
    captured<join_result> join;
    auto id = join_new("c", join);
    ASSERT_TRUE(join.value);
    EXPECT_EQ(join.value->error, kafka_error::none);
    EXPECT_EQ(join.value->generation, 1);
    EXPECT_EQ(join.value->leader_id, id);
    EXPECT_EQ(join.value->protocol_name, "range");
    ASSERT_EQ(join.value->members.size(), 1u);
    EXPECT_EQ(group.state(), group_state::completing_rebalance);

    auto s = sync(id, 1, {{id, {7, 7}}});
    EXPECT_EQ(s.error, kafka_error::none);
    EXPECT_EQ(s.assignment, (std::vector<uint8_t>{7, 7}));
    EXPECT_EQ(group.state(), group_state::stable);
    ASSERT_EQ(env.stored.size(), 1u);
    EXPECT_EQ(env.stored[0].members.at(0).assignment, (std::vector<uint8_t>{7, 7}));
}

TEST_F(group_test, the_followers_sync_waits_for_the_leaders_assignment_to_be_stored) {
    env.immediate = false;
    captured<join_result> a, b;
    auto id_a = join_new("a", a);
    sync(id_a, 1, {{id_a, {1}}});
    env.complete_stores();
    ASSERT_EQ(group.state(), group_state::stable);

    auto id_b = join_new("b", b);
    EXPECT_EQ(group.state(), group_state::preparing_rebalance);
    EXPECT_FALSE(b.value);  // waits for a to rejoin
    EXPECT_EQ(group.heartbeat(id_a, std::nullopt, 1, now), kafka_error::rebalance_in_progress);
    captured<join_result> a2;
    group.join(params("a", id_a), now, a2.callback());
    ASSERT_TRUE(a2.value && b.value);
    EXPECT_EQ(a2.value->generation, 2);
    EXPECT_EQ(a2.value->members.size(), 2u);  // a stays leader
    EXPECT_TRUE(b.value->members.empty());

    captured<sync_result> follower;
    sync_params p;
    p.member_id = id_b;
    p.generation = 2;
    group.sync(p, now, follower.callback());
    EXPECT_FALSE(follower.value);
    sync(id_a, 2, {{id_a, {1}}, {id_b, {2}}});
    EXPECT_FALSE(follower.value);  // not durable yet
    env.complete_stores();
    ASSERT_TRUE(follower.value);
    EXPECT_EQ(follower.value->assignment, (std::vector<uint8_t>{2}));
    EXPECT_EQ(group.state(), group_state::stable);
}

TEST_F(group_test, a_failed_store_fails_the_sync_and_rebalances) {
    env.fail_with = kafka_error::not_coordinator;
    captured<join_result> a;
    auto id = join_new("a", a);
    EXPECT_EQ(sync(id, 1).error, kafka_error::not_coordinator);
    EXPECT_EQ(group.state(), group_state::preparing_rebalance);
}

TEST_F(group_test, a_member_that_stops_heartbeating_is_evicted_and_the_rest_rebalance) {
    captured<join_result> a, b;
    auto id_a = join_new("a", a);
    auto id_b = join_new("b", b);  // a was awaiting sync... it rejoins
    captured<join_result> a2;
    group.join(params("a", id_a), now, a2.callback());
    ASSERT_TRUE(b.value);
    sync(id_a, 2, {{id_a, {1}}, {id_b, {2}}});
    sync(id_b, 2);
    ASSERT_EQ(group.state(), group_state::stable);

    now += 5000;
    EXPECT_EQ(group.heartbeat(id_a, std::nullopt, 2, now), kafka_error::none);
    now += 6000;  // b's last heartbeat was 11 s ago; its session is 10 s
    group.tick(now);
    EXPECT_FALSE(group.has_member(id_b));
    EXPECT_EQ(group.state(), group_state::preparing_rebalance);
    captured<join_result> a3;
    group.join(params("a", id_a), now, a3.callback());
    ASSERT_TRUE(a3.value);
    EXPECT_EQ(a3.value->generation, 3);
    EXPECT_EQ(a3.value->members.size(), 1u);
}

TEST_F(group_test, members_that_do_not_rejoin_within_the_rebalance_timeout_are_removed) {
    captured<join_result> a, b;
    auto id_a = join_new("a", a);
    auto id_b = join_new("b", b);
    captured<join_result> a2;
    group.join(params("a", id_a), now, a2.callback());
    sync(id_a, 2);
    sync(id_b, 2);
    // a changes its subscription; b never rejoins (but keeps heartbeating).
    captured<join_result> a3;
    group.join(params("a", id_a, {9}), now, a3.callback());
    EXPECT_EQ(group.state(), group_state::preparing_rebalance);
    for (int i = 0; i < 4; ++i) {
        now += 8000;
        EXPECT_EQ(group.heartbeat(id_b, std::nullopt, 2, now), kafka_error::rebalance_in_progress);
        group.tick(now);
    }
    ASSERT_TRUE(a3.value);
    EXPECT_EQ(a3.value->generation, 3);
    EXPECT_FALSE(group.has_member(id_b));
    EXPECT_EQ(group.heartbeat(id_b, std::nullopt, 2, now), kafka_error::unknown_member_id);
}

TEST_F(group_test, fencing_errors) {
    captured<join_result> a;
    auto id = join_new("a", a);
    EXPECT_EQ(group.heartbeat("nobody", std::nullopt, 1, now), kafka_error::unknown_member_id);
    EXPECT_EQ(group.heartbeat(id, std::nullopt, 7, now), kafka_error::illegal_generation);
    EXPECT_EQ(sync(id, 0).error, kafka_error::illegal_generation);
    EXPECT_EQ(sync("nobody", 1).error, kafka_error::unknown_member_id);
    captured<join_result> bad;
    auto p = params("a", id);
    p.session_timeout_ms = 10;
    group.join(p, now, bad.callback());
    EXPECT_EQ(bad.value->error, kafka_error::invalid_session_timeout);
    captured<join_result> other;
    auto q = params("x");
    q.protocols = {{"roundrobin", {1}}};
    group.join(q, now, other.callback());
    EXPECT_EQ(other.value->error, kafka_error::inconsistent_group_protocol);
}

TEST_F(group_test, a_static_member_restarting_within_its_session_keeps_its_assignment_without_rebalance) {
    auto p = params("s");
    p.group_instance_id = "instance-1";
    captured<join_result> first;
    group.join(p, now, first.callback());  // static members skip MEMBER_ID_REQUIRED
    ASSERT_EQ(first.value->error, kafka_error::none);
    const auto old_id = first.value->member_id;
    sync(old_id, 1, {{old_id, {4, 2}}});
    ASSERT_EQ(group.state(), group_state::stable);

    now += 3000;  // restarted: joins again without a member id, JoinGroup v9
    p.supports_skip_assignment = true;
    captured<join_result> again;
    group.join(p, now, again.callback());
    ASSERT_TRUE(again.value);
    EXPECT_EQ(again.value->error, kafka_error::none);
    EXPECT_EQ(again.value->generation, 1);  // no rebalance
    EXPECT_NE(again.value->member_id, old_id);
    EXPECT_TRUE(again.value->skip_assignment);  // it was the leader
    EXPECT_EQ(group.state(), group_state::stable);
    auto s = sync(again.value->member_id, 1);
    EXPECT_EQ(s.assignment, (std::vector<uint8_t>{4, 2}));
    EXPECT_EQ(group.heartbeat(old_id, std::string("instance-1"), 1, now), kafka_error::fenced_instance_id);
}

// librdkafka 0102: before JoinGroup v9 a rejoining static leader is told the
// leader id from before its rejoin (its old member id), so it does not run an
// assignment; the others see no rebalance either.
TEST_F(group_test, a_static_leader_rejoining_before_v9_is_not_told_it_leads) {
    auto p = params("s");
    p.group_instance_id = "instance-1";
    captured<join_result> first;
    group.join(p, now, first.callback());
    ASSERT_EQ(first.value->error, kafka_error::none);
    const auto old_id = first.value->member_id;
    sync(old_id, 1, {{old_id, {4, 2}}});
    ASSERT_EQ(group.state(), group_state::stable);
    ASSERT_EQ(group.leader_id(), old_id);

    now += 3000;
    captured<join_result> again;
    group.join(p, now, again.callback());  // v5: no skip_assignment
    ASSERT_TRUE(again.value);
    EXPECT_EQ(again.value->error, kafka_error::none);
    EXPECT_EQ(again.value->generation, 1);
    EXPECT_NE(again.value->member_id, old_id);
    EXPECT_EQ(again.value->leader_id, old_id);  // not its new id: it is no leader to itself
    EXPECT_TRUE(again.value->members.empty());
    EXPECT_FALSE(again.value->skip_assignment);
    EXPECT_EQ(group.leader_id(), again.value->member_id);  // the group knows who leads
    EXPECT_EQ(group.state(), group_state::stable);
    EXPECT_EQ(sync(again.value->member_id, 1).assignment, (std::vector<uint8_t>{4, 2}));
}

TEST_F(group_test, leaving_empties_the_group_and_bumps_the_generation) {
    captured<join_result> a;
    auto id = join_new("a", a);
    sync(id, 1);
    EXPECT_EQ(group.leave(id, std::nullopt, now), kafka_error::none);
    EXPECT_EQ(group.state(), group_state::empty);
    EXPECT_EQ(group.generation(), 2);
    EXPECT_EQ(group.leave(id, std::nullopt, now), kafka_error::unknown_member_id);
    EXPECT_EQ(group.leave("", std::string("nope"), now), kafka_error::unknown_member_id);
}

// Kafka's validateOffsetCommit order: generation -1 on an Empty group is an
// admin (or assign()-only) commit whatever member id it names; a member that
// left commits with its old generation as a zombie and is refused.
TEST_F(group_test, a_member_that_left_is_refused_but_generation_minus_one_commits_to_an_empty_group) {
    captured<join_result> a;
    auto id = join_new("a", a);
    sync(id, 1);
    ASSERT_EQ(group.leave(id, std::nullopt, now), kafka_error::none);
    ASSERT_EQ(group.state(), group_state::empty);
    EXPECT_EQ(group.validate_offset_commit(id, std::nullopt, 1, now), kafka_error::unknown_member_id);
    EXPECT_EQ(group.validate_offset_commit(id, std::nullopt, -1, now), kafka_error::none);
    EXPECT_EQ(group.validate_offset_commit("", std::nullopt, -1, now), kafka_error::none);
}

TEST_F(group_test, offset_commit_validation) {
    EXPECT_EQ(group.validate_offset_commit("", std::nullopt, -1, now), kafka_error::none);  // empty group, no member
    captured<join_result> a;
    auto id = join_new("a", a);
    EXPECT_EQ(group.validate_offset_commit(id, std::nullopt, 1, now), kafka_error::rebalance_in_progress);
    sync(id, 1);
    EXPECT_EQ(group.validate_offset_commit(id, std::nullopt, 1, now), kafka_error::none);
    EXPECT_EQ(group.validate_offset_commit(id, std::nullopt, 0, now), kafka_error::illegal_generation);
    EXPECT_EQ(group.validate_offset_commit("", std::nullopt, -1, now), kafka_error::unknown_member_id);
    EXPECT_EQ(group.validate_offset_commit("x", std::nullopt, 1, now), kafka_error::unknown_member_id);
}

TEST(group_initial_delay, the_first_rebalance_waits_for_more_members) {
    fake_env env;
    group_limits limits = no_delay();
    limits.initial_rebalance_delay_ms = 3000;
    classic_group group("g", limits, env);
    captured<join_result> a, b;
    group.join(params("a"), 0, a.callback());
    group.tick(2000);
    group.join(params("b"), 2000, b.callback());
    group.tick(4000);  // b extended the delay to 5000
    EXPECT_FALSE(a.value);
    group.tick(5000);
    ASSERT_TRUE(a.value && b.value);
    EXPECT_EQ(a.value->generation, 1);
    EXPECT_EQ(group.members().size(), 2u);
}

TEST(group_records, a_group_survives_its_record) {
    fake_env env;
    classic_group group("g", no_delay(), env);
    auto p = params("s");
    p.group_instance_id = "i";
    captured<join_result> j;
    group.join(p, 0, j.callback());
    captured<sync_result> s;
    sync_params sp;
    sp.member_id = j.value->member_id;
    sp.generation = 1;
    sp.assignments = {{j.value->member_id, {5}}};
    group.sync(sp, 0, s.callback());
    ASSERT_EQ(env.stored.size(), 1u);

    classic_group loaded("g", no_delay(), env);
    loaded.load(env.stored.back(), 100);
    EXPECT_EQ(loaded.state(), group_state::stable);
    EXPECT_EQ(loaded.generation(), 1);
    EXPECT_EQ(loaded.leader_id(), j.value->member_id);
    EXPECT_EQ(loaded.members().at(j.value->member_id).assignment, (std::vector<uint8_t>{5}));
    // The static member comes back after the restart: no rebalance.
    captured<join_result> again;
    loaded.join(p, 200, again.callback());
    EXPECT_EQ(again.value->generation, 1);
    EXPECT_EQ(loaded.state(), group_state::stable);
}

TEST(group_partition, java_string_hash_and_kafkas_partition) {
    EXPECT_EQ(java_string_hash(""), 0);
    EXPECT_EQ(java_string_hash("a"), 97);
    EXPECT_EQ(java_string_hash("hello"), 99162322);
    EXPECT_EQ(java_string_hash("polygenelubricants"), INT32_MIN);  // Utils.abs maps it to 0
    EXPECT_EQ(partition_for_group("polygenelubricants", 50), 0);
    // "\xF0\x9F\x98\x80" (U+1F600) is the surrogate pair D83D DE00 in Java.
    EXPECT_EQ(java_string_hash("\xF0\x9F\x98\x80"), 0xD83D * 31 + 0xDE00);
    EXPECT_EQ(java_string_hash("\xC3\xA9"), 0xE9);
    // "my-group".hashCode() == -1906497762 (Java); abs % 50 == 12.
    EXPECT_EQ(java_string_hash("my-group"), -1906497762);
    EXPECT_EQ(partition_for_group("my-group", 50), 12);
}

}  // namespace
}  // namespace strata::group
