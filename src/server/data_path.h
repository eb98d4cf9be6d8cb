// The broker's data path: Produce, Fetch, ListOffsets and OffsetForLeaderEpoch
// over the partitions this broker leads (replication::partition_manager).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "fetch_router.h"
#include "request_dispatcher.h"
#include "strata/replication/partition_manager.h"
#include "strata/replication/replica_selector.h"

namespace strata::server {

// KIP-890 part 1: asks the transaction coordinator whether
// (transactional id, producer id, epoch) has topic-partition in its open
// transaction; `done` (any thread) gets NONE or the coordinator's error.
using produce_txn_verifier = std::function<void(std::string transactional_id, int64_t producer_id, int16_t epoch,
                                                std::string topic, int32_t partition,
                                                std::function<void(kafka_error)> done)>;

// Registers Produce v0-11 (v0-2 through the legacy conversion), ListOffsets
// v1-9 and OffsetForLeaderEpoch v0-4 with the dispatcher, and the partitions'
// Fetch (v4-17) with the router, which the caller registers. `partitions`
// must outlive the dispatcher.
// Without a verifier, transactional batches are appended unverified.
// `selector` is replica.selector.class (KIP-392): whether the leaders send
// consumers to a replica in their rack.
void register_data_path(request_dispatcher& dispatcher, fetch_router& router,
                        replication::partition_manager& partitions, produce_txn_verifier verifier = {},
                        replication::replica_selector selector = replication::replica_selector::none);

class topic_metrics;
// Produce and Fetch count their bytes and records per topic into `traffic`
// (null: a topic_metrics over the dispatcher's registry).
void register_produce(request_dispatcher& dispatcher, replication::partition_manager& partitions,
                      std::shared_ptr<topic_metrics> traffic = nullptr, produce_txn_verifier verifier = {});
void register_partition_fetch(fetch_router& router, replication::partition_manager& partitions,
                              std::shared_ptr<topic_metrics> traffic,
                              replication::replica_selector selector = replication::replica_selector::none);
void register_list_offsets(request_dispatcher& dispatcher, replication::partition_manager& partitions);
void register_offset_for_leader_epoch(request_dispatcher& dispatcher, replication::partition_manager& partitions);

// DeleteRecords v0-2 and DescribeLogDirs v0-4 (log_admin.cc) over the
// partitions' logs in `log_dir`.
void register_log_admin(request_dispatcher& dispatcher, replication::partition_manager& partitions,
                        std::string log_dir);

}  // namespace strata::server
