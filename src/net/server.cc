#include "strata/net/server.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "connection.h"
#include "io_context_pool.h"
#include "strata/common/log.h"
#include "strata/security/tls.h"

namespace strata::net {

namespace asio = boost::asio;
using asio::redirect_error;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
    static const auto instance = log::get("net");
    return instance;
}

std::atomic<uint64_t> next_connection_id{1};

// Who is running, so that stop() can close them and wait for them. Shared
// with the completion handlers of the coroutines it counts, so that it
// outlives any of them even if stop() gives up waiting.
struct connection_registry {
    struct entry {
        std::weak_ptr<detail::connection> connection;
        std::string listener;
        std::string address;   // the client's IP address, for max.connections.per.ip
        bool limited = false;  // counted against max.connections
    };

    std::mutex mutex;
    std::condition_variable changed;
    bool stopping = false;
    std::unordered_map<uint64_t, entry> connections;
    std::unordered_map<std::string, int32_t> per_address;
    int32_t limited = 0;  // connections on listeners max.connections counts
    size_t running = 0;   // accept loops and connections not yet finished

    void finished(std::optional<uint64_t> connection_id) {
        std::lock_guard lock(mutex);
        if (connection_id) {
            auto found = connections.find(*connection_id);
            if (found != connections.end()) {
                if (found->second.limited) --limited;
                auto count = per_address.find(found->second.address);
                if (count != per_address.end() && --count->second == 0) per_address.erase(count);
                connections.erase(found);
            }
        }
        --running;
        changed.notify_all();  // under the lock: stop() may destroy us as soon as it sees zero
    }
};

struct listening_socket {
    std::string listener;
    bool zero_copy = true;
    bool limited = true;  // counted against max.connections
    bool sasl = false;
    std::shared_ptr<asio::ssl::context> tls;
    std::shared_ptr<security::reloading_tls_context> tls_source;
    std::shared_ptr<const security::ssl_principal_mapper> principal_mapper;
    tcp::acceptor acceptor;
};

bool is_resource_exhaustion(const boost::system::error_code& ec) {
    return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
           ec == asio::error::no_memory || ec.value() == ENFILE;
}

