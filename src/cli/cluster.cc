// strata cluster info | health | quorum
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "strata/protocol/messages/describe_cluster_request.h"
#include "strata/protocol/messages/describe_cluster_response.h"
#include "strata/protocol/messages/describe_quorum_request.h"
#include "strata/protocol/messages/describe_quorum_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct broker_row {
    int32_t id;
    std::string host;
    int32_t port;
    std::optional<std::string> rack;
};

void cluster_info(const global_options& g) {
    kafka_client client(g);
    std::string cluster_id;
    int32_t controller = -1;
    std::vector<broker_row> brokers;
    if (client.supports(kafka_client::bootstrap_node, protocol::api_key::describe_cluster)) {
        pm::describe_cluster_request request;
        auto response = client.call<pm::describe_cluster_response>(kafka_client::bootstrap_node, request);
        if (response.error_code != 0) throw_kafka_error(response.error_code, "DescribeCluster", response.error_message);
        cluster_id = response.cluster_id;
        controller = response.controller_id;
        for (const auto& b : response.brokers) brokers.push_back({b.broker_id, b.host, b.port, b.rack});
    } else {
        auto response = client.metadata(std::vector<std::string>{});
        cluster_id = response.cluster_id.value_or("");
        controller = response.controller_id;
        for (const auto& b : response.brokers) brokers.push_back({b.node_id, b.host, b.port, b.rack});
    }
    std::sort(brokers.begin(), brokers.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (auto& b : brokers)
        if (b.rack && b.rack->empty()) b.rack.reset();  // some brokers send "" for "no rack"
    json doc{{"cluster_id", cluster_id}, {"controller_id", controller}, {"brokers", json::array()}};
    table t{{"BROKER", "HOST", "PORT", "RACK", "CONTROLLER"}, {}};
    for (const auto& b : brokers) {
        doc["brokers"].push_back(
            {{"id", b.id}, {"host", b.host}, {"port", b.port}, {"rack", b.rack ? json(*b.rack) : json(nullptr)}});
        t.rows.push_back({std::to_string(b.id), b.host, std::to_string(b.port), b.rack.value_or("-"),
                          b.id == controller ? "yes" : ""});
    }
    if (g.format() == output_format::table)
        std::cout << fmt::format("Cluster ID: {}\nController: {}\nBrokers:    {}\n\n", cluster_id, controller,
                                 brokers.size());
    print_result(g, doc, t);
}

std::optional<pm::describe_quorum_response::partition_data> describe_quorum(kafka_client& client, bool required);

// A node of the metadata quorum whose last fetch is this much older than
// its peers' latest has stopped following the log (a follower's fetches
// are long polls of at most 500 ms).
constexpr int64_t metadata_catch_up_ms = 5000;
// How long a node behind the log is given to move before it counts as stuck.
constexpr int64_t metadata_recheck_ms = 1000;

// The cluster-wide side of each node's /health/ready checks: brokers and an
// active controller, every partition led and in sync, and (DescribeQuorum)
// every node of the metadata quorum caught up with its log, every observer
// (a broker-only node) registered and unfenced. Exit code 0 when every
// check passes, 1 otherwise.
void cluster_health(const global_options& g) {
    kafka_client client(g);
    auto md = client.metadata(std::nullopt);
    int partitions = 0, offline = 0, under_replicated = 0, topic_errors = 0;
    json problems = json::array();
    for (const auto& t : md.topics) {
        if (t.error_code != 0) {
            ++topic_errors;
            problems.push_back({{"topic", t.name.value_or("")}, {"problem", error_name(t.error_code)}});
            continue;
        }
        for (const auto& p : t.partitions) {
            ++partitions;
            if (p.leader_id < 0) {
                ++offline;
                problems.push_back(
                    {{"topic", t.name.value_or("")}, {"partition", p.partition_index}, {"problem", "offline"}});
            } else if (p.isr_nodes.size() < p.replica_nodes.size()) {
                ++under_replicated;
                problems.push_back({{"topic", t.name.value_or("")},
                                    {"partition", p.partition_index},
                                    {"problem", "under-replicated"}});
            }
        }
    }
    const bool brokers_ok = !md.brokers.empty();
    const bool controller_ok = md.controller_id >= 0;
    // The metadata quorum, from its leader.
    std::optional<pm::describe_quorum_response::partition_data> quorum;
    std::string quorum_problem;
    // Not checked (not failed) when it cannot be asked: a node without
    // DescribeQuorum, a user without DESCRIBE on the cluster, a leader that
    // is a controller-only node (`cluster quorum --bootstrap-controller`
    // reaches it). A quorum without a leader fails the controller check.
    try {
        quorum = describe_quorum(client, false);
        if (!quorum) quorum_problem = "not checked: the node asked does not serve DescribeQuorum";
    } catch (const std::exception& e) {
        quorum_problem = fmt::format("not checked: {}", e.what());
    }
    const bool quorum_served = quorum.has_value();
    const bool quorum_ok = !quorum_served || quorum->leader_id >= 0;
    json behind = json::array(), silent = json::array(), unregistered = json::array();
    if (quorum && quorum->leader_id >= 0) {
        std::vector<pm::describe_quorum_response::replica_state> replicas = quorum->current_voters;
        replicas.insert(replicas.end(), quorum->observers.begin(), quorum->observers.end());
        std::erase_if(replicas, [&](const auto& r) { return r.replica_id == quorum->leader_id; });
        // Fetching: the timestamps are the leader's clock, so each replica's
        // last fetch is compared with its peers' latest, not with ours.
        int64_t latest = -1;
        for (const auto& r : replicas) latest = std::max(latest, r.last_fetch_timestamp);
        for (const auto& r : replicas)
            if (r.last_fetch_timestamp <= 0 || latest - r.last_fetch_timestamp > metadata_catch_up_ms) {
                silent.push_back(r.replica_id);
                problems.push_back({{"node", r.replica_id},
                                    {"problem", r.last_fetch_timestamp <= 0
                                                    ? std::string("never fetched the metadata log")
                                                    : fmt::format("no metadata fetch for {} ms",
                                                                  latest - r.last_fetch_timestamp)}});
            }
        // Caught up: a replica behind the high watermark is asked about
        // again a second later; behind then without having moved on, it is
        // stuck (a live follower is a few records behind for milliseconds
        // each time the log moves).
        auto lag_of = [](const auto& q, int32_t id) -> std::optional<std::pair<int64_t, int64_t>> {
            for (const auto* list : {&q.current_voters, &q.observers})
                for (const auto& r : *list)
                    if (r.replica_id == id) return std::pair{q.high_watermark - r.log_end_offset, r.log_end_offset};
            return std::nullopt;
        };
        std::vector<int32_t> lagging;
        for (const auto& r : replicas)
            if (quorum->high_watermark > r.log_end_offset) lagging.push_back(r.replica_id);
        if (!lagging.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(metadata_recheck_ms));
            std::optional<pm::describe_quorum_response::partition_data> again;
            try {
                again = describe_quorum(client, false);
            } catch (const std::exception&) {
            }
            for (const int32_t id : lagging) {
                const auto before = lag_of(*quorum, id);
                const auto after = again ? lag_of(*again, id) : std::nullopt;
                if (after && (after->first <= 0 || after->second > before->second)) continue;  // caught up or moving
                const int64_t lag = after ? after->first : before->first;
                behind.push_back({{"node", id}, {"lag", lag}});
                problems.push_back({{"node", id}, {"problem", fmt::format("metadata {} records behind, not moving", lag)}});
            }
        }
        // Observers are brokers (a controller is a voter): one the
        // Metadata answer does not list is fenced or not registered.
        for (const auto& r : quorum->observers)
            if (std::none_of(md.brokers.begin(), md.brokers.end(), [&](const auto& b) { return b.node_id == r.replica_id; })) {
                unregistered.push_back(r.replica_id);
                problems.push_back({{"node", r.replica_id}, {"problem", "broker fenced or not registered"}});
            }
    }
    const bool caught_up = behind.empty() && silent.empty();
    const bool registered = unregistered.empty();
    const bool healthy = brokers_ok && controller_ok && offline == 0 && under_replicated == 0 && topic_errors == 0 &&
                         quorum_ok && caught_up && registered;
    json doc{{"status", healthy ? "healthy" : "unhealthy"},
             {"brokers", md.brokers.size()},
             {"controller_id", md.controller_id},
             {"topics", md.topics.size()},
             {"partitions", partitions},
             {"offline_partitions", offline},
             {"under_replicated_partitions", under_replicated},
             {"metadata_quorum", quorum ? json{{"leader_id", quorum->leader_id},
                                               {"leader_epoch", quorum->leader_epoch},
                                               {"high_watermark", quorum->high_watermark}}
                                        : json(quorum_problem)},
             {"metadata_behind", behind},
             {"metadata_not_fetching", silent},
             {"unregistered_brokers", unregistered},
             {"problems", problems}};
    auto ok = [](bool b) { return b ? std::string("ok") : std::string("FAIL"); };
    table t{{"CHECK", "STATUS", "DETAIL"},
            {{"brokers", ok(brokers_ok), fmt::format("{} registered", md.brokers.size())},
             {"controller", ok(controller_ok), controller_ok ? fmt::format("node {}", md.controller_id) : "none"},
             {"offline partitions", ok(offline == 0), fmt::format("{} of {}", offline, partitions)},
             {"under-replicated partitions", ok(under_replicated == 0),
              fmt::format("{} of {}", under_replicated, partitions)},
             {"topic errors", ok(topic_errors == 0), std::to_string(topic_errors)},
             {"metadata quorum", !quorum_served ? std::string("-") : ok(quorum_ok),
              quorum ? fmt::format("leader {}, epoch {}, high watermark {}", quorum->leader_id, quorum->leader_epoch,
                                   quorum->high_watermark)
                     : quorum_problem},
             {"metadata caught up", !quorum ? std::string("-") : ok(caught_up),
              !quorum ? std::string("-")
              : caught_up ? fmt::format("{} of {}", quorum->current_voters.size() + quorum->observers.size(),
                                        quorum->current_voters.size() + quorum->observers.size())
                          : fmt::format("{} behind, {} not fetching", behind.size(), silent.size())},
             {"brokers unfenced", !quorum ? std::string("-") : ok(registered),
              !quorum ? std::string("-") : registered ? std::string("every observer registered")
                         : fmt::format("{} fenced or not registered", unregistered.size())}}};
    print_result(g, doc, t);
    if (g.format() == output_format::table)
        std::cout << (healthy ? "\nCluster is healthy.\n" : "\nCluster is UNHEALTHY.\n");
    if (!healthy) throw cli_error("the cluster is unhealthy", "see the failed checks above");
}

