// ListOffsets (key 2, v1-9) and OffsetForLeaderEpoch (key 23, v0-4): where a
// consumer starts, resets to, or validates its position (KIP-320).
#include "data_path.h"
#include "topic_metrics.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/list_offsets_request.h"
#include "strata/protocol/messages/list_offsets_response.h"
#include "strata/protocol/messages/offset_for_leader_epoch_request.h"
#include "strata/protocol/messages/offset_for_leader_epoch_response.h"

namespace strata::server {

namespace {

namespace pm = protocol::messages;

// ListOffsets' special timestamps.
constexpr int64_t latest_timestamp = -1;
constexpr int64_t earliest_timestamp = -2;
constexpr int64_t max_timestamp = -3;              // KIP-734, v7+
constexpr int64_t earliest_local_timestamp = -4;   // KIP-405, v8+
constexpr int64_t earliest_pending_upload = -5;    // KIP-1005, v9+
constexpr int32_t consumer_replica_id = -1;
constexpr int8_t read_committed = 1;

int32_t epoch_at(const replication::partition& p, storage::offset o) {
    auto e = p.epoch_for_offset(o);
    return e ? e->value() : -1;
}

// KIP-320: the client's leader epoch, when it sent one, must be ours.
kafka_error check_epoch(int32_t current_leader_epoch, const replication::partition& p) {
    const int32_t epoch = p.epoch().value();
    if (current_leader_epoch < 0 || current_leader_epoch == epoch) return kafka_error::none;
    return current_leader_epoch < epoch ? kafka_error::fenced_leader_epoch : kafka_error::unknown_leader_epoch;
}

void list_partition(const pm::list_offsets_request& request, int16_t version,
                    const pm::list_offsets_request::list_offsets_partition& in, replication::partition_manager& partitions,
                    const std::string& topic, pm::list_offsets_response::list_offsets_partition_response& out) {
    out.partition_index = in.partition_index;
    auto found = partitions.find(topic, in.partition_index);
    if (!found.leader) {
        out.error_code = static_cast<int16_t>(found.error);
        return;
    }
    const auto& p = *found.leader;
    if (auto e = version >= 4 ? check_epoch(in.current_leader_epoch, p) : kafka_error::none; e != kafka_error::none) {
        out.error_code = static_cast<int16_t>(e);
        return;
    }
    // Consumers see up to the HW (read_committed: the LSO); replicas and
    // debugging tools up to the log end.
    const auto visible_end = request.replica_id != consumer_replica_id
                                 ? p.log_end_offset()
                                 : (request.isolation_level == read_committed ? p.last_stable_offset() : p.high_watermark());
    const int32_t epoch = p.epoch().value();
    switch (in.timestamp) {
        case earliest_timestamp:
        case earliest_local_timestamp:
            // Kafka: the epoch the history gives the log start offset.
            out.offset = p.log_start_offset().value();
            out.leader_epoch = epoch_at(p, p.log_start_offset());
            return;
        case earliest_pending_upload:
            return;  // no tiered storage: nothing pending (offset -1)
        case latest_timestamp:
            out.offset = visible_end.value();
            out.leader_epoch = epoch;
            return;
        default: break;
    }
    const int64_t wanted = in.timestamp == max_timestamp ? p.max_timestamp() : in.timestamp;
    if (wanted < 0) {
        if (in.timestamp != max_timestamp) out.error_code = static_cast<int16_t>(kafka_error::invalid_request);
        return;  // -3 on a log with nothing appended since it was opened
    }
    auto hit = p.offset_for_timestamp(wanted);
    if (!hit) {
        out.error_code = static_cast<int16_t>(storage::to_kafka_error(hit.error()));
        return;
    }
    if (!hit.value() || hit.value()->found >= visible_end) return;  // none: -1, -1
    out.timestamp = hit.value()->timestamp;
    out.offset = hit.value()->found.value();
    // Kafka: the epoch of the batch holding the record found, not the
    // current one (a consumer validates its position against it, KIP-320).
    out.leader_epoch = epoch_at(p, hit.value()->found);
}

boost::asio::awaitable<pm::list_offsets_response> handle_list_offsets(request_context& ctx,
                                                                      pm::list_offsets_request& request,
                                                                      replication::partition_manager& partitions) {
    pm::list_offsets_response response;
    for (const auto& topic : request.topics) {
        auto& topic_out = response.topics.emplace_back();
        topic_out.name = topic.name;
        // The authorize stage: DESCRIBE on the topic, as Kafka's KafkaApis.
        const bool allowed =
            ctx.authorized(security::acl_operation::describe, security::resource_type::topic, topic.name);
        for (const auto& in : topic.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            if (!allowed) {
                out.partition_index = in.partition_index;
                out.error_code = static_cast<int16_t>(kafka_error::topic_authorization_failed);
                continue;
            }
            list_partition(request, ctx.version, in, partitions, topic.name, out);
        }
    }
    co_return response;
}

boost::asio::awaitable<pm::offset_for_leader_epoch_response> handle_offset_for_leader_epoch(
    request_context& ctx, pm::offset_for_leader_epoch_request& request, replication::partition_manager& partitions) {
    pm::offset_for_leader_epoch_response response;
    // The authorize stage, as Kafka's KafkaApis: a follower (replica id set,
    // v3+) needs CLUSTER_ACTION, a client DESCRIBE on the topic.
    const bool from_replica = ctx.version >= 3 && request.replica_id >= 0;
    const bool replica_allowed = from_replica && cluster_action_allowed(ctx);
    for (const auto& topic : request.topics) {
        auto& topic_out = response.topics.emplace_back();
        topic_out.topic = topic.topic;
        const bool allowed = from_replica ? replica_allowed
                                          : ctx.authorized(security::acl_operation::describe,
                                                           security::resource_type::topic, topic.topic);
        for (const auto& in : topic.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition = in.partition;
            if (!allowed) {
                out.error_code = static_cast<int16_t>(from_replica ? kafka_error::cluster_authorization_failed
                                                                   : kafka_error::topic_authorization_failed);
                continue;
            }
            auto found = partitions.find(topic.topic, in.partition);
            if (!found.leader) {
                out.error_code = static_cast<int16_t>(found.error);
                continue;
            }
            const auto& p = *found.leader;
            if (auto e = ctx.version >= 2 ? check_epoch(in.current_leader_epoch, p) : kafka_error::none;
                e != kafka_error::none) {
                out.error_code = static_cast<int16_t>(e);
                continue;
            }
            // The largest epoch <= the one asked for and where the next one
            // starts; none (-1, -1) when the history starts after it.
            if (auto end = p.last_offset_for_epoch(storage::leader_epoch(in.leader_epoch))) {
                out.leader_epoch = end->epoch.value();
                out.end_offset = end->end_offset.value();
            }
        }
    }
    co_return response;
}

}  // namespace

void register_list_offsets(request_dispatcher& dispatcher, replication::partition_manager& partitions) {
    dispatcher.register_api<pm::list_offsets_request>(
        [&partitions](request_context& ctx, pm::list_offsets_request& request) {
            return handle_list_offsets(ctx, request, partitions);
        },
        1, 9);
}

void register_offset_for_leader_epoch(request_dispatcher& dispatcher, replication::partition_manager& partitions) {
    dispatcher.register_api<pm::offset_for_leader_epoch_request>(
        [&partitions](request_context& ctx, pm::offset_for_leader_epoch_request& request) {
            return handle_offset_for_leader_epoch(ctx, request, partitions);
        },
        0, 4);
}

void register_data_path(request_dispatcher& dispatcher, fetch_router& router,
                        replication::partition_manager& partitions, produce_txn_verifier verifier,
                        replication::replica_selector selector) {
    // A deleted topic's traffic series go with it (the partition manager's
    // image says which topics exist).
    auto traffic = std::make_shared<topic_metrics>(dispatcher.metrics(), [&partitions] { return partitions.image(); });
    register_produce(dispatcher, partitions, traffic, std::move(verifier));
    register_partition_fetch(router, partitions, traffic, selector);
    register_list_offsets(dispatcher, partitions);
    register_offset_for_leader_epoch(dispatcher, partitions);
}

}  // namespace strata::server
