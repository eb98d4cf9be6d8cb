// Pure planning of partition moves (no I/O), for `strata broker
// decommission` and `strata cluster rebalance`; unit-tested in
// rebalance_plan_test.cc.
#pragma once

#include <vector>

#include "reassign_ops.h"

namespace strata::cli {

// Every partition with `broker` among its (target) replicas gets it replaced
// by the live broker that keeps the replicas on the most racks, then has
// the fewest replicas; a partition already moving off it is left alone.
std::vector<partition_move> plan_decommission(const cluster_layout& layout, int32_t broker);

// Moves that even out replicas per live broker (to within one), never
// putting two replicas on one rack where they were on two, then reorders
// replicas so that each broker is the preferred (first) replica of about
// as many partitions as any other. Partitions being reassigned are left out.
std::vector<partition_move> plan_rebalance(const cluster_layout& layout);

}  // namespace strata::cli