// DescribeQuorum of __cluster_metadata, asked of the quorum's leader (which
// knows the followers' progress). Without `required`, nullopt when the node
// asked does not serve it.
std::optional<pm::describe_quorum_response::partition_data> describe_quorum(kafka_client& client, bool required) {
    pm::describe_quorum_request request;
    pm::describe_quorum_request::topic_data topic;
    topic.topic_name = "__cluster_metadata";
    topic.partitions.push_back(pm::describe_quorum_request::partition_data{});
    request.topics.push_back(topic);
    int32_t target = kafka_client::bootstrap_node;
    pm::describe_quorum_response response;
    const pm::describe_quorum_response::partition_data* part = nullptr;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (!client.supports(target, protocol::api_key::describe_quorum)) {
            if (!required) return std::nullopt;
            throw cli_error(
                fmt::format("the node at {} does not serve DescribeQuorum (API key 55)", client.node_name(target)),
                "point --bootstrap-controller at a controller (its CONTROLLER listener)");
        }
        response = client.call<pm::describe_quorum_response>(target, request);
        if (response.error_code != 0) throw_kafka_error(response.error_code, "DescribeQuorum", response.error_message);
        if (response.topics.empty() || response.topics.front().partitions.empty())
            throw cli_error("DescribeQuorum answered without the metadata partition");
        part = &response.topics.front().partitions.front();
        if (part->error_code == kafka_error_code(kafka_error::not_leader_or_follower) && part->leader_id >= 0 &&
            part->leader_id != target) {
            target = part->leader_id;  // ask the leader, which knows the followers' progress
            continue;
        }
        break;
    }
    if (part->error_code != 0) throw_kafka_error(part->error_code, "DescribeQuorum", part->error_message);
    return *part;
}