std::string describe(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace

std::string format_endpoint(const tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    if (address.is_v6()) {
        const auto v6 = address.to_v6();
        if (v6.is_v4_mapped()) {
            return fmt::format("{}:{}", asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string(),
                               endpoint.port());
        }
        return fmt::format("[{}]:{}", v6.to_string(), endpoint.port());
    }
    return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

struct server::impl {
    enum class state { created, started, stopped };

    server_options options;
    request_handler& handler;
    detail::connection_options connection_options;
    std::shared_ptr<connection_registry> registry = std::make_shared<connection_registry>();
    // Declared before the sockets: the acceptors are bound to its contexts.
    std::optional<detail::io_context_pool> pool;
    std::vector<std::unique_ptr<listening_socket>> sockets;
    state current = state::created;

    impl(server_options o, request_handler& h) : options(std::move(o)), handler(h) {
        connection_options.max_request_bytes = options.max_request_bytes;
        connection_options.max_unauthenticated_request_bytes =
            std::min(options.max_request_bytes, options.max_unauthenticated_request_bytes);
        connection_options.max_in_flight_requests = std::max<size_t>(1, options.max_in_flight_requests);
        connection_options.max_in_flight_bytes = options.max_in_flight_bytes > 0
                                                     ? options.max_in_flight_bytes
                                                     : static_cast<size_t>(std::max(options.max_request_bytes, 1));
        connection_options.budget = std::make_shared<detail::request_budget>(options.queued_max_request_bytes);
    }

    bool at_connection_limit() {
        std::lock_guard lock(registry->mutex);
        return registry->limited >= options.max_connections;
    }
    asio::awaitable<void> wait_for_connection_slot(listening_socket& listening);

    void bind(const listener_options& listener, size_t index);
    bool bind_one(const listener_options& listener, tcp::endpoint endpoint, asio::io_context& context,
                  bool optional);
    asio::awaitable<void> accept_loop(listening_socket& listening);
    void configure(tcp::socket& socket);
    void close_later(tcp::socket socket, int64_t delay_ms);
};

namespace {

asio::awaitable<void> hold_then_close(tcp::socket socket, int64_t delay_ms) {
    asio::steady_timer pause(socket.get_executor(), std::chrono::milliseconds(delay_ms));
    boost::system::error_code ignored;
    co_await pause.async_wait(redirect_error(use_awaitable, ignored));
    socket.close(ignored);
}

}  // namespace

// The socket is counted as running, so that stop() waits for the close (at
// most one quota window).
void server::impl::close_later(tcp::socket socket, int64_t delay_ms) {
    {
        std::lock_guard lock(registry->mutex);
        if (registry->stopping) return;  // closes the socket
        ++registry->running;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, hold_then_close(std::move(socket), delay_ms),
                   [registry = registry](std::exception_ptr) { registry->finished(std::nullopt); });
}

void server::impl::bind(const listener_options& listener, size_t index) {
    auto& context = pool->at(index % pool->size());
    if (listener.host.empty()) {
        // Every interface: one dual-stack IPv6 socket, or IPv4 where the
        // machine has no IPv6.
        if (!bind_one(listener, tcp::endpoint(tcp::v6(), listener.port), context, true)) {
            bind_one(listener, tcp::endpoint(tcp::v4(), listener.port), context, false);
        }
        return;
    }
    tcp::resolver resolver(context);
    boost::system::error_code ec;
    auto results = resolver.resolve(listener.host, std::to_string(listener.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec) {
        throw std::system_error(ec, fmt::format("listener {}: cannot resolve host '{}'", listener.name, listener.host));
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) {
        if (std::find(endpoints.begin(), endpoints.end(), entry.endpoint()) == endpoints.end()) {
            endpoints.push_back(entry.endpoint());
        }
    }
    // A name with several addresses ("localhost": 127.0.0.1 and ::1) is
    // bound on each, so that a client gets through whichever it tries first.
    // An address the machine cannot bind (no IPv6) is skipped unless it is
    // the only one.
    bool any = false;
    uint16_t port = listener.port;
    for (size_t i = 0; i < endpoints.size(); ++i) {
        auto endpoint = endpoints[i];
        endpoint.port(port);
        const bool last_chance = !any && i + 1 == endpoints.size();
        if (bind_one(listener, endpoint, context, !last_chance)) {
            any = true;
            port = sockets.back()->acceptor.local_endpoint().port();  // one port for all, also when 0 was asked
        }
    }
}

// False if `optional` and the address cannot be bound on this machine; throws
// for any other failure (the port is taken, no permission).
bool server::impl::bind_one(const listener_options& listener, tcp::endpoint endpoint, asio::io_context& context,
                            bool optional) {
    const bool limited = std::find(options.unlimited_listeners.begin(), options.unlimited_listeners.end(),
                                   listener.name) == options.unlimited_listeners.end();
    auto socket = std::make_unique<listening_socket>(
        listening_socket{listener.name, listener.zero_copy && !listener.tls, limited, listener.sasl, listener.tls,
                         listener.tls_source, listener.principal_mapper, tcp::acceptor(context)});
    auto& acceptor = socket->acceptor;
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
        acceptor.set_option(asio::ip::v6_only(false), ec);
    }
    if (!ec && options.socket_receive_buffer_bytes > 0) {
        // Set before listen so that accepted sockets inherit it and the TCP
        // window scale is negotiated for it.
        acceptor.set_option(asio::socket_base::receive_buffer_size(options.socket_receive_buffer_bytes), ec);
    }
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(options.listen_backlog, ec);
    if (ec) {
        const bool unavailable = ec == asio::error::address_family_not_supported ||
                                 ec.value() == EADDRNOTAVAIL || ec.value() == EAFNOSUPPORT;
        if (optional && unavailable) {
            logger()->debug("listener {}: skipping {}: {}", listener.name, format_endpoint(endpoint), ec.message());
            return false;
        }
        throw std::system_error(ec, fmt::format("listener {}: cannot listen on {}", listener.name,
                                                format_endpoint(endpoint)));
    }
    sockets.push_back(std::move(socket));
    return true;
}

void server::impl::configure(tcp::socket& socket) {
    boost::system::error_code ignored;
    // Responses are written whole, so Nagle would only add latency.
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    if (options.socket_send_buffer_bytes > 0) {
        socket.set_option(asio::socket_base::send_buffer_size(options.socket_send_buffer_bytes), ignored);
    }
}

// At max.connections a limited listener stops accepting: new clients wait in
// the kernel's backlog (Kafka's Acceptor blocks the same way) and are taken
// as connections close. A connection closes on any thread, so the freed slot
// is noticed by polling rather than by a wake-up across threads.
asio::awaitable<void> server::impl::wait_for_connection_slot(listening_socket& listening) {
    bool logged = false;
    while (listening.acceptor.is_open() && at_connection_limit()) {
        if (!logged) {
            logger()->warn("listener {}: max.connections ({}) reached; new connections wait until one closes",
                           listening.listener, options.max_connections);
            logged = true;
        }
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
        boost::system::error_code ignored;
        co_await pause.async_wait(redirect_error(use_awaitable, ignored));
    }
}

asio::awaitable<void> server::impl::accept_loop(listening_socket& listening) {
    for (;;) {
        if (listening.limited) co_await wait_for_connection_slot(listening);
        // Each connection goes to the next network thread and stays there.
        tcp::socket socket(pool->next());
        boost::system::error_code ec;
        co_await listening.acceptor.async_accept(socket, redirect_error(use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !listening.acceptor.is_open()) co_return;
        if (ec) {
            logger()->warn("listener {}: accept failed: {}", listening.listener, ec.message());
            if (is_resource_exhaustion(ec)) {
                // Out of descriptors: retrying at once would spin.
                asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
                co_await pause.async_wait(redirect_error(use_awaitable, ec));
            }
            continue;
        }
        const auto remote = socket.remote_endpoint(ec);
        if (ec) continue;  // already gone
        configure(socket);
        const uint64_t id = next_connection_id.fetch_add(1, std::memory_order_relaxed);
        auto address = remote.address();
        if (address.is_v6() && address.to_v6().is_v4_mapped())
            address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
        if (options.connection_rates) {
            // KIP-612. Over the broker's or this listener's creation rate the
            // listener pauses before it takes this connection on (Kafka's
            // Acceptor blocks in waitForConnectionSlot the same way), so the
            // clients behind it wait in the backlog.
            const int64_t delay = options.connection_rates->record_listener_connection(listening.listener);
            if (delay > 0) {
                asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(delay));
                co_await pause.async_wait(redirect_error(use_awaitable, ec));
                if (!listening.acceptor.is_open()) co_return;
            }
            // Over its address's rate the connection is refused, but held
            // open for the throttle first, as Kafka's delayed close, so that
            // the client does not reconnect at once.
            if (const int64_t hold = options.connection_rates->record_ip_connection(address.to_string()); hold > 0) {
                logger()->debug("listener {}: connection from {} over its IP's connection_creation_rate; closing "
                                "it in {} ms",
                                listening.listener, format_endpoint(remote), hold);
                close_later(std::move(socket), hold);
                continue;
            }
        }
        connection_info info;
        info.id = id;
        info.remote = format_endpoint(remote);
        info.listener = listening.listener;
        info.zero_copy_allowed = listening.zero_copy;
        info.tls = listening.tls != nullptr;
        if (listening.sasl) info.sasl = std::make_shared<security::sasl_session>();
        auto tls = listening.tls_source ? listening.tls_source->current() : listening.tls;
        auto conn = std::make_shared<detail::connection>(std::move(socket), std::move(info), connection_options,
                                                         handler, std::move(tls), listening.principal_mapper);
        {
            std::lock_guard lock(registry->mutex);
            if (registry->stopping) continue;  // closes the socket
            const auto address_text = address.to_string();
            auto& from_address = registry->per_address[address_text];
            const auto override_limit = options.max_connections_per_ip_overrides.find(address_text);
            const bool overridden = override_limit != options.max_connections_per_ip_overrides.end();
            const int32_t limit = overridden ? override_limit->second : options.max_connections_per_ip;
            if (from_address >= limit) {
                // Kafka's ConnectionQuotas: refused at once, with a log line.
                logger()->warn("listener {}: refused connection from {}: it already has the {} of {}",
                               listening.listener, conn->info().remote,
                               overridden ? "max.connections.per.ip.overrides limit" : "max.connections.per.ip",
                               limit);
                if (from_address == 0) registry->per_address.erase(address_text);
                continue;  // closes the socket
            }
            ++from_address;
            if (listening.limited) ++registry->limited;
            registry->connections.emplace(
                id, connection_registry::entry{conn, listening.listener, address.to_string(), listening.limited});
            ++registry->running;
        }
        auto executor = conn->get_executor();
        auto run = conn->run();
        asio::co_spawn(executor, std::move(run), [registry = registry, id, conn](std::exception_ptr e) {
            if (e) logger()->error("connection {}: {}", id, describe(e));
            registry->finished(id);
        });
    }
}

server::server(server_options options, request_handler& handler)
    : _impl(std::make_unique<impl>(std::move(options), handler)) {}

server::~server() { stop(); }

void server::start() {
    auto& self = *_impl;
    if (self.current != impl::state::created) throw std::logic_error("net::server::start called twice");
    self.current = impl::state::stopped;  // until fully started
    unsigned threads = self.options.network_threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    self.pool.emplace(threads);
    try {
        for (size_t i = 0; i < self.options.listeners.size(); ++i) self.bind(self.options.listeners[i], i);
    } catch (...) {
        self.sockets.clear();
        throw;
    }
    for (auto& socket : self.sockets) {
        {
            std::lock_guard lock(self.registry->mutex);
            ++self.registry->running;
        }
        asio::co_spawn(socket->acceptor.get_executor(), self.accept_loop(*socket),
                       [registry = self.registry, name = socket->listener](std::exception_ptr e) {
                           if (e) logger()->error("listener {}: accept loop failed: {}", name, describe(e));
                           registry->finished(std::nullopt);
                       });
    }
    self.pool->start("strata-net");
    self.current = impl::state::started;
}

std::vector<bound_endpoint> server::endpoints() const {
    std::vector<bound_endpoint> result;
    for (const auto& socket : _impl->sockets) {
        boost::system::error_code ec;
        auto endpoint = socket->acceptor.local_endpoint(ec);
        if (!ec) result.push_back({socket->listener, endpoint});
    }
    return result;
}

std::vector<asio::any_io_executor> server::executors() const {
    std::vector<asio::any_io_executor> out;
    if (!_impl->pool) return out;
    for (size_t i = 0; i < _impl->pool->size(); ++i) out.push_back(_impl->pool->at(i).get_executor());
    return out;
}

size_t server::connection_count() const {
    std::lock_guard lock(_impl->registry->mutex);
    return _impl->registry->connections.size();
}

std::vector<std::pair<std::string, size_t>> server::connections_by_listener() const {
    std::map<std::string, size_t> counts;
    for (const auto& socket : _impl->sockets) counts[socket->listener];
    {
        std::lock_guard lock(_impl->registry->mutex);
        for (const auto& [id, e] : _impl->registry->connections) ++counts[e.listener];
    }
    return {counts.begin(), counts.end()};
}

int64_t server::queued_request_bytes() const {
    return _impl->connection_options.budget->used();
}

size_t server::connections_waiting_for_memory() const {
    return _impl->connection_options.budget->waiting();
}

void server::stop() {
    auto& self = *_impl;
    if (self.current != impl::state::started) {
        self.current = impl::state::stopped;
        return;
    }
    self.current = impl::state::stopped;
    if (self.pool->running_in_pool_thread()) {
        // It would wait for itself.
        logger()->critical("net::server::stop called from a network thread");
        std::terminate();
    }

    std::vector<std::shared_ptr<detail::connection>> open;
    {
        std::lock_guard lock(self.registry->mutex);
        self.registry->stopping = true;  // from now on, accepted sockets are closed at once
        for (auto& [id, e] : self.registry->connections) {
            if (auto conn = e.connection.lock()) open.push_back(std::move(conn));
        }
    }
    for (auto& socket : self.sockets) {
        asio::post(socket->acceptor.get_executor(), [listening = socket.get()] {
            boost::system::error_code ignored;
            listening->acceptor.close(ignored);
        });
    }
    for (auto& conn : open) {
        auto executor = conn->get_executor();
        asio::post(executor, [conn = std::move(conn)] { conn->close(); });
    }
    open.clear();
    self.handler.server_stopping();

    bool drained = false;
    {
        std::unique_lock lock(self.registry->mutex);
        drained = self.registry->changed.wait_for(lock, self.options.shutdown_grace,
                                                  [&] { return self.registry->running == 0; });
        if (!drained) {
            logger()->warn("{} connection(s) still busy {} ms after shutdown began; abandoning them",
                           self.registry->connections.size(), self.options.shutdown_grace.count());
        }
    }
    self.pool->release();
    if (!drained) self.pool->stop();
    self.pool->join();
}

}  // namespace strata::net
