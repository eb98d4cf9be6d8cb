// Controlled shutdown and preferred-leader election (controller_leadership.cc).
#include <gtest/gtest.h>

#include "strata/metadata/controller.h"

namespace strata::metadata {
namespace {

struct leadership_test : ::testing::Test {
    controller_options options() {
        controller_options o;
        o.leader_imbalance_check_interval_ms = 1000;
        return o;
    }
    uint8_t next_id = 1;
    controller ctl{options(), [this] {
                       protocol::uuid u;
                       u.bytes[15] = next_id++;
                       return u;
                   }};
    std::shared_ptr<const metadata_image> image = std::make_shared<metadata_image>();
    int64_t offset = 0;
    uint8_t incarnation = 0;

    void commit(const std::vector<record>& records) {
        metadata_delta d(image);
        for (const auto& r : records) d.replay(r);
        offset += static_cast<int64_t>(records.size());
        d.set_end_offset(offset);
        image = d.apply();
    }

    msg::broker_heartbeat_response heartbeat(int32_t id, bool want_shut_down = false) {
        msg::broker_heartbeat_request hb;
        hb.broker_id = id;
        hb.broker_epoch = image->broker(id)->epoch;
        hb.current_metadata_offset = offset;
        hb.want_shut_down = want_shut_down;
        msg::broker_heartbeat_response hbr;
        commit(ctl.broker_heartbeat(*image, hb, 0, hbr));
        EXPECT_EQ(hbr.error_code, 0);
        return hbr;
    }

    void add_broker(int32_t id) {
        msg::broker_registration_request req;
        req.broker_id = id;
        req.incarnation_id.bytes[0] = static_cast<uint8_t>(id);
        req.incarnation_id.bytes[1] = ++incarnation;
        msg::broker_registration_response resp;
        commit(ctl.register_broker(*image, req, offset, 0, resp));
        ASSERT_EQ(resp.error_code, 0);
        heartbeat(id);
        ASSERT_FALSE(image->broker(id)->fenced);
    }

    void create(const std::string& name, std::vector<std::vector<int32_t>> assignment) {
        msg::create_topics_request req;
        auto& t = req.topics.emplace_back();
        t.name = name;
        t.num_partitions = -1;
        t.replication_factor = -1;
        for (size_t i = 0; i < assignment.size(); ++i) {
            auto& a = t.assignments.emplace_back();
            a.partition_index = static_cast<int32_t>(i);
            a.broker_ids = assignment[i];
        }
        msg::create_topics_response resp;
        commit(ctl.create_topics(*image, req, 7, resp));
        ASSERT_EQ(resp.topics[0].error_code, 0);
    }

    const partition_state& part(const std::string& topic, int32_t p) {
        return image->topic(topic)->partitions[static_cast<size_t>(p)];
    }

    void set_isr(const std::string& topic, int32_t p, std::vector<int32_t> isr) {
        records::partition_change_record change;
        change.topic_id = image->topic(topic)->id;
        change.partition_id = p;
        change.isr = std::move(isr);
        commit({change});
    }
};

TEST_F(leadership_test, controlled_shutdown_moves_leaders_then_approves_once_everyone_knows) {
    for (int32_t id : {1, 2, 3}) add_broker(id);
    create("t", {{1, 2, 3}, {2, 3, 1}, {3, 1, 2}});

    auto first = heartbeat(1, true);
    EXPECT_FALSE(first.should_shut_down);
    EXPECT_FALSE(first.is_fenced);  // it serves on while its leaders move
    ASSERT_TRUE(image->broker(1)->in_controlled_shutdown);
    EXPECT_FALSE(image->broker(1)->fenced);
    EXPECT_EQ(part("t", 0).leader, 2);  // the next ISR member in assignment order
    EXPECT_EQ(part("t", 0).leader_epoch, 1);
    for (int32_t p : {0, 1, 2}) EXPECT_EQ(part("t", p).isr.size(), 2u) << p;
    EXPECT_EQ(part("t", 1).leader, 2);
    EXPECT_EQ(part("t", 2).leader, 3);

    // Nothing left to move, but brokers 2 and 3 have not reported this image.
    auto second = heartbeat(1, true);
    EXPECT_FALSE(second.should_shut_down);
    heartbeat(2);
    EXPECT_FALSE(heartbeat(1, true).should_shut_down);
    heartbeat(3);
    auto approved = heartbeat(1, true);
    EXPECT_TRUE(approved.should_shut_down);
    EXPECT_TRUE(approved.is_fenced);
    EXPECT_TRUE(image->broker(1)->fenced);

    // A broker in controlled shutdown gets no leadership back from an election.
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 5000).empty());
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 6000).empty());
}

TEST_F(leadership_test, a_shutting_down_broker_stays_in_an_isr_that_would_drop_below_min_isr) {
    for (int32_t id : {1, 2, 3}) add_broker(id);
    create("t", {{1, 2, 3}, {2, 1, 3}});
    records::config_record min_isr;
    min_isr.resource_type = static_cast<int8_t>(config_resource_type::topic);
    min_isr.resource_name = "t";
    min_isr.name = "min.insync.replicas";
    min_isr.value = "2";
    commit({min_isr});
    set_isr("t", 0, {1, 2});  // 3 lags
    heartbeat(1, true);
    EXPECT_EQ(part("t", 0).leader, 2);
    EXPECT_EQ(part("t", 0).isr, (std::vector<int32_t>{1, 2}));
    EXPECT_EQ(part("t", 1).leader, 2);
    EXPECT_EQ(part("t", 1).isr, (std::vector<int32_t>{2, 3}));
}

