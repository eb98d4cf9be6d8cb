#include "io_context_pool.h"

#include <pthread.h>

#include "strata/common/log.h"

namespace strata::net::detail {

io_context_pool::io_context_pool(size_t size) {
    if (size == 0) size = 1;
    _contexts.reserve(size);
    for (size_t i = 0; i < size; ++i) {
        // Concurrency hint 1: each context is run by one thread only, which
        // lets Asio drop the locking it would need for several.
        _contexts.push_back(std::make_unique<boost::asio::io_context>(1));
        _work.emplace_back(_contexts.back()->get_executor());
    }
}

io_context_pool::~io_context_pool() {
    stop();
    join();
}

boost::asio::io_context& io_context_pool::next() {
    return *_contexts[_next.fetch_add(1, std::memory_order_relaxed) % _contexts.size()];
}

void io_context_pool::start(const std::string& thread_name_prefix) {
    static const auto logger = log::get("net");
    for (size_t i = 0; i < _contexts.size(); ++i) {
        _threads.emplace_back([this, i, name = thread_name_prefix + "-" + std::to_string(i)] {
            pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
            auto& context = *_contexts[i];
            // Handlers should not throw (coroutines catch at their root), but
            // a thread that died would strand every connection on it.
            for (;;) {
                try {
                    context.run();
                    return;
                } catch (const std::exception& e) {
                    logger->error("network thread {}: unexpected exception: {}", i, e.what());
                }
            }
        });
    }
}

void io_context_pool::release() {
    for (auto& work : _work) work.reset();
}

void io_context_pool::stop() {
    release();
    for (auto& context : _contexts) context->stop();
}

void io_context_pool::join() {
    for (auto& thread : _threads) {
        if (thread.joinable()) thread.join();
    }
    _threads.clear();
}

bool io_context_pool::running_in_pool_thread() const {
    for (const auto& thread : _threads) {
        if (thread.get_id() == std::this_thread::get_id()) return true;
    }
    return false;
}

}  // namespace strata::net::detail
