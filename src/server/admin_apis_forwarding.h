// on_controller's definition (admin_apis.h), kept apart for legibility.
#pragma once

#include "controller_channel.h"

namespace strata::server {

template <typename Response, typename Request, typename Local>
boost::asio::awaitable<Response> on_controller(admin_context& admin, const request_context* ctx, Request request,
                                               int16_t version, Local local) {
    const bool forwarded_here = ctx && ctx->header.client_id && *ctx->header.client_id == forwarded_client_id;
    if (!admin.controller || admin.controller->local() || forwarded_here || !admin.controller->controller_id())
        co_return co_await local(std::move(request));
    auto answer = co_await admin.controller->template call<Response>(request, version, std::chrono::seconds(30));
    if (answer) co_return std::move(answer).value();
    co_return co_await local(std::move(request));
}

}  // namespace strata::server
