// The broker's HTTP listener: HTTP/1.1 (Boost.Beast) on the network
// threads' executors, a route table of exact paths, bounded requests and
// connections, access log lines at debug level. See src/http/README.md.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl {
class context;
}

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strata::http {

// One request as a handler sees it: the whole body is read before the
// handler runs (bounded by server_options::max_request_bytes).
struct request {
    std::string method;  // "GET", "POST", ...
    std::string path;    // the target before '?', not decoded
    std::string query;   // after '?', not decoded; empty when none
    std::map<std::string, std::string, std::less<>> headers;  // names in lower case
    std::string body;
    std::string remote;  // "127.0.0.1:51234"
    // The user HTTP Basic authenticated (server_options::check_password);
    // empty when the listener asks for no credentials or the path is open.
    std::string user;

    // The header's value, or "" (names are matched case-insensitively).
    std::string_view header(std::string_view name) const;
};

struct response {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

// A handler runs on the connection's network thread; what it cannot do
// quickly (a produce over REST, later) it awaits.
using handler = std::function<boost::asio::awaitable<response>(const request&)>;

// Exact paths to handlers, per method. Filled before the server starts and
// read-only afterwards, so lookups need no lock. The REST proxy and the web
// console add their routes (and prefixes) here.
class router {
public:
    void add(std::string method, std::string path, handler h);
    // A handler for every path starting with `prefix` (the longest prefix
    // wins; exact paths win over prefixes).
    void add_prefix(std::string method, std::string prefix, handler h);

    struct match {
        const handler* found = nullptr;
        bool path_known = false;  // some method serves the path: 405 rather than 404
    };
    match find(std::string_view method, std::string_view path) const;

private:
    std::map<std::pair<std::string, std::string>, handler, std::less<>> _exact;
    std::vector<std::pair<std::pair<std::string, std::string>, handler>> _prefixes;
};

// "http://0.0.0.0:8080" -> host "0.0.0.0", port 8080; "http://:8080" and
// "http://[::]:8080" as Kafka's listeners read. Empty host: every interface.
// "https://...": the same, with TLS (server_options::tls).
struct listen_address {
    std::string host;
    uint16_t port = 0;
    bool tls = false;
};
// The address, or the problem with `text` ("" on success through `out`).
std::string parse_listen_address(std::string_view text, listen_address& out);

struct server_options {
    std::vector<listen_address> listeners;
    // A request whose headers and body together exceed this is answered 413
    // (431 for the headers alone) and the connection closed.
    size_t max_request_bytes = 1048576;
    // Open HTTP connections at most; one more is answered 503 and closed.
    size_t max_connections = 100;
    // A connection idle, or slow to send a request, this long is closed.
    std::chrono::milliseconds idle_timeout{30000};
    // The TLS context of the https:// listeners (required when there is one).
    std::shared_ptr<boost::asio::ssl::context> tls;
    // HTTP Basic authentication: when set, every request but those to
    // `open_paths` must carry `Authorization: Basic` with a user and
    // password this accepts; others are answered 401 with a challenge.
    // Called on the network threads.
    std::function<bool(const std::string& user, const std::string& password)> check_password;
    std::string realm = "strata";
    std::vector<std::string> open_paths;  // exact paths served without credentials
};

// Owns the acceptors and every connection; runs them on `executors` (the
// network server's, which must keep running until stop() returns). Created,
// started and stopped from one controlling thread. `routes` must outlive it.
class server {
public:
    server(server_options options, const router& routes, std::vector<boost::asio::any_io_executor> executors);
    ~server();  // stop()

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds every listener. Throws std::system_error naming the address if
    // one cannot be bound; nothing is left running then.
    void start();
    // Closes the acceptors and every connection, and waits (up to 5 s) for
    // their coroutines to finish. Idempotent.
    void stop();

    std::vector<boost::asio::ip::tcp::endpoint> endpoints() const;
    size_t connection_count() const;
    // Requests answered, by status code class (2xx..5xx: index 2..5).
    uint64_t responses(unsigned status_class) const;

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::http
