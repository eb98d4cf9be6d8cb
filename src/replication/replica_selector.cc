#include "strata/replication/replica_selector.h"

namespace strata::replication {

std::optional<replica_selector> parse_replica_selector(std::string_view class_name) {
    if (class_name.empty()) return replica_selector::none;
    if (class_name == "org.apache.kafka.common.replica.LeaderSelector") return replica_selector::leader;
    if (class_name == "org.apache.kafka.common.replica.RackAwareReplicaSelector") return replica_selector::rack_aware;
    return std::nullopt;
}

namespace {

// Kafka's ReplicaView.comparator, as "a is a better read replica than b".
bool better(const replica_view& a, const replica_view& b) {
    if (a.log_end_offset != b.log_end_offset) return a.log_end_offset > b.log_end_offset;
    if (a.time_since_caught_up_ms != b.time_since_caught_up_ms)
        return a.time_since_caught_up_ms < b.time_since_caught_up_ms;
    return a.id < b.id;
}

}  // namespace

int32_t select_read_replica(replica_selector selector, std::string_view client_rack, const replica_view& leader,
                            const std::vector<replica_view>& followers) {
    if (selector != replica_selector::rack_aware || client_rack.empty()) return leader.id;
    if (leader.rack && *leader.rack == client_rack) return leader.id;
    const replica_view* best = nullptr;
    for (const auto& f : followers) {
        if (!f.rack || *f.rack != client_rack) continue;
        if (!best || better(f, *best)) best = &f;
    }
    return best ? best->id : leader.id;
}

}  // namespace strata::replication
