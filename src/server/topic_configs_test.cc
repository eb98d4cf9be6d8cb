#include "topic_configs.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "strata/server/broker_config.h"
#include "strata/server/config_schema.h"

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
        if (i > 0) {
            EXPECT_LT(table[i - 1].name, table[i].name);
        }
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

TEST(DynamicBrokerConfigs, OnlyTheKeysBehindTopicConfigsChangeAtRunTime) {
    for (auto name : {"log.retention.ms", "log.retention.hours", "log.retention.bytes", "log.segment.bytes",
                      "log.roll.ms", "log.cleanup.policy", "log.flush.interval.messages", "log.flush.interval.ms",
                      "message.max.bytes", "log.message.timestamp.type", "compression.type", "min.insync.replicas",
                      "unclean.leader.election.enable", "log.cleaner.delete.retention.ms",
                      "log.cleaner.min.cleanable.ratio", "leader.replication.throttled.rate",
                      "follower.replication.throttled.rate"})
        EXPECT_TRUE(is_dynamic_broker_config(name)) << name;
    for (auto name : {"log.dirs", "listeners", "node.id", "process.roles", "num.partitions",
                      "remote.log.storage.system.enable", "leader.replication.throttled.replicas"})
        EXPECT_FALSE(is_dynamic_broker_config(name)) << name;
    EXPECT_TRUE(is_known_broker_config("log.dirs"));
    EXPECT_FALSE(is_known_broker_config("log.retention.mss"));
}

TEST(DynamicBrokerConfigs, KafkasKeysNotInEffectChangeByTheirOwnUpdateMode) {
    // Kafka's per-broker Kerberos key (librdkafka's 0081 sets it): known,
    // dynamic, only on a broker's own resource, its value checked as a long.
    EXPECT_TRUE(is_known_broker_config("sasl.kerberos.min.time.before.relogin"));
    EXPECT_TRUE(is_dynamic_broker_config("sasl.kerberos.min.time.before.relogin"));
    EXPECT_TRUE(is_per_broker_config("sasl.kerberos.min.time.before.relogin"));
    EXPECT_EQ(check_dynamic_broker_value("sasl.kerberos.min.time.before.relogin", "58000"), std::nullopt);
    EXPECT_TRUE(check_dynamic_broker_value("sasl.kerberos.min.time.before.relogin", "a minute"));
    EXPECT_EQ(check_dynamic_broker_value("sasl.kerberos.ticket.renew.window.factor", "0.75"), std::nullopt);
    EXPECT_TRUE(check_dynamic_broker_value("sasl.kerberos.ticket.renew.window.factor", "most"));
    // Cluster-wide ones change at the default resource too.
    EXPECT_TRUE(is_dynamic_broker_config("log.cleaner.threads"));
    EXPECT_FALSE(is_per_broker_config("log.cleaner.threads"));
    EXPECT_TRUE(check_dynamic_broker_value("log.cleaner.threads", "-1"));
    // Keys Strata acts on keep their modes; unknown keys stay unknown.
    EXPECT_FALSE(is_per_broker_config("log.retention.ms"));
    EXPECT_FALSE(is_dynamic_broker_config("sasl.enabled.mechanisms"));
    EXPECT_FALSE(is_known_broker_config("sasl.kerberos.min.time.before.relogins"));
}

