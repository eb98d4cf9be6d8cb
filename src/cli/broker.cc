// strata broker decommission N: moves every replica off broker N
// (AlterPartitionReassignments, progress on stderr), waits for the broker to
// be stopped, then unregisters it (UnregisterBroker, KIP-631). The moves
// live in the metadata log, so running the command again after an
// interruption or a controller failover resumes where it was.
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "rebalance_plan.h"
#include "reassign_ops.h"
#include "strata/protocol/messages/unregister_broker_request.h"
#include "strata/protocol/messages/unregister_broker_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct decommission_args {
    int32_t broker = -1;
    bool dry_run = false;
    bool no_unregister = false;
    int64_t timeout_ms = 0;
};

bool hosts_anything(const cluster_layout& layout, int32_t broker) {
    for (const auto& p : layout.partitions)
        if (std::find(p.replicas.begin(), p.replicas.end(), broker) != p.replicas.end()) return true;
    return false;
}

void unregister(kafka_client& client, int32_t broker, int64_t timeout_ms) {
    // A live broker would register again at its next heartbeat (as Kafka's
    // does): wait until it is stopped (no longer among the live brokers).
    const auto start = std::chrono::steady_clock::now();
    bool told = false;
    while (read_layout(client).brokers.contains(broker)) {
        if (!told) note(fmt::format("broker {} holds no replicas; stop it now (waiting for it to go)", broker));
        told = true;
        const auto waited = std::chrono::steady_clock::now() - start;
        if (timeout_ms > 0 && waited > std::chrono::milliseconds(timeout_ms))
            throw cli_error(fmt::format("broker {} is still running", broker),
                            "stop it, then run this command again to unregister it");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    pm::unregister_broker_request request;
    request.broker_id = broker;
    auto response = client.call_retrying<pm::unregister_broker_response>(kafka_client::bootstrap_node, request);
    if (response.error_code == kafka_error_code(kafka_error::broker_id_not_registered)) {
        note(fmt::format("broker {} was not registered (already unregistered)", broker));
        return;
    }
    if (response.error_code != 0)
        throw_kafka_error(response.error_code, fmt::format("unregistering broker {}", broker), response.error_message);
    note(fmt::format("broker {} unregistered", broker));
}

void decommission(const global_options& g, const decommission_args& a) {
    kafka_client client(g);
    auto layout = read_layout(client);
    auto moves = plan_decommission(layout, a.broker);
    // Moves a previous run (or another operator) started off this broker.
    std::vector<partition_move> under_way;
    for (const auto& p : layout.partitions)
        if (std::find(p.removing.begin(), p.removing.end(), a.broker) != p.removing.end())
            under_way.push_back({p.topic, p.partition, {}});
    table t{{"TOPIC", "PARTITION", "FROM", "TO"}, {}};
    std::map<std::pair<std::string, int32_t>, std::vector<int32_t>> now;
    for (const auto& p : layout.partitions) now[{p.topic, p.partition}] = p.replicas;
    for (const auto& m : moves) t.rows.push_back({m.topic, std::to_string(m.partition), join_ints(now[{m.topic, m.partition}]), join_ints(m.replicas)});
    json doc{{"broker", a.broker}, {"plan", plan_json(moves)}, {"already_moving", under_way.size()}};
    print_result(g, doc, t);
    if (a.dry_run) return;
    for (const auto& p : layout.partitions)
        if (std::find(p.replicas.begin(), p.replicas.end(), a.broker) != p.replicas.end() && p.removing.empty() &&
            std::none_of(moves.begin(), moves.end(), [&](const auto& m) { return m.topic == p.topic && m.partition == p.partition; }))
            throw cli_error(fmt::format("{}-{} has no broker to move to", p.topic, p.partition),
                            "add a broker first (replication factor larger than the brokers left)");
    if (!moves.empty()) {
        const auto errors = send_reassignments(client, moves, false);
        for (size_t i = 0; i < moves.size(); ++i)
            if (errors[i] != 0)
                throw_kafka_error(errors[i], fmt::format("moving {}-{}", moves[i].topic, moves[i].partition));
    }
    auto all = moves;
    all.insert(all.end(), under_way.begin(), under_way.end());
    note(fmt::format("moving {} partitions off broker {} ({} already under way)", all.size(), a.broker, under_way.size()));
    if (!all.empty()) wait_for_moves(client, all, a.timeout_ms);
    if (hosts_anything(read_layout(client), a.broker))
        throw cli_error(fmt::format("broker {} still holds replicas", a.broker), "run the command again");
    if (!a.no_unregister) unregister(client, a.broker, a.timeout_ms);
}

}  // namespace

void add_broker_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* broker = app.add_subcommand("broker", "Broker membership");
    broker->require_subcommand(1);
    auto args = std::make_shared<decommission_args>();
    auto* d = broker->add_subcommand(
        "decommission", "Move every replica off a broker, then unregister it once stopped (resumable)");
    d->add_option("broker", args->broker, "The broker id")->required();
    d->add_flag("--dry-run", args->dry_run, "Only print the moves");
    d->add_flag("--no-unregister", args->no_unregister, "Move the replicas, but leave the registration");
    d->add_option("--timeout-ms", args->timeout_ms, "Give up waiting after this long (0: never)");
    d->footer("Examples:\n  strata broker decommission 3 --dry-run\n  strata broker decommission 3");
    d->callback([global, args] { decommission(*global, *args); });
}

}  // namespace strata::cli
