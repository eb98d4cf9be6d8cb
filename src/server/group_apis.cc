// The consumer group APIs: FindCoordinator (10) answered here from the
// metadata image, and JoinGroup (11), Heartbeat (12), LeaveGroup (13),
// SyncGroup (14), DescribeGroups (15), ListGroups (16), OffsetCommit (8),
// OffsetFetch (9), DeleteGroups (42) and OffsetDelete (47) handed to the
// group coordinator (src/group/).
#include "group_apis.h"

#include "strata/protocol/messages/find_coordinator_request.h"
#include "strata/protocol/messages/find_coordinator_response.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

// Kafka shows a member's host as InetAddress.toString(): "/127.0.0.1".
std::string client_host(const std::string& remote) {
    auto colon = remote.rfind(':');
    std::string host = colon == std::string::npos ? remote : remote.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return "/" + host;
}

awaitable<msg::find_coordinator_response> handle_find_coordinator(group_context& groups, request_context& ctx,
                                                                  msg::find_coordinator_request& request) {
    std::vector<std::string> keys;
    if (ctx.version >= 4)
        keys = request.coordinator_keys;
    else
        keys.push_back(request.key);

    msg::find_coordinator_response response;
    for (const auto& key : keys) {
        auto& c = response.coordinators.emplace_back();
        c.key = key;
        c.node_id = -1;
        c.port = -1;
        c.error_message.reset();
        kafka_error error = kafka_error::none;
        if (request.key_type == 1 && !groups.transactions) {
            error = kafka_error::coordinator_not_available;
        } else if (request.key_type != 0 && request.key_type != 1) {
            error = kafka_error::invalid_request;
            c.error_message = "unknown coordinator key type";
        } else if (key.empty()) {
            error = kafka_error::invalid_request;
            c.error_message = request.key_type == 1 ? "empty transactional id" : "empty group id";
        } else if (request.key_type == 0 &&
                   !ctx.authorized(security::acl_operation::describe, security::resource_type::group, key)) {
            // The authorize stage: DESCRIBE on the group or transactional id.
            error = kafka_error::group_authorization_failed;
        } else if (request.key_type == 1 && !ctx.authorized(security::acl_operation::describe,
                                                            security::resource_type::transactional_id, key)) {
            error = kafka_error::transactional_id_authorization_failed;
        } else {
            // (Two co_awaits in one conditional expression double-destroy
            // the result with GCC 12: hence the if.)
            std::pair<kafka_error, int32_t> found;
            if (request.key_type == 1)
                found = co_await groups.transactions->find_coordinator(key);
            else
                found = co_await groups.coordinator.find_coordinator(key);
            error = found.first;
            if (error == kafka_error::none) {
                auto image = groups.metadata.image();
                const auto* broker = image->broker(found.second);
                const auto* endpoint = broker && !broker->fenced ? broker->endpoint(ctx.connection.listener) : nullptr;
                if (!endpoint) {
                    error = kafka_error::coordinator_not_available;
                } else {
                    c.node_id = found.second;
                    c.host = endpoint->host;
                    c.port = endpoint->port;
                }
            }
        }
        c.error_code = kafka_error_code(error);
    }
    if (ctx.version < 4) {
        const auto& c = response.coordinators.front();
        response.error_code = c.error_code;
        response.error_message = ctx.version >= 1 ? c.error_message : std::optional<std::string>("");
        response.node_id = c.node_id;
        response.host = c.host;
        response.port = c.port;
        response.coordinators.clear();
    }
    co_return response;
}

}  // namespace

