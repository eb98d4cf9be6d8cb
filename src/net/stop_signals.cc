#include "strata/net/stop_signals.h"

#include <csignal>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace strata::net {

struct stop_signal_waiter::impl {
    boost::asio::io_context context{1};
    // Installing the set installs Asio's handler, which records a signal
    // even before anyone waits for it.
    boost::asio::signal_set signals{context, SIGINT, SIGTERM};
};

stop_signal_waiter::stop_signal_waiter() : _impl(std::make_unique<impl>()) {}

stop_signal_waiter::~stop_signal_waiter() = default;

int stop_signal_waiter::wait() {
    int received = 0;
    _impl->signals.async_wait([&](const boost::system::error_code& ec, int number) {
        if (!ec) received = number;
    });
    _impl->context.restart();
    _impl->context.run();
    return received;
}

}  // namespace strata::net
