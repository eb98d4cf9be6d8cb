#include "strata/security/acl.h"
#include "strata/security/authorized_operations.h"

#include <gtest/gtest.h>

namespace strata::security {
namespace {

acl_binding acl(resource_type t, std::string name, pattern_type p, std::string who, acl_operation op,
                acl_permission perm = acl_permission::allow, std::string host = "*") {
    return acl_binding{t, std::move(name), p, std::move(who), std::move(host), op, perm};
}

struct fixture {
    explicit fixture(authorizer_settings s = {}) : authorizer(std::move(s)) {}
    bool may(const std::string& user, acl_operation op, resource_type t, std::string_view name,
             std::string_view address = "10.0.0.1:5000") const {
        const principal p{"User", user};
        const request_identity who{p, address, "SASL_PLAINTEXT", 0, ""};
        return authorizer.authorize_one(who, action{op, t, name});
    }
    standard_authorizer authorizer;
};

TEST(standard_authorizer, no_acls_refuses_everyone_but_super_users) {
    authorizer_settings s;
    s.super_users = parse_super_users("User:admin; User:root");
    fixture f(s);
    EXPECT_FALSE(f.may("alice", acl_operation::read, resource_type::topic, "t"));
    EXPECT_TRUE(f.may("admin", acl_operation::read, resource_type::topic, "t"));
    EXPECT_TRUE(f.may("root", acl_operation::alter, resource_type::cluster, cluster_resource_name));
}

TEST(standard_authorizer, allow_everyone_if_no_acl_found_only_for_resources_without_acls) {
    authorizer_settings s;
    s.allow_everyone_if_no_acl_found = true;
    fixture f(s);
    f.authorizer.set_acls({acl(resource_type::topic, "secret", pattern_type::literal, "User:bob", acl_operation::read)});
    EXPECT_TRUE(f.may("alice", acl_operation::write, resource_type::topic, "open"));
    EXPECT_FALSE(f.may("alice", acl_operation::read, resource_type::topic, "secret"));
    EXPECT_TRUE(f.may("bob", acl_operation::read, resource_type::topic, "secret"));
}

TEST(standard_authorizer, literal_prefixed_and_wildcard_patterns) {
    fixture f;
    f.authorizer.set_acls({
        acl(resource_type::topic, "orders", pattern_type::literal, "User:alice", acl_operation::write),
        acl(resource_type::topic, "logs-", pattern_type::prefixed, "User:alice", acl_operation::read),
        acl(resource_type::group, "*", pattern_type::literal, "User:*", acl_operation::read),
    });
    EXPECT_TRUE(f.may("alice", acl_operation::write, resource_type::topic, "orders"));
    EXPECT_FALSE(f.may("alice", acl_operation::write, resource_type::topic, "orders2"));
    EXPECT_TRUE(f.may("alice", acl_operation::read, resource_type::topic, "logs-app"));
    EXPECT_FALSE(f.may("alice", acl_operation::read, resource_type::topic, "logs"));
    EXPECT_FALSE(f.may("bob", acl_operation::read, resource_type::topic, "logs-app"));
    EXPECT_TRUE(f.may("bob", acl_operation::read, resource_type::group, "any-group"));
    EXPECT_FALSE(f.may("bob", acl_operation::read, resource_type::transactional_id, "any-group"));
}

TEST(standard_authorizer, deny_overrides_allow_and_all) {
    fixture f;
    f.authorizer.set_acls({
        acl(resource_type::topic, "*", pattern_type::literal, "User:alice", acl_operation::all),
        acl(resource_type::topic, "pay", pattern_type::prefixed, "User:alice", acl_operation::read,
            acl_permission::deny),
    });
    EXPECT_TRUE(f.may("alice", acl_operation::write, resource_type::topic, "payments"));
    EXPECT_FALSE(f.may("alice", acl_operation::read, resource_type::topic, "payments"));
    EXPECT_TRUE(f.may("alice", acl_operation::read, resource_type::topic, "other"));
    // A DENY of READ does not deny DESCRIBE (implication is for ALLOW only).
    EXPECT_TRUE(f.may("alice", acl_operation::describe, resource_type::topic, "payments"));
}

TEST(standard_authorizer, implied_operations) {
    fixture f;
    f.authorizer.set_acls({
        acl(resource_type::topic, "a", pattern_type::literal, "User:u", acl_operation::read),
        acl(resource_type::topic, "b", pattern_type::literal, "User:u", acl_operation::alter_configs),
        acl(resource_type::topic, "c", pattern_type::literal, "User:u", acl_operation::describe),
    });
    EXPECT_TRUE(f.may("u", acl_operation::describe, resource_type::topic, "a"));
    EXPECT_FALSE(f.may("u", acl_operation::write, resource_type::topic, "a"));
    EXPECT_TRUE(f.may("u", acl_operation::describe_configs, resource_type::topic, "b"));
    EXPECT_FALSE(f.may("u", acl_operation::describe, resource_type::topic, "b"));
    EXPECT_FALSE(f.may("u", acl_operation::read, resource_type::topic, "c"));
}

TEST(standard_authorizer, hosts) {
    fixture f;
    f.authorizer.set_acls({
        acl(resource_type::topic, "t", pattern_type::literal, "User:u", acl_operation::read, acl_permission::allow,
            "10.0.0.1"),
        acl(resource_type::topic, "t", pattern_type::literal, "User:u", acl_operation::write, acl_permission::allow,
            "::1"),
    });
    EXPECT_TRUE(f.may("u", acl_operation::read, resource_type::topic, "t", "10.0.0.1:4000"));
    EXPECT_FALSE(f.may("u", acl_operation::read, resource_type::topic, "t", "10.0.0.2:4000"));
    EXPECT_TRUE(f.may("u", acl_operation::write, resource_type::topic, "t", "[::1]:4000"));
}

TEST(standard_authorizer, batches_answer_in_order) {
    fixture f;
    f.authorizer.set_acls({acl(resource_type::topic, "a", pattern_type::literal, "User:u", acl_operation::read)});
    const principal p{"User", "u"};
    const request_identity who{p, "1.2.3.4:1", "X", 1, ""};
    const std::vector<action> wanted{{acl_operation::read, resource_type::topic, "a"},
                                     {acl_operation::read, resource_type::topic, "b"}};
    EXPECT_EQ(f.authorizer.authorize(who, wanted), (std::vector<bool>{true, false}));
    EXPECT_EQ(f.authorizer.acl_count(), 1u);
}

// KIP-679: an idempotent producer needs WRITE on some topic; Kafka's rules
// for "some": an ALLOW not covered by a DENY of the same literal or a prefix.
TEST(standard_authorizer, by_resource_type) {
    authorizer_settings s;
    s.super_users = parse_super_users("User:admin");
    fixture f(s);
    const principal alice{"User", "alice"};
    const principal admin{"User", "admin"};
    const request_identity as_alice{alice, "10.0.0.1:5000", "X", 22, ""};
    const request_identity as_admin{admin, "10.0.0.1:5000", "X", 22, ""};
    const auto may_write_some = [&](const request_identity& who) {
        return f.authorizer.authorize_by_resource_type(who, acl_operation::write, resource_type::topic);
    };
    EXPECT_FALSE(may_write_some(as_alice));
    EXPECT_TRUE(may_write_some(as_admin));
    // READ does not count, nor does an implied operation.
    f.authorizer.set_acls({acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::read)});
    EXPECT_FALSE(may_write_some(as_alice));
    f.authorizer.set_acls({acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::write)});
    EXPECT_TRUE(may_write_some(as_alice));
    // The same literal denied, or a prefix of it denied: nothing left.
    f.authorizer.set_acls(
        {acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::write),
         acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::write, acl_permission::deny)});
    EXPECT_FALSE(may_write_some(as_alice));
    f.authorizer.set_acls(
        {acl(resource_type::topic, "team-a", pattern_type::prefixed, "User:*", acl_operation::all),
         acl(resource_type::topic, "team", pattern_type::prefixed, "User:alice", acl_operation::write,
             acl_permission::deny)});
    EXPECT_FALSE(may_write_some(as_alice));
    // A DENY on a longer prefix leaves the shorter ALLOW some topics.
    f.authorizer.set_acls(
        {acl(resource_type::topic, "team", pattern_type::prefixed, "User:*", acl_operation::write),
         acl(resource_type::topic, "team-b", pattern_type::prefixed, "User:alice", acl_operation::write,
             acl_permission::deny)});
    EXPECT_TRUE(may_write_some(as_alice));
    // DENY on every topic decides; another host's ALLOW does not count.
    f.authorizer.set_acls(
        {acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::write),
         acl(resource_type::topic, "*", pattern_type::literal, "User:alice", acl_operation::write,
             acl_permission::deny)});
    EXPECT_FALSE(may_write_some(as_alice));
    f.authorizer.set_acls({acl(resource_type::topic, "t", pattern_type::literal, "User:alice", acl_operation::write,
                               acl_permission::allow, "10.9.9.9")});
    EXPECT_FALSE(may_write_some(as_alice));
}

