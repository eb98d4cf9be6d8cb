#include "strata/server/broker_config.h"
#include "strata/server/cluster_security.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "strata/server/config_schema.h"

namespace strata::server {
namespace {

using ::testing::HasSubstr;

environment fake_environment(std::map<std::string, std::string> variables) {
    return [variables = std::move(variables)](const std::string& name) -> std::optional<std::string> {
        if (auto it = variables.find(name); it != variables.end()) return it->second;
        return std::nullopt;
    };
}

// The problems reported for `yaml`, joined; "" if it loads.
std::string problems_of(std::string_view yaml, const environment& env = no_environment()) {
    try {
        load_broker_config(yaml, "test.yaml", env);
        return {};
    } catch (const config_error& e) {
        return e.what();
    }
}

TEST(broker_config, defaults_are_kafkas_where_kafka_has_one) {
    const auto config = default_broker_config();
    EXPECT_EQ(config.node_id, 1);
    EXPECT_EQ(config.process_roles, (std::vector<std::string>{"broker", "controller"}));
    EXPECT_EQ(config.listeners, (std::vector<listener>{{"PLAINTEXT", "localhost", 9092}}));
    EXPECT_TRUE(config.advertised_listeners.empty());
    EXPECT_EQ(config.socket_request_max_bytes, 104857600);
    EXPECT_EQ(config.message_max_bytes, 1048588);
    EXPECT_EQ(config.log_segment_bytes, 1073741824);
    EXPECT_EQ(config.log_retention_hours, 168);
    EXPECT_FALSE(config.log_retention_ms.has_value());
    EXPECT_EQ(config.effective_retention_ms(), 168LL * 3600 * 1000);
    EXPECT_EQ(config.num_partitions, 1);
    EXPECT_TRUE(config.auto_create_topics_enable);
    EXPECT_FALSE(config.unclean_leader_election_enable);
    EXPECT_EQ(config.log_level, "info");
    EXPECT_EQ(config.security_protocol("PLAINTEXT"), "PLAINTEXT");
}

TEST(broker_config, consumer_group_keys_default_to_kafkas) {
    const auto config = default_broker_config();
    EXPECT_EQ(config.offsets_topic_num_partitions, 50);
    EXPECT_EQ(config.offsets_topic_segment_bytes, 104857600);
    EXPECT_EQ(config.offsets_retention_minutes, 10080);
    EXPECT_EQ(config.offsets_retention_check_interval_ms, 600000);
    EXPECT_EQ(config.offset_metadata_max_bytes, 4096);
    EXPECT_EQ(config.group_min_session_timeout_ms, 6000);
    EXPECT_EQ(config.group_max_session_timeout_ms, 1800000);
    EXPECT_EQ(config.group_max_size, INT32_MAX);
    const auto set = load_broker_config("group.min.session.timeout.ms: 1000\noffsets.retention.minutes: 1\n",
                                        "test.yaml", no_environment());
    EXPECT_EQ(set.group_min_session_timeout_ms, 1000);
    EXPECT_EQ(set.offsets_retention_minutes, 1);
}

TEST(broker_config, an_empty_file_is_all_defaults) {
    EXPECT_EQ(problems_of(""), "");
    EXPECT_EQ(problems_of("# nothing but a comment\n"), "");
}

TEST(broker_config, parses_every_kind_of_value) {
    const auto config = load_broker_config(R"(
node.id: 3
process.roles: broker, controller
listeners: PLAINTEXT://:9092,CONTROLLER://[::1]:9093
advertised.listeners: PLAINTEXT://broker3.example.com:19092
controller.quorum.voters: 3@[::1]:9093
log.dirs: [/var/lib/strata/a, /var/lib/strata/b]
log.retention.ms: -1
log.retention.minutes: ~
auto.create.topics.enable: FALSE
listener.security.protocol.map: plaintext:plaintext , controller:plaintext
log.level: debug
socket.request.max.bytes: "1000"
)", "test.yaml", no_environment());
    EXPECT_EQ(config.node_id, 3);
    EXPECT_EQ(config.process_roles, (std::vector<std::string>{"broker", "controller"}));
    EXPECT_EQ(config.listeners,
              (std::vector<listener>{{"PLAINTEXT", "", 9092}, {"CONTROLLER", "::1", 9093}}));
    EXPECT_EQ(config.listeners[1].to_string(), "CONTROLLER://[::1]:9093");
    EXPECT_EQ(fmt::format("{}", config.listeners[0]), "PLAINTEXT://:9092");
    EXPECT_EQ(fmt::format("{}", config.controller_quorum_voters[0]), "3@[::1]:9093");
    EXPECT_EQ(config.advertised_listeners, (std::vector<listener>{{"PLAINTEXT", "broker3.example.com", 19092}}));
    EXPECT_EQ(config.controller_quorum_voters, (std::vector<quorum_voter>{{3, "::1", 9093}}));
    EXPECT_EQ(config.log_dirs, (std::vector<std::string>{"/var/lib/strata/a", "/var/lib/strata/b"}));
    EXPECT_EQ(config.effective_metadata_log_dir(), "/var/lib/strata/a");
    EXPECT_EQ(config.log_retention_ms, -1);
    EXPECT_EQ(config.effective_retention_ms(), -1);
    EXPECT_FALSE(config.log_retention_minutes.has_value());
    EXPECT_FALSE(config.auto_create_topics_enable);
    EXPECT_EQ(config.security_protocol("CONTROLLER"), "PLAINTEXT");
    EXPECT_EQ(config.log_level, "debug");
    EXPECT_EQ(config.socket_request_max_bytes, 1000);
}

TEST(broker_config, environment_overrides_the_file) {
    const auto env = fake_environment({{"STRATA_LOG_DIRS", "/from/env"},
                                       {"STRATA_NUM_PARTITIONS", "12"},
                                       {"STRATA_AUTO_CREATE_TOPICS_ENABLE", "false"},
                                       {"STRATA_SOURCE_DIR", "/not/a/key/and/ignored"}});
    const auto config = load_broker_config("log.dirs: /from/file\nnum.partitions: 3\n", "test.yaml", env);
    EXPECT_EQ(config.log_dirs, (std::vector<std::string>{"/from/env"}));
    EXPECT_EQ(config.num_partitions, 12);
    EXPECT_FALSE(config.auto_create_topics_enable);
}

TEST(broker_config, environment_variable_names) {
    EXPECT_EQ(environment_variable_for("log.dirs"), "STRATA_LOG_DIRS");
    EXPECT_EQ(environment_variable_for("node.id"), "STRATA_NODE_ID");
    EXPECT_EQ(environment_variable_for("max.in.flight.requests.per.connection"),
              "STRATA_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION");
    // No two keys share a variable.
    std::map<std::string, std::string_view> seen;
    for (const auto& key : config_schema()) {
        auto [it, inserted] = seen.emplace(environment_variable_for(key.name), key.name);
        EXPECT_TRUE(inserted) << key.name << " and " << it->second;
    }
}

TEST(broker_config, a_bad_environment_value_names_the_variable_and_key) {
    const auto problems = problems_of("", fake_environment({{"STRATA_NUM_PARTITIONS", "many"}}));
    EXPECT_THAT(problems, HasSubstr("environment STRATA_NUM_PARTITIONS: num.partitions: expected an integer, got 'many'"));
}

TEST(broker_config, an_unknown_key_is_refused_with_a_suggestion) {
    EXPECT_THAT(problems_of("node.id: 1\nlog.dir: /tmp/x\n"),
                HasSubstr("test.yaml:2: log.dir: unknown key (did you mean log.dirs?)"));
    EXPECT_THAT(problems_of("zookeeper.connect: localhost:2181\n"), HasSubstr("zookeeper.connect: unknown key"));
}

TEST(broker_config, a_bad_value_names_the_key_and_the_problem) {
    EXPECT_THAT(problems_of("node.id: abc\n"), HasSubstr("test.yaml:1: node.id: expected an integer, got 'abc'"));
    EXPECT_THAT(problems_of("num.partitions: 0\n"), HasSubstr("num.partitions: must be at least 1, got 0"));
    EXPECT_THAT(problems_of("node.id: 3000000000\n"), HasSubstr("node.id: 3000000000 is out of range"));
    EXPECT_THAT(problems_of("auto.create.topics.enable: yes\n"),
                HasSubstr("auto.create.topics.enable: expected true or false, got 'yes'"));
    EXPECT_THAT(problems_of("log.level: loud\n"), HasSubstr("log.level: must be one of trace, debug"));
    EXPECT_THAT(problems_of("process.roles: broker,zookeeper\n"),
                HasSubstr("process.roles: 'zookeeper' is not one of broker, controller"));
    EXPECT_THAT(problems_of("listeners: localhost:9092\n"), HasSubstr("listeners: expected NAME://host:port"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://localhost:99999\n"),
                HasSubstr("port must be 0 to 65535, got '99999'"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://::1:9092\n"), HasSubstr("must be in brackets"));
    EXPECT_THAT(problems_of("controller.quorum.voters: localhost:9093\n"), HasSubstr("expected id@host:port"));
    EXPECT_THAT(problems_of("log.dirs: a,,b\n"), HasSubstr("log.dirs: a list item is empty"));
    EXPECT_THAT(problems_of("log:\n  dirs: /tmp\n"), HasSubstr("log: unknown key"));
    EXPECT_THAT(problems_of("log.dirs:\n  a: b\n"), HasSubstr("log.dirs: expected a value or a list"));
}

TEST(broker_config, reports_every_problem_at_once) {
    try {
        load_broker_config("node.id: x\nnum.partitions: -1\nbogus.key: 1\n", "test.yaml", no_environment());
        FAIL();
    } catch (const config_error& e) {
        EXPECT_EQ(e.problems().size(), 3u);
    }
}

TEST(broker_config, refuses_a_key_given_twice_and_broken_yaml) {
    EXPECT_THAT(problems_of("node.id: 1\nnode.id: 2\n"), HasSubstr("test.yaml:2: node.id: given more than once"));
    EXPECT_THAT(problems_of("node.id: [1\n"), HasSubstr("not valid YAML"));
    EXPECT_THAT(problems_of("- node.id\n"), HasSubstr("expected a mapping"));
}

TEST(broker_config, checks_the_rules_that_span_keys) {
    EXPECT_THAT(problems_of("listeners: SASL_SSL://localhost:9093\ninter.broker.listener.name: SASL_SSL\n"),
                HasSubstr("sasl.mechanism.inter.broker.protocol: the inter-broker listener SASL_SSL uses SASL_SSL"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://localhost:9092,SSL://localhost:9093\n"),
                HasSubstr("an SSL or SASL_SSL listener needs the broker's key and certificate"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://localhost:9092,SASL_PLAINTEXT://localhost:9093\n"
                            "listener.name.sasl_plaintext.plain.sasl.jaas.config: 'PlainLoginModule required user_a=\"b\"'\n"),
                HasSubstr("missing the closing ';'"));
    EXPECT_THAT(problems_of("sasl.plain.users: [nopassword]\n"), HasSubstr("is not name:password"));
    EXPECT_THAT(problems_of("listener.security.protocol.map: PLAINTEXT:KERBEROS\n"),
                HasSubstr("not a security protocol"));
    EXPECT_THAT(problems_of("listeners: CLIENT://localhost:9093\n"),
                HasSubstr("no security protocol for listener CLIENT"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://a:1,PLAINTEXT://b:2\n"),
                HasSubstr("the name PLAINTEXT is used twice"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://a:1,CONTROLLER://b:1\n"), HasSubstr("port 1 is used twice"));
    EXPECT_THAT(problems_of("advertised.listeners: OTHER://host:1\n"),
                HasSubstr("advertised.listeners: OTHER is not one of the listeners"));
    EXPECT_THAT(problems_of("listeners: PLAINTEXT://0.0.0.0:9092\n"), HasSubstr("advertised.listeners: must be set"));
    EXPECT_EQ(problems_of("listeners: PLAINTEXT://0.0.0.0:9092\nadvertised.listeners: PLAINTEXT://h:9092\n"), "");
    EXPECT_THAT(problems_of("process.roles: broker\n"),
                HasSubstr("a node without the controller role needs the quorum's voters"));
    EXPECT_THAT(problems_of("node.id: 4\nlisteners: PLAINTEXT://:9092,CONTROLLER://:9093\n"
                            "controller.quorum.voters: 1@a:9093,2@b:9093\n"),
                HasSubstr("has the controller role but is not a voter"));
    EXPECT_THAT(problems_of("node.id: 1\ncontroller.quorum.voters: 1@a:9093,2@b:9093\n"),
                HasSubstr("controller.listener.names: a controller in a quorum of several voters"));
    EXPECT_THAT(problems_of("listeners: CONTROLLER://:9093\n"),
                HasSubstr("inter.broker.listener.name: PLAINTEXT is not one of the listeners"));
    EXPECT_THAT(problems_of("controller.quorum.voters: 1@a:9,1@b:9\nlisteners: PLAINTEXT://:1,CONTROLLER://:9\n"),
                HasSubstr("id 1 is given twice"));
}

// Kafka's listener- and mechanism-prefixed SASL keys (KIP-368, KIP-768).
TEST(broker_config, listener_and_mechanism_prefixed_sasl_keys) {
    constexpr std::string_view base =
        "listeners: PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9093\n"
        "sasl.enabled.mechanisms: PLAIN,OAUTHBEARER\n";
    const auto config = load_broker_config(
        std::string(base) + "connections.max.reauth.ms: 60000\n"
                            "listener.name.sasl_plaintext.oauthbearer.connections.max.reauth.ms: 5000\n"
                            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config: 'org.apache.kafka.common.security."
                            "oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope=\"k\";'\n",
        "test.yaml", no_environment());
    EXPECT_EQ(config.max_reauth_ms("SASL_PLAINTEXT", "OAUTHBEARER"), 5000);
    EXPECT_EQ(config.max_reauth_ms("SASL_PLAINTEXT", "PLAIN"), 60000);
    // The listener-wide form sits between the mechanism's and the broker's.
    const auto listener_wide = load_broker_config(
        std::string(base) + "connections.max.reauth.ms: 60000\n"
                            "listener.name.sasl_plaintext.connections.max.reauth.ms: 7000\n"
                            "listener.name.sasl_plaintext.plain.connections.max.reauth.ms: 3000\n",
        "test.yaml", no_environment());
    EXPECT_EQ(listener_wide.max_reauth_ms("SASL_PLAINTEXT", "PLAIN"), 3000);
    EXPECT_EQ(listener_wide.max_reauth_ms("SASL_PLAINTEXT", "OAUTHBEARER"), 7000);
    EXPECT_EQ(listener_wide.max_reauth_ms("PLAINTEXT", "PLAIN"), 60000);
    EXPECT_THAT(problems_of(std::string(base) + "listener.name.sasl_plaintext.connections.max.reauth.ms: x\n"),
                HasSubstr("expected an integer (ms), got 'x'"));
    std::string error;
    EXPECT_TRUE(oauthbearer_validator_for(config, "SASL_PLAINTEXT", error)) << error;
    EXPECT_EQ(config.explicit_values.at("listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config"), "[hidden]");
    EXPECT_THAT(problems_of(std::string(base) + "listener.name.sasl_plaintext.plain.connections.max.reauth.ms: soon\n"),
                HasSubstr("expected an integer (ms), got 'soon'"));
    EXPECT_THAT(problems_of(std::string(base) + "listener.name.other.plain.connections.max.reauth.ms: 1\n"),
                HasSubstr("OTHER is not one of the listeners"));
    EXPECT_THAT(problems_of(std::string(base) + "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback."
                                                "handler.class: com.example.Mine\n"),
                HasSubstr("com.example.Mine is not supported"));
    EXPECT_THAT(problems_of(std::string(base) + "listener.name.sasl_plaintext.oauthbearer.sasl.server.callback."
                                                "handler.class: org.apache.kafka.common.security.oauthbearer."
                                                "OAuthBearerValidatorCallbackHandler\n"),
                HasSubstr("needs sasl.oauthbearer.jwks.endpoint.url"));
    EXPECT_THAT(problems_of(std::string(base) + "sasl.oauthbearer.jwks.endpoint.url: https://idp/jwks\n"),
                HasSubstr("only a file: URL"));
    EXPECT_THAT(problems_of(std::string(base) + "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config: "
                                                "'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                                                "required unsecuredValidatorAllowableClockSkewMs=\"-5\";'\n"),
                HasSubstr("must not be negative"));
}

TEST(broker_config, advertises_non_controller_listeners_by_default) {
    const auto config = load_broker_config(
        "listeners: PLAINTEXT://localhost:9092,CONTROLLER://localhost:9192\n", "test.yaml", no_environment());
    EXPECT_EQ(config.effective_advertised_listeners(),
              (std::vector<listener>{{"PLAINTEXT", "localhost", 9092}}));
    const auto every_interface = load_broker_config("listeners: PLAINTEXT://:9092\n", "test.yaml", no_environment());
    const auto advertised = every_interface.effective_advertised_listeners();
    ASSERT_EQ(advertised.size(), 1u);
    EXPECT_FALSE(advertised[0].host.empty());  // the machine's name
}

TEST(broker_config, retention_precedence_is_ms_then_minutes_then_hours) {
    auto config = default_broker_config();
    config.log_retention_hours = 2;
    EXPECT_EQ(config.effective_retention_ms(), 2 * 3'600'000);
    config.log_retention_minutes = 3;
    EXPECT_EQ(config.effective_retention_ms(), 3 * 60'000);
    config.log_retention_ms = 5;
    EXPECT_EQ(config.effective_retention_ms(), 5);
    config.log_roll_hours = 1;
    EXPECT_EQ(config.effective_roll_ms(), 3'600'000);
}

TEST(broker_config, the_embedded_default_is_config_single_node_yaml) {
    const auto file = load_broker_config_file(STRATA_SOURCE_DIR "/config/single-node.yaml", no_environment());
    const auto embedded = load_embedded_default_config(no_environment());
    EXPECT_EQ(embedded.listeners, (std::vector<listener>{{"PLAINTEXT", "localhost", 9092}}));
    EXPECT_EQ(embedded.log_dirs, (std::vector<std::string>{"./data"}));
    EXPECT_EQ(embedded.offsets_topic_replication_factor, 1);
    EXPECT_EQ(embedded.listeners, file.listeners);
    EXPECT_EQ(embedded.log_dirs, file.log_dirs);
    EXPECT_EQ(embedded.group_initial_rebalance_delay_ms, file.group_initial_rebalance_delay_ms);
}

TEST(broker_config, the_cluster_examples_load) {
    for (int node = 1; node <= 3; ++node) {
        const auto path = std::string(STRATA_SOURCE_DIR "/config/cluster-node-") + std::to_string(node) + ".yaml";
        const auto config = load_broker_config_file(path, no_environment());
        EXPECT_EQ(config.node_id, node);
        EXPECT_EQ(config.controller_quorum_voters.size(), 3u);
        EXPECT_EQ(config.effective_advertised_listeners(),
                  (std::vector<listener>{{"PLAINTEXT", "localhost", static_cast<uint16_t>(9091 + node)}}));
    }
}

TEST(broker_config, the_secure_cluster_examples_load) {
    for (int node = 1; node <= 3; ++node) {
        const auto path =
            std::string(STRATA_SOURCE_DIR "/config/secure-cluster-node-") + std::to_string(node) + ".yaml";
        const auto config = load_broker_config_file(path, no_environment());
        EXPECT_EQ(config.node_id, node);
        EXPECT_EQ(config.inter_broker_listener_name, "INTERNAL");
        EXPECT_EQ(config.security_protocol("INTERNAL"), "SSL");
        EXPECT_EQ(config.security_protocol("CONTROLLER"), "SSL");
        EXPECT_EQ(config.ssl_client_auth, "required");
        EXPECT_EQ(config.ssl_endpoint_identification_algorithm, "https");
    }
}

TEST(broker_config, the_sasl_cluster_examples_load) {
    for (int node = 1; node <= 3; ++node) {
        const auto path = std::string(STRATA_SOURCE_DIR "/config/sasl-cluster-node-") + std::to_string(node) + ".yaml";
        const auto config = load_broker_config_file(path, no_environment());
        EXPECT_EQ(config.node_id, node);
        const auto internal = cluster_client_security(config, "INTERNAL");
        EXPECT_EQ(internal.sasl_mechanism, "SCRAM-SHA-512");
        EXPECT_EQ(internal.sasl_username, "broker");
        EXPECT_FALSE(internal.tls);
        const auto controller = cluster_client_security(config, "CONTROLLER");
        EXPECT_EQ(controller.sasl_mechanism, "PLAIN");
        EXPECT_EQ(controller.sasl_username, "broker");
        // The controllers accept the login the others present.
        EXPECT_EQ(config.plain_users("CONTROLLER").at("broker"), controller.sasl_password);
    }
}

TEST(broker_config, the_cluster_listeners_take_any_protocol) {
    const std::string base =
        "node.id: 1\nprocess.roles: broker,controller\n"
        "listeners: PLAINTEXT://localhost:9092,INTERNAL://localhost:9292,CONTROLLER://localhost:9192\n"
        "advertised.listeners: PLAINTEXT://localhost:9092,INTERNAL://localhost:9292\n"
        "inter.broker.listener.name: INTERNAL\ncontroller.quorum.voters: 1@localhost:9192\n"
        "ssl.keystore.location: /etc/strata/broker.pem\n";
    EXPECT_EQ(problems_of(base + "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:SSL,CONTROLLER:SSL\n"),
              "");
    const std::string sasl = base + "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL\n";
    // Kafka's default mechanism is GSSAPI, which Strata does not have.
    EXPECT_THAT(problems_of(sasl), HasSubstr("sasl.mechanism.inter.broker.protocol: the inter-broker listener "
                                             "INTERNAL uses SASL_SSL"));
    EXPECT_THAT(problems_of(sasl), HasSubstr("GSSAPI is Kafka's default"));
    EXPECT_THAT(problems_of(sasl + "sasl.mechanism.inter.broker.protocol: OAUTHBEARER\n"),
                HasSubstr("OAUTHBEARER is not one Strata has"));
    // A SASL inter-broker listener without the node's own credentials.
    EXPECT_THAT(problems_of(sasl + "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n"),
                HasSubstr("listener.name.internal.scram-sha-512.sasl.jaas.config: the node's own credentials for "
                          "the inter-broker listener INTERNAL"));
    EXPECT_THAT(
        problems_of(sasl + "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n"
                           "listener.name.internal.scram-sha-512.sasl.jaas.config: "
                           "'org.apache.kafka.common.security.scram.ScramLoginModule required username=\"b\";'\n"),
        HasSubstr("it has no username and password options"));
    EXPECT_THAT(problems_of(sasl + "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n"
                                   "listener.name.internal.scram-sha-512.sasl.jaas.config: "
                                   "'org.apache.kafka.common.security.plain.PlainLoginModule required username=\"b\" "
                                   "password=\"c\";'\n"),
                HasSubstr("must be org.apache.kafka.common.security.scram.ScramLoginModule"));
    const std::string scram = sasl +
                              "sasl.mechanism.inter.broker.protocol: SCRAM-SHA-512\n"
                              "listener.name.INTERNAL.SCRAM-SHA-512.sasl.jaas.config: "
                              "'org.apache.kafka.common.security.scram.ScramLoginModule required "
                              "username=\"broker\" password=\"broker-secret\";'\n";
    EXPECT_EQ(problems_of(scram), "");
    {
        const auto config = load_broker_config(scram, "test.yaml", no_environment());
        std::string problem;
        const auto login = cluster_sasl(config, "INTERNAL", problem);
        ASSERT_TRUE(login) << problem;
        EXPECT_EQ(login->mechanism, "SCRAM-SHA-512");
        EXPECT_EQ(login->username, "broker");
        EXPECT_EQ(login->password, "broker-secret");
        EXPECT_FALSE(cluster_sasl(config, "CONTROLLER", problem));  // PLAINTEXT
        EXPECT_EQ(problem, "");
    }
    EXPECT_THAT(problems_of(scram + "sasl.enabled.mechanisms: PLAIN\n"),
                HasSubstr("sasl.enabled.mechanisms: does not include SCRAM-SHA-512, the mechanism the nodes use on "
                          "the inter-broker listener INTERNAL"));
    // The controller listener: PLAIN between controllers, never SCRAM.
    const std::string controller =
        base + "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT\n";
    EXPECT_THAT(problems_of(controller), HasSubstr("sasl.mechanism.controller.protocol: the controller listener "
                                                   "CONTROLLER uses SASL_PLAINTEXT"));
    EXPECT_THAT(problems_of(controller + "sasl.mechanism.controller.protocol: SCRAM-SHA-256\n"
                                         "listener.name.controller.scram-sha-256.sasl.jaas.config: "
                                         "'ScramLoginModule required username=\"a\" password=\"b\";'\n"),
                HasSubstr("SCRAM-SHA-256 cannot secure the connections between controllers"));
    const std::string plain = controller +
                              "sasl.mechanism.controller.protocol: PLAIN\n"
                              "listener.name.controller.plain.sasl.jaas.config: "
                              "'PlainLoginModule required username=\"ctl\" password=\"pw\" "
                              "user_ctl=\"pw\";'\n";
    EXPECT_EQ(problems_of(plain), "");
    {
        const auto config = load_broker_config(plain, "test.yaml", no_environment());
        const auto security = cluster_client_security(config, "CONTROLLER");
        EXPECT_EQ(security.sasl_mechanism, "PLAIN");
        EXPECT_EQ(security.sasl_username, "ctl");
        EXPECT_EQ(security.sasl_password, "pw");
        EXPECT_EQ(config.plain_users("CONTROLLER").at("ctl"), "pw");
    }
    // A broker-only node names the controllers' listener without serving it.
    EXPECT_EQ(problems_of("node.id: 4\nprocess.roles: broker\nlisteners: PLAINTEXT://localhost:9092\n"
                          "controller.quorum.voters: 1@localhost:9192\n"
                          "listener.security.protocol.map: PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT\n"
                          "sasl.mechanism.controller.protocol: SCRAM-SHA-512\n"
                          "listener.name.controller.scram-sha-512.sasl.jaas.config: "
                          "'ScramLoginModule required username=\"b4\" password=\"pw\";'\n"),
              "");
}

TEST(broker_config, the_broker_only_example_loads) {
    const auto config =
        load_broker_config_file(STRATA_SOURCE_DIR "/config/cluster-broker-4.yaml", no_environment());
    EXPECT_EQ(config.node_id, 4);
    EXPECT_TRUE(config.has_role("broker"));
    EXPECT_FALSE(config.has_role("controller"));
    EXPECT_EQ(config.controller_quorum_voters.size(), 3u);
    EXPECT_EQ(config.broker_session_timeout_ms, 9000);
    EXPECT_EQ(config.broker_heartbeat_interval_ms, 2000);
}

TEST(broker_config, a_missing_file_is_a_config_error) {
    EXPECT_THROW(load_broker_config_file("/nonexistent/strata.yaml", no_environment()), config_error);
}

TEST(broker_config, sets_up_the_network_server) {
    const auto config = load_broker_config(
        "listeners: PLAINTEXT://localhost:9092,CONTROLLER://:9192\nnum.network.threads: 3\n"
        "socket.request.max.bytes: 5000\nmax.in.flight.requests.per.connection: 7\n",
        "test.yaml", no_environment());
    const auto options = to_server_options(config);
    ASSERT_EQ(options.listeners.size(), 2u);
    EXPECT_EQ(options.listeners[0].name, "PLAINTEXT");
    EXPECT_EQ(options.listeners[0].host, "localhost");
    EXPECT_EQ(options.listeners[0].port, 9092);
    EXPECT_EQ(options.listeners[1].name, "CONTROLLER");
    EXPECT_EQ(options.listeners[1].host, "");
    EXPECT_EQ(options.network_threads, 3u);
    EXPECT_EQ(options.max_request_bytes, 5000);
    EXPECT_EQ(options.max_in_flight_requests, 7u);
    EXPECT_EQ(options.socket_send_buffer_bytes, -1);
}

TEST(broker_config, max_connections_per_ip_overrides_as_kafka) {
    EXPECT_THAT(problems_of("max.connections.per.ip: 0\n"),
                HasSubstr("max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides"));
    EXPECT_THAT(problems_of("max.connections.per.ip.overrides: '127.0.0.1'\n"),
                HasSubstr("max.connections.per.ip.overrides: '127.0.0.1' is not host:count"));
    EXPECT_THAT(problems_of("max.connections.per.ip.overrides: 'a:1,b:-1'\n"), HasSubstr("'b:-1' is not host:count"));
    EXPECT_THAT(problems_of("max.connections.per.ip.overrides: '::1:5'\n"), HasSubstr("'::1:5' is not host:count"));
    EXPECT_THAT(problems_of("max.connections.per.ip.overrides: 'a:1,'\n"), HasSubstr("'' is not host:count"));
    const auto config = load_broker_config(
        "max.connections.per.ip: 0\nmax.connections.per.ip.overrides: '127.0.0.1:5, [::1]:6,10.1.2.3:0'\n",
        "test.yaml", no_environment());
    const auto options = to_server_options(config);
    EXPECT_EQ(options.max_connections_per_ip, 0);
    const std::map<std::string, int32_t, std::less<>> expected{{"127.0.0.1", 5}, {"::1", 6}, {"10.1.2.3", 0}};
    EXPECT_EQ(options.max_connections_per_ip_overrides, expected);
    // A host name: each of its addresses.
    const auto named = to_server_options(load_broker_config("max.connections.per.ip.overrides: localhost:7\n",
                                                            "test.yaml", no_environment()));
    EXPECT_EQ(named.max_connections_per_ip_overrides.at("127.0.0.1"), 7);
}

// KIP-612: the broker-wide rate, its per-listener form, the controller
// listeners exempt from the broker-wide one.
TEST(broker_config, connection_creation_rates_as_kafka) {
    EXPECT_EQ(connection_rate_config_from(default_broker_config()).broker_rate, INT32_MAX);
    const auto config = load_broker_config(
        "max.connection.creation.rate: 50\nlistener.name.plaintext.max.connection.creation.rate: 7\n"
        "quota.window.num: 3\n",
        "test.yaml", no_environment());
    const auto rates = connection_rate_config_from(config);
    EXPECT_EQ(rates.broker_rate, 50);
    EXPECT_EQ(rates.listener_rates.at("PLAINTEXT"), 7);
    EXPECT_EQ(rates.window.samples, 3);
    EXPECT_EQ(rates.exempt_listeners, config.controller_listener_names);
    EXPECT_THAT(problems_of("listener.name.plaintext.max.connection.creation.rate: -1\n"),
                HasSubstr("listener.name.plaintext.max.connection.creation.rate: must be at least 0"));
    EXPECT_THAT(problems_of("listener.name.nowhere.max.connection.creation.rate: 5\n"),
                HasSubstr("listener.name.nowhere.max.connection.creation.rate: NOWHERE is not one of the listeners"));
}

TEST(broker_config, metadata_snapshot_keys_default_to_kafkas) {
    const auto defaults = default_broker_config();
    EXPECT_EQ(defaults.metadata_log_max_record_bytes_between_snapshots, 20971520);
    EXPECT_EQ(defaults.metadata_log_max_snapshot_interval_ms, 3600000);
    const auto env = fake_environment({{"STRATA_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS", "4096"}});
    const auto config = load_broker_config("metadata.log.max.snapshot.interval.ms: 0\n", "test.yaml", env);
    EXPECT_EQ(config.metadata_log_max_record_bytes_between_snapshots, 4096);
    EXPECT_EQ(config.metadata_log_max_snapshot_interval_ms, 0);
    EXPECT_THAT(problems_of("metadata.log.max.record.bytes.between.snapshots: 0\n"),
                HasSubstr("metadata.log.max.record.bytes.between.snapshots"));
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

TEST(broker_config, plain_users_come_from_the_list_and_the_listener_jaas) {
    const auto config = load_broker_config(
        "listeners: PLAINTEXT://localhost:9092,SASL_PLAINTEXT://localhost:9093\n"
        "sasl.plain.users: [alice:a:lice, bob:bob-pw]\n"
        "listener.name.sasl_plaintext.plain.sasl.jaas.config: >-\n"
        "  org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        "  username=\"admin\" password=\"admin-pw\" user_admin=\"admin-pw\" user_bob=\"jaas-bob\";\n",
        "test.yaml", no_environment());
    const auto users = config.plain_users("SASL_PLAINTEXT");
    EXPECT_EQ(users.size(), 3u);
    EXPECT_EQ(users.at("alice"), "a:lice");  // split at the first colon
    EXPECT_EQ(users.at("bob"), "jaas-bob");  // the listener's JAAS wins
    EXPECT_EQ(users.at("admin"), "admin-pw");
    EXPECT_EQ(config.plain_users("PLAINTEXT").size(), 2u);
    const auto options = to_server_options(config);
    ASSERT_EQ(options.listeners.size(), 2u);
    EXPECT_FALSE(options.listeners[0].sasl);
    EXPECT_TRUE(options.listeners[1].sasl);
    EXPECT_EQ(options.max_unauthenticated_request_bytes, 524288);
}

}  // namespace
}  // namespace strata::server
