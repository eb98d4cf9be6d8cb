#include "request_budget.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace strata::net::detail {

namespace asio = boost::asio;

asio::awaitable<request_budget::outcome> request_budget::reserve(size_t bytes, std::shared_ptr<ticket>& waiting) {
    if (_limit <= 0) co_return outcome::reserved;
    std::shared_ptr<ticket> mine;
    {
        std::lock_guard lock(_mutex);
        // Waiters keep their order: a newcomer that would fit still queues
        // behind them, so that a large frame is not starved by small ones.
        if (_queue.empty() && fits(bytes)) {
            _used += int64_t(bytes);
            co_return outcome::reserved;
        }
        mine = std::make_shared<ticket>(co_await asio::this_coro::executor, bytes);
        _queue.push_back(mine);
    }
    waiting = mine;
    boost::system::error_code ignored;  // operation_aborted: granted, or cancelled
    co_await mine->_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    waiting.reset();
    std::lock_guard lock(_mutex);
    if (mine->_granted) co_return outcome::reserved_after_waiting;
    // Cancelled: leave the queue; those behind may fit now.
    _queue.erase(std::remove(_queue.begin(), _queue.end(), mine), _queue.end());
    while (!_queue.empty() && fits(_queue.front()->_bytes)) {
        auto next = _queue.front();
        _queue.pop_front();
        _used += int64_t(next->_bytes);
        next->_granted = true;
        asio::post(next->_timer.get_executor(), [next] { next->_timer.cancel(); });
    }
    co_return outcome::cancelled;
}

void request_budget::release(size_t bytes) {
    if (_limit <= 0) return;  // nothing was counted
    std::vector<std::shared_ptr<ticket>> granted;
    {
        std::lock_guard lock(_mutex);
        _used -= int64_t(bytes);
        while (!_queue.empty() && fits(_queue.front()->_bytes)) {
            auto next = _queue.front();
            _queue.pop_front();
            _used += int64_t(next->_bytes);
            next->_granted = true;
            granted.push_back(std::move(next));
        }
    }
    // The timer belongs to the waiter's thread: wake it there.
    for (auto& next : granted) asio::post(next->_timer.get_executor(), [next] { next->_timer.cancel(); });
}

std::shared_ptr<std::vector<uint8_t>> request_budget::make_frame(size_t reserved) {
    if (_limit <= 0) return std::make_shared<std::vector<uint8_t>>();
    return std::shared_ptr<std::vector<uint8_t>>(new std::vector<uint8_t>(),
                                                 [budget = shared_from_this(), reserved](std::vector<uint8_t>* frame) {
                                                     delete frame;
                                                     budget->release(reserved);
                                                 });
}

int64_t request_budget::used() const {
    std::lock_guard lock(_mutex);
    return _used;
}

size_t request_budget::waiting() const {
    std::lock_guard lock(_mutex);
    return _queue.size();
}

}  // namespace strata::net::detail