TEST(acl_filter, matches_like_kafka) {
    const auto lit = acl(resource_type::topic, "foo", pattern_type::literal, "User:a", acl_operation::read);
    const auto pre = acl(resource_type::topic, "fo", pattern_type::prefixed, "User:a", acl_operation::read);
    const auto wild = acl(resource_type::topic, "*", pattern_type::literal, "User:a", acl_operation::read);
    acl_filter any;
    EXPECT_TRUE(any.matches(lit) && any.matches(pre) && any.matches(wild));
    const auto filter = [](resource_type t, std::optional<std::string> name, pattern_type p) {
        acl_filter out;
        out.type = t;
        out.name = std::move(name);
        out.pattern = p;
        return out;
    };
    const auto match = filter(resource_type::topic, "foo", pattern_type::match);
    EXPECT_TRUE(match.matches(lit) && match.matches(pre) && match.matches(wild));
    const auto literal = filter(resource_type::topic, "foo", pattern_type::literal);
    EXPECT_TRUE(literal.matches(lit));
    EXPECT_FALSE(literal.matches(pre) || literal.matches(wild));
    const auto named_any = filter(resource_type::any, "fo", pattern_type::any);
    EXPECT_TRUE(named_any.matches(pre));
    EXPECT_FALSE(named_any.matches(lit));
    acl_filter by_op;
    by_op.principal = "User:a";
    by_op.operation = acl_operation::write;
    EXPECT_FALSE(by_op.matches(lit));
}

