#include "observability.h"

#include "strata/metrics/purgatory.h"

#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>

#include <fmt/format.h>

namespace strata::broker {

namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

int32_t parse_int(const metadata::config_map& configs, std::string_view key, int32_t fallback) {
    auto found = configs.find(key);
    if (found == configs.end()) return fallback;
    int32_t value = fallback;
    std::from_chars(found->second.data(), found->second.data() + found->second.size(), value);
    return value;
}

// Kafka's ReplicaManager IsrShrinksPerSec / IsrExpandsPerSec, counted on the
// leader when the metadata log commits its AlterPartition: a partition this
// broker leads whose ISR got smaller or larger under the same leader epoch.
struct isr_change_counter {
    metrics::counter& shrinks;
    metrics::counter& expands;
    int32_t node_id;
    std::shared_ptr<const metadata::metadata_image> previous;  // the service's strand only

    void on_image(const std::shared_ptr<const metadata::metadata_image>& image, const metadata::image_changes& changes) {
        if (previous && !changes.from_snapshot) {
            for (const auto& id : changes.changed_topics) {
                const auto* now = image->topic(id);
                const auto* before = previous->topic(id);
                if (!now || !before) continue;
                const size_t common = std::min(now->partitions.size(), before->partitions.size());
                for (size_t p = 0; p < common; ++p) {
                    const auto& a = before->partitions[p];
                    const auto& b = now->partitions[p];
                    if (b.leader != node_id || a.leader != node_id || a.leader_epoch != b.leader_epoch) continue;
                    if (b.isr.size() < a.isr.size()) shrinks.inc();
                    if (b.isr.size() > a.isr.size()) expands.inc();
                }
            }
        }
        previous = image;
    }
};

// Process metrics under the names every Prometheus client library uses, so
// that stock dashboards find them.
double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return double(resident) * double(sysconf(_SC_PAGESIZE));
}

// A broker with 10,000 partitions has tens of thousands of descriptors, and
// listing /proc/self/fd costs about 1 us each (9 ms at 10,000): Linux 6.2+
// gives their number as the directory's size instead; older kernels say 0
// there, and get the listing.
double open_fds() {
    struct stat fd_dir {};
    if (stat("/proc/self/fd", &fd_dir) == 0 && fd_dir.st_size > 0) return double(fd_dir.st_size);
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return -1;
    double count = 0;
    while (const dirent* entry = readdir(dir))
        if (entry->d_name[0] != '.') ++count;
    closedir(dir);
    return count - 1;  // the descriptor opendir holds
}

double max_fds() {
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur == RLIM_INFINITY ? -1 : double(limit.rlim_cur);
}

// What this thread has run for: the cost of a render without the time other
// threads (and processes) took the core from it.
double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) / 1e9;
}

std::vector<metrics::sample> one(double value) {
    return {{{}, value}};
}

}  // namespace

observability::observability(const server::broker_config& config, metrics::registry& registry,
                             server::metadata_quorum& quorum, replication::partition_manager* partitions)
    : _config(config),
      _registry(registry),
      _quorum(quorum),
      _partitions(partitions),
      _start_time_seconds(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()),
      _render_seconds(registry.gauge("strata_metrics_render_seconds",
                                     "How long the previous /metrics took to render, in seconds (wall time).")),
      _render_cpu_seconds(registry.gauge("strata_metrics_render_cpu_seconds",
                                         "CPU time the previous /metrics render took on its thread, in seconds.")) {
    if (partitions) {
        auto counter = std::make_shared<isr_change_counter>(isr_change_counter{
            registry.counter("strata_isr_shrinks_total",
                             "ISR shrinks of partitions this broker leads (Kafka: ReplicaManager IsrShrinksPerSec)."),
            registry.counter("strata_isr_expands_total",
                             "ISR expansions of partitions this broker leads (Kafka: ReplicaManager IsrExpandsPerSec)."),
            config.node_id, nullptr});
        quorum.metadata().on_image([counter](const auto& image, const auto& changes) { counter->on_image(image, changes); });
        add("strata_purgatory_size",
            "Requests waiting: `produce` counts each partition of an acks=all produce waiting for the ISR, "
            "`fetch` each fetch in its long poll (Kafka: DelayedOperationPurgatory PurgatorySize).",
            metrics::metric_type::gauge, [] {
                auto value = [](metrics::purgatory& p) { return double(p.size.load(std::memory_order_relaxed)); };
                return std::vector<metrics::sample>{{{{"operation", "produce"}}, value(metrics::produce_purgatory())},
                                                    {{{"operation", "fetch"}}, value(metrics::fetch_purgatory())}};
            });
    }
    register_collectors();
}

