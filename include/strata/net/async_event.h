// Coroutine synchronisation for objects confined to one executor (one
// thread): an event to wait on and a group of tasks to wait for. Not
// thread-safe: every call must run on the executor given at construction.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>

namespace strata::net::detail {

// Wakes every coroutine waiting in wait() when notify_all() is called. Like a
// condition variable, a notification with no waiter is lost, so waiters test
// their condition in a loop: `while (!ready()) co_await event.wait();`. That
// loop is race-free because test and wait run without a suspension between
// them on the one thread that also notifies.
//
// Built on a timer that never expires: cancelling it completes every pending
// wait. Boost 1.74 has no cancellation slots or channels to do better.
class async_event {
public:
    explicit async_event(const boost::asio::any_io_executor& executor)
        : _timer(executor, boost::asio::steady_timer::time_point::max()) {}

    boost::asio::awaitable<void> wait() {
        boost::system::error_code ignored;  // operation_aborted is the wake-up
        co_await _timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }

    void notify_all() { _timer.cancel(); }

private:
    boost::asio::steady_timer _timer;
};

// Counts running tasks so that their owner can wait for all of them to end.
// add() before spawning a task, done() from its completion handler.
class task_group {
public:
    explicit task_group(const boost::asio::any_io_executor& executor) : _done(executor) {}

    void add() { ++_count; }
    void done() {
        if (--_count == 0) _done.notify_all();
    }
    size_t size() const { return _count; }

    boost::asio::awaitable<void> wait() {
        while (_count > 0) co_await _done.wait();
    }

private:
    size_t _count = 0;
    async_event _done;
};

}  // namespace strata::net::detail
