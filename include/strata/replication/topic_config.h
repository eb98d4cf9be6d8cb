// The table of topic-level configs: one entry per Kafka topic config
// (cleanup.policy, retention.ms, ...), and the only place one is defined.
// From it follow what CreateTopics and AlterConfigs accept (validate), what
// DescribeConfigs reports (type, broker synonyms, default, doc: the server's
// topic_configs.cc), a partition's runtime settings (apply, through
// resolve_partition_config), the broker's defaults for every topic
// (partition_defaults: each entry's broker synonyms read from the broker's
// file) and the generated reference in docs/configuration.md.
//
// To add a topic config: add one entry to make_table() in
// src/replication/topic_config.cc (and, if the partition acts on it, its
// field in partition_config or storage::log_config).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::replication {

struct partition_config;

// DescribeConfigs' ConfigType (v3+).
enum class config_type : int8_t { boolean = 1, string = 2, int_ = 3, short_ = 4, long_ = 5, double_ = 6, list = 7 };

// Kafka's validator of a topic config: what it accepts, in words (for the
// docs), and the problem with a value, or "" when it is valid.
struct topic_config_validator {
    std::string description;  // "at least 0", "one of CreateTime, LogAppendTime"
    std::function<std::string(std::string_view value)> check;
    std::string operator()(std::string_view value) const { return check(value); }
};

struct topic_config {
    std::string_view name;  // Kafka's, e.g. "retention.ms"
    config_type type;
    // The broker keys that set the default for every topic, most specific
    // first (log.retention.ms before log.retention.minutes before .hours;
    // values in .minutes and .hours are converted to the topic's ms).
    std::vector<std::string_view> broker_synonyms;
    // Kafka's default when no broker synonym is set (a broker key of the
    // node's file always has a value: its own default, the same).
    std::string_view default_value;
    // For DescribeConfigs and the docs; a config not in effect says so.
    std::string doc;
    bool in_effect = true;
    topic_config_validator validate;
    // How a valid value sets the partition's runtime config; nullptr for the
    // configs that only the broker's other parts read (compression.type,
    // unclean.leader.election.enable, the replication throttles) or that are
    // stored and reported but not in effect.
    void (*apply)(partition_config& config, std::string_view value) = nullptr;
    // Applied before every other config, which may override what it sets
    // (the deprecated message.timestamp.difference.max.ms under KIP-937's
    // .before.max.ms and .after.max.ms).
    bool applied_first = false;
};

// In name order.
const std::vector<topic_config>& topic_config_table();
const topic_config* find_topic_config(std::string_view name);

}  // namespace strata::replication
