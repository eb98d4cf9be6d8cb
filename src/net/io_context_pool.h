#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace strata::net::detail {

// N io_contexts, each run by exactly one thread of its own, so that anything
// bound to one context is confined to one thread and needs no strand or lock.
// Owned by net::server; start, release, stop and join are called from the
// owner's thread, next() from any thread.
class io_context_pool {
public:
    explicit io_context_pool(size_t size);
    ~io_context_pool();  // stop() and join()

    io_context_pool(const io_context_pool&) = delete;
    io_context_pool& operator=(const io_context_pool&) = delete;

    size_t size() const { return _contexts.size(); }
    boost::asio::io_context& at(size_t i) { return *_contexts[i]; }
    // Round-robin, to spread connections over the threads.
    boost::asio::io_context& next();

    // Starts one thread per context, named "<prefix>-<i>".
    void start(const std::string& thread_name_prefix);
    // Lets each thread return once its context has no work left.
    void release();
    // Makes each thread return as soon as possible, abandoning queued work;
    // what is abandoned is destroyed with the contexts.
    void stop();
    void join();

    bool running_in_pool_thread() const;

private:
    using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

    std::vector<std::unique_ptr<boost::asio::io_context>> _contexts;
    std::vector<work_guard> _work;
    std::vector<std::thread> _threads;
    std::atomic<size_t> _next{0};
};

}  // namespace strata::net::detail
