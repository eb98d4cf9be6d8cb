#include "raft_handlers.h"

#include <chrono>

#include "strata/raft/kafka_wire.h"

namespace strata::server {

namespace pm = protocol::messages;
namespace wire = raft::wire;

namespace {

int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The raft core keeps time on the steady clock (raft/shell/node.cc), but
// DescribeQuorum's LastFetchTimestamp and LastCaughtUpTimestamp are
// wall-clock milliseconds, as Kafka's (kafka-metadata-quorum shows them as
// dates, `strata cluster quorum` as "ms ago"): moved by the clocks'
// difference now. -1 (never) stays.
void to_wall_clock(pm::describe_quorum_response& response) {
    const int64_t steady =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    const int64_t shift = wall_clock_ms() - steady;
    for (auto& topic : response.topics)
        for (auto& partition : topic.partitions)
            for (auto* replicas : {&partition.current_voters, &partition.observers})
                for (auto& r : *replicas) {
                    if (r.last_fetch_timestamp > 0) r.last_fetch_timestamp += shift;
                    if (r.last_caught_up_timestamp > 0) r.last_caught_up_timestamp += shift;
                }
}

// Decode, translate, ask the node, translate back: the shape every KRaft
// API but Fetch shares.
template <typename KafkaRequest, typename KafkaResponse, typename RaftResponse>
void register_simple(request_dispatcher& dispatcher, int16_t max_version, raft::node& node) {
    dispatcher.register_api<KafkaRequest>(
        [&node](request_context& ctx, KafkaRequest& request) -> boost::asio::awaitable<KafkaResponse> {
            // The quorum's RPCs come from its voters and observers only;
            // DescribeQuorum (an admin's) needs DESCRIBE on the cluster.
            const bool allowed = std::is_same_v<KafkaRequest, pm::describe_quorum_request>
                                     ? ctx.authorized(security::acl_operation::describe,
                                                      security::resource_type::cluster, security::cluster_resource_name)
                                     : cluster_action_allowed(ctx);
            if (!allowed) co_return refused<KafkaResponse>(kafka_error::cluster_authorization_failed);
            auto in = [&] {
                if constexpr (std::is_same_v<KafkaRequest, pm::describe_quorum_request>) {
                    return wire::from_kafka(request);
                } else {
                    return wire::from_kafka(request, node.cluster_id());
                }
            }();
            if (!in) co_return wire::error_response<KafkaResponse>(in.error());
            auto answer = co_await node.handle(in.value().from, std::move(in.value().request));
            auto out = wire::to_kafka(std::get<RaftResponse>(answer));
            if constexpr (std::is_same_v<KafkaResponse, pm::describe_quorum_response>) to_wall_clock(out);
            co_return out;
        },
        0, max_version);
}

}  // namespace

void register_raft_apis(request_dispatcher& dispatcher, fetch_router& router, raft::node& node) {
    using protocol::api_key;
    register_simple<pm::vote_request, pm::vote_response, raft::vote_response>(dispatcher, 1, node);
    register_simple<pm::begin_quorum_epoch_request, pm::begin_quorum_epoch_response, raft::begin_quorum_epoch_response>(
        dispatcher, 1, node);
    register_simple<pm::end_quorum_epoch_request, pm::end_quorum_epoch_response, raft::end_quorum_epoch_response>(
        dispatcher, 1, node);
    register_simple<pm::fetch_snapshot_request, pm::fetch_snapshot_response, raft::fetch_snapshot_response>(dispatcher,
                                                                                                            1, node);
    register_simple<pm::describe_quorum_request, pm::describe_quorum_response, raft::describe_quorum_response>(
        dispatcher, 2, node);
    router.set_metadata_handler(
        [&node](request_context& ctx, pm::fetch_request& request) -> boost::asio::awaitable<pm::fetch_response> {
            if (!cluster_action_allowed(ctx))
                co_return refused<pm::fetch_response>(kafka_error::cluster_authorization_failed);
            auto in = wire::from_kafka(request, ctx.version, node.cluster_id());
            if (!in) co_return wire::error_response<pm::fetch_response>(in.error());
            auto answer = co_await node.handle(in.value().from, std::move(in.value().request));
            co_return wire::to_kafka(std::get<raft::fetch_response>(answer), ctx.version, wall_clock_ms());
        });
}

}  // namespace strata::server
