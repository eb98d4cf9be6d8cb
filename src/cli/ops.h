// Requests several commands share: offsets by timestamp, per-leader grouping,
// config alteration.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "client.h"

namespace strata::cli {

using topic_metadata_t = protocol::messages::metadata_response::metadata_response_topic;

// Kafka's special ListOffsets timestamps.
inline constexpr int64_t latest_timestamp = -1;
inline constexpr int64_t earliest_timestamp = -2;

struct listed_offset {
    int64_t offset = -1;
    int64_t timestamp = -1;
};

// ListOffsets for each (partition -> timestamp) of `topic`, sent to each
// partition's leader. Throws on a partition error.
std::map<int32_t, listed_offset> list_offsets(kafka_client& client, const topic_metadata_t& topic,
                                              const std::map<int32_t, int64_t>& timestamps);
// The same timestamp for every listed partition.
std::map<int32_t, listed_offset> list_offsets(kafka_client& client, const topic_metadata_t& topic,
                                              const std::vector<int32_t>& partitions, int64_t timestamp);

std::vector<int32_t> partition_ids(const topic_metadata_t& topic);
int32_t leader_of(const topic_metadata_t& topic, int32_t partition);

// Kafka's ConfigResource types.
inline constexpr int8_t resource_topic = 2;
inline constexpr int8_t resource_broker = 4;

// IncrementalAlterConfigs: set and delete keys of one resource.
void alter_configs(kafka_client& client, int8_t resource_type, const std::string& resource_name,
                   const std::vector<std::pair<std::string, std::string>>& set, const std::vector<std::string>& remove);

}  // namespace strata::cli