observability::~observability() {
    for (const auto& name : _collectors) _registry.remove_collector(name);
}

observability::partition_summary observability::summarize(const metadata::metadata_image& image, int32_t node_id,
                                                          bool active_controller, int32_t default_min_isr) {
    partition_summary s;
    const auto& cluster_defaults = image.configs({metadata::config_resource_type::broker, ""});
    const auto& own_defaults = image.configs({metadata::config_resource_type::broker, std::to_string(node_id)});
    const int32_t broker_min_isr =
        parse_int(own_defaults, "min.insync.replicas", parse_int(cluster_defaults, "min.insync.replicas", default_min_isr));
    for (const auto& [name, topic] : image.topics()) {
        ++s.global_topics;
        int32_t min_isr = -1;  // looked up once per topic, when it has a partition led here
        for (const auto& p : topic->partitions) {
            ++s.global_partitions;
            if (p.leader == metadata::no_leader) ++s.offline;
            if (!contains(p.replicas, node_id)) continue;
            ++s.partitions;
            if (p.leader != node_id) continue;
            ++s.leaders;
            if (p.isr.size() < p.replicas.size()) ++s.under_replicated;
            if (min_isr < 0)
                min_isr = parse_int(image.configs({metadata::config_resource_type::topic, name}), "min.insync.replicas",
                                    broker_min_isr);
            if (int64_t(p.isr.size()) < min_isr) ++s.under_min_isr;
            else if (int64_t(p.isr.size()) == min_isr) ++s.at_min_isr;
        }
    }
    for (const auto& [id, broker] : image.brokers()) ++(broker.fenced ? s.fenced_brokers : s.active_brokers);
    if (!active_controller) {
        s.offline = s.global_partitions = s.global_topics = s.active_brokers = s.fenced_brokers = 0;
    }
    return s;
}

observability::partition_summary observability::current_summary() const {
    auto image = _quorum.metadata().image();
    const bool active = _config.has_role("controller") && _quorum.metadata().controller_id() == _config.node_id;
    std::lock_guard lock(_cache_mutex);
    if (image && (image != _cached_image || active != _cached_active)) {
        _cached = summarize(*image, _config.node_id, active, _config.min_insync_replicas);
        _cached_image = image;
        _cached_active = active;
    }
    return _cached;
}

void observability::add(const char* name, const char* help, metrics::metric_type type,
                        std::function<std::vector<metrics::sample>()> collect) {
    _registry.add_collector(name, help, type, std::move(collect));
    _collectors.emplace_back(name);
}

void observability::register_collectors() {
    register_partition_collectors();
    register_metadata_collectors();
    register_process_collectors();
}

void observability::register_partition_collectors() {
    using metrics::metric_type;
    auto summary_gauge = [&](const char* name, const char* help, int64_t partition_summary::*field) {
        add(name, help, metric_type::gauge, [this, field] { return one(double(current_summary().*field)); });
    };
    summary_gauge("strata_partitions", "Partitions with a replica on this broker (Kafka: ReplicaManager PartitionCount).",
                  &partition_summary::partitions);
    summary_gauge("strata_leader_partitions", "Partitions this broker leads (Kafka: ReplicaManager LeaderCount).",
                  &partition_summary::leaders);
    summary_gauge("strata_under_replicated_partitions",
                  "Partitions led here whose ISR is smaller than their replica set (Kafka: ReplicaManager "
                  "UnderReplicatedPartitions).",
                  &partition_summary::under_replicated);
    summary_gauge("strata_under_min_isr_partitions",
                  "Partitions led here whose ISR is below min.insync.replicas: acks=all produce fails (Kafka: "
                  "ReplicaManager UnderMinIsrPartitionCount).",
                  &partition_summary::under_min_isr);
    summary_gauge("strata_at_min_isr_partitions",
                  "Partitions led here whose ISR is exactly min.insync.replicas (Kafka: ReplicaManager "
                  "AtMinIsrPartitionCount).",
                  &partition_summary::at_min_isr);
    summary_gauge("strata_offline_partitions",
                  "Partitions without a leader; reported by the active controller, 0 elsewhere (Kafka: KafkaController "
                  "OfflinePartitionsCount).",
                  &partition_summary::offline);
    summary_gauge("strata_global_partitions",
                  "Partitions in the cluster; active controller only (Kafka: KafkaController GlobalPartitionCount).",
                  &partition_summary::global_partitions);
    summary_gauge("strata_global_topics",
                  "Topics in the cluster; active controller only (Kafka: KafkaController GlobalTopicCount).",
                  &partition_summary::global_topics);
    summary_gauge("strata_active_brokers",
                  "Registered unfenced brokers; active controller only (Kafka: KafkaController ActiveBrokerCount).",
                  &partition_summary::active_brokers);
    summary_gauge("strata_fenced_brokers",
                  "Registered fenced brokers; active controller only (Kafka: KafkaController FencedBrokerCount).",
                  &partition_summary::fenced_brokers);
}

