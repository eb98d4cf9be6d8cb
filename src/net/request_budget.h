// The broker-wide bound on request bytes held in memory
// (queued.max.request.bytes): a connection reserves a frame's size here
// after reading its size prefix and before reading (or allocating) its body,
// and the reservation is returned when the frame is freed. While the budget
// is spent, connections wait in FIFO order without reading: their peers are
// paused by TCP backpressure, not disconnected (Kafka mutes the channel the
// same way when its MemoryPool is exhausted).
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace strata::net::detail {

// Shared by every connection of a server (any thread); owned by shared_ptr
// so that frames released after the server stopped still find it.
class request_budget : public std::enable_shared_from_this<request_budget> {
public:
    // limit <= 0: unbounded (reservations always succeed at once).
    explicit request_budget(int64_t limit) : _limit(limit) {}

    // A waiting reservation; cancel() it (on its executor) to stop waiting.
    class ticket {
    public:
        explicit ticket(const boost::asio::any_io_executor& executor, size_t bytes)
            : _timer(executor, boost::asio::steady_timer::time_point::max()), _bytes(bytes) {}
        void cancel() { _timer.cancel(); }

    private:
        friend class request_budget;
        boost::asio::steady_timer _timer;
        size_t _bytes;
        bool _granted = false;  // under the budget's mutex
    };

    enum class outcome { reserved, reserved_after_waiting, cancelled };

    // Reserves `bytes`, waiting while they do not fit. A frame larger than
    // the whole budget is admitted once nothing else is reserved. Cancelled
    // if `waiting->cancel()` ended the wait first (nothing is reserved then).
    // `waiting` is set while the call waits, for cancelling.
    boost::asio::awaitable<outcome> reserve(size_t bytes, std::shared_ptr<ticket>& waiting);

    // Returns a reservation; any thread.
    void release(size_t bytes);

    // A frame buffer of `size` bytes' capacity whose reservation is returned
    // when the last reference to it is dropped.
    std::shared_ptr<std::vector<uint8_t>> make_frame(size_t reserved);

    int64_t limit() const { return _limit; }
    int64_t used() const;
    size_t waiting() const;

private:
    bool fits(size_t bytes) const { return _limit <= 0 || _used == 0 || _used + int64_t(bytes) <= _limit; }

    const int64_t _limit;
    mutable std::mutex _mutex;
    int64_t _used = 0;
    std::deque<std::shared_ptr<ticket>> _queue;  // FIFO: the first waiter goes first
};

}  // namespace strata::net::detail
