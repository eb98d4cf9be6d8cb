#include "strata/net/server.h"

#include <atomic>
#include <future>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "net_test_support.h"

namespace strata::net {
namespace {

using namespace testing;
using boost::asio::awaitable;
using frame_ptr = std::shared_ptr<const std::vector<uint8_t>>;

function_handler echo_handler() {
    return function_handler([](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_return echo(*frame);
    });
}

TEST(server, echoes_pipelined_frames_of_any_size_in_order) {
    auto handler = echo_handler();
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));

    const std::vector<size_t> sizes = {0, 1, 5, 4096, 100'000, 3 * 1024 * 1024};
    std::vector<std::vector<uint8_t>> frames;
    std::vector<uint8_t> all;
    for (size_t i = 0; i < sizes.size(); ++i) {
        std::vector<uint8_t> frame(sizes[i]);
        for (size_t j = 0; j < frame.size(); ++j) frame[j] = static_cast<uint8_t>(i * 31 + j * 7);
        auto bytes = loopback_client::framed(frame);
        all.insert(all.end(), bytes.begin(), bytes.end());
        frames.push_back(std::move(frame));
    }
    // One send: the server sees several frames per read and frames split
    // across reads.
    client.send_raw(all);
    for (const auto& frame : frames) EXPECT_EQ(client.read_frame(), frame);
}

TEST(server, reads_a_frame_delivered_one_byte_at_a_time) {
    auto handler = echo_handler();
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));

    const auto bytes = loopback_client::framed(request(42, "split everywhere"));
    for (uint8_t byte : bytes) client.send_raw(std::span(&byte, 1));
    EXPECT_EQ(client.read_frame(), request(42, "split everywhere"));
}

// As a TLS stream hands a large frame over: one 16 KiB record per read.
// Each growth step of the frame is filled by many reads (read_frame).
TEST(server, reads_a_large_frame_delivered_in_small_pieces) {
    auto handler = echo_handler();
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));

    std::vector<uint8_t> frame(1024 * 1024 + 123);
    for (size_t j = 0; j < frame.size(); ++j) frame[j] = static_cast<uint8_t>(j * 13 + j / 7);
    const auto bytes = loopback_client::framed(frame);
    constexpr size_t piece = 16 * 1024;
    for (size_t at = 0; at < bytes.size(); at += piece) {
        client.send_raw(std::span(bytes.data() + at, std::min(piece, bytes.size() - at)));
        if ((at / piece) % 8 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(client.read_frame(), frame);
}

TEST(server, tells_the_handler_about_the_connection) {
    std::mutex mutex;
    std::vector<connection_info> seen;
    function_handler handler([&](const connection_info& info, frame_ptr frame) -> awaitable<handler_result> {
        {
            std::lock_guard lock(mutex);
            seen.push_back(info);
        }
        co_return echo(*frame);
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client first(port_of(s));
    loopback_client second(port_of(s));
    first.send_frame(request(1));
    second.send_frame(request(2));
    first.read_frame();
    second.read_frame();

    ASSERT_EQ(seen.size(), 2u);
    EXPECT_NE(seen[0].id, seen[1].id);
    for (const auto& info : seen) {
        EXPECT_EQ(info.listener, "PLAINTEXT");
        EXPECT_EQ(info.remote.rfind("127.0.0.1:", 0), 0u) << info.remote;
        EXPECT_TRUE(info.zero_copy_allowed);
    }
}

TEST(server, responds_in_request_order_when_handlers_finish_out_of_order) {
    gates gate;
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_await gate.wait(id_of(*frame));
        co_return echo(*frame);
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));

    std::vector<uint8_t> all;
    for (uint32_t id = 0; id < 3; ++id) {
        auto bytes = loopback_client::framed(request(id, "r" + std::to_string(id)));
        all.insert(all.end(), bytes.begin(), bytes.end());
    }
    client.send_raw(all);
    // All three handlers run at once (pipelining), and each reached its first
    // suspension in arrival order.
    ASSERT_TRUE(gate.wait_for_arrivals(3));
    EXPECT_EQ(gate.arrivals(), (std::vector<uint32_t>{0, 1, 2}));

    gate.open(2);
    gate.open(1);
    gate.open(0);
    for (uint32_t id = 0; id < 3; ++id) EXPECT_EQ(client.read_frame(), request(id, "r" + std::to_string(id)));
}

TEST(server, stops_reading_at_the_in_flight_bound) {
    gates gate;
    std::atomic<int> running{0};
    std::atomic<int> most_running{0};
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        const int now = ++running;
        int seen = most_running.load();
        while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
        }
        co_await gate.wait(id_of(*frame));
        --running;
        co_return echo(*frame);
    });
    auto options = loopback_options();
    options.max_in_flight_requests = 2;
    server s(options, handler);
    s.start();
    loopback_client client(port_of(s));

    constexpr uint32_t count = 6;
    std::vector<uint8_t> all;
    for (uint32_t id = 0; id < count; ++id) {
        auto bytes = loopback_client::framed(request(id));
        all.insert(all.end(), bytes.begin(), bytes.end());
    }
    client.send_raw(all);
    for (uint32_t id = 0; id < count; ++id) {
        // Request id + 1 has been read (two in flight), id + 2 not: it is
        // read only once the response to `id` has been written.
        ASSERT_TRUE(gate.wait_for_arrivals(std::min(id + 2, count)));
        EXPECT_EQ(gate.arrivals().size(), std::min(id + 2, count));
        gate.open(id);
        EXPECT_EQ(client.read_frame(), request(id));
    }
    EXPECT_EQ(most_running.load(), 2);
}

