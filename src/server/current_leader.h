// KIP-951 (Kafka 3.7): a Produce (v10+) or Fetch (v16+) that reaches a broker
// which no longer leads the partition is answered with the partition's
// current leader and leader epoch, and the leaders' endpoints, so that the
// client moves to the new leader at once instead of waiting for a metadata
// refresh (librdkafka 2.4+, the Java client 3.7+).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "strata/metadata/image.h"
#include "strata/replication/partition.h"

namespace strata::server {

// The current leader of one partition as a response names it: -1/-1 (the
// tagged field's default, so not sent) when the image does not know the
// partition.
struct current_leader {
    int32_t leader_id = -1;
    int32_t leader_epoch = -1;
};

// The leader and leader epoch of `topic`'s `partition`, as Kafka's
// KafkaApis.getCurrentLeader finds them: the local replica's view when this
// broker hosts one (`hosted`, null if not), else the metadata image's. The
// replica learns a new leader on its strand, which can run before the
// partition manager publishes the image that named it (an acks=all produce
// failed by the leadership change is answered in between): the replica's
// view wins only when its leader epoch is newer, so the answer never names
// this broker's stale leadership, nor -1 for a stopped replica.
current_leader current_leader_of(const metadata::metadata_image* image, const metadata::topic_image* topic,
                                 int32_t partition, const replication::partition* hosted);

// The response's NodeEndpoints: each leader named, at its endpoint on the
// listener the request came in on, if it is registered and not fenced
// (Kafka's metadataCache.getAliveBrokerNode(leaderId, listenerName)). By node
// id, so that each is sent once.
struct leader_endpoint {
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;
};
class leader_endpoints {
public:
    void add(const metadata::metadata_image* image, int32_t leader_id, std::string_view listener);
    const std::map<int32_t, leader_endpoint>& nodes() const { return _nodes; }

    // Fills a generated response's node_endpoints (Produce's or Fetch's).
    template <typename Endpoints>
    void fill(Endpoints& out) const {
        for (const auto& [id, node] : _nodes) {
            auto& e = out.emplace_back();
            e.node_id = id;
            e.host = node.host;
            e.port = node.port;
            e.rack = node.rack;
        }
    }

private:
    std::map<int32_t, leader_endpoint> _nodes;
};

}  // namespace strata::server
