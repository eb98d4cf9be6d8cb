#include "strata/quota/connection_rates.h"

#include <algorithm>
#include <chrono>

namespace strata::quota {

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

constexpr int64_t sensor_idle_expiry_ms = 3600 * 1000;  // Kafka's ConnectionQuotas.InactiveSensorExpirationTimeSeconds

}  // namespace

int64_t connection_throttle_ms(windowed_rate& rate, double bound, int64_t now_ms, const window_config& config) {
    // Sensor.record with checkQuotas: the connection counts, refused or not.
    rate.record(1.0, now_ms);
    // A rate of 0 lets nothing through on time: every connection waits the
    // longest throttle, as Kafka's division by a zero bound ends.
    if (bound <= 0) return config.window.count();
    const double measured = rate.measure(now_ms);
    const int64_t throttle = throttle_time_ms(measured, bound, rate.window_size_ms(now_ms), config);
    return std::min<int64_t>(throttle, config.window.count());
}

connection_rate_quotas::connection_rate_quotas(connection_rate_config config, image_source image,
                                               metrics::registry* metrics, clock now)
    : _config(std::move(config)),
      _image(std::move(image)),
      _now(now ? std::move(now) : clock(steady_ms)),
      _broker(_config.window) {
    for (const auto& [listener, bound] : _config.listener_rates) _listeners.emplace(listener, windowed_rate(_config.window));
    if (metrics) {
        _listener_throttled = &metrics->counter(
            "strata_connection_accept_throttled_total",
            "Connections a listener delayed for max.connection.creation.rate (broker-wide or per listener).");
        // Seconds, as Prometheus names time (promtool refuses "_ms"); a
        // histogram, so that its _sum is the total time paused.
        _listener_throttle = &metrics->histogram(
            "strata_connection_accept_throttle_time_seconds",
            "How long a listener paused before accepting a connection, for max.connection.creation.rate "
            "(Kafka: connection-accept-throttle-time, in ms).",
            {0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30});
        _ip_throttled = &metrics->counter(
            "strata_connection_ip_throttled_total",
            "Connections refused (closed after the throttle) for their IP's connection_creation_rate quota.");
    }
}

int64_t connection_rate_quotas::record_listener_connection(std::string_view listener) {
    const bool exempt = std::find(_config.exempt_listeners.begin(), _config.exempt_listeners.end(), listener) !=
                        _config.exempt_listeners.end();
    auto own = _config.listener_rates.find(listener);
    const bool broker_limited = !exempt && _config.broker_rate < INT32_MAX;
    if (!broker_limited && own == _config.listener_rates.end()) return 0;
    const int64_t now = _now();
    int64_t throttle = 0;
    {
        std::lock_guard guard(_lock);
        // Kafka's recordConnectionAndGetThrottleTimeMs: the listener's
        // sensor, and the broker's unless the listener is protected; the
        // larger throttle wins.
        if (own != _config.listener_rates.end()) {
            auto rate = _listeners.find(listener);
            throttle = connection_throttle_ms(rate->second, own->second, now, _config.window);
        }
        if (broker_limited)
            throttle = std::max(throttle, connection_throttle_ms(_broker, _config.broker_rate, now, _config.window));
    }
    if (throttle > 0 && _listener_throttled) {
        _listener_throttled->inc();
        _listener_throttle->observe(static_cast<double>(throttle) / 1000.0);
    }
    return throttle;
}

std::optional<double> connection_rate_quotas::ip_quota(const metadata::metadata_image& image,
                                                        std::string_view address) {
    const auto& quotas = image.client_quotas();
    if (quotas.empty()) return std::nullopt;
    for (const std::optional<std::string>& name : {std::optional<std::string>(std::string(address)),
                                                   std::optional<std::string>()}) {
        metadata::client_quota_entity entity;
        entity.emplace(std::string(ip_entity), name);
        auto found = quotas.find(entity);
        if (found == quotas.end()) continue;
        auto value = found->second.find(connection_creation_rate);
        if (value != found->second.end()) return value->second;
    }
    return std::nullopt;
}

int64_t connection_rate_quotas::record_ip_connection(std::string_view address) {
    const auto image = _image ? _image() : nullptr;
    const auto bound = image ? ip_quota(*image, address) : std::nullopt;
    if (!bound) return 0;
    const int64_t now = _now();
    int64_t throttle = 0;
    {
        std::lock_guard guard(_lock);
        if (now >= _next_expiry_ms) {
            _next_expiry_ms = now + 60 * 1000;
            std::erase_if(_ips, [now](const auto& e) { return now - e.second.last_used_ms > sensor_idle_expiry_ms; });
        }
        auto it = _ips.find(address);
        if (it == _ips.end()) it = _ips.emplace(std::string(address), ip_sensor{windowed_rate(_config.window), now}).first;
        it->second.last_used_ms = now;
        throttle = connection_throttle_ms(it->second.rate, *bound, now, _config.window);
    }
    if (throttle > 0 && _ip_throttled) _ip_throttled->inc();
    return throttle;
}

}  // namespace strata::quota
