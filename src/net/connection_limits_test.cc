// The broker-wide limits: queued.max.request.bytes (a budget of request
// bytes across connections), max.connections and max.connections.per.ip.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "net_test_support.h"
#include "strata/net/server.h"

namespace strata::net {
namespace {

using namespace testing;
using boost::asio::awaitable;
using frame_ptr = std::shared_ptr<const std::vector<uint8_t>>;

// Polls `condition` until it holds, for at most `patience`.
template <typename Condition>
bool eventually(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

function_handler echo_handler() {
    return function_handler([](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_return echo(*frame);
    });
}

struct gated_echo {
    gates gate;
    function_handler handler{[this](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_await gate.wait(id_of(*frame));
        co_return echo(*frame);
    }};
};

TEST(request_budget, a_spent_budget_pauses_other_connections_without_closing_them) {
    gated_echo h;
    auto options = loopback_options(2);
    options.queued_max_request_bytes = 10'000;
    server s(options, h.handler);
    s.start();
    loopback_client a(port_of(s));
    loopback_client b(port_of(s));
    const std::string big(6'000, 'x');
    a.send_frame(request(1, big));
    ASSERT_TRUE(h.gate.wait_for_arrivals(1));
    EXPECT_EQ(s.queued_request_bytes(), 6'004);
    // B's frame does not fit beside A's: B waits, its body unread.
    b.send_frame(request(2, big));
    ASSERT_TRUE(eventually([&] { return s.connections_waiting_for_memory() == 1; }));
    EXPECT_EQ(h.gate.arrivals().size(), 1u);
    // A finishes and frees its frame: B is read and served, still connected.
    h.gate.open(1);
    EXPECT_EQ(a.read_frame(), request(1, big));
    ASSERT_TRUE(h.gate.wait_for_arrivals(2));
    h.gate.open(2);
    EXPECT_EQ(b.read_frame(), request(2, big));
    EXPECT_TRUE(eventually([&] { return s.queued_request_bytes() == 0; }));
    EXPECT_EQ(s.connections_waiting_for_memory(), 0u);
}

TEST(request_budget, a_frame_larger_than_the_budget_is_read_when_nothing_else_is_held) {
    gated_echo h;
    auto options = loopback_options();
    options.queued_max_request_bytes = 1'000;
    server s(options, h.handler);
    s.start();
    loopback_client client(port_of(s));
    const std::string big(5'000, 'y');
    h.gate.open(7);
    client.send_frame(request(7, big));
    EXPECT_EQ(client.read_frame(), request(7, big));
}

// A waiting connection is not reading, so a peer that leaves meanwhile is
// noticed only when its turn comes: it then reads end-of-file, its
// reservation is returned at once, and the next in line goes on.
TEST(request_budget, a_peer_that_left_while_waiting_passes_its_turn_on) {
    gated_echo h;
    auto options = loopback_options(2);
    options.queued_max_request_bytes = 10'000;
    server s(options, h.handler);
    s.start();
    loopback_client a(port_of(s));
    a.send_frame(request(1, std::string(6'000, 'a')));
    ASSERT_TRUE(h.gate.wait_for_arrivals(1));
    {
        // It announces 6 000 bytes, sends a few and leaves.
        loopback_client quitter(port_of(s));
        auto partial = loopback_client::framed(request(2, std::string(6'000, 'q')));
        partial.resize(100);
        quitter.send_raw(partial);
        ASSERT_TRUE(eventually([&] { return s.connections_waiting_for_memory() == 1; }));
    }
    // C would fit beside A, but waits behind the earlier waiter (FIFO).
    loopback_client c(port_of(s));
    h.gate.open(3);
    c.send_frame(request(3, "small"));
    ASSERT_TRUE(eventually([&] { return s.connections_waiting_for_memory() == 2; }));
    h.gate.open(1);
    a.read_frame();
    EXPECT_EQ(c.read_frame(), request(3, "small"));
    EXPECT_TRUE(eventually([&] { return s.queued_request_bytes() == 0; }));
    EXPECT_EQ(h.gate.arrivals(), (std::vector<uint32_t>{1, 3}));
}

TEST(request_budget, stopping_the_server_ends_the_waits) {
    gated_echo h;
    auto options = loopback_options(2);
    options.queued_max_request_bytes = 10'000;
    server s(options, h.handler);
    s.start();
    loopback_client a(port_of(s));
    loopback_client b(port_of(s));
    a.send_frame(request(1, std::string(6'000, 'a')));
    ASSERT_TRUE(h.gate.wait_for_arrivals(1));
    b.send_frame(request(2, std::string(6'000, 'b')));
    ASSERT_TRUE(eventually([&] { return s.connections_waiting_for_memory() == 1; }));
    std::thread stopper([&] { s.stop(); });
    EXPECT_TRUE(b.closed_by_peer());  // its wait ended with the connection
    h.gate.open(1);                   // A's handler may finish; stop() waits for it
    stopper.join();
    EXPECT_EQ(h.gate.arrivals(), std::vector<uint32_t>{1});
    EXPECT_EQ(s.connections_waiting_for_memory(), 0u);
}

TEST(connection_limits, at_max_connections_new_clients_wait_until_one_closes) {
    auto handler = echo_handler();
    auto options = loopback_options();
    options.max_connections = 2;
    server s(options, handler);
    s.start();
    auto first = std::make_unique<loopback_client>(port_of(s));
    loopback_client second(port_of(s));
    first->send_frame(request(1));
    second.send_frame(request(2));
    EXPECT_EQ(first->read_frame(), request(1));
    EXPECT_EQ(second.read_frame(), request(2));
    // The kernel completes the third handshake (backlog), but the broker
    // does not take the connection while two are open.
    loopback_client third(port_of(s));
    third.send_frame(request(3));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_EQ(s.connection_count(), 2u);
    first.reset();
    EXPECT_EQ(third.read_frame(), request(3));  // served once a slot is free
    EXPECT_EQ(s.connection_count(), 2u);
}

TEST(connection_limits, the_controller_listener_is_not_counted_or_stopped) {
    auto handler = echo_handler();
    auto options = loopback_options();
    options.listeners.push_back(listener_options{"CONTROLLER", "127.0.0.1", 0, true});
    options.max_connections = 1;
    options.unlimited_listeners = {"CONTROLLER"};
    server s(options, handler);
    s.start();
    const uint16_t controller_port = s.endpoints().at(1).endpoint.port();
    loopback_client client(port_of(s));
    client.send_frame(request(1));
    EXPECT_EQ(client.read_frame(), request(1));
    loopback_client peer1(controller_port);
    loopback_client peer2(controller_port);
    peer1.send_frame(request(2));
    peer2.send_frame(request(3));
    EXPECT_EQ(peer1.read_frame(), request(2));
    EXPECT_EQ(peer2.read_frame(), request(3));
}

TEST(connection_limits, a_connection_over_max_connections_per_ip_is_closed) {
    auto handler = echo_handler();
    auto options = loopback_options();
    options.max_connections_per_ip = 2;
    server s(options, handler);
    s.start();
    loopback_client a(port_of(s));
    loopback_client b(port_of(s));
    a.send_frame(request(1));
    EXPECT_EQ(a.read_frame(), request(1));
    b.send_frame(request(2));
    EXPECT_EQ(b.read_frame(), request(2));
    loopback_client c(port_of(s));
    EXPECT_TRUE(c.closed_by_peer());
    // The address's count goes down as its connections close.
    { loopback_client gone(port_of(s)); }  // itself refused: changes nothing
    a.shutdown_send();
    EXPECT_TRUE(a.closed_by_peer());
    ASSERT_TRUE(eventually([&] { return s.connection_count() == 1; }));
    loopback_client d(port_of(s));
    d.send_frame(request(4));
    EXPECT_EQ(d.read_frame(), request(4));
}

TEST(connection_limits, max_connections_per_ip_overrides_replace_the_limit_for_their_address) {
    auto handler = echo_handler();
    auto options = loopback_options();
    options.max_connections_per_ip = 1;
    options.max_connections_per_ip_overrides = {{"127.0.0.1", 3}};
    server s(options, handler);
    s.start();
    loopback_client a(port_of(s));
    loopback_client b(port_of(s));
    loopback_client c(port_of(s));
    for (auto* client : {&a, &b, &c}) {
        client->send_frame(request(1));
        EXPECT_EQ(client->read_frame(), request(1));
    }
    loopback_client d(port_of(s));
    EXPECT_TRUE(d.closed_by_peer());
}

TEST(connection_limits, an_override_of_zero_refuses_every_connection_from_the_address) {
    auto handler = echo_handler();
    auto options = loopback_options();
    options.max_connections_per_ip_overrides = {{"127.0.0.1", 0}};
    server s(options, handler);
    s.start();
    loopback_client refused(port_of(s));
    EXPECT_TRUE(refused.closed_by_peer());
    EXPECT_TRUE(eventually([&] { return s.connection_count() == 0; }));
}

}  // namespace
}  // namespace strata::net
