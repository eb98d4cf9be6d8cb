// The partitions this broker hosts (leads or follows), kept in step with the
// metadata image.
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
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/metadata/image.h"
#include "strata/replication/partition.h"
#include "strata/replication/partition_config.h"
#include "strata/replication/unreachable_brokers.h"
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
    // How a leader's ISR changes reach the controller (AlterPartition).
    isr_update_sender isr_sender;
    // Told, on the metadata publisher, whom each hosted partition follows
    // after every image that may have changed it: the leader's id, or -1 when
    // it follows no one (it leads, has no leader, or is no longer hosted).
    // The replica fetcher listens here.
    std::function<void(const std::shared_ptr<partition>&, int32_t leader, leader_epoch epoch)> on_follow;
    // Shared with the replica fetchers, read by Metadata (may be null).
    std::shared_ptr<unreachable_brokers> unreachable;
    // This process's broker registration (its BrokerRegistration incarnation
    // id). The first image that holds it has everything committed before the
    // broker registered; then the logs on disk of partitions that image does
    // not assign here (moved away or deleted while the broker was down) are
    // deleted, as Kafka's stray replicas. Zero: never (tests, controllers).
    protocol::uuid incarnation_id{};
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

    // The node's logs (DescribeLogDirs reports whether their directory is offline).
    const storage::log_manager& logs() const { return _logs; }

    // Metadata publisher only. Opens or creates the log of every partition
    // `image` names this broker a replica of; makes it lead those it leads
    // (the leader epoch and ISR from the image) and follow the others; stops
    // the partitions it no longer hosts, and stops and deletes the
    // partitions of deleted topics. The first call (or one with `reconcile_all`)
    // looks at every topic; later ones at those `changes` name.
    void apply(std::shared_ptr<const metadata::metadata_image> image, const metadata::image_changes& changes,
               bool reconcile_all = false);

    // Stops every partition (shutdown, before the log manager closes).
    void stop_all();

    // Calls `listener(partition index)` each time this broker becomes the
    // leader of a partition of `topic` (a new leader epoch), once find()
    // returns it as leader: on the partition's strand, so it must only post
    // its work elsewhere. The group and transaction coordinators load their
    // partitions from here (Kafka's onElection), not from a periodic scan.
    // Listeners are never removed: capture a weak pointer.
    using leadership_listener = std::function<void(int32_t partition)>;
    void on_leadership(std::string topic, leadership_listener listener);

    // ---- any thread ---------------------------------------------------------
    std::shared_ptr<const metadata::metadata_image> image() const;
    // Brokers the replica fetchers just found unreachable (null: not tracked).
    const unreachable_brokers* unreachable() const { return _options.unreachable.get(); }
    // UNKNOWN_TOPIC_OR_PARTITION when the image has no such topic or
    // partition, NOT_LEADER_OR_FOLLOWER when another broker leads it.
    partition_lookup find(std::string_view topic, int32_t partition) const;
    // As above by topic id; an unknown id is UNKNOWN_TOPIC_ID.
    partition_lookup find(const protocol::uuid& topic_id, int32_t partition) const;
    // KIP-392 (consumers' Fetch v11+): as find, but any replica hosted here
    // serves, leader or follower (in `leader`); NOT_LEADER_OR_FOLLOWER when
    // this broker hosts none.
    partition_lookup find_replica(std::string_view topic, int32_t partition) const;
    partition_lookup find_replica(const protocol::uuid& topic_id, int32_t partition) const;
    // Every partition this broker leads now (by the image).
    std::vector<std::shared_ptr<partition>> leaders() const;
    // Every partition this broker hosts, leader or follower.
    std::vector<std::shared_ptr<partition>> replicas() const;

    int32_t node_id() const { return _options.node_id; }

private:
    using topic_partitions = std::vector<std::shared_ptr<partition>>;  // by index; null: not hosted here
    struct state {
        std::shared_ptr<const metadata::metadata_image> image;
        std::unordered_map<std::string, topic_partitions> hosted;  // by topic name
        bool registered = false;  // registered_in(*image), decided once per image
    };

    std::shared_ptr<const state> load() const { return _state.load(std::memory_order_acquire); }
    // `defaults` with the image's dynamic broker configs applied.
    partition_config defaults_in(const metadata::metadata_image& image) const;
    void reconcile_topic(const partition_config& defaults, const metadata::topic_image& topic,
                         const metadata::metadata_image& image,
                         std::unordered_map<std::string, topic_partitions>& hosted);
    void drop(std::shared_ptr<partition>& slot);
    void tell_elected();
    bool leads(const state& s, const partition& p) const;
    // Whether `image` holds this process's own registration (always, when
    // no incarnation id was given). Before it does, the image is the one
    // replayed from the local metadata log, as it stood when the previous
    // incarnation stopped: it may still name this broker the leader of
    // partitions that others have led since, or whose log here lost its tail.
    bool registered_in(const metadata::metadata_image& image) const;
    // `leader` is this broker, by an image that holds its registration.
    bool leader_here(const metadata::metadata_image& image, int32_t leader) const;
    // Once `image` holds this process's registration: deletes the stray logs
    // (on disk, not hosted, not assigned here by `image`). Runs once.
    void maybe_remove_strays(const metadata::metadata_image& image,
                             const std::unordered_map<std::string, topic_partitions>& hosted);
    partition_lookup find_in(const state& s, const metadata::topic_image* topic, int32_t partition,
                             bool any_replica = false) const;

    const partition_manager_options _options;
    storage::log_manager& _logs;
    boost::asio::any_io_executor _executor;
    std::atomic<std::shared_ptr<const state>> _state;
    bool _strays_removed = false;  // metadata publisher only
    mutable std::mutex _listeners_mutex;
    std::unordered_map<std::string, std::vector<leadership_listener>> _listeners;  // by topic name
    // New leaderships found by the apply() under way, told once it has published.
    std::vector<std::pair<std::shared_ptr<partition>, int32_t>> _elected;  // metadata publisher only
};

}  // namespace strata::replication
