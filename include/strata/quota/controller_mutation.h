// KIP-599's controller mutation quota (`controller_mutation_rate`), with
// Kafka's semantics (ControllerMutationQuotaManager): the partitions a
// client creates or deletes (CreateTopics, CreatePartitions, DeleteTopics)
// are taken from a token bucket per (user, client-id) sensor, refilled at
// the quota's rate and holding at most quota x samples x window seconds.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "strata/metadata/image.h"
#include "strata/quota/client_quotas.h"

namespace strata::quota {

// Kafka's TokenBucket stat: `tokens` start full (the first refill covers the
// time since 0), go down by what is recorded and may go negative; they come
// back at `rate` per second up to `burst`. Not thread-safe.
class token_bucket {
public:
    // Refills to now, then answers the tokens left (negative: in debt).
    double measure(double rate, double burst, int64_t now_ms);
    void record(double value, double rate, double burst, int64_t now_ms);

private:
    void refill(double rate, double burst, int64_t now_ms);
    double _tokens = 0;
    int64_t _last_ms = 0;
};

// Kafka's throttle for a bucket in debt: the time it takes to refill to 0.
int64_t token_bucket_throttle_ms(double tokens, double rate);

class controller_mutation_quotas;

// The quota of one request (Kafka's ControllerMutationQuota): strict
// (CreateTopics v6+, CreatePartitions v3+, DeleteTopics v5+) refuses a
// mutation while the bucket is in debt, without recording it; permissive
// (older versions, whose clients do not know THROTTLING_QUOTA_EXCEEDED)
// records every mutation and only throttles. Either way the mutation that
// takes the bucket below zero is let through, and throttle_ms() is the time
// to pay the debt back, for the response's throttle_time_ms. Used by one
// request on one thread; the bucket it draws from is shared (locked).
class mutation_quota {
public:
    mutation_quota() = default;  // unbounded: no controller_mutation_rate applies

    // Records `partitions` mutations. False (strict only): refused, the
    // topic is answered THROTTLING_QUOTA_EXCEEDED.
    bool try_record(double partitions);
    // The throttle of the last refusal (strict) or of the last mutation
    // that left the bucket in debt (permissive), less the time since it was
    // recorded (Kafka's throttleTime: the request may have waited since).
    int32_t throttle_ms() const;
    bool bounded() const { return static_cast<bool>(_sensor); }

private:
    friend class controller_mutation_quotas;
    struct sensor;
    mutation_quota(std::shared_ptr<sensor> sensor, double rate, double burst, bool strict,
                   std::function<int64_t()> now)
        : _sensor(std::move(sensor)), _rate(rate), _burst(burst), _strict(strict), _now(std::move(now)) {}

    std::shared_ptr<sensor> _sensor;
    double _rate = 0;
    double _burst = 0;
    bool _strict = false;
    std::function<int64_t()> _now;
    int64_t _throttle_ms = 0;
    int64_t _throttled_at_ms = 0;
};

// The buckets, one per (user tag, client tag) as Kafka's sensors are (the
// tags `resolve` names), created on first use and dropped after an hour
// idle. Thread-safe.
class controller_mutation_quotas {
public:
    using image_source = std::function<std::shared_ptr<const metadata::metadata_image>()>;
    using clock = std::function<int64_t()>;  // ms; a steady clock by default

    // `config`: controller.quota.window.num and .size.seconds, which size
    // the bucket (burst = rate x samples x window).
    controller_mutation_quotas(image_source image, metrics::registry& metrics, window_config config = {},
                               clock now = nullptr);

    // Kafka's newQuotaFor(request, strictSinceVersion).
    mutation_quota for_request(std::string_view user, std::string_view client_id, bool strict);

private:
    image_source _image;
    metrics::registry& _metrics;
    window_config _config;
    clock _now;
    std::mutex _lock;
    std::map<std::pair<std::string, std::string>, std::shared_ptr<mutation_quota::sensor>> _sensors;
    int64_t _next_expiry_ms = 0;
};

}  // namespace strata::quota
