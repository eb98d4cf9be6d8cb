#include "strata/replication/throttle.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>

namespace strata::replication {

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

std::optional<int32_t> number(std::string_view s) {
    int32_t value = 0;
    auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (error != std::errc() || end != s.data() + s.size() || value < 0) return std::nullopt;
    return value;
}

// Calls `each(partition, broker)` for each pair; false at the first malformed one.
template <typename Each>
bool for_each_pair(std::string_view list, Each each) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto item = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        if (comma != std::string_view::npos && trim(list).empty()) return false;  // "0:1," ends in nothing
        const auto colon = item.find(':');
        if (colon == std::string_view::npos) return false;
        const auto partition = number(trim(item.substr(0, colon)));
        const auto broker = number(trim(item.substr(colon + 1)));
        if (!partition || !broker) return false;
        if (each(*partition, *broker)) return true;
    }
    return true;
}

}  // namespace

// ---- replication_throttle -------------------------------------------------------

replication_throttle::replication_throttle(throttle_window config, clock now)
    : _rate(config), _now(now ? std::move(now) : clock(steady_ms)) {}

void replication_throttle::set_rate(std::optional<int64_t> bytes_per_second) {
    std::lock_guard guard(_lock);
    _bound = bytes_per_second;
}

std::optional<int64_t> replication_throttle::rate() const {
    std::lock_guard guard(_lock);
    return _bound;
}

bool replication_throttle::exceeded() {
    std::lock_guard guard(_lock);
    return _bound && _rate.measure(_now()) > static_cast<double>(*_bound);
}

void replication_throttle::record(size_t bytes) {
    std::lock_guard guard(_lock);
    _rate.record(static_cast<double>(bytes), _now());
}

bool replication_throttle::applies(std::string_view throttled_replicas, int32_t partition, int32_t broker) {
    const auto value = trim(throttled_replicas);
    if (value == "*") return true;
    bool found = false;
    for_each_pair(value, [&](int32_t p, int32_t b) { return found = (p == partition && b == broker); });
    return found;
}

std::optional<std::string> replication_throttle::validate(std::string_view throttled_replicas) {
    const auto value = trim(throttled_replicas);
    if (value == "*" || value.empty()) return std::nullopt;
    if (!for_each_pair(value, [](int32_t, int32_t) { return false; }))
        return "must be the wildcard '*' or a list of [PartitionId]:[BrokerId] pairs separated by commas";
    return std::nullopt;
}

// ---- replication_throttles ------------------------------------------------------

replication_throttles::replication_throttles(side which, int32_t node_id, throttle_window config,
                                             replication_throttle::clock now)
    : _side(which), _node_id(node_id), _throttle(config, std::move(now)), _lists(std::make_shared<const topic_lists>()) {}

std::optional<int64_t> replication_throttles::parse_rate(std::string_view value) {
    int64_t rate = 0;
    const auto text = trim(value);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), rate);
    if (error != std::errc() || end != text.data() + text.size() || rate < 0) return std::nullopt;
    if (rate == std::numeric_limits<int64_t>::max()) return std::nullopt;
    return rate;
}

void replication_throttles::follow(const std::shared_ptr<const metadata::metadata_image>& image) {
    if (!image) return;
    std::lock_guard guard(_lock);
    if (image.get() == _followed) return;
    using metadata::config_resource_type;
    const auto rate_key = _side == side::leader ? leader_throttled_rate_key : follower_throttled_rate_key;
    const auto list_key = _side == side::leader ? leader_throttled_replicas_key : follower_throttled_replicas_key;
    // This broker's dynamic value, else the cluster-wide one, else unlimited.
    std::optional<int64_t> rate;
    for (const auto& name : {std::to_string(_node_id), std::string()}) {
        const auto& configs = image->configs({config_resource_type::broker, name});
        if (auto found = configs.find(rate_key); found != configs.end()) {
            rate = parse_rate(found->second);
            break;
        }
    }
    _throttle.set_rate(rate);
    auto lists = std::make_shared<topic_lists>();
    for (const auto& [resource, configs] : image->all_configs()) {
        if (resource.type != config_resource_type::topic) continue;
        if (auto found = configs.find(list_key); found != configs.end() && !trim(found->second).empty())
            lists->emplace(resource.name, found->second);
    }
    _lists = std::move(lists);
    _followed = image.get();
    _keep = image;
}

bool replication_throttles::throttled(std::string_view topic, int32_t partition) const {
    std::shared_ptr<const topic_lists> lists;
    {
        std::lock_guard guard(_lock);
        lists = _lists;
    }
    auto found = lists->find(topic);
    return found != lists->end() && replication_throttle::applies(found->second, partition, _node_id);
}

}  // namespace strata::replication
