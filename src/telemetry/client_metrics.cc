#include "strata/telemetry/client_metrics.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>

#include "strata/protocol/compression.h"

namespace strata::telemetry {

namespace {

// Kafka's list configs: comma-separated, items trimmed, empty items dropped.
std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(',', start);
        if (end == std::string_view::npos) end = text.size();
        auto item = text.substr(start, end - start);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
        if (!item.empty()) out.emplace_back(item);
        start = end + 1;
    }
    return out;
}

const std::vector<std::string_view>& selectors() {
    static const std::vector<std::string_view> names{"client_instance_id",    "client_id",
                                                     "client_software_name",  "client_software_version",
                                                     "client_source_address", "client_source_port"};
    return names;
}

struct matcher {
    std::string selector;
    std::regex pattern;
};

// "selector=regex" items; nullopt (with the problem) when one is not.
std::optional<std::vector<matcher>> parse_match(std::string_view value, std::string* problem) {
    std::vector<matcher> out;
    for (const auto& item : split_list(value)) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
            if (problem) *problem = fmt::format("Illegal client matching pattern: {}", item);
            return std::nullopt;
        }
        const auto selector = item.substr(0, eq);
        if (std::find(selectors().begin(), selectors().end(), selector) == selectors().end()) {
            if (problem) *problem = fmt::format("Illegal client matching pattern: {}", item);
            return std::nullopt;
        }
        try {
            out.push_back({selector, std::regex(item.substr(eq + 1))});
        } catch (const std::regex_error&) {
            if (problem) *problem = fmt::format("Invalid regular expression: {}", item.substr(eq + 1));
            return std::nullopt;
        }
    }
    return out;
}

std::optional<int64_t> parse_int(std::string_view text) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

std::string selector_value(const std::string& selector, const protocol::uuid& instance, const client_identity& c) {
    if (selector == "client_instance_id") return instance.to_string();
    if (selector == "client_id") return c.client_id;
    if (selector == "client_software_name") return c.software_name;
    if (selector == "client_software_version") return c.software_version;
    if (selector == "client_source_address") return c.source_address;
    return c.source_port;
}

// FNV-1a, folded to a non-negative int32.
int32_t subscription_hash(const std::vector<std::string>& metrics, int32_t interval) {
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::string_view s) {
        for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull;
    };
    for (const auto& m : metrics) mix(m);
    mix(std::to_string(interval));
    return int32_t((h ^ (h >> 32)) & 0x7fffffff);
}

std::string sanitize(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char ch : text) out += std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ? ch : '_';
    if (out.empty() || std::isdigit(static_cast<unsigned char>(out.front()))) out.insert(out.begin(), '_');
    return out;
}

}  // namespace

std::optional<config_problem> check_client_metrics_config(std::string_view name, std::string_view value) {
    if (name == metrics_config) return std::nullopt;  // any prefixes
    if (name == interval_config) {
        auto v = parse_int(value);
        if (!v || *v < min_interval_ms || *v > max_interval_ms)
            return config_problem{kafka_error::invalid_request,
                                  fmt::format("Invalid value {} for {}, interval must be between 100 and 3600000 "
                                              "(1 hour)",
                                              value, interval_config)};
        return std::nullopt;
    }
    if (name == match_config) {
        std::string problem;
        if (!parse_match(value, &problem)) return config_problem{kafka_error::invalid_config, problem};
        return std::nullopt;
    }
    return config_problem{kafka_error::invalid_request, fmt::format("Unknown client metrics configuration: {}", name)};
}

