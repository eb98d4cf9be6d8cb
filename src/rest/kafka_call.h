// Kafka requests answered in process: encoded like a client's, handed to the
// broker's request handler as if read from a connection of the proxy's own,
// and the answer decoded. Versions are negotiated once with ApiVersions.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/net/request_handler.h"
#include "strata/protocol/api.h"
#include "strata/protocol/wire.h"

namespace strata::rest {

// The broker refused a request outright (closed the "connection").
class kafka_call_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class kafka_call {
public:
    // Requests go to `listener`'s pipeline as `who` (HTTP Basic's user, or
    // User:ANONYMOUS), so the listener's authorization applies.
    kafka_call(net::request_handler& handler, std::string listener, security::principal who = {});
    // Tells the handler the proxy's "connection" is gone (its per-connection
    // state, such as fetch sessions, is dropped). Once, before the handler goes.
    void close();

    template <typename Response, typename Request>
    boost::asio::awaitable<Response> call(const Request& request, int16_t cap = Request::highest_supported_version) {
        const auto key = static_cast<protocol::api_key>(Request::api_key);
        const int16_t version = co_await version_for(key, cap);
        protocol::encoded_output out;
        protocol::writer w(out);
        write_header(w, key, version);
        request.encode(w, version);
        auto answer = co_await raw(std::move(out.bytes));
        protocol::reader r(*answer, answer);
        skip_response_header(r, key, version);
        Response response;
        response.decode(r, version);
        co_return response;
    }

    // The version to use: min(cap, the broker's highest). Throws when the
    // broker does not serve the API at a version this side can speak.
    boost::asio::awaitable<int16_t> version_for(protocol::api_key key, int16_t cap);

private:
    void write_header(protocol::writer& w, protocol::api_key key, int16_t version);
    void skip_response_header(protocol::reader& r, protocol::api_key key, int16_t version);
    boost::asio::awaitable<std::shared_ptr<const std::vector<uint8_t>>> raw(std::vector<uint8_t> frame);

    net::request_handler& _handler;
    net::connection_info _info;
    std::atomic<int32_t> _correlation{0};
    // api key -> (min, max); filled once (the broker's APIs do not change
    // while it runs), -1 max: not served.
    std::array<std::pair<int16_t, int16_t>, 128> _versions{};
    std::atomic<bool> _negotiated{false};
};

}  // namespace strata::rest
