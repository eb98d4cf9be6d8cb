// The transaction coordinator's inside, shared by txn_coordinator.cc (thread,
// partitions of __transaction_state, load, writes, markers, timeouts) and
// txn_requests.cc (the request handlers). Everything here runs on the
// coordinator thread unless it says otherwise.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include "strata/common/log.h"
#include "strata/metadata/hashing_partition_count.h"
#include "strata/net/client_connection.h"
#include "strata/net/task_gate.h"
#include "strata/replication/async_signal.h"
#include "strata/txn/txn_coordinator.h"
#include "txn_state.h"

namespace strata::txn {

// A partition of __transaction_state this broker leads.
struct txn_shard {
    bool loaded = false;
    std::shared_ptr<replication::partition> partition;
    int32_t epoch = -1;  // its leader epoch: the coordinator epoch of its ids
    uint64_t load_id = 0;
};

// An AddPartitionsToTxn / AddOffsetsToTxn held while the previous
// transaction completes: what it asks, so that its Ongoing record can go
// into the same write as the CompleteCommit/CompleteAbort (see marker_round).
struct held_add {
    int64_t producer_id = -1;
    int16_t epoch = -1;
    std::vector<txn_partition> wanted;
    std::shared_ptr<bool> fired;  // its waiter has run (answered or re-decided): not to be merged
    std::chrono::steady_clock::time_point deadline{};  // when it stops waiting and is answered
};

// One transactional id this coordinator holds.
struct txn_entry {
    std::optional<txn_metadata> meta;  // none: a new id whose first record is being written
    bool pending = false;              // a record for it is being written
    bool sending_markers = false;
    // Requests held until the id's next state write finishes (see
    // wait_for_completion); each runs once, from here or from its timer.
    std::vector<std::function<void()>> completion_waiters;
    // The held adds among them, in arrival order; emptied with them.
    std::vector<held_add> held_adds;
};

struct txn_coordinator::impl final : std::enable_shared_from_this<impl> {
    impl(txn_config c, metadata::metadata_service& m, replication::partition_manager& p);

    // ---- any thread ------------------------------------------------------
    boost::asio::any_io_executor executor() { return io.get_executor(); }
    int32_t state_partition_count() const;
    // The count AddOffsetsToTxn hashes groups over: never a part of
    // __consumer_offsets still reaching the image
    // (metadata/hashing_partition_count.h); `settled` says whether it is
    // final (else it is the configured count, for now).
    int32_t offsets_partition_count(bool* settled = nullptr) const;
    int32_t partition_of(std::string_view id) const {
        return partition_for_transactional_id(id, state_partition_count());
    }

    // ---- coordinator thread ------------------------------------------------
    int64_t now_ms() const;
    // NONE when this broker coordinates partition `p` and has loaded it;
    // else COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR or
    // COORDINATOR_NOT_AVAILABLE.
    kafka_error shard_ready(int32_t p);
    kafka_error id_ready(const std::string& id) { return shard_ready(partition_of(id)); }
    const txn_metadata* find(const std::string& id) const;
    bool pending(const std::string& id) const;
    // Writes `next` for its id with acks=all, then makes it current; `done`
    // runs here after (NONE, or the write's error mapped as Kafka's).
    void transition(txn_metadata next, std::function<void(kafka_error)> done);
    // The same for several successive states of one id, written as one
    // batch (one append, one fsync; all or none): the last becomes current.
    void transition(std::vector<txn_metadata> chain, std::function<void(kafka_error)> done);
    // Sends the COMMIT/ABORT markers of a PrepareCommit/PrepareAbort id to
    // every partition of its transaction, retrying until each is written,
    // then writes CompleteCommit/CompleteAbort.
    void send_markers(const std::string& id);
    // Whether a request for `id` must wait for the state write in flight or
    // for the markers of the transaction being committed or aborted.
    bool completing(const std::string& id) const;
    // Runs `retry` here when the id's next state write finishes (the
    // CompleteCommit after the markers, typically) or at `deadline`,
    // whichever is first. The caller re-checks and may wait again.
    // `add`: what a held AddPartitionsToTxn / AddOffsetsToTxn asks (its
    // `fired` is filled in here).
    void wait_for_completion(const std::string& id, std::chrono::steady_clock::time_point deadline,
                             std::function<void()> retry, std::optional<held_add> add = std::nullopt);
    // The latest deadline of the id's AddPartitionsToTxn / AddOffsetsToTxn
    // still held (not yet answered); none when nothing is held. An EndTxn
    // that arrives meanwhile waits behind them (see end_txn).
    std::optional<std::chrono::steady_clock::time_point> held_adds_deadline(const std::string& id) const;
    void marker_round(const std::string& id, uint64_t load_id, int attempt);
    // WriteTxnMarkers to `node`, here or over the network; `done` runs here.
    void send_marker_request(int32_t node, protocol::messages::write_txn_markers_request request,
                             std::function<void(std::optional<protocol::messages::write_txn_markers_response>)> done);
    std::shared_ptr<net::client_connection> peer(int32_t node);
    void verify_remote(std::string id, int64_t producer_id, int16_t epoch, std::string topic, int32_t partition,
                       std::function<void(kafka_error)> done);

