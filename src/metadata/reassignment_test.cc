// Partition reassignment (reassignment.cc) and its completion through
// AlterPartition (controller.cc), step by step on an image.
#include <gtest/gtest.h>

#include "strata/common/kafka_error.h"
#include "strata/metadata/controller.h"
#include "strata/metadata/reassignment.h"

namespace strata::metadata {
namespace {

using ids = std::vector<int32_t>;

struct reassignment_test : ::testing::Test {
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

    void add_broker(int32_t id) {
        msg::broker_registration_request req;
        req.broker_id = id;
        req.incarnation_id.bytes[0] = static_cast<uint8_t>(id);
        msg::broker_registration_response resp;
        commit(ctl.register_broker(*image, req, offset, 0, resp));
        msg::broker_heartbeat_request hb;
        hb.broker_id = id;
        hb.broker_epoch = image->broker(id)->epoch;
        hb.current_metadata_offset = offset;
        msg::broker_heartbeat_response hbr;
        commit(ctl.broker_heartbeat(*image, hb, 0, hbr));
        ASSERT_FALSE(image->broker(id)->fenced);
    }

    void create(const std::string& name, ids assignment) {
        msg::create_topics_request req;
        auto& t = req.topics.emplace_back();
        t.name = name;
        t.num_partitions = -1;
        t.replication_factor = -1;
        auto& a = t.assignments.emplace_back();
        a.partition_index = 0;
        a.broker_ids = assignment;
        msg::create_topics_response resp;
        commit(ctl.create_topics(*image, req, 7, resp));
        ASSERT_EQ(resp.topics[0].error_code, 0);
    }

    const partition_state& part() { return image->topic("t")->partitions[0]; }

    // Reassigns t-0 (nullopt: cancels); returns the partition's error code.
    int16_t reassign(std::optional<ids> target, int32_t partition = 0, std::string topic = "t") {
        msg::alter_partition_reassignments_request req;
        auto& t = req.topics.emplace_back();
        t.name = topic;
        auto& p = t.partitions.emplace_back();
        p.partition_index = partition;
        p.replicas = target;
        msg::alter_partition_reassignments_response resp;
        commit(alter_partition_reassignments(*image, req, resp));
        return resp.responses.at(0).partitions.at(0).error_code;
    }

    // The leader's AlterPartition asking for `isr`; returns its error code.
    int16_t alter_isr(ids isr) {
        const auto& p = part();
        msg::alter_partition_request req;
        req.broker_id = p.leader;
        req.broker_epoch = image->broker(p.leader)->epoch;
        auto& t = req.topics.emplace_back();
        t.topic_id = image->topic("t")->id;
        auto& d = t.partitions.emplace_back();
        d.partition_index = 0;
        d.leader_epoch = p.leader_epoch;
        d.partition_epoch = p.partition_epoch;
        for (int32_t id : isr) {
            auto& m = d.new_isr_with_epochs.emplace_back();
            m.broker_id = id;
            m.broker_epoch = image->broker(id)->epoch;
        }
        msg::alter_partition_response resp;
        commit(ctl.alter_partition(*image, req, 3, resp));
        return resp.topics.at(0).partitions.at(0).error_code;
    }

    ids listed() {
        msg::list_partition_reassignments_request req;
        msg::list_partition_reassignments_response resp;
        list_partition_reassignments(*image, req, resp);
        if (resp.topics.empty()) return {};
        return resp.topics[0].partitions.at(0).adding_replicas;
    }

