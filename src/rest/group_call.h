// Group requests sent to the group's coordinator, whichever broker that is.
//
// The REST proxy answers on every broker, but only one broker coordinates a
// group (the leader of its __consumer_offsets partition). Like a Kafka client
// (and Confluent's REST Proxy, which is one), a group request is sent to the
// coordinator that FindCoordinator names:
//
// - the request first goes to this broker's own pipeline, as the REST user:
//   the authorize stage answers there (GROUP_AUTHORIZATION_FAILED,
//   TOPIC_AUTHORIZATION_FAILED) with the user's ACLs, and when this broker is
//   the coordinator that is the whole call;
// - when it answers only coordinator errors (NOT_COORDINATOR: the user may,
//   but the group is elsewhere), the same request goes to the coordinator
//   over the Kafka protocol, on the proxy's listener with the inter-broker
//   credentials (as admin requests are forwarded to the controller: this
//   broker has authorized the user already);
// - when it answers some parts with the user's refusals and the others with
//   coordinator errors (OffsetCommit, OffsetFetch: topic by topic), only
//   the others go on, and the refusals join the coordinator's answer;
// - coordinator errors and unreachable coordinators (failover: the
//   coordinator died, __consumer_offsets leadership is moving) are retried
//   with FindCoordinator again, as a client does, for up to
//   `coordinator_wait`; then the answer is Confluent's retriable error
//   (500, error_code 50003) naming what was waited for.
#pragma once

#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <optional>

#include <fmt/format.h>

#include "common.h"
#include "peers.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/error_codes.h"
#include "strata/protocol/messages/join_group_request.h"
#include "strata/protocol/messages/offset_commit_request.h"
#include "strata/protocol/messages/offset_commit_response.h"
#include "strata/protocol/messages/offset_fetch_request.h"
#include "strata/protocol/messages/offset_fetch_response.h"
#include "strata/protocol/messages/sync_group_request.h"

namespace strata::rest {

inline constexpr std::chrono::milliseconds coordinator_wait{15000};

// The coordinator's "not here / not yet" answers (Kafka's consumer rediscovers
// the coordinator on each).
inline bool coordinator_error(int16_t code) {
    return code == kafka_error_code(kafka_error::not_coordinator) ||
           code == kafka_error_code(kafka_error::coordinator_not_available) ||
           code == kafka_error_code(kafka_error::coordinator_load_in_progress);
}

// The first coordinator error of `response`, when it carries no other
// error (0 otherwise: an answer to give as it is).
template <typename Response>
int16_t only_coordinator_errors(const Response& response) {
    std::vector<int16_t> codes;
    protocol::collect_error_codes(response, codes);
    int16_t first = 0;
    for (const int16_t code : codes) {
        if (!coordinator_error(code)) return 0;
        if (!first) first = code;
    }
    return first;
}

// OffsetCommit and OffsetFetch (to v7) are authorized topic by topic: on a
// broker that is not the coordinator, the topics the user may not use are
// refused (TOPIC_AUTHORIZATION_FAILED) and the others answered
// NOT_COORDINATOR, in one answer. Forwarding the whole request would have
// the refused topics authorized again at the coordinator as the
// inter-broker principal; keeping the answer would leave the allowed topics
// undone (and its first error, NOT_COORDINATOR, was a 500 instead of the
// 403 of the refusal). So, as the coordinator would have done for the user:
// coordinator_part is the request restricted to the partitions answered
// with coordinator errors (nullopt when the answer has none, or nothing
// else), which group_call sends on, and add_refusals puts the refused
// partitions of the local answer into the coordinator's.
std::optional<protocol::messages::offset_commit_request> coordinator_part(
    const protocol::messages::offset_commit_request& request, const protocol::messages::offset_commit_response& local);
void add_refusals(protocol::messages::offset_commit_response& answer,
                  const protocol::messages::offset_commit_response& local);
std::optional<protocol::messages::offset_fetch_request> coordinator_part(
    const protocol::messages::offset_fetch_request& request, const protocol::messages::offset_fetch_response& local);
void add_refusals(protocol::messages::offset_fetch_response& answer,
                  const protocol::messages::offset_fetch_response& local);

template <typename Request, typename Response>
concept authorized_by_parts = requires(const Request& request, Response& response) {
    { coordinator_part(request, response) } -> std::same_as<std::optional<Request>>;
    add_refusals(response, response);
};

// How long a forwarded request may take: at most 5 s and what is `left` of
// the coordinator wait (these answer in milliseconds; a hung coordinator
// should cost a retry that finds its successor, not Kafka's 30 s request
// timeout), but a JoinGroup waits for the rebalance (the Java consumer allows
// rebalance.timeout.ms plus 5 s) and a SyncGroup for the leader's
// assignment (request.timeout.ms, 30 s).
template <typename Request>
std::chrono::milliseconds forward_timeout(const Request&, std::chrono::milliseconds left) {
    return std::clamp(left, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000));
}
inline std::chrono::milliseconds forward_timeout(const protocol::messages::join_group_request& r,
                                                 std::chrono::milliseconds) {
    return std::chrono::milliseconds(std::max(r.rebalance_timeout_ms, r.session_timeout_ms) + 5000);
}
inline std::chrono::milliseconds forward_timeout(const protocol::messages::sync_group_request&,
                                                 std::chrono::milliseconds) {
    return std::chrono::milliseconds(30000);
}

