#include "strata/metadata/controller.h"

#include <gtest/gtest.h>

#include "strata/common/kafka_error.h"

namespace strata::metadata {
namespace {

int16_t code(kafka_error e) { return static_cast<int16_t>(e); }

struct controller_test : ::testing::Test {
    uint8_t next_id = 1;
    controller ctl{controller_options{}, [this] {
                       protocol::uuid u;
                       u.bytes[15] = next_id++;
                       return u;
                   }};
    std::shared_ptr<const metadata_image> image = std::make_shared<metadata_image>();
    int64_t offset = 0;

    void commit(const std::vector<record>& records) {
        metadata_delta d(image);
        for (const auto& r : records) d.replay(r);
        offset += static_cast<int64_t>(records.size());
        d.set_end_offset(offset);
        image = d.apply();
    }

    void add_broker(int32_t id, std::optional<std::string> rack = std::nullopt, int64_t now = 0) {
        msg::broker_registration_request req;
        req.broker_id = id;
        req.incarnation_id.bytes[0] = static_cast<uint8_t>(id);
        req.rack = rack;
        auto& l = req.listeners.emplace_back();
        l.name = "PLAINTEXT";
        l.host = "localhost";
        l.port = static_cast<uint16_t>(9092 + id);
        msg::broker_registration_response resp;
        commit(ctl.register_broker(*image, req, offset, now, resp));
        ASSERT_EQ(resp.error_code, 0);
        msg::broker_heartbeat_request hb;
        hb.broker_id = id;
        hb.broker_epoch = resp.broker_epoch;
        hb.current_metadata_offset = offset;
        msg::broker_heartbeat_response hbr;
        commit(ctl.broker_heartbeat(*image, hb, now, hbr));
        ASSERT_EQ(hbr.error_code, 0);
        ASSERT_FALSE(image->broker(id)->fenced);
    }

