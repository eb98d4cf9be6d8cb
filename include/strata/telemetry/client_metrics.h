// KIP-714 client metrics on the broker: the subscriptions operators define
// as `client-metrics` config resources, what each client is asked to push
// (GetTelemetrySubscriptions), and the metrics clients push (PushTelemetry),
// kept per client instance and exported on /metrics with the client's labels.
//
// Threads: every call may come from any network thread; one mutex guards
// the clients. The registry's collectors (one per exported metric name) take
// it during a render; a push registers new names after releasing it, so the
// two locks are never taken in the other order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/metadata/image.h"
#include "strata/metrics/registry.h"
#include "strata/protocol/wire.h"
#include "strata/telemetry/otlp.h"

namespace strata::telemetry {

// Kafka's ConfigResource.Type.CLIENT_METRICS.
inline constexpr int8_t client_metrics_resource_type = 16;
inline constexpr auto client_metrics_resource = static_cast<metadata::config_resource_type>(16);

// The configs of a client-metrics resource (Kafka's ClientMetricsConfigs).
inline constexpr std::string_view metrics_config = "metrics";       // list of metric name prefixes; "*": all
inline constexpr std::string_view interval_config = "interval.ms";  // push interval, 100..3600000
inline constexpr std::string_view match_config = "match";           // list of selector=regex
inline constexpr int32_t default_interval_ms = 300000;
inline constexpr int32_t min_interval_ms = 100;
inline constexpr int32_t max_interval_ms = 3600000;
// The largest Metrics payload accepted (Kafka's telemetry.max.bytes default).
inline constexpr int32_t telemetry_max_bytes = 1048576;

// Whether `name` may be set on a client-metrics resource to `value`: nullopt
// when fine, else (error, message) as Kafka answers it.
struct config_problem {
    kafka_error error;
    std::string message;
};
std::optional<config_problem> check_client_metrics_config(std::string_view name, std::string_view value);

// What a client is, for the match selectors and the exported labels.
struct client_identity {
    std::string client_id;
    std::string software_name;
    std::string software_version;
    std::string source_address;
    std::string source_port;
    std::string principal;
};

// What one client is asked to push.
struct subscription {
    int32_t id = 0;  // changes whenever what is asked changes
    int32_t push_interval_ms = default_interval_ms;
    std::vector<std::string> metrics;  // prefixes; [""] means every metric
};

// The subscription of a client under the image's client-metrics resources:
// the union of the metrics of every resource whose match selectors all
// match, at the shortest of their intervals.
subscription resolve_subscription(const metadata::metadata_image& image, const protocol::uuid& instance,
                                  const client_identity& client);

// The Prometheus name of a pushed metric: strata_client_ and its OTLP name
// without the org.apache.kafka. namespace, dots and other characters as '_'.
std::string exported_name(std::string_view otlp_name, bool counter);

class client_metrics_manager {
public:
    using image_source = std::function<std::shared_ptr<const metadata::metadata_image>()>;
    client_metrics_manager(metrics::registry& registry, image_source image);
    ~client_metrics_manager();
    client_metrics_manager(const client_metrics_manager&) = delete;
    client_metrics_manager& operator=(const client_metrics_manager&) = delete;

    struct get_answer {
        protocol::uuid instance;  // assigned when the request's was zero
        subscription what;
    };
    get_answer get_subscriptions(const protocol::uuid& requested, const client_identity& client);

    // Checks, decompresses and decodes one push and keeps its values.
    struct push_answer {
        kafka_error error = kafka_error::none;
        std::string message;  // for the log: Kafka's response has no message
    };
    push_answer push(const protocol::uuid& instance, int32_t subscription_id, bool terminating, int8_t compression,
                     std::span<const uint8_t> payload, const client_identity& client);

    // The codecs a push may use (Kafka's order of preference: zstd, lz4, gzip, snappy).
    static std::vector<int8_t> accepted_compression_types();

    size_t clients() const;

private:
    struct series {
        std::string name;  // exported name
        metrics::labels labels;
        double value = 0;
    };
    struct client_state {
        client_identity identity;
        int32_t interval_ms = default_interval_ms;
        std::chrono::steady_clock::time_point last_push{};
        std::chrono::steady_clock::time_point last_seen{};
        bool pushed = false;
        // By exported name, then by labels (so that a delta adds to its
        // series): a render's collector finds its name in each client.
        std::map<std::string, std::map<std::string, series>, std::less<>> values;
    };
    std::vector<metrics::sample> collect(const std::string& name);
    void forget_expired(std::chrono::steady_clock::time_point now);

    metrics::registry& _registry;
    image_source _image;
    mutable std::mutex _mutex;
    std::unordered_map<std::string, client_state> _clients;  // by instance id (text)
    std::mutex _names_mutex;                                 // taken alone, never with _mutex
    std::set<std::string> _names;                            // collectors registered
};

}  // namespace strata::telemetry
