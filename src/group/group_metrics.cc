// The coordinator's answer to a /metrics scrape: the groups it coordinates
// and their committed offsets, copied on the coordinator thread (where the
// group state lives) for the rendering thread.
#include <future>

#include "coordinator_impl.h"

namespace strata::group {

std::optional<group_coordinator::metrics_snapshot> group_coordinator::snapshot_for_metrics(
    std::chrono::milliseconds timeout) const {
    if (_impl->closed.load(std::memory_order_acquire)) return std::nullopt;
    auto result = std::make_shared<std::promise<metrics_snapshot>>();
    auto answer = result->get_future();
    boost::asio::post(_impl->executor(), [self = _impl, result] {
        metrics_snapshot out;
        for (const auto& [id, cg] : self->consumer_groups) out.groups.push_back({id, cg->state(), "consumer"});
        for (const auto& [id, g] : self->groups) {
            auto shard = self->shards.find(self->partition_of(id));
            if (shard == self->shards.end() || !shard->second.loaded) continue;
            if (!self->consumer_groups.contains(id))
                out.groups.push_back({id, std::string(state_name(g->state())), "classic"});
            for (const auto& [tp, committed] : g->offsets())
                out.offsets.push_back({id, tp.first, tp.second, committed.offset});
        }
        result->set_value(std::move(out));
    });
    // A stopped coordinator drops the work (and the promise, unanswered).
    if (answer.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    try {
        return answer.get();
    } catch (const std::future_error&) {
        return std::nullopt;
    }
}

}  // namespace strata::group
