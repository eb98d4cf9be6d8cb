// The group coordinator's inside, shared by group_coordinator.cc (thread,
// partitions of __consumer_offsets, load, writes, timers) and
// group_requests.cc (the request handlers). Everything here runs on the
// coordinator thread unless it says otherwise.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "classic_group.h"
#include "consumer_group.h"
#include "consumer_group_records.h"
#include "strata/common/log.h"
#include "strata/group/group_coordinator.h"
#include "strata/replication/async_signal.h"

namespace strata::group {

offsets_record offset_commit_record(const std::string& group, const std::string& topic, int32_t partition,
                                    const committed_offset* value);
offsets_record group_metadata_record(const std::string& group,
                                     const protocol::coordinator::group_metadata_value* value);

// What replaying one partition's log found.
struct loaded_group {
    std::optional<protocol::coordinator::group_metadata_value> metadata;
    std::map<topic_partition_key, committed_offset> offsets;
};
// An offset committed in a transaction that has no marker yet (TxnOffsetCommit).
struct pending_txn_offset {
    std::string group;
    topic_partition_key tp;
    committed_offset value;
};
struct loaded_partition {
    std::map<std::string, loaded_group> groups;  // classic groups, and every group's offsets
    loaded_consumer_groups consumer_groups;      // KIP-848 groups (key versions 3 to 8)
    std::map<int64_t, std::vector<pending_txn_offset>> open_txn_offsets;  // by producer id
};

// A partition of __consumer_offsets this broker leads.
struct offsets_shard {
    bool loaded = false;
    std::shared_ptr<replication::partition> partition;
    int32_t epoch = -1;
    uint64_t load_id = 0;
};

struct group_coordinator::impl final : group_environment, std::enable_shared_from_this<impl> {
    impl(coordinator_config c, metadata::metadata_service& m, replication::partition_manager& p);

    // ---- any thread ------------------------------------------------------
    boost::asio::any_io_executor executor() { return io.get_executor(); }
    int32_t offsets_partition_count() const;
    int32_t partition_of(std::string_view group_id) const {
        return partition_for_group(group_id, offsets_partition_count());
    }

    // ---- coordinator thread ------------------------------------------------
    int64_t now_ms() const;
    // NONE when this broker coordinates partition `p` and has loaded it;
    // else COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR or
    // COORDINATOR_NOT_AVAILABLE (no __consumer_offsets yet).
    kafka_error shard_ready(int32_t p);
    kafka_error group_ready(const std::string& group_id) { return shard_ready(partition_of(group_id)); }
    classic_group* find_group(const std::string& id);
    // find_group, with the deadlines already past applied first (expired
    // sessions, a join or sync timed out): the tick runs every 50 ms, Kafka's
    // timers fire on the millisecond, and an admin request right after a
    // session timeout (librdkafka's 0081 deletes a static member's group a
    // second after its session ran out) must see the member gone.
    classic_group* find_group_as_of_now(const std::string& id);
    classic_group& get_or_create_group(const std::string& id);
    void forget_group(const std::string& id, kafka_error error);
    consumer_group* find_consumer_group(const std::string& id);
    consumer_group& create_consumer_group(const std::string& id);
    // Writes the records that take KIP-848 group `id` from `before` to
    // `after` (nothing if nothing persisted changed); `done` runs after.
    // A failed write leaves memory ahead of the log, so the partition is
    // unloaded and replayed again (its groups then answer NOT_COORDINATOR).
    void persist_consumer_group(const std::string& id, const consumer_group_state& before,
                                const consumer_group_state& after, const topic_catalog& topics,
                                std::function<void(kafka_error)> done);
    topic_catalog catalog() const;
    // Appends to partition `p` with acks=all; `done` runs here after.
    void write(int32_t p, std::vector<offsets_record> records, std::function<void(kafka_error)> done);

    void store_group(classic_group& group, protocol::coordinator::group_metadata_value value,
                     std::function<void(kafka_error)> done) override;
    std::string new_member_id(const std::string& client_id) override;

    void schedule_tick();
    void tick();
    void refresh_shards();
    // This broker just became the leader of partition `p` (the partition
    // manager's leadership listener): load it now, not at the next tick.
    void elected(int32_t p);
    void start_load(int32_t p, std::shared_ptr<replication::partition> partition);
    void install(int32_t p, uint64_t load_id, std::shared_ptr<loaded_partition> state, bool ok);
    void unload(int32_t p);
    void drop_early_txn_markers(int32_t p);
    void expire_offsets(int64_t now);
    // Transactional offsets (txn_offsets.cc). write_txn appends `records` as
    // one transactional batch of (producer id, epoch), acks=all.
    void write_txn(int32_t p, std::vector<offsets_record> records, int64_t producer_id, int16_t epoch,
                   std::function<void(kafka_error)> done);
    void add_txn_offset(int64_t producer_id, pending_txn_offset offset);
    void end_txn_offsets(int64_t producer_id, bool commit, int32_t partition);

