#include "strata/server/data_plane.h"

#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <stdexcept>
#include <thread>


#include "controller_channel.h"
#include "data_path.h"
#include "strata/common/log.h"
#include "strata/net/task_gate.h"
#include "strata/metrics/registry.h"
#include "strata/replication/replica_fetcher.h"
#include "strata/server/cluster_security.h"
#include "topic_configs.h"

namespace strata::server {

namespace {
// num.io.threads, 0: one per core.
size_t io_threads(const broker_config& config) {
    if (config.num_io_threads > 0) return static_cast<size_t>(config.num_io_threads);
    return std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

struct data_plane::impl {
    explicit impl(size_t threads) : strands(threads) {}
    // The leaders' AlterPartition calls, on the controller channel's
    // executor (the metadata quorum's). First declared: outlives the
    // partitions whose strands spawn them.
    net::task_gate alter_partitions{"data plane"};
    // Partition strands do page-cache writes and bookkeeping only (fsync is
    // on storage's flusher threads), so they need no more threads than
    // cores: num.io.threads, one per core by default.
    boost::asio::thread_pool strands;
    std::unique_ptr<storage::log_manager> logs;
    // Declared before the partitions, which its partitions' callbacks reach:
    // destroyed after them.
    std::unique_ptr<replication::replica_fetcher_manager> fetchers;
    std::unique_ptr<replication::partition_manager> partitions;
    const replication::partition_manager* partitions_view = nullptr;  // set once made
    bool stopped = false;
};

namespace {

namespace pm = protocol::messages;

// One AlterPartition for one partition, on the controller channel's executor.
boost::asio::awaitable<void> send_alter_partition(controller_channel* controller, pm::alter_partition_request request,
                                                  std::function<void(replication::isr_update_result)> done) {
    constexpr auto timeout = std::chrono::milliseconds(5000);
    auto response = co_await controller->alter_partition(std::move(request), timeout);
    replication::isr_update_result result;
    result.error = static_cast<kafka_error>(response.error_code);
    if (result.error == kafka_error::none) {
        result.error = kafka_error::unknown_server_error;  // unless the partition is in the answer
        for (const auto& t : response.topics) {
            for (const auto& p : t.partitions) {
                result.error = static_cast<kafka_error>(p.error_code);
                result.partition_epoch = p.partition_epoch;
                result.isr = p.isr;
            }
        }
    }
    done(std::move(result));
}

replication::isr_update_sender isr_sender(controller_channel* controller, const replication::partition_manager* const* partitions,
                                          int32_t node_id, net::task_gate* tasks) {
    if (!controller) return {};
    return [controller, partitions, node_id, tasks](replication::isr_update_request change,
                                             std::function<void(replication::isr_update_result)> done) {
        auto image = (*partitions)->image();
        const auto* self = image ? image->broker(node_id) : nullptr;
        pm::alter_partition_request request;
        request.broker_id = node_id;
        request.broker_epoch = self ? self->epoch : -1;
        auto& topic = request.topics.emplace_back();
        topic.topic_id = change.topic_id;
        topic.topic_name = change.tp.topic;
        auto& p = topic.partitions.emplace_back();
        p.partition_index = change.tp.partition.value();
        p.leader_epoch = change.epoch.value();
        p.partition_epoch = change.partition_epoch;
        p.leader_recovery_state = 0;
        for (const auto& member : change.isr) {
            auto& m = p.new_isr_with_epochs.emplace_back();
            m.broker_id = member.id;
            m.broker_epoch = member.broker_epoch;
        }
        // Refused only once the data plane stops, when no answer is awaited.
        tasks->spawn(controller->executor(), send_alter_partition(controller, std::move(request), std::move(done)));
    };
}

}  // namespace

data_plane::data_plane(const broker_config& config, metadata::metadata_service& metadata,
                       controller_channel* controller, metrics::registry* registry, protocol::uuid incarnation,
                       std::function<void(const std::string& dir, const std::string& cause)> on_log_dir_failure)
    : _impl(std::make_unique<impl>(io_threads(config))) {
    if (config.log_dirs.empty()) throw std::runtime_error("log.dirs is empty");
    storage::log_manager_config log_config;
    log_config.data_dir = config.log_dirs.front();
    log_config.cleaner_backoff_ms = config.log_cleaner_backoff_ms;
    if (registry)
        log_config.flush_seconds = &registry->histogram(
            "strata_log_flush_seconds",
            "Time of each fsync pass of a partition log that had data to sync, in seconds; its count is the flush "
            "rate (Kafka: LogFlushStats LogFlushRateAndTimeMs).",
            metrics::latency_buckets_seconds());
    if (on_log_dir_failure)
        log_config.on_dir_failure = [handler = std::move(on_log_dir_failure)](const std::string& dir,
                                                                              const storage::storage_error& cause) {
            handler(dir, storage::to_string(cause));
        };
    auto opened = storage::log_manager::open(log_config);
    if (!opened) throw std::runtime_error("cannot open the logs in " + log_config.data_dir + ": " + storage::to_string(opened.error()));
    _impl->logs = std::move(opened).value();

    replication::partition_manager_options options;
    options.node_id = config.node_id;
    options.incarnation_id = incarnation;
    options.defaults = partition_defaults(config);
    // Dynamic broker configs (kafka-configs.sh --entity-type brokers) become
    // the defaults of every topic without its own override.
    options.dynamic_defaults = [config](const metadata::metadata_image& image) {
        return dynamic_topic_defaults(dynamic_configs_of(image, config.node_id), config);
    };
    const replication::partition_manager* const* manager = &_impl->partitions_view;
    options.isr_sender = isr_sender(controller, manager, config.node_id, &_impl->alter_partitions);

    replication::replica_fetcher_options fetch;
    fetch.node_id = config.node_id;
    fetch.listener = config.inter_broker_listener_name;
    fetch.security = cluster_client_security(config, config.inter_broker_listener_name);
    fetch.fetch_max_bytes = config.replica_fetch_max_bytes;
    fetch.fetch_response_max_bytes = config.replica_fetch_response_max_bytes;
    fetch.fetch_wait_max_ms = config.replica_fetch_wait_max_ms;
    fetch.num_fetchers = config.num_replica_fetchers;
    fetch.backoff = std::chrono::milliseconds(config.replica_fetch_backoff_ms);
    fetch.isr_check_interval = std::chrono::milliseconds(std::max<int64_t>(config.replica_lag_time_max_ms / 2, 1));
    fetch.image = [manager] { return (*manager)->image(); };
    fetch.leaders = [manager] { return (*manager)->leaders(); };
    fetch.unreachable = std::make_shared<replication::unreachable_brokers>();
    options.unreachable = fetch.unreachable;
    _impl->fetchers = std::make_unique<replication::replica_fetcher_manager>(fetch);
    auto* fetchers = _impl->fetchers.get();
    options.on_follow = [fetchers](const std::shared_ptr<replication::partition>& p, int32_t leader,
                                   replication::leader_epoch epoch) { fetchers->follow(p, leader, epoch); };

    _impl->partitions =
        std::make_unique<replication::partition_manager>(options, *_impl->logs, _impl->strands.get_executor());
    _impl->partitions_view = _impl->partitions.get();
    _impl->fetchers->start();
    auto* partitions = _impl->partitions.get();
    metadata.on_image([partitions](const std::shared_ptr<const metadata::metadata_image>& image,
                                   const metadata::image_changes& changes) {
        partitions->apply(image, changes, changes.from_snapshot);
    });
}

data_plane::~data_plane() { stop(); }

replication::partition_manager& data_plane::partitions() { return *_impl->partitions; }
const storage::log_manager& data_plane::logs() const { return *_impl->logs; }

void data_plane::stop() {
    if (_impl->stopped) return;
    _impl->stopped = true;
    _impl->fetchers->stop();
    _impl->partitions->stop_all();
    _impl->strands.join();
    // No strand spawns an AlterPartition from here on. The metadata quorum
    // has stopped before (broker::stop): each call has ended, or was
    // abandoned with the quorum's context (its frame is destroyed with it,
    // never resumed), so there is nothing left to wait for.
    (void)_impl->alter_partitions.close_and_wait(std::chrono::milliseconds(0));
    if (auto r = _impl->logs->shutdown(); !r)
        log::get("server")->error("log shutdown failed: {}", storage::to_string(r.error()));
}

}  // namespace strata::server
