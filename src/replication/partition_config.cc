#include "strata/replication/partition_config.h"

#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace strata::replication {

namespace {

template <typename T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

std::optional<double> parse_double(std::string_view text) {
    try {
        size_t used = 0;
        double value = std::stod(std::string(text), &used);
        if (used != text.size()) return std::nullopt;
        return value;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

using setter = std::function<bool(partition_config&, std::string_view)>;

template <typename T, typename Field>
setter number_into(Field field) {
    return [field](partition_config& c, std::string_view v) {
        auto n = parse_number<int64_t>(v);
        if (!n || *n < 0) return false;
        field(c) = static_cast<T>(*n);
        return true;
    };
}

const std::map<std::string_view, setter>& setters() {
    static const std::map<std::string_view, setter> table = {
        {"segment.bytes", number_into<size_t>([](partition_config& c) -> size_t& { return c.log.segment_bytes; })},
        {"segment.ms", number_into<int64_t>([](partition_config& c) -> int64_t& { return c.log.segment_ms; })},
        {"segment.index.bytes",
         number_into<size_t>([](partition_config& c) -> size_t& { return c.log.segment_index_bytes; })},
        {"index.interval.bytes",
         number_into<size_t>([](partition_config& c) -> size_t& { return c.log.index_interval_bytes; })},
        {"retention.ms",
         [](partition_config& c, std::string_view v) {
             auto n = parse_number<int64_t>(v);
             if (!n || *n < -1) return false;
             c.log.retention_ms = *n;
             return true;
         }},
        {"retention.bytes",
         [](partition_config& c, std::string_view v) {
             auto n = parse_number<int64_t>(v);
             if (!n || *n < -1) return false;
             c.log.retention_bytes = *n;
             return true;
         }},
        {"delete.retention.ms",
         number_into<int64_t>([](partition_config& c) -> int64_t& { return c.log.delete_retention_ms; })},
        {"max.message.bytes",
         number_into<size_t>([](partition_config& c) -> size_t& { return c.log.max_message_bytes; })},
        // Setting either selects Kafka's interval flushing for the topic
        // (log_config.h); durability waits of acks=all still force a flush.
        {"flush.messages",
         [](partition_config& c, std::string_view v) {
             auto n = parse_number<int64_t>(v);
             if (!n || *n < 1) return false;
             c.log.flush_messages = *n;
             c.log.flush = storage::flush_mode::interval;
             return true;
         }},
        {"flush.ms",
         [](partition_config& c, std::string_view v) {
             auto n = parse_number<int64_t>(v);
             if (!n || *n < 0) return false;
             c.log.flush_ms = *n;
             c.log.flush = storage::flush_mode::interval;
             return true;
         }},
        {"min.insync.replicas",
         number_into<int32_t>([](partition_config& c) -> int32_t& { return c.min_insync_replicas; })},
        {"message.timestamp.before.max.ms",
         number_into<int64_t>([](partition_config& c) -> int64_t& { return c.timestamp_before_max_ms; })},
        {"message.timestamp.after.max.ms",
         number_into<int64_t>([](partition_config& c) -> int64_t& { return c.timestamp_after_max_ms; })},
        {"min.cleanable.dirty.ratio",
         [](partition_config& c, std::string_view v) {
             auto d = parse_double(v);
             if (!d || *d < 0 || *d > 1) return false;
             c.log.min_cleanable_dirty_ratio = *d;
             return true;
         }},
        {"message.timestamp.type",
         [](partition_config& c, std::string_view v) {
             if (v == "CreateTime") c.log.timestamp_kind = protocol::timestamp_type::create_time;
             else if (v == "LogAppendTime") c.log.timestamp_kind = protocol::timestamp_type::log_append_time;
             else return false;
             return true;
         }},
        {"cleanup.policy",
         [](partition_config& c, std::string_view v) {
             // A list; order and spaces do not matter ("compact, delete").
             bool compact = false, remove = false;
             size_t start = 0;
             while (start <= v.size()) {
                 size_t comma = v.find(',', start);
                 auto item = v.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
                 while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
                 while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
                 if (item == "compact") compact = true;
                 else if (item == "delete") remove = true;
                 else if (!item.empty()) return false;
                 if (comma == std::string_view::npos) break;
                 start = comma + 1;
             }
             if (compact && remove) c.log.cleanup = storage::cleanup_policy::compact_and_remove;
             else if (compact) c.log.cleanup = storage::cleanup_policy::compact;
             else c.log.cleanup = storage::cleanup_policy::remove;
             return true;
         }},
    };
    return table;
}

}  // namespace

partition_config resolve_partition_config(const partition_config& defaults, const metadata::config_map& topic_configs,
                                          std::vector<std::string>* problems) {
    partition_config out = defaults;
    // The deprecated message.timestamp.difference.max.ms bounds both sides
    // unless the KIP-937 keys are set, which win (applied after it).
    if (auto it = topic_configs.find("message.timestamp.difference.max.ms"); it != topic_configs.end()) {
        if (auto n = parse_number<int64_t>(it->second); n && *n >= 0) {
            out.timestamp_before_max_ms = *n;
            out.timestamp_after_max_ms = *n;
        } else if (problems) {
            problems->push_back(fmt::format("message.timestamp.difference.max.ms={} does not parse", it->second));
        }
    }
    for (const auto& [key, value] : topic_configs) {
        auto found = setters().find(key);
        if (found == setters().end()) continue;  // not a setting of the partition (or unknown)
        if (!found->second(out, value) && problems)
            problems->push_back(fmt::format("{}={} does not parse", key, value));
    }
    return out;
}

}  // namespace strata::replication
