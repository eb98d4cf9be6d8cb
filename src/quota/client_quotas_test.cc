#include "strata/quota/client_quotas.h"

#include <gtest/gtest.h>

#include <limits>

namespace strata::quota {
namespace {

using metadata::client_quota_entity;
using metadata::client_quota_values;
using quota_map = std::map<client_quota_entity, client_quota_values>;

TEST(windowed_rate, a_new_rate_is_spread_over_the_whole_span) {
    windowed_rate rate;  // 11 x 1 s
    rate.record(10000, 0);
    // Kafka counts at least samples-1 = 10 whole windows.
    EXPECT_EQ(rate.window_size_ms(500), 10500);
    EXPECT_NEAR(rate.measure(500), 10000 / 10.5, 1e-9);
}

TEST(windowed_rate, old_samples_stop_counting) {
    windowed_rate rate;
    for (int64_t t = 0; t < 20000; t += 100) rate.record(100, t);  // 1000/s for 20 s
    EXPECT_NEAR(rate.measure(19999), 1000, 100);
    EXPECT_EQ(rate.window_size_ms(19999), 10999);  // 11 windows retained, the oldest started at 9000
    EXPECT_NEAR(rate.measure(40000), 0, 1e-9);
}

TEST(throttle, is_the_time_for_the_rate_to_come_back_to_the_bound) {
    const window_config config;
    EXPECT_EQ(throttle_time_ms(1000, 1000, 11000, config), 0);
    EXPECT_EQ(throttle_time_ms(1500, 1000, 10000, config), 5000);
    EXPECT_EQ(throttle_time_ms(1e9, 1000, 10000, config), 11000);  // at most the whole span
}

TEST(resolve, follows_kafkas_precedence_per_key) {
    quota_map q;
    q[{{"client-id", std::nullopt}}]["producer_byte_rate"] = 8;
    q[{{"client-id", "app"}}]["producer_byte_rate"] = 7;
    q[{{"user", std::nullopt}}]["producer_byte_rate"] = 6;
    q[{{"user", std::nullopt}, {"client-id", std::nullopt}}]["producer_byte_rate"] = 5;
    q[{{"user", std::nullopt}, {"client-id", "app"}}]["producer_byte_rate"] = 4;
    q[{{"user", "alice"}}]["producer_byte_rate"] = 3;
    q[{{"user", "alice"}, {"client-id", std::nullopt}}]["producer_byte_rate"] = 2;
    q[{{"user", "alice"}, {"client-id", "app"}}]["producer_byte_rate"] = 1;
    q[{{"user", "alice"}}]["consumer_byte_rate"] = 30;
    const std::vector<client_quota_entity> removal_order{
        {{"user", "alice"}, {"client-id", "app"}},       {{"user", "alice"}, {"client-id", std::nullopt}},
        {{"user", "alice"}},                             {{"user", std::nullopt}, {"client-id", "app"}},
        {{"user", std::nullopt}, {"client-id", std::nullopt}}, {{"user", std::nullopt}},
        {{"client-id", "app"}},                          {{"client-id", std::nullopt}},
    };
    for (size_t i = 0; i < removal_order.size(); ++i) {
        const auto found = resolve(q, "alice", "app", "producer_byte_rate");
        ASSERT_TRUE(found) << i;
        EXPECT_EQ(found->bound, static_cast<double>(i + 1));
        q[removal_order[i]].erase("producer_byte_rate");
    }
    EXPECT_FALSE(resolve(q, "alice", "app", "producer_byte_rate"));
    // Each key resolves on its own.
    EXPECT_EQ(resolve(q, "alice", "other", "consumer_byte_rate")->bound, 30);
    EXPECT_FALSE(resolve(q, "bob", "other", "consumer_byte_rate"));
}

TEST(resolve, sensor_tags_follow_the_matching_entity) {
    quota_map q;
    q[{{"user", "alice"}}]["producer_byte_rate"] = 1;
    q[{{"client-id", std::nullopt}}]["producer_byte_rate"] = 2;
    const auto user = resolve(q, "alice", "a", "producer_byte_rate");
    EXPECT_EQ(user->user_tag, "alice");
    EXPECT_EQ(user->client_tag, "");  // all of alice's clients share it
    const auto client = resolve(q, "bob", "b", "producer_byte_rate");
    EXPECT_EQ(client->user_tag, "");
    EXPECT_EQ(client->client_tag, "b");  // each client-id its own default quota
}

TEST(validate, refuses_what_kafka_refuses) {
    EXPECT_FALSE(validate_entity({{"user", "alice"}, {"client-id", std::nullopt}}));
    EXPECT_FALSE(validate_entity({{"ip", "10.0.0.1"}}));
    EXPECT_FALSE(validate_entity({{"ip", std::nullopt}}));
    EXPECT_TRUE(validate_entity({}));
    EXPECT_TRUE(validate_entity({{"group", "g"}}));
    EXPECT_TRUE(validate_entity({{"ip", "10.0.0.1"}, {"user", "alice"}}));
    EXPECT_TRUE(validate_entity({{"ip", "not-an-address"}}));
    const client_quota_entity user{{"user", "alice"}};
    EXPECT_FALSE(validate_value(user, "producer_byte_rate", 1048576));
    EXPECT_FALSE(validate_value(user, "request_percentage", 12.5));
    EXPECT_FALSE(validate_value(user, "producer_byte_rate", std::nullopt));
    EXPECT_FALSE(validate_value(user, "bogus_rate", std::nullopt));  // removing any key is fine, as in Kafka
    EXPECT_EQ(validate_value(user, "producer_byte_rate", 1.5)->message, "producer_byte_rate cannot be a fractional value.");
    EXPECT_EQ(validate_value(user, "request_percentage", 0)->message, "Quota request_percentage must be greater than 0");
    EXPECT_TRUE(validate_value(user, "request_percentage", std::numeric_limits<double>::infinity()));
    EXPECT_TRUE(validate_value(user, "producer_byte_rate", 1.5));
    EXPECT_TRUE(validate_value(user, "producer_byte_rate", -1));
    EXPECT_TRUE(validate_value(user, "bogus_rate", 1));
    EXPECT_TRUE(validate_value(user, "connection_creation_rate", 1));
    EXPECT_FALSE(validate_value({{"ip", std::nullopt}}, "connection_creation_rate", 10));
    EXPECT_EQ(validate_value(user, "bogus_rate", 1)->error, kafka_error::invalid_request);
}

struct manager_fixture : ::testing::Test {
    int64_t now = 0;
    metrics::registry registry;
    std::shared_ptr<const metadata::metadata_image> image = std::make_shared<metadata::metadata_image>();
    client_quota_manager manager{[this] { return image; }, registry, window_config{}, [this] { return now; }};

