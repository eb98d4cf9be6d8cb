// The table of topic-level configs (Kafka's names, types, defaults and broker
// synonyms): what CreateTopics and the AlterConfigs APIs accept, and what
// DescribeConfigs reports for a topic, with each value's source.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/metadata/image.h"

namespace strata::server {

struct broker_config;

// DescribeConfigs' ConfigType (v3+).
enum class config_type : int8_t { boolean = 1, string = 2, int_ = 3, short_ = 4, long_ = 5, double_ = 6, list = 7 };

// DescribeConfigs' ConfigSource (v1+).
enum class config_source : int8_t {
    unknown = 0,
    topic = 1,           // DYNAMIC_TOPIC_CONFIG
    dynamic_broker = 2,  // DYNAMIC_BROKER_CONFIG
    dynamic_default = 3, // DYNAMIC_DEFAULT_BROKER_CONFIG
    static_broker = 4,   // STATIC_BROKER_CONFIG: set in the node's file or environment
    default_ = 5,        // DEFAULT_CONFIG
};

struct topic_config_key {
    std::string_view name;
    config_type type;
    // The broker keys that set the default, most specific first
    // (log.retention.ms before log.retention.minutes before .hours).
    std::vector<std::string_view> broker_synonyms;
    // The default's text when the broker sets none of its synonyms.
    std::function<std::string(const broker_config&)> broker_default;
    std::string_view doc;
    // The problem with `value`, or "" when it is valid.
    std::function<std::string(std::string_view value)> validate;
};

// In name order.
const std::vector<topic_config_key>& topic_config_keys();
const topic_config_key* find_topic_config(std::string_view name);

// For the controller: the problem with setting `name` to `value` (an
// unknown name, a value that does not parse or is out of range), or nullopt.
std::optional<std::string> check_topic_config(const std::string& name, const std::optional<std::string>& value);

// One config of a topic as DescribeConfigs reports it.
struct described_config {
    std::string name;
    std::string value;
    config_source source = config_source::default_;
    config_type type = config_type::string;
    std::string_view doc;
    struct synonym {
        std::string name;
        std::string value;
        config_source source;
    };
    std::vector<synonym> synonyms;  // this config first, then what it falls back to
};

// Every topic config of `topic` (its explicit settings over the broker's
// defaults).
std::vector<described_config> describe_topic_configs(const metadata::config_map& topic, const broker_config& broker);
// Every key of the broker's own configuration.
std::vector<described_config> describe_broker_configs(const broker_config& broker);

}  // namespace strata::server
