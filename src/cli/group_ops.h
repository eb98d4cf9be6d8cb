// Consumer-group requests shared by `group` and `consume --group`: committed
// offsets (OffsetFetch) and commits (OffsetCommit), sent to the group's
// coordinator.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "client.h"

namespace strata::cli {

// Committed offsets of `group`: topic -> partition -> offset (-1: none).
// `topic` empty: every topic the group has offsets for.
std::map<std::string, std::map<int32_t, int64_t>> fetch_group_offsets(kafka_client& client, const std::string& group,
                                                                      const std::string& topic = {},
                                                                      const std::vector<int32_t>& partitions = {});
std::map<int32_t, int64_t> fetch_committed_offsets(kafka_client& client, const std::string& group,
                                                   const std::string& topic, const std::vector<int32_t>& partitions);
// Commits as an admin (generation -1, no member): Kafka accepts this only
// while the group has no active members.
void commit_offsets(kafka_client& client, const std::string& group, const std::string& topic,
                    const std::map<int32_t, int64_t>& offsets, int32_t generation = -1, const std::string& member = {});

}  // namespace strata::cli
