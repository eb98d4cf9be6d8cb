// KIP-848 groups in __consumer_offsets: the ConsumerGroup* records a change
// writes, and a group rebuilt from them by replay keeping its members'
// epochs and assignments.
#include "consumer_group_records.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "strata/protocol/coordinator/consumer_group_current_member_assignment_value.h"
#include "strata/protocol/coordinator/consumer_group_member_metadata_value.h"

namespace strata::group {
namespace {

protocol::uuid topic_id(uint8_t n) {
    protocol::uuid u;
    u.bytes[15] = n;
    return u;
}

const topic_catalog topics{{"t", {topic_id(1), 6}}};

consumer_heartbeat join(std::string id) {
    consumer_heartbeat h;
    h.member_id = std::move(id);
    h.member_epoch = 0;
    h.subscribed_topic_names = std::vector<std::string>{"t"};
    h.client_id = "client-" + h.member_id;
    h.client_host = "/127.0.0.1";
    h.rebalance_timeout_ms = 30000;
    return h;
}

consumer_heartbeat beat(const std::string& id, int32_t epoch, std::optional<partition_assignment> owned) {
    consumer_heartbeat h;
    h.member_id = id;
    h.member_epoch = epoch;
    h.owned = std::move(owned);
    h.client_id = "client-" + id;
    h.client_host = "/127.0.0.1";
    return h;
}

// A group whose every change is also written to `log`, as the coordinator does.
struct logged_group {
    consumer_group group{"g", {}};
    std::vector<offsets_record> log;

