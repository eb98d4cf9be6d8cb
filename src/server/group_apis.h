// The consumer group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
// DeleteGroups, OffsetDelete), served by the group coordinator.
#pragma once

#include "request_dispatcher.h"
#include "strata/group/group_coordinator.h"
#include "strata/metadata/metadata_service.h"
#include "strata/server/broker_config.h"
#include "strata/txn/txn_coordinator.h"

namespace strata::server {

// What these handlers need; outlives the dispatcher.
struct group_context {
    group::group_coordinator& coordinator;
    metadata::metadata_service& metadata;
    // FindCoordinator's TRANSACTION keys (none: COORDINATOR_NOT_AVAILABLE).
    txn::txn_coordinator* transactions = nullptr;
};

// The authorize stage of the group APIs (group_authorize.cc): each checks
// what Kafka's KafkaApis checks, answers refused parts itself and hands the
// rest to the coordinator.
boost::asio::awaitable<protocol::messages::join_group_response> authorized_join_group(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::join_group_request request,
    std::string client_id, std::string client_host);
boost::asio::awaitable<protocol::messages::sync_group_response> authorized_sync_group(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::sync_group_request request);
boost::asio::awaitable<protocol::messages::heartbeat_response> authorized_heartbeat(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::heartbeat_request request);
boost::asio::awaitable<protocol::messages::leave_group_response> authorized_leave_group(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::leave_group_request request);
boost::asio::awaitable<protocol::messages::offset_commit_response> authorized_offset_commit(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::offset_commit_request request);
boost::asio::awaitable<protocol::messages::offset_fetch_response> authorized_offset_fetch(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::offset_fetch_request request);
boost::asio::awaitable<protocol::messages::describe_groups_response> authorized_describe_groups(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::describe_groups_request request);
boost::asio::awaitable<protocol::messages::list_groups_response> authorized_list_groups(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::list_groups_request request);
boost::asio::awaitable<protocol::messages::delete_groups_response> authorized_delete_groups(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::delete_groups_request request);
boost::asio::awaitable<protocol::messages::offset_delete_response> authorized_offset_delete(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::offset_delete_request request);
boost::asio::awaitable<protocol::messages::consumer_group_heartbeat_response> authorized_consumer_group_heartbeat(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::consumer_group_heartbeat_request request,
    std::string client_id, std::string client_host);
boost::asio::awaitable<protocol::messages::consumer_group_describe_response> authorized_consumer_group_describe(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::consumer_group_describe_request request);

// Registers every group API at the versions Kafka 3.9 serves.
void register_group_apis(request_dispatcher& dispatcher, group_context& groups);

// The coordinator's settings from the broker's (offsets.*, group.*).
group::coordinator_config coordinator_config_from(const broker_config& config);

}  // namespace strata::server
