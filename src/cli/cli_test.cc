// Unit tests of the CLI's pure pieces: the range assignor, key partitioning,
// time parsing, broker lists and table rendering.
#include <gtest/gtest.h>

#include "client.h"
#include "common.h"
#include "group_member.h"
#include "partitioner.h"

namespace strata::cli {
namespace {

TEST(RangeAssign, SplitsLikeKafkasRangeAssignor) {
    // Kafka's RangeAssignor javadoc: two consumers, two topics of three partitions.
    auto result = range_assign({{"C0", {"t0", "t1"}}, {"C1", {"t0", "t1"}}}, {{"t0", 3}, {"t1", 3}});
    EXPECT_EQ(result["C0"]["t0"], (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(result["C0"]["t1"], (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(result["C1"]["t0"], (std::vector<int32_t>{2}));
    EXPECT_EQ(result["C1"]["t1"], (std::vector<int32_t>{2}));
}

TEST(RangeAssign, OnlySubscribersGetATopicAndExtraMembersGetNothing) {
    auto result = range_assign({{"a", {"t"}}, {"b", {"t", "u"}}, {"c", {"t"}}, {"d", {"t"}}}, {{"t", 2}, {"u", 5}});
    EXPECT_EQ(result["a"]["t"], (std::vector<int32_t>{0}));
    EXPECT_EQ(result["b"]["t"], (std::vector<int32_t>{1}));
    EXPECT_EQ(result["b"]["u"], (std::vector<int32_t>{0, 1, 2, 3, 4}));
    EXPECT_FALSE(result["c"].count("u"));
    EXPECT_TRUE(result["c"]["t"].empty());
    EXPECT_TRUE(result["d"]["t"].empty());
    EXPECT_EQ(result.size(), 4u);
}

TEST(Partitioner, Murmur2IsStableAndInRange) {
    const std::string key = "alice";
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    EXPECT_EQ(murmur2(bytes), murmur2(bytes));
    for (int32_t n : {1, 2, 3, 7, 100}) {
        const int32_t p = partition_for_key(bytes, n);
        EXPECT_GE(p, 0);
        EXPECT_LT(p, n);
    }
    // The empty key hashes to the seed mixed with length 0 (no crash, no read).
    EXPECT_EQ(murmur2({}), murmur2({}));
}

TEST(ParseDuration, ReadsIso8601LikeJavaTimeDuration) {
    EXPECT_EQ(parse_duration_ms("PT1H"), 3600000);
    EXPECT_EQ(parse_duration_ms("PT30M"), 1800000);
    EXPECT_EQ(parse_duration_ms("P1DT12H"), 129600000);
    EXPECT_EQ(parse_duration_ms("P2D"), 172800000);
    EXPECT_EQ(parse_duration_ms("PT0.5S"), 500);
    EXPECT_EQ(parse_duration_ms("pt1h2m3s"), 3723000);
    EXPECT_EQ(parse_duration_ms("-PT5M"), -300000);
    for (const char* bad : {"", "P", "PT", "1H", "PT1", "P1H", "PT1D", "PT1.5H", "PTXS", "P1DTT1H"})
        EXPECT_THROW(parse_duration_ms(bad), cli_error) << bad;
}

TEST(ParseTimestamp, AcceptsMillisAndIso8601) {
    EXPECT_EQ(parse_timestamp("1700000000000"), 1700000000000);
    EXPECT_EQ(parse_timestamp("2024-05-01T12:00:00Z"), 1714564800000);
    EXPECT_EQ(parse_timestamp("2024-05-01T12:00:00.250Z"), 1714564800250);
    EXPECT_EQ(parse_timestamp("2024-05-01T14:00:00+02:00"), 1714564800000);
    EXPECT_EQ(parse_timestamp("2024-05-01T12:00Z"), 1714564800000);
    EXPECT_EQ(parse_timestamp("2024-05-01"), 1714521600000);
    for (const char* bad : {"yesterday", "2024-13-01", "2024-05-01T25:00:00Z", "2024-05-01T12:00:00Q", ""})
        EXPECT_THROW(parse_timestamp(bad), cli_error) << bad;
    try {
        parse_timestamp("nope");
    } catch (const cli_error& e) {
        EXPECT_EQ(e.exit_code, exit_usage);
    }
}

TEST(BrokerList, ParsesHostsPortsAndDefaults) {
    auto list = parse_broker_list("a:1, b ,PLAINTEXT://c:9093,[::1]:9094");
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0].to_string(), "a:1");
    EXPECT_EQ(list[1].to_string(), "b:9092");
    EXPECT_EQ(list[2].to_string(), "c:9093");
    EXPECT_EQ(list[3].host, "::1");
    EXPECT_THROW(parse_broker_list("a:0"), cli_error);
    EXPECT_THROW(parse_broker_list("a:x"), cli_error);
    EXPECT_THROW(parse_broker_list(","), cli_error);
}

TEST(Output, TablesAlignAndErrorsHaveNames) {
    EXPECT_EQ(render_table({{"A", "LONGER"}, {{"xyz", "1"}, {"é", "22"}}}), "A    LONGER\nxyz  1\né    22\n");
    EXPECT_EQ(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
    EXPECT_EQ(error_name(32000), "ERROR_CODE_32000");
    EXPECT_FALSE(error_hint(3).empty());
}

}  // namespace
}  // namespace strata::cli

#include <cstdio>
#include <fstream>

#include "security.h"

namespace strata::cli {
namespace {

TEST(CommandConfig, ParsesKafkaClientProperties) {
    auto props = parse_properties("# comment\n! also\n security.protocol = SASL_SSL \nsasl.mechanism:PLAIN\n\nbad\n");
    EXPECT_EQ(props.size(), 2u);
    EXPECT_EQ(props["security.protocol"], "SASL_SSL");
    EXPECT_EQ(props["sasl.mechanism"], "PLAIN");
}

TEST(CommandConfig, SaslCredentialsFromJaasOrUsernamePassword) {
    const std::string path = ::testing::TempDir() + "strata-cli-test.properties";
    {
        std::ofstream out(path);
        out << "security.protocol=sasl_plaintext\nsasl.mechanism=SCRAM-SHA-512\n"
               "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
               "username=\"alice\" password=\"a=b c\";\n";
    }
    net::client_options options;
    apply_command_config(path, options);
    EXPECT_EQ(options.sasl_mechanism, "SCRAM-SHA-512");
    EXPECT_EQ(options.sasl_username, "alice");
    EXPECT_EQ(options.sasl_password, "a=b c");
    EXPECT_EQ(options.tls, nullptr);
    {
        std::ofstream out(path);
        out << "security.protocol=KERBEROS\n";
    }
    EXPECT_THROW(apply_command_config(path, options), cli_error);
    std::remove(path.c_str());
}

}  // namespace
}  // namespace strata::cli
