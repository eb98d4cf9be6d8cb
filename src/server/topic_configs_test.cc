#include "topic_configs.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "strata/server/broker_config.h"

namespace strata::server {
namespace {

const described_config& find(const std::vector<described_config>& configs, std::string_view name) {
    auto it = std::find_if(configs.begin(), configs.end(), [&](const auto& c) { return c.name == name; });
    EXPECT_NE(it, configs.end()) << name;
    return *it;
}

TEST(TopicConfigs, TableIsSortedAndEveryKafkaDefaultValidates) {
    const auto& table = topic_config_keys();
    ASSERT_GT(table.size(), 30u);
    const auto broker = default_broker_config();
    for (size_t i = 0; i < table.size(); ++i) {
        if (i > 0) EXPECT_LT(table[i - 1].name, table[i].name);
        EXPECT_EQ(find_topic_config(table[i].name), &table[i]);
        const auto value = table[i].broker_default(broker);
        EXPECT_EQ(table[i].validate(value), "") << table[i].name << "=" << value;
    }
}

TEST(TopicConfigs, ChecksNamesAndValuesAsKafkaDoes) {
    EXPECT_EQ(check_topic_config("retention.ms", std::string("-1")), std::nullopt);
    EXPECT_EQ(check_topic_config("cleanup.policy", std::string("compact, delete")), std::nullopt);
    EXPECT_EQ(check_topic_config("retention.ms", std::nullopt), std::nullopt);  // a deletion
    EXPECT_EQ(*check_topic_config("retention.mss", std::string("1")), "Unknown topic config name: retention.mss");
    EXPECT_TRUE(check_topic_config("retention.ms", std::string("-2")));
    EXPECT_TRUE(check_topic_config("segment.bytes", std::string("13")));
    EXPECT_TRUE(check_topic_config("segment.bytes", std::string("4294967296")));  // not an int
    EXPECT_TRUE(check_topic_config("min.cleanable.dirty.ratio", std::string("1.5")));
    EXPECT_TRUE(check_topic_config("message.timestamp.type", std::string("createtime")));
    EXPECT_TRUE(check_topic_config("cleanup.policy", std::string("compact,shred")));
}

TEST(TopicConfigs, SourcesFollowTopicThenBrokerFileThenDefault) {
    auto broker = load_broker_config("log.retention.hours: 24\n", "test.yaml", no_environment());
    metadata::config_map topic{{"segment.bytes", "1048576"}};
    auto configs = describe_topic_configs(topic, broker);

    const auto& segment = find(configs, "segment.bytes");
    EXPECT_EQ(segment.value, "1048576");
    EXPECT_EQ(segment.source, config_source::topic);
    ASSERT_EQ(segment.synonyms.size(), 2u);
    EXPECT_EQ(segment.synonyms[0].source, config_source::topic);
    EXPECT_EQ(segment.synonyms[1].name, "log.segment.bytes");
    EXPECT_EQ(segment.synonyms[1].source, config_source::default_);

    const auto& retention = find(configs, "retention.ms");
    EXPECT_EQ(retention.value, "86400000");
    EXPECT_EQ(retention.source, config_source::static_broker);
    ASSERT_EQ(retention.synonyms.size(), 2u);
    EXPECT_EQ(retention.synonyms[0].name, "log.retention.hours");
    EXPECT_EQ(retention.synonyms[0].value, "24");
    EXPECT_EQ(retention.synonyms[1].value, "168");
    EXPECT_EQ(retention.synonyms[1].source, config_source::default_);

    const auto& ratio = find(configs, "min.cleanable.dirty.ratio");
    EXPECT_EQ(ratio.value, "0.5");
    EXPECT_EQ(ratio.source, config_source::default_);
    EXPECT_EQ(ratio.type, config_type::double_);
}

TEST(TopicConfigs, BrokerConfigsNameWhatTheFileSet) {
    auto broker = load_broker_config("num.partitions: 6\n", "test.yaml", no_environment());
    auto configs = describe_broker_configs(broker);
    EXPECT_EQ(find(configs, "num.partitions").value, "6");
    EXPECT_EQ(find(configs, "num.partitions").source, config_source::static_broker);
    EXPECT_EQ(find(configs, "log.segment.bytes").source, config_source::default_);
}

}  // namespace
}  // namespace strata::server
