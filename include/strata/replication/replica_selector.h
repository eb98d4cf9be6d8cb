// KIP-392: which replica a consumer should read a partition from. The
// partition's leader asks (Fetch v11+, the consumer's `client.rack` in the
// request's rack_id) and answers with the replica's id in the response's
// preferred_read_replica; the consumer then fetches from that follower until
// it fails or its lease ends (librdkafka: 5 minutes; Java: metadata.max.age.ms).
//
// Pure functions of what the leader knows; no state, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::replication {

// `replica.selector.class`, by Kafka's class names.
enum class replica_selector {
    none,        // unset (Kafka's default): consumers read from the leader
    leader,      // org.apache.kafka.common.replica.LeaderSelector: the same
    rack_aware,  // org.apache.kafka.common.replica.RackAwareReplicaSelector
};

// Kafka's class name to the selector (empty: none); nullopt: unknown.
std::optional<replica_selector> parse_replica_selector(std::string_view class_name);

// One replica as the leader sees it (Kafka's ReplicaView).
struct replica_view {
    int32_t id = -1;
    std::optional<std::string> rack;   // its broker's broker.rack
    int64_t log_end_offset = 0;        // the leader's own, or a follower's last fetch offset
    int64_t time_since_caught_up_ms = 0;
};

// The replica a consumer in `client_rack` reads from, among `leader` and
// `followers` (the in-sync followers that hold the consumer's fetch offset,
// whose brokers the consumer can reach). Kafka's RackAwareReplicaSelector:
// without a client rack, or with no replica in it, the leader; the leader if
// it is in that rack; else the most caught-up replica in it (largest log
// end, then the most recently caught up; then the smallest id, so that the
// answer is stable).
int32_t select_read_replica(replica_selector selector, std::string_view client_rack, const replica_view& leader,
                            const std::vector<replica_view>& followers);

}  // namespace strata::replication
