// Consumer-group metrics on /metrics, for the groups this broker
// coordinates: how many there are by state (Kafka: GroupMetadataManager
// NumGroups*), their committed offsets and, where this broker leads the
// partition, their lag (Kafka's brokers do not export lag; operators run
// Burrow or kafka-lag-exporter for it). Also the high watermark of every
// partition led here, so that lag of partitions led elsewhere is one
// PromQL join away (docs/metrics.md).
#pragma once

#include <string>
#include <vector>

#include "strata/group/group_coordinator.h"
#include "strata/metrics/registry.h"
#include "strata/replication/partition_manager.h"

namespace strata::server {

class group_metrics {
public:
    // Both must outlive this object (the broker's request handler keeps it
    // as a member declared after them).
    group_metrics(metrics::registry& registry, const group::group_coordinator& coordinator,
                  replication::partition_manager& partitions);
    ~group_metrics();  // removes the collectors
    group_metrics(const group_metrics&) = delete;
    group_metrics& operator=(const group_metrics&) = delete;

private:
    metrics::registry& _registry;
    std::vector<std::string> _names;
};

}  // namespace strata::server