TEST(server, sends_nothing_for_a_request_without_response) {
    function_handler handler([](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        if (id_of(*frame) % 2 == 1) co_return handler_result{};  // acks=0
        co_return echo(*frame);
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));
    for (uint32_t id = 0; id < 5; ++id) client.send_frame(request(id));
    EXPECT_EQ(client.read_frame(), request(0));
    EXPECT_EQ(client.read_frame(), request(2));
    EXPECT_EQ(client.read_frame(), request(4));
}

TEST(server, closes_after_the_response_when_the_handler_asks) {
    function_handler handler([](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        auto result = echo(*frame);
        result.close_connection = id_of(*frame) == 1;
        co_return result;
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));
    client.send_frame(request(0));
    client.send_frame(request(1));
    EXPECT_EQ(client.read_frame(), request(0));
    EXPECT_EQ(client.read_frame(), request(1));
    EXPECT_TRUE(client.closed_by_peer());
}

// KIP-219: a throttled client's response goes out at once, then its
// connection reads no request until the throttle time has passed; other
// connections are served meanwhile. (A lower bound on real time: the muted
// request can only come late, never early.) Requests pipelined before the
// throttle was known are not held back.
TEST(server, mutes_a_throttled_connection_for_its_throttle_time) {
    using clock = std::chrono::steady_clock;
    std::mutex lock;
    std::map<uint32_t, clock::time_point> seen;
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        const uint32_t id = id_of(*frame);
        {
            std::lock_guard guard(lock);
            seen[id] = clock::now();
        }
        auto result = echo(*frame);
        if (id == 1) result.throttle_ms = 1000;
        co_return result;
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client throttled(port_of(s));
    loopback_client other(port_of(s));
    throttled.send_frame(request(1));
    EXPECT_EQ(throttled.read_frame(), request(1));
    throttled.send_frame(request(2));
    other.send_frame(request(3));
    EXPECT_EQ(other.read_frame(), request(3));
    EXPECT_EQ(throttled.read_frame(), request(2));
    std::lock_guard guard(lock);
    ASSERT_EQ(seen.size(), 3u);
    EXPECT_GE(seen[2] - seen[1], std::chrono::milliseconds(1000));
    EXPECT_LT(seen[3], seen[2]);  // the other connection was not held up
}