TEST(DynamicBrokerConfigs, KafkasKeysNotInEffectAreDescribedWithKafkasDefaults) {
    auto broker = load_broker_config("sasl.kerberos.kinit.cmd: /opt/kinit\n", "test.yaml", no_environment());
    dynamic_broker_configs dynamic;
    dynamic.per_broker = {{"sasl.kerberos.min.time.before.relogin", "58000"}};
    auto configs = describe_broker_configs(broker, dynamic);
    const auto& relogin = find(configs, "sasl.kerberos.min.time.before.relogin");
    EXPECT_EQ(relogin.value, "58000");
    EXPECT_EQ(relogin.source, config_source::dynamic_broker);
    EXPECT_EQ(relogin.type, config_type::long_);
    EXPECT_EQ(find(configs, "sasl.kerberos.kinit.cmd").value, "/opt/kinit");
    EXPECT_EQ(find(configs, "sasl.kerberos.kinit.cmd").source, config_source::static_broker);
    EXPECT_EQ(find(configs, "sasl.kerberos.ticket.renew.jitter").value, "0.05");
    EXPECT_EQ(find(configs, "sasl.kerberos.ticket.renew.jitter").type, config_type::double_);
    EXPECT_TRUE(find(configs, "sasl.kerberos.service.name").null_value);
    EXPECT_THROW(load_broker_config("log.cleaner.threads: many\n", "test.yaml", no_environment()),
                 std::exception);
}

TEST(DynamicBrokerConfigs, ValuesAreCheckedByTheFilesParsersOrTheTopicConfigs) {
    EXPECT_EQ(check_dynamic_broker_value("leader.replication.throttled.rate", "2000000"), std::nullopt);
    EXPECT_NE(check_dynamic_broker_value("follower.replication.throttled.rate", "-1"), std::nullopt);
    // The topic side: Kafka's ThrottledReplicaListValidator.
    EXPECT_EQ(check_topic_config("leader.replication.throttled.replicas", std::string("0:1,1:2")), std::nullopt);
    EXPECT_EQ(check_topic_config("follower.replication.throttled.replicas", std::string("*")), std::nullopt);
    EXPECT_NE(check_topic_config("follower.replication.throttled.replicas", std::string("0-1")), std::nullopt);
    EXPECT_EQ(check_dynamic_broker_value("log.retention.ms", "3600000"), std::nullopt);
    EXPECT_EQ(check_dynamic_broker_value("log.cleanup.policy", "compact,delete"), std::nullopt);
    EXPECT_EQ(check_dynamic_broker_value("log.flush.interval.messages", "1000"), std::nullopt);
    EXPECT_TRUE(check_dynamic_broker_value("log.retention.ms", "soon"));
    EXPECT_TRUE(check_dynamic_broker_value("log.segment.bytes", "13"));
    EXPECT_TRUE(check_dynamic_broker_value("log.cleanup.policy", "shred"));
    EXPECT_TRUE(check_dynamic_broker_value("log.message.timestamp.type", "createtime"));
    EXPECT_TRUE(check_dynamic_broker_value("log.flush.interval.messages", "0"));
    EXPECT_TRUE(check_dynamic_broker_value("log.cleaner.min.cleanable.ratio", "2"));
    EXPECT_NE(check_dynamic_broker_value("log.retention.ms", "soon")->find("log.retention.ms"), std::string::npos);
}

TEST(DynamicBrokerConfigs, PerBrokerBeatsClusterDefaultBeatsFileSynonymBySynonym) {
    auto broker = load_broker_config("log.retention.minutes: 30\n", "test.yaml", no_environment());
    dynamic_broker_configs dynamic;
    // A dynamic log.retention.hours loses to the file's log.retention.minutes
    // (Kafka resolves ms, then minutes, then hours, each at every level).
    dynamic.cluster_default = {{"log.retention.hours", "1"}, {"message.max.bytes", "2000"}};
    auto defaults = dynamic_topic_defaults(dynamic, broker);
    EXPECT_EQ(defaults.count("retention.ms"), 0u);
    EXPECT_EQ(defaults.at("max.message.bytes"), "2000");

    dynamic.cluster_default["log.retention.ms"] = "5000";
    EXPECT_EQ(dynamic_topic_defaults(dynamic, broker).at("retention.ms"), "5000");
    dynamic.per_broker = {{"log.retention.ms", "7000"}, {"log.roll.hours", "2"}};
    defaults = dynamic_topic_defaults(dynamic, broker);
    EXPECT_EQ(defaults.at("retention.ms"), "7000");
    EXPECT_EQ(defaults.at("segment.ms"), std::to_string(2 * 3600000));
    EXPECT_EQ(defaults.at("max.message.bytes"), "2000");
    EXPECT_EQ(defaults.count("segment.bytes"), 0u);
    EXPECT_TRUE(dynamic_topic_defaults({}, broker).empty());
}

