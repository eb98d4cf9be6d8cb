// Kafka 3.9's topic configs. Every one is accepted and reported; the doc of
// a key Strata stores but does not act on yet says so.
#include "topic_configs.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "strata/replication/throttle.h"
#include "strata/server/broker_config.h"
#include "config_values.h"
#include "strata/server/config_schema.h"

namespace strata::server {

namespace {

constexpr std::string_view long_max = "9223372036854775807";

using detail::parse_value;
using detail::trim;

// An integer of type T, or nullopt (the shared parser's message dropped).
template <typename T>
std::optional<T> parse_integer(std::string_view text) {
    T value{};
    if (!parse_value(text, value).empty()) return std::nullopt;
    return value;
}

using validator = std::function<std::string(std::string_view)>;

template <typename T>
validator integer_at_least(int64_t minimum, std::optional<int64_t> or_value = std::nullopt) {
    return [minimum, or_value](std::string_view v) -> std::string {
        auto n = parse_integer<T>(v);
        if (!n) return fmt::format("'{}' is not a {}", v, sizeof(T) == 4 ? "32-bit integer" : "64-bit integer");
        if (*n >= minimum || (or_value && *n == *or_value)) return {};
        if (or_value) return fmt::format("must be {} or at least {}, got {}", *or_value, minimum, *n);
        return fmt::format("must be at least {}, got {}", minimum, *n);
    };
}

validator boolean() {
    return [](std::string_view v) {
        bool ignored = false;
        return parse_value(v, ignored);
    };
}

validator ratio() {
    return [](std::string_view v) -> std::string {
        std::string text(trim(v));
        char* end = nullptr;
        double d = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return fmt::format("'{}' is not a number", v);
        if (d < 0 || d > 1) return fmt::format("must be between 0 and 1, got {}", v);
        return {};
    };
}

validator one_of(std::vector<std::string_view> choices) {
    return [choices](std::string_view v) -> std::string {
        if (std::find(choices.begin(), choices.end(), trim(v)) != choices.end()) return {};
        std::string joined;
        for (auto c : choices) joined += (joined.empty() ? "" : ", ") + std::string(c);
        return fmt::format("must be one of {}, got '{}'", joined, v);
    };
}

validator list_of(std::vector<std::string_view> choices, bool required) {
    return [choices, required](std::string_view v) -> std::string {
        std::vector<std::string> items;
        parse_value(v, items);
        if (required && items.empty()) return std::string("must name at least one value");
        for (auto item : items)
            if (std::find(choices.begin(), choices.end(), item) == choices.end())
                return fmt::format("'{}' is not one of the allowed values", item);
        return {};
    };
}

// Kafka's ThrottledReplicaListValidator: "*" or partition:broker pairs.
validator throttled_replicas() {
    return [](std::string_view v) { return replication::replication_throttle::validate(v).value_or(std::string()); };
}

// The default when no broker key stands behind a config.
std::function<std::string(const broker_config&)> fixed(std::string_view value) {
    return [value](const broker_config&) { return std::string(value); };
}

std::string list_text(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

constexpr std::string_view not_in_effect = " Accepted and reported; not yet in effect in Strata.";

std::vector<topic_config_key> make_table() {
    using c = broker_config;
    std::vector<topic_config_key> t;
    auto add = [&](std::string_view name, config_type type, std::vector<std::string_view> synonyms,
                   std::function<std::string(const broker_config&)> def, std::string_view doc, validator v) {
        t.push_back(topic_config_key{name, type, std::move(synonyms), std::move(def), doc, std::move(v)});
    };
    add("cleanup.policy", config_type::list, {"log.cleanup.policy"},
        [](const c& b) { return list_text(b.log_cleanup_policy); },
        "The retention policy of old segments: \"delete\" discards them by time or size, \"compact\" keeps the "
        "latest record of each key; both may be given.",
        list_of({"compact", "delete"}, false));
    add("compression.gzip.level", config_type::int_, {"compression.gzip.level"}, fixed("-1"),
        "The gzip level when compression.type is gzip.", [](std::string_view v) -> std::string {
            auto n = parse_integer<int32_t>(v);
            if (!n || !(*n == -1 || (*n >= 1 && *n <= 9))) return "must be -1 or between 1 and 9";
            return {};
        });
    add("compression.lz4.level", config_type::int_, {"compression.lz4.level"}, fixed("9"),
        "The lz4 level when compression.type is lz4.", [](std::string_view v) -> std::string {
            auto n = parse_integer<int32_t>(v);
            if (!n || *n < 1 || *n > 17) return "must be between 1 and 17";
            return {};
        });
    add("compression.type", config_type::string, {"compression.type"}, [](const c& b) { return b.compression_type; },
        "The final compression of the topic's batches: a codec, \"uncompressed\", or \"producer\" to keep what the "
        "producer sent. Strata keeps what the producer sent in every case (no recompression yet).",
        one_of({"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}));
    add("compression.zstd.level", config_type::int_, {"compression.zstd.level"}, fixed("3"),
        "The zstd level when compression.type is zstd.", [](std::string_view v) -> std::string {
            auto n = parse_integer<int32_t>(v);
            if (!n || *n < -131072 || *n > 22) return "must be between -131072 and 22";
            return {};
        });
    add("delete.retention.ms", config_type::long_, {"log.cleaner.delete.retention.ms"}, fixed("86400000"),
        "How long tombstones of a compacted topic are kept.", integer_at_least<int64_t>(0));
    add("file.delete.delay.ms", config_type::long_, {"log.segment.delete.delay.ms"}, fixed("60000"),
        "How long a deleted segment's files wait before removal. Strata removes them at once.",
        integer_at_least<int64_t>(0));
    add("flush.messages", config_type::long_, {"log.flush.interval.messages"}, fixed(long_max),
        "Fsync after this many messages (Kafka's interval flushing). Setting it or flush.ms selects interval "
        "flushing for the topic; acks=all still waits for an fsync.",
        integer_at_least<int64_t>(1));
    add("flush.ms", config_type::long_, {"log.flush.interval.ms"}, fixed(long_max),
        "Fsync once this long has passed since the last (Kafka's interval flushing).", integer_at_least<int64_t>(0));
    add("follower.replication.throttled.replicas", config_type::list,
        {"follower.replication.throttled.replicas"}, fixed(""),
        std::string_view("Replicas whose follower replication is throttled (follower.replication.throttled.rate): "
                         "'*' for all, or partition:broker pairs separated by commas."),
        throttled_replicas());
    add("index.interval.bytes", config_type::int_, {"log.index.interval.bytes"},
        [](const c& b) { return std::to_string(b.log_index_interval_bytes); },
        "How many bytes of batches lie between offset index entries.", integer_at_least<int32_t>(0));
    add("leader.replication.throttled.replicas", config_type::list, {"leader.replication.throttled.replicas"},
        fixed(""),
        "Replicas whose leader replication is throttled (leader.replication.throttled.rate): '*' for all, or "
        "partition:broker pairs separated by commas.",
        throttled_replicas());
    add("local.retention.bytes", config_type::long_, {"log.local.retention.bytes"}, fixed("-2"),
        "Tiered storage: local retention by size (-2: retention.bytes).", integer_at_least<int64_t>(-2));
    add("local.retention.ms", config_type::long_, {"log.local.retention.ms"}, fixed("-2"),
        "Tiered storage: local retention by time (-2: retention.ms).", integer_at_least<int64_t>(-2));
    add("max.compaction.lag.ms", config_type::long_, {"log.cleaner.max.compaction.lag.ms"}, fixed(long_max),
        "The longest a record stays ineligible for compaction.", integer_at_least<int64_t>(1));
    add("max.message.bytes", config_type::int_, {"message.max.bytes"},
        [](const c& b) { return std::to_string(b.message_max_bytes); },
        "The largest record batch the topic accepts (after compression).", integer_at_least<int32_t>(0));
    add("message.downconversion.enable", config_type::boolean, {"log.message.downconversion.enable"},
        fixed("true"), "Whether old fetch versions may get down-converted batches.", boolean());
    add("message.format.version", config_type::string, {"log.message.format.version"}, fixed("3.0-IV1"),
        "Deprecated since Kafka 3.0; always the v2 format.", [](std::string_view) { return std::string(); });
    add("message.timestamp.after.max.ms", config_type::long_, {"log.message.timestamp.after.max.ms"},
        fixed(long_max), "How far in the future a CreateTime timestamp may be.", integer_at_least<int64_t>(0));
    add("message.timestamp.before.max.ms", config_type::long_, {"log.message.timestamp.before.max.ms"},
        fixed(long_max), "How far in the past a CreateTime timestamp may be.", integer_at_least<int64_t>(0));
    add("message.timestamp.difference.max.ms", config_type::long_, {"log.message.timestamp.difference.max.ms"},
        fixed(long_max),
        "Deprecated: both of message.timestamp.before.max.ms and .after.max.ms when they are not set.",
        integer_at_least<int64_t>(0));
    add("message.timestamp.type", config_type::string, {"log.message.timestamp.type"},
        [](const c& b) { return b.log_message_timestamp_type; },
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's time.",
        one_of({"CreateTime", "LogAppendTime"}));
    add("min.cleanable.dirty.ratio", config_type::double_, {"log.cleaner.min.cleanable.ratio"}, fixed("0.5"),
        "How much of a compacted log must be uncleaned before the cleaner runs.", ratio());
    add("min.compaction.lag.ms", config_type::long_, {"log.cleaner.min.compaction.lag.ms"}, fixed("0"),
        "The shortest a record stays uncompacted.", integer_at_least<int64_t>(0));
    add("min.insync.replicas", config_type::int_, {"min.insync.replicas"},
        [](const c& b) { return std::to_string(b.min_insync_replicas); },
        "With acks=all, how many in-sync replicas must have a write before it is acknowledged.",
        integer_at_least<int32_t>(1));
    add("preallocate", config_type::boolean, {"log.preallocate"}, fixed("false"),
        "Whether new segments are preallocated on disk.", boolean());
    add("remote.storage.enable", config_type::boolean, {"remote.log.storage.system.enable"}, fixed("false"),
        "Tiered storage for the topic. Strata has no tiered storage; only false is accepted.",
        [](std::string_view v) -> std::string {
            if (trim(v) == "false") return {};
            return "tiered storage is not supported";
        });
    add("retention.bytes", config_type::long_, {"log.retention.bytes"},
        [](const c& b) { return std::to_string(b.log_retention_bytes); },
        "The size a partition may grow to before its oldest segments are deleted; -1: no limit.",
        integer_at_least<int64_t>(-1));
    add("retention.ms", config_type::long_, {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
        [](const c& b) { return std::to_string(b.effective_retention_ms()); },
        "How long a segment is kept before it is deleted; -1: no limit.", integer_at_least<int64_t>(-1));
    add("segment.bytes", config_type::int_, {"log.segment.bytes"},
        [](const c& b) { return std::to_string(b.log_segment_bytes); }, "The size at which a segment is rolled.",
        integer_at_least<int32_t>(14));
    add("segment.index.bytes", config_type::int_, {"log.index.size.max.bytes"},
        [](const c& b) { return std::to_string(b.log_index_size_max_bytes); },
        "The size of a segment's offset index; a full index rolls the segment.", integer_at_least<int32_t>(4));
    add("segment.jitter.ms", config_type::long_, {"log.roll.jitter.ms", "log.roll.jitter.hours"}, fixed("0"),
        "Random jitter subtracted from segment.ms.", integer_at_least<int64_t>(0));
    add("segment.ms", config_type::long_, {"log.roll.ms", "log.roll.hours"},
        [](const c& b) { return std::to_string(b.effective_roll_ms()); },
        "The age at which a segment is rolled even if not full.", integer_at_least<int64_t>(1));
    add("unclean.leader.election.enable", config_type::boolean, {"unclean.leader.election.enable"},
        [](const c& b) { return std::string(b.unclean_leader_election_enable ? "true" : "false"); },
        "Whether a replica outside the ISR may become leader, at the cost of data loss.", boolean());
    // Keys stored but not yet acted upon say so in their docs.
    for (auto& key : t) {
        static const std::vector<std::string_view> inert = {
            "compression.gzip.level", "compression.lz4.level", "compression.zstd.level", "file.delete.delay.ms",
            "local.retention.bytes", "local.retention.ms", "max.compaction.lag.ms", "min.compaction.lag.ms",
            "message.downconversion.enable", "preallocate", "segment.jitter.ms", "unclean.leader.election.enable"};
        if (std::find(inert.begin(), inert.end(), key.name) != inert.end()) {
            static std::vector<std::string> docs;  // owns the extended texts for the table's lifetime
            docs.reserve(64);
            docs.push_back(std::string(key.doc) + std::string(not_in_effect));
            key.doc = docs.back();
        }
    }
    return t;
}

// Where a broker key's value came from, and its text.
std::optional<std::string> explicit_broker_value(const broker_config& broker, std::string_view key) {
    auto it = broker.explicit_values.find(std::string(key));
    if (it == broker.explicit_values.end()) return std::nullopt;
    return it->second;
}

}  // namespace

const std::vector<topic_config_key>& topic_config_keys() {
    static const std::vector<topic_config_key> table = make_table();
    return table;
}

const topic_config_key* find_topic_config(std::string_view name) {
    const auto& table = topic_config_keys();
    auto it = std::lower_bound(table.begin(), table.end(), name,
                               [](const topic_config_key& k, std::string_view n) { return k.name < n; });
    return it != table.end() && it->name == name ? &*it : nullptr;
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

// A broker key's value in the units of its topic config (hours and minutes
// to milliseconds; a negative time is unlimited).
std::string in_topic_units(std::string_view synonym, const std::string& value) {
    int64_t factor = synonym.ends_with(".hours") ? 3600000 : synonym.ends_with(".minutes") ? 60000 : 1;
    if (factor == 1) return value;
    auto n = parse_integer<int64_t>(value);
    if (!n) return value;
    return *n < 0 ? std::string("-1") : std::to_string(*n * factor);
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
                              schema_key ? schema_key->default_value : key.broker_default(broker),
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
