// What the broker tells operators about itself: the cluster-state metrics
// Kafka operators alert on (partition states, controller, metadata log, ISR
// changes), process metrics, and the HTTP routes that serve them with the
// health checks. Everything here reads state the other subsystems keep; it
// changes none of it.
//
// Owned by broker::broker, made after the metadata quorum (and data plane)
// exist and before the quorum starts (it follows the metadata images), and
// destroyed before them. The collectors and handlers run on any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "strata/http/health.h"
#include "strata/http/server.h"
#include "strata/metadata/image.h"
#include "strata/metrics/registry.h"
#include "strata/replication/partition_manager.h"
#include "strata/server/broker_config.h"
#include "strata/server/metadata_quorum.h"
#include "strata/storage/log_manager.h"

namespace strata::broker {

class observability {
public:
    // `partitions` is null on a node without the broker role.
    observability(const server::broker_config& config, metrics::registry& registry, server::metadata_quorum& quorum,
                  replication::partition_manager* partitions);
    ~observability();  // removes its collectors from the registry

    observability(const observability&) = delete;
    observability& operator=(const observability&) = delete;

    // /metrics, /health/live, /health/ready.
    void add_routes(http::router& routes);
    // The HTTP listener's own gauges, once it runs (null: none).
    void watch_http(const http::server* server);  // before its stop()
    // Segment count and bytes of the log directory (outliving this object).
    void watch_logs(const storage::log_manager* logs);

    http::readiness_facts readiness() const;

    // Partition states as this broker reports them (Kafka's ReplicaManager and
    // KafkaController gauges), computed from one metadata image.
    struct partition_summary {
        int64_t partitions = 0;  // replicas hosted here
        int64_t leaders = 0;
        int64_t under_replicated = 0;  // led here, ISR smaller than the replicas
        int64_t under_min_isr = 0;     // led here, ISR below min.insync.replicas
        int64_t at_min_isr = 0;
        // Cluster-wide (reported by the active controller only, as Kafka does).
        int64_t offline = 0;  // no leader
        int64_t global_partitions = 0;
        int64_t global_topics = 0;
        int64_t active_brokers = 0;
        int64_t fenced_brokers = 0;
    };
    static partition_summary summarize(const metadata::metadata_image& image, int32_t node_id, bool active_controller,
                                       int32_t default_min_isr);

private:
    void add(const char* name, const char* help, metrics::metric_type type,
             std::function<std::vector<metrics::sample>()> collect);
    void register_collectors();
    void register_partition_collectors();
    void register_metadata_collectors();
    void register_process_collectors();
    partition_summary current_summary() const;

    const server::broker_config& _config;
    metrics::registry& _registry;
    server::metadata_quorum& _quorum;
    replication::partition_manager* _partitions;
    const std::chrono::steady_clock::time_point _started = std::chrono::steady_clock::now();
    const double _start_time_seconds;
    std::vector<std::string> _collectors;  // names, removed by the destructor
    metrics::gauge& _render_seconds;
    metrics::gauge& _render_cpu_seconds;

    // The last summary and the image it came from: a scrape of an unchanged
    // image costs nothing.
    mutable std::mutex _cache_mutex;
    mutable std::shared_ptr<const metadata::metadata_image> _cached_image;
    mutable bool _cached_active = false;
    mutable partition_summary _cached;
    // The log directory's sums, reused for 100 ms (three gauges read them).
    mutable storage::log_dir_stats _dir_stats;
    mutable std::chrono::steady_clock::time_point _dir_stats_at;
};

}  // namespace strata::broker