    void SetUp() override {
        for (int32_t id : {1, 2, 3, 4}) add_broker(id);
        create("t", {1, 2, 3});
    }
};

constexpr int16_t code(kafka_error e) { return static_cast<int16_t>(e); }

TEST_F(reassignment_test, adding_replica_joins_isr_before_removed_leader_leaves) {
    ASSERT_EQ(part().leader, 1);
    ASSERT_EQ(reassign(ids{2, 3, 4}), 0);
    EXPECT_EQ(part().replicas, (ids{2, 3, 4, 1}));
    EXPECT_EQ(part().adding_replicas, (ids{4}));
    EXPECT_EQ(part().removing_replicas, (ids{1}));
    EXPECT_EQ(part().isr, (ids{1, 2, 3}));
    EXPECT_EQ(part().leader, 1);  // the leader stays until the new replicas are in sync
    EXPECT_EQ(listed(), (ids{4}));

    // Replica 4 caught up: the leader lets it in, which completes the move.
    const int32_t epoch = part().leader_epoch;
    EXPECT_EQ(alter_isr({1, 2, 3, 4}), code(kafka_error::new_leader_elected));
    EXPECT_EQ(part().replicas, (ids{2, 3, 4}));
    EXPECT_EQ(part().isr, (ids{2, 3, 4}));
    EXPECT_TRUE(part().adding_replicas.empty());
    EXPECT_TRUE(part().removing_replicas.empty());
    EXPECT_EQ(part().leader, 2);
    EXPECT_EQ(part().leader_epoch, epoch + 1);
    EXPECT_TRUE(listed().empty());
}

TEST_F(reassignment_test, isr_change_short_of_target_does_not_complete) {
    ASSERT_EQ(reassign(ids{1, 4, 2}), 0);  // 3 leaves, 4 joins
    EXPECT_EQ(alter_isr({1, 2}), 0);       // a shrink: 4 is not in yet
    EXPECT_EQ(part().replicas, (ids{1, 4, 2, 3}));
    EXPECT_EQ(alter_isr({1, 2, 4}), 0);  // 3 is out of the ISR, but the target is complete
    EXPECT_EQ(part().replicas, (ids{1, 4, 2}));
    EXPECT_EQ(part().isr, (ids{1, 2, 4}));
    EXPECT_EQ(part().leader, 1);
}

TEST_F(reassignment_test, shrinking_target_already_in_sync_completes_at_once) {
    ASSERT_EQ(reassign(ids{2, 3}), 0);
    EXPECT_EQ(part().replicas, (ids{2, 3}));
    EXPECT_EQ(part().isr, (ids{2, 3}));
    EXPECT_EQ(part().leader, 2);
    EXPECT_TRUE(listed().empty());
}

TEST_F(reassignment_test, same_replicas_change_nothing) {
    const int32_t epoch = part().partition_epoch;
    ASSERT_EQ(reassign(ids{1, 2, 3}), 0);
    EXPECT_EQ(part().partition_epoch, epoch);
}

TEST_F(reassignment_test, cancel_reverts_to_the_original_replicas) {
    EXPECT_EQ(reassign(std::nullopt), code(kafka_error::no_reassignment_in_progress));
    ASSERT_EQ(reassign(ids{2, 3, 4}), 0);
    ASSERT_EQ(reassign(std::nullopt), 0);
    // The replicas minus the adding ones, in the order the move gave them
    // (Kafka's PartitionReassignmentRevert): the same set, 1 last.
    EXPECT_EQ(part().replicas, (ids{2, 3, 1}));
    EXPECT_EQ(part().isr, (ids{1, 2, 3}));
    EXPECT_TRUE(part().adding_replicas.empty());
    EXPECT_TRUE(part().removing_replicas.empty());
    EXPECT_EQ(part().leader, 1);
    EXPECT_TRUE(listed().empty());
}

TEST_F(reassignment_test, new_target_replaces_a_move_under_way) {
    ASSERT_EQ(reassign(ids{2, 3, 4}), 0);
    // Planned from the original {1,2,3}, not from {2,3,4,1}: 4 is dropped
    // (not "removed"), 1 still leaves.
    ASSERT_EQ(reassign(ids{2, 3, 1}), 0);
    EXPECT_EQ(part().replicas, (ids{2, 3, 1}));
    EXPECT_TRUE(part().adding_replicas.empty());
    EXPECT_TRUE(part().removing_replicas.empty());
    EXPECT_EQ(part().leader, 1);
    ASSERT_EQ(reassign(ids{2, 3, 4}), 0);
    EXPECT_EQ(alter_isr({1, 2, 3, 4}), code(kafka_error::new_leader_elected));
    ASSERT_EQ(reassign(ids{3, 4, 1}), 0);  // 1 comes back, 2 leaves; 1 is new again
    EXPECT_EQ(part().replicas, (ids{3, 4, 1, 2}));
    EXPECT_EQ(part().adding_replicas, (ids{1}));
    EXPECT_EQ(part().removing_replicas, (ids{2}));
}

TEST_F(reassignment_test, kafka_errors) {
    EXPECT_EQ(reassign(ids{}), code(kafka_error::invalid_replica_assignment));
    EXPECT_EQ(reassign(ids{2, 2, 3}), code(kafka_error::invalid_replica_assignment));
    EXPECT_EQ(reassign(ids{-1, 2}), code(kafka_error::invalid_replica_assignment));
    EXPECT_EQ(reassign(ids{2, 9}), code(kafka_error::invalid_replica_assignment));
    EXPECT_EQ(reassign(ids{2, 3}, 1), code(kafka_error::unknown_topic_or_partition));
    EXPECT_EQ(reassign(ids{2, 3}, 0, "nope"), code(kafka_error::unknown_topic_or_partition));
    EXPECT_EQ(part().replicas, (ids{1, 2, 3}));
}

TEST_F(reassignment_test, unregister_moves_leadership_and_removes_the_broker) {
    msg::unregister_broker_response resp;
    commit(unregister_broker(*image, 9, resp));
    EXPECT_EQ(resp.error_code, code(kafka_error::broker_id_not_registered));
    resp = {};
    commit(unregister_broker(*image, 1, resp));
    EXPECT_EQ(resp.error_code, 0);
    EXPECT_EQ(image->broker(1), nullptr);
    EXPECT_EQ(part().leader, 2);
    EXPECT_EQ(part().isr, (ids{2, 3}));
}

}  // namespace
}  // namespace strata::metadata
