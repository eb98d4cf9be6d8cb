// The partitions this broker leads, kept in step with the metadata image.
//
// Ownership and threads. One per broker, owned by whoever owns the storage
// log manager it uses (stratad), and outliving the request handlers. apply()
// is called by the metadata publisher, one image at a time; lookups run on
// any thread without a lock: the manager publishes an immutable snapshot
// (image + partition table) through an atomic shared_ptr, copy-on-write. Each
// partition's own state lives on its strand (partition.h) over `executor`.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/metadata/image.h"
#include "strata/replication/partition.h"
#include "strata/replication/partition_config.h"
#include "strata/storage/clock.h"
#include "strata/storage/log_manager.h"

namespace strata::replication {

struct partition_manager_options {
    int32_t node_id = 0;
    // The broker's defaults for every topic setting (log.*, message.max.bytes,
    // min.insync.replicas, ...), which topic configs override.
    partition_config defaults;
    // The topic configs that dynamic broker configs (BROKER ConfigRecords in
    // the image) set for every topic: applied over `defaults`, under the
    // topic's own configs. Unset: none.
    std::function<metadata::config_map(const metadata::metadata_image&)> dynamic_defaults;
    storage::clock* clock = &storage::system_clock::instance();
    // Tests only: called on the log worker when it takes a job, before the
    // log is opened or created (to order deletions against it).
    std::function<void(const topic_partition&)> before_log_opened;
};

// A partition as a request handler finds it: the partition when this broker
// leads it, else the error Kafka answers with.
struct partition_lookup {
    std::shared_ptr<partition> leader;
    kafka_error error = kafka_error::none;
    // The topic's id or name, whichever the request did not give.
    protocol::uuid topic_id;
    std::string topic_name;
};

class partition_manager {
public:
    partition_manager(partition_manager_options options, storage::log_manager& logs,
                      boost::asio::any_io_executor executor);
    ~partition_manager();
    partition_manager(const partition_manager&) = delete;
    partition_manager& operator=(const partition_manager&) = delete;

    // Metadata publisher only. Makes this broker lead the partitions `image`
    // says it leads (the leader epoch and ISR from the image), stops leading
    // the others, and stops and deletes the partitions of deleted topics. The
    // first call (or one with `reconcile_all`) looks at every topic; later ones
    // at those `changes` name.
    //
    // Logs that are not open yet are opened or created by the manager's log
    // worker thread, not here (about 1 ms each: one CreateTopics of thousands
    // of partitions would otherwise hold up the metadata path for seconds).
    // Such a partition becomes leader when its log is ready, at the leadership
    // of the image current then; until then lookups answer
    // NOT_LEADER_OR_FOLLOWER (retriable, as Kafka answers while a partition is
    // not yet created on its leader).
    void apply(std::shared_ptr<const metadata::metadata_image> image, const metadata::image_changes& changes,
               bool reconcile_all = false);

    // Stops every partition and the log worker (shutdown, before the log
    // manager closes). Logs still queued are not opened.
    void stop_all();

    // Blocks until the log worker has nothing queued or running, or `bound`
    // passes; true if idle. For tests and for measuring.
    bool wait_for_pending_logs(std::chrono::milliseconds bound = std::chrono::seconds(30)) const;
    // Partitions led by the image whose logs are not ready yet.
    size_t pending_logs() const;

    // ---- any thread ---------------------------------------------------------
    std::shared_ptr<const metadata::metadata_image> image() const;
    // UNKNOWN_TOPIC_OR_PARTITION when the image has no such topic or
    // partition, NOT_LEADER_OR_FOLLOWER when another broker leads it.
    partition_lookup find(std::string_view topic, int32_t partition) const;
    // As above by topic id; an unknown id is UNKNOWN_TOPIC_ID.
    partition_lookup find(const protocol::uuid& topic_id, int32_t partition) const;
    // Every partition this broker leads now.
    std::vector<std::shared_ptr<partition>> leaders() const;

    int32_t node_id() const { return _options.node_id; }

private:
    using topic_partitions = std::vector<std::shared_ptr<partition>>;  // by index; null: not led here
    struct state {
        std::shared_ptr<const metadata::metadata_image> image;
        std::unordered_map<std::string, topic_partitions> led;  // by topic name
    };

    // A log to open or create on the worker, for the topic with this id.
    struct log_job {
        topic_partition tp;
        protocol::uuid topic_id;
        partition_config config;
    };

    std::shared_ptr<const state> load() const { return _state.load(std::memory_order_acquire); }
    // `defaults` with the image's dynamic broker configs applied.
    partition_config defaults_in(const metadata::metadata_image& image) const;
    void reconcile_topic(const partition_config& defaults, const metadata::topic_image& topic,
                         const metadata::metadata_image& image,
                         std::unordered_map<std::string, topic_partitions>& led);
    // Logs opened before their partitions are installed together.
    static constexpr size_t log_batch_size = 64;

    void run_log_worker();
    void open_logs(const std::vector<log_job>& batch);
    partition_lookup find_in(const state& s, const metadata::topic_image* topic, int32_t partition) const;

    const partition_manager_options _options;
    storage::log_manager& _logs;
    boost::asio::any_io_executor _executor;
    std::atomic<std::shared_ptr<const state>> _state;

    // Serializes apply() with the worker installing a ready partition (both
    // publish a new state, copy-on-write).
    std::mutex _apply_mutex;
    // Guarded by _jobs_mutex: the queue, the partitions wanted but not ready
    // (by partition, the topic id wanted; a job whose id no longer matches is
    // stale), whether a job is running, and shutdown.
    mutable std::mutex _jobs_mutex;
    mutable std::condition_variable _jobs_changed;
    std::deque<log_job> _jobs;
    std::map<topic_partition, protocol::uuid> _pending;
    bool _job_running = false;
    bool _stopping = false;
    std::thread _worker;
};

}  // namespace strata::replication