void register_group_apis(request_dispatcher& dispatcher, group_context& groups) {
    auto& gc = groups.coordinator;
    dispatcher.register_api<msg::find_coordinator_request>(
        [&groups](request_context& ctx, msg::find_coordinator_request& r) {
            return handle_find_coordinator(groups, ctx, r);
        },
        0, 6);
    dispatcher.register_api<msg::join_group_request>(
        [&gc](request_context& ctx, msg::join_group_request& r) {
            return authorized_join_group(gc, ctx, std::move(r), ctx.header.client_id.value_or(""),
                                 client_host(ctx.connection.remote));
        },
        0, 9);
    dispatcher.register_api<msg::sync_group_request>(
        [&gc](request_context& ctx, msg::sync_group_request& r) { return authorized_sync_group(gc, ctx, std::move(r)); }, 0,
        5);
    dispatcher.register_api<msg::heartbeat_request>(
        [&gc](request_context& ctx, msg::heartbeat_request& r) { return authorized_heartbeat(gc, ctx, std::move(r)); }, 0,
        4);
    dispatcher.register_api<msg::leave_group_request>(
        [&gc](request_context& ctx, msg::leave_group_request& r) {
            return authorized_leave_group(gc, ctx, std::move(r));
        },
        0, 5);
    dispatcher.register_api<msg::offset_commit_request>(
        [&gc](request_context& ctx, msg::offset_commit_request& r) {
            return authorized_offset_commit(gc, ctx, std::move(r));
        },
        0, 9);
    dispatcher.register_api<msg::offset_fetch_request>(
        [&gc](request_context& ctx, msg::offset_fetch_request& r) {
            return authorized_offset_fetch(gc, ctx, std::move(r));
        },
        0, 9);
    dispatcher.register_api<msg::describe_groups_request>(
        [&gc](request_context& ctx, msg::describe_groups_request& r) {
            return authorized_describe_groups(gc, ctx, std::move(r));
        },
        0, 5);
    dispatcher.register_api<msg::list_groups_request>(
        [&gc](request_context& ctx, msg::list_groups_request& r) {
            return authorized_list_groups(gc, ctx, std::move(r));
        },
        0, 5);
    dispatcher.register_api<msg::delete_groups_request>(
        [&gc](request_context& ctx, msg::delete_groups_request& r) {
            return authorized_delete_groups(gc, ctx, std::move(r));
        },
        0, 2);
    // KIP-848: ConsumerGroupHeartbeat v1 is Kafka 4.0's (SubscribedTopicRegex,
    // resolved by the coordinator); librdkafka 2.12 speaks the consumer
    // protocol only from v1. ConsumerGroupDescribe v0 already describes a
    // member's regex; v1 (Kafka 4.0's MemberType, KIP-1099) is not in the
    // schemas this build generates from.
    dispatcher.register_api<msg::consumer_group_heartbeat_request>(
        [&gc](request_context& ctx, msg::consumer_group_heartbeat_request& r) {
            return authorized_consumer_group_heartbeat(gc, ctx, std::move(r), ctx.header.client_id.value_or(""),
                                               client_host(ctx.connection.remote));
        },
        0, 1);
    dispatcher.register_api<msg::consumer_group_describe_request>(
        [&gc](request_context& ctx, msg::consumer_group_describe_request& r) {
            return authorized_consumer_group_describe(gc, ctx, std::move(r));
        },
        0, 0);
    dispatcher.register_api<msg::offset_delete_request>(
        [&gc](request_context& ctx, msg::offset_delete_request& r) {
            return authorized_offset_delete(gc, ctx, std::move(r));
        },
        0, 0);
}

group::coordinator_config coordinator_config_from(const broker_config& config) {
    group::coordinator_config c;
    c.offsets_topic_partitions = config.offsets_topic_num_partitions;
    c.offsets_topic_replication_factor = static_cast<int16_t>(config.offsets_topic_replication_factor);
    c.offsets_topic_segment_bytes = config.offsets_topic_segment_bytes;
    c.group_min_session_timeout_ms = config.group_min_session_timeout_ms;
    c.group_max_session_timeout_ms = config.group_max_session_timeout_ms;
    c.group_max_size = config.group_max_size;
    c.group_initial_rebalance_delay_ms = config.group_initial_rebalance_delay_ms;
    c.offsets_retention_ms = int64_t{config.offsets_retention_minutes} * 60'000;
    c.offsets_retention_check_interval_ms = config.offsets_retention_check_interval_ms;
    c.offset_metadata_max_bytes = config.offset_metadata_max_bytes;
    c.consumer_session_timeout_ms = config.group_consumer_session_timeout_ms;
    c.consumer_heartbeat_interval_ms = config.group_consumer_heartbeat_interval_ms;
    return c;
}

}  // namespace strata::server
