// strata cluster rebalance [--dry-run]: plans moves that even out replicas
// and preferred leaders per broker (rack-aware, rebalance_plan.h), runs them
// and then elects the preferred leaders.
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "rebalance_plan.h"
#include "reassign_ops.h"
#include "strata/protocol/messages/elect_leaders_request.h"
#include "strata/protocol/messages/elect_leaders_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct rebalance_args {
    bool dry_run = false;
    int64_t timeout_ms = 0;
};

std::map<int32_t, std::pair<int, int>> per_broker(const cluster_layout& layout,
                                                  const std::vector<partition_move>& moves) {
    std::map<std::pair<std::string, int32_t>, std::vector<int32_t>> replicas;
    for (const auto& p : layout.partitions) replicas[{p.topic, p.partition}] = p.replicas;
    for (const auto& m : moves) replicas[{m.topic, m.partition}] = m.replicas;
    std::map<int32_t, std::pair<int, int>> out;  // replicas, preferred leaderships
    for (const auto& [id, rack] : layout.brokers) out[id] = {0, 0};
    for (const auto& [tp, r] : replicas) {
        for (int32_t id : r) ++out[id].first;
        if (!r.empty()) ++out[r.front()].second;
    }
    return out;
}

void rebalance(const global_options& g, const rebalance_args& a) {
    kafka_client client(g);
    auto layout = read_layout(client);
    auto moves = plan_rebalance(layout);
    const auto before = per_broker(layout, {});
    const auto after = per_broker(layout, moves);
    table t{{"BROKER", "RACK", "REPLICAS", "PLANNED", "PREFERRED", "PLANNED"}, {}};
    json brokers = json::array();
    for (const auto& [id, counts] : after) {
        const auto b = before.contains(id) ? before.at(id) : std::pair<int, int>{0, 0};
        const auto rack = layout.brokers.contains(id) ? layout.brokers.at(id) : std::nullopt;
        t.rows.push_back({std::to_string(id), rack.value_or("-"), std::to_string(b.first), std::to_string(counts.first),
                          std::to_string(b.second), std::to_string(counts.second)});
        brokers.push_back({{"broker", id},
                           {"rack", rack ? json(*rack) : json(nullptr)},
                           {"replicas", b.first},
                           {"planned_replicas", counts.first},
                           {"preferred_leaders", b.second},
                           {"planned_preferred_leaders", counts.second}});
    }
    json doc{{"brokers", brokers}, {"plan", plan_json(moves)}};
    print_result(g, doc, t);
    note(fmt::format("{} partition moves planned{}", moves.size(), a.dry_run ? " (dry run: nothing done)" : ""));
    if (a.dry_run) return;
    if (!moves.empty()) {
        const auto errors = send_reassignments(client, moves, false);
        for (size_t i = 0; i < moves.size(); ++i)
            if (errors[i] != 0)
                throw_kafka_error(errors[i], fmt::format("moving {}-{}", moves[i].topic, moves[i].partition));
    }
    // Moves under way before (an interrupted run, a controller failover)
    // are waited for too: running the command again resumes it.
    auto all = moves;
    for (const auto& p : layout.partitions)
        if (!p.adding.empty() || !p.removing.empty()) all.push_back({p.topic, p.partition, {}});
    if (!all.empty()) wait_for_moves(client, all, a.timeout_ms);
    // Leadership follows the new preferred replicas.
    pm::elect_leaders_request request;
    request.election_type = 0;
    request.timeout_ms = g.timeout_ms;
    request.topic_partitions.reset();
    auto response = client.call_retrying<pm::elect_leaders_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "electing preferred leaders");
    int elected = 0;
    for (const auto& topic : response.replica_election_results)
        for (const auto& p : topic.partition_result) elected += p.error_code == 0;
    note(fmt::format("{} preferred leaders elected", elected));
}

}  // namespace

void add_rebalance_command(CLI::App& cluster, const std::shared_ptr<global_options>& global) {
    auto args = std::make_shared<rebalance_args>();
    auto* r = cluster.add_subcommand(
        "rebalance", "Even out replicas and leaders per broker (rack-aware), then elect the preferred leaders");
    r->add_flag("--dry-run", args->dry_run, "Only print the plan");
    r->add_option("--timeout-ms", args->timeout_ms, "Give up waiting for the moves after this long (0: never)");
    r->footer("Examples:\n  strata cluster rebalance --dry-run\n  strata cluster rebalance");
    r->callback([global, args] { rebalance(*global, *args); });
}

}  // namespace strata::cli
