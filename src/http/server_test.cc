// The HTTP listener over real loopback sockets, on an io_context of the
// test's own (the broker lends it the network threads').
#include "strata/http/server.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <string>
#include <thread>

namespace strata::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class running_server {
public:
    explicit running_server(server_options options) {
        routes.add("GET", "/hello", [](const request& r) -> asio::awaitable<response> {
            response out;
            out.body = "hello " + std::string(r.header("X-Name")) + " " + r.query;
            co_return out;
        });
        routes.add("POST", "/echo", [](const request& r) -> asio::awaitable<response> {
            response out;
            out.body = r.body;
            co_return out;
        });
        routes.add("GET", "/boom", [](const request&) -> asio::awaitable<response> {
            throw std::runtime_error("boom");
            co_return response{};
        });
        options.listeners = {{"127.0.0.1", 0}};
        http.emplace(options, routes, std::vector<asio::any_io_executor>{context.get_executor()});
        http->start();
        thread = std::thread([this] { context.run(); });
        port = http->endpoints().at(0).port();
    }
    ~running_server() {
        http->stop();
        guard.reset();
        thread.join();
    }

    asio::io_context context;
    asio::executor_work_guard<asio::io_context::executor_type> guard{context.get_executor()};
    router routes;
    std::optional<server> http;
    std::thread thread;
    uint16_t port = 0;
};

// Sends `raw` and reads until the server closes (or, with keep-alive, the
// first response: a Content-Length-framed read).
std::string round_trip(uint16_t port, const std::string& raw) {
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(socket, asio::buffer(raw));
    std::string out;
    boost::system::error_code ec;
    char buffer[4096];
    for (;;) {
        const size_t n = socket.read_some(asio::buffer(buffer), ec);
        out.append(buffer, n);
        if (ec) break;
    }
    return out;
}

TEST(http_server, routes_a_request_with_its_headers_and_query) {
    running_server s({});
    auto out = round_trip(s.port, "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nX-Name: bob\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n")) << out;
    EXPECT_NE(out.find("\r\n\r\nhello bob x=1"), std::string::npos) << out;
    EXPECT_EQ(s.http->responses(2), 1u);
}

TEST(http_server, keeps_the_connection_for_several_requests) {
    running_server s({});
    auto out = round_trip(s.port,
                        "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                        "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                        "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    size_t count = 0;
    for (size_t at = 0; (at = out.find("HTTP/1.1 200 OK", at)) != std::string::npos; ++at) ++count;
    EXPECT_EQ(count, 3u) << out;
    EXPECT_NE(out.find("\r\n\r\nabc"), std::string::npos) << out;
}

TEST(http_server, unknown_paths_and_methods_and_failing_handlers) {
    running_server s({});
    EXPECT_TRUE(round_trip(s.port, "GET /nope HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 404"));
    EXPECT_TRUE(round_trip(s.port, "DELETE /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 405"));
    EXPECT_TRUE(round_trip(s.port, "GET /boom HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 500"));
    EXPECT_TRUE(round_trip(s.port, "NOT HTTP AT ALL\r\n\r\n").starts_with("HTTP/1.1 400"));
    // HEAD is GET without the body.
    auto head = round_trip(s.port, "HEAD /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
    EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
}

TEST(http_server, refuses_requests_over_the_size_limit) {
    server_options options;
    options.max_request_bytes = 2048;
    running_server s(options);
    const std::string body(4096, 'x');
    auto out = round_trip(s.port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4096\r\n\r\n" + body);
    EXPECT_TRUE(out.starts_with("HTTP/1.1 413")) << out.substr(0, 100);
    auto headers = round_trip(s.port, "GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: " + body + "\r\n\r\n");
    EXPECT_TRUE(headers.starts_with("HTTP/1.1 431")) << headers.substr(0, 100);
    // Within the limit is fine.
    auto small = round_trip(s.port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" +
                                      std::string(1000, 'y'));
    EXPECT_TRUE(small.starts_with("HTTP/1.1 200")) << small.substr(0, 100);
}

TEST(http_server, refuses_connections_over_the_limit) {
    server_options options;
    options.max_connections = 2;
    running_server s(options);
    asio::io_context io;
    std::vector<tcp::socket> held;
    for (int i = 0; i < 2; ++i) {
        held.emplace_back(io);
        held.back().connect({asio::ip::make_address("127.0.0.1"), s.port});
    }
    // The server counts a connection once it accepted it: wait for both.
    for (int i = 0; i < 500 && s.http->connection_count() < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_EQ(s.http->connection_count(), 2u);
    EXPECT_TRUE(round_trip(s.port, "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n").starts_with("HTTP/1.1 503"));
    held.clear();  // closed: room again
    for (int i = 0; i < 500 && s.http->connection_count() > 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_TRUE(round_trip(s.port, "GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    .starts_with("HTTP/1.1 200"));
}

TEST(http_server, stop_closes_idle_connections) {
    auto s = std::make_unique<running_server>(server_options{});
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect({asio::ip::make_address("127.0.0.1"), s->port});
    for (int i = 0; i < 500 && s->http->connection_count() < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto start = std::chrono::steady_clock::now();
    s.reset();  // would wait the 30 s idle timeout if stop() did not close it
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    char c;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&c, 1), ec);
    EXPECT_TRUE(ec);
}

TEST(http_listen_address, parses_kafka_style_addresses) {
    listen_address a;
    EXPECT_EQ(parse_listen_address("http://0.0.0.0:8080", a), "");
    EXPECT_EQ(a.host, "0.0.0.0");
    EXPECT_EQ(a.port, 8080);
    EXPECT_EQ(parse_listen_address("http://:9000", a), "");
    EXPECT_EQ(a.host, "");
    EXPECT_EQ(parse_listen_address("http://[::1]:0", a), "");
    EXPECT_EQ(a.host, "::1");
    EXPECT_EQ(a.port, 0);
    EXPECT_FALSE(a.tls);
    EXPECT_EQ(parse_listen_address("https://localhost:8443", a), "");
    EXPECT_TRUE(a.tls);
    EXPECT_EQ(a.port, 8443);
    EXPECT_NE(parse_listen_address("ftp://localhost:21", a), "");
    EXPECT_NE(parse_listen_address("http://localhost", a), "");
    EXPECT_NE(parse_listen_address("http://localhost:99999", a), "");
    EXPECT_NE(parse_listen_address("localhost:80", a), "");
}

}  // namespace
}  // namespace strata::http
