// The broker-wide defaults of every topic setting, from the broker's keys
// (Kafka's log.* names), which a topic's own configs then override.
#include "data_path.h"
#include "strata/server/broker_config.h"

namespace strata::server {

replication::partition_config partition_defaults(const broker_config& config) {
    replication::partition_config out;
    auto& log = out.log;
    log.segment_bytes = size_t(config.log_segment_bytes);
    log.segment_ms = config.effective_roll_ms();
    log.segment_index_bytes = size_t(config.log_index_size_max_bytes);
    log.index_interval_bytes = size_t(config.log_index_interval_bytes);
    log.retention_ms = config.effective_retention_ms();
    log.retention_bytes = config.log_retention_bytes;
    bool compact = false, remove = false;
    for (const auto& policy : config.log_cleanup_policy) {
        compact |= policy == "compact";
        remove |= policy == "delete";
    }
    log.cleanup = compact && remove ? storage::cleanup_policy::compact_and_remove
                  : compact         ? storage::cleanup_policy::compact
                                    : storage::cleanup_policy::remove;
    log.max_message_bytes = size_t(config.message_max_bytes);
    log.timestamp_kind = config.log_message_timestamp_type == "LogAppendTime" ? protocol::timestamp_type::log_append_time
                                                                              : protocol::timestamp_type::create_time;
    out.min_insync_replicas = config.min_insync_replicas;
    out.replica_lag_time_max_ms = config.replica_lag_time_max_ms;
    out.producer_id_expiration_ms = config.producer_id_expiration_ms;
    return out;
}

}  // namespace strata::server