    void schedule_tick();
    void tick();
    void refresh_shards();
    // This broker just became the leader of partition `p` (the partition
    // manager's leadership listener): load it now, not at the next tick.
    void elected(int32_t p);
    void start_load(int32_t p, std::shared_ptr<replication::partition> partition);
    void install(int32_t p, uint64_t load_id, std::shared_ptr<std::map<std::string, txn_metadata>> state, bool ok);
    void unload(int32_t p);
    void abort_timed_out(int64_t now);
    void remove_expired(int64_t now);
    uint64_t load_id_of(const std::string& id) const;

    txn_config config;
    metadata::metadata_service& metadata;
    replication::partition_manager& partitions;
    std::shared_ptr<spdlog::logger> logger;

    // The calls to peers (markers, verification); stop() waits for them.
    net::task_gate tasks{"txn coordinator"};
    boost::asio::io_context io{1};
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::thread thread;
    boost::asio::thread_pool loader{1};
    boost::asio::steady_timer timer{io};
    bool started = false;
    bool stopping = false;            // coordinator thread
    std::atomic<bool> closed{false};  // any thread: stop() has begun

    std::map<int32_t, txn_shard> shards;
    std::unordered_map<std::string, txn_entry> txns;
    struct peer_connection {
        std::string host;
        int32_t port = 0;
        std::shared_ptr<net::client_connection> connection;
    };
    std::map<int32_t, peer_connection> peers;
    mutable metadata::hashing_partition_count offsets_count{config.offsets_topic_partitions};
    uint64_t next_load_id = 1;
    int64_t next_timeout_check_ms = 0;
    int64_t next_expiry_check_ms = 0;
};

// ---- running work on the coordinator thread and awaiting its answer ------------
// (As the group coordinator's: the answer slot is held weakly by the work, and
// a guard answers with a fallback if the work is dropped, so no request waits
// forever.)

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

template <typename R, typename Work>
pending_reply<R> post_to_coordinator(txn_coordinator::impl& self, boost::asio::any_io_executor requester, R fallback,
                                     Work work) {
    pending_reply<R> out;
    out.signal = replication::async_signal::make(std::move(requester));
    out.slot = std::make_shared<reply_slot<R>>(out.signal);
    responder<R> answer(std::make_shared<reply_guard<R>>(out.slot, std::move(fallback)));
    if (self.closed.load(std::memory_order_acquire)) return out;
    boost::asio::post(self.executor(), [&self, work = std::move(work), answer = std::move(answer)]() mutable {
        if (!self.closed.load(std::memory_order_acquire)) work(answer);
    });
    return out;
}

inline int16_t code(kafka_error e) {
    return static_cast<int16_t>(e);
}

}  // namespace strata::txn
