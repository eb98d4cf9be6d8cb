#include "strata/net/stop_signals.h"

#include <csignal>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

namespace strata::net {

struct stop_signal_waiter::impl {
    boost::asio::io_context context{1};
    // Installing the set installs Asio's handler, which records a signal
    // even before anyone waits for it.
    boost::asio::signal_set signals{context, SIGINT, SIGTERM};
    std::atomic<bool> stop_requested{false};
};

stop_signal_waiter::stop_signal_waiter() : _impl(std::make_unique<impl>()) {}

stop_signal_waiter::~stop_signal_waiter() = default;

void stop_signal_waiter::request_stop() {
    _impl->stop_requested.store(true);
    // Runs inside the next wait()'s run(), after its async_wait is queued.
    boost::asio::post(_impl->context, [impl = _impl.get()] { impl->signals.cancel(); });
}

int stop_signal_waiter::wait() {
    int received = 0;
    if (_impl->stop_requested.load()) return 0;
    _impl->signals.async_wait([&](const boost::system::error_code& ec, int number) {
        if (!ec) received = number;
    });
    _impl->context.restart();
    _impl->context.run();
    return received;
}

}  // namespace strata::net
