#include "strata/replication/topic_config.h"

#include <gtest/gtest.h>

#include "strata/replication/partition_config.h"

namespace strata::replication {
namespace {

TEST(topic_config, every_default_validates) {
    for (const auto& key : topic_config_table())
        EXPECT_EQ(key.validate(key.default_value), "") << key.name << "=" << key.default_value;
}

// The partition's built-in defaults (partition_config, storage::log_config)
// are the table's: a topic that sets every config to its default runs as one
// that sets none. flush.* are left out: setting either selects interval
// flushing (log_config.h), which Kafka's defaults never do.
TEST(topic_config, the_partitions_built_in_defaults_are_the_tables) {
    metadata::config_map all_defaults;
    for (const auto& key : topic_config_table())
        if (key.apply && !key.name.starts_with("flush.")) all_defaults.emplace(key.name, key.default_value);
    ASSERT_GE(all_defaults.size(), 14u);
    std::vector<std::string> problems;
    const partition_config built_in;
    const auto c = resolve_partition_config(built_in, all_defaults, &problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(c.log.segment_bytes, built_in.log.segment_bytes);
    EXPECT_EQ(c.log.segment_ms, built_in.log.segment_ms);
    EXPECT_EQ(c.log.segment_index_bytes, built_in.log.segment_index_bytes);
    EXPECT_EQ(c.log.index_interval_bytes, built_in.log.index_interval_bytes);
    EXPECT_EQ(c.log.retention_ms, built_in.log.retention_ms);
    EXPECT_EQ(c.log.retention_bytes, built_in.log.retention_bytes);
    EXPECT_EQ(c.log.cleanup, built_in.log.cleanup);
    EXPECT_EQ(c.log.delete_retention_ms, built_in.log.delete_retention_ms);
    EXPECT_EQ(c.log.min_cleanable_dirty_ratio, built_in.log.min_cleanable_dirty_ratio);
    EXPECT_EQ(c.log.max_message_bytes, built_in.log.max_message_bytes);
    EXPECT_EQ(c.log.timestamp_kind, built_in.log.timestamp_kind);
    EXPECT_EQ(c.log.flush, built_in.log.flush);
    EXPECT_EQ(c.min_insync_replicas, built_in.min_insync_replicas);
    EXPECT_EQ(c.timestamp_before_max_ms, built_in.timestamp_before_max_ms);
    EXPECT_EQ(c.timestamp_after_max_ms, built_in.timestamp_after_max_ms);
}

// A value the controller's validator accepts is read the same way where it
// takes effect (the table has one parser for both).
TEST(topic_config, what_validates_applies) {
    metadata::config_map topic{{"segment.bytes", " +4096 "},
                               {"message.timestamp.type", "LogAppendTime "},
                               {"min.cleanable.dirty.ratio", "0.25"},
                               {"retention.ms", "-1"}};
    for (const auto& [name, value] : topic) EXPECT_EQ(find_topic_config(name)->validate(value), "") << name;
    std::vector<std::string> problems;
    const auto c = resolve_partition_config({}, topic, &problems);
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(c.log.segment_bytes, 4096u);
    EXPECT_EQ(c.log.timestamp_kind, protocol::timestamp_type::log_append_time);
    EXPECT_EQ(c.log.min_cleanable_dirty_ratio, 0.25);
    EXPECT_EQ(c.log.retention_ms, -1);
}

TEST(topic_config, an_invalid_value_is_named_with_the_validators_reason) {
    std::vector<std::string> problems;
    const partition_config defaults;
    const auto c = resolve_partition_config(defaults, {{"segment.bytes", "13"}, {"cleanup.policy", "shred"}}, &problems);
    EXPECT_EQ(c.log.segment_bytes, defaults.log.segment_bytes);
    EXPECT_EQ(c.log.cleanup, defaults.log.cleanup);
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_EQ(problems[0], "cleanup.policy=shred is invalid ('shred' is not one of the allowed values)");
    EXPECT_EQ(problems[1], "segment.bytes=13 is invalid (must be at least 14, got 13)");
}

}  // namespace
}  // namespace strata::replication
