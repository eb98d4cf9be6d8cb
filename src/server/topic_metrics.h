// Per-topic traffic counters, Kafka's BrokerTopicMetrics: bytes and messages
// appended by produce, bytes read by consumers, and the bytes followers
// fetch (ReplicationBytesOutPerSec, broker-wide).
//
// Shared by the produce and fetch handlers on every network thread. A
// topic's counters are registered at its first use and then found under a
// shared lock; updating them is a relaxed atomic add.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "strata/metrics/registry.h"

namespace strata::server {

class topic_metrics {
public:
    explicit topic_metrics(metrics::registry& registry);

    struct series {
        metrics::counter* bytes_in = nullptr;
        metrics::counter* messages_in = nullptr;
        metrics::counter* bytes_out = nullptr;
    };
    // The topic's counters, registered at the first call.
    const series& of(std::string_view topic);
    metrics::counter& replication_bytes_out() { return _replication_bytes_out; }

private:
    metrics::registry& _registry;
    metrics::counter& _replication_bytes_out;
    std::shared_mutex _mutex;
    std::unordered_map<std::string, std::unique_ptr<series>> _topics;
};

}  // namespace strata::server
