// listener.name.<l>.ssl.* overrides and ssl.principal.mapping.rules as the
// configuration loads them (the TLS behaviour itself: test_tls_settings.py).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "strata/security/tls.h"
#include "strata/server/broker_config.h"

namespace strata::server {
namespace {

using ::testing::HasSubstr;

const std::string base =
    "listeners: PLAINTEXT://localhost:9092,SSL://localhost:9093,PARTNER://localhost:9094,"
    "SASL_SSL://localhost:9095\n"
    "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,SSL:SSL,PARTNER:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT\n"
    "ssl.keystore.location: /etc/strata/broker.pem\n"
    "ssl.truststore.location: /etc/strata/ca.pem\n"
    "ssl.client.auth: required\n";

std::string problems_of(const std::string& yaml) {
    try {
        load_broker_config(yaml, "test.yaml", no_environment());
        return {};
    } catch (const config_error& e) {
        return e.what();
    }
}

TEST(listener_ssl_config, a_prefixed_key_overrides_for_its_listener_only) {
    const auto config = load_broker_config(base +
                                               "listener.name.partner.ssl.keystore.location: /etc/strata/partner.pem\n"
                                               "listener.name.partner.ssl.client.auth: none\n"
                                               "listener.name.PARTNER.ssl.principal.mapping.rules: RULE:^CN=(.*)$/$1/\n",
                                           "test.yaml", no_environment());
    const auto partner = listener_tls_settings(config, "PARTNER");
    EXPECT_EQ(partner.keystore_location, "/etc/strata/partner.pem");
    EXPECT_EQ(partner.truststore_location, "/etc/strata/ca.pem");  // not overridden: the top-level key
    EXPECT_EQ(partner.client_auth, "none");
    EXPECT_EQ(config.for_listener("PARTNER").ssl_principal_mapping_rules, "RULE:^CN=(.*)$/$1/");
    const auto ssl = listener_tls_settings(config, "SSL");
    EXPECT_EQ(ssl.keystore_location, "/etc/strata/broker.pem");
    EXPECT_EQ(ssl.client_auth, "required");
    EXPECT_EQ(config.for_listener("SSL").ssl_principal_mapping_rules, "DEFAULT");
}

TEST(listener_ssl_config, sasl_ssl_asks_for_certificates_only_when_told_so_with_its_prefix) {
    // KIP-684: the top-level ssl.client.auth is for SSL listeners.
    auto config = load_broker_config(base, "test.yaml", no_environment());
    EXPECT_EQ(listener_tls_settings(config, "SASL_SSL").client_auth, "none");
    config = load_broker_config(base + "listener.name.sasl_ssl.ssl.client.auth: requested\n", "test.yaml",
                                no_environment());
    EXPECT_EQ(listener_tls_settings(config, "SASL_SSL").client_auth, "requested");
}

TEST(listener_ssl_config, bad_overrides_and_rules_are_start_up_errors) {
    EXPECT_THAT(problems_of(base + "listener.name.partner.ssl.client.auth: sometimes\n"),
                HasSubstr("test.yaml:6: listener.name.partner.ssl.client.auth: must be one of none, requested, required"));
    EXPECT_THAT(problems_of(base + "listener.name.partner.ssl.keystore.place: x\n"),
                HasSubstr("listener.name.partner.ssl.keystore.place: unknown key"));
    EXPECT_THAT(problems_of(base + "listener.name.nowhere.ssl.client.auth: none\n"),
                HasSubstr("listener.name.nowhere.ssl.client.auth: NOWHERE is not one of the listeners"));
    EXPECT_THAT(problems_of(base + "ssl.principal.mapping.rules: RULE:^CN=(.*$/$1/\n"),
                HasSubstr("ssl.principal.mapping.rules: invalid rule `RULE:^CN=(.*$/$1/`: the pattern"));
    EXPECT_THAT(problems_of(base + "listener.name.partner.ssl.principal.mapping.rules: DEFAULT,RULE:x\n"),
                HasSubstr("listener.name.partner.ssl.principal.mapping.rules: invalid rule `RULE:x`"));
    // A listener's own key store: needed when there is no top-level one.
    std::string without = base;
    without.replace(without.find("ssl.keystore.location"), std::string("ssl.keystore.location: /etc/strata/broker.pem\n").size(), "");
    EXPECT_THAT(problems_of(without + "listener.name.partner.ssl.keystore.location: /etc/strata/partner.pem\n"),
                HasSubstr("ssl.keystore.location: an SSL or SASL_SSL listener needs"));
}

TEST(listener_ssl_config, dn_and_san_change_permissions_are_read) {
    const auto config = load_broker_config(base + "listener.name.ssl.ssl.allow.dn.changes: true\n", "test.yaml",
                                           no_environment());
    EXPECT_TRUE(config.for_listener("SSL").ssl_allow_dn_changes);
    EXPECT_FALSE(config.for_listener("PARTNER").ssl_allow_dn_changes);
    EXPECT_FALSE(config.ssl_allow_san_changes);
}

}  // namespace
}  // namespace strata::server
