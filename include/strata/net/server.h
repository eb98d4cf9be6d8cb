// The Kafka-protocol network server: listeners, connections, a pool of
// network threads. See src/net/README.md.
#pragma once

#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl {
class context;
}

namespace strata::security {
class ssl_principal_mapper;
class reloading_tls_context;
}  // namespace strata::security

#include "strata/net/request_handler.h"

namespace strata::net {

struct listener_options {
    std::string name = "PLAINTEXT";
    // Empty: every interface (IPv6 and IPv4). A name resolving to several
    // addresses ("localhost": 127.0.0.1 and ::1) is bound on each of them.
    std::string host;
    uint16_t port = 0;  // 0: an ephemeral port, see server::endpoints()
    // Send file regions with sendfile(2); false copies them through user space.
    // (Always false with TLS: the bytes must be encrypted.)
    bool zero_copy = true;
    // SASL_PLAINTEXT / SASL_SSL: connections start unauthenticated (a
    // security::sasl_session on connection_info) and are held to the
    // pre-authentication limits until the handler completes the exchange.
    bool sasl = false;
    // SSL / SASL_SSL: the server's TLS context. Without SASL the peer's
    // verified certificate subject becomes the connection's principal.
    std::shared_ptr<boost::asio::ssl::context> tls;
    // Optional, with `tls`: where each new connection takes its context from
    // instead (certificates reloaded when their files change).
    std::shared_ptr<security::reloading_tls_context> tls_source;
    // SSL listeners: ssl.principal.mapping.rules for the certificate
    // subject; null keeps it as it is (DEFAULT).
    std::shared_ptr<const security::ssl_principal_mapper> principal_mapper;
};

// KIP-612's connection creation rates, decided outside net (the quotas are
// in the metadata image: src/quota/connection_rates). Called from the
// accept loops of every listener, concurrently.
class connection_rate_limits {
public:
    virtual ~connection_rate_limits() = default;
    // One connection accepted on `listener`: how long (ms) the listener
    // waits before it hands this connection on and accepts the next one
    // (max.connection.creation.rate, per broker and per listener); 0: none.
    virtual int64_t record_listener_connection(std::string_view listener) = 0;
    // One connection from `address` (as format_endpoint spells it, without
    // the port): 0 admits it; otherwise the connection is refused, held
    // open that many ms, then closed (the IP's connection_creation_rate).
    virtual int64_t record_ip_connection(std::string_view address) = 0;
};

struct server_options {
    std::vector<listener_options> listeners;
    // One io_context and one thread per network thread; 0 means one per core.
    unsigned network_threads = 0;
    // A frame larger than this (or with a negative size) closes the connection
    // before anything is allocated for it (socket.request.max.bytes).
    int32_t max_request_bytes = 104857600;
    // The same bound before a SASL connection has authenticated
    // (sasl.server.max.receive.size); such a connection also has at most one
    // request in flight, as Kafka mutes a channel while it authenticates.
    int32_t max_unauthenticated_request_bytes = 524288;
    // Per connection: requests read and not yet answered on the wire. The
    // connection stops reading while at the bound.
    size_t max_in_flight_requests = 100;
    // Per connection: the connection also stops reading while the frames of
    // its requests in flight total at least this many bytes (at least one
    // request is always admitted). 0 means max_request_bytes.
    size_t max_in_flight_bytes = 0;
    // Broker-wide: request bytes read and not yet freed, across every
    // connection (queued.max.request.bytes). While spent, connections wait
    // before reading the next frame's body. <= 0: unbounded.
    int64_t queued_max_request_bytes = -1;
    // Broker-wide (max.connections): at the bound the limited listeners stop
    // accepting until a connection closes; clients wait in the backlog.
    int32_t max_connections = INT32_MAX;
    // Listeners max.connections neither counts nor stops: the cluster's own
    // (controller, inter-broker), so that clients cannot lock it out.
    std::vector<std::string> unlimited_listeners;
    // Per client address, on every listener (max.connections.per.ip): a
    // connection beyond it is closed as soon as it is accepted.
    int32_t max_connections_per_ip = INT32_MAX;
    // Per address (max.connections.per.ip.overrides): the limit for these
    // addresses instead of max_connections_per_ip. Keys are addresses as
    // boost::asio::ip::address::to_string() spells them (IPv4-mapped IPv6
    // addresses as IPv4).
    std::map<std::string, int32_t, std::less<>> max_connections_per_ip_overrides;
    // Connection creation rates (KIP-612); null: none.
    std::shared_ptr<connection_rate_limits> connection_rates;
    int socket_send_buffer_bytes = -1;     // SO_SNDBUF; -1: the OS default (autotuning)
    int socket_receive_buffer_bytes = -1;  // SO_RCVBUF; -1: the OS default (autotuning)
    int listen_backlog = 50;
    // How long stop() waits for handlers still running on closed connections
    // before abandoning them (their coroutines are then destroyed unfinished).
    std::chrono::milliseconds shutdown_grace{10000};
};

// "127.0.0.1:9092", "[::1]:9092" (an IPv4-mapped IPv6 address as IPv4).
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

struct bound_endpoint {
    std::string listener;
    boost::asio::ip::tcp::endpoint endpoint;
};

// Owns the network threads, the listening sockets and every connection.
// Created, started and stopped from one controlling thread (main), never from
// a network thread. Each connection lives on one io_context (one thread) for
// its whole life, chosen round-robin when it is accepted, so a connection's
// state needs no lock; different connections run in parallel.
//
// The request_handler must outlive the server.
class server {
public:
    server(server_options options, request_handler& handler);
    ~server();  // stop()

    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds every listener and starts the network threads. Throws
    // std::system_error naming the listener and address if one cannot be
    // bound; nothing is left running then.
    void start();

    // The addresses actually bound (ephemeral ports resolved), in listener order.
    std::vector<bound_endpoint> endpoints() const;

    // Stops accepting, closes every connection, waits for their handlers to
    // finish (up to shutdown_grace), then stops and joins the network threads.
    // Idempotent.
    void stop();

    // The network threads' executors, one per io_context (after start()):
    // other listeners of the broker (HTTP) run their connections on them
    // too. Work posted to them must be finished by its owner before this
    // server's stop() joins the threads.
    std::vector<boost::asio::any_io_executor> executors() const;

    // Connections currently open (tests, metrics).
    size_t connection_count() const;
    // Connections open per listener name (metrics).
    std::vector<std::pair<std::string, size_t>> connections_by_listener() const;
    // Request bytes held now (queued.max.request.bytes' budget), and the
    // connections waiting for it (metrics, tests).
    int64_t queued_request_bytes() const;
    size_t connections_waiting_for_memory() const;

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::net