    msg::create_topics_response create(const std::string& name, int32_t partitions, int16_t rf,
                                       bool validate_only = false) {
        msg::create_topics_request req;
        auto& t = req.topics.emplace_back();
        t.name = name;
        t.num_partitions = partitions;
        t.replication_factor = rf;
        req.validate_only = validate_only;
        msg::create_topics_response resp;
        commit(ctl.create_topics(*image, req, 7, resp));
        return resp;
    }
};

TEST_F(controller_test, create_topic_spreads_replicas_and_leaders) {
    add_broker(1);
    add_broker(2);
    add_broker(3);
    auto resp = create("orders", 6, 3);
    ASSERT_EQ(resp.topics[0].error_code, 0);
    EXPECT_FALSE(resp.topics[0].topic_id.is_zero());
    const topic_image* t = image->topic("orders");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->partitions.size(), 6u);
    std::map<int32_t, int> leaders;
    for (const auto& p : t->partitions) {
        EXPECT_EQ(p.replicas.size(), 3u);
        EXPECT_EQ(std::set<int32_t>(p.replicas.begin(), p.replicas.end()).size(), 3u);
        EXPECT_EQ(p.isr, p.replicas);
        ++leaders[p.leader];
    }
    EXPECT_EQ(leaders.size(), 3u);  // leadership is spread
    for (auto& [id, n] : leaders) EXPECT_EQ(n, 2);
}

TEST_F(controller_test, rack_aware_placement_uses_every_rack) {
    add_broker(1, "a");
    add_broker(2, "a");
    add_broker(3, "b");
    add_broker(4, "b");
    create("t", 8, 2);
    for (const auto& p : image->topic("t")->partitions) {
        EXPECT_NE(image->broker(p.replicas[0])->rack, image->broker(p.replicas[1])->rack);
    }
}

TEST_F(controller_test, create_topic_errors_follow_kafka) {
    add_broker(1);
    EXPECT_EQ(create("ok", 1, 1).topics[0].error_code, 0);
    EXPECT_EQ(create("ok", 1, 1).topics[0].error_code, code(kafka_error::topic_already_exists));
    EXPECT_EQ(create("bad name", 1, 1).topics[0].error_code, code(kafka_error::invalid_topic_exception));
    EXPECT_EQ(create(std::string(250, 'x'), 1, 1).topics[0].error_code, code(kafka_error::invalid_topic_exception));
    EXPECT_EQ(create("..", 1, 1).topics[0].error_code, code(kafka_error::invalid_topic_exception));
    EXPECT_EQ(create("zero", 0, 1).topics[0].error_code, code(kafka_error::invalid_partitions));
    EXPECT_EQ(create("rf", 1, 2).topics[0].error_code, code(kafka_error::invalid_replication_factor));
    EXPECT_EQ(create("rf0", 1, 0).topics[0].error_code, code(kafka_error::invalid_replication_factor));
    EXPECT_EQ(create("a.b", 1, 1).topics[0].error_code, 0);
    EXPECT_EQ(create("a_b", 1, 1).topics[0].error_code, code(kafka_error::invalid_topic_exception));
    // Defaults (-1) come from the options: 1 partition, RF 1.
    auto d = create("defaults", -1, -1);
    EXPECT_EQ(d.topics[0].error_code, 0);
    EXPECT_EQ(d.topics[0].num_partitions, 1);
}

TEST_F(controller_test, validate_only_writes_nothing) {
    add_broker(1);
    auto resp = create("dry", 3, 1, true);
    EXPECT_EQ(resp.topics[0].error_code, 0);
    EXPECT_EQ(resp.topics[0].num_partitions, 3);
    EXPECT_EQ(image->topic("dry"), nullptr);
}

TEST_F(controller_test, explicit_assignment_and_config_validation) {
    add_broker(1);
    add_broker(2);
    msg::create_topics_request req;
    auto& t = req.topics.emplace_back();
    t.name = "assigned";
    t.num_partitions = -1;
    t.replication_factor = -1;
    for (int p = 0; p < 2; ++p) {
        auto& a = t.assignments.emplace_back();
        a.partition_index = p;
        a.broker_ids = {2, 1};
    }
    auto& c = t.configs.emplace_back();
    c.name = "retention.ms";
    c.value = "1000";
    msg::create_topics_response resp;
    commit(ctl.create_topics(*image, req, 7, resp));
    ASSERT_EQ(resp.topics[0].error_code, 0);
    EXPECT_EQ(image->topic("assigned")->partitions[1].leader, 2);
    EXPECT_EQ(image->configs({config_resource_type::topic, "assigned"}).at("retention.ms"), "1000");

    auto& bad = req.topics[0];
    bad.name = "bad-assignment";
    bad.assignments[1].broker_ids = {7};
    msg::create_topics_response resp2;
    commit(ctl.create_topics(*image, req, 7, resp2));
    EXPECT_EQ(resp2.topics[0].error_code, code(kafka_error::invalid_replica_assignment));
}

TEST_F(controller_test, delete_by_name_and_by_id) {
    add_broker(1);
    auto created = create("a", 1, 1);
    create("b", 1, 1);
    msg::delete_topics_request req;
    req.topic_names = {"a", "missing"};
    auto& by_id = req.topics.emplace_back();
    by_id.topic_id = image->topic("b")->id;
    msg::delete_topics_response resp;
    commit(ctl.delete_topics(*image, req, 6, resp));
    ASSERT_EQ(resp.responses.size(), 3u);
    EXPECT_EQ(resp.responses[0].error_code, 0);
    EXPECT_EQ(resp.responses[0].topic_id, created.topics[0].topic_id);
    EXPECT_EQ(resp.responses[1].error_code, code(kafka_error::unknown_topic_or_partition));
    EXPECT_EQ(resp.responses[2].error_code, 0);
    EXPECT_EQ(resp.responses[2].name, "b");
    EXPECT_TRUE(image->topics().empty());
}

TEST_F(controller_test, create_partitions_grows_only) {
    add_broker(1);
    add_broker(2);
    create("t", 2, 2);
    msg::create_partitions_request req;
    auto& t = req.topics.emplace_back();
    t.name = "t";
    t.count = 5;
    t.assignments.reset();  // clients send null when the broker is to place replicas
    msg::create_partitions_response resp;
    commit(ctl.create_partitions(*image, req, resp));
    EXPECT_EQ(resp.results[0].error_code, 0);
    EXPECT_EQ(image->topic("t")->partitions.size(), 5u);
    EXPECT_EQ(image->topic("t")->partitions[4].replicas.size(), 2u);
    t.count = 3;
    msg::create_partitions_response shrink;
    commit(ctl.create_partitions(*image, req, shrink));
    EXPECT_EQ(shrink.results[0].error_code, code(kafka_error::invalid_partitions));
}

TEST_F(controller_test, expired_broker_is_fenced_and_loses_leadership) {
    add_broker(1, std::nullopt, 0);
    add_broker(2, std::nullopt, 0);
    create("t", 4, 2);
    // Broker 2 keeps heartbeating; broker 1 goes silent.
    msg::broker_heartbeat_request hb;
    hb.broker_id = 2;
    hb.broker_epoch = image->broker(2)->epoch;
    hb.current_metadata_offset = offset;
    msg::broker_heartbeat_response hbr;
    commit(ctl.broker_heartbeat(*image, hb, 8000, hbr));
    EXPECT_TRUE(ctl.fence_expired_brokers(*image, 5000).empty());
    commit(ctl.fence_expired_brokers(*image, 9500));
    EXPECT_TRUE(image->broker(1)->fenced);
    EXPECT_FALSE(image->broker(2)->fenced);
    for (const auto& p : image->topic("t")->partitions) {
        EXPECT_EQ(p.leader, 2);
        EXPECT_EQ(p.isr, std::vector<int32_t>{2});
    }
}

TEST_F(controller_test, last_isr_member_keeps_its_place) {
    add_broker(1, std::nullopt, 0);
    create("t", 1, 1);
    const int32_t epoch_before = image->topic("t")->partitions[0].leader_epoch;
    commit(ctl.fence_expired_brokers(*image, 10000));
    const auto& p = image->topic("t")->partitions[0];
    EXPECT_EQ(p.leader, no_leader);
    EXPECT_EQ(p.isr, std::vector<int32_t>{1});
    EXPECT_EQ(p.leader_epoch, epoch_before + 1);
}

TEST_F(controller_test, heartbeat_with_stale_epoch_is_refused) {
    add_broker(1);
    msg::broker_heartbeat_request hb;
    hb.broker_id = 1;
    hb.broker_epoch = 12345;
    msg::broker_heartbeat_response resp;
    EXPECT_TRUE(ctl.broker_heartbeat(*image, hb, 0, resp).empty());
    EXPECT_EQ(resp.error_code, code(kafka_error::stale_broker_epoch));
    hb.broker_id = 9;
    msg::broker_heartbeat_response unknown;
    ctl.broker_heartbeat(*image, hb, 0, unknown);
    EXPECT_EQ(unknown.error_code, code(kafka_error::broker_id_not_registered));
}

TEST_F(controller_test, producer_id_blocks_do_not_overlap) {
    int64_t first = -1, second = -1;
    commit(ctl.allocate_producer_ids(*image, 1, 1000, first));
    commit(ctl.allocate_producer_ids(*image, 2, 1000, second));
    EXPECT_EQ(first, 0);
    EXPECT_EQ(second, 1000);
    EXPECT_EQ(image->next_producer_id(), 2000);
}

}  // namespace
}  // namespace strata::metadata
