#include "strata/http/server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>

#include "strata/common/log.h"
#include "strata/security/scram.h"  // base64_decode

namespace strata::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
    static const auto instance = log::get("http");
    return instance;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped())
        return fmt::format("{}:{}", asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string(),
                           endpoint.port());
    if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
    return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

response plain(unsigned status, std::string body) {
    response r;
    r.status = status;
    r.body = std::move(body);
    r.body += '\n';
    return r;
}

// Refusals the listener answers before any handler runs, in the error shape
// of Confluent's REST Proxy (which the REST clients on this port parse):
// {"error_code": <status>, "message": ...}. `message` has no quotes.
response refusal(unsigned status, std::string_view message) {
    response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = fmt::format("{{\"error_code\":{},\"message\":\"{}\"}}\n", status, message);
    return r;
}

// The user and password of an `Authorization: Basic base64(user:password)`
// header (RFC 7617), or nullopt when the header is absent or malformed.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
    constexpr std::string_view scheme = "basic ";
    if (header.size() <= scheme.size() || lower(header.substr(0, scheme.size())) != scheme) return std::nullopt;
    auto encoded = header.substr(scheme.size());
    while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
    while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
    const auto decoded = security::base64_decode(encoded);
    if (!decoded) return std::nullopt;
    const std::string text(decoded->begin(), decoded->end());
    const auto colon = text.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::pair{text.substr(0, colon), text.substr(colon + 1)};
}

}  // namespace

std::string_view request::header(std::string_view name) const {
    auto found = headers.find(lower(name));
    return found == headers.end() ? std::string_view{} : std::string_view(found->second);
}

// ---- router ----

void router::add(std::string method, std::string path, handler h) {
    _exact[{std::move(method), std::move(path)}] = std::move(h);
}

void router::add_prefix(std::string method, std::string prefix, handler h) {
    _prefixes.push_back({{std::move(method), std::move(prefix)}, std::move(h)});
    std::stable_sort(_prefixes.begin(), _prefixes.end(), [](const auto& a, const auto& b) {
        return a.first.second.size() > b.first.second.size();
    });
}

router::match router::find(std::string_view method, std::string_view path) const {
    match m;
    for (const auto& [key, h] : _exact) {
        if (key.second != path) continue;
        m.path_known = true;
        if (key.first == method) {
            m.found = &h;
            return m;
        }
    }
    for (const auto& [key, h] : _prefixes) {
        if (!path.starts_with(key.second)) continue;
        m.path_known = true;
        if (key.first == method) {
            m.found = &h;
            return m;
        }
    }
    return m;
}

// ---- listen addresses ----

std::string parse_listen_address(std::string_view text, listen_address& out) {
    constexpr std::string_view scheme = "http://";
    constexpr std::string_view tls_scheme = "https://";
    const bool tls = text.starts_with(tls_scheme);
    if (!tls && !text.starts_with(scheme))
        return fmt::format("'{}' must look like http://host:port or https://host:port", text);
    auto rest = text.substr(tls ? tls_scheme.size() : scheme.size());
    if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fmt::format("'{}' has no port", text);
    auto host = rest.substr(0, colon);
    const auto port_text = rest.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return fmt::format("'{}' has no valid port", text);
    const int port = std::stoi(std::string(port_text));
    if (port > 65535) return fmt::format("'{}': port out of range", text);
    out.host = std::string(host);
    out.port = static_cast<uint16_t>(port);
    out.tls = tls;
    return {};
}

// ---- server ----

struct server::impl : std::enable_shared_from_this<impl> {
    // One of the two streams: plain TCP, or TLS over TCP (https:// listeners).
    struct connection {
        connection(tcp::socket socket, asio::ssl::context* tls) {
            if (tls) secure.emplace(std::move(socket), *tls);
            else plain.emplace(std::move(socket));
        }
        std::optional<beast::tcp_stream> plain;
        std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
        beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
    };

    impl(server_options o, const router& r, std::vector<asio::any_io_executor> e)
        : options(std::move(o)), routes(r), executors(std::move(e)) {}

    server_options options;
    const router& routes;
    std::vector<asio::any_io_executor> executors;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::vector<bool> acceptor_tls;  // by acceptor: an https:// listener's
    std::atomic<size_t> next_executor{0};
    std::array<std::atomic<uint64_t>, 6> by_class{};

    mutable std::mutex mutex;
    std::condition_variable changed;
    bool stopping = false;
    size_t running = 0;  // accept loops and connection coroutines not finished
    uint64_t next_id = 1;
    std::unordered_map<uint64_t, std::weak_ptr<connection>> connections;

