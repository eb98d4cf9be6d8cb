// An outbound Kafka-protocol connection: the client side of what net::server
// serves. Controllers use it for the quorum's RPCs (Vote, BeginQuorumEpoch,
// Fetch of the metadata log, ...); brokers will use it for partition
// replication.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "strata/protocol/api.h"

namespace boost::asio::ssl {
class context;
}
#include "strata/protocol/wire.h"

namespace strata::net {

enum class client_error : uint8_t {
    timed_out,     // no answer within the request's timeout (the connection stays up)
    disconnected,  // not connected (refused, backing off, or lost while waiting)
    closed,        // close() was called
    malformed,     // the answer could not be decoded
};
std::string_view to_string(client_error error);

template <typename T>
using client_result = boost::outcome_v2::basic_result<T, client_error, boost::outcome_v2::policy::terminate>;

struct client_options {
    std::string host;
    uint16_t port = 0;
    std::string client_id = "strata";
    std::chrono::milliseconds connect_timeout{1000};
    // After a failed connection attempt, requests fail at once (disconnected)
    // for this long, doubling per failure up to the max (Kafka's
    // reconnect.backoff.ms / reconnect.backoff.max.ms).
    std::chrono::milliseconds reconnect_backoff{20};
    std::chrono::milliseconds reconnect_backoff_max{1000};
    // A response announcing more closes the connection.
    int32_t max_response_bytes = 104857600;
    // TLS (security.protocol SSL / SASL_SSL): the context, and whether the
    // server's certificate must name `host` (ssl.endpoint.identification.algorithm=https).
    std::shared_ptr<boost::asio::ssl::context> tls;
    bool verify_hostname = true;
    // SASL (SASL_PLAINTEXT / SASL_SSL): every (re)connection authenticates
    // with SaslHandshake v1 + SaslAuthenticate v1 before any request is sent.
    std::string sasl_mechanism;  // empty: no SASL; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
    std::string sasl_username;
    std::string sasl_password;
};

// A response as received: the whole frame, and where its body starts (after
// the response header). Records in a decoded response point into `frame`.
struct response_frame {
    std::shared_ptr<const std::vector<uint8_t>> frame;
    size_t body_offset = 0;
    protocol::reader body() const;
};

// One connection to one peer, (re)connected on demand.
//
// Lives on one executor, which must be single-threaded (an io_context run by
// one thread, or a strand); every member function is called there. Owned by
// shared_ptr: the read loop keeps it alive while connected. Requests are
// pipelined: each gets a correlation id and is matched with its answer
// whatever order they are awaited in; a request that times out is forgotten
// (its late answer is dropped) without closing the connection, as a slow
// long-poll must not cost the connection.
//
// Background work: the read loop of the current connection. close() ends
// it and fails every waiting request; stopped() waits until it has ended.
class client_connection : public std::enable_shared_from_this<client_connection> {
public:
    static std::shared_ptr<client_connection> create(boost::asio::any_io_executor executor, client_options options);
    ~client_connection();

    client_connection(const client_connection&) = delete;
    client_connection& operator=(const client_connection&) = delete;

    // Sends a request whose body is `body` (the header is added here) and
    // waits for its answer at most `timeout`, including connecting. (Every
    // argument is taken by value: a coroutine may outlive the caller's
    // temporaries.)
    boost::asio::awaitable<client_result<response_frame>> request(protocol::api_key key, int16_t version,
                                                                  protocol::encoded_output body,
                                                                  std::chrono::milliseconds timeout);

    // Encodes `request` at `version`, decodes the answer as `Response`.
    template <typename Response, typename Request>
    boost::asio::awaitable<client_result<Response>> call(Request request, int16_t version,
                                                         std::chrono::milliseconds timeout) {
        protocol::encoded_output body;
        protocol::writer w(body);
        request.encode(w, version);
        auto answer = co_await this->request(static_cast<protocol::api_key>(Request::api_key), version, std::move(body),
                                             timeout);
        if (!answer) co_return answer.error();
        Response response;
        try {
            auto r = answer.value().body();
            response.decode(r, version);
        } catch (const protocol::decode_error&) {
            co_return client_error::malformed;
        }
        co_return response;
    }

    bool connected() const;
    const client_options& options() const;
    // Why the last connection attempt failed ("TLS handshake: ...",
    // "SASL_AUTHENTICATION_FAILED: ..."); empty when it did not.
    const std::string& last_failure() const;

    // Fails every waiting request with `closed`, closes the socket and stops
    // reconnecting. Idempotent.
    void close();
    // Completes once the read loop has ended (after close()).
    boost::asio::awaitable<void> stopped();

    struct impl;  // opaque; public only for the implementation's free functions

private:
    explicit client_connection(std::unique_ptr<impl> impl);
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::net