void observability::register_metadata_collectors() {
    using metrics::metric_type;
    add("strata_active_controllers",
        "1 on the active controller, else 0 (Kafka: KafkaController ActiveControllerCount).", metric_type::gauge, [this] {
            const bool active = _config.has_role("controller") && _quorum.metadata().controller_id() == _config.node_id;
            return one(active ? 1 : 0);
        });
    add("strata_metadata_last_applied_offset",
        "Offset of the last metadata log entry applied to this node's image (Kafka: KafkaController "
        "LastAppliedRecordOffset, broker-metadata-metrics last-applied-record-offset).",
        metric_type::gauge, [this] { return one(double(_quorum.metadata().image()->end_offset() - 1)); });
    add("strata_metadata_high_watermark",
        "The metadata log's high watermark as this node knows it: its committed end (Kafka: raft-metrics "
        "high-watermark).",
        metric_type::gauge, [this] { return one(double(_quorum.node().status().high_watermark.value())); });
    add("strata_metadata_lag_records",
        "Committed metadata log entries this node has not applied yet (high watermark - applied end).",
        metric_type::gauge, [this] {
            const auto hw = _quorum.node().status().high_watermark.value();
            return one(double(std::max<int64_t>(0, hw - _quorum.metadata().image()->end_offset())));
        });
    add("strata_raft_current_epoch", "The metadata quorum's epoch as this node knows it (Kafka: raft-metrics current-epoch).",
        metric_type::gauge, [this] { return one(double(_quorum.node().status().current_epoch.value())); });
    add("strata_raft_current_leader",
        "The metadata quorum's leader id, -1 when none is known (Kafka: raft-metrics current-leader).",
        metric_type::gauge, [this] {
            const auto leader = _quorum.node().status().leader;
            return one(leader ? double(leader->value()) : -1.0);
        });
    add("strata_raft_state",
        "1 for this node's role in the metadata quorum (Kafka: raft-metrics current-state).", metric_type::gauge, [this] {
            return std::vector<metrics::sample>{
                {{{"state", std::string(raft::to_string(_quorum.node().status().role))}}, 1.0}};
        });
}

void observability::register_process_collectors() {
    using metrics::metric_type;
    add("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", metric_type::counter,
        [] { return one(cpu_seconds()); });
    add("process_resident_memory_bytes", "Resident memory size, in bytes.", metric_type::gauge,
        [] { return one(resident_bytes()); });
    add("process_open_fds", "Open file descriptors.", metric_type::gauge, [] { return one(open_fds()); });
    add("process_max_fds", "The limit of open file descriptors.", metric_type::gauge, [] { return one(max_fds()); });
    add("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.", metric_type::gauge,
        [this] { return one(_start_time_seconds); });
}

void observability::watch_http(const http::server* server) {
    if (!server) return;
    add("strata_http_connections", "Open HTTP connections.", metrics::metric_type::gauge,
        [server] { return one(double(server->connection_count())); });
    add("strata_http_responses_total", "HTTP responses sent, by status class.", metrics::metric_type::counter,
        [server] {
            std::vector<metrics::sample> out;
            for (unsigned c = 2; c <= 5; ++c)
                out.push_back({{{"code", fmt::format("{}xx", c)}}, double(server->responses(c))});
            return out;
        });
}

