// Partition moves for `strata partition reassign`, `strata broker
// decommission` and `strata cluster rebalance`: plans in Kafka's
// kafka-reassign-partitions.sh JSON, AlterPartitionReassignments /
// ListPartitionReassignments calls, and waiting with visible progress.
// Every move's state lives in the metadata log (the partitions' adding and
// removing replicas), so a command interrupted, or a controller failover
// under it, is resumed by running the command again.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client.h"

namespace strata::cli {

struct partition_move {
    std::string topic;
    int32_t partition = 0;
    std::vector<int32_t> replicas;  // the target
};

struct partition_placement {
    std::string topic;
    int32_t partition = 0;
    int32_t leader = -1;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    std::vector<int32_t> adding;    // while reassigning
    std::vector<int32_t> removing;  // while reassigning
};

struct cluster_layout {
    std::map<int32_t, std::optional<std::string>> brokers;  // live (unfenced) brokers and their racks
    std::vector<partition_placement> partitions;             // internal topics included
};

// The cluster as Metadata and ListPartitionReassignments show it.
cluster_layout read_layout(kafka_client& client);

// Kafka's plan format: {"version":1,"partitions":[{"topic","partition","replicas"}]}.
nlohmann::ordered_json plan_json(const std::vector<partition_move>& moves);
std::vector<partition_move> parse_plan(const nlohmann::json& doc);

// Sends the moves (replicas nullopt: cancel); returns the error code of each
// move, in order. Throws on a top-level error.
std::vector<int16_t> send_reassignments(kafka_client& client, const std::vector<partition_move>& moves, bool cancel);

// kafka-reassign-partitions.sh --throttle: caps the bytes per second the
// moves' catch-up replication may use. Sets leader.replication.throttled.rate
// and follower.replication.throttled.rate to `bytes_per_second` on every
// broker that holds or gets a replica of a moved partition, and on each
// moved partition's topic leader.replication.throttled.replicas (its current
// replicas, which lead the catch-up) and follower.replication.throttled.
// replicas (the replicas being added), merged with what the topic lists
// already. Returns the brokers it set the rates on.
std::set<int32_t> set_reassignment_throttle(kafka_client& client, const cluster_layout& layout,
                                            const std::vector<partition_move>& moves, int64_t bytes_per_second);

// kafka-reassign-partitions.sh --verify's clean-up once the moves are done:
// deletes the two rates on every live broker and the two replica lists on
// the moves' topics.
void clear_reassignment_throttle(kafka_client& client, const std::vector<partition_move>& moves);

// Waits until none of `moves`' partitions is reassigning any more, printing
// progress to stderr at most every `progress_ms`; throws after
// `timeout_ms` (0: no limit).
void wait_for_moves(kafka_client& client, const std::vector<partition_move>& moves, int64_t timeout_ms,
                    int64_t progress_ms = 1000);

}  // namespace strata::cli
