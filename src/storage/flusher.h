// The node's group-commit flusher: a few threads that run every fdatasync,
// so that no network thread ever blocks on the disk. A log asks for a flush
// by queueing itself (once, however many appends are waiting); a thread takes
// the next log from the queue, syncs it, and the log calls back every waiter
// its sync covered. Appends that land while a sync runs wait for the next one
// and share it: that is the group commit. Several threads let the syncs of
// different partitions overlap (a sync is mostly waiting for the device, and
// devices serve concurrent flushes better than a queue of them); one log's
// syncs never overlap (its run_flush serializes them).
//
// Owned by the log manager, which stops (and joins) it at shutdown. In manual
// mode (no thread) tests drive it with run_pending(), deterministically.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::storage {

class flush_target {
public:
    virtual ~flush_target() = default;
    // Called on the flusher thread; syncs and completes waiters.
    virtual void run_flush() = 0;

private:
    friend class flusher;
    std::atomic<bool> _flush_queued{false};
};

class flusher {
public:
    static constexpr size_t default_threads = 4;
    explicit flusher(bool start_thread = true, size_t threads = default_threads);
    ~flusher();
    flusher(const flusher&) = delete;
    flusher& operator=(const flusher&) = delete;

    void request(std::shared_ptr<flush_target> target);
    // Manual mode: runs what is queued now, on the calling thread.
    size_t run_pending();
    // Runs what is queued, then stops the thread. Later requests run inline.
    void stop();

private:
    void loop();

    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<std::shared_ptr<flush_target>> _queue;
    bool _stopping = false;
    bool _threaded;
    std::vector<std::thread> _threads;
};

}  // namespace strata::storage
