// net::client_connection against a real net::server on loopback: pipelined
// requests matched by correlation id, a timed-out request that does not cost
// the connection, refused connections, loss of the server, close().
#include "strata/net/client_connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

#include <fmt/format.h>

#include "net_test_support.h"
#include "strata/protocol/messages/request_header.h"

namespace strata::net {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::function_handler;

constexpr auto key = protocol::api_key::describe_quorum;  // flexible: request header v2, response header v1

// Answers with the request's body, after 300 ms if the body is "slow".
function_handler echo_body_handler() {
    return function_handler([](const connection_info&, std::shared_ptr<const std::vector<uint8_t>> frame)
                                -> asio::awaitable<handler_result> {
        protocol::reader r(*frame);
        protocol::messages::request_header header;
        header.decode(r, 2);
        auto body = r.read_raw(r.remaining());
        std::string text(body.begin(), body.end());
        if (text == "close") co_return handler_result{std::nullopt, true};
        if (text == "slow") {
            asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
            co_await timer.async_wait(asio::use_awaitable);
        }
        protocol::encoded_output out;
        protocol::writer w(out);
        w.write_int32(header.correlation_id);
        w.write_uvarint(0);  // no tagged fields
        out.bytes.insert(out.bytes.end(), body.begin(), body.end());
        co_return handler_result{std::move(out), false};
    });
}

protocol::encoded_output body_of(std::string_view text) {
    protocol::encoded_output out;
    out.bytes.assign(text.begin(), text.end());
    return out;
}

std::string text_of(const response_frame& frame) {
    auto r = frame.body();
    auto rest = r.read_raw(r.remaining());
    return std::string(rest.begin(), rest.end());
}

// Starts `task` on `ex`; the result appears in the optional when it ends.
// (Not a future: Boost 1.74's co_spawn wants a default-constructible result.)
template <typename T>
std::shared_ptr<std::optional<T>> start(asio::any_io_executor ex, asio::awaitable<T> task) {
    auto out = std::make_shared<std::optional<T>>();
    auto run = [](asio::awaitable<T> t, std::shared_ptr<std::optional<T>> o) -> asio::awaitable<void> {
        o->emplace(co_await std::move(t));
    };
    asio::co_spawn(ex, run(std::move(task), out), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    return out;
}

template <typename T>
asio::awaitable<T> finished(std::shared_ptr<std::optional<T>> result) {
    asio::steady_timer wait(co_await asio::this_coro::executor);
    while (!result->has_value()) {
        wait.expires_after(5ms);
        co_await wait.async_wait(asio::use_awaitable);
    }
    co_return std::move(**result);
}

// Runs a coroutine on a fresh io_context on this thread.
template <typename F>
void run(F&& test) {
    asio::io_context context;
    auto done = asio::co_spawn(context, test(context.get_executor()), asio::use_future);
    context.run();
    done.get();
}

client_options options_for(uint16_t port) {
    client_options options;
    options.host = "127.0.0.1";
    options.port = port;
    return options;
}

TEST(client_connection, pipelined_requests_get_their_own_answers) {
    auto handler = echo_body_handler();
    server s(testing::loopback_options(), handler);
    s.start();
    run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        auto client = client_connection::create(ex, options_for(testing::port_of(s)));
        std::vector<std::shared_ptr<std::optional<client_result<response_frame>>>> answers;
        for (int i = 0; i < 20; ++i) {
            answers.push_back(start(ex, client->request(key, 0, body_of(fmt::format("request {}", i)), 5s)));
        }
        for (int i = 0; i < 20; ++i) {
            auto answer = co_await finished(answers[i]);
            EXPECT_TRUE(answer);
            if (answer) {
            EXPECT_EQ(text_of(answer.value()), fmt::format("request {}", i));
        }
        }
        EXPECT_TRUE(client->connected());
        client->close();
        co_await client->stopped();
    });
    s.stop();
}

TEST(client_connection, a_timed_out_request_does_not_cost_the_connection) {
    auto handler = echo_body_handler();
    server s(testing::loopback_options(), handler);
    s.start();
    run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        auto client = client_connection::create(ex, options_for(testing::port_of(s)));
        auto slow = co_await client->request(key, 0, body_of("slow"), 50ms);
        EXPECT_FALSE(slow);
        if (!slow) {
            EXPECT_EQ(slow.error(), client_error::timed_out);
        }
        // The late answer to "slow" arrives first and is dropped.
        auto next = co_await client->request(key, 0, body_of("next"), 5s);
        EXPECT_TRUE(next);
        if (next) {
            EXPECT_EQ(text_of(next.value()), "next");
        }
        client->close();
        co_await client->stopped();
    });
    s.stop();
}

TEST(client_connection, refused_connections_back_off_and_a_lost_server_fails_what_waits) {
    uint16_t port = 0;
    {
        auto handler = echo_body_handler();
        server probe(testing::loopback_options(), handler);
        probe.start();
        port = testing::port_of(probe);
    }  // nothing listens on `port` any more
    run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        auto client = client_connection::create(ex, options_for(port));
        auto refused = co_await client->request(key, 0, body_of("x"), 1s);
        EXPECT_FALSE(refused);
        if (!refused) {
            EXPECT_EQ(refused.error(), client_error::disconnected);
        }
        // Within the backoff, requests fail at once without connecting.
        auto backing_off = co_await client->request(key, 0, body_of("x"), 1s);
        EXPECT_EQ(backing_off.error(), client_error::disconnected);
        client->close();
        EXPECT_EQ((co_await client->request(key, 0, body_of("x"), 1s)).error(), client_error::closed);
        co_await client->stopped();
    });

    auto handler = echo_body_handler();
    auto s = std::make_unique<server>(testing::loopback_options(), handler);
    s->start();
    run([&](asio::any_io_executor ex) -> asio::awaitable<void> {
        auto client = client_connection::create(ex, options_for(testing::port_of(*s)));
        EXPECT_TRUE(co_await client->request(key, 0, body_of("up"), 5s));
        // The server closes the connection without answering: what waits fails.
        auto waiting = start(ex, client->request(key, 0, body_of("slow"), 5s));
        auto lost = co_await client->request(key, 0, body_of("close"), 5s);
        EXPECT_FALSE(lost);
        if (!lost) {
            EXPECT_EQ(lost.error(), client_error::disconnected);
        }
        lost = co_await finished(waiting);
        EXPECT_FALSE(lost);
        if (!lost) {
            EXPECT_EQ(lost.error(), client_error::disconnected);
        }
        EXPECT_FALSE(client->connected());
        client->close();
        co_await client->stopped();
    });
}

}  // namespace
}  // namespace strata::net