subscription resolve_subscription(const metadata::metadata_image& image, const protocol::uuid& instance,
                                  const client_identity& client) {
    std::set<std::string> metrics;
    bool all = false;
    std::optional<int32_t> interval;
    for (const auto& [resource, configs] : image.all_configs()) {
        if (resource.type != client_metrics_resource) continue;
        if (auto m = configs.find(match_config); m != configs.end()) {
            auto matchers = parse_match(m->second, nullptr);
            if (!matchers) continue;  // refused when set; a bad record matches nobody
            bool matches = true;
            for (const auto& x : *matchers)
                matches = matches && std::regex_match(selector_value(x.selector, instance, client), x.pattern);
            if (!matches) continue;
        }
        std::vector<std::string> wanted;
        if (auto m = configs.find(metrics_config); m != configs.end()) wanted = split_list(m->second);
        if (wanted.empty()) continue;  // subscribes to nothing
        for (const auto& w : wanted) {
            if (w == "*")
                all = true;
            else
                metrics.insert(w);
        }
        int32_t mine = default_interval_ms;
        if (auto i = configs.find(interval_config); i != configs.end())
            if (auto v = parse_int(i->second))
                mine = int32_t(std::clamp<int64_t>(*v, min_interval_ms, max_interval_ms));
        interval = std::min(interval.value_or(mine), mine);
    }
    subscription out;
    if (all)
        out.metrics = {""};  // KIP-714: one empty string asks for every metric
    else
        out.metrics.assign(metrics.begin(), metrics.end());
    out.push_interval_ms = interval.value_or(default_interval_ms);
    out.id = subscription_hash(out.metrics, out.push_interval_ms);
    return out;
}

std::string exported_name(std::string_view otlp_name, bool counter) {
    constexpr std::string_view ns = "org.apache.kafka.";
    if (otlp_name.starts_with(ns)) otlp_name.remove_prefix(ns.size());
    std::string name = "strata_client_" + sanitize(otlp_name);
    if (counter && !name.ends_with("_total")) name += "_total";
    return name;
}

client_metrics_manager::client_metrics_manager(metrics::registry& registry, image_source image)
    : _registry(registry), _image(std::move(image)) {
    _registry.add_collector("strata_client_telemetry_clients",
                            "Client instances whose KIP-714 metrics this broker holds (pushed within three push "
                            "intervals).",
                            metrics::metric_type::gauge, [this] {
                                std::lock_guard lock(_mutex);
                                forget_expired(std::chrono::steady_clock::now());
                                return std::vector<metrics::sample>{{{}, double(_clients.size())}};
                            });
}

client_metrics_manager::~client_metrics_manager() {
    _registry.remove_collector("strata_client_telemetry_clients");
    std::lock_guard lock(_names_mutex);
    for (const auto& name : _names) _registry.remove_collector(name);
}

std::vector<int8_t> client_metrics_manager::accepted_compression_types() {
    using protocol::compression_codec;
    return {int8_t(compression_codec::zstd), int8_t(compression_codec::lz4), int8_t(compression_codec::gzip),
            int8_t(compression_codec::snappy)};
}

size_t client_metrics_manager::clients() const {
    std::lock_guard lock(_mutex);
    return _clients.size();
}

client_metrics_manager::get_answer client_metrics_manager::get_subscriptions(const protocol::uuid& requested,
                                                                             const client_identity& client) {
    get_answer out;
    out.instance = requested.is_zero() ? protocol::uuid::random() : requested;
    auto image = _image();
    if (image)
        out.what = resolve_subscription(*image, out.instance, client);
    else
        out.what.id = subscription_hash({}, default_interval_ms);
    std::lock_guard lock(_mutex);
    const auto now = std::chrono::steady_clock::now();
    forget_expired(now);
    auto& state = _clients[out.instance.to_string()];
    state.identity = client;
    state.interval_ms = out.what.push_interval_ms;
    state.last_seen = now;
    return out;
}

