#include "strata/quota/client_quotas.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

namespace strata::quota {

// ---- windowed_rate ------------------------------------------------------------

void windowed_rate::purge(int64_t now_ms) {
    // Kafka's SampledStat.purgeObsoleteSamples: a sample older than the whole
    // span (samples x window) no longer counts.
    const int64_t expire_age = _config.samples * _config.window.count();
    while (!_samples.empty() && now_ms - _samples.front().start_ms >= expire_age) _samples.pop_front();
}

void windowed_rate::record(double value, int64_t now_ms) {
    purge(now_ms);
    if (_samples.empty() || now_ms >= _samples.back().start_ms + _config.window.count()) {
        _samples.push_back(sample{now_ms, 0});
        if (static_cast<int>(_samples.size()) > _config.samples) _samples.pop_front();
    }
    _samples.back().value += value;
}

int64_t windowed_rate::window_size_ms(int64_t now_ms) {
    purge(now_ms);
    const int64_t window = _config.window.count();
    int64_t elapsed = _samples.empty() ? 0 : now_ms - _samples.front().start_ms;
    if (_config.simple_rate) return std::max(elapsed, window);
    const int64_t full_windows = elapsed / window;
    const int64_t min_full_windows = _config.samples - 1;
    if (full_windows < min_full_windows) elapsed += (min_full_windows - full_windows) * window;
    return elapsed == 0 ? 1 : elapsed;
}

double windowed_rate::measure(int64_t now_ms) {
    const int64_t span = window_size_ms(now_ms);
    double total = 0;
    for (const auto& s : _samples) total += s.value;
    return total / (static_cast<double>(span) / 1000.0);
}

int64_t throttle_time_ms(double rate, double bound, int64_t window_size_ms, const window_config& config) {
    if (rate <= bound || bound <= 0) return 0;
    const double throttle = (rate - bound) / bound * static_cast<double>(window_size_ms);
    const int64_t max_throttle = config.samples * config.window.count();
    return std::min<int64_t>(static_cast<int64_t>(std::llround(throttle)), max_throttle);
}

// ---- resolution ---------------------------------------------------------------

std::optional<resolved_quota> resolve(const std::map<metadata::client_quota_entity, metadata::client_quota_values>& quotas,
                                      std::string_view user, std::string_view client_id, std::string_view key) {
    if (quotas.empty()) return std::nullopt;
    using name = std::optional<std::string>;
    struct candidate {
        std::optional<name> user;    // absent: the entity has no user component
        std::optional<name> client;  // absent: no client-id component
    };
    const name u{std::string(user)};
    const name c{std::string(client_id)};
    const name dflt{std::nullopt};
    const std::array<candidate, 8> order{{
        {u, c},
        {u, dflt},
        {u, std::nullopt},
        {dflt, c},
        {dflt, dflt},
        {dflt, std::nullopt},
        {std::nullopt, c},
        {std::nullopt, dflt},
    }};
    for (const auto& candidate : order) {
        metadata::client_quota_entity entity;
        if (candidate.user) entity.emplace(std::string(user_entity), *candidate.user);
        if (candidate.client) entity.emplace(std::string(client_id_entity), *candidate.client);
        auto found = quotas.find(entity);
        if (found == quotas.end()) continue;
        auto value = found->second.find(key);
        if (value == found->second.end()) continue;
        return resolved_quota{value->second, candidate.user ? std::string(user) : std::string(),
                              candidate.client ? std::string(client_id) : std::string()};
    }
    return std::nullopt;
}

// ---- validation ---------------------------------------------------------------

bool known_entity_type(std::string_view name) {
    return name == user_entity || name == client_id_entity || name == ip_entity;
}

std::optional<refusal> validate_entity(const metadata::client_quota_entity& entity) {
    if (entity.empty()) return refusal{kafka_error::invalid_request, "Invalid empty client quota entity"};
    for (const auto& [type, name] : entity) {
        if (!known_entity_type(type))
            return refusal{kafka_error::invalid_request, fmt::format("Unhandled client quota entity type: {}", type)};
        if (name && name->empty())
            return refusal{kafka_error::invalid_request,
                           fmt::format("Empty {} not supported", type)};
    }
    const bool ip = entity.count(std::string(ip_entity)) > 0;
    if (ip && entity.size() > 1)
        return refusal{kafka_error::invalid_request,
                       "Invalid quota entity combination, IP entity should not be combined with User or ClientId"};
    if (ip) {
        const auto& address = entity.begin()->second;
        boost::system::error_code ec;
        if (address) boost::asio::ip::make_address(*address, ec);
        if (ec) return refusal{kafka_error::invalid_request, fmt::format("{} is not a valid IP address", *address)};
    }
    return std::nullopt;
}

std::optional<refusal> validate_value(const metadata::client_quota_entity& entity, std::string_view key,
                                      std::optional<double> value) {
    const bool ip = entity.count(std::string(ip_entity)) > 0;
    const bool long_key = key == producer_byte_rate || key == consumer_byte_rate;
    const bool double_key = key == request_percentage || key == controller_mutation_rate;
    const bool known = ip ? key == connection_creation_rate : (long_key || double_key);
    // A removal is not checked (Kafka removes whatever key is there).
    if (!value) return std::nullopt;
    if (!known) return refusal{kafka_error::invalid_request, fmt::format("Invalid configuration key {}", key)};
    if (*value <= 0)
        return refusal{kafka_error::invalid_request, fmt::format("Quota {} must be greater than 0", key)};
    if (!std::isfinite(*value))
        return refusal{kafka_error::invalid_request, fmt::format("Quota {} must be a finite number", key)};
    // Kafka's LONG keys (its INT key, connection_creation_rate, likewise).
    if ((long_key || key == connection_creation_rate) && std::abs(std::fmod(*value, 1.0)) > 1e-6)
        return refusal{kafka_error::invalid_request, fmt::format("{} cannot be a fractional value.", key)};
    return std::nullopt;
}

// ---- the manager --------------------------------------------------------------

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

constexpr int64_t sensor_idle_expiry_ms = 3600 * 1000;  // Kafka's InactiveSensorExpirationTimeSeconds

}  // namespace

