// The server's entry point for every request: reads the header, finds the
// API's handler, answers the cases Kafka answers before any handler runs
// (unknown API, unsupported version, KIP-511's ApiVersions fallback), and
// frames the handler's response with the right response header.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "strata/net/request_handler.h"
#include "strata/protocol/api.h"
#include "strata/protocol/messages/request_header.h"
#include "strata/protocol/messages/response_header.h"

namespace strata::server {

// One request as a handler sees it. Lives for the handler call.
struct request_context {
    const net::connection_info& connection;
    protocol::api_key api;
    int16_t version;
    protocol::messages::request_header header;
    // The frame the request came in; decoded records views point into it.
    std::shared_ptr<const std::vector<uint8_t>> frame;
};

// A handler decodes its request body from `body` (positioned after the
// header) and returns the response; decode_error closes the connection, as
// Kafka does for a request it cannot parse.
using api_handler = std::function<boost::asio::awaitable<net::handler_result>(request_context&, protocol::reader& body)>;

struct supported_api {
    protocol::api_key key;
    int16_t min_version;
    int16_t max_version;
};

// Immutable after start-up (handlers are registered before the server starts),
// so `handle` runs concurrently on every network thread without locks.
class request_dispatcher final : public net::request_handler {
public:
    request_dispatcher();
    // Handlers capture the dispatcher; it never moves.
    request_dispatcher(const request_dispatcher&) = delete;
    request_dispatcher& operator=(const request_dispatcher&) = delete;

    // Registers the handler of `key` for versions [min, max], which must lie
    // within the versions the codec knows. Only registered APIs are
    // advertised by ApiVersions.
    void register_api(protocol::api_key key, int16_t min_version, int16_t max_version, api_handler handler);

    // What ApiVersions advertises, ordered by API key.
    std::vector<supported_api> supported_apis() const;

    boost::asio::awaitable<net::handler_result> handle(const net::connection_info& connection,
                                                       std::shared_ptr<const std::vector<uint8_t>> frame) override;

private:
    struct entry {
        supported_api versions;
        api_handler handler;
    };
    std::map<int16_t, entry> _apis;
};

// Encodes `response` with its response header for the request in `ctx`.
template <typename Response>
protocol::encoded_output encode_response(const request_context& ctx, const Response& response) {
    protocol::messages::response_header header;
    header.correlation_id = ctx.header.correlation_id;
    const int16_t header_version = protocol::response_header_version(ctx.api, ctx.version);
    protocol::encoded_output out;
    out.bytes.reserve(header.size(header_version) + response.size(ctx.version));
    protocol::writer w(out);
    header.encode(w, header_version);
    response.encode(w, ctx.version);
    return out;
}

template <typename Response>
net::handler_result respond(const request_context& ctx, const Response& response) {
    return net::handler_result{encode_response(ctx, response), false};
}

// Registers ApiVersions (api_versions.cc).
void register_api_versions(request_dispatcher& dispatcher);

}  // namespace strata::server
