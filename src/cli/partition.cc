// strata partition elect-leaders
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "strata/protocol/messages/elect_leaders_request.h"
#include "strata/protocol/messages/elect_leaders_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct elect_args {
    std::string type = "preferred";
    std::string topic;
    std::vector<int32_t> partitions;
    bool all = false;
};

// Exit code 1 when a named partition could not get its leader (as Kafka's
// kafka-leader-election.sh); ELECTION_NOT_NEEDED is not a failure.
void elect_leaders(const global_options& g, const elect_args& a) {
    if (a.all == !a.topic.empty()) throw_usage("name a topic (--topic, optionally --partition) or --all-topic-partitions");
    if (a.type != "preferred" && a.type != "unclean") throw_usage("--type is preferred or unclean");
    kafka_client client(g);
    pm::elect_leaders_request request;
    request.election_type = a.type == "unclean" ? 1 : 0;
    request.timeout_ms = g.timeout_ms;
    if (a.all) {
        request.topic_partitions.reset();
    } else {
        auto& tp = request.topic_partitions->emplace_back();
        tp.topic = a.topic;
        tp.partitions = a.partitions;
        if (tp.partitions.empty()) {
            auto md = client.metadata(std::vector<std::string>{a.topic});
            if (md.topics.empty() || md.topics.front().error_code != 0)
                throw_kafka_error(md.topics.empty() ? kafka_error_code(kafka_error::unknown_topic_or_partition)
                                                    : md.topics.front().error_code,
                                  fmt::format("describing topic '{}'", a.topic));
            for (const auto& p : md.topics.front().partitions) tp.partitions.push_back(p.partition_index);
        }
    }
    auto response = client.call_retrying<pm::elect_leaders_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "electing leaders");
    json doc{{"type", a.type}, {"partitions", json::array()}};
    table t{{"TOPIC", "PARTITION", "RESULT"}, {}};
    bool failed = false;
    for (const auto& topic : response.replica_election_results)
        for (const auto& p : topic.partition_result) {
            const auto error = kafka_error_from_code(p.error_code);
            const std::string result =
                p.error_code == 0 ? "elected" : std::string(error ? kafka_error_name(*error) : "UNKNOWN");
            failed = failed || (p.error_code != 0 && error != kafka_error::election_not_needed);
            doc["partitions"].push_back({{"topic", topic.topic},
                                         {"partition", p.partition_id},
                                         {"error", p.error_code == 0 ? json(nullptr) : json(result)}});
            t.rows.push_back({topic.topic, std::to_string(p.partition_id), result});
        }
    print_result(g, doc, t);
    if (failed) throw cli_error("some partitions did not get a leader", "see the results above");
}

}  // namespace

void add_partition_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* partition = app.add_subcommand("partition", "Partition leadership and placement");
    partition->require_subcommand(1);
    auto* elect = partition->add_subcommand(
        "elect-leaders", "Elect the preferred replica, or (unclean) any live replica of a leaderless partition");
    auto args = std::make_shared<elect_args>();
    elect->add_option("--type", args->type, "preferred (default) or unclean");
    elect->add_option("--topic", args->topic, "The topic");
    elect->add_option("--partition", args->partitions, "A partition of the topic (repeatable; default: all)");
    elect->add_flag("--all-topic-partitions", args->all, "Every partition of every topic");
    elect->footer(
        "Examples:\n  strata partition elect-leaders --topic orders\n"
        "  strata partition elect-leaders --all-topic-partitions\n"
        "  strata partition elect-leaders --type unclean --topic orders --partition 0");
    elect->callback([global, args] { elect_leaders(*global, *args); });
    add_reassign_commands(*partition, global);
}

}  // namespace strata::cli
