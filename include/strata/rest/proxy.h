// The REST proxy (Confluent REST Proxy API v3, and v2 consumers) and the web
// console, served on the broker's HTTP listener. Requests are answered in
// process: each REST call becomes Kafka requests handed straight to the
// broker's own request handler (no socket, no client library), so the REST
// proxy sees exactly what a Kafka client of this broker sees. See
// src/rest/README.md.
#pragma once

#include <memory>
#include <string>

#include "strata/http/server.h"
#include "strata/net/client_security.h"
#include "strata/net/request_handler.h"

namespace strata::rest {

struct proxy_options {
    // The Kafka listener whose view the proxy takes (the brokers' addresses
    // in metadata answers): the inter-broker listener, or the first one.
    std::string listener = "PLAINTEXT";
    // This broker's node.id: group requests for groups coordinated by
    // another broker go to that broker (src/rest/group_call.h).
    int32_t node_id = -1;
    // How the proxy's connections to the other brokers (on `listener`)
    // secure themselves: the inter-broker credentials.
    net::client_security peer_security;
    // Bytes a v2 consumer's GET records returns at most (Confluent's
    // consumer.request.max.bytes).
    size_t max_poll_bytes = 64 * 1024 * 1024;
};

class proxy {
public:
    // `kafka` answers the Kafka requests; it must outlive the proxy.
    proxy(proxy_options options, net::request_handler& kafka);
    ~proxy();

    proxy(const proxy&) = delete;
    proxy& operator=(const proxy&) = delete;

    // /v3/..., /consumers/... and the console at /.
    void add_routes(http::router& routes);

    // The broker is stopping: v2 long polls in flight end within one short
    // fetch (0.5 s) instead of their whole timeout, so the HTTP listener's
    // stop does not wait for them. Any thread; before the HTTP server stops.
    void stopping();

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::rest
