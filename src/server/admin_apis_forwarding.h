// on_controller's definition (admin_apis.h), kept apart for legibility.
#pragma once

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "controller_channel.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/response_errors.h"

namespace strata::server {

// How long a controller request without a TimeoutMs of its own (AlterConfigs,
// CreateAcls, ..., and the broker's internal ones) is held and retried while
// no controller answers it: Kafka's request.timeout.ms default.
inline constexpr std::chrono::milliseconds default_forwarding_timeout{30000};

// The time a request may spend reaching a controller: its own TimeoutMs
// where it has one (CreateTopics, DeleteTopics, CreatePartitions,
// ElectLeaders, AlterPartitionReassignments), else the default. A TimeoutMs
// of 0 or less asks not to wait for the outcome to spread to the brokers; it
// is not a wish to be refused while the quorum elects, so it gets the
// default as well.
template <typename Request>
std::chrono::milliseconds forwarding_timeout(const Request& request) {
    if constexpr (requires { request.timeout_ms; }) {
        if (request.timeout_ms > 0) return std::chrono::milliseconds(request.timeout_ms);
    }
    return default_forwarding_timeout;
}

template <typename Response, typename Request, typename Local>
boost::asio::awaitable<Response> on_controller(admin_context& admin, const request_context* ctx, Request request,
                                               int16_t version, Local local) {
    using clock = std::chrono::steady_clock;
    const bool forwarded_here = ctx && ctx->header.client_id && *ctx->header.client_id == forwarded_client_id;
    // A request forwarded to this node is answered here, NOT_CONTROLLER if
    // this node is no longer the controller: the broker that forwarded it
    // retries, so that a stale view of the leadership cannot make it circle.
    if (!admin.controller || forwarded_here) co_return co_await local(std::move(request));

    // Everywhere else the request is held until a controller takes it, as
    // Kafka's ForwardingManager does: through a new cluster's first moments
    // and every controller failover (no controller known, this broker not
    // yet registered and unfenced, the controller gone or answering
    // NOT_CONTROLLER), re-resolving the controller before each attempt, with
    // a short backoff, until the request's own timeout. Only then does the
    // client get an error: REQUEST_TIMED_OUT, as Kafka's.
    const auto not_ready = [&admin] {
        if (!admin.controller->controller_id()) return true;
        if (!admin.broker || !admin.broker->has_role("broker")) return false;
        const auto* self = admin.metadata.image()->broker(admin.broker->node_id);
        return !self || self->fenced;
    };
    const auto deadline = clock::now() + forwarding_timeout(request);
    const auto not_controller = static_cast<int16_t>(kafka_error::not_controller);
    boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
    const auto sleep = [&pause](std::chrono::milliseconds d) -> boost::asio::awaitable<void> {
        pause.expires_after(d);
        boost::system::error_code ignored;
        co_await pause.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    };
    std::chrono::milliseconds backoff{20};
    for (;;) {
        while (not_ready() && clock::now() < deadline) co_await sleep(std::chrono::milliseconds(10));
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        std::optional<Response> answer;
        if (admin.controller->local() || !admin.controller->controller_id()) {
            // In-process: answers NOT_CONTROLLER itself when this node lost
            // the leadership meanwhile (or never had it).
            answer = co_await local(request);
        } else {
            auto remote = co_await admin.controller->template call<Response>(
                request, version, std::max(left, std::chrono::milliseconds(1)));
            if (remote) answer = std::move(remote).value();
        }
        if (answer && !protocol::has_error(*answer, not_controller)) co_return std::move(*answer);
        if (clock::now() + backoff >= deadline) {
            // Out of time: what the controller last said, or the in-process
            // answer (every item NOT_CONTROLLER), with NOT_CONTROLLER turned
            // into REQUEST_TIMED_OUT.
            if (!answer) answer = co_await local(std::move(request));
            protocol::replace_error(*answer, not_controller, static_cast<int16_t>(kafka_error::request_timed_out));
            co_return std::move(*answer);
        }
        co_await sleep(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(250));
    }
}

}  // namespace strata::server
