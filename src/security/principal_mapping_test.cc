#include "strata/security/principal_mapping.h"

#include <gtest/gtest.h>

namespace strata::security {
namespace {

std::string map(std::string_view rules, const std::string& subject) {
    return ssl_principal_mapper(rules).map(subject).value_or("<no rule>");
}

std::string error(std::string_view rules) {
    try {
        ssl_principal_mapper m(rules);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

// The cases of Kafka's SslPrincipalMapperTest, same inputs and answers.
TEST(ssl_principal_mapper, kafka_examples) {
    EXPECT_EQ(map("DEFAULT", "CN=Duke,OU=JavaSoft,O=Sun Microsystems"), "CN=Duke,OU=JavaSoft,O=Sun Microsystems");
    const std::string rules =
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,"
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,"
        "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U,"
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U,"
        "DEFAULT";
    EXPECT_EQ(map(rules, "CN=Duke,OU=ServiceUsers,O=Org,C=US"), "Duke");
    EXPECT_EQ(map(rules, "CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US"), "duke@sme");
    EXPECT_EQ(map(rules, "cn=duke,ou=javasoft,dc=example,dc=com"), "DUKE@JAVASOFT");
    EXPECT_EQ(map(rules, "cN=duke,OU=JavaSoft,O=Sun Microsystems"), "DUKE");
    EXPECT_EQ(map(rules, "OU=JavaSoft,O=Sun Microsystems,C=US"), "OU=JavaSoft,O=Sun Microsystems,C=US");
}

TEST(ssl_principal_mapper, first_applying_rule_wins_and_none_applying_is_a_refusal) {
    const std::string rules = "RULE:^CN=([^,]+),O=Strata$/$1/, RULE:^CN=([^,]+)$/svc-$1/L";
    EXPECT_EQ(map(rules, "CN=alice,O=Strata"), "alice");
    EXPECT_EQ(map(rules, "CN=Broker"), "svc-broker");
    EXPECT_FALSE(ssl_principal_mapper(rules).map("CN=bob,O=Elsewhere"));
    EXPECT_TRUE(ssl_principal_mapper().is_default());
    EXPECT_FALSE(ssl_principal_mapper(rules).is_default());
}

TEST(ssl_principal_mapper, whitespace_commas_and_escaped_slashes) {
    // Spaces around rules and commas, empty entries ignored, `\/` inside both fields.
    EXPECT_EQ(map("  RULE:^CN=(.*)\\/x$/a\\/$1/ ,, DEFAULT  ", "CN=b/x"), "a/b");
    EXPECT_EQ(map("RULE:^CN=(.*)$/\\$$1/", "CN=q"), "$q");
}

TEST(ssl_principal_mapper, back_references_beyond_the_groups_are_literal) {
    // Kafka's escapeLiteralBackReferences: $4 with three groups is "$4";
    // $12 with one group is group 1 then "2".
    EXPECT_EQ(map("RULE:^CN=(.),O=(.),C=(.)$/$1$4/", "CN=a,O=b,C=c"), "a$4");
    EXPECT_EQ(map("RULE:^CN=(.*)$/$12/", "CN=z"), "z2");
    EXPECT_EQ(map("RULE:^CN=(.*)$/$0!/", "CN=z"), "CN=z!");
}

TEST(ssl_principal_mapper, replace_all_as_java) {
    // The pattern matches the whole subject, then every match is replaced:
    // one that can match nothing also matches at the end, as Java's replaceAll.
    EXPECT_EQ(map("RULE:.*/x/", "abc"), "xx");
}

TEST(ssl_principal_mapper, bad_rules_are_refused_with_the_reason) {
    EXPECT_NE(error("").find("no rules"), std::string::npos);
    EXPECT_NE(error("DEFAULTS").find("unexpected `S`"), std::string::npos);
    EXPECT_NE(error("RULE:^CN=(.*)$/$1/X").find("unexpected `X`"), std::string::npos);
    EXPECT_NE(error("RULE:^CN=(.*)$/$1").find("expected RULE:pattern/replacement/"), std::string::npos);
    EXPECT_NE(error("RULE:^CN=(.*$/$1/").find("not a valid regular expression"), std::string::npos);
    EXPECT_NE(error("RULE:^CN=.*$/$1/").find("no groups"), std::string::npos);
    EXPECT_NE(error("RULE:^CN=(.*)$/${name}/").find("group number"), std::string::npos);
    EXPECT_NE(error("RULE:^CN=(.*)$/x\\/").find("expected RULE"), std::string::npos);
    EXPECT_NE(error("USER:alice").find("invalid rule `USER:alice`"), std::string::npos);
    EXPECT_NE(error("DEFAULT, bogus").find("invalid rule `bogus`"), std::string::npos);
}

}  // namespace
}  // namespace strata::security