    asio::any_io_executor pick_executor() {
        return executors[next_executor.fetch_add(1, std::memory_order_relaxed) % executors.size()];
    }

    void finished(std::optional<uint64_t> id) {
        std::lock_guard lock(mutex);
        if (id) connections.erase(*id);
        --running;
        changed.notify_all();
    }

    void bind(const listen_address& address);
    void bind_any(const listen_address& address);
    bool bind_one(tcp::endpoint endpoint, bool optional);
    static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self, tcp::acceptor& acceptor, bool tls);
    static asio::awaitable<void> serve(std::shared_ptr<impl> self, std::shared_ptr<connection> c, bool refuse);
    template <typename Stream>
    asio::awaitable<void> serve_requests(Stream& stream, const std::string& remote);
    template <typename Stream>
    asio::awaitable<void> send(Stream& stream, response out, unsigned version, bool keep_alive, bool head);
    std::optional<response> authenticate(request& r) const;
    asio::awaitable<response> answer(request& r);
};

void server::impl::bind(const listen_address& address) {
    if (address.tls && !options.tls)
        throw std::runtime_error(fmt::format("HTTP listener https://{}:{} needs a TLS key store (ssl.keystore.*)",
                                             address.host, address.port));
    const size_t before = acceptors.size();
    bind_any(address);
    acceptor_tls.resize(acceptors.size(), false);
    for (size_t i = before; i < acceptors.size(); ++i) acceptor_tls[i] = address.tls;
}

void server::impl::bind_any(const listen_address& address) {
    if (address.host.empty()) {
        if (!bind_one(tcp::endpoint(tcp::v6(), address.port), true)) bind_one(tcp::endpoint(tcp::v4(), address.port), false);
        return;
    }
    tcp::resolver resolver(executors.front());
    boost::system::error_code ec;
    auto results = resolver.resolve(address.host, std::to_string(address.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) throw std::system_error(ec, fmt::format("HTTP listener: cannot resolve host '{}'", address.host));
    bool any = false;
    uint16_t port = address.port;
    size_t i = 0;
    for (const auto& entry : results) {
        auto endpoint = entry.endpoint();
        endpoint.port(port);
        const bool last_chance = !any && ++i == results.size();
        if (bind_one(endpoint, !last_chance)) {
            any = true;
            port = acceptors.back()->local_endpoint().port();  // one port for all, also when 0 was asked
        }
    }
}

bool server::impl::bind_one(tcp::endpoint endpoint, bool optional) {
    auto acceptor = std::make_unique<tcp::acceptor>(executors.front());
    boost::system::error_code ec;
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified())
        acceptor->set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        if (optional && (ec == asio::error::address_family_not_supported || ec == boost::system::errc::address_not_available))
            return false;
        throw std::system_error(ec, fmt::format("HTTP listener: cannot listen on {}", format_endpoint(endpoint)));
    }
    acceptors.push_back(std::move(acceptor));
    return true;
}

asio::awaitable<void> server::impl::accept_loop(std::shared_ptr<impl> self, tcp::acceptor& acceptor, bool tls) {
    for (;;) {
        tcp::socket socket(self->pick_executor());
        boost::system::error_code ec;
        co_await acceptor.async_accept(socket, redirect_error(use_awaitable, ec));
        // Closed by stop() (an accept in progress ends aborted, a later one
        // finds the descriptor gone).
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors or the like: back off rather than spin.
            logger()->warn("HTTP accept failed: {}", ec.message());
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await pause.async_wait(redirect_error(use_awaitable, ec));
            continue;
        }
        auto c = std::make_shared<connection>(std::move(socket), tls ? self->options.tls.get() : nullptr);
        uint64_t id = 0;
        bool refuse = false;
        {
            std::lock_guard lock(self->mutex);
            if (self->stopping) co_return;
            // A refused connection is registered too (stop() closes it), and
            // counts for the moment it takes to answer 503.
            refuse = self->connections.size() >= self->options.max_connections;
            id = self->next_id++;
            self->connections.emplace(id, c);
            ++self->running;
        }
        auto executor = c->lowest().get_executor();
        asio::co_spawn(executor, serve(self, c, refuse),
                       [self, id](std::exception_ptr) { self->finished(id); });
    }
}