client_quota_manager::client_quota_manager(image_source image, metrics::registry& metrics, window_config config,
                                           clock now)
    : _image(std::move(image)), _metrics(metrics), _config(config), _now(now ? std::move(now) : clock(steady_ms)) {}

int32_t client_quota_manager::record(const request_cost& cost) {
    const auto image = _image();
    if (!image || image->client_quotas().empty()) return 0;
    const int64_t now = _now();
    int64_t throttle = 0;
    if (cost.produce_bytes > 0)
        throttle = std::max(throttle, record_one(*image, quota_type::produce, producer_byte_rate, cost,
                                                 static_cast<double>(cost.produce_bytes), now));
    if (cost.fetch_bytes > 0)
        throttle = std::max(throttle, record_one(*image, quota_type::fetch, consumer_byte_rate, cost,
                                                 static_cast<double>(cost.fetch_bytes), now));
    if (cost.request_time) {
        // Kafka's request quota unit: percent of one thread's second.
        const double percent = std::chrono::duration<double>(*cost.request_time).count() * 100.0;
        throttle = std::max(throttle, record_one(*image, quota_type::request, request_percentage, cost, percent, now));
    }
    if (now >= _next_expiry_ms.load(std::memory_order_relaxed)) expire(now);
    return static_cast<int32_t>(throttle);
}

int64_t client_quota_manager::record_one(const metadata::metadata_image& image, quota_type type, std::string_view key,
                                         const request_cost& cost, double value, int64_t now) {
    const auto quota = resolve(image.client_quotas(), cost.user, cost.client_id, key);
    if (!quota) return 0;
    auto s = sensor_for(type, *quota, now);
    std::lock_guard guard(s->lock);
    s->last_used_ms = now;
    s->rate.record(value, now);
    const double rate = s->rate.measure(now);
    const int64_t throttle = throttle_time_ms(rate, quota->bound, s->rate.window_size_ms(now), _config);
    if (throttle > 0) s->throttle_seconds->observe(static_cast<double>(throttle) / 1000.0);
    return throttle;
}

std::shared_ptr<client_quota_manager::sensor> client_quota_manager::sensor_for(quota_type type,
                                                                               const resolved_quota& quota,
                                                                               int64_t now) {
    sensor_key key{type, quota.user_tag, quota.client_tag};
    {
        std::shared_lock read(_sensors_lock);
        auto found = _sensors.find(key);
        if (found != _sensors.end()) return found->second;
    }
    std::unique_lock write(_sensors_lock);
    auto& slot = _sensors[key];
    if (slot) return slot;
    slot = std::make_shared<sensor>();
    slot->rate = windowed_rate(_config);
    slot->last_used_ms = now;
    // Kafka's per-client throttle-time metrics (type Produce, Fetch, Request).
    const std::string type_name = type == quota_type::produce ? "Produce" : type == quota_type::fetch ? "Fetch" : "Request";
    const metrics::labels labels{{"type", type_name}, {"user", quota.user_tag}, {"client_id", quota.client_tag}};
    slot->throttle_seconds = &_metrics.histogram(
        "strata_quota_throttle_time_seconds",
        "Throttle times given to clients for exceeding a quota, by quota type and quota entity (Kafka: throttle-time); "
        "its count is the requests throttled.",
        metrics::latency_buckets_seconds(), labels);
    return slot;
}

void client_quota_manager::expire(int64_t now) {
    std::unique_lock write(_sensors_lock);
    _next_expiry_ms.store(now + 60 * 1000, std::memory_order_relaxed);
    for (auto it = _sensors.begin(); it != _sensors.end();) {
        std::unique_lock guard(it->second->lock, std::try_to_lock);
        if (guard && now - it->second->last_used_ms > sensor_idle_expiry_ms) {
            guard.unlock();
            it = _sensors.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace strata::quota
