#include "strata/replication/throttle.h"

#include <gtest/gtest.h>

#include "strata/metadata/records.h"

namespace strata::replication {
namespace {

TEST(replication_throttle, names_replicas_as_kafka_does) {
    EXPECT_TRUE(replication_throttle::applies("*", 7, 3));
    EXPECT_TRUE(replication_throttle::applies("0:1, 7:3", 7, 3));
    EXPECT_FALSE(replication_throttle::applies("0:1,7:2", 7, 3));
    EXPECT_FALSE(replication_throttle::applies("", 0, 1));
    EXPECT_FALSE(replication_throttle::validate("*"));
    EXPECT_FALSE(replication_throttle::validate("0:1,1:2"));
    EXPECT_FALSE(replication_throttle::validate(""));
    EXPECT_TRUE(replication_throttle::validate("0-1"));
    EXPECT_TRUE(replication_throttle::validate("a:1"));
    EXPECT_TRUE(replication_throttle::validate("0:1,"));
}

TEST(replication_throttle, is_exceeded_over_its_rate_only) {
    int64_t now = 0;
    replication_throttle throttle(throttle_window{}, [&] { return now; });
    throttle.record(100 << 20);
    EXPECT_FALSE(throttle.exceeded());  // unlimited by default
    throttle.set_rate(1 << 20);
    EXPECT_TRUE(throttle.exceeded());  // 100 MiB in the first second
    now = 11000;                       // the sample has aged out
    EXPECT_FALSE(throttle.exceeded());
    for (; now < 30000; now += 100) throttle.record(100 << 10);  // 1000 KiB/s
    EXPECT_FALSE(throttle.exceeded());
    throttle.record(4 << 20);
    EXPECT_TRUE(throttle.exceeded());
}

// Kafka's SimpleRate, not the client quotas' Rate: a new throttle does not
// let ten windows' worth through before it holds.
TEST(replication_throttle, holds_from_the_first_second) {
    int64_t now = 0;
    replication_throttle throttle(throttle_window{}, [&] { return now; });
    throttle.set_rate(1 << 20);
    throttle.record(1 << 20);
    EXPECT_FALSE(throttle.exceeded());  // 1 MiB over the one-window minimum
    throttle.record(1 << 20);
    EXPECT_TRUE(throttle.exceeded());
    now = 2000;  // 2 MiB over 2 s
    EXPECT_FALSE(throttle.exceeded());
}

std::shared_ptr<const metadata::metadata_image> image_with(
    std::vector<std::pair<metadata::config_resource, metadata::config_map>> configs) {
    metadata::metadata_delta d(nullptr);
    for (auto& [resource, values] : configs) {
        for (auto& [key, value] : values) {
            metadata::records::config_record r;
            r.resource_type = static_cast<int8_t>(resource.type);
            r.resource_name = resource.name;
            r.name = key;
            r.value = value;
            d.replay(r);
        }
    }
    return d.apply();
}

TEST(replication_throttles, follow_the_image) {
    using metadata::config_resource_type;
    replication_throttles leader(replication_throttles::side::leader, 2);
    replication_throttles follower(replication_throttles::side::follower, 2);
    const auto image = image_with({
        {{config_resource_type::broker, ""}, {{"leader.replication.throttled.rate", "1000"},
                                              {"follower.replication.throttled.rate", "3000"}}},
        {{config_resource_type::broker, "2"}, {{"leader.replication.throttled.rate", "2000"}}},
        {{config_resource_type::broker, "3"}, {{"follower.replication.throttled.rate", "7"}}},
        {{config_resource_type::topic, "moving"}, {{"leader.replication.throttled.replicas", "0:1,0:2,1:2"},
                                                   {"follower.replication.throttled.replicas", "0:3"}}},
        {{config_resource_type::topic, "all"}, {{"follower.replication.throttled.replicas", "*"}}},
    });
    leader.follow(image);
    follower.follow(image);
    EXPECT_EQ(leader.throttle().rate(), 2000);    // this broker's own value first
    EXPECT_EQ(follower.throttle().rate(), 3000);  // then the cluster default
    EXPECT_TRUE(leader.throttled("moving", 0));
    EXPECT_TRUE(leader.throttled("moving", 1));
    EXPECT_FALSE(leader.throttled("moving", 2));
    EXPECT_FALSE(follower.throttled("moving", 0));  // 0:3 is broker 3's replica
    EXPECT_TRUE(follower.throttled("all", 5));
    EXPECT_FALSE(leader.throttled("all", 5));
    EXPECT_FALSE(leader.throttled("other", 0));
    // Long.MAX_VALUE is unlimited; no lists, nothing throttled.
    leader.follow(image_with({{{config_resource_type::broker, "2"},
                               {{"leader.replication.throttled.rate", "9223372036854775807"}}}}));
    EXPECT_EQ(leader.throttle().rate(), std::nullopt);
    EXPECT_FALSE(leader.throttled("moving", 0));
}

}  // namespace
}  // namespace strata::replication
