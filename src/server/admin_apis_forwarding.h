// on_controller's definition (admin_apis.h), kept apart for legibility.
#pragma once

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

#include "controller_channel.h"

namespace strata::server {

template <typename Response, typename Request, typename Local>
boost::asio::awaitable<Response> on_controller(admin_context& admin, const request_context* ctx, Request request,
                                               int16_t version, Local local) {
    const bool forwarded_here = ctx && ctx->header.client_id && *ctx->header.client_id == forwarded_client_id;
    // A new cluster's first moments, or a failover: while the quorum elects
    // (no controller known) or before this broker is registered and
    // unfenced, hold the request, as Kafka's broker does (it serves clients
    // only once unfenced, and its forwarding manager queues requests until a
    // controller is known), rather than answer NOT_CONTROLLER or
    // INVALID_REPLICATION_FACTOR for want of brokers.
    auto not_ready = [&admin] {
        if (!admin.controller->controller_id()) return true;
        if (!admin.broker || !admin.broker->has_role("broker")) return false;
        const auto* self = admin.metadata.image()->broker(admin.broker->node_id);
        return !self || self->fenced;
    };
    if (admin.controller && !forwarded_here && not_ready()) {
        boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (not_ready() && std::chrono::steady_clock::now() < until) {
            pause.expires_after(std::chrono::milliseconds(10));
            boost::system::error_code ignored;
            co_await pause.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
        }
    }
    if (!admin.controller || admin.controller->local() || forwarded_here || !admin.controller->controller_id())
        co_return co_await local(std::move(request));
    auto answer = co_await admin.controller->template call<Response>(request, version, std::chrono::seconds(30));
    if (answer) co_return std::move(answer).value();
    co_return co_await local(std::move(request));
}

}  // namespace strata::server
