// Consumer-group requests shared by `group` and `consume --group`: committed
// offsets (OffsetFetch) and commits (OffsetCommit), sent to the group's
// coordinator.
#pragma once

#include <functional>
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

// Runs `attempt` (requests to the coordinator of `group`) again while it fails
// with COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE or
// NOT_COORDINATOR (the coordinator is still loading the group's state, as
// on a broker that just started, or it moved), as Kafka's admin client does,
// for up to --timeout. The last error is reported if it never succeeds.
void retry_while_coordinator_busy(kafka_client& client, const std::string& group,
                                  const std::function<void()>& attempt);

}  // namespace strata::cli
