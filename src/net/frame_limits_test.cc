// Hostile sizes: a frame whose size prefix is negative or over the maximum
// closes the connection with nothing allocated for it, and a size the peer
// does not back with bytes costs only what was received.
#include <atomic>
#include <cstdlib>
#include <new>

#include <gtest/gtest.h>

#include "net_test_support.h"
#include "strata/net/server.h"

namespace {

// The largest single allocation made through operator new in this test
// binary since the last reset.
std::atomic<size_t> largest_allocation{0};

void* allocate(std::size_t size) {
    size_t seen = largest_allocation.load(std::memory_order_relaxed);
    while (size > seen && !largest_allocation.compare_exchange_weak(seen, size, std::memory_order_relaxed)) {
    }
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return allocate(size); }
void* operator new[](std::size_t size) { return allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace strata::net {
namespace {

using namespace testing;
using boost::asio::awaitable;
using frame_ptr = std::shared_ptr<const std::vector<uint8_t>>;

constexpr size_t one_mebibyte = 1024 * 1024;

struct counting_echo {
    std::atomic<int> calls{0};
    function_handler handler{[this](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        ++calls;
        co_return echo(*frame);
    }};
};

std::vector<uint8_t> size_prefix(uint32_t size) {
    std::vector<uint8_t> bytes;
    put_be32(bytes, size);
    return bytes;
}

TEST(frame_limits, a_frame_over_the_maximum_closes_the_connection_without_allocating) {
    counting_echo echo;
    server s(loopback_options(), echo.handler);  // socket.request.max.bytes: 104857600
    s.start();
    loopback_client client(port_of(s));
    largest_allocation = 0;
    client.send_raw(size_prefix(104857600 + 1));
    client.send_raw(request(1, "the start of a body"));
    EXPECT_TRUE(client.closed_by_peer());
    EXPECT_LT(largest_allocation.load(), one_mebibyte);
    EXPECT_EQ(echo.calls.load(), 0);
}

TEST(frame_limits, a_negative_size_closes_the_connection) {
    counting_echo echo;
    server s(loopback_options(), echo.handler);
    s.start();
    loopback_client client(port_of(s));
    largest_allocation = 0;
    client.send_raw(size_prefix(0x80000000u));  // -2147483648
    EXPECT_TRUE(client.closed_by_peer());
    EXPECT_LT(largest_allocation.load(), one_mebibyte);
    EXPECT_EQ(echo.calls.load(), 0);
}

TEST(frame_limits, the_maximum_itself_is_accepted) {
    counting_echo echo;
    auto options = loopback_options();
    options.max_request_bytes = 1000;
    server s(options, echo.handler);
    s.start();
    loopback_client client(port_of(s));
    std::vector<uint8_t> frame(1000, 0x5a);
    client.send_frame(frame);
    EXPECT_EQ(client.read_frame(), frame);
    client.send_frame(std::vector<uint8_t>(1001, 0x5a));
    EXPECT_TRUE(client.closed_by_peer());
    EXPECT_EQ(echo.calls.load(), 1);
}

TEST(frame_limits, an_empty_frame_reaches_the_handler) {
    counting_echo echo;
    server s(loopback_options(), echo.handler);
    s.start();
    loopback_client client(port_of(s));
    client.send_frame({});
    EXPECT_EQ(client.read_frame(), std::vector<uint8_t>{});
}

TEST(frame_limits, a_claimed_size_costs_only_the_bytes_received) {
    counting_echo echo;
    server s(loopback_options(), echo.handler);
    s.start();
    {
        loopback_client client(port_of(s));
        largest_allocation = 0;
        // Claims 100 MB, sends 200 KB of it, then goes away.
        client.send_raw(size_prefix(100'000'000));
        client.send_raw(std::vector<uint8_t>(200'000, 1));
        client.shutdown_send();
        EXPECT_TRUE(client.closed_by_peer());
    }
    // The buffer grows with the bytes (at most doubling), so 200 KB received
    // justify well under 1 MiB.
    EXPECT_LT(largest_allocation.load(), one_mebibyte);
    EXPECT_EQ(echo.calls.load(), 0);
}

TEST(frame_limits, in_flight_bytes_bound_reading) {
    gates gate;
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_await gate.wait(id_of(*frame));
        co_return echo(*frame);
    });
    auto options = loopback_options();
    options.max_in_flight_bytes = 10'000;
    server s(options, handler);
    s.start();
    loopback_client client(port_of(s));
    const std::string big(6'000, 'x');
    for (uint32_t id = 0; id < 3; ++id) client.send_frame(request(id, big));
    // Two frames hold 12 000 bytes, over the bound: the third waits.
    ASSERT_TRUE(gate.wait_for_arrivals(2));
    EXPECT_EQ(gate.arrivals().size(), 2u);
    gate.open(0);
    EXPECT_EQ(client.read_frame(), request(0, big));
    ASSERT_TRUE(gate.wait_for_arrivals(3));
    gate.open(1);
    gate.open(2);
    EXPECT_EQ(client.read_frame(), request(1, big));
    EXPECT_EQ(client.read_frame(), request(2, big));
}

}  // namespace
}  // namespace strata::net

namespace strata::net {
namespace {

using namespace testing;

// A SASL listener; the handler "authenticates" the connection when a
// request's text is "auth".
struct sasl_fixture {
    std::atomic<int> calls{0};
    function_handler handler{[this](const connection_info& c, frame_ptr frame) -> awaitable<handler_result> {
        ++calls;
        const std::string text(frame->begin() + 4, frame->end());
        if (text == "auth" && c.sasl) {
            c.sasl->state = security::sasl_session::stage::complete;
            c.sasl->authenticated_as = security::principal{"User", "alice"};
        }
        co_return echo(*frame);
    }};
    server_options options() {
        auto o = loopback_options();
        o.listeners.front().sasl = true;
        o.max_unauthenticated_request_bytes = 1000;
        return o;
    }
};

TEST(frame_limits, before_authentication_the_small_limit_applies_without_allocating) {
    sasl_fixture f;
    server s(f.options(), f.handler);
    s.start();
    loopback_client client(port_of(s));
    largest_allocation = 0;
    client.send_raw(size_prefix(100 * one_mebibyte));  // within socket.request.max.bytes
    client.send_raw(request(1, "the start of a body"));
    EXPECT_TRUE(client.closed_by_peer());
    EXPECT_LT(largest_allocation.load(), one_mebibyte);
    EXPECT_EQ(f.calls.load(), 0);
}

TEST(frame_limits, after_authentication_the_normal_limit_applies) {
    sasl_fixture f;
    server s(f.options(), f.handler);
    s.start();
    loopback_client client(port_of(s));
    auto frame_of = [](std::vector<uint8_t> body) {
        auto out = size_prefix(static_cast<uint32_t>(body.size()));
        out.insert(out.end(), body.begin(), body.end());
        return out;
    };
    client.send_raw(frame_of(request(1, "auth")));
    EXPECT_EQ(id_of(client.read_frame()), 1u);
    const std::string large(5000, 'x');  // over the pre-authentication bound
    client.send_raw(frame_of(request(2, large)));
    EXPECT_EQ(id_of(client.read_frame()), 2u);
}

}  // namespace
}  // namespace strata::net
