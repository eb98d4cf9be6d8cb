// Per-topic traffic counters, Kafka's BrokerTopicMetrics: bytes and messages
// appended by produce, bytes read by consumers, and the bytes followers
// fetch (ReplicationBytesOutPerSec, broker-wide).
//
// Shared by the produce and fetch handlers on every network thread. A
// topic's counters are created at its first use and then found under a
// shared lock; updating them is a relaxed atomic add. They are rendered by
// collectors rather than registered as registry series so that a deleted
// topic's series can go, as Kafka removes a deleted topic's
// BrokerTopicMetrics: each render drops the topics the metadata image no
// longer has (or has under another id: deleted and created again).
#pragma once

#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/metrics/registry.h"

namespace strata::server {

class topic_metrics {
public:
    using image_source = std::function<std::shared_ptr<const metadata::metadata_image>()>;
    // `image`: the broker's current metadata image, which decides what is
    // deleted; empty: topics are never dropped (tests without metadata).
    explicit topic_metrics(metrics::registry& registry, image_source image = {});
    ~topic_metrics();
    topic_metrics(const topic_metrics&) = delete;
    topic_metrics& operator=(const topic_metrics&) = delete;

    struct series {
        metrics::counter bytes_in;
        metrics::counter messages_in;
        metrics::counter bytes_out;
        protocol::uuid topic_id{};  // the topic's id when created (zero: unknown)
    };
    // The topic's counters, created at the first call. Shared: a caller that
    // keeps them across a wait may outlive the topic's deletion harmlessly.
    std::shared_ptr<series> of(std::string_view topic);
    metrics::counter& replication_bytes_out() { return _replication_bytes_out; }

private:
    // The live topics' counters, deleted topics dropped first.
    std::vector<std::pair<std::string, std::shared_ptr<series>>> live();

    metrics::registry& _registry;
    image_source _image;
    metrics::counter& _replication_bytes_out;
    std::shared_mutex _mutex;
    std::unordered_map<std::string, std::shared_ptr<series>> _topics;
};

}  // namespace strata::server
