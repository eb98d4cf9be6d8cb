// Client quotas, with Kafka's semantics (ClientQuotaManager,
// ClientRequestQuotaManager, DefaultQuotaCallback): which quota applies to a
// request's (user, client-id), the windowed rate it is measured with, and
// how long a client over its quota is throttled.
//
// The quotas themselves live in the metadata image (ClientQuotaRecord), so
// that every broker enforces the same ones; enforcement is per broker, as in
// Kafka: each broker measures only the traffic it serves.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "strata/common/kafka_error.h"
#include "strata/metadata/image.h"
#include "strata/metrics/registry.h"

namespace strata::quota {

// Kafka's quota keys (QuotaConfig) and entity types (ClientQuotaEntity).
inline constexpr std::string_view producer_byte_rate = "producer_byte_rate";
inline constexpr std::string_view consumer_byte_rate = "consumer_byte_rate";
inline constexpr std::string_view request_percentage = "request_percentage";
inline constexpr std::string_view controller_mutation_rate = "controller_mutation_rate";
inline constexpr std::string_view connection_creation_rate = "connection_creation_rate";
inline constexpr std::string_view user_entity = "user";
inline constexpr std::string_view client_id_entity = "client-id";
inline constexpr std::string_view ip_entity = "ip";

// quota.window.num and quota.window.size.seconds (Kafka's defaults 11 and 1).
// `simple_rate`: Kafka's SimpleRate (replication quotas) rather than Rate.
struct window_config {
    int samples = 11;
    std::chrono::milliseconds window{1000};
    bool simple_rate = false;
};

// Kafka's Rate over a SampledStat: `samples` windows of `window` each; the
// rate is the sum of the retained samples over the time they span, which is
// counted as at least samples-1 whole windows (so a new client's first burst
// is spread over the full span, as Kafka does). With `simple_rate` the span
// is the time really covered, at least one window (Kafka's SimpleRate, which
// its replication quotas use, so that a throttle holds from the first
// second). Not thread-safe.
class windowed_rate {
public:
    explicit windowed_rate(window_config config = {}) : _config(config) {}

    void record(double value, int64_t now_ms);
    // Per second.
    double measure(int64_t now_ms);
    // The span the rate is taken over, in ms (Kafka's Rate.windowSize).
    int64_t window_size_ms(int64_t now_ms);

private:
    struct sample {
        int64_t start_ms;
        double value;
    };
    void purge(int64_t now_ms);

    window_config _config;
    std::deque<sample> _samples;
};

// Kafka's throttle time for a client whose measured rate is over its bound:
// long enough for the rate over the window to come back to the bound,
// (rate - bound) / bound * window, at most the whole window span.
int64_t throttle_time_ms(double rate, double bound, int64_t window_size_ms, const window_config& config);

// The quota of one key that applies to (user, client_id), found in Kafka's
// precedence order:
//   user + client-id, user + default client-id, user,
//   default user + client-id, default user + default client-id, default user,
//   client-id, default client-id.
// `user_tag` and `client_tag` name the sensor the traffic is measured in, as
// Kafka's metric tags do: the request's own name where the matching entity
// has that component (named or default), empty where it has not; so all the
// clients of a user share a user quota, and each client-id has its own
// default client-id quota.
struct resolved_quota {
    double bound = 0;
    std::string user_tag;
    std::string client_tag;
};
std::optional<resolved_quota> resolve(const std::map<metadata::client_quota_entity, metadata::client_quota_values>& quotas,
                                      std::string_view user, std::string_view client_id, std::string_view key);

// Validation of AlterClientQuotas entries, as Kafka's ClientQuotaControlManager:
// INVALID_REQUEST with Kafka's message, or nullopt when acceptable.
struct refusal {
    kafka_error error = kafka_error::invalid_request;
    std::string message;
};
std::optional<refusal> validate_entity(const metadata::client_quota_entity& entity);
std::optional<refusal> validate_value(const metadata::client_quota_entity& entity, std::string_view key,
                                      std::optional<double> value);
// Whether `name` is a valid entity type ("user", "client-id", "ip").
bool known_entity_type(std::string_view name);

// What one request cost its client, for the quota stage.
struct request_cost {
    std::string_view user;       // the principal's name
    std::string_view client_id;  // the request header's client.id
    size_t produce_bytes = 0;    // a Produce request's size, else 0
    size_t fetch_bytes = 0;      // a consumer Fetch response's size, else 0
    // Time the request kept the broker busy; nullopt when exempt from the
    // request quota (inter-broker and controller traffic).
    std::optional<std::chrono::nanoseconds> request_time;
};

// The quota stage's state: one windowed rate per (quota type, sensor) as
// Kafka's sensors are, created on first use and dropped after an hour
// without traffic. Thread-safe; called from every network thread.
class client_quota_manager {
public:
    using image_source = std::function<std::shared_ptr<const metadata::metadata_image>()>;
    using clock = std::function<int64_t()>;  // ms; a steady clock by default

    client_quota_manager(image_source image, metrics::registry& metrics, window_config config = {},
                         clock now = nullptr);

    // Records the cost and answers the throttle time in ms (0: none): the
    // largest of the produce, fetch and request-percentage throttles.
    int32_t record(const request_cost& cost);

private:
    enum class quota_type { produce, fetch, request };
    struct sensor {
        std::mutex lock;
        windowed_rate rate;
        int64_t last_used_ms = 0;
        metrics::histogram* throttle_seconds = nullptr;
    };
    using sensor_key = std::tuple<quota_type, std::string, std::string>;

    int64_t record_one(const metadata::metadata_image& image, quota_type type, std::string_view key,
                       const request_cost& cost, double value, int64_t now);
    std::shared_ptr<sensor> sensor_for(quota_type type, const resolved_quota& quota, int64_t now);
    void expire(int64_t now);

    image_source _image;
    metrics::registry& _metrics;
    window_config _config;
    clock _now;
    std::shared_mutex _sensors_lock;
    std::map<sensor_key, std::shared_ptr<sensor>> _sensors;
    std::atomic<int64_t> _next_expiry_ms{0};
};

}  // namespace strata::quota
