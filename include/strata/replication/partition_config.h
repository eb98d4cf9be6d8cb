// A partition's effective settings: the broker's defaults overridden by the
// topic's own configs from the metadata image (Kafka's topic property names).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/storage/log_config.h"

namespace strata::replication {

inline constexpr int64_t no_timestamp_bound = INT64_MAX;

struct partition_config {
    storage::log_config log;
    int32_t min_insync_replicas = 1;  // min.insync.replicas
    // message.timestamp.before.max.ms / message.timestamp.after.max.ms
    // (KIP-937; message.timestamp.difference.max.ms sets both when they are
    // unset). Checked only for CreateTime topics.
    int64_t timestamp_before_max_ms = no_timestamp_bound;
    int64_t timestamp_after_max_ms = no_timestamp_bound;
    // replica.lag.time.max.ms: a broker setting (topics cannot override it),
    // carried here because the leader's ISR shrink reads it.
    int64_t replica_lag_time_max_ms = 30000;
    // producer.id.expiration.ms: idempotent producers silent this long are
    // forgotten (Kafka's default: one day).
    int64_t producer_id_expiration_ms = 86'400'000;
};

// `defaults` with every key of `topic_configs` that the topic config table
// (topic_config.h) maps into the partition applied. Values were
// validated when the config was set (by the controller), so one that does
// not parse here is skipped and named in `problems` rather than refused.
partition_config resolve_partition_config(const partition_config& defaults, const metadata::config_map& topic_configs,
                                          std::vector<std::string>* problems = nullptr);

}  // namespace strata::replication
