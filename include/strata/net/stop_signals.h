// Waiting for SIGTERM / SIGINT, for a clean shutdown.
#pragma once

#include <atomic>
#include <memory>

namespace strata::net {

// Catches SIGINT and SIGTERM from construction until destruction (their
// default action, terminating the process, is replaced), so that a signal
// arriving at any point after construction is reported by wait(), not lost.
// Construct it before starting threads that should not be killed mid-way.
class stop_signal_waiter {
public:
    stop_signal_waiter();
    ~stop_signal_waiter();

    stop_signal_waiter(const stop_signal_waiter&) = delete;
    stop_signal_waiter& operator=(const stop_signal_waiter&) = delete;

    // Blocks until SIGINT or SIGTERM arrives; returns the signal number, or
    // 0 after request_stop().
    int wait();
    // Ends wait() (now, or the next one) as a signal would, from any thread:
    // the process stopping itself (a failed log directory).
    void request_stop();

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::net
