// strata partition reassign | list-reassignments (Kafka's
// kafka-reassign-partitions.sh --execute / --cancel / --list).
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "common.h"
#include "reassign_ops.h"

namespace strata::cli {

using json = nlohmann::ordered_json;

namespace {

struct reassign_args {
    std::string plan_file;
    std::string topic;
    int32_t partition = -1;
    std::vector<int32_t> replicas;
    bool cancel = false;
    bool verify = false;
    bool wait = false;
    int64_t throttle = -1;  // bytes/s; -1: none
    int64_t wait_timeout_ms = 0;
};

std::vector<partition_move> moves_of(const reassign_args& a) {
    if (!a.plan_file.empty()) {
        if (!a.topic.empty()) throw_usage("give either --reassignment-json-file or --topic, not both");
        std::ifstream in(a.plan_file);
        if (!in) throw_usage(fmt::format("cannot read {}", a.plan_file));
        nlohmann::json doc;
        try {
            in >> doc;
        } catch (const nlohmann::json::exception& e) {
            throw_usage(fmt::format("{} is not JSON: {}", a.plan_file, e.what()));
        }
        auto moves = parse_plan(doc);
        if (!a.cancel)
            for (const auto& m : moves)
                if (m.replicas.empty()) throw_usage(fmt::format("{}-{} has no \"replicas\"", m.topic, m.partition));
        return moves;
    }
    if (a.topic.empty() || a.partition < 0)
        throw_usage("name the partitions: --reassignment-json-file FILE, or --topic T --partition P --replicas 2,3,4");
    if (!a.cancel && a.replicas.empty()) throw_usage("--replicas lists the target brokers (or use --cancel)");
    return {{a.topic, a.partition, a.replicas}};
}

// kafka-reassign-partitions.sh --verify: whether each move is done; once all
// are, the throttles the moves were started with are removed.
void verify(const global_options& g, const reassign_args& a) {
    const auto moves = moves_of(a);
    kafka_client client(g);
    std::map<std::pair<std::string, int32_t>, partition_placement> placed;
    for (const auto& p : read_layout(client).partitions) placed[{p.topic, p.partition}] = p;
    json doc{{"partitions", json::array()}, {"throttle_removed", false}};
    table t{{"TOPIC", "PARTITION", "REPLICAS", "TARGET", "STATE"}, {}};
    bool all_done = true;
    for (const auto& m : moves) {
        auto it = placed.find({m.topic, m.partition});
        std::string state;
        if (it == placed.end()) {
            state = "no such partition";
        } else if (!it->second.adding.empty() || !it->second.removing.empty()) {
            state = "in progress";
        } else if (!m.replicas.empty() && it->second.replicas != m.replicas) {
            state = "not as planned";  // cancelled, or moved elsewhere since
        } else {
            state = "complete";
        }
        all_done = all_done && state != "in progress";
        const std::string now = it == placed.end() ? "-" : join_ints(it->second.replicas);
        doc["partitions"].push_back({{"topic", m.topic}, {"partition", m.partition}, {"state", state}});
        t.rows.push_back({m.topic, std::to_string(m.partition), now, join_ints(m.replicas), state});
    }
    if (all_done) {
        clear_reassignment_throttle(client, moves);
        doc["throttle_removed"] = true;
    }
    print_result(g, doc, t);
    if (all_done)
        note("throttles removed (leader/follower.replication.throttled.rate on every broker, "
             "*.replication.throttled.replicas on the moved topics)");
    else
        note("moves still in progress: the throttles stay until they are done; run --verify again");
}

void reassign(const global_options& g, const reassign_args& a) {
    if (a.verify) return verify(g, a);
    if (a.throttle >= 0 && a.cancel) throw_usage("--throttle is for starting moves, not for --cancel");
    if (a.throttle == 0) throw_usage("--throttle is in bytes per second and must be positive");
    auto moves = moves_of(a);
    kafka_client client(g);
    // The current assignment first: Kafka prints it for a rollback plan.
    std::vector<partition_move> current;
    std::map<std::pair<std::string, int32_t>, std::vector<int32_t>> replicas_now;
    const auto layout = read_layout(client);
    for (const auto& p : layout.partitions) replicas_now[{p.topic, p.partition}] = p.replicas;
    // The throttle is in place before the first byte moves.
    if (a.throttle > 0) {
        const auto brokers = set_reassignment_throttle(client, layout, moves, a.throttle);
        note(fmt::format("throttle: {} bytes/s on brokers {}; it is removed when the moves are done ({})", a.throttle,
                         join_ints(std::vector<int32_t>(brokers.begin(), brokers.end())),
                         a.wait ? "here" : "by strata partition reassign --verify"));
    }
    for (const auto& m : moves) {
        auto it = replicas_now.find({m.topic, m.partition});
        if (it != replicas_now.end()) current.push_back({m.topic, m.partition, it->second});
    }
    const auto errors = send_reassignments(client, moves, a.cancel);
    json doc{{"current", plan_json(current)}, {"partitions", json::array()}};
    table t{{"TOPIC", "PARTITION", "REPLICAS", a.cancel ? "ACTION" : "TARGET", "RESULT"}, {}};
    bool failed = false;
    for (size_t i = 0; i < moves.size(); ++i) {
        const auto& m = moves[i];
        auto it = replicas_now.find({m.topic, m.partition});
        const std::string now = it == replicas_now.end() ? "-" : join_ints(it->second);
        const std::string result = errors[i] == 0 ? (a.cancel ? "cancelled" : "started") : error_name(errors[i]);
        failed = failed || errors[i] != 0;
        doc["partitions"].push_back({{"topic", m.topic},
                                     {"partition", m.partition},
                                     {"replicas", a.cancel ? json(nullptr) : json(m.replicas)},
                                     {"error", errors[i] == 0 ? json(nullptr) : json(result)}});
        t.rows.push_back({m.topic, std::to_string(m.partition), now, a.cancel ? "cancel" : join_ints(m.replicas), result});
    }
    print_result(g, doc, t);
    if (failed) throw cli_error("some partitions were not reassigned", "see the results above");
    if (a.wait && !a.cancel) {
        wait_for_moves(client, moves, a.wait_timeout_ms);
        if (a.throttle > 0) {
            clear_reassignment_throttle(client, moves);
            note("throttle removed");
        }
    }
}

void list_reassignments(const global_options& g, const std::string& topic) {
    kafka_client client(g);
    json doc{{"reassignments", json::array()}};
    table t{{"TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING", "ISR"}, {}};
    for (const auto& p : read_layout(client).partitions) {
        if (p.adding.empty() && p.removing.empty()) continue;
        if (!topic.empty() && p.topic != topic) continue;
        doc["reassignments"].push_back({{"topic", p.topic},
                                        {"partition", p.partition},
                                        {"replicas", p.replicas},
                                        {"adding_replicas", p.adding},
                                        {"removing_replicas", p.removing},
                                        {"isr", p.isr}});
        t.rows.push_back({p.topic, std::to_string(p.partition), join_ints(p.replicas), join_ints(p.adding),
                          join_ints(p.removing), join_ints(p.isr)});
    }
    print_result(g, doc, t);
}

}  // namespace

void add_reassign_commands(CLI::App& partition, const std::shared_ptr<global_options>& global) {
    auto args = std::make_shared<reassign_args>();
    auto* reassign_cmd = partition.add_subcommand(
        "reassign", "Move partitions to other brokers (AlterPartitionReassignments), or cancel moves under way");
    reassign_cmd->add_option("--reassignment-json-file", args->plan_file,
                             "A plan in kafka-reassign-partitions.sh's format");
    reassign_cmd->add_option("--topic", args->topic, "The topic (instead of a plan file)");
    reassign_cmd->add_option("--partition", args->partition, "The partition (with --topic)");
    reassign_cmd->add_option("--replicas", args->replicas, "The target brokers, the preferred leader first")
        ->delimiter(',');
    reassign_cmd->add_flag("--cancel", args->cancel, "Cancel the named moves: back to the replicas before them");
    reassign_cmd->add_option("--throttle", args->throttle,
                             "Cap the moves' replication at this many bytes/s (leader/follower.replication.throttled.*)");
    reassign_cmd->add_flag("--verify", args->verify,
                           "Show whether the named moves are done; once they all are, remove their throttle");
    reassign_cmd->add_flag("--wait", args->wait, "Wait until the moves complete, showing progress");
    reassign_cmd->add_option("--wait-timeout-ms", args->wait_timeout_ms, "Give up waiting after this long (0: never)");
    reassign_cmd->footer(
        "Examples:\n  strata partition reassign --topic orders --partition 0 --replicas 2,3,4 --wait\n"
        "  strata partition reassign --reassignment-json-file plan.json --throttle 50000000\n"
        "  strata partition reassign --reassignment-json-file plan.json --verify\n"
        "  strata partition reassign --reassignment-json-file plan.json --cancel");
    reassign_cmd->callback([global, args] { reassign(*global, *args); });

    auto topic = std::make_shared<std::string>();
    auto* list = partition.add_subcommand("list-reassignments", "Show the partition moves under way");
    list->add_option("--topic", *topic, "Only this topic");
    list->footer("Example:\n  strata partition list-reassignments -o json");
    list->callback([global, topic] { list_reassignments(*global, *topic); });
}

}  // namespace strata::cli