TEST(acl, validation_and_names) {
    EXPECT_FALSE(invalid_acl(acl(resource_type::topic, "t", pattern_type::literal, "User:a", acl_operation::read)));
    EXPECT_TRUE(invalid_acl(acl(resource_type::any, "t", pattern_type::literal, "User:a", acl_operation::read)));
    EXPECT_TRUE(invalid_acl(acl(resource_type::topic, "t", pattern_type::match, "User:a", acl_operation::read)));
    EXPECT_TRUE(invalid_acl(acl(resource_type::topic, "t", pattern_type::literal, "alice", acl_operation::read)));
    EXPECT_TRUE(invalid_acl(acl(resource_type::cluster, "c", pattern_type::literal, "User:a", acl_operation::alter)));
    EXPECT_EQ(parse_resource_type("TransactionalId"), resource_type::transactional_id);
    EXPECT_EQ(parse_resource_type("transactional-id"), resource_type::transactional_id);
    EXPECT_EQ(parse_operation("delete"), acl_operation::remove);
    EXPECT_EQ(parse_operation("IdempotentWrite"), acl_operation::idempotent_write);
    EXPECT_EQ(name_of(acl_operation::describe_configs), "DESCRIBE_CONFIGS");
    EXPECT_EQ(host_of("[::1]:9092"), "::1");
    EXPECT_EQ(host_of("127.0.0.1:9092"), "127.0.0.1");
}

TEST(authorized_operations, bits_are_the_allowed_supported_operations) {
    fixture f;
    f.authorizer.set_acls({
        acl(resource_type::topic, "t", pattern_type::literal, "User:u", acl_operation::write),
        acl(resource_type::topic, "t", pattern_type::literal, "User:u", acl_operation::alter_configs),
        acl(resource_type::group, "g", pattern_type::literal, "User:u", acl_operation::all),
        acl(resource_type::cluster, std::string(cluster_resource_name), pattern_type::literal, "User:u",
            acl_operation::idempotent_write),
    });
    const principal p{"User", "u"};
    const request_identity who{p, "10.0.0.1:5000", "SASL_PLAINTEXT", 3, ""};
    const auto bit = [](acl_operation op) { return int32_t{1} << static_cast<int>(op); };
    // WRITE implies DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS.
    EXPECT_EQ(authorized_operations(f.authorizer, who, resource_type::topic, "t"),
              bit(acl_operation::write) | bit(acl_operation::describe) | bit(acl_operation::alter_configs) |
                  bit(acl_operation::describe_configs));
    EXPECT_EQ(authorized_operations(f.authorizer, who, resource_type::topic, "other"), 0);
    // ALL on a group: every operation a group supports, and no others.
    EXPECT_EQ(authorized_operations(f.authorizer, who, resource_type::group, "g"),
              bit(acl_operation::read) | bit(acl_operation::describe) | bit(acl_operation::remove));
    EXPECT_EQ(authorized_operations(f.authorizer, who, resource_type::cluster, cluster_resource_name),
              bit(acl_operation::idempotent_write));
    // No authorizer configured: every supported operation, the values Kafka's
    // clients show: a group READ|DELETE|DESCRIBE = 8+64+256 = 328, a topic 3576.
    const allow_all_authorizer everyone;
    EXPECT_EQ(authorized_operations(everyone, who, resource_type::group, "g"), 328);
    EXPECT_EQ(authorized_operations(everyone, who, resource_type::topic, "t"), 3576);
}

}  // namespace
}  // namespace strata::security