TEST(DynamicBrokerConfigs, TopicsShowInheritedDynamicValuesWithKafkasSynonymOrder) {
    auto broker = load_broker_config("log.retention.hours: 24\n", "test.yaml", no_environment());
    dynamic_broker_configs dynamic;
    dynamic.per_broker = {{"log.retention.ms", "7000"}};
    dynamic.cluster_default = {{"log.retention.ms", "5000"}, {"log.segment.bytes", "1048576"}};
    auto configs = describe_topic_configs({}, broker, dynamic);
    const auto& retention = find(configs, "retention.ms");
    EXPECT_EQ(retention.value, "7000");
    EXPECT_EQ(retention.source, config_source::dynamic_broker);
    ASSERT_EQ(retention.synonyms.size(), 4u);
    EXPECT_EQ(retention.synonyms[0].source, config_source::dynamic_broker);
    EXPECT_EQ(retention.synonyms[1].source, config_source::dynamic_default);
    EXPECT_EQ(retention.synonyms[1].value, "5000");
    EXPECT_EQ(retention.synonyms[2].name, "log.retention.hours");
    EXPECT_EQ(retention.synonyms[2].source, config_source::static_broker);
    EXPECT_EQ(retention.synonyms[3].source, config_source::default_);
    const auto& segment = find(configs, "segment.bytes");
    EXPECT_EQ(segment.value, "1048576");
    EXPECT_EQ(segment.source, config_source::dynamic_default);
    // The topic's own value still wins.
    EXPECT_EQ(find(describe_topic_configs({{"retention.ms", "1"}}, broker, dynamic), "retention.ms").source,
              config_source::topic);
}

TEST(DynamicBrokerConfigs, BrokerAndClusterDefaultResourcesShowDynamicSources) {
    auto broker = load_broker_config("log.retention.hours: 24\n", "test.yaml", no_environment());
    dynamic_broker_configs dynamic;
    dynamic.per_broker = {{"log.retention.ms", "7000"}};
    dynamic.cluster_default = {{"log.retention.ms", "5000"}, {"log.flush.interval.ms", "1000"}};
    auto configs = describe_broker_configs(broker, dynamic);
    const auto& ms = find(configs, "log.retention.ms");
    EXPECT_EQ(ms.value, "7000");
    EXPECT_EQ(ms.source, config_source::dynamic_broker);
    ASSERT_EQ(ms.synonyms.size(), 4u);  // ms per broker, ms default, hours static, hours default
    EXPECT_EQ(ms.synonyms[2].name, "log.retention.hours");
    // Kafka: a synonym's source is that of the first of the group.
    EXPECT_EQ(find(configs, "log.retention.hours").value, "24");
    EXPECT_EQ(find(configs, "log.retention.hours").source, config_source::dynamic_broker);
    EXPECT_EQ(find(configs, "log.flush.interval.ms").source, config_source::dynamic_default);
    EXPECT_EQ(find(configs, "num.partitions").source, config_source::default_);

    auto defaults = describe_cluster_default_configs(dynamic);
    ASSERT_EQ(defaults.size(), 2u);
    EXPECT_EQ(find(defaults, "log.retention.ms").value, "5000");
    EXPECT_EQ(find(defaults, "log.retention.ms").source, config_source::dynamic_default);
    ASSERT_EQ(find(defaults, "log.retention.ms").synonyms.size(), 1u);
}

