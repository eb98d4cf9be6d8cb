// Metadata snapshots: image -> snapshot bytes -> image gives the same
// metadata; bytes that are not a whole snapshot are refused.
#include "strata/metadata/snapshot.h"

#include <gtest/gtest.h>

#include "strata/protocol/record_batch.h"

namespace strata::metadata {
namespace {

protocol::uuid id_of(uint8_t n) {
    protocol::uuid u;
    u.bytes[0] = 0x5a;
    u.bytes[15] = n;
    return u;
}

records::register_broker_record broker(int32_t id, int64_t epoch) {
    records::register_broker_record r;
    r.broker_id = id;
    r.broker_epoch = epoch;
    r.incarnation_id = id_of(static_cast<uint8_t>(100 + id));
    auto& e = r.end_points.emplace_back();
    e.name = "PLAINTEXT";
    e.host = "host-" + std::to_string(id);
    e.port = static_cast<uint16_t>(9090 + id);
    if (id == 2)
        r.rack = "rack-b";
    else
        r.rack = std::nullopt;
    r.fenced = true;
    return r;
}

records::config_record config(config_resource_type type, const std::string& resource, const std::string& name,
                              std::optional<std::string> value) {
    records::config_record c;
    c.resource_type = static_cast<int8_t>(type);
    c.resource_name = resource;
    c.name = name;
    c.value = std::move(value);
    return c;
}

void add_topic(metadata_delta& d, const std::string& name, uint8_t n, int32_t partitions) {
    records::topic_record t;
    t.name = name;
    t.topic_id = id_of(n);
    d.replay(t);
    for (int32_t p = 0; p < partitions; ++p) {
        records::partition_record r;
        r.topic_id = id_of(n);
        r.partition_id = p;
        r.replicas = {1 + p % 3, 1 + (p + 1) % 3};
        r.isr = r.replicas;
        r.leader = r.replicas.front();
        r.leader_epoch = 0;
        r.partition_epoch = 0;
        d.replay(r);
    }
}

// An image with a bit of everything, built the way the log builds it.
std::shared_ptr<const metadata_image> sample_image() {
    metadata_delta d(nullptr);
    records::feature_level_record mv;
    mv.name = "metadata.version";
    mv.feature_level = 21;
    d.replay(mv);
    records::feature_level_record kraft;
    kraft.name = "kraft.version";
    kraft.feature_level = 1;
    d.replay(kraft);
    for (int32_t b = 1; b <= 3; ++b) d.replay(broker(b, 10 * b));
    records::unfence_broker_record unfence1;
    unfence1.id = 1;
    unfence1.epoch = 10;
    d.replay(unfence1);
    records::unfence_broker_record unfence2;
    unfence2.id = 2;
    unfence2.epoch = 20;
    d.replay(unfence2);
    records::broker_registration_change_record shutdown;  // broker 2 in controlled shutdown; 3 stays fenced
    shutdown.broker_id = 2;
    shutdown.broker_epoch = 20;
    shutdown.in_controlled_shutdown = 1;
    d.replay(shutdown);

    add_topic(d, "orders", 1, 4);
    add_topic(d, "payments", 2, 2);
    add_topic(d, "gone", 3, 3);
    d.replay(config(config_resource_type::topic, "orders", "retention.ms", "1000"));
    d.replay(config(config_resource_type::topic, "orders", "cleanup.policy", "compact"));
    d.replay(config(config_resource_type::topic, "gone", "retention.ms", "5"));
    d.replay(config(config_resource_type::broker, "", "log.retention.bytes", "123"));
    d.replay(config(config_resource_type::broker, "2", "message.max.bytes", "2000"));
    d.replay(config(config_resource_type::topic, "payments", "retention.ms", "7"));
    d.replay(config(config_resource_type::topic, "payments", "retention.ms", std::nullopt));  // removed again

    // Leadership moved and the ISR shrank: the snapshot keeps the epochs.
    records::partition_change_record change;
    change.topic_id = id_of(1);
    change.partition_id = 2;
    change.leader = 3;
    change.isr = std::vector<int32_t>{3};
    d.replay(change);
    records::partition_change_record elr;
    elr.topic_id = id_of(2);
    elr.partition_id = 1;
    elr.eligible_leader_replicas = std::vector<int32_t>{2};
    elr.last_known_elr = std::vector<int32_t>{1};
    d.replay(elr);

    records::remove_topic_record remove;
    remove.topic_id = id_of(3);
    d.replay(remove);

    records::producer_ids_record pids;
    pids.broker_id = 1;
    pids.broker_epoch = 10;
    pids.next_producer_id = 5000;
    d.replay(pids);

    records::access_control_entry_record acl;
    acl.id = id_of(200);
    acl.resource_type = 2;
    acl.resource_name = "orders";
    acl.pattern_type = 3;
    acl.principal = "User:alice";
    acl.host = "*";
    acl.operation = 3;
    acl.permission_type = 3;
    d.replay(acl);
    records::user_scram_credential_record scram;
    scram.name = "alice";
    scram.mechanism = 2;
    scram.salt = {1, 2, 3};
    scram.stored_key = {4, 5};
    scram.server_key = {6, 7};
    scram.iterations = 4096;
    d.replay(scram);
    records::delegation_token_record token;
    token.token_id = "tok-1";
    token.owner = "User:alice";
    token.requester = "User:admin";
    token.renewers = {"User:bob"};
    token.issue_timestamp = 1;
    token.expiration_timestamp = 2;
    token.max_timestamp = 3;
    d.replay(token);
    records::delegation_token_record gone_token = token;
    gone_token.token_id = "tok-2";
    d.replay(gone_token);
    records::remove_delegation_token_record remove_token;
    remove_token.token_id = "tok-2";
    d.replay(remove_token);
    records::client_quota_record quota;
    quota.entity.resize(2);
    quota.entity[0].entity_type = "user";
    quota.entity[0].entity_name = "alice";
    quota.entity[1].entity_type = "client-id";
    quota.entity[1].entity_name.reset();  // <default>
    quota.key = "producer_byte_rate";
    quota.value = 1048576;
    d.replay(quota);
    d.set_end_offset(77);
    return d.apply();
}

TEST(metadata_snapshot, round_trip_gives_the_same_image) {
    const auto image = sample_image();
    ASSERT_EQ(image->topic("gone"), nullptr);
    ASSERT_TRUE(image->broker(3)->fenced);
    const auto bytes = write_snapshot(*image, 4, 1700000000000);
    const auto back = read_snapshot(bytes, image->end_offset());

    EXPECT_TRUE(back->same_contents(*image));
    EXPECT_EQ(back->end_offset(), 77);
    ASSERT_EQ(back->tokens().size(), 1u);
    ASSERT_NE(back->delegation_token("tok-1"), nullptr);
    EXPECT_EQ(back->delegation_token("tok-1")->renewers, std::vector<std::string>{"User:bob"});
    const client_quota_entity alice_default{{"client-id", std::nullopt}, {"user", "alice"}};
    ASSERT_EQ(back->client_quotas().count(alice_default), 1u);
    EXPECT_EQ(back->client_quotas().at(alice_default).at("producer_byte_rate"), 1048576);
    // The parts spelled out, so that a broken same_contents cannot hide a loss.
    EXPECT_EQ(back->feature_level("metadata.version"), 21);
    EXPECT_EQ(back->feature_level("kraft.version"), 1);
    ASSERT_EQ(back->brokers().size(), 3u);
    EXPECT_FALSE(back->broker(1)->fenced);
    EXPECT_FALSE(back->broker(2)->fenced);
    EXPECT_TRUE(back->broker(2)->in_controlled_shutdown);
    EXPECT_EQ(back->broker(2)->rack, "rack-b");
    EXPECT_TRUE(back->broker(3)->fenced);
    EXPECT_EQ(back->broker(3)->endpoints, image->broker(3)->endpoints);
    EXPECT_EQ(back->topic("gone"), nullptr);
    EXPECT_EQ(back->topic(id_of(3)), nullptr);
    ASSERT_NE(back->topic(id_of(1)), nullptr);
    const auto& moved = back->topic("orders")->partitions[2];
    EXPECT_EQ(moved.leader, 3);
    EXPECT_EQ(moved.isr, std::vector<int32_t>{3});
    EXPECT_EQ(moved.leader_epoch, 1);
    EXPECT_EQ(moved.partition_epoch, 1);
    EXPECT_EQ(back->topic("payments")->partitions[1].eligible_leader_replicas, std::vector<int32_t>{2});
    EXPECT_EQ(back->configs({config_resource_type::topic, "orders"}).at("cleanup.policy"), "compact");
    EXPECT_TRUE(back->configs({config_resource_type::topic, "gone"}).empty());
    EXPECT_TRUE(back->configs({config_resource_type::topic, "payments"}).empty());
    EXPECT_EQ(back->configs({config_resource_type::broker, ""}).at("log.retention.bytes"), "123");
    EXPECT_EQ(back->configs({config_resource_type::broker, "2"}).at("message.max.bytes"), "2000");
    EXPECT_EQ(back->next_producer_id(), 5000);
    EXPECT_EQ(back->acl_count(), 1u);

    // And an image that differs is told apart.
    metadata_delta d(back);
    records::producer_ids_record more;
    more.next_producer_id = 6000;
    d.replay(more);
    EXPECT_FALSE(d.apply()->same_contents(*image));
}

TEST(metadata_snapshot, is_kafkas_layout_header_records_footer) {
    const auto bytes = write_snapshot(*sample_image(), 4, 1700000000000);
    protocol::record_batch_sequence batches(
        protocol::bytes_view(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    std::vector<bool> control;
    int64_t next_offset = 0;
    for (;;) {
        auto next = batches.next();
        ASSERT_TRUE(next);
        if (!next.value()) break;
        const auto& batch = *next.value();
        EXPECT_TRUE(batch.crc_ok());
        EXPECT_EQ(batch.base_offset(), next_offset);
        EXPECT_EQ(batch.partition_leader_epoch(), 4);
        next_offset += batch.last_offset_delta() + 1;
        control.push_back(batch.is_control());
    }
    ASSERT_GE(control.size(), 3u);
    EXPECT_TRUE(control.front());
    EXPECT_TRUE(control.back());
    EXPECT_FALSE(control[1]);
}

TEST(metadata_snapshot, an_empty_image_round_trips) {
    metadata_image empty;
    const auto back = read_snapshot(write_snapshot(empty), 0);
    EXPECT_TRUE(back->same_contents(empty));
    EXPECT_TRUE(back->topics().empty());
}

TEST(metadata_snapshot, large_images_span_several_batches) {
    metadata_delta d(nullptr);
    for (int i = 0; i < 200; ++i) add_topic(d, "topic-" + std::to_string(i), static_cast<uint8_t>(i), 100);
    // ids collide past 255 topics; 200 keeps them unique
    const auto image = d.apply();
    const auto bytes = write_snapshot(*image);
    EXPECT_GT(bytes.size(), size_t{1} << 20);
    EXPECT_TRUE(read_snapshot(bytes, 0)->same_contents(*image));
}

TEST(metadata_snapshot, refuses_what_is_not_a_whole_snapshot) {
    const auto bytes = write_snapshot(*sample_image(), 4, 0);
    EXPECT_THROW(read_snapshot("", 0), protocol::decode_error);
    EXPECT_THROW(read_snapshot("not a snapshot at all, just some text", 0), protocol::decode_error);
    // Cut off after a few batches: no footer.
    EXPECT_THROW(read_snapshot(std::string_view(bytes).substr(0, bytes.size() - 10), 0), protocol::decode_error);
    // A flipped byte inside a batch fails its CRC.
    std::string flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x40;
    EXPECT_THROW(read_snapshot(flipped, 0), protocol::decode_error);
}

TEST(metadata_snapshot, diff_lists_what_a_loaded_image_changed) {
    const auto before = sample_image();
    metadata_delta d(before);
    add_topic(d, "fresh", 9, 1);
    records::remove_topic_record remove;
    remove.topic_id = id_of(2);
    d.replay(remove);
    records::partition_change_record change;
    change.topic_id = id_of(1);
    change.partition_id = 0;
    change.leader = 2;
    d.replay(change);
    // Through bytes, so no topic shares a pointer with `before`.
    const auto after = read_snapshot(write_snapshot(*d.apply()), 100);
    const auto changes = diff_images(*before, *after);
    EXPECT_EQ(changes.created_topics, std::vector<protocol::uuid>{id_of(9)});
    ASSERT_EQ(changes.deleted_topics.size(), 1u);
    EXPECT_EQ(changes.deleted_topics[0].second, "payments");
    EXPECT_EQ(changes.changed_topics, std::vector<protocol::uuid>{id_of(1)});
    EXPECT_FALSE(changes.brokers_changed);
    EXPECT_FALSE(changes.configs_changed);
}

}  // namespace
}  // namespace strata::metadata