void observability::watch_logs(const storage::log_manager* logs) {
    if (!logs) return;
    // One pass over the open logs per scrape: a few microseconds each.
    auto stats = [logs, this]() -> storage::log_dir_stats {
        std::lock_guard lock(_cache_mutex);
        const auto now = std::chrono::steady_clock::now();
        if (now - _dir_stats_at > std::chrono::milliseconds(100)) {
            _dir_stats = logs->dir_stats();
            _dir_stats_at = now;
        }
        return _dir_stats;
    };
    add("strata_log_segments", "Segments in the log directory (Kafka: the sum of Log NumLogSegments).",
        metrics::metric_type::gauge, [stats] {
            auto s = stats();
            return std::vector<metrics::sample>{{{{"log_dir", s.dir}}, double(s.segments)}};
        });
    add("strata_log_size_bytes", "Bytes of segments in the log directory (Kafka: the sum of Log Size).",
        metrics::metric_type::gauge, [stats] {
            auto s = stats();
            return std::vector<metrics::sample>{{{{"log_dir", s.dir}}, double(s.bytes)}};
        });
    add("strata_log_partitions", "Partition logs open in the log directory.", metrics::metric_type::gauge, [stats] {
        auto s = stats();
        return std::vector<metrics::sample>{{{{"log_dir", s.dir}}, double(s.logs)}};
    });
    add("strata_log_dir_offline",
        "1 when an I/O error took the log directory offline, else 0 (Kafka: OfflineLogDirectoryCount, and "
        "LogDirectoryOffline per directory). The broker stops once its last directory is offline.",
        metrics::metric_type::gauge, [logs, stats] {
            // Read now, not from the 100 ms cache: the broker stops soon after.
            return std::vector<metrics::sample>{{{{"log_dir", stats().dir}}, logs->offline() ? 1.0 : 0.0}};
        });
}

http::readiness_facts observability::readiness() const {
    http::readiness_facts f;
    f.node_id = _config.node_id;
    f.broker_role = _partitions != nullptr;
    f.controller_id = _quorum.metadata().controller_id();
    const auto image = _quorum.metadata().image();
    f.applied_offset = image->end_offset();
    f.high_watermark = _quorum.node().status().high_watermark.value();
    f.session_timeout_ms = _config.broker_session_timeout_ms;
    if (!_partitions) return f;
    if (const auto* self = image->broker(_config.node_id)) {
        f.registered = true;
        f.fenced = self->fenced;
        f.in_controlled_shutdown = self->in_controlled_shutdown;
    }
    if (auto answered = _quorum.last_heartbeat_answer())
        f.heartbeat_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - *answered).count();
    // The partition manager's own image: the one its partition table follows.
    const auto hosted = _partitions->image();
    if (!hosted) return f;
    for (const auto& [name, topic] : hosted->topics()) {
        for (const auto& p : topic->partitions) {
            bool counted = false;
            if (p.leader == metadata::no_leader && contains(p.isr, _config.node_id)) {
                ++f.offline_partitions_to_lead;
                counted = true;
            } else if (p.leader == _config.node_id && !_partitions->find(name, p.partition).leader) {
                ++f.leaderships_pending;
                counted = true;
            }
            if (counted && f.examples.size() < 5) f.examples.push_back(fmt::format("{}-{}", name, p.partition));
        }
    }
    return f;
}

void observability::add_routes(http::router& routes) {
    using http::response;
    routes.add("GET", "/metrics", [this](const http::request& r) -> boost::asio::awaitable<response> {
        // OpenMetrics when the scraper lists it (Prometheus does, first);
        // the 0.0.4 text format otherwise.
        const bool openmetrics = r.header("accept").find("application/openmetrics-text") != std::string_view::npos;
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = thread_cpu_seconds();
        response out;
        out.body = _registry.render(openmetrics ? metrics::exposition::openmetrics : metrics::exposition::prometheus);
        out.content_type = openmetrics ? metrics::openmetrics_content_type : metrics::prometheus_content_type;
        _render_seconds.set(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        _render_cpu_seconds.set(thread_cpu_seconds() - cpu_start);
        co_return out;
    });
    routes.add("GET", "/health/live", [this](const http::request&) -> boost::asio::awaitable<response> {
        const auto v = http::liveness(
            _config.node_id, std::chrono::duration<double>(std::chrono::steady_clock::now() - _started).count());
        co_return response{v.status(), "application/json", v.json, {}};
    });
    routes.add("GET", "/health/ready", [this](const http::request&) -> boost::asio::awaitable<response> {
        const auto v = http::evaluate_readiness(readiness());
        co_return response{v.status(), "application/json", v.json, {}};
    });
}

}  // namespace strata::broker