void cluster_quorum(const global_options& g, const std::string& controller) {
    global_options options = g;
    if (!controller.empty()) options.brokers = controller;
    kafka_client client(options);
    const auto quorum = describe_quorum(client, true);
    const auto* part = &*quorum;
    json doc{{"leader_id", part->leader_id},
             {"leader_epoch", part->leader_epoch},
             {"high_watermark", part->high_watermark},
             {"voters", json::array()},
             {"observers", json::array()}};
    table t{{"NODE", "ROLE", "LOG-END-OFFSET", "LAG", "LAST-FETCH", "LAST-CAUGHT-UP"}, {}};
    const int64_t now = now_ms();
    // Unknown is -1 in Kafka; a 0 (the epoch) from some brokers means the same.
    auto ago = [now](int64_t ts) {
        return ts <= 0 ? std::string("-") : fmt::format("{} ms ago", std::max<int64_t>(0, now - ts));
    };
    auto add = [&](const pm::describe_quorum_response::replica_state& r, const char* kind) {
        const bool leader = r.replica_id == part->leader_id;
        const std::string role = leader ? "leader" : (std::string(kind) == "voters" ? "follower" : "observer");
        const int64_t lag = r.log_end_offset >= 0 ? std::max<int64_t>(0, part->high_watermark - r.log_end_offset) : -1;
        doc[kind].push_back({{"id", r.replica_id},
                             {"role", role},
                             {"log_end_offset", r.log_end_offset},
                             {"lag", lag},
                             {"last_fetch_timestamp", r.last_fetch_timestamp},
                             {"last_caught_up_timestamp", r.last_caught_up_timestamp}});
        t.rows.push_back({std::to_string(r.replica_id), role, std::to_string(r.log_end_offset),
                          lag < 0 ? "-" : std::to_string(lag), ago(r.last_fetch_timestamp),
                          ago(r.last_caught_up_timestamp)});
    };
    for (const auto& r : part->current_voters) add(r, "voters");
    for (const auto& r : part->observers) add(r, "observers");
    if (g.format() == output_format::table)
        std::cout << fmt::format("Leader:         {}\nEpoch:          {}\nHigh watermark: {}\n\n", part->leader_id,
                                 part->leader_epoch, part->high_watermark);
    print_result(g, doc, t);
}

}  // namespace

