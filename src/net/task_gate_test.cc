// The gate's promise: close_and_wait() returns only once every task spawned
// through it has ended, and nothing starts after it is closed.
#include "strata/net/task_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace strata::net {
namespace {

namespace asio = boost::asio;

// An io_context on a thread of its own, as a subsystem runs one.
struct running_context {
    asio::io_context context{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{context.get_executor()};
    std::thread thread{[this] { context.run(); }};
    ~running_context() {
        work.reset();
        thread.join();
    }
};

// Coroutines take what they use as parameters (a lambda's captures would die
// with the lambda, before the frame).
asio::awaitable<void> wait_then_clean_up(asio::io_context& context, asio::steady_timer& timer,
                                         std::promise<void>& started, std::atomic<bool>& cleaned_up) {
    started.set_value();
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    // Work after the cancellation, as a real task's cleanup: a few hops.
    for (int i = 0; i < 3; ++i) co_await asio::post(context, asio::use_awaitable);
    cleaned_up = true;
}

asio::awaitable<void> set_flag(bool& flag) {
    flag = true;
    co_return;
}

asio::awaitable<void> throw_error() {
    throw std::runtime_error("boom");
    co_return;
}

asio::awaitable<void> wait_forever(asio::steady_timer& timer) { co_await timer.async_wait(asio::use_awaitable); }

TEST(task_gate, close_and_wait_waits_for_an_in_flight_task) {
    running_context io;
    task_gate gate("test");
    asio::steady_timer timer(io.context, std::chrono::hours(1));
    std::atomic<bool> cleaned_up{false};
    std::promise<void> started;
    ASSERT_TRUE(gate.spawn(io.context, wait_then_clean_up(io.context, timer, started, cleaned_up)));
    started.get_future().wait();
    EXPECT_EQ(gate.running(), 1u);

    auto stopped = std::async(std::launch::async, [&] { return gate.close_and_wait(); });
    // Bounded wait for what must not happen: the gate opening while its task runs.
    EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
    EXPECT_FALSE(cleaned_up);
    asio::post(io.context, [&] { timer.cancel(); });  // the owner's stop() tells it to end
    EXPECT_TRUE(stopped.get());
    EXPECT_TRUE(cleaned_up);  // returned only after the task's last step
    EXPECT_EQ(gate.running(), 0u);
}

TEST(task_gate, refuses_tasks_once_closed) {
    running_context io;
    task_gate gate("test");
    gate.close();
    bool ran = false;
    EXPECT_FALSE(gate.spawn(io.context, set_flag(ran)));
    EXPECT_TRUE(gate.close_and_wait(std::chrono::milliseconds(0)));
    EXPECT_FALSE(ran);
}

TEST(task_gate, a_task_that_throws_leaves_the_gate) {
    running_context io;
    task_gate gate("test");
    ASSERT_TRUE(gate.spawn(io.context, throw_error()));
    EXPECT_TRUE(gate.close_and_wait());
}

TEST(task_gate, a_destroyed_executor_counts_its_abandoned_tasks_out) {
    task_gate gate("test");
    {
        asio::io_context context{1};
        asio::steady_timer timer(context, std::chrono::hours(1));
        ASSERT_TRUE(gate.spawn(context, wait_forever(timer)));
        context.poll();  // starts it: it now waits on the timer
        EXPECT_EQ(gate.running(), 1u);
        EXPECT_FALSE(gate.close_and_wait(std::chrono::milliseconds(0)));
    }  // the timer, then the context with the task's frame
    EXPECT_EQ(gate.running(), 0u);
}

}  // namespace
}  // namespace strata::net
