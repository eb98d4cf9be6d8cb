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

// Decode, translate, ask the node, translate back: the shape every KRaft
// API but Fetch shares.
template <typename KafkaRequest, typename KafkaResponse, typename RaftResponse>
void register_simple(request_dispatcher& dispatcher, protocol::api_key key, int16_t max_version, raft::node& node) {
    dispatcher.register_api(key, 0, max_version,
                            [&node](request_context& ctx, protocol::reader& body) -> boost::asio::awaitable<net::handler_result> {
                                KafkaRequest request;
                                request.decode(body, ctx.version);
                                auto in = [&] {
                                    if constexpr (std::is_same_v<KafkaRequest, pm::describe_quorum_request>) {
                                        return wire::from_kafka(request);
                                    } else {
                                        return wire::from_kafka(request, node.cluster_id());
                                    }
                                }();
                                if (!in) co_return respond(ctx, wire::error_response<KafkaResponse>(in.error()));
                                auto answer = co_await node.handle(in.value().from, std::move(in.value().request));
                                co_return respond(ctx, wire::to_kafka(std::get<RaftResponse>(answer)));
                            });
}

}  // namespace

void register_raft_apis(request_dispatcher& dispatcher, fetch_router& router, raft::node& node) {
    using protocol::api_key;
    register_simple<pm::vote_request, pm::vote_response, raft::vote_response>(dispatcher, api_key::vote, 1, node);
    register_simple<pm::begin_quorum_epoch_request, pm::begin_quorum_epoch_response, raft::begin_quorum_epoch_response>(
        dispatcher, api_key::begin_quorum_epoch, 1, node);
    register_simple<pm::end_quorum_epoch_request, pm::end_quorum_epoch_response, raft::end_quorum_epoch_response>(
        dispatcher, api_key::end_quorum_epoch, 1, node);
    register_simple<pm::fetch_snapshot_request, pm::fetch_snapshot_response, raft::fetch_snapshot_response>(
        dispatcher, api_key::fetch_snapshot, 1, node);
    register_simple<pm::describe_quorum_request, pm::describe_quorum_response, raft::describe_quorum_response>(
        dispatcher, api_key::describe_quorum, 2, node);
    router.set_metadata_handler(
        [&node](request_context& ctx, pm::fetch_request& request) -> boost::asio::awaitable<net::handler_result> {
            auto in = wire::from_kafka(request, ctx.version, node.cluster_id());
            if (!in) co_return respond(ctx, wire::error_response<pm::fetch_response>(in.error()));
            auto answer = co_await node.handle(in.value().from, std::move(in.value().request));
            co_return respond(ctx, wire::to_kafka(std::get<raft::fetch_response>(answer), ctx.version, wall_clock_ms()));
        });
}

}  // namespace strata::server