    coordinator_config config;
    group_limits limits;
    metadata::metadata_service& metadata;
    replication::partition_manager& partitions;
    std::shared_ptr<spdlog::logger> logger;

    boost::asio::io_context io{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::thread thread;
    boost::asio::thread_pool loader{1};
    boost::asio::steady_timer timer{io};
    bool started = false;
    // __consumer_offsets seen with all its partitions (FindCoordinator, any thread).
    std::atomic<bool> offsets_topic_whole{false};
    bool stopping = false;            // coordinator thread
    std::atomic<bool> closed{false};  // any thread: stop() has begun

    std::map<int32_t, offsets_shard> shards;
    std::unordered_map<std::string, std::unique_ptr<classic_group>>
        groups;  // classic groups, and every group's offsets
    std::unordered_map<std::string, std::unique_ptr<consumer_group>> consumer_groups;  // KIP-848 membership
    // KIP-848 groups with records being written: a heartbeat that changes
    // nothing may still show what they say, so its answer waits for them.
    struct consumer_writes {
        int in_flight = 0;
        kafka_error failed = kafka_error::none;
        std::vector<std::function<void(kafka_error)>> waiting;
    };
    std::unordered_map<std::string, consumer_writes> consumer_writes_in_flight;
    // Offsets committed in open transactions, by producer id.
    std::map<int64_t, std::vector<pending_txn_offset>> txn_offsets;
    // Markers that reached a partition of __consumer_offsets before its load
    // was installed ({partition, producer id} -> commit): applied by install
    // after the replay, which may have read the log before the marker.
    std::map<std::pair<int32_t, int64_t>, bool> early_txn_markers;
    uint64_t next_load_id = 1;
    int64_t next_expiry_check_ms = 0;
    std::mt19937_64 random{std::random_device{}()};
};

// ---- running work on the coordinator thread and awaiting its answer -----------

// The signal (and its timer, bound to the waiting connection's io_context)
// belongs to the waiting coroutine alone: the slot holds it weakly, so that
// an answer arriving after the connection's io_context is gone touches
// nothing of it.
template <typename R>
struct reply_slot {
    explicit reply_slot(std::weak_ptr<replication::async_signal> s) : signal(std::move(s)) {}
    void set(R r) {
        {
            std::lock_guard lock(mutex);
            if (value) return;
            value = std::move(r);
        }
        if (auto s = signal.lock()) s->notify();
    }
    std::weak_ptr<replication::async_signal> signal;
    std::mutex mutex;
    std::optional<R> value;
};

// Answers with the fallback if the work was dropped without answering (the
// coordinator stopped, the group went away), so no request waits forever.
template <typename R>
struct reply_guard {
    reply_guard(std::shared_ptr<reply_slot<R>> s, R f) : slot(std::move(s)), fallback(std::move(f)) {}
    ~reply_guard() { slot->set(std::move(fallback)); }
    std::shared_ptr<reply_slot<R>> slot;
    R fallback;
};

template <typename R>
class responder {
public:
    explicit responder(std::shared_ptr<reply_guard<R>> g) : _guard(std::move(g)) {}
    void operator()(R r) const { _guard->slot->set(std::move(r)); }

private:
    std::shared_ptr<reply_guard<R>> _guard;
};

// A request waiting for the coordinator's answer. wait() runs on the
// requesting connection's executor.
template <typename R>
struct pending_reply {
    std::shared_ptr<replication::async_signal> signal;
    std::shared_ptr<reply_slot<R>> slot;

    boost::asio::awaitable<R> wait() {
        co_await signal->wait_until(std::chrono::steady_clock::time_point::max());
        std::lock_guard lock(slot->mutex);
        co_return std::move(*slot->value);
    }
};

// Posts work(responder) to the coordinator thread. A plain function, not a
// coroutine: GCC 12 mishandles lambdas with captures passed as arguments
// inside a co_await expression, so callers make the reply here and then
// co_await its wait().
template <typename R, typename Work>
pending_reply<R> post_to_coordinator(group_coordinator::impl& self, boost::asio::any_io_executor requester, R fallback,
                                     Work work) {
    pending_reply<R> out;
    out.signal = replication::async_signal::make(std::move(requester));
    out.slot = std::make_shared<reply_slot<R>>(out.signal);
    responder<R> answer(std::make_shared<reply_guard<R>>(out.slot, std::move(fallback)));
    // Once stopping, the work is dropped and the guard answers with the fallback.
    if (self.closed.load(std::memory_order_acquire)) return out;
    boost::asio::post(self.executor(), [&self, work = std::move(work), answer = std::move(answer)]() mutable {
        if (!self.closed.load(std::memory_order_acquire)) work(answer);
    });
    return out;
}

inline int16_t code(kafka_error e) {
    return static_cast<int16_t>(e);
}

}  // namespace strata::group
