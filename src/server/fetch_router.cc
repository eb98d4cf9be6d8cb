#include "fetch_router.h"

#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/raft/kafka_wire.h"

namespace strata::server {

namespace pm = protocol::messages;

void fetch_router::register_with(request_dispatcher& dispatcher) {
    dispatcher.register_api<pm::fetch_request>(
        [this](request_context& ctx, pm::fetch_request& request) { return route(ctx, request); }, 4, 17);
}

boost::asio::awaitable<pm::fetch_response> fetch_router::route(request_context& ctx, pm::fetch_request& request) {
    // A follower's (or the metadata quorum's) fetch: replication traffic,
    // which client quotas do not count (replication throttles do).
    const int32_t replica = ctx.version >= 15 ? request.replica_state.replica_id : request.replica_id;
    if (replica >= 0 || raft::wire::is_metadata_fetch(request, ctx.version)) ctx.inter_broker = true;
    if (_metadata && raft::wire::is_metadata_fetch(request, ctx.version)) co_return co_await _metadata(ctx, request);
    if (_partitions) co_return co_await _partitions(ctx, request);
    pm::fetch_response response;
    const auto error = ctx.version >= 13 ? kafka_error::unknown_topic_id : kafka_error::unknown_topic_or_partition;
    for (const auto& topic : request.topics) {
        auto& out = response.responses.emplace_back();
        out.topic = topic.topic;
        out.topic_id = topic.topic_id;
        for (const auto& partition : topic.partitions) {
            auto& p = out.partitions.emplace_back();
            p.partition_index = partition.partition;
            p.error_code = static_cast<int16_t>(error);
            p.high_watermark = -1;
            p.records = protocol::records{};
        }
    }
    co_return response;
}

}  // namespace strata::server
