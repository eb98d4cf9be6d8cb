#include "group_metrics.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

namespace strata::server {

namespace {

// A scrape must not hang on a busy coordinator: it shows nothing instead.
constexpr std::chrono::milliseconds snapshot_timeout{200};

// One snapshot serves the three group collectors of a scrape (they run one
// after the other, microseconds apart): asked again when 10 ms old, so that
// the next scrape sees fresh state.
class snapshot_cache {
public:
    explicit snapshot_cache(const group::group_coordinator& coordinator) : _coordinator(coordinator) {}
    std::shared_ptr<const group::group_coordinator::metrics_snapshot> get() {
        std::lock_guard lock(_mutex);
        const auto now = std::chrono::steady_clock::now();
        if (now - _at > std::chrono::milliseconds(10)) {
            auto snap = _coordinator.snapshot_for_metrics(snapshot_timeout);
            _last = snap ? std::make_shared<const group::group_coordinator::metrics_snapshot>(std::move(*snap))
                         : nullptr;
            _at = now;
        }
        return _last;
    }

private:
    const group::group_coordinator& _coordinator;
    std::mutex _mutex;
    std::chrono::steady_clock::time_point _at{};
    std::shared_ptr<const group::group_coordinator::metrics_snapshot> _last;
};

}  // namespace

group_metrics::group_metrics(metrics::registry& registry, const group::group_coordinator& coordinator,
                             replication::partition_manager& partitions)
    : _registry(registry) {
    using metrics::metric_type;
    using metrics::sample;
    auto c = std::make_shared<snapshot_cache>(coordinator);
    auto* pm = &partitions;
    auto add = [&](const char* name, const char* help, metric_type type, std::function<std::vector<sample>()> f) {
        _registry.add_collector(name, help, type, std::move(f));
        _names.emplace_back(name);
    };
    add("strata_consumer_groups",
        "Consumer groups coordinated by this broker, by state and protocol (Kafka: GroupMetadataManager NumGroups, "
        "NumGroupsStable, NumGroupsEmpty...).",
        metric_type::gauge, [c] {
            std::vector<sample> out;
            auto snap = c->get();
            if (!snap) return out;
            std::map<std::pair<std::string, std::string>, double> counts;
            for (const auto& g : snap->groups) counts[{g.state, g.type}] += 1;
            for (const auto& [key, n] : counts) out.push_back({{{"state", key.first}, {"type", key.second}}, n});
            return out;
        });
    add("strata_consumer_group_committed_offset",
        "Committed offset of each group and partition, for groups coordinated by this broker.", metric_type::gauge,
        [c, pm] {
            std::vector<sample> out;
            auto snap = c->get();
            if (!snap) return out;
            out.reserve(snap->offsets.size());
            // The offsets of a deleted topic stay in its groups (until
            // OffsetDelete or the group's expiry) but are not shown: the
            // topic's series leave /metrics with it.
            const auto image = pm->image();
            for (const auto& o : snap->offsets)
                if (!image || image->topic(o.topic))
                    out.push_back({{{"group", o.group}, {"topic", o.topic}, {"partition", std::to_string(o.partition)}},
                                   double(o.offset)});
            return out;
        });
    add("strata_consumer_group_lag",
        "Records between a group's committed offset and the partition's high watermark, for groups coordinated "
        "here and partitions led here (others: join strata_partition_high_watermark, see docs/metrics.md).",
        metric_type::gauge, [c, pm] {
            std::vector<sample> out;
            auto snap = c->get();
            if (!snap) return out;
            for (const auto& o : snap->offsets) {
                auto found = pm->find(o.topic, o.partition);
                if (!found.leader || o.offset < 0) continue;
                const int64_t hw = found.leader->high_watermark().value();
                out.push_back({{{"group", o.group}, {"topic", o.topic}, {"partition", std::to_string(o.partition)}},
                               double(std::max<int64_t>(0, hw - o.offset))});
            }
            return out;
        });
    add("strata_partition_high_watermark",
        "High watermark of each partition this broker leads (Kafka: Log LogEndOffset, per partition).",
        metric_type::gauge, [pm] {
            std::vector<sample> out;
            for (const auto& p : pm->leaders())
                out.push_back({{{"topic", p->id().topic}, {"partition", std::to_string(p->id().partition.value())}},
                               double(p->high_watermark().value())});
            return out;
        });
}

group_metrics::~group_metrics() {
    for (const auto& name : _names) _registry.remove_collector(name);
}

}  // namespace strata::server
