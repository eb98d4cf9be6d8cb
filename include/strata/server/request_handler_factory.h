// The seam between stratad and the request dispatcher: stratad serves every
// listener with the handler made here.
#pragma once

#include <memory>

#include "strata/metrics/registry.h"
#include "strata/net/request_handler.h"
#include "strata/replication/partition_manager.h"
#include "strata/security/authorizer.h"
#include "strata/server/broker_config.h"
#include "strata/server/metadata_quorum.h"

namespace strata::server {

// The handler that answers every request of every connection. Called once at
// start-up; the handler lives until the network server has stopped.
std::unique_ptr<net::request_handler> make_request_handler(const broker_config& config);
// The same, also serving the KRaft APIs (and Fetch of __cluster_metadata)
// and the metadata and admin APIs from `quorum`, and, with `partitions`
// (a broker), the data path: Produce, Fetch, ListOffsets,
// OffsetForLeaderEpoch. Every request is counted and timed into `metrics`.
// With `authorizer` (null: allow all), requests are authorized by it.
// All of them must outlive the handler.
std::unique_ptr<net::request_handler> make_request_handler(const broker_config& config, metadata_quorum& quorum,
                                                           replication::partition_manager* partitions,
                                                           metrics::registry& metrics,
                                                           const security::authorizer* authorizer = nullptr);

}  // namespace strata::server
