// Test support for net/: a blocking loopback client, a handler made of a
// function, and gates that hold handlers until the test lets them finish.
// Header-only, for the *_test.cc files of this folder.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "strata/net/request_handler.h"
#include "strata/net/server.h"

namespace strata::net::testing {

// How long a test waits for something that should happen at once; reaching
// it means the test failed, not that it was slow.
inline constexpr auto patience = std::chrono::seconds(20);

inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
    out.push_back(static_cast<uint8_t>(v >> 24));
    out.push_back(static_cast<uint8_t>(v >> 16));
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v));
}

inline uint32_t get_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A request of the tests: a 4-byte id, then `text`.
inline std::vector<uint8_t> request(uint32_t id, std::string_view text = {}) {
    std::vector<uint8_t> out(4 + text.size());
    out[0] = static_cast<uint8_t>(id >> 24);
    out[1] = static_cast<uint8_t>(id >> 16);
    out[2] = static_cast<uint8_t>(id >> 8);
    out[3] = static_cast<uint8_t>(id);
    std::copy(text.begin(), text.end(), out.begin() + 4);
    return out;
}

inline uint32_t id_of(const std::vector<uint8_t>& frame) {
    if (frame.size() < 4) throw std::runtime_error("frame without an id");
    return get_be32(frame.data());
}

inline protocol::encoded_output output_of(std::span<const uint8_t> bytes) {
    protocol::encoded_output out;
    out.bytes.assign(bytes.begin(), bytes.end());
    return out;
}

inline handler_result echo(const std::vector<uint8_t>& frame) { return handler_result{output_of(frame), false}; }

// A blocking TCP client on 127.0.0.1. Reads time out after `patience`, so a
// server that never answers fails the test instead of hanging it.
class loopback_client {
public:
    explicit loopback_client(uint16_t port) {
        _fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (_fd < 0) throw std::runtime_error("socket failed");
        timeval timeout{static_cast<time_t>(patience.count()), 0};
        ::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(_fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
        int one = 1;
        ::setsockopt(_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            const int error = errno;
            ::close(_fd);
            throw std::system_error(error, std::generic_category(), "connect");
        }
    }
    ~loopback_client() {
        if (_fd >= 0) ::close(_fd);
    }
    loopback_client(const loopback_client&) = delete;
    loopback_client& operator=(const loopback_client&) = delete;

    void send_raw(std::span<const uint8_t> bytes) {
        size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(_fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw std::system_error(errno, std::generic_category(), "send");
            sent += static_cast<size_t>(n);
        }
    }

    static std::vector<uint8_t> framed(std::span<const uint8_t> payload) {
        auto bytes = request(static_cast<uint32_t>(payload.size()));
        bytes.resize(4 + payload.size());
        std::copy(payload.begin(), payload.end(), bytes.begin() + 4);
        return bytes;
    }

    void send_frame(std::span<const uint8_t> payload) { send_raw(framed(payload)); }

    // False on end of stream, reset or timeout.
    bool read_exact(uint8_t* out, size_t size) {
        size_t got = 0;
        while (got < size) {
            const ssize_t n = ::recv(_fd, out + got, size - got, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            got += static_cast<size_t>(n);
        }
        return true;
    }

    // The next response frame (without its size prefix); throws if the
    // connection ends or nothing comes.
    std::vector<uint8_t> read_frame() {
        uint8_t prefix[4];
        if (!read_exact(prefix, 4)) throw std::runtime_error("connection ended before a response");
        std::vector<uint8_t> frame(get_be32(prefix));
        if (!read_exact(frame.data(), frame.size())) throw std::runtime_error("connection ended mid-response");
        return frame;
    }

    // True if the server closed the connection (end of stream or reset)
    // without sending anything more; false if bytes arrived or nothing
    // happened within `patience`.
    bool closed_by_peer() {
        uint8_t byte;
        for (;;) {
            const ssize_t n = ::recv(_fd, &byte, 1, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET || errno == EPIPE;
            return false;
        }
    }

    void shutdown_send() { ::shutdown(_fd, SHUT_WR); }

private:
    int _fd = -1;
};

// A request_handler made of a function.
class function_handler final : public request_handler {
public:
    using function = std::function<boost::asio::awaitable<handler_result>(
        const connection_info&, std::shared_ptr<const std::vector<uint8_t>>)>;

    explicit function_handler(function f) : _function(std::move(f)) {}

    boost::asio::awaitable<handler_result> handle(const connection_info& connection,
                                                  std::shared_ptr<const std::vector<uint8_t>> frame) override {
        return _function(connection, std::move(frame));
    }

private:
    function _function;
};

// Holds handlers until the test opens their gate, and records the order in
// which handlers reached their gate.
class gates {
public:
    // In a handler: returns once the test has opened gate `id`.
    boost::asio::awaitable<void> wait(uint32_t id) {
        auto timer = std::make_shared<boost::asio::steady_timer>(co_await boost::asio::this_coro::executor,
                                                                 boost::asio::steady_timer::time_point::max());
        {
            std::lock_guard lock(_mutex);
            _arrivals.push_back(id);
            _changed.notify_all();
            auto& gate = _gates[id];
            if (gate.open) co_return;
            // Weak: if the server abandons the handler, its frame (and the
            // timer) is destroyed with the server's io_context.
            gate.timer = timer;
        }
        boost::system::error_code ignored;
        co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }

    // From the test thread.
    void open(uint32_t id) {
        std::lock_guard lock(_mutex);
        auto& gate = _gates[id];
        gate.open = true;
        if (auto timer = gate.timer.lock()) {
            boost::asio::post(timer->get_executor(), [timer] { timer->cancel(); });
        }
    }

    // Blocks until `count` handlers in all have reached their gate.
    bool wait_for_arrivals(size_t count) {
        std::unique_lock lock(_mutex);
        return _changed.wait_for(lock, patience, [&] { return _arrivals.size() >= count; });
    }

    std::vector<uint32_t> arrivals() {
        std::lock_guard lock(_mutex);
        return _arrivals;
    }

private:
    struct gate {
        bool open = false;
        std::weak_ptr<boost::asio::steady_timer> timer;
    };
    std::mutex _mutex;
    std::condition_variable _changed;
    std::map<uint32_t, gate> _gates;
    std::vector<uint32_t> _arrivals;
};

// One PLAINTEXT listener on 127.0.0.1 with an ephemeral port.
inline server_options loopback_options(unsigned threads = 1) {
    server_options options;
    options.listeners.push_back(listener_options{"PLAINTEXT", "127.0.0.1", 0, true});
    options.network_threads = threads;
    return options;
}

inline uint16_t port_of(const server& s) { return s.endpoints().at(0).endpoint.port(); }

}  // namespace strata::net::testing
