#include "topic_metrics.h"

#include <mutex>

namespace strata::server {

topic_metrics::topic_metrics(metrics::registry& registry)
    : _registry(registry),
      _replication_bytes_out(registry.counter(
          "strata_replication_bytes_out_total",
          "Bytes of records sent to follower replicas (Kafka: BrokerTopicMetrics ReplicationBytesOutPerSec).")) {}

const topic_metrics::series& topic_metrics::of(std::string_view topic) {
    {
        std::shared_lock lock(_mutex);
        if (auto found = _topics.find(std::string(topic)); found != _topics.end()) return *found->second;
    }
    std::unique_lock lock(_mutex);
    auto& slot = _topics[std::string(topic)];
    if (!slot) {
        const metrics::labels labels{{"topic", std::string(topic)}};
        slot = std::make_unique<series>();
        slot->bytes_in = &_registry.counter(
            "strata_bytes_in_total",
            "Bytes of record batches appended by produce requests, by topic (Kafka: BrokerTopicMetrics "
            "BytesInPerSec).",
            labels);
        slot->messages_in = &_registry.counter(
            "strata_messages_in_total",
            "Records appended by produce requests, by topic (Kafka: BrokerTopicMetrics MessagesInPerSec).", labels);
        slot->bytes_out = &_registry.counter(
            "strata_bytes_out_total",
            "Bytes of records sent to consumers, by topic; followers not included (Kafka: BrokerTopicMetrics "
            "BytesOutPerSec).",
            labels);
    }
    return *slot;
}

}  // namespace strata::server
