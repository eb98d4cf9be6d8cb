#include "strata/server/request_handler_factory.h"

#include "fetch_router.h"
#include "raft_handlers.h"
#include "request_dispatcher.h"

namespace strata::server {

namespace {

// The dispatcher together with what its handlers capture, so that they live
// and die together.
class broker_request_handler final : public net::request_handler {
public:
    explicit broker_request_handler(raft::node& quorum) {
        register_raft_apis(_dispatcher, _fetch_router, quorum);
        _fetch_router.register_with(_dispatcher);
    }

    boost::asio::awaitable<net::handler_result> handle(const net::connection_info& connection,
                                                       std::shared_ptr<const std::vector<uint8_t>> frame) override {
        return _dispatcher.handle(connection, std::move(frame));
    }

private:
    request_dispatcher _dispatcher;
    fetch_router _fetch_router;
};

}  // namespace

std::unique_ptr<net::request_handler> make_request_handler(const broker_config&) {
    return std::make_unique<request_dispatcher>();
}

std::unique_ptr<net::request_handler> make_request_handler(const broker_config&, raft::node& metadata_quorum) {
    return std::make_unique<broker_request_handler>(metadata_quorum);
}

}  // namespace strata::server
