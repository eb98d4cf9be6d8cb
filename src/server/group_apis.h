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

// Registers every group API at the versions Kafka 3.9 serves.
void register_group_apis(request_dispatcher& dispatcher, group_context& groups);

// The coordinator's settings from the broker's (offsets.*, group.*).
group::coordinator_config coordinator_config_from(const broker_config& config);

}  // namespace strata::server
