#include "delegation_tokens.h"

#include <gtest/gtest.h>

namespace strata::server {
namespace {

namespace records = metadata::records;
using security::principal;

const principal alice{"User", "alice"};
const principal bob{"User", "bob"};
const principal carol{"User", "carol"};

delegation_token_config enabled() {
    delegation_token_config c;
    c.secret_key = "s3cret";
    c.max_lifetime_ms = 7000;
    c.expiry_time_ms = 1000;
    return c;
}

// An image holding the records `created` wrote.
std::shared_ptr<const metadata::metadata_image> with(const std::vector<metadata::record>& rs,
                                                     std::shared_ptr<const metadata::metadata_image> base = nullptr) {
    metadata::metadata_delta delta(std::move(base));
    for (const auto& r : rs) delta.replay(r);
    return delta.apply();
}

TEST(delegation_tokens, creation_sets_kafkas_timestamps_and_hmac) {
    const auto created = create_delegation_token(enabled(), alice, bob, {carol}, -1, 100, "tok");
    ASSERT_EQ(created.error, kafka_error::none);
    EXPECT_EQ(created.token.owner, "User:alice");
    EXPECT_EQ(created.token.requester, "User:bob");
    EXPECT_EQ(created.token.renewers, std::vector<std::string>{"User:carol"});
    EXPECT_EQ(created.token.issue_timestamp, 100);
    EXPECT_EQ(created.token.max_timestamp, 7100);         // delegation.token.max.lifetime.ms
    EXPECT_EQ(created.token.expiration_timestamp, 1100);  // delegation.token.expiry.time.ms
    EXPECT_EQ(created.hmac, security::delegation_token_hmac("s3cret", "tok"));
    ASSERT_EQ(created.records.size(), 1u);

    // A shorter max lifetime caps both; a longer one is cut to the broker's.
    auto shorter = create_delegation_token(enabled(), alice, alice, {}, 500, 100, "t2");
    EXPECT_EQ(shorter.token.max_timestamp, 600);
    EXPECT_EQ(shorter.token.expiration_timestamp, 600);
    auto longer = create_delegation_token(enabled(), alice, alice, {}, 99999, 100, "t3");
    EXPECT_EQ(longer.token.max_timestamp, 7100);
}

TEST(delegation_tokens, creation_refusals) {
    EXPECT_EQ(create_delegation_token(delegation_token_config{}, alice, alice, {}, -1, 0, "t").error,
              kafka_error::delegation_token_auth_disabled);
    const auto group = create_delegation_token(enabled(), alice, alice, {principal{"Group", "g"}}, -1, 0, "t");
    EXPECT_EQ(group.error, kafka_error::invalid_principal_type);
    EXPECT_TRUE(group.records.empty());
}

TEST(delegation_tokens, renew_extends_up_to_the_max_and_checks_in_kafkas_order) {
    const auto config = enabled();
    const auto created = create_delegation_token(config, alice, alice, {bob}, -1, 0, "tok");
    auto image = with(created.records);
    ASSERT_NE(token_for_hmac(*image, config, created.hmac), nullptr);

    // Owner and renewer may renew; the default period, or a shorter one.
    auto renewed = renew_delegation_token(*image, config, created.hmac, bob, -1, 500);
    ASSERT_EQ(renewed.error, kafka_error::none);
    EXPECT_EQ(renewed.expiry_timestamp_ms, 1500);
    image = with(renewed.records, image);
    EXPECT_EQ(image->delegation_token("tok")->expiration_timestamp, 1500);
    EXPECT_EQ(renew_delegation_token(*image, config, created.hmac, alice, 200, 600).expiry_timestamp_ms, 800);
    // Never past the max timestamp.
    EXPECT_EQ(renew_delegation_token(*image, config, created.hmac, alice, -1, 1400).expiry_timestamp_ms, 2400);
    // Others may not.
    EXPECT_EQ(renew_delegation_token(*image, config, created.hmac, carol, -1, 600).error,
              kafka_error::delegation_token_owner_mismatch);
    // An unknown HMAC, a wrong secret.
    EXPECT_EQ(renew_delegation_token(*image, config, security::bytes{1, 2, 3}, alice, -1, 600).error,
              kafka_error::delegation_token_not_found);
    auto other = config;
    other.secret_key = "other";
    EXPECT_EQ(renew_delegation_token(*image, other, created.hmac, alice, -1, 600).error,
              kafka_error::delegation_token_not_found);
    // Past its expiry: expired, before the owner check.
    EXPECT_EQ(renew_delegation_token(*image, config, created.hmac, carol, -1, 1501).error,
              kafka_error::delegation_token_expired);
}

TEST(delegation_tokens, the_requester_may_describe_but_not_renew) {
    const auto config = enabled();
    const auto created = create_delegation_token(config, alice, bob, {}, -1, 0, "tok");
    const auto image = with(created.records);
    EXPECT_EQ(renew_delegation_token(*image, config, created.hmac, bob, -1, 1).error,
              kafka_error::delegation_token_owner_mismatch);
    const auto none = [](const auto&) { return false; };
    EXPECT_TRUE(token_visible(created.token, bob, std::nullopt, none));
    EXPECT_TRUE(token_visible(created.token, alice, std::nullopt, none));
    EXPECT_FALSE(token_visible(created.token, carol, std::nullopt, none));
    EXPECT_TRUE(token_visible(created.token, carol, std::nullopt, [](const auto&) { return true; }));
    // The owners filter: tokens some listed principal owns, requested or renews.
    EXPECT_TRUE(token_visible(created.token, alice, std::vector<std::string>{"User:alice"}, none));
    EXPECT_TRUE(token_visible(created.token, alice, std::vector<std::string>{"User:bob"}, none));
    EXPECT_FALSE(token_visible(created.token, alice, std::vector<std::string>{"User:carol"}, none));
}

TEST(delegation_tokens, expire_now_removes_and_a_period_shortens) {
    const auto config = enabled();
    const auto created = create_delegation_token(config, alice, alice, {}, -1, 0, "tok");
    auto image = with(created.records);
    auto shortened = expire_delegation_token(*image, config, created.hmac, alice, 100, 50);
    ASSERT_EQ(shortened.error, kafka_error::none);
    EXPECT_EQ(shortened.expiry_timestamp_ms, 150);
    image = with(shortened.records, image);
    EXPECT_EQ(image->delegation_token("tok")->expiration_timestamp, 150);

    EXPECT_EQ(expire_delegation_token(*image, config, created.hmac, bob, -1, 60).error,
              kafka_error::delegation_token_owner_mismatch);
    auto now = expire_delegation_token(*image, config, created.hmac, alice, -1, 60);
    ASSERT_EQ(now.error, kafka_error::none);
    EXPECT_EQ(now.expiry_timestamp_ms, -1);  // Kafka answers the period itself
    image = with(now.records, image);
    EXPECT_EQ(image->delegation_token("tok"), nullptr);
    EXPECT_EQ(expire_delegation_token(*image, config, created.hmac, alice, -1, 70).error,
              kafka_error::delegation_token_not_found);
    EXPECT_EQ(expire_delegation_token(*image, delegation_token_config{}, created.hmac, alice, -1, 70).error,
              kafka_error::delegation_token_auth_disabled);
}

TEST(delegation_tokens, principals_parse_as_kafka_writes_them) {
    EXPECT_EQ(parse_principal("User:alice"), alice);
    EXPECT_EQ(parse_principal("User:CN=a:b"), (principal{"User", "CN=a:b"}));
    EXPECT_EQ(parse_principal("bob"), bob);
}

}  // namespace
}  // namespace strata::server
