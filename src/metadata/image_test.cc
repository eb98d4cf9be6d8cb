#include "strata/metadata/image.h"

#include <gtest/gtest.h>

namespace strata::metadata {
namespace {

protocol::uuid id_of(uint8_t n) {
    protocol::uuid u;
    u.bytes[15] = n;
    return u;
}

records::topic_record topic(const std::string& name, uint8_t n) {
    records::topic_record r;
    r.name = name;
    r.topic_id = id_of(n);
    return r;
}

records::partition_record partition(uint8_t topic_n, int32_t p, std::vector<int32_t> replicas) {
    records::partition_record r;
    r.topic_id = id_of(topic_n);
    r.partition_id = p;
    r.replicas = replicas;
    r.isr = replicas;
    r.leader = replicas.front();
    r.leader_epoch = 0;
    r.partition_epoch = 0;
    return r;
}

TEST(metadata_records, frame_round_trip_matches_kafka_layout) {
    auto bytes = encode_record(topic("orders", 1));
    // frame version 1, type 2 (TopicRecord), version 0
    ASSERT_GE(bytes.size(), 3u);
    EXPECT_EQ(bytes[0], 1);
    EXPECT_EQ(bytes[1], 2);
    EXPECT_EQ(bytes[2], 0);
    auto back = decode_record(bytes);
    EXPECT_EQ(back.version, 0);
    EXPECT_EQ(std::get<records::topic_record>(back.value).name, "orders");

    auto p = partition(1, 3, {1, 2, 3});
    auto pb = decode_record(encode_record(p));
    EXPECT_EQ(pb.version, records::partition_record::highest_supported_version);
    EXPECT_EQ(std::get<records::partition_record>(pb.value), p);
}

TEST(metadata_records, bad_frames_are_rejected) {
    EXPECT_THROW(decode_record(std::vector<uint8_t>{0, 2, 0}), protocol::decode_error);   // frame version 0
    EXPECT_THROW(decode_record(std::vector<uint8_t>{1, 99, 0}), protocol::decode_error);  // unknown type
    EXPECT_THROW(decode_record(std::vector<uint8_t>{1, 2, 7}), protocol::decode_error);   // unknown version
    auto bytes = encode_record(topic("t", 1));
    bytes.push_back(0);
    EXPECT_THROW(decode_record(bytes), protocol::decode_error);  // trailing garbage
}

TEST(metadata_image, topics_partitions_and_changes) {
    metadata_delta d(nullptr);
    d.replay(topic("orders", 1));
    d.replay(partition(1, 0, {1}));
    d.replay(partition(1, 1, {1}));
    d.set_end_offset(3);
    auto image = d.apply();
    ASSERT_NE(image->topic("orders"), nullptr);
    EXPECT_EQ(image->topic(id_of(1))->partitions.size(), 2u);
    EXPECT_EQ(image->end_offset(), 3);
    EXPECT_EQ(d.changes().created_topics.size(), 1u);

    // A leader change bumps the leader epoch and the partition epoch; an ISR
    // change bumps only the partition epoch.
    metadata_delta d2(image);
    records::partition_change_record change;
    change.topic_id = id_of(1);
    change.partition_id = 1;
    change.leader = 2;
    d2.replay(change);
    records::partition_change_record isr_only;
    isr_only.topic_id = id_of(1);
    isr_only.partition_id = 0;
    isr_only.isr = std::vector<int32_t>{};
    d2.replay(isr_only);
    auto image2 = d2.apply();
    const auto& p1 = image2->topic("orders")->partitions[1];
    EXPECT_EQ(p1.leader, 2);
    EXPECT_EQ(p1.leader_epoch, 1);
    EXPECT_EQ(p1.partition_epoch, 1);
    const auto& p0 = image2->topic("orders")->partitions[0];
    EXPECT_EQ(p0.leader_epoch, 0);
    EXPECT_EQ(p0.partition_epoch, 1);
    EXPECT_TRUE(p0.isr.empty());
    // The old image is untouched.
    EXPECT_EQ(image->topic("orders")->partitions[1].leader, 1);
    EXPECT_EQ(d2.changes().changed_topics.size(), 1u);
}

TEST(metadata_image, unchanged_topics_are_shared_between_images) {
    metadata_delta d(nullptr);
    d.replay(topic("a", 1));
    d.replay(partition(1, 0, {1}));
    d.replay(topic("b", 2));
    d.replay(partition(2, 0, {1}));
    auto first = d.apply();
    metadata_delta d2(first);
    records::partition_change_record change;
    change.topic_id = id_of(2);
    change.partition_id = 0;
    change.leader = 1;
    d2.replay(change);
    auto second = d2.apply();
    EXPECT_EQ(first->topics().at("a").get(), second->topics().at("a").get());
    EXPECT_NE(first->topics().at("b").get(), second->topics().at("b").get());
}

TEST(metadata_image, remove_topic_drops_its_configs) {
    metadata_delta d(nullptr);
    d.replay(topic("t", 1));
    d.replay(partition(1, 0, {1}));
    records::config_record c;
    c.resource_type = static_cast<int8_t>(config_resource_type::topic);
    c.resource_name = "t";
    c.name = "retention.ms";
    c.value = "1000";
    d.replay(c);
    auto image = d.apply();
    EXPECT_EQ(image->configs({config_resource_type::topic, "t"}).at("retention.ms"), "1000");
    metadata_delta d2(image);
    records::remove_topic_record rm;
    rm.topic_id = id_of(1);
    d2.replay(rm);
    auto image2 = d2.apply();
    EXPECT_EQ(image2->topic("t"), nullptr);
    EXPECT_EQ(image2->topic(id_of(1)), nullptr);
    EXPECT_TRUE(image2->configs({config_resource_type::topic, "t"}).empty());
    ASSERT_EQ(d2.changes().deleted_topics.size(), 1u);
    EXPECT_EQ(d2.changes().deleted_topics[0].second, "t");
}

TEST(metadata_image, broker_registration_fencing_and_features) {
    metadata_delta d(nullptr);
    records::register_broker_record reg;
    reg.broker_id = 1;
    reg.broker_epoch = 10;
    auto& ep = reg.end_points.emplace_back();
    ep.name = "PLAINTEXT";
    ep.host = "localhost";
    ep.port = 9092;
    d.replay(reg);
    records::unfence_broker_record unfence;
    unfence.id = 1;
    unfence.epoch = 9;  // stale epoch: ignored
    d.replay(unfence);
    records::feature_level_record mv;
    mv.name = "metadata.version";
    mv.feature_level = 21;
    d.replay(mv);
    auto image = d.apply();
    ASSERT_NE(image->broker(1), nullptr);
    EXPECT_TRUE(image->broker(1)->fenced);
    EXPECT_EQ(image->broker(1)->endpoint("PLAINTEXT")->port, 9092);
    EXPECT_EQ(image->feature_level("metadata.version"), 21);
    metadata_delta d2(image);
    unfence.epoch = 10;
    d2.replay(unfence);
    EXPECT_FALSE(d2.apply()->broker(1)->fenced);
}

TEST(metadata_image, inconsistent_records_are_errors) {
    metadata_delta d(nullptr);
    EXPECT_THROW(d.replay(partition(9, 0, {1})), std::invalid_argument);
    d.replay(topic("t", 1));
    EXPECT_THROW(d.replay(topic("t", 2)), std::invalid_argument);
}

}  // namespace
}  // namespace strata::metadata

