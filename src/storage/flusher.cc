#include "flusher.h"

#include <algorithm>

namespace strata::storage {

flusher::flusher(bool start_thread, size_t threads) : _threaded(start_thread) {
    if (_threaded)
        for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) _threads.emplace_back([this] { loop(); });
}

flusher::~flusher() { stop(); }

void flusher::request(std::shared_ptr<flush_target> target) {
    if (target->_flush_queued.exchange(true)) return;  // already queued: shares that sync
    bool inline_run = false;
    {
        std::lock_guard lock(_mutex);
        if (_stopping) inline_run = true;
        else _queue.push_back(target);
    }
    if (inline_run) {
        target->_flush_queued.store(false);
        target->run_flush();
        return;
    }
    _wake.notify_one();
}

size_t flusher::run_pending() {
    std::deque<std::shared_ptr<flush_target>> batch;
    {
        std::lock_guard lock(_mutex);
        batch.swap(_queue);
    }
    for (auto& t : batch) {
        // Cleared before the sync: an append after this point queues again.
        t->_flush_queued.store(false);
        t->run_flush();
    }
    return batch.size();
}

void flusher::loop() {
    for (;;) {
        std::shared_ptr<flush_target> target;
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [&] { return _stopping || !_queue.empty(); });
            if (_queue.empty()) return;  // stopping, and nothing left
            target = std::move(_queue.front());
            _queue.pop_front();
        }
        // Cleared before the sync: an append after this point queues again.
        target->_flush_queued.store(false);
        target->run_flush();
    }
}

void flusher::stop() {
    {
        std::lock_guard lock(_mutex);
        if (_stopping) return;
        _stopping = true;
    }
    _wake.notify_all();
    for (auto& t : _threads)
        if (t.joinable()) t.join();
    run_pending();
}

}  // namespace strata::storage