[[noreturn]] void throw_retriable(const std::string& group, const std::string& why);
awaitable<void> backoff(int attempt);

// `coordinator`, when given, is set to the node that answered.
template <typename Response, typename Request>
awaitable<Response> group_call(context& ctx, const std::string& group, const Request& request,
                               int16_t cap = Request::highest_supported_version, int32_t* coordinator = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + coordinator_wait;
    std::string last;  // why the last attempt did not answer
    // What is sent: the request, or its coordinator part once the user's
    // refusals of the rest are answered here (kept in `refused`).
    const Request* sending = &request;
    std::optional<Request> part;
    std::optional<Response> refused;
    auto answer = [&](Response out, int32_t node) {
        if constexpr (authorized_by_parts<Request, Response>)
            if (refused) add_refusals(out, *refused);
        if (coordinator) *coordinator = node;
        return out;
    };
    for (int attempt = 0;; ++attempt) {
        if (attempt > 0) {
            if (std::chrono::steady_clock::now() >= deadline) throw_retriable(group, last);
            co_await backoff(attempt);
        }
        const auto where = co_await ctx.find_coordinator(group, deadline);
        auto local = co_await ctx.kafka.template call<Response>(*sending, cap);
        int16_t here = only_coordinator_errors(local);
        if constexpr (authorized_by_parts<Request, Response>) {
            // A smaller part each time, so this ends.
            while (!here && (part = coordinator_part(*sending, local))) {
                if (!refused) refused.emplace();
                add_refusals(*refused, local);
                sending = &*part;
                local = co_await ctx.kafka.template call<Response>(*sending, cap);
                here = only_coordinator_errors(local);
            }
        }
        if (!here) co_return answer(std::move(local), where.node_id);
        if (where.node_id == ctx.node_id || !ctx.peers) {
            // Named coordinator, not yet serving the group (loading it).
            last = fmt::format("broker {} answered {}", ctx.node_id, kafka_error_name(static_cast<kafka_error>(here)));
            continue;
        }
        auto link = ctx.peers->connection(co_await boost::asio::this_coro::executor, where);
        if (!link) throw rest_error(500, 50003, "Retriable Kafka error: the broker is stopping");
        const int16_t version =
            co_await ctx.kafka.version_for(static_cast<protocol::api_key>(Request::api_key), cap);
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto remote = co_await link->template call<Response>(*sending, version, forward_timeout(*sending, left));
        if (!remote) {
            if (remote.error() == net::client_error::closed)
                throw rest_error(500, 50003, "Retriable Kafka error: the broker is stopping");
            last = fmt::format("coordinator {} at {}:{}: {}", where.node_id, where.host, where.port,
                               link->last_failure().empty() ? std::string(net::to_string(remote.error()))
                                                            : link->last_failure());
            continue;
        }
        if (const int16_t there = only_coordinator_errors(remote.value())) {
            last = fmt::format("coordinator {} answered {}", where.node_id,
                               kafka_error_name(static_cast<kafka_error>(there)));
            continue;
        }
        co_return answer(std::move(remote).value(), where.node_id);
    }
}

}  // namespace strata::rest