TEST(DynamicBrokerConfigs, AnUnsetKeyWithoutDefaultIsNullAsInKafka) {
    auto broker = load_broker_config("", "test.yaml", no_environment());
    auto configs = describe_broker_configs(broker, {});
    EXPECT_TRUE(find(configs, "log.retention.ms").null_value);  // Kafka: null, falls back to .hours
    EXPECT_FALSE(find(configs, "log.retention.hours").null_value);
    EXPECT_EQ(find(configs, "log.retention.hours").value, "168");
    dynamic_broker_configs dynamic;
    dynamic.per_broker = {{"log.retention.ms", "7000"}};
    EXPECT_FALSE(find(describe_broker_configs(broker, dynamic), "log.retention.ms").null_value);
}

}  // namespace
}  // namespace strata::server

namespace strata::server {
namespace {

// A topic config whose broker key is in the node's file takes, from the
// default file, Kafka's default as the table has it.
TEST(TopicConfigs, TheDefaultFileGivesKafkasDefaults) {
    const auto broker = default_broker_config();
    size_t from_file = 0;
    for (const auto& key : topic_config_keys()) {
        EXPECT_EQ(key.broker_default(broker), key.default_value) << key.name;
        for (auto synonym : key.broker_synonyms)
            if (const auto* file_key = find_config_key(synonym); file_key && file_key->current) ++from_file;
    }
    EXPECT_GE(from_file, 14u);  // log.retention.{ms,minutes,hours}, log.roll.{ms,hours}, log.segment.bytes, ...
}

TEST(TopicConfigs, PartitionDefaultsFollowTheBrokersFile) {
    auto broker = load_broker_config(
        "log.retention.minutes: 30\nlog.cleanup.policy: compact,delete\nlog.segment.bytes: 1048576\n"
        "log.roll.hours: 2\nmessage.max.bytes: 2000\nlog.message.timestamp.type: LogAppendTime\n"
        "min.insync.replicas: 2\nlog.index.interval.bytes: 100\nlog.index.size.max.bytes: 8192\n"
        "log.retention.bytes: 5000\nreplica.lag.time.max.ms: 1000\nproducer.id.expiration.ms: 60000\n",
        "test.yaml", no_environment());
    const auto c = partition_defaults(broker);
    const replication::partition_config built_in;
    EXPECT_EQ(c.log.retention_ms, 30 * 60000);
    EXPECT_EQ(c.log.cleanup, storage::cleanup_policy::compact_and_remove);
    EXPECT_EQ(c.log.segment_bytes, 1048576u);
    EXPECT_EQ(c.log.segment_ms, 2 * 3600000);
    EXPECT_EQ(c.log.max_message_bytes, 2000u);
    EXPECT_EQ(c.log.timestamp_kind, protocol::timestamp_type::log_append_time);
    EXPECT_EQ(c.min_insync_replicas, 2);
    EXPECT_EQ(c.log.index_interval_bytes, 100u);
    EXPECT_EQ(c.log.segment_index_bytes, 8192u);
    EXPECT_EQ(c.log.retention_bytes, 5000);
    EXPECT_EQ(c.replica_lag_time_max_ms, 1000);
    EXPECT_EQ(c.producer_id_expiration_ms, 60000);
    // What the file has no key for keeps the partition's defaults.
    EXPECT_EQ(c.log.flush, built_in.log.flush);
    EXPECT_EQ(c.log.delete_retention_ms, built_in.log.delete_retention_ms);
    EXPECT_EQ(c.timestamp_before_max_ms, built_in.timestamp_before_max_ms);

    const auto unset = partition_defaults(default_broker_config());
    EXPECT_EQ(unset.log.retention_ms, 7LL * 24 * 3600000);
    EXPECT_EQ(unset.log.segment_ms, 7LL * 24 * 3600000);
    EXPECT_EQ(unset.log.cleanup, storage::cleanup_policy::remove);
}

}  // namespace
}  // namespace strata::server