// Once throttled, a client has its requests handled one at a time, as
// Kafka's muted channel does, so that each throttle is known before the next
// request is read: a pipelining producer (librdkafka keeps many produce
// requests in flight) would otherwise get a socketful of requests past every
// throttle. Before its first throttle the connection pipelines.
TEST(server, handles_a_throttled_clients_requests_one_at_a_time) {
    std::atomic<int> running{0};
    std::atomic<int> most_running{0};
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        const int now = ++running;
        int seen = most_running.load();
        while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
        }
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, std::chrono::milliseconds(20));
        co_await timer.async_wait(boost::asio::use_awaitable);
        --running;
        auto result = echo(*frame);
        if (id_of(*frame) == 0) result.throttle_ms = 1;
        co_return result;
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));
    client.send_frame(request(0));
    EXPECT_EQ(client.read_frame(), request(0));
    for (uint32_t id = 1; id < 5; ++id) client.send_frame(request(id));
    for (uint32_t id = 1; id < 5; ++id) EXPECT_EQ(client.read_frame(), request(id));
    EXPECT_EQ(most_running.load(), 1);
}

TEST(server, closes_the_connection_when_the_handler_throws) {
    function_handler handler([](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        if (id_of(*frame) == 1) throw std::runtime_error("malformed request");
        co_return echo(*frame);
    });
    server s(loopback_options(), handler);
    s.start();
    {
        loopback_client client(port_of(s));
        client.send_frame(request(0));
        EXPECT_EQ(client.read_frame(), request(0));
        client.send_frame(request(1));
        EXPECT_TRUE(client.closed_by_peer());
    }
    // Only that connection ends; the server goes on.
    loopback_client next(port_of(s));
    next.send_frame(request(2));
    EXPECT_EQ(next.read_frame(), request(2));
}

TEST(server, answers_what_was_sent_before_the_client_finished_sending) {
    gates gate;
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_await gate.wait(id_of(*frame));
        co_return echo(*frame);
    });
    server s(loopback_options(), handler);
    s.start();
    loopback_client client(port_of(s));
    for (uint32_t id = 0; id < 3; ++id) client.send_frame(request(id));
    client.shutdown_send();
    ASSERT_TRUE(gate.wait_for_arrivals(3));
    for (uint32_t id : {1, 0, 2}) gate.open(id);
    for (uint32_t id = 0; id < 3; ++id) EXPECT_EQ(client.read_frame(), request(id));
    EXPECT_TRUE(client.closed_by_peer());
}

TEST(server, serves_many_connections_on_several_threads) {
    // Handlers yield a varying number of times, so that their completions
    // interleave across requests and connections.
    function_handler handler([](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        const uint32_t id = id_of(*frame);
        auto executor = co_await boost::asio::this_coro::executor;
        for (uint32_t i = 0; i < (id * 7) % 5; ++i) co_await boost::asio::post(executor, boost::asio::use_awaitable);
        co_return echo(*frame);
    });
    server s(loopback_options(2), handler);
    s.start();
    constexpr uint32_t clients = 8;
    constexpr uint32_t requests = 200;
    std::vector<std::future<void>> runs;
    for (uint32_t c = 0; c < clients; ++c) {
        runs.push_back(std::async(std::launch::async, [&, c] {
            loopback_client client(port_of(s));
            std::vector<uint8_t> all;
            for (uint32_t id = 0; id < requests; ++id) {
                auto bytes = loopback_client::framed(request(id, std::to_string(c)));
                all.insert(all.end(), bytes.begin(), bytes.end());
            }
            client.send_raw(all);
            for (uint32_t id = 0; id < requests; ++id) {
                EXPECT_EQ(client.read_frame(), request(id, std::to_string(c)));
            }
        }));
    }
    for (auto& run : runs) run.get();
}

