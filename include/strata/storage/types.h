// Strong types for the identifiers the storage engine takes side by side: an
// offset, a leader epoch and a partition number (see strata/common/strong_int.h).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include <fmt/core.h>

#include "strata/common/strong_int.h"

namespace strata::storage {

template <typename T, typename Tag>
using strong_int = strata::strong_int<T, Tag>;

struct offset_tag {};
struct leader_epoch_tag {};
struct partition_id_tag {};

// A record's position in a partition log (Kafka's int64 offset).
class offset : public strong_int<int64_t, offset_tag> {
public:
    using strong_int::strong_int;
    constexpr offset(strong_int value) : strong_int(value) {}
    constexpr offset next() const { return offset(value() + 1); }
    constexpr offset operator+(int64_t n) const { return offset(value() + n); }
    constexpr offset operator-(int64_t n) const { return offset(value() - n); }
    constexpr int64_t operator-(offset other) const { return value() - other.value(); }
};

// A partition leader epoch, stamped into every batch (partitionLeaderEpoch).
using leader_epoch = strong_int<int32_t, leader_epoch_tag>;
using partition_id = strong_int<int32_t, partition_id_tag>;

// A topic partition; its directory is "<topic>-<partition>" (Kafka's layout).
struct topic_partition {
    std::string topic;
    partition_id partition;

    std::string dir_name() const { return topic + "-" + std::to_string(partition.value()); }
    auto operator<=>(const topic_partition&) const = default;
};

}  // namespace strata::storage

template <>
struct fmt::formatter<strata::storage::offset> : fmt::formatter<int64_t> {
    template <typename FormatContext>
    auto format(strata::storage::offset v, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::formatter<int64_t>::format(v.value(), ctx);
    }
};

template <>
struct fmt::formatter<strata::storage::topic_partition> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(const strata::storage::topic_partition& tp, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "{}-{}", tp.topic, tp.partition.value());
    }
};

template <>
struct std::hash<strata::storage::topic_partition> {
    size_t operator()(const strata::storage::topic_partition& tp) const noexcept {
        return std::hash<std::string>{}(tp.topic) * 31 + std::hash<int32_t>{}(tp.partition.value());
    }
};