    void set_quota(client_quota_entity entity, std::string key, double value) {
        metadata::metadata_delta d(image);
        protocol::metadata::client_quota_record r;
        for (const auto& [type, name] : entity) {
            auto& e = r.entity.emplace_back();
            e.entity_type = type;
            e.entity_name = name;
        }
        r.key = std::move(key);
        r.value = value;
        d.replay(r);
        image = d.apply();
    }
};

TEST_F(manager_fixture, a_producer_over_its_rate_is_throttled_and_others_are_not) {
    EXPECT_EQ(manager.record({"alice", "p", 1 << 20, 0, std::nullopt}), 0);  // no quotas at all
    set_quota({{"client-id", "slow"}}, "producer_byte_rate", 1000);
    // A steady 900 B/s: never throttled. (Right at the quota it would be,
    // now and then, as in Kafka: the span ends in a partial window.)
    for (now = 0; now < 30000; now += 100) ASSERT_EQ(manager.record({"alice", "slow", 90, 0, std::nullopt}), 0) << now;
    // Then 10 KB at once: 10 x 900 + 10000 bytes over the 10 s span is
    // 1900 B/s, throttled for the 9 s it takes to come back to 1000 B/s.
    const int32_t throttle = manager.record({"alice", "slow", 10000, 0, std::nullopt});
    EXPECT_EQ(throttle, 9000);
    EXPECT_EQ(manager.record({"alice", "fast", 10000000, 0, std::nullopt}), 0);  // another client-id
    // Fetch bytes count against consumer_byte_rate, which is not set.
    EXPECT_EQ(manager.record({"alice", "slow", 0, 10000000, std::nullopt}), 0);
    const auto text = registry.render();
    EXPECT_NE(text.find("strata_quota_throttle_time_seconds_sum{type=\"Produce\",user=\"\",client_id=\"slow\"} 9\n"),
              std::string::npos)
        << text;
}

TEST_F(manager_fixture, request_percentage_counts_request_time) {
    set_quota({{"user", "bob"}}, "request_percentage", 10);  // 10% of one thread
    int32_t throttle = 0;
    for (now = 0; now < 12000 && throttle == 0; now += 100)
        throttle = manager.record({"bob", "c", 0, 0, std::chrono::milliseconds(50)});  // 50%
    EXPECT_GT(throttle, 0);
    // Exempt traffic (no request time) is never throttled.
    EXPECT_EQ(manager.record({"bob", "c", 0, 0, std::nullopt}), 0);
}

}  // namespace
}  // namespace strata::quota
