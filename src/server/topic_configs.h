// The broker's side of the topic config table (strata/replication/topic_config.h):
// what CreateTopics and the AlterConfigs APIs accept, what DescribeConfigs
// reports for a topic with each value's source, the broker's defaults for
// every topic, and the dynamic broker configs that stand behind them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/replication/partition_config.h"
#include "strata/replication/topic_config.h"

namespace strata::server {

struct broker_config;

// DescribeConfigs' ConfigType (v3+), as the topic config table has it.
using replication::config_type;

// DescribeConfigs' ConfigSource (v1+).
enum class config_source : int8_t {
    unknown = 0,
    topic = 1,           // DYNAMIC_TOPIC_CONFIG
    dynamic_broker = 2,  // DYNAMIC_BROKER_CONFIG
    dynamic_default = 3, // DYNAMIC_DEFAULT_BROKER_CONFIG
    static_broker = 4,   // STATIC_BROKER_CONFIG: set in the node's file or environment
    default_ = 5,        // DEFAULT_CONFIG
};

// One entry of the topic config table (strata/replication/topic_config.h,
// the only place a topic config is defined), with what the broker's file
// makes of it.
struct topic_config_key : replication::topic_config {
    // The default for every topic without its own value, from the node's
    // file: the first of the broker synonyms the file has a key for that has
    // a value (log.retention.ms, then .minutes, then .hours, in the topic's
    // units), else Kafka's default. Dynamic broker configs are not included
    // (dynamic_topic_defaults).
    std::string broker_default(const broker_config& broker) const;
};

// In name order.
const std::vector<topic_config_key>& topic_config_keys();
const topic_config_key* find_topic_config(std::string_view name);

// The partitions' settings for a topic without configs of its own: every
// topic config the partition acts on at its broker_default, and the broker
// settings that topics cannot override (replica.lag.time.max.ms,
// producer.id.expiration.ms).
replication::partition_config partition_defaults(const broker_config& broker);

// For the controller: the problem with setting `name` to `value` (an
// unknown name, a value that does not parse or is out of range), or nullopt.
std::optional<std::string> check_topic_config(const std::string& name, const std::optional<std::string>& value);

// Dynamic broker configs (Kafka's "Updating Broker Configs"): ConfigRecords
// of resource type BROKER in the metadata log, named "" for the cluster-wide
// default or a broker's id. As one broker sees them:
struct dynamic_broker_configs {
    metadata::config_map per_broker;       // resource name = this broker's id
    metadata::config_map cluster_default;  // resource name ""
};
dynamic_broker_configs dynamic_configs_of(const metadata::metadata_image& image, int32_t node_id);

// Whether `name` may change at run time: the broker keys standing behind a
// topic config (log.retention.ms, message.max.bytes, log.cleaner.*, ...),
// which Kafka marks "cluster-wide", and the Kafka keys accepted but not in
// effect, by their own update mode. Every other key is read-only.
bool is_dynamic_broker_config(std::string_view name);
// Whether `name` changes only per broker (Kafka's "per-broker" mode: not at
// the cluster-default resource "").
bool is_per_broker_config(std::string_view name);
// Whether `name` is a broker key at all (the file's, or a dynamic one).
bool is_known_broker_config(std::string_view name);
// The problem with the value of a dynamic key (by the file's own parser and
// rule when the file has the key, else by its topic config's), or nullopt.
std::optional<std::string> check_dynamic_broker_value(std::string_view name, std::string_view value);

// The topic configs that dynamic broker configs set for every topic without
// its own override: per-broker value over cluster default over the static
// file, walking each topic config's broker synonyms in Kafka's order
// (log.retention.ms, .minutes, .hours), values in the topic config's units.
// Only configs whose winning synonym is dynamic are in the map: the static
// file's are already the partitions' defaults.
metadata::config_map dynamic_topic_defaults(const dynamic_broker_configs& dynamic, const broker_config& broker);

// One config of a topic as DescribeConfigs reports it.
struct described_config {
    std::string name;
    std::string value;
    // No value at all (a broker key that is not set and has no default, as
    // log.retention.ms): Kafka answers null, not "".
    bool null_value = false;
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
std::vector<described_config> describe_topic_configs(const metadata::config_map& topic, const broker_config& broker,
                                                     const dynamic_broker_configs& dynamic = {});
// Every key of the broker's own configuration, each with its effective value
// and source (DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG,
// STATIC_BROKER_CONFIG, DEFAULT_CONFIG) and its synonyms in Kafka's order.
std::vector<described_config> describe_broker_configs(const broker_config& broker,
                                                      const dynamic_broker_configs& dynamic = {});
// The cluster-wide default resource (name ""): as in Kafka, only the keys set
// at that level.
std::vector<described_config> describe_cluster_default_configs(const dynamic_broker_configs& dynamic);

}  // namespace strata::server
