// KIP-612's connection creation rates, with Kafka's semantics
// (ConnectionQuotas): `max.connection.creation.rate` for the broker,
// `listener.name.<l>.max.connection.creation.rate` per listener, and the
// `connection_creation_rate` quota of an IP entity (ClientQuotaRecord; the
// default IP entity for addresses without one of their own).
//
// Each is a windowed rate (quota.window.num x quota.window.size.seconds,
// Kafka's Rate) of accepted connections. Over the broker's or a listener's
// rate the acceptor waits before taking the next connection (the throttle,
// at most one window); over an IP's rate the new connection is closed,
// after the throttle, so that the client cannot reconnect at once.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/metrics/registry.h"
#include "strata/net/server.h"
#include "strata/quota/client_quotas.h"

namespace strata::quota {

// Kafka's throttle for a connection rate over its bound: the time for the
// windowed rate to come back to it, at most one window
// (QuotaUtils.boundedThrottleTime with quota.window.size.seconds).
int64_t connection_throttle_ms(windowed_rate& rate, double bound, int64_t now_ms, const window_config& config);

struct connection_rate_config {
    window_config window;
    // max.connection.creation.rate; INT32_MAX: none.
    int32_t broker_rate = INT32_MAX;
    // listener.name.<l>.max.connection.creation.rate, by listener name.
    std::map<std::string, int32_t, std::less<>> listener_rates;
    // Listeners the broker-wide rate does not count (Kafka's protected
    // inter-broker listener; here the controller listeners, as for
    // max.connections).
    std::vector<std::string> exempt_listeners;
};

// Thread-safe: every listener's accept loop calls it.
class connection_rate_quotas final : public net::connection_rate_limits {
public:
    using image_source = std::function<std::shared_ptr<const metadata::metadata_image>()>;
    using clock = std::function<int64_t()>;  // ms; a steady clock by default

    connection_rate_quotas(connection_rate_config config, image_source image, metrics::registry* metrics,
                           clock now = nullptr);

    int64_t record_listener_connection(std::string_view listener) override;
    int64_t record_ip_connection(std::string_view address) override;

    // The connection_creation_rate that applies to `address` (its own, else
    // the default IP entity's), or nullopt.
    static std::optional<double> ip_quota(const metadata::metadata_image& image, std::string_view address);

private:
    connection_rate_config _config;
    image_source _image;
    clock _now;
    std::mutex _lock;
    windowed_rate _broker;
    std::map<std::string, windowed_rate, std::less<>> _listeners;
    struct ip_sensor {
        windowed_rate rate;
        int64_t last_used_ms = 0;
    };
    std::map<std::string, ip_sensor, std::less<>> _ips;
    int64_t _next_expiry_ms = 0;
    metrics::counter* _listener_throttled = nullptr;
    metrics::histogram* _listener_throttle = nullptr;
    metrics::counter* _ip_throttled = nullptr;
};

}  // namespace strata::quota