    consumer_heartbeat_result heartbeat(consumer_heartbeat h, int64_t now = 0) {
        auto before = group.persisted_state();
        auto r = group.heartbeat(std::move(h), topics, now, "");
        auto records = consumer_group_records("g", before, group.persisted_state(), topics);
        log.insert(log.end(), records.begin(), records.end());
        return r;
    }
};

int16_t key_version(const offsets_record& r) {
    protocol::reader key(r.key);
    return key.read_int16();
}

std::vector<int16_t> key_versions(const std::vector<offsets_record>& records) {
    std::vector<int16_t> out;
    for (const auto& r : records) out.push_back(key_version(r));
    return out;
}

loaded_consumer_groups replay(const std::vector<offsets_record>& log) {
    loaded_consumer_groups out;
    for (const auto& r : log) {
        protocol::reader key(r.key);
        const int16_t version = key.read_int16();
        std::optional<std::span<const uint8_t>> value;
        if (r.value) value = std::span<const uint8_t>(*r.value);
        replay_consumer_group_record(version, key, value, out);
    }
    return out;
}

// Two members of a six-partition topic, reconciled to Stable.
logged_group stable_pair() {
    logged_group g;
    auto a = g.heartbeat(join("a"));
    auto b = g.heartbeat(join("b"));
    auto a2 = g.heartbeat(beat("a", a.member_epoch, a.assignment));  // told to revoke half
    g.heartbeat(beat("a", a2.member_epoch, a2.assignment));          // revoked
    g.heartbeat(beat("b", b.member_epoch, b.assignment));            // gets them
    EXPECT_EQ(g.group.state(), "Stable");
    return g;
}

void expect_same_group(const consumer_group_state& a, const consumer_group_state& b) {
    EXPECT_EQ(a.group_epoch, b.group_epoch);
    EXPECT_EQ(a.assignment_epoch, b.assignment_epoch);
    EXPECT_EQ(a.subscribed_metadata, b.subscribed_metadata);
    EXPECT_EQ(a.target, b.target);
    ASSERT_EQ(a.members.size(), b.members.size());
    for (const auto& [id, m] : a.members) {
        ASSERT_TRUE(b.members.contains(id)) << id;
        const auto& n = b.members.at(id);
        EXPECT_EQ(m.member_id, n.member_id);
        EXPECT_EQ(m.epoch, n.epoch) << id;
        EXPECT_EQ(m.previous_epoch, n.previous_epoch) << id;
        EXPECT_EQ(m.assigned, n.assigned) << id;
        EXPECT_EQ(m.pending_revocation, n.pending_revocation) << id;
        EXPECT_EQ(m.subscribed_topics, n.subscribed_topics) << id;
        EXPECT_EQ(m.subscribed_topic_regex, n.subscribed_topic_regex) << id;
        EXPECT_EQ(m.client_id, n.client_id) << id;
        EXPECT_EQ(m.client_host, n.client_host) << id;
        EXPECT_EQ(m.rebalance_timeout_ms, n.rebalance_timeout_ms) << id;
        EXPECT_EQ(m.instance_id, n.instance_id) << id;
        EXPECT_EQ(m.server_assignor, n.server_assignor) << id;
    }
}

TEST(consumer_group_records, a_first_member_writes_every_record_in_kafkas_order) {
    logged_group g;
    g.heartbeat(join("a"));
    // subscription, subscribed topics, group epoch, target, assignment epoch, current assignment
    EXPECT_EQ(key_versions(g.log), (std::vector<int16_t>{5, 4, 3, 7, 6, 8}));
}

TEST(consumer_group_records, only_what_changed_is_written) {
    logged_group g;
    auto a = g.heartbeat(join("a"));
    g.log.clear();
    g.heartbeat(beat("a", a.member_epoch, a.assignment), 10);
    EXPECT_TRUE(g.log.empty()) << "a heartbeat that changes nothing writes nothing";

    // A second member: its subscription, the new group epoch, the new target
    // of both members, the assignment epoch, its own current assignment.
    g.heartbeat(join("b"), 20);
    EXPECT_EQ(key_versions(g.log), (std::vector<int16_t>{5, 3, 7, 7, 6, 8}));
    g.log.clear();
    // a learns it must give up half: only its current assignment changes.
    g.heartbeat(beat("a", a.member_epoch, a.assignment), 30);
    EXPECT_EQ(key_versions(g.log), (std::vector<int16_t>{8}));
}

TEST(consumer_group_records, the_current_assignment_record_holds_kafkas_member_state) {
    logged_group g;
    auto a = g.heartbeat(join("a"));
    g.heartbeat(join("b"));
    g.log.clear();
    g.heartbeat(beat("a", a.member_epoch, a.assignment));
    ASSERT_EQ(g.log.size(), 1u);
    protocol::reader value(*g.log[0].value);
    ASSERT_EQ(value.read_int16(), 0);
    protocol::coordinator::consumer_group_current_member_assignment_value v;
    v.decode(value, 0);
    EXPECT_EQ(v.member_epoch, 1);
    EXPECT_EQ(v.state, static_cast<int8_t>(member_state::unrevoked_partitions));
    ASSERT_EQ(v.partitions_pending_revocation.size(), 1u);
    EXPECT_EQ(v.partitions_pending_revocation[0].partitions.size(), 3u);
}

TEST(consumer_group_records, a_replayed_group_keeps_its_epochs_and_assignments) {
    auto g = stable_pair();
    auto loaded = replay(g.log);
    ASSERT_TRUE(loaded.contains("g"));
    auto restored = restored_state(loaded.at("g"));
    ASSERT_TRUE(restored);
    expect_same_group(g.group.persisted_state(), *restored);

    // After the "restart", a member heartbeating with its epoch keeps its
    // partitions: no fencing, no new epoch.
    consumer_group after("g", {});
    after.restore(*restored, 1000);
    EXPECT_EQ(after.state(), "Stable");
    const auto& a = after.members().at("a");
    auto r = after.heartbeat(beat("a", a.epoch, a.assigned), topics, 1001, "");
    EXPECT_EQ(r.error, kafka_error::none);
    EXPECT_EQ(r.member_epoch, g.group.members().at("a").epoch);
    EXPECT_EQ(*r.assignment, g.group.members().at("a").assigned);
    EXPECT_EQ(after.group_epoch(), g.group.group_epoch());
    EXPECT_TRUE(consumer_group_records("g", *restored, after.persisted_state(), topics).empty());
}

TEST(consumer_group_records, a_members_regex_is_written_and_replayed) {
    const topic_catalog catalog{{"t", {topic_id(1), 6}}, {"t-new", {topic_id(2), 2}}, {"u", {topic_id(3), 1}}};
    consumer_group g("g", {});
    auto h = join("a");
    h.subscribed_topic_names = std::vector<std::string>{};
    h.subscribed_topic_regex = "t.*";
    auto before = g.persisted_state();
    auto r = g.heartbeat(h, catalog, 0, "");
    ASSERT_EQ(r.error, kafka_error::none);
    ASSERT_TRUE(g.resolve_regexes(catalog));
    r = g.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 0, "");
    auto log = consumer_group_records("g", before, g.persisted_state(), catalog);

    // Kafka's ConsumerGroupMemberMetadataValue carries the pattern.
    auto member = std::find_if(log.begin(), log.end(), [](const offsets_record& rec) {
        return key_version(rec) == consumer_record_key::member_metadata;
    });
    ASSERT_NE(member, log.end());
    protocol::reader value(*member->value);
    const int16_t version = value.read_int16();
    protocol::coordinator::consumer_group_member_metadata_value v;
    v.decode(value, version);
    EXPECT_EQ(v.subscribed_topic_regex, std::optional<std::string>("t.*"));

    auto restored = restored_state(replay(log).at("g"));
    ASSERT_TRUE(restored);
    expect_same_group(g.persisted_state(), *restored);
    EXPECT_EQ(restored->subscribed_metadata, (std::map<std::string, int32_t>{{"t", 6}, {"t-new", 2}}));

