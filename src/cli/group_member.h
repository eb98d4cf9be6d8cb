// A member of a classic consumer group (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup, protocol type "consumer"), for `consume --group`. When chosen
// as leader it assigns partitions with Kafka's range assignor, so it can
// share a group with Java, librdkafka or kafka-python consumers that offer
// "range".
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "client.h"

namespace strata::cli {

// Kafka's RangeAssignor: per topic, members sorted by id; each gets
// partitions/members consecutive partitions, the first partitions%members
// one more. `subscriptions`: member id -> topics; `partition_counts`: topic
// -> partitions. Returns member id -> topic -> partitions.
std::map<std::string, std::map<std::string, std::vector<int32_t>>> range_assign(
    const std::map<std::string, std::vector<std::string>>& subscriptions,
    const std::map<std::string, int32_t>& partition_counts);

class group_member {
public:
    group_member(kafka_client& client, std::string group, std::vector<std::string> topics);

    // Joins (or rejoins) the group and returns this member's partitions:
    // topic -> partitions.
    std::map<std::string, std::vector<int32_t>> join();
    // Heartbeats when one is due; false when the group rebalances and this
    // member must commit and join() again.
    bool heartbeat_if_due();
    // Commits as this member of the current generation.
    void commit(const std::string& topic, const std::map<int32_t, int64_t>& offsets);
    // Leaves the group (best effort).
    void leave();

    int32_t generation() const { return _generation; }
    const std::string& member_id() const { return _member_id; }

    static constexpr std::chrono::milliseconds session_timeout{10000};
    static constexpr std::chrono::milliseconds rebalance_timeout{15000};
    static constexpr std::chrono::milliseconds heartbeat_interval{3000};

private:
    kafka_client& _client;
    std::string _group;
    std::vector<std::string> _topics;
    std::string _member_id;
    int32_t _generation = -1;
    std::chrono::steady_clock::time_point _last_heartbeat;
};

}  // namespace strata::cli
