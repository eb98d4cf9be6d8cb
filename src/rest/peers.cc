#include "peers.h"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

namespace strata::rest {

namespace asio = boost::asio;

std::shared_ptr<net::client_connection> peer_links::connection(const asio::any_io_executor& executor,
                                                               const broker_address& broker) {
    const void* thread = &asio::query(executor, asio::execution::context);
    std::lock_guard guard(_mutex);
    if (_closed) return nullptr;
    auto& l = _links[{thread, broker.node_id}];
    if (!l.connection || l.host != broker.host || l.port != broker.port) {
        // A broker that moved (new address): the old connection goes.
        if (l.connection) asio::post(l.executor, [old = l.connection] { old->close(); });
        net::client_options options;
        options.host = broker.host;
        options.port = static_cast<uint16_t>(broker.port);
        options.client_id = "strata-rest-proxy";
        // A dead coordinator should cost a retry, not the HTTP client's patience.
        options.reconnect_backoff_max = std::chrono::milliseconds(500);
        _security.apply_to(options);
        l.host = broker.host;
        l.port = broker.port;
        l.executor = executor;
        l.connection = net::client_connection::create(executor, options);
    }
    return l.connection;
}

void peer_links::close_all() {
    std::lock_guard guard(_mutex);
    _closed = true;
    for (auto& [key, l] : _links) asio::post(l.executor, [c = l.connection] { c->close(); });
    _links.clear();
}

}  // namespace strata::rest