client_metrics_manager::push_answer client_metrics_manager::push(const protocol::uuid& instance,
                                                                 int32_t subscription_id, bool terminating,
                                                                 int8_t compression, std::span<const uint8_t> payload,
                                                                 const client_identity& client) {
    if (instance.is_zero()) return {kafka_error::invalid_request, "ClientInstanceId is zero"};
    auto image = _image();
    const auto current = image ? resolve_subscription(*image, instance, client) : subscription{};
    // A subscription changed since the client asked: it asks again.
    if (image && current.id != subscription_id)
        return {kafka_error::unknown_subscription_id,
                fmt::format("subscription {} is not the current one ({})", subscription_id, current.id)};
    if (payload.size() > size_t(telemetry_max_bytes))
        return {kafka_error::telemetry_too_large, fmt::format("{} bytes of metrics, more than telemetry.max.bytes={}",
                                                              payload.size(), telemetry_max_bytes)};
    const auto now = std::chrono::steady_clock::now();
    {
        // KIP-714: a push sooner than the interval allows is throttled (the
        // terminating push excepted); half the interval leaves room for jitter.
        std::lock_guard lock(_mutex);
        auto found = _clients.find(instance.to_string());
        if (found != _clients.end() && found->second.pushed && !terminating &&
            now - found->second.last_push < std::chrono::milliseconds(current.push_interval_ms / 2))
            return {kafka_error::throttling_quota_exceeded, "pushed before its interval"};
    }
    std::vector<uint8_t> plain;
    std::span<const uint8_t> data = payload;
    if (compression != 0) {
        auto codec = protocol::compression_codec_from_id(compression);
        const auto accepted = accepted_compression_types();
        if (!codec || std::find(accepted.begin(), accepted.end(), compression) == accepted.end())
            return {kafka_error::unsupported_compression_type, fmt::format("compression type {}", compression)};
        if (auto r = protocol::decompress(*codec, payload, size_t(telemetry_max_bytes) * 16, plain); !r)
            return {kafka_error::invalid_record,
                    fmt::format("cannot decompress: {}", protocol::compression_error_message(r.error()))};
        data = plain;
    }
    std::string problem;
    auto decoded = decode_otlp_metrics(data, &problem);
    if (!decoded) return {kafka_error::invalid_record, "malformed OTLP MetricsData: " + problem};

    // The labels every series of this client carries, as KIP-714 names them.
    const metrics::labels client_labels{
        {"client_instance_id", instance.to_string()},     {"client_id", client.client_id},
        {"client_software_name", client.software_name},   {"client_software_version", client.software_version},
        {"client_source_address", client.source_address}, {"principal", client.principal}};
    std::map<std::string, metrics::metric_type> seen;  // exported names, for the collectors
    {
        std::lock_guard lock(_mutex);
        forget_expired(now);
        if (terminating) {
            // The client is closing: its series go with it.
            _clients.erase(instance.to_string());
            return {};
        }
        auto& state = _clients[instance.to_string()];
        state.identity = client;
        state.interval_ms = current.push_interval_ms;
        state.last_push = state.last_seen = now;
        state.pushed = true;
        for (const auto& p : decoded->points) {
            const bool counter = p.type == otlp_point::kind::sum && p.monotonic;
            series s;
            s.name = exported_name(p.metric, counter);
            s.labels = client_labels;
            for (const auto& [k, v] : p.labels) {
                auto key = sanitize(k);
                if (std::none_of(s.labels.begin(), s.labels.end(), [&](const auto& l) { return l.first == key; }))
                    s.labels.emplace_back(std::move(key), v);
            }
            std::string key;
            for (const auto& [k, v] : s.labels) key += k + '=' + v + '\0';
            auto& kept = state.values[s.name][key];
            const double before = kept.value;
            kept = std::move(s);
            kept.value = p.delta ? before + p.value : p.value;
            seen.emplace(kept.name, counter ? metrics::metric_type::counter : metrics::metric_type::gauge);
        }
    }
    // New names get a collector, outside _mutex (a render holds the
    // registry's lock while it takes ours).
    std::lock_guard names(_names_mutex);
    for (const auto& [exported, type] : seen) {
        if (_names.count(exported)) continue;
        const std::string name = exported;
        try {
            _registry.add_collector(name, "Pushed by clients (KIP-714 client metrics).", type,
                                    [this, name] { return collect(name); });
            _names.insert(name);
        } catch (const std::logic_error&) {
            _names.insert(name);  // a name the broker already uses: not exported
        }
    }
    return {};
}

std::vector<metrics::sample> client_metrics_manager::collect(const std::string& name) {
    std::vector<metrics::sample> out;
    std::lock_guard lock(_mutex);
    forget_expired(std::chrono::steady_clock::now());
    for (const auto& [id, state] : _clients)
        if (auto found = state.values.find(name); found != state.values.end())
            for (const auto& [key, s] : found->second) out.push_back({s.labels, s.value});
    return out;
}

// A client that has not pushed (or asked) for three of its intervals is
// gone (KIP-714's client instance expiry).
void client_metrics_manager::forget_expired(std::chrono::steady_clock::time_point now) {
    for (auto it = _clients.begin(); it != _clients.end();) {
        const auto ttl = std::chrono::milliseconds(int64_t(it->second.interval_ms) * 3);
        if (now - it->second.last_seen > ttl)
            it = _clients.erase(it);
        else
            ++it;
    }
}

}  // namespace strata::telemetry
