// A gate for the coroutines a subsystem spawns and does not await: each one
// is counted from spawn() until its frame is gone (finished, or destroyed
// with its executor), so that the subsystem's stop() can close the gate and
// wait for every one of them before it frees what they use. Nothing spawned
// through a gate outlives its owner's stop(); spawning after close() is
// refused (the task is never started).
//
// Owned by the subsystem that spawns (one gate per subsystem); thread-safe.
// close_and_wait() blocks: call it from a thread that does not run the gated
// coroutines' executor (stop() on the owner's thread, after telling the
// coroutines to end: closing their connections, cancelling their timers or
// waking their loops). The count lives apart from the gate, so that a frame
// destroyed after the gate (a task abandoned with its executor) is safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace strata::net {

class task_gate {
public:
    // `name` names the owner in the log line of a task that throws.
    explicit task_gate(std::string name);
    // Closes the gate; does not wait (stop() does): a task may be the last
    // holder of its owner, and so destroy the gate from its own frame.
    ~task_gate();
    task_gate(const task_gate&) = delete;
    task_gate& operator=(const task_gate&) = delete;

    // Starts `task` on `executor`, counted until it ends. False (and the task
    // never runs) once the gate is closed.
    template <typename Executor>
    bool spawn(Executor&& executor, boost::asio::awaitable<void> task) {
        if (!enter()) return false;
        boost::asio::co_spawn(std::forward<Executor>(executor), run(holder(_state), std::move(task)),
                              boost::asio::detached);
        return true;
    }

    // Refuses new tasks from now on.
    void close();
    // close(), then waits until every task has ended or `timeout` has passed;
    // true if none is left. A task still running after a timeout is its
    // owner's to abandon (stop its executor: destroying an io_context
    // destroys the frames it holds, which counts them out).
    bool close_and_wait(std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
    size_t running() const;

private:
    struct state {
        std::string name;
        std::mutex mutex;
        std::condition_variable idle;
        size_t running = 0;
        bool closed = false;
    };

    // Held in the task's frame: leaves the gate when the frame goes.
    class holder {
    public:
        explicit holder(std::shared_ptr<state> s) : _state(std::move(s)) {}
        holder(holder&& other) noexcept = default;
        holder& operator=(holder&&) = delete;
        ~holder();
        void failed(std::exception_ptr error) const;

    private:
        std::shared_ptr<state> _state;
    };

    static boost::asio::awaitable<void> run(holder held, boost::asio::awaitable<void> task) {
        try {
            co_await std::move(task);
        } catch (...) {
            held.failed(std::current_exception());  // logged: detached work has nobody to tell
        }
    }

    bool enter();

    std::shared_ptr<state> _state;
};

}  // namespace strata::net
