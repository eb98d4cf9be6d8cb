// The broker's side of the topic config table: defaults from the node's
// file and the dynamic broker configs, validation, DescribeConfigs.
#include "topic_configs.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "config_values.h"
#include "strata/common/log.h"
#include "strata/replication/throttle.h"
#include "strata/server/broker_config.h"
#include "strata/server/config_schema.h"

namespace strata::server {

namespace {

using config_text::parse_integer;

// Where a broker key's value came from, and its text.
std::optional<std::string> explicit_broker_value(const broker_config& broker, std::string_view key) {
    auto it = broker.explicit_values.find(std::string(key));
    if (it == broker.explicit_values.end()) return std::nullopt;
    return it->second;
}

// A broker key's value in the units of its topic config (hours and minutes
// to milliseconds; a negative time is unlimited).
std::string in_topic_units(std::string_view synonym, const std::string& value) {
    int64_t factor = synonym.ends_with(".hours") ? 3600000 : synonym.ends_with(".minutes") ? 60000 : 1;
    if (factor == 1) return value;
    auto n = parse_integer<int64_t>(value);
    if (!n) return value;
    return *n < 0 ? std::string("-1") : std::to_string(*n * factor);
}

}  // namespace

std::string topic_config_key::broker_default(const broker_config& broker) const {
    for (auto synonym : broker_synonyms) {
        const auto* key = find_config_key(synonym);
        if (!key || !key->current) continue;  // a key the file does not have, or one not in effect
        if (auto value = key->current(broker)) return in_topic_units(synonym, *value);
    }
    return std::string(default_value);
}

const std::vector<topic_config_key>& topic_config_keys() {
    static const std::vector<topic_config_key> table = [] {
        const auto& entries = replication::topic_config_table();
        std::vector<topic_config_key> out;
        out.reserve(entries.size());
        for (const auto& entry : entries) out.push_back(topic_config_key{entry});
        return out;
    }();
    return table;
}

const topic_config_key* find_topic_config(std::string_view name) {
    // The entry at the same place as the table's.
    const auto* entry = replication::find_topic_config(name);
    return entry ? &topic_config_keys()[size_t(entry - replication::topic_config_table().data())] : nullptr;
}

replication::partition_config partition_defaults(const broker_config& broker) {
    // Only the configs whose broker synonyms the node's file has: the others
    // keep the partition's built-in defaults, which are Kafka's (and
    // flush.messages at its default would select interval flushing).
    metadata::config_map from_file;
    for (const auto& key : topic_config_keys()) {
        const bool in_file = std::any_of(key.broker_synonyms.begin(), key.broker_synonyms.end(), [](auto synonym) {
            const auto* file_key = find_config_key(synonym);
            return file_key && file_key->current;
        });
        if (key.apply && in_file) from_file.emplace(std::string(key.name), key.broker_default(broker));
    }
    std::vector<std::string> problems;
    auto out = replication::resolve_partition_config({}, from_file, &problems);
    for (const auto& problem : problems)
        log::get("server")->warn("the broker's default {} is out of the topic config's range; Kafka's default applies",
                                 problem);
    out.replica_lag_time_max_ms = broker.replica_lag_time_max_ms;
    out.producer_id_expiration_ms = broker.producer_id_expiration_ms;
    return out;
}

std::optional<std::string> check_topic_config(const std::string& name, const std::optional<std::string>& value) {
    const auto* key = find_topic_config(name);
    if (!key) return fmt::format("Unknown topic config name: {}", name);
    if (!value) return std::nullopt;  // a deletion
    if (auto problem = key->validate(*value); !problem.empty())
        return fmt::format("Invalid value {} for configuration {}: {}", *value, name, problem);
    return std::nullopt;
}

dynamic_broker_configs dynamic_configs_of(const metadata::metadata_image& image, int32_t node_id) {
    using metadata::config_resource_type;
    return {image.configs({config_resource_type::broker, std::to_string(node_id)}),
            image.configs({config_resource_type::broker, ""})};
}

namespace {

// Broker synonyms of topic configs that Kafka does not let change at run time
// (or that are topic-only names listed as their own synonym).
bool excluded_from_dynamic(std::string_view name) {
    return name == "remote.log.storage.system.enable" || name == "follower.replication.throttled.replicas" ||
           name == "leader.replication.throttled.replicas";
}

// Broker keys that are no topic's default but that Kafka changes at run time
// (DynamicConfig.Broker), read by the replication throttles (only dynamic
// here: they are not keys of the YAML file).
bool is_replication_throttle_rate(std::string_view name) {
    return name == replication::leader_throttled_rate_key || name == replication::follower_throttled_rate_key;
}

// The topic config a broker key stands behind, or nullptr.
const topic_config_key* topic_config_behind(std::string_view name) {
    for (const auto& key : topic_config_keys())
        for (auto synonym : key.broker_synonyms)
            if (synonym == name) return &key;
    return nullptr;
}

// Kafka's groups of broker keys that set one value in different units, in
// order of precedence (DynamicBrokerConfig.brokerConfigSynonyms).
std::vector<std::string_view> broker_synonyms_of(std::string_view name) {
    static const std::vector<std::vector<std::string_view>> groups = {
        {"log.roll.ms", "log.roll.hours"},
        {"log.roll.jitter.ms", "log.roll.jitter.hours"},
        {"log.flush.interval.ms", "log.flush.scheduler.interval.ms"},
        {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
    };
    for (const auto& group : groups)
        if (std::find(group.begin(), group.end(), name) != group.end()) return group;
    return {name};
}

const std::string* find_in(const metadata::config_map& map, std::string_view name) {
    auto it = map.find(name);
    return it == map.end() ? nullptr : &it->second;
}

// What a topic config inherits from the broker: the first of its synonyms
// set at any level (per-broker, cluster default, static file), or the default.
struct inherited_value {
    std::string value;
    config_source source = config_source::default_;
};

inherited_value inherited(const topic_config_key& key, const dynamic_broker_configs& dynamic,
                          const broker_config& broker) {
    for (auto synonym : key.broker_synonyms) {
        if (excluded_from_dynamic(synonym)) break;
        if (const auto* v = find_in(dynamic.per_broker, synonym))
            return {in_topic_units(synonym, *v), config_source::dynamic_broker};
        if (const auto* v = find_in(dynamic.cluster_default, synonym))
            return {in_topic_units(synonym, *v), config_source::dynamic_default};
        if (explicit_broker_value(broker, synonym)) return {key.broker_default(broker), config_source::static_broker};
    }
    const bool broker_sets = std::any_of(key.broker_synonyms.begin(), key.broker_synonyms.end(),
                                         [&](auto s) { return explicit_broker_value(broker, s).has_value(); });
    return {key.broker_default(broker), broker_sets ? config_source::static_broker : config_source::default_};
}

config_type schema_type(std::string_view type) {
    return type == "int"                ? config_type::int_
           : type == "long"             ? config_type::long_
           : type == "double"           ? config_type::double_
           : type == "boolean"          ? config_type::boolean
           : type.starts_with("list")   ? config_type::list
                                        : config_type::string;
}

}  // namespace

bool is_dynamic_broker_config(std::string_view name) {
    if (is_replication_throttle_rate(name)) return true;
    if (const auto* key = find_config_key(name); key && key->mode != update_mode::read_only) return true;
    return !excluded_from_dynamic(name) && topic_config_behind(name) != nullptr;
}

bool is_per_broker_config(std::string_view name) {
    const auto* key = find_config_key(name);
    return key && key->mode == update_mode::per_broker;
}

bool is_known_broker_config(std::string_view name) {
    return find_config_key(name) != nullptr || is_dynamic_broker_config(name);
}

std::optional<std::string> check_dynamic_broker_value(std::string_view name, std::string_view value) {
    std::string problem;
    if (const auto* key = find_config_key(name)) {
        static const broker_config scratch_base = default_broker_config();
        broker_config scratch = scratch_base;
        problem = key->apply(value, scratch);
    } else if (const auto* topic_key = topic_config_behind(name)) {
        problem = topic_key->validate(value);
    } else if (is_replication_throttle_rate(name)) {
        // Kafka: LONG, at least 0 (Long.MAX_VALUE: unlimited).
        const auto rate = parse_integer<int64_t>(value);
        if (!rate || *rate < 0) problem = "must be a number of bytes per second, at least 0";
    } else {
        problem = "unknown key";
    }
    if (problem.empty()) return std::nullopt;
    return fmt::format("Invalid value {} for configuration {}: {}", value, name, problem);
}

metadata::config_map dynamic_topic_defaults(const dynamic_broker_configs& dynamic, const broker_config& broker) {
    metadata::config_map out;
    if (dynamic.per_broker.empty() && dynamic.cluster_default.empty()) return out;
    for (const auto& key : topic_config_keys()) {
        auto v = inherited(key, dynamic, broker);
        if (v.source == config_source::dynamic_broker || v.source == config_source::dynamic_default)
            out.emplace(std::string(key.name), std::move(v.value));
    }
    return out;
}

std::vector<described_config> describe_topic_configs(const metadata::config_map& topic, const broker_config& broker,
                                                     const dynamic_broker_configs& dynamic) {
    std::vector<described_config> out;
    out.reserve(topic_config_keys().size());
    for (const auto& key : topic_config_keys()) {
        auto& d = out.emplace_back();
        d.name = std::string(key.name);
        d.type = key.type;
        d.doc = key.doc;
        if (auto it = topic.find(key.name); it != topic.end())
            d.synonyms.push_back({d.name, it->second, config_source::topic});
        // Then each broker synonym at each level, as Kafka lists them.
        for (auto synonym : key.broker_synonyms) {
            if (!excluded_from_dynamic(synonym)) {
                if (const auto* v = find_in(dynamic.per_broker, synonym))
                    d.synonyms.push_back({std::string(synonym), *v, config_source::dynamic_broker});
                if (const auto* v = find_in(dynamic.cluster_default, synonym))
                    d.synonyms.push_back({std::string(synonym), *v, config_source::dynamic_default});
            }
            if (auto v = explicit_broker_value(broker, synonym))
                d.synonyms.push_back({std::string(synonym), *v, config_source::static_broker});
        }
        // Last, the default, named after the broker key that has one (Kafka
        // names log.retention.hours for retention.ms), with Kafka's value.
        const auto default_name = key.broker_synonyms.empty() ? key.name : key.broker_synonyms.back();
        const auto* schema_key = find_config_key(default_name);
        auto from_broker = inherited(key, dynamic, broker);
        d.synonyms.push_back({std::string(default_name),
                              schema_key ? schema_key->default_value : std::string(key.default_value),
                              config_source::default_});
        if (auto it = topic.find(key.name); it != topic.end()) {
            d.value = it->second;
            d.source = config_source::topic;
        } else {
            d.value = std::move(from_broker.value);
            d.source = from_broker.source;
        }
    }
    return out;
}

namespace {

// One broker key as DescribeConfigs reports it for a broker resource. Value:
// the key's own (per-broker, cluster default, file, default); source: that
// of the first of its synonyms (Kafka's createBrokerConfigEntry).
described_config describe_broker_key(std::string_view name, config_type type, std::string_view doc,
                                     const broker_config& broker, const dynamic_broker_configs& dynamic) {
    described_config d;
    d.name = std::string(name);
    d.type = type;
    d.doc = doc;
    for (auto synonym : broker_synonyms_of(name)) {
        if (const auto* v = find_in(dynamic.per_broker, synonym))
            d.synonyms.push_back({std::string(synonym), *v, config_source::dynamic_broker});
        if (const auto* v = find_in(dynamic.cluster_default, synonym))
            d.synonyms.push_back({std::string(synonym), *v, config_source::dynamic_default});
        if (auto v = explicit_broker_value(broker, synonym))
            d.synonyms.push_back({std::string(synonym), *v, config_source::static_broker});
        if (const auto* key = find_config_key(synonym); key && !key->default_value.empty())
            d.synonyms.push_back({std::string(synonym), key->default_value, config_source::default_});
    }
    d.source = d.synonyms.empty() ? config_source::default_ : d.synonyms.front().source;
    if (const auto* v = find_in(dynamic.per_broker, name)) d.value = *v;
    else if (const auto* v = find_in(dynamic.cluster_default, name)) d.value = *v;
    else if (auto v = explicit_broker_value(broker, name)) d.value = *v;
    else if (const auto* key = find_config_key(name)) {
        d.value = key->default_value;
        d.null_value = d.value.empty();
    }
    return d;
}

}  // namespace

std::vector<described_config> describe_broker_configs(const broker_config& broker,
                                                      const dynamic_broker_configs& dynamic) {
    std::vector<described_config> out;
    for (const auto& key : config_schema())
        out.push_back(describe_broker_key(key.name, schema_type(key.type), key.doc, broker, dynamic));
    // Dynamic keys the file does not have (log.flush.interval.ms, log.cleaner.*)
    // appear once set.
    std::set<std::string_view> extra;
    for (const auto* level : {&dynamic.per_broker, &dynamic.cluster_default})
        for (const auto& [name, value] : *level)
            if (!find_config_key(name)) extra.insert(name);
    for (auto name : extra) {
        const auto* topic_key = topic_config_behind(name);
        out.push_back(describe_broker_key(name, topic_key ? topic_key->type : config_type::string,
                                          topic_key ? topic_key->doc : std::string_view(), broker, dynamic));
    }
    return out;
}

std::vector<described_config> describe_cluster_default_configs(const dynamic_broker_configs& dynamic) {
    std::vector<described_config> out;
    for (const auto& [name, value] : dynamic.cluster_default) {
        auto& d = out.emplace_back();
        d.name = name;
        d.value = value;
        d.source = config_source::dynamic_default;
        if (const auto* key = find_config_key(name)) {
            d.type = schema_type(key->type);
            d.doc = key->doc;
        } else if (const auto* topic_key = topic_config_behind(name)) {
            d.type = topic_key->type;
            d.doc = topic_key->doc;
        }
        for (auto synonym : broker_synonyms_of(name))
            if (const auto* v = find_in(dynamic.cluster_default, synonym))
                d.synonyms.push_back({std::string(synonym), *v, config_source::dynamic_default});
    }
    return out;
}

}  // namespace strata::server