void add_cluster_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* cluster = app.add_subcommand("cluster", "Cluster id, brokers, health and the metadata quorum");
    cluster->require_subcommand(1);
    cluster->footer("Example:\n  strata cluster info -b localhost:9092");

    auto* info = cluster->add_subcommand("info", "Show the cluster id, the controller and the brokers");
    info->footer("Example:\n  strata cluster info -o json");
    info->callback([global] { cluster_info(*global); });

    auto* health = cluster->add_subcommand(
        "health",
        "Check brokers, controller, partitions and the metadata quorum (exit 1 if anything is offline, "
        "under-replicated, fenced or behind)");
    health->footer("Example:\n  strata cluster health && echo ok");
    health->callback([global] { cluster_health(*global); });

    auto* quorum = cluster->add_subcommand("quorum", "Describe the KRaft metadata quorum (leader, voters, lag)");
    auto controller = std::make_shared<std::string>();
    quorum->add_option("--bootstrap-controller", *controller, "Ask this controller (host:port) instead of the brokers");
    quorum->footer("Example:\n  strata cluster quorum\n  strata cluster quorum --bootstrap-controller localhost:9093");
    quorum->callback([global, controller] { cluster_quorum(*global, *controller); });
    add_rebalance_command(*cluster, global);
}

}  // namespace strata::cli
