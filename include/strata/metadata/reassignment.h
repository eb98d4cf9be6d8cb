// Partition reassignment (KIP-455) as Kafka's KRaft controller does it: the
// target replicas are recorded in the partition (PartitionChangeRecord
// replicas = target + the ones leaving, adding_replicas, removing_replicas);
// the adding replicas follow the leader like any replica and join the ISR
// through the leader's AlterPartition; once the ISR holds every target
// replica the reassignment completes in that same record (replicas = target,
// ISR = ISR minus the removed, adding/removing cleared, and a leader that is
// being removed replaced by the first target replica in the ISR). The
// brokers react to the image: a broker no longer among the replicas stops
// the partition and deletes its log (src/replication/partition_manager.cc).
//
// Pure functions of the image, like the controller's other decisions.
#pragma once

#include <vector>

#include "strata/metadata/image.h"
#include "strata/protocol/messages/alter_partition_reassignments_request.h"
#include "strata/protocol/messages/alter_partition_reassignments_response.h"
#include "strata/protocol/messages/list_partition_reassignments_request.h"
#include "strata/protocol/messages/list_partition_reassignments_response.h"
#include "strata/protocol/messages/unregister_broker_response.h"

namespace strata::metadata {

// AlterPartitionReassignments (api key 45, v0). Per partition, in Kafka's
// order: UNKNOWN_TOPIC_OR_PARTITION; for null replicas (cancel)
// NO_REASSIGNMENT_IN_PROGRESS when none is, else the revert to the original
// replicas (the adding ones leave the replicas and the ISR; a leader among
// them is replaced); for a target: INVALID_REPLICA_ASSIGNMENT when it is
// empty, has duplicates or negative ids, or names an unregistered broker.
// A target equal to the replicas of a partition not being reassigned
// changes nothing; one whose replicas are all in the ISR completes at once.
std::vector<record> alter_partition_reassignments(
    const metadata_image& image, const protocol::messages::alter_partition_reassignments_request& request,
    protocol::messages::alter_partition_reassignments_response& response);

// ListPartitionReassignments (api key 46, v0): the partitions with adding
// or removing replicas, of every topic (null topics) or of those named
// (unknown topics and partitions are left out, as Kafka does).
void list_partition_reassignments(const metadata_image& image,
                                  const protocol::messages::list_partition_reassignments_request& request,
                                  protocol::messages::list_partition_reassignments_response& response);

// Completes `p`'s reassignment if `change` (an ISR change for it) brings
// every target replica into the ISR: fills `change` with the final replicas,
// ISR and cleared adding/removing, and a new leader if the leader leaves.
// Returns true when it did. Called by AlterPartition.
bool complete_reassignment_if_needed(const metadata_image& image, const partition_state& p,
                                     records::partition_change_record& change);

// UnregisterBroker (api key 64, v0): BROKER_ID_NOT_REGISTERED for an unknown
// broker; else leadership moves off it to another live ISR member, it
// leaves every ISR it can (the last member stays), and an
// UnregisterBrokerRecord removes it (Kafka's handleBrokerUnregistered).
std::vector<record> unregister_broker(const metadata_image& image, int32_t broker_id,
                                      protocol::messages::unregister_broker_response& response);

}  // namespace strata::metadata
