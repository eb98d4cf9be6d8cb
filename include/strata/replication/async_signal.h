// A one-shot wake-up that any thread may fire and one coroutine awaits with a
// deadline: how a produce request waits for its partitions' appends (and,
// with acks=all, their fsync) and how a long-polling fetch waits for a high
// watermark to move.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace strata::replication {

// Owned by shared_ptr: by the waiting coroutine and by whoever may notify it
// (a partition's waiter list holds it weakly). notify() is thread-safe;
// wait_until() must run on `executor`, which must not run two handlers at
// once (a connection's one-thread io_context, or a strand). That is what
// makes it race-free: the fired flag is tested and the timer armed without a
// suspension between them, and notify() posts the timer's cancellation to the
// same executor, so it cannot run between the test and the wait.
class async_signal : public std::enable_shared_from_this<async_signal> {
public:
    explicit async_signal(boost::asio::any_io_executor executor) : _timer(std::move(executor)) {}

    static std::shared_ptr<async_signal> make(boost::asio::any_io_executor executor) {
        return std::make_shared<async_signal>(std::move(executor));
    }

    void notify() {
        if (_fired.exchange(true, std::memory_order_acq_rel)) return;
        boost::asio::post(_timer.get_executor(), [self = shared_from_this()] { self->_timer.cancel(); });
    }

    bool fired() const { return _fired.load(std::memory_order_acquire); }

    // True when notified, false when the deadline passed first.
    boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
        if (fired()) co_return true;
        _timer.expires_at(deadline);
        boost::system::error_code ignored;  // operation_aborted is the wake-up
        co_await _timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
        co_return fired();
    }

private:
    boost::asio::steady_timer _timer;
    std::atomic<bool> _fired{false};
};

}  // namespace strata::replication
