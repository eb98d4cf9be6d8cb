#include "strata/quota/controller_mutation.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace strata::quota {

// ---- token_bucket -------------------------------------------------------------

void token_bucket::refill(double rate, double burst, int64_t now_ms) {
    _tokens = std::min(burst, _tokens + rate * static_cast<double>(now_ms - _last_ms) / 1000.0);
    _last_ms = now_ms;
}

double token_bucket::measure(double rate, double burst, int64_t now_ms) {
    refill(rate, burst, now_ms);
    return _tokens;
}

void token_bucket::record(double value, double rate, double burst, int64_t now_ms) {
    refill(rate, burst, now_ms);
    _tokens = std::min(burst, _tokens - value);
}

int64_t token_bucket_throttle_ms(double tokens, double rate) {
    if (tokens >= 0 || rate <= 0) return 0;
    return std::llround(-tokens / rate * 1000.0);
}

// ---- mutation_quota -----------------------------------------------------------

struct mutation_quota::sensor {
    std::mutex lock;
    token_bucket bucket;
    int64_t last_used_ms = 0;
    metrics::histogram* throttle_seconds = nullptr;
};

bool mutation_quota::try_record(double partitions) {
    if (!_sensor) return true;
    const int64_t now = _now();
    double debt = 0;
    {
        std::lock_guard guard(_sensor->lock);
        _sensor->last_used_ms = now;
        if (_strict) {
            // Kafka's StrictControllerMutationQuota: checkQuotas, then record
            // without a check, so a bucket that is not yet in debt takes the
            // whole mutation however large.
            const double tokens = _sensor->bucket.measure(_rate, _burst, now);
            if (tokens < 0) {
                debt = tokens;
            } else {
                _sensor->bucket.record(partitions, _rate, _burst, now);
                return true;
            }
        } else {
            // PermissiveControllerMutationQuota: record, then check.
            _sensor->bucket.record(partitions, _rate, _burst, now);
            debt = std::min(0.0, _sensor->bucket.measure(_rate, _burst, now));
            if (debt >= 0) return true;
        }
    }
    _throttle_ms = token_bucket_throttle_ms(debt, _rate);
    _throttled_at_ms = now;
    _sensor->throttle_seconds->observe(static_cast<double>(_throttle_ms) / 1000.0);
    return !_strict;
}

int32_t mutation_quota::throttle_ms() const {
    if (_throttle_ms <= 0) return 0;
    const int64_t elapsed = std::max<int64_t>(0, _now() - _throttled_at_ms);
    return static_cast<int32_t>(std::max<int64_t>(0, _throttle_ms - elapsed));
}

// ---- controller_mutation_quotas -----------------------------------------------

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

constexpr int64_t sensor_idle_expiry_ms = 3600 * 1000;  // Kafka's InactiveSensorExpirationTimeSeconds

}  // namespace

controller_mutation_quotas::controller_mutation_quotas(image_source image, metrics::registry& metrics,
                                                       window_config config, clock now)
    : _image(std::move(image)), _metrics(metrics), _config(config), _now(now ? std::move(now) : clock(steady_ms)) {}

mutation_quota controller_mutation_quotas::for_request(std::string_view user, std::string_view client_id,
                                                       bool strict) {
    const auto image = _image();
    if (!image || image->client_quotas().empty()) return {};
    const auto quota = resolve(image->client_quotas(), user, client_id, controller_mutation_rate);
    if (!quota) return {};
    const int64_t now = _now();
    std::shared_ptr<mutation_quota::sensor> found;
    {
        std::lock_guard guard(_lock);
        if (now >= _next_expiry_ms) {
            _next_expiry_ms = now + 60 * 1000;
            std::erase_if(_sensors, [now](const auto& entry) {
                std::unique_lock busy(entry.second->lock, std::try_to_lock);
                return busy && now - entry.second->last_used_ms > sensor_idle_expiry_ms;
            });
        }
        auto& slot = _sensors[{quota->user_tag, quota->client_tag}];
        if (!slot) {
            slot = std::make_shared<mutation_quota::sensor>();
            slot->last_used_ms = now;
            const metrics::labels labels{
                {"type", "ControllerMutation"}, {"user", quota->user_tag}, {"client_id", quota->client_tag}};
            slot->throttle_seconds = &_metrics.histogram(
                "strata_quota_throttle_time_seconds",
                "Throttle times given to clients for exceeding a quota, by quota type and quota entity (Kafka: "
                "throttle-time); its count is the requests throttled.",
                metrics::latency_buckets_seconds(), labels);
        }
        found = slot;
    }
    // Kafka's TokenBucket: burst = samples x window (seconds) x quota.
    const double window_seconds = std::chrono::duration<double>(_config.window).count();
    const double burst = static_cast<double>(_config.samples) * window_seconds * quota->bound;
    return mutation_quota(std::move(found), quota->bound, burst, strict, _now);
}

}  // namespace strata::quota
