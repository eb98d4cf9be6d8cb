#include "rebalance_plan.h"

#include <algorithm>
#include <map>
#include <set>

namespace strata::cli {

namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

// The replicas a partition ends with: the target of a move under way.
std::vector<int32_t> target_of(const partition_placement& p) {
    std::vector<int32_t> out;
    for (int32_t id : p.replicas)
        if (!contains(p.removing, id)) out.push_back(id);
    return out;
}

size_t racks_of(const cluster_layout& layout, const std::vector<int32_t>& replicas) {
    std::set<std::string> racks;
    size_t no_rack = 0;
    for (int32_t id : replicas) {
        auto it = layout.brokers.find(id);
        if (it != layout.brokers.end() && it->second)
            racks.insert(*it->second);
        else
            ++no_rack;  // a broker without a rack counts as a rack of its own
    }
    return racks.size() + no_rack;
}

std::map<int32_t, int> replica_counts(const cluster_layout& layout,
                                      const std::map<std::pair<std::string, int32_t>, std::vector<int32_t>>& targets) {
    std::map<int32_t, int> counts;
    for (const auto& [id, rack] : layout.brokers) counts[id] = 0;
    for (const auto& [tp, replicas] : targets)
        for (int32_t id : replicas)
            if (counts.contains(id)) ++counts[id];
    return counts;
}

std::vector<partition_move> changed(const cluster_layout& layout,
                                    const std::map<std::pair<std::string, int32_t>, std::vector<int32_t>>& targets) {
    std::vector<partition_move> out;
    for (const auto& p : layout.partitions) {
        auto it = targets.find({p.topic, p.partition});
        if (it != targets.end() && it->second != target_of(p)) out.push_back({p.topic, p.partition, it->second});
    }
    return out;
}

// Broker ids by count, the largest first (`descending`) or the smallest
// first; ties by id, so that plans are deterministic.
std::vector<int32_t> by_count(const std::map<int32_t, int>& counts, bool descending) {
    std::vector<int32_t> ids;
    for (const auto& [id, count] : counts) ids.push_back(id);
    std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
        return descending ? counts.at(a) > counts.at(b) : counts.at(a) < counts.at(b);
    });
    return ids;
}

}  // namespace

std::vector<partition_move> plan_decommission(const cluster_layout& layout, int32_t broker) {
    std::map<std::pair<std::string, int32_t>, std::vector<int32_t>> targets;
    for (const auto& p : layout.partitions) targets[{p.topic, p.partition}] = target_of(p);
    auto counts = replica_counts(layout, targets);
    counts.erase(broker);
    for (const auto& p : layout.partitions) {
        auto& target = targets[{p.topic, p.partition}];
        auto at = std::find(target.begin(), target.end(), broker);
        if (at == target.end()) continue;
        int32_t best = -1;
        std::pair<size_t, int> best_score{0, 0};
        for (const auto& [id, count] : counts) {
            if (contains(target, id)) continue;
            auto candidate = target;
            candidate[size_t(at - target.begin())] = id;
            // More racks first, then fewer replicas.
            const std::pair<size_t, int> score{racks_of(layout, candidate), -count};
            if (best < 0 || score > best_score) {
                best = id;
                best_score = score;
            }
        }
        if (best < 0) continue;  // no broker left to take it: the move cannot be planned
        *at = best;
        ++counts[best];
    }
    return changed(layout, targets);
}

std::vector<partition_move> plan_rebalance(const cluster_layout& layout) {
    std::map<std::pair<std::string, int32_t>, std::vector<int32_t>> targets;
    for (const auto& p : layout.partitions)
        if (p.adding.empty() && p.removing.empty()) targets[{p.topic, p.partition}] = p.replicas;
    if (layout.brokers.size() < 2) return {};
    // Replicas: move one from a fuller broker to an emptier one (the
    // fullest and emptiest pair that has a partition to move without
    // losing a rack) until every broker is within one of every other.
    auto counts = replica_counts(layout, targets);
    auto move_replica = [&] {
        for (const auto& from : by_count(counts, true))
            for (const auto& to : by_count(counts, false)) {
                if (counts[from] - counts[to] <= 1) break;
                for (auto& [tp, target] : targets) {
                    auto at = std::find(target.begin(), target.end(), from);
                    if (at == target.end() || contains(target, to)) continue;
                    auto candidate = target;
                    candidate[size_t(at - target.begin())] = to;
                    if (racks_of(layout, candidate) < racks_of(layout, target)) continue;
                    target = candidate;
                    --counts[from];
                    ++counts[to];
                    return true;
                }
            }
        return false;
    };
    while (move_replica()) {
    }
    // Preferred leaders: bring a replica of a broker that heads few
    // partitions to the front of one that a broker heading many heads.
    std::map<int32_t, int> preferred;
    for (const auto& [id, rack] : layout.brokers) preferred[id] = 0;
    for (const auto& [tp, target] : targets)
        if (!target.empty() && preferred.contains(target.front())) ++preferred[target.front()];
    auto move_leader = [&] {
        for (const auto& from : by_count(preferred, true))
            for (const auto& to : by_count(preferred, false)) {
                if (preferred[from] - preferred[to] <= 1) break;
                for (auto& [tp, target] : targets) {
                    if (target.empty() || target.front() != from) continue;
                    auto at = std::find(target.begin(), target.end(), to);
                    if (at == target.end()) continue;
                    std::iter_swap(target.begin(), at);
                    --preferred[from];
                    ++preferred[to];
                    return true;
                }
            }
        return false;
    };
    while (move_leader()) {
    }
    return changed(layout, targets);
}

}  // namespace strata::cli