namespace strata::metadata {
namespace {

TEST(metadata_image, scram_credentials_are_upserted_and_removed) {
    metadata_delta d(nullptr);
    records::user_scram_credential_record c;
    c.name = "alice";
    c.mechanism = 1;
    c.iterations = 4096;
    c.salt = {1};
    d.replay(c);
    c.mechanism = 2;
    d.replay(c);
    c.iterations = 8192;  // an update replaces
    d.replay(c);
    auto image = d.apply();
    ASSERT_NE(image->scram_credential("alice", 2), nullptr);
    EXPECT_EQ(image->scram_credential("alice", 2)->iterations, 8192);
    EXPECT_EQ(image->scram_credential("bob", 1), nullptr);
    metadata_delta d2(image);
    records::remove_user_scram_credential_record rm;
    rm.name = "alice";
    rm.mechanism = 1;
    d2.replay(rm);
    auto image2 = d2.apply();
    EXPECT_EQ(image2->scram_credential("alice", 1), nullptr);
    ASSERT_NE(image2->scram_credential("alice", 2), nullptr);
    rm.mechanism = 2;
    metadata_delta d3(image2);
    d3.replay(rm);
    EXPECT_TRUE(d3.apply()->scram().empty());
    EXPECT_NE(image->scram_credential("alice", 1), nullptr);  // the old image is untouched
}

TEST(metadata_image, client_quotas_are_set_and_removed_per_key) {
    records::client_quota_record q;
    q.entity.resize(1);
    q.entity[0].entity_type = "client-id";
    q.entity[0].entity_name.reset();  // the client-id default
    q.key = "producer_byte_rate";
    q.value = 1024;
    metadata_delta d(nullptr);
    d.replay(q);
    q.key = "consumer_byte_rate";
    q.value = 2048;
    d.replay(q);
    auto image = d.apply();
    EXPECT_TRUE(d.changes().client_quotas_changed);
    const client_quota_entity client_default{{"client-id", std::nullopt}};
    ASSERT_EQ(image->client_quotas().size(), 1u);
    EXPECT_EQ(image->client_quotas().at(client_default).at("producer_byte_rate"), 1024);
    EXPECT_EQ(image->client_quotas().count(client_quota_entity{{"client-id", "named"}}), 0u);

    metadata_delta d2(image);
    q.remove = true;
    d2.replay(q);
    auto image2 = d2.apply();
    EXPECT_EQ(image2->client_quotas().at(client_default).count("consumer_byte_rate"), 0u);
    q.key = "producer_byte_rate";
    metadata_delta d3(image2);
    d3.replay(q);
    EXPECT_TRUE(d3.apply()->client_quotas().empty());  // an entity with no values is gone
    EXPECT_EQ(image->client_quotas().at(client_default).size(), 2u);  // the old image is untouched
}

}  // namespace
}  // namespace strata::metadata
