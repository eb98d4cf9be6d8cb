// The KRaft APIs served by this node's raft::node: Vote, BeginQuorumEpoch,
// EndQuorumEpoch, FetchSnapshot, DescribeQuorum, and Fetch of
// __cluster_metadata through the fetch router. Each handler decodes Kafka's
// request, translates it (raft/kafka_wire.h, which checks the ClusterId and
// the partition), awaits the node and encodes its answer.
#pragma once

#include "fetch_router.h"
#include "request_dispatcher.h"
#include "strata/raft/node.h"

namespace strata::server {

// `node` and `router` must outlive the dispatcher.
void register_raft_apis(request_dispatcher& dispatcher, fetch_router& router, raft::node& node);

}  // namespace strata::server
