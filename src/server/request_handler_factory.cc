#include "strata/server/request_handler_factory.h"

#include "request_dispatcher.h"

namespace strata::server {

std::unique_ptr<net::request_handler> make_request_handler(const broker_config&) {
    return std::make_unique<request_dispatcher>();
}

}  // namespace strata::server