// nullopt when the request may go on (r.user set); else the 401 to answer.
std::optional<response> server::impl::authenticate(request& r) const {
    if (!options.check_password ||
        std::find(options.open_paths.begin(), options.open_paths.end(), r.path) != options.open_paths.end())
        return std::nullopt;
    const auto credentials = basic_credentials(r.header("authorization"));
    if (credentials && options.check_password(credentials->first, credentials->second)) {
        r.user = credentials->first;
        return std::nullopt;
    }
    if (credentials)
        logger()->info("HTTP {}: authentication failed for user '{}' ({} {})", r.remote, credentials->first,
                       r.method, r.path);
    auto out = refusal(401, credentials ? "Unauthorized: wrong user name or password"
                                        : "Unauthorized: HTTP Basic credentials required");
    out.headers.emplace_back("WWW-Authenticate", fmt::format("Basic realm=\"{}\", charset=\"UTF-8\"", options.realm));
    return out;
}

asio::awaitable<response> server::impl::answer(request& r) {
    if (auto refused = authenticate(r)) co_return std::move(*refused);
    const bool head = r.method == "HEAD";
    auto m = routes.find(head ? "GET" : r.method, r.path);
    if (!m.found) co_return m.path_known ? plain(405, "method not allowed") : plain(404, "not found");
    try {
        co_return co_await (*m.found)(r);
    } catch (const std::exception& e) {
        logger()->error("HTTP {} {}: handler failed: {}", r.method, r.path, e.what());
        co_return plain(500, "internal error");
    }
}

// The handler's view of a parsed request.
static request to_request(bhttp::request<bhttp::string_body>& in, const std::string& remote) {
    request r;
    r.method = std::string(in.method_string());
    const auto target = std::string_view(in.target().data(), in.target().size());
    const auto question = target.find('?');
    r.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) r.query = std::string(target.substr(question + 1));
    for (const auto& field : in)
        r.headers[lower(std::string_view(field.name_string().data(), field.name_string().size()))] =
            std::string(field.value());
    r.body = std::move(in.body());
    r.remote = remote;
    return r;
}

template <typename Stream>
asio::awaitable<void> server::impl::send(Stream& stream, response out, unsigned version, bool keep_alive, bool head) {
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(out.status), version};
    message.set(bhttp::field::server, "strata");
    message.set(bhttp::field::content_type, out.content_type);
    for (auto& [name, value] : out.headers) message.set(name, value);
    message.keep_alive(keep_alive);
    message.body() = std::move(out.body);
    message.prepare_payload();
    if (head) message.body().clear();  // Content-Length stays the GET's
    by_class[std::min<unsigned>(out.status / 100, 5)].fetch_add(1, std::memory_order_relaxed);
    bhttp::response_serializer<bhttp::string_body> serializer(message);
    if (head) serializer.split(true);
    beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
    boost::system::error_code ec;  // a failed write ends the connection at its next read
    if (head) co_await bhttp::async_write_header(stream, serializer, redirect_error(use_awaitable, ec));
    else co_await bhttp::async_write(stream, serializer, redirect_error(use_awaitable, ec));
}

asio::awaitable<void> server::impl::serve(std::shared_ptr<impl> self, std::shared_ptr<connection> c, bool refuse) {
    boost::system::error_code ec;
    auto& tcp_layer = c->lowest();
    const auto remote_endpoint = tcp_layer.socket().remote_endpoint(ec);
    const std::string remote = ec ? "?" : format_endpoint(remote_endpoint);
    if (refuse) {
        logger()->debug("HTTP {}: refused, {} connections open (http.max.connections)", remote,
                        self->options.max_connections);
        // A TLS client would read a plain answer as garbage: it is just closed.
        if (c->plain)
            co_await self->send(*c->plain, refusal(503, "too many connections (http.max.connections)"), 11, false,
                                false);
        tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ec);
        tcp_layer.close();
        co_return;
    }
    if (c->plain) {
        co_await self->serve_requests(*c->plain, remote);
        tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ec);
        tcp_layer.close();
        co_return;
    }
    tcp_layer.expires_after(self->options.idle_timeout);
    co_await c->secure->async_handshake(asio::ssl::stream_base::server, redirect_error(use_awaitable, ec));
    if (ec) {
        logger()->debug("HTTP {}: TLS handshake failed: {}", remote, ec.message());
        tcp_layer.close();
        co_return;
    }
    co_await self->serve_requests(*c->secure, remote);
    // close_notify, but no long wait for the peer's.
    tcp_layer.expires_after(std::chrono::seconds(1));
    co_await c->secure->async_shutdown(redirect_error(use_awaitable, ec));
    tcp_layer.close();
}

