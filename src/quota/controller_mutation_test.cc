// KIP-599's controller mutation quota and KIP-612's connection creation
// rates, with an injected clock.
#include <gtest/gtest.h>

#include "strata/quota/connection_rates.h"
#include "strata/quota/controller_mutation.h"

namespace strata::quota {
namespace {

using metadata::client_quota_entity;

struct image_fixture : ::testing::Test {
    int64_t now = 1'000'000;  // a steady clock is far from 0, so buckets start full
    metrics::registry registry;
    std::shared_ptr<const metadata::metadata_image> image = std::make_shared<metadata::metadata_image>();

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

TEST(token_bucket, starts_full_goes_into_debt_and_refills_at_the_rate) {
    token_bucket bucket;
    EXPECT_DOUBLE_EQ(bucket.measure(2, 22, 1'000'000), 22);  // full: capped at the burst
    bucket.record(30, 2, 22, 1'000'000);
    EXPECT_DOUBLE_EQ(bucket.measure(2, 22, 1'000'000), -8);
    EXPECT_EQ(token_bucket_throttle_ms(-8, 2), 4000);  // 8 mutations at 2/s
    EXPECT_DOUBLE_EQ(bucket.measure(2, 22, 1'001'000), -6);
    EXPECT_DOUBLE_EQ(bucket.measure(2, 22, 1'100'000), 22);
    EXPECT_EQ(token_bucket_throttle_ms(0, 2), 0);
}

struct mutation_fixture : image_fixture {
    controller_mutation_quotas quotas{[this] { return image; }, registry, window_config{}, [this] { return now; }};
};

TEST_F(mutation_fixture, no_quota_is_unbounded) {
    auto q = quotas.for_request("alice", "admin", true);
    EXPECT_FALSE(q.bounded());
    EXPECT_TRUE(q.try_record(1e9));
    EXPECT_EQ(q.throttle_ms(), 0);
}

// Kafka's StrictControllerMutationQuota: a bucket not in debt takes any
// mutation; one in debt refuses without recording.
TEST_F(mutation_fixture, strict_lets_the_first_overdraft_through_then_refuses) {
    set_quota({{"user", "alice"}}, "controller_mutation_rate", 2);  // burst 2 x 11 x 1 s = 22
    auto first = quotas.for_request("alice", "admin", true);
    ASSERT_TRUE(first.bounded());
    EXPECT_TRUE(first.try_record(30));  // 22 - 30 = -8
    EXPECT_EQ(first.throttle_ms(), 0);  // recorded without a check
    auto second = quotas.for_request("alice", "other-client", true);  // the user's bucket is shared
    EXPECT_FALSE(second.try_record(1));
    EXPECT_EQ(second.throttle_ms(), 4000);
    now += 1000;
    EXPECT_EQ(second.throttle_ms(), 3000);  // less the time since
    EXPECT_FALSE(second.try_record(1));    // -6: still in debt, nothing recorded
    now += 3000;
    EXPECT_TRUE(quotas.for_request("alice", "admin", true).try_record(1));  // back at 0
    EXPECT_TRUE(quotas.for_request("bob", "admin", true).try_record(1000));  // no quota for bob
}

// PermissiveControllerMutationQuota (old request versions): every mutation
// is recorded, and only throttles.
TEST_F(mutation_fixture, permissive_records_everything_and_throttles) {
    set_quota({{"client-id", std::nullopt}}, "controller_mutation_rate", 1);  // per client-id, burst 11
    auto q = quotas.for_request("", "legacy", false);
    EXPECT_TRUE(q.try_record(10));
    EXPECT_EQ(q.throttle_ms(), 0);
    EXPECT_TRUE(q.try_record(3));  // -2
    EXPECT_EQ(q.throttle_ms(), 2000);
    EXPECT_TRUE(q.try_record(1));  // -3
    EXPECT_EQ(q.throttle_ms(), 3000);
    // Another client-id has a bucket of its own.
    EXPECT_TRUE(quotas.for_request("", "other", true).try_record(11));
    const auto text = registry.render();
    EXPECT_NE(text.find("strata_quota_throttle_time_seconds_sum{type=\"ControllerMutation\",user=\"\",client_id=\"legacy\"} "
                        "5\n"),
              std::string::npos)
        << text;
}

struct connection_fixture : image_fixture {
    connection_rate_config config() {
        connection_rate_config c;
        c.broker_rate = 5;
        c.listener_rates["SLOW"] = 1;
        c.exempt_listeners = {"CONTROLLER"};
        return c;
    }
    connection_rate_quotas rates{config(), [this] { return image; }, &registry, [this] { return now; }};
};

TEST_F(connection_fixture, over_the_broker_rate_the_listener_waits) {
    // A new rate is spread over 10 windows: 50 connections at once are 5/s.
    for (int i = 0; i < 50; ++i) ASSERT_EQ(rates.record_listener_connection("PLAINTEXT"), 0) << i;
    // The 51st: 5.1/s, throttled until the 10 s span brings it back to 5/s.
    EXPECT_EQ(rates.record_listener_connection("PLAINTEXT"), 200);
    // Many more: at most one window.
    for (int i = 0; i < 100; ++i) rates.record_listener_connection("PLAINTEXT");
    EXPECT_EQ(rates.record_listener_connection("PLAINTEXT"), 1000);
    // The controller listener is not counted by the broker-wide rate.
    EXPECT_EQ(rates.record_listener_connection("CONTROLLER"), 0);
    // Some time later the rate is back under the bound.
    now += 60'000;
    EXPECT_EQ(rates.record_listener_connection("PLAINTEXT"), 0);
}

TEST_F(connection_fixture, a_listener_rate_applies_to_its_listener) {
    for (int i = 0; i < 10; ++i) ASSERT_EQ(rates.record_listener_connection("SLOW"), 0) << i;
    EXPECT_EQ(rates.record_listener_connection("SLOW"), 1000);  // 1.1/s: (1.1-1)/1 x 10 s, bounded to 1 s
}

TEST_F(connection_fixture, an_ips_quota_refuses_its_connections_over_the_rate) {
    EXPECT_EQ(rates.record_ip_connection("10.0.0.1"), 0);  // no IP quotas
    set_quota({{"ip", "10.0.0.1"}}, "connection_creation_rate", 2);
    set_quota({{"ip", std::nullopt}}, "connection_creation_rate", 100);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(rates.record_ip_connection("10.0.0.1"), 0) << i;  // 20 over 10 s: 2/s
    EXPECT_EQ(rates.record_ip_connection("10.0.0.1"), 500);  // 2.1/s
    // Other addresses fall under the default IP entity.
    for (int i = 0; i < 100; ++i) ASSERT_EQ(rates.record_ip_connection("10.0.0.2"), 0) << i;
    EXPECT_EQ(connection_rate_quotas::ip_quota(*image, "10.0.0.3"), 100);
    EXPECT_EQ(connection_rate_quotas::ip_quota(*image, "10.0.0.1"), 2);
}

}  // namespace
}  // namespace strata::quota