    // Restored, the group resolves the pattern again: a heartbeat after the
    // load keeps the member's epoch and partitions.
    consumer_group after("g", {});
    after.restore(*restored, 1000);
    auto again = after.heartbeat(beat("a", r.member_epoch, r.assignment), catalog, 1001, "");
    EXPECT_EQ(again.member_epoch, r.member_epoch);
    EXPECT_EQ(*again.assignment, *r.assignment);

    // Without a regex the value's field is null, as Kafka writes it.
    logged_group plain;
    plain.heartbeat(join("b"));
    for (const auto& rec : plain.log) {
        if (key_version(rec) != consumer_record_key::member_metadata) continue;
        protocol::reader pv(*rec.value);
        protocol::coordinator::consumer_group_member_metadata_value pm;
        pm.decode(pv, pv.read_int16());
        EXPECT_FALSE(pm.subscribed_topic_regex.has_value());
    }
}

TEST(consumer_group_records, a_group_replayed_mid_reconciliation_carries_on) {
    logged_group g;
    auto a = g.heartbeat(join("a"));
    auto b = g.heartbeat(join("b"));
    auto a2 = g.heartbeat(beat("a", a.member_epoch, a.assignment));  // a must revoke three
    auto restored = restored_state(replay(g.log).at("g"));
    ASSERT_TRUE(restored);
    expect_same_group(g.group.persisted_state(), *restored);
    consumer_group after("g", {});
    after.restore(*restored, 0);
    EXPECT_EQ(after.state(), "Reconciling");
    auto a3 = after.heartbeat(beat("a", a2.member_epoch, a2.assignment), topics, 1, "");  // revoked now
    EXPECT_EQ(a3.member_epoch, 2);
    auto b2 = after.heartbeat(beat("b", b.member_epoch, b.assignment), topics, 2, "");
    EXPECT_EQ(b2.member_epoch, 2);
    EXPECT_EQ(b2.assignment->at(topic_id(1)).size(), 3u);
    EXPECT_EQ(after.state(), "Stable");
}

TEST(consumer_group_records, members_leaving_write_tombstones_and_an_empty_group_keeps_its_epoch) {
    auto g = stable_pair();
    g.log.clear();
    g.heartbeat(beat("a", -1, std::nullopt));
    // a's current assignment, target and subscription go; the group gets a
    // new epoch (b's new target comes with its next heartbeat).
    ASSERT_GE(g.log.size(), 4u);
    EXPECT_EQ(key_versions(std::vector<offsets_record>(g.log.begin(), g.log.begin() + 4)),
              (std::vector<int16_t>{8, 7, 5, 3}));
    for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(g.log[i].value);

    // With the last member gone the group is Empty, at a new epoch, as in Kafka.
    auto all = stable_pair();
    all.heartbeat(beat("a", -1, std::nullopt));
    all.heartbeat(beat("b", -1, std::nullopt));
    const auto& last = all.log.back();
    EXPECT_EQ(key_version(last), 3);
    EXPECT_TRUE(last.value);
    auto restored = restored_state(replay(all.log).at("g"));
    ASSERT_TRUE(restored);
    EXPECT_TRUE(restored->members.empty());
    EXPECT_TRUE(restored->target.empty());
    EXPECT_EQ(restored->group_epoch, all.group.group_epoch());
}

TEST(consumer_group_records, tombstones_of_a_whole_group_leave_nothing_to_restore) {
    auto g = stable_pair();
    auto log = g.log;
    auto gone = consumer_group_tombstones("g", g.group.persisted_state());
    log.insert(log.end(), gone.begin(), gone.end());
    EXPECT_FALSE(replay(log).contains("g"));
}

TEST(consumer_group_records, restored_sessions_start_at_the_load) {
    auto g = stable_pair();
    consumer_group_limits limits;
    limits.session_timeout_ms = 1000;
    consumer_group after("g", limits);
    after.restore(*restored_state(replay(g.log).at("g")), 50000);
    EXPECT_FALSE(after.tick(50999));
    EXPECT_EQ(after.members().size(), 2u);
    EXPECT_TRUE(after.tick(51000));
    EXPECT_TRUE(after.members().empty());
}

TEST(consumer_group_records, without_its_group_record_nothing_is_restored_and_unknown_values_are_skipped) {
    auto g = stable_pair();
    std::vector<offsets_record> log;
    for (const auto& r : g.log)
        if (key_version(r) != 3) log.push_back(r);
    EXPECT_FALSE(restored_state(replay(log).at("g")));

    // A value version from a later Kafka is skipped, not misread.
    auto future = g.log;
    for (auto& r : future)
        if (key_version(r) == 3) (*r.value)[1] = 9;
    EXPECT_FALSE(restored_state(replay(future).at("g")));
}

}  // namespace
}  // namespace strata::group