template <typename Stream>
asio::awaitable<void> server::impl::serve_requests(Stream& stream, const std::string& remote) {
    boost::system::error_code ec;
    beast::flat_buffer buffer;
    // Beast reads a body into this buffer in steps of its free capacity (at
    // least 512 bytes), and it never grows past the headers: without room,
    // a 1 MB REST produce took ~2,000 reads of 512 bytes (22 MB/s on one
    // connection; 111 MB/s with 64 KiB).
    buffer.reserve(65536);
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<uint32_t>(std::min<size_t>(options.max_request_bytes, 65536)));
        parser.body_limit(options.max_request_bytes);
        beast::get_lowest_layer(stream).expires_after(options.idle_timeout);
        co_await bhttp::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
        if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
            const bool headers = ec != bhttp::error::body_limit;
            logger()->debug("HTTP {}: request over http.max.request.bytes", remote);
            co_await send(stream, refusal(headers ? 431 : 413, "request too large (http.max.request.bytes)"), 11,
                          false, false);
            break;
        }
        // A parse error (Beast's HTTP category) gets an answer; a closed or
        // timed-out connection does not.
        if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
            co_await send(stream, refusal(400, "malformed HTTP request"), 11, false, false);
            break;
        }
        if (ec) break;
        const auto start = std::chrono::steady_clock::now();
        auto& in = parser.get();
        const auto target = std::string(in.target());
        const bool keep_alive = in.keep_alive();
        const unsigned version = in.version();
        auto r = to_request(in, remote);
        auto out = co_await answer(r);
        const unsigned status = out.status;
        const size_t bytes = out.body.size();
        co_await send(stream, std::move(out), version, keep_alive, r.method == "HEAD");
        logger()->debug("{} \"{} {}\" {} {} {:.3f}ms", remote, r.method, target, status, bytes,
                        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        if (!keep_alive) break;
    }
}

server::server(server_options options, const router& routes, std::vector<asio::any_io_executor> executors)
    : _impl(std::make_shared<impl>(std::move(options), routes, std::move(executors))) {
    if (_impl->executors.empty()) throw std::logic_error("http::server needs at least one executor");
}

server::~server() {
    stop();
}

void server::start() {
    auto& self = *_impl;
    try {
        for (const auto& address : self.options.listeners) self.bind(address);
    } catch (...) {
        self.acceptors.clear();
        self.acceptor_tls.clear();
        throw;
    }
    for (size_t i = 0; i < self.acceptors.size(); ++i) {
        auto& acceptor = self.acceptors[i];
        const bool tls = self.acceptor_tls[i];
        logger()->info("HTTP listening on {}{}", format_endpoint(acceptor->local_endpoint()), tls ? " (TLS)" : "");
        {
            std::lock_guard lock(self.mutex);
            ++self.running;
        }
        asio::co_spawn(acceptor->get_executor(), impl::accept_loop(_impl, *acceptor, tls),
                       [s = _impl](std::exception_ptr) { s->finished(std::nullopt); });
    }
}

void server::stop() {
    auto& self = *_impl;
    std::vector<std::shared_ptr<impl::connection>> open;
    {
        std::lock_guard lock(self.mutex);
        if (self.stopping) return;
        self.stopping = true;
        for (auto& [id, weak] : self.connections)
            if (auto c = weak.lock()) open.push_back(std::move(c));
    }
    // Sockets and acceptors are closed on their own threads: Asio's objects
    // are not safe to touch from two threads at once.
    for (auto& acceptor : self.acceptors) {
        asio::post(acceptor->get_executor(), [a = acceptor.get()] {
            boost::system::error_code ignored;
            a->close(ignored);
        });
    }
    for (auto& c : open) asio::post(c->lowest().get_executor(), [c] { c->lowest().close(); });
    std::unique_lock lock(self.mutex);
    if (!self.changed.wait_for(lock, std::chrono::seconds(5), [&] { return self.running == 0; }))
        logger()->warn("HTTP: {} connections still running at shutdown", self.running);
}

std::vector<tcp::endpoint> server::endpoints() const {
    std::vector<tcp::endpoint> out;
    for (const auto& acceptor : _impl->acceptors) {
        boost::system::error_code ec;
        auto endpoint = acceptor->local_endpoint(ec);
        if (!ec) out.push_back(endpoint);
    }
    return out;
}

size_t server::connection_count() const {
    std::lock_guard lock(_impl->mutex);
    return _impl->connections.size();
}

uint64_t server::responses(unsigned status_class) const {
    return status_class < _impl->by_class.size() ? _impl->by_class[status_class].load(std::memory_order_relaxed) : 0;
}

}  // namespace strata::http