TEST(server, stop_closes_connections_and_waits_for_their_handlers) {
    gates gate;
    std::atomic<bool> finished{false};
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        if (id_of(*frame) != 0) {
            co_await gate.wait(id_of(*frame));
            finished = true;
        }
        co_return echo(*frame);
    });
    server s(loopback_options(2), handler);
    s.start();
    const auto port = port_of(s);
    loopback_client idle(port);
    idle.send_frame(request(0));
    EXPECT_EQ(idle.read_frame(), request(0));
    loopback_client busy(port);
    busy.send_frame(request(7));
    ASSERT_TRUE(gate.wait_for_arrivals(1));
    EXPECT_EQ(s.connection_count(), 2u);

    auto stopping = std::async(std::launch::async, [&] { s.stop(); });
    EXPECT_TRUE(idle.closed_by_peer());
    EXPECT_TRUE(busy.closed_by_peer());
    // The handler of request 7 is still running, so stop() is still waiting.
    EXPECT_EQ(stopping.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    gate.open(7);
    ASSERT_EQ(stopping.wait_for(patience), std::future_status::ready);
    EXPECT_TRUE(finished);
    EXPECT_EQ(s.connection_count(), 0u);
    EXPECT_THROW(loopback_client refused(port), std::system_error);
    s.stop();  // idempotent
}

TEST(server, stop_abandons_handlers_that_outlast_the_grace_period) {
    gates gate;  // never opened
    function_handler handler([&](const connection_info&, frame_ptr frame) -> awaitable<handler_result> {
        co_await gate.wait(id_of(*frame));
        co_return echo(*frame);
    });
    auto options = loopback_options();
    options.shutdown_grace = std::chrono::milliseconds(50);
    {
        server s(options, handler);
        s.start();
        loopback_client client(port_of(s));
        client.send_frame(request(1));
        ASSERT_TRUE(gate.wait_for_arrivals(1));
        s.stop();
        EXPECT_TRUE(client.closed_by_peer());
    }
    // The abandoned coroutine was destroyed with the server; its timer too.
    gate.open(1);
}

TEST(server, start_fails_naming_the_listener_whose_port_is_taken) {
    auto handler = echo_handler();
    server first(loopback_options(), handler);
    first.start();
    auto options = loopback_options();
    options.listeners[0].name = "CLIENT";
    options.listeners[0].port = port_of(first);
    server second(options, handler);
    try {
        second.start();
        FAIL() << "bound a port already in use";
    } catch (const std::system_error& e) {
        EXPECT_NE(std::string(e.what()).find("listener CLIENT"), std::string::npos) << e.what();
    }
}

TEST(server, binds_every_address_of_a_host_name_on_one_port) {
    auto handler = echo_handler();
    server_options options;
    options.listeners.push_back(listener_options{"PLAINTEXT", "localhost", 0, true});
    options.network_threads = 1;
    server s(options, handler);
    s.start();
    const auto endpoints = s.endpoints();
    ASSERT_FALSE(endpoints.empty());
    for (const auto& bound : endpoints) {
        EXPECT_EQ(bound.listener, "PLAINTEXT");
        EXPECT_TRUE(bound.endpoint.address().is_loopback()) << bound.endpoint.address().to_string();
        EXPECT_EQ(bound.endpoint.port(), endpoints[0].endpoint.port());
    }
}

TEST(server, formats_endpoints) {
    using boost::asio::ip::make_address;
    using boost::asio::ip::tcp;
    EXPECT_EQ(format_endpoint(tcp::endpoint(make_address("127.0.0.1"), 9092)), "127.0.0.1:9092");
    EXPECT_EQ(format_endpoint(tcp::endpoint(make_address("::1"), 9092)), "[::1]:9092");
    EXPECT_EQ(format_endpoint(tcp::endpoint(make_address("::ffff:10.0.0.1"), 1)), "10.0.0.1:1");
}

}  // namespace
}  // namespace strata::net
