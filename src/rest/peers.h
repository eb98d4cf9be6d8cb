// Kafka-protocol connections from the REST proxy to the other brokers of the
// cluster, for the group requests they coordinate (see group_call.h).
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "strata/net/client_connection.h"
#include "strata/net/client_security.h"

namespace strata::rest {

// A broker's address on the proxy's listener (FindCoordinator's or
// Metadata's answer).
struct broker_address {
    int32_t node_id = -1;
    std::string host;
    int32_t port = 0;
};

// Owned by the proxy; any thread. A client_connection lives on one
// single-threaded executor, and REST handlers run on whichever network
// thread serves their HTTP connection: so one connection per (network
// thread, broker), made on first use and kept (pipelined, reconnected on
// demand by client_connection). At most threads x brokers connections.
class peer_links {
public:
    explicit peer_links(net::client_security security) : _security(std::move(security)) {}

    // The connection to `broker` for the calling coroutine's `executor`;
    // null once close_all() has run (the broker is stopping).
    std::shared_ptr<net::client_connection> connection(const boost::asio::any_io_executor& executor,
                                                       const broker_address& broker);

    // Fails every waiting call (client_error::closed) and refuses new ones.
    // Each close runs on its connection's own thread (posted), which must
    // still be running: called before the network threads stop.
    void close_all();

private:
    struct link {
        std::string host;
        int32_t port = 0;
        boost::asio::any_io_executor executor;
        std::shared_ptr<net::client_connection> connection;
    };

    net::client_security _security;
    std::mutex _mutex;
    std::map<std::pair<const void*, int32_t>, link> _links;  // (thread's execution context, node id)
    bool _closed = false;
};

}  // namespace strata::rest
