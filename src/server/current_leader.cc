#include "current_leader.h"

namespace strata::server {

current_leader current_leader_of(const metadata::metadata_image* image, const metadata::topic_image* topic,
                                 int32_t partition, const replication::partition* hosted) {
    current_leader from_image;
    if (image && topic && partition >= 0 && size_t(partition) < topic->partitions.size()) {
        const auto& p = topic->partitions[size_t(partition)];
        from_image = {p.leader, p.leader_epoch};
    }
    if (!hosted) return from_image;
    // Every change of leader bumps the epoch, so at the same epoch both name
    // the same leader, unless the replica was stopped (leader -1): the image.
    const current_leader local{hosted->leader_id(), hosted->epoch().value()};
    return local.leader_epoch > from_image.leader_epoch ? local : from_image;
}

void leader_endpoints::add(const metadata::metadata_image* image, int32_t leader_id, std::string_view listener) {
    if (!image || leader_id < 0 || _nodes.count(leader_id)) return;
    const auto* broker = image->broker(leader_id);
    if (!broker || broker->fenced) return;
    const auto* endpoint = broker->endpoint(listener);
    if (!endpoint) return;
    _nodes.emplace(leader_id, leader_endpoint{endpoint->host, int32_t(endpoint->port), broker->rack});
}

}  // namespace strata::server