TEST_F(leadership_test, a_partition_with_nowhere_to_go_stays_and_does_not_block_the_shutdown) {
    add_broker(1);
    add_broker(2);
    create("solo", {{1}});
    create("pair", {{1, 2}});
    set_isr("pair", 0, {1});
    auto first = heartbeat(1, true);
    EXPECT_FALSE(first.should_shut_down);
    EXPECT_EQ(part("solo", 0).leader, 1);
    EXPECT_EQ(part("pair", 0).leader, 1);
    heartbeat(2);
    EXPECT_TRUE(heartbeat(1, true).should_shut_down);
    EXPECT_EQ(part("solo", 0).leader, 1);
}

TEST_F(leadership_test, preferred_leader_returns_once_back_in_the_isr) {
    for (int32_t id : {1, 2, 3}) add_broker(id);
    create("t", {{1, 2, 3}, {2, 3, 1}});
    heartbeat(1, true);
    heartbeat(2);
    heartbeat(3);
    ASSERT_TRUE(heartbeat(1, true).should_shut_down);
    ASSERT_EQ(part("t", 0).leader, 2);

    // Broker 1 comes back: registered and unfenced, but not yet in the ISR.
    add_broker(1);
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 9000).empty()) << "the first check is one interval later";
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 10000).empty());
    // The leader lets it back into the ISR once it has caught up.
    set_isr("t", 0, {2, 3, 1});
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 10500).empty()) << "within the check interval";
    commit(ctl.rebalance_leaders(*image, 11000));
    EXPECT_EQ(part("t", 0).leader, 1);
    EXPECT_EQ(part("t", 1).leader, 2);  // its preferred leader already leads
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 20000).empty());
}

TEST_F(leadership_test, rebalance_respects_the_imbalance_percentage_and_the_switch) {
    for (int32_t id : {1, 2}) add_broker(id);
    // Broker 1 is preferred for 10 partitions and leads 9: 10% is not above 10%.
    std::vector<std::vector<int32_t>> assignment(10, std::vector<int32_t>{1, 2});
    create("t", assignment);
    records::partition_change_record moved;
    moved.topic_id = image->topic("t")->id;
    moved.partition_id = 0;
    moved.leader = 2;
    commit({moved});
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 0).empty());
    EXPECT_TRUE(ctl.rebalance_leaders(*image, 1000).empty());
    moved.partition_id = 1;
    commit({moved});
    commit(ctl.rebalance_leaders(*image, 5000));
    EXPECT_EQ(part("t", 0).leader, 1);
    EXPECT_EQ(part("t", 1).leader, 1);

    controller_options off;
    off.auto_leader_rebalance_enable = false;
    controller disabled(off, [] { return protocol::uuid{}; });
    commit({moved});
    EXPECT_TRUE(disabled.rebalance_leaders(*image, 0).empty());
}

}  // namespace
}  // namespace strata::metadata

namespace strata::metadata {
namespace {

// KIP-48: expired tokens (past expiry or max) are removed once per
// delegation.token.expiry.check.interval, counted from the first check;
// live ones stay. The removal survives a snapshot round trip like any record.
TEST(delegation_token_sweep, removes_expired_tokens_once_per_interval) {
    controller_options o;
    o.delegation_token_expiry_check_interval_ms = 1000;
    controller ctl(o, [] { return protocol::uuid::random(); });
    metadata_delta d(std::make_shared<metadata_image>());
    const auto token = [](std::string id, int64_t expiry, int64_t max) {
        records::delegation_token_record t;
        t.token_id = std::move(id);
        t.owner = t.requester = "User:alice";
        t.expiration_timestamp = expiry;
        t.max_timestamp = max;
        return t;
    };
    d.replay(token("live", 5000, 9000));
    d.replay(token("renewed-past-max", 5000, 1500));
    d.replay(token("expired", 1200, 9000));
    auto image = d.apply();
    ASSERT_EQ(image->tokens().size(), 3u);

    EXPECT_TRUE(ctl.remove_expired_delegation_tokens(*image, 1000).empty());  // the first check sets the clock
    EXPECT_TRUE(ctl.remove_expired_delegation_tokens(*image, 1999).empty());  // within the interval
    auto removed = ctl.remove_expired_delegation_tokens(*image, 2000);
    ASSERT_EQ(removed.size(), 2u);
    metadata_delta next(image);
    for (const auto& r : removed) next.replay(r);
    image = next.apply();
    ASSERT_EQ(image->tokens().size(), 1u);
    EXPECT_NE(image->delegation_token("live"), nullptr);
    EXPECT_TRUE(ctl.remove_expired_delegation_tokens(*image, 2500).empty());
}

}  // namespace
}  // namespace strata::metadata
