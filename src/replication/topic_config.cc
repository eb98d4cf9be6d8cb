// Kafka 3.9's topic configs: the one table (topic_config.h says what follows
// from it). Every one is accepted and reported; the doc of a key Strata
// stores but does not act on yet says so.
#include "strata/replication/topic_config.h"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "strata/common/config_text.h"
#include "strata/replication/partition_config.h"
#include "strata/replication/throttle.h"

namespace strata::replication {

namespace {

constexpr std::string_view long_max = "9223372036854775807";

using config_text::parse_integer;
using config_text::parse_value;
using config_text::trim;


// A value the table's validator accepted (apply runs only on those).
int64_t integer(std::string_view text) { return parse_integer<int64_t>(text).value_or(0); }

using validator = topic_config_validator;

template <typename T>
validator integer_at_least(int64_t minimum) {
    return {fmt::format("at least {}", minimum), [minimum](std::string_view v) -> std::string {
        auto n = parse_integer<T>(v);
        if (!n) return fmt::format("'{}' is not a {}", v, sizeof(T) == 4 ? "32-bit integer" : "64-bit integer");
        if (*n >= minimum) return {};
        return fmt::format("must be at least {}, got {}", minimum, *n);
    }};
}

validator boolean() {
    return {"true or false", [](std::string_view v) {
                bool ignored = false;
                return parse_value(v, ignored);
            }};
}

validator ratio() {
    return {"0 to 1", [](std::string_view v) -> std::string {
        std::string text(trim(v));
        char* end = nullptr;
        double d = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0') return fmt::format("'{}' is not a number", v);
        if (d < 0 || d > 1) return fmt::format("must be between 0 and 1, got {}", v);
        return {};
    }};
}

std::string joined(const std::vector<std::string_view>& choices) {
    std::string out;
    for (auto c : choices) out += (out.empty() ? "" : ", ") + std::string(c);
    return out;
}

validator one_of(std::vector<std::string_view> choices) {
    return {"one of " + joined(choices), [choices](std::string_view v) -> std::string {
                if (std::find(choices.begin(), choices.end(), trim(v)) != choices.end()) return {};
                return fmt::format("must be one of {}, got '{}'", joined(choices), v);
            }};
}

validator list_of(std::vector<std::string_view> choices, bool required) {
    return {"any of " + joined(choices), [choices, required](std::string_view v) -> std::string {
        std::vector<std::string> items;
        parse_value(v, items);
        if (required && items.empty()) return std::string("must name at least one value");
        for (auto item : items)
            if (std::find(choices.begin(), choices.end(), item) == choices.end())
                return fmt::format("'{}' is not one of the allowed values", item);
        return {};
    }};
}

// Kafka's ThrottledReplicaListValidator: "*" or partition:broker pairs.
validator throttled_replicas() {
    return {"'*' or partition:broker pairs",
            [](std::string_view v) { return replication_throttle::validate(v).value_or(std::string()); }};
}

// A list; order and spaces do not matter ("compact, delete").
void set_cleanup_policy(partition_config& c, std::string_view v) {
    std::vector<std::string> items;
    parse_value(v, items);
    const bool compact = std::find(items.begin(), items.end(), "compact") != items.end();
    const bool remove = std::find(items.begin(), items.end(), "delete") != items.end();
    c.log.cleanup = compact && remove ? storage::cleanup_policy::compact_and_remove
                    : compact         ? storage::cleanup_policy::compact
                                      : storage::cleanup_policy::remove;
}

constexpr std::string_view not_in_effect = " Accepted and reported; not yet in effect in Strata.";

std::vector<topic_config> make_table() {
    using setter = void (*)(partition_config&, std::string_view);
    std::vector<topic_config> t;
    t.reserve(40);
    auto add = [&](std::string_view name, config_type type, std::vector<std::string_view> synonyms,
                   std::string_view default_value, std::string_view doc, validator v,
                   setter apply = nullptr) -> topic_config& {
        return t.emplace_back(topic_config{name, type, std::move(synonyms), default_value, std::string(doc), true,
                                           std::move(v), apply});
    };
    add("cleanup.policy", config_type::list, {"log.cleanup.policy"},
        "delete",
        "The retention policy of old segments: \"delete\" discards them by time or size, \"compact\" keeps the "
        "latest record of each key; both may be given.",
        list_of({"compact", "delete"}, false),
        set_cleanup_policy);
    add("compression.gzip.level", config_type::int_, {"compression.gzip.level"}, "-1",
        "The gzip level when compression.type is gzip.", validator{"-1, or 1 to 9", [](std::string_view v) -> std::string {
            auto n = parse_integer<int32_t>(v);
            if (!n || !(*n == -1 || (*n >= 1 && *n <= 9))) return "must be -1 or between 1 and 9";
            return {};
        }}).in_effect = false;
    add("compression.lz4.level", config_type::int_, {"compression.lz4.level"}, "9",
        "The lz4 level when compression.type is lz4.", validator{"1 to 17", [](std::string_view v) -> std::string {
            auto n = parse_integer<int32_t>(v);
            if (!n || *n < 1 || *n > 17) return "must be between 1 and 17";
            return {};
        }}).in_effect = false;
    add("compression.type", config_type::string, {"compression.type"}, "producer",
        "The final compression of the topic's batches: a codec, \"uncompressed\", or \"producer\" to keep what the "
        "producer sent. Strata keeps what the producer sent in every case (no recompression yet).",
        one_of({"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}));
    add("compression.zstd.level", config_type::int_, {"compression.zstd.level"}, "3",
        "The zstd level when compression.type is zstd.", validator{"-131072 to 22", [](std::string_view v) -> std::string {
            auto n = parse_integer<int32_t>(v);
            if (!n || *n < -131072 || *n > 22) return "must be between -131072 and 22";
            return {};
        }}).in_effect = false;
    add("delete.retention.ms", config_type::long_, {"log.cleaner.delete.retention.ms"}, "86400000",
        "How long tombstones of a compacted topic are kept.", integer_at_least<int64_t>(0),
        [](partition_config& c, std::string_view v) { c.log.delete_retention_ms = integer(v); });
    add("file.delete.delay.ms", config_type::long_, {"log.segment.delete.delay.ms"}, "60000",
        "How long a deleted segment's files wait before removal. Strata removes them at once.",
        integer_at_least<int64_t>(0)).in_effect = false;
    add("flush.messages", config_type::long_, {"log.flush.interval.messages"}, long_max,
        "Fsync after this many messages (Kafka's interval flushing). Setting it or flush.ms selects interval "
        "flushing for the topic; acks=all still waits for an fsync.",
        integer_at_least<int64_t>(1),
        [](partition_config& c, std::string_view v) {
            c.log.flush_messages = integer(v);
            c.log.flush = storage::flush_mode::interval;
        });
    add("flush.ms", config_type::long_, {"log.flush.interval.ms"}, long_max,
        "Fsync once this long has passed since the last (Kafka's interval flushing).", integer_at_least<int64_t>(0),
        [](partition_config& c, std::string_view v) {
            c.log.flush_ms = integer(v);
            c.log.flush = storage::flush_mode::interval;
        });
    add("follower.replication.throttled.replicas", config_type::list,
        {"follower.replication.throttled.replicas"}, "",
        std::string_view("Replicas whose follower replication is throttled (follower.replication.throttled.rate): "
                         "'*' for all, or partition:broker pairs separated by commas."),
        throttled_replicas());
    add("index.interval.bytes", config_type::int_, {"log.index.interval.bytes"},
        "4096",
        "How many bytes of batches lie between offset index entries.", integer_at_least<int32_t>(0),
        [](partition_config& c, std::string_view v) { c.log.index_interval_bytes = size_t(integer(v)); });
    add("leader.replication.throttled.replicas", config_type::list, {"leader.replication.throttled.replicas"},
        "",
        "Replicas whose leader replication is throttled (leader.replication.throttled.rate): '*' for all, or "
        "partition:broker pairs separated by commas.",
        throttled_replicas());
    add("local.retention.bytes", config_type::long_, {"log.local.retention.bytes"}, "-2",
        "Tiered storage: local retention by size (-2: retention.bytes).", integer_at_least<int64_t>(-2)).in_effect = false;
    add("local.retention.ms", config_type::long_, {"log.local.retention.ms"}, "-2",
        "Tiered storage: local retention by time (-2: retention.ms).", integer_at_least<int64_t>(-2)).in_effect = false;
    add("max.compaction.lag.ms", config_type::long_, {"log.cleaner.max.compaction.lag.ms"}, long_max,
        "The longest a record stays ineligible for compaction.", integer_at_least<int64_t>(1)).in_effect = false;
    add("max.message.bytes", config_type::int_, {"message.max.bytes"},
        "1048588",
        "The largest record batch the topic accepts (after compression).", integer_at_least<int32_t>(0),
        [](partition_config& c, std::string_view v) { c.log.max_message_bytes = size_t(integer(v)); });
    add("message.downconversion.enable", config_type::boolean, {"log.message.downconversion.enable"},
        "true", "Whether old fetch versions may get down-converted batches.", boolean()).in_effect = false;
    add("message.format.version", config_type::string, {"log.message.format.version"}, "3.0-IV1",
        "Deprecated since Kafka 3.0; always the v2 format.", validator{"any", [](std::string_view) { return std::string(); }});
    add("message.timestamp.after.max.ms", config_type::long_, {"log.message.timestamp.after.max.ms"},
        long_max, "How far in the future a CreateTime timestamp may be.", integer_at_least<int64_t>(0),
        [](partition_config& c, std::string_view v) { c.timestamp_after_max_ms = integer(v); });
    add("message.timestamp.before.max.ms", config_type::long_, {"log.message.timestamp.before.max.ms"},
        long_max, "How far in the past a CreateTime timestamp may be.", integer_at_least<int64_t>(0),
        [](partition_config& c, std::string_view v) { c.timestamp_before_max_ms = integer(v); });
    add("message.timestamp.difference.max.ms", config_type::long_, {"log.message.timestamp.difference.max.ms"},
        long_max,
        "Deprecated: both of message.timestamp.before.max.ms and .after.max.ms when they are not set.",
        integer_at_least<int64_t>(0),
        [](partition_config& c, std::string_view v) {
            c.timestamp_before_max_ms = integer(v);
            c.timestamp_after_max_ms = integer(v);
        }).applied_first = true;
    add("message.timestamp.type", config_type::string, {"log.message.timestamp.type"},
        "CreateTime",
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's time.",
        one_of({"CreateTime", "LogAppendTime"}),
        [](partition_config& c, std::string_view v) {
            c.log.timestamp_kind = config_text::trim(v) == "LogAppendTime" ? protocol::timestamp_type::log_append_time
                                                                          : protocol::timestamp_type::create_time;
        });
    add("min.cleanable.dirty.ratio", config_type::double_, {"log.cleaner.min.cleanable.ratio"}, "0.5",
        "How much of a compacted log must be uncleaned before the cleaner runs.", ratio(),
        [](partition_config& c, std::string_view v) { config_text::parse_value(v, c.log.min_cleanable_dirty_ratio); });
    add("min.compaction.lag.ms", config_type::long_, {"log.cleaner.min.compaction.lag.ms"}, "0",
        "The shortest a record stays uncompacted.", integer_at_least<int64_t>(0)).in_effect = false;
    add("min.insync.replicas", config_type::int_, {"min.insync.replicas"},
        "1",
        "With acks=all, how many in-sync replicas must have a write before it is acknowledged.",
        integer_at_least<int32_t>(1),
        [](partition_config& c, std::string_view v) { c.min_insync_replicas = int32_t(integer(v)); });
    add("preallocate", config_type::boolean, {"log.preallocate"}, "false",
        "Whether new segments are preallocated on disk.", boolean()).in_effect = false;
    add("remote.storage.enable", config_type::boolean, {"remote.log.storage.system.enable"}, "false",
        "Tiered storage for the topic. Strata has no tiered storage; only false is accepted.",
        validator{"false", [](std::string_view v) -> std::string {
                      if (trim(v) == "false") return {};
                      return "tiered storage is not supported";
                  }});
    add("retention.bytes", config_type::long_, {"log.retention.bytes"},
        "-1",
        "The size a partition may grow to before its oldest segments are deleted; -1: no limit.",
        integer_at_least<int64_t>(-1),
        [](partition_config& c, std::string_view v) { c.log.retention_bytes = integer(v); });
    add("retention.ms", config_type::long_, {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
        "604800000",
        "How long a segment is kept before it is deleted; -1: no limit.", integer_at_least<int64_t>(-1),
        [](partition_config& c, std::string_view v) { c.log.retention_ms = integer(v); });
    add("segment.bytes", config_type::int_, {"log.segment.bytes"},
        "1073741824", "The size at which a segment is rolled.",
        integer_at_least<int32_t>(14),
        [](partition_config& c, std::string_view v) { c.log.segment_bytes = size_t(integer(v)); });
    add("segment.index.bytes", config_type::int_, {"log.index.size.max.bytes"},
        "10485760",
        "The size of a segment's offset index; a full index rolls the segment.", integer_at_least<int32_t>(4),
        [](partition_config& c, std::string_view v) { c.log.segment_index_bytes = size_t(integer(v)); });
    add("segment.jitter.ms", config_type::long_, {"log.roll.jitter.ms", "log.roll.jitter.hours"}, "0",
        "Random jitter subtracted from segment.ms.", integer_at_least<int64_t>(0)).in_effect = false;
    add("segment.ms", config_type::long_, {"log.roll.ms", "log.roll.hours"},
        "604800000",
        "The age at which a segment is rolled even if not full.", integer_at_least<int64_t>(1),
        [](partition_config& c, std::string_view v) { c.log.segment_ms = integer(v); });
    add("unclean.leader.election.enable", config_type::boolean, {"unclean.leader.election.enable"},
        "false",
        "Whether a replica outside the ISR may become leader, at the cost of data loss.", boolean()).in_effect = false;
    for (auto& key : t)
        if (!key.in_effect) key.doc += not_in_effect;
    return t;
}

}  // namespace

const std::vector<topic_config>& topic_config_table() {
    static const std::vector<topic_config> table = make_table();
    return table;
}

const topic_config* find_topic_config(std::string_view name) {
    const auto& table = topic_config_table();
    auto it = std::lower_bound(table.begin(), table.end(), name,
                               [](const topic_config& k, std::string_view n) { return k.name < n; });
    return it != table.end() && it->name == name ? &*it : nullptr;
}

}  // namespace strata::replication
