// The seam between the network layer and whatever answers requests (the
// server's dispatcher): net/ reads frames and writes responses, the handler
// turns one into the other.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/protocol/wire.h"
#include "strata/security/principal.h"
#include "strata/security/sasl.h"

namespace strata::net {

// What a handler may know about the connection a request came on. Owned by
// the connection; valid for as long as the handler call that received it.
struct connection_info {
    uint64_t id = 0;        // unique within the process, never reused
    std::string remote;     // peer address, "127.0.0.1:53412" or "[::1]:53412"
    std::string listener;   // the listener's name, e.g. "PLAINTEXT" or "CONTROLLER"
    // Whether file regions in a response may be sent with sendfile(2); false
    // where bytes must pass through user space (TLS). The connection
    // handles either case, so handlers may ignore it; it is here for handlers
    // that would rather not produce file regions at all.
    bool zero_copy_allowed = true;
    // The listener's security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL.
    bool tls = false;
    // Who the peer is at the transport level: User:ANONYMOUS, or on an SSL
    // listener User:<the client certificate's subject> (mutual TLS).
    security::principal principal;
    // On SASL listeners, the SASL exchange's state (null elsewhere): the
    // handler drives it, the connection holds an unauthenticated peer to the
    // pre-authentication limits. Once authenticated, its principal is the
    // connection's. Touched on the connection's thread only.
    std::shared_ptr<security::sasl_session> sasl;

    bool authenticated() const { return !sasl || sasl->authenticated(); }
    const security::principal& effective_principal() const {
        return sasl && sasl->authenticated() ? sasl->authenticated_as : principal;
    }
};

// Where one request's time went (Kafka's RequestMetrics: RequestQueueTimeMs,
// LocalTimeMs, RemoteTimeMs, ResponseQueueTimeMs, ResponseSendTimeMs,
// TotalTimeMs). The handler fills in what only it knows (which API, when it
// began, how long it waited on others); the connection stamps the rest and
// hands it back through request_handler::request_completed once the
// response is on the wire.
struct request_timing {
    using clock = std::chrono::steady_clock;
    int16_t api_key = -1;  // -1: the handler does not want it recorded
    int16_t api_version = -1;
    clock::time_point received{};        // connection: the frame fully read
    clock::time_point dequeued{};        // handler: its call began (queue time ends)
    std::chrono::nanoseconds remote{0};  // handler: waiting on other parties (purgatory), within the call
    clock::time_point answered{};        // connection: the handler returned its response
    clock::time_point send_started{};    // connection: the write of the response began
    clock::time_point sent{};            // connection: its last byte was written (= answered with no response)
};

struct handler_result {
    // nullopt: send nothing (a produce request with acks=0).
    std::optional<protocol::encoded_output> response;
    // Close the connection after writing the response, if any.
    bool close_connection = false;
    // KIP-219: the client is over a quota; the connection reads no further
    // request for this long (ms) from the moment the handler answered.
    int32_t throttle_ms = 0;
    request_timing timing;
};

// Answers requests. One instance serves every connection of a net::server, so
// `handle` is called concurrently from every network thread and must be
// thread-safe. The handler must outlive the server.
//
// Contract of a call, for one connection:
// - Calls are started in the order the frames arrived, each as its own
//   coroutine on the connection's executor (one thread). So the synchronous
//   part of a call, up to its first suspension, runs in arrival order and is
//   not interleaved with another call of the same connection; after its first
//   `co_await`, calls of one connection run concurrently and may finish in any
//   order. Responses are written in arrival order regardless.
// - At most `max_in_flight_requests` calls of a connection are outstanding
//   (started and not yet answered on the wire); the connection stops reading
//   while at that bound.
// - Throwing closes the connection (the exception is logged); use it for
//   malformed frames that Kafka answers by closing.
// - When the connection closes first, the call still runs to completion and
//   its result is dropped. A call must therefore finish in bounded time once
//   the subsystems it waits on are stopped; net::server::stop waits for it.
class request_handler {
public:
    virtual ~request_handler() = default;

    // `frame` is the whole request after the 4-byte size prefix (header and
    // body). Its bytes stay alive while `frame` is held, so decoded views
    // (records) may keep the shared_ptr as their owner.
    virtual boost::asio::awaitable<handler_result> handle(
        const connection_info& connection, std::shared_ptr<const std::vector<uint8_t>> frame) = 0;

    // Called by net::server::stop once the connections are closing, before it
    // waits for the calls in flight: a handler whose calls may wait long (a
    // JoinGroup waiting for a rebalance) answers them now. Any thread.
    virtual void server_stopping() {}

    // The connection closed (either side) and every call it started has
    // returned. Called once per connection, on its thread.
    virtual void connection_closed(const connection_info& connection) { (void)connection; }

    // The response of a request whose timing has an api_key was written (or,
    // with no response, the handler returned): `timing` is complete, `result`
    // the handler's answer. On the connection's thread.
    virtual void request_completed(const connection_info& connection, const handler_result& result) {
        (void)connection;
        (void)result;
    }
};

}  // namespace strata::net
