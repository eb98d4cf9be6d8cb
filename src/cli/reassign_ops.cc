#include "reassign_ops.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common.h"
#include "ops.h"
#include "strata/protocol/messages/describe_configs_request.h"
#include "strata/protocol/messages/describe_configs_response.h"
#include "strata/protocol/messages/alter_partition_reassignments_request.h"
#include "strata/protocol/messages/alter_partition_reassignments_response.h"
#include "strata/protocol/messages/list_partition_reassignments_request.h"
#include "strata/protocol/messages/list_partition_reassignments_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

cluster_layout read_layout(kafka_client& client) {
    cluster_layout out;
    auto md = client.metadata(std::nullopt);
    // An empty rack is no rack (broker.rack unset).
    for (const auto& b : md.brokers) out.brokers[b.node_id] = b.rack && !b.rack->empty() ? b.rack : std::nullopt;
    std::map<std::pair<std::string, int32_t>, size_t> index;
    for (const auto& t : md.topics) {
        if (t.error_code != 0 || !t.name) continue;
        for (const auto& p : t.partitions) {
            index[{*t.name, p.partition_index}] = out.partitions.size();
            out.partitions.push_back({*t.name, p.partition_index, p.leader_id, p.replica_nodes, p.isr_nodes, {}, {}});
        }
    }
    pm::list_partition_reassignments_request request;
    request.timeout_ms = client.options().timeout_ms;
    request.topics.reset();
    auto listed = client.call<pm::list_partition_reassignments_response>(kafka_client::bootstrap_node, request);
    if (listed.error_code != 0) throw_kafka_error(listed.error_code, "listing reassignments", listed.error_message);
    for (const auto& t : listed.topics)
        for (const auto& p : t.partitions) {
            auto it = index.find({t.name, p.partition_index});
            if (it == index.end()) continue;
            auto& placement = out.partitions[it->second];
            placement.replicas = p.replicas;
            placement.adding = p.adding_replicas;
            placement.removing = p.removing_replicas;
        }
    return out;
}

json plan_json(const std::vector<partition_move>& moves) {
    json doc{{"version", 1}, {"partitions", json::array()}};
    for (const auto& m : moves) {
        json logdirs = json::array();
        for (size_t i = 0; i < m.replicas.size(); ++i) logdirs.push_back("any");
        doc["partitions"].push_back(
            {{"topic", m.topic}, {"partition", m.partition}, {"replicas", m.replicas}, {"log_dirs", logdirs}});
    }
    return doc;
}

std::vector<partition_move> parse_plan(const nlohmann::json& doc) {
    if (!doc.is_object() || !doc.contains("partitions") || !doc["partitions"].is_array())
        throw_usage("a reassignment plan is {\"version\":1,\"partitions\":[{\"topic\":...,\"partition\":...,\"replicas\":[...]}]}");
    std::vector<partition_move> out;
    for (const auto& p : doc["partitions"]) {
        if (!p.contains("topic") || !p.contains("partition"))
            throw_usage("every partition of the plan needs \"topic\" and \"partition\"");
        partition_move m;
        m.topic = p["topic"].get<std::string>();
        m.partition = p["partition"].get<int32_t>();
        if (p.contains("replicas")) m.replicas = p["replicas"].get<std::vector<int32_t>>();
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<int16_t> send_reassignments(kafka_client& client, const std::vector<partition_move>& moves, bool cancel) {
    pm::alter_partition_reassignments_request request;
    request.timeout_ms = client.options().timeout_ms;
    for (const auto& m : moves) {
        if (request.topics.empty() || request.topics.back().name != m.topic) request.topics.emplace_back().name = m.topic;
        auto& p = request.topics.back().partitions.emplace_back();
        p.partition_index = m.partition;
        if (cancel)
            p.replicas.reset();
        else
            p.replicas = m.replicas;
    }
    auto response = client.call_retrying<pm::alter_partition_reassignments_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0)
        throw_kafka_error(response.error_code, "reassigning partitions", response.error_message);
    std::map<std::pair<std::string, int32_t>, int16_t> errors;
    for (const auto& t : response.responses)
        for (const auto& p : t.partitions) errors[{t.name, p.partition_index}] = p.error_code;
    std::vector<int16_t> out;
    for (const auto& m : moves) {
        auto it = errors.find({m.topic, m.partition});
        out.push_back(it == errors.end() ? kafka_error_code(kafka_error::unknown_server_error) : it->second);
    }
    return out;
}

namespace {

constexpr std::string_view leader_rate = "leader.replication.throttled.rate";
constexpr std::string_view follower_rate = "follower.replication.throttled.rate";
constexpr std::string_view leader_replicas = "leader.replication.throttled.replicas";
constexpr std::string_view follower_replicas = "follower.replication.throttled.replicas";

// A topic's current value of `key` ("" when unset), by DescribeConfigs.
std::string topic_config(kafka_client& client, const std::string& topic, std::string_view key) {
    pm::describe_configs_request request;
    auto& resource = request.resources.emplace_back();
    resource.resource_type = resource_topic;
    resource.resource_name = topic;
    resource.configuration_keys.emplace().push_back(std::string(key));
    auto response = client.call<pm::describe_configs_response>(kafka_client::bootstrap_node, request);
    for (const auto& r : response.results) {
        if (r.error_code != 0)
            throw_kafka_error(r.error_code, fmt::format("describing the configs of topic '{}'", topic), r.error_message);
        for (const auto& c : r.configs)
            if (c.name == key && c.value) return *c.value;
    }
    return {};
}

// "p:b" pairs, the existing list's kept ("*" stays "*": it covers all).
std::string merged_pairs(const std::string& existing, const std::set<std::pair<int32_t, int32_t>>& add) {
    if (existing == "*") return existing;
    std::set<std::string> items;
    std::vector<std::string> out;
    size_t start = 0;
    while (start < existing.size()) {
        auto comma = existing.find(',', start);
        if (comma == std::string::npos) comma = existing.size();
        std::string item = existing.substr(start, comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty() && items.insert(item).second) out.push_back(item);
        start = comma + 1;
    }
    for (const auto& [partition, broker] : add) {
        auto item = fmt::format("{}:{}", partition, broker);
        if (items.insert(item).second) out.push_back(item);
    }
    return fmt::format("{}", fmt::join(out, ","));
}

}  // namespace

std::set<int32_t> set_reassignment_throttle(kafka_client& client, const cluster_layout& layout,
                                            const std::vector<partition_move>& moves, int64_t bytes_per_second) {
    std::map<std::pair<std::string, int32_t>, const partition_placement*> placed;
    for (const auto& p : layout.partitions) placed[{p.topic, p.partition}] = &p;
    std::set<int32_t> brokers;
    // Per topic: the (partition, broker) pairs to throttle on each side.
    std::map<std::string, std::pair<std::set<std::pair<int32_t, int32_t>>, std::set<std::pair<int32_t, int32_t>>>>
        topics;
    for (const auto& m : moves) {
        auto it = placed.find({m.topic, m.partition});
        if (it == placed.end()) continue;  // AlterPartitionReassignments will name the error
        auto& [leaders, followers] = topics[m.topic];
        const auto& current = it->second->replicas;
        for (int32_t b : current) {
            leaders.insert({m.partition, b});
            brokers.insert(b);
        }
        for (int32_t b : m.replicas) {
            brokers.insert(b);
            if (std::find(current.begin(), current.end(), b) == current.end()) followers.insert({m.partition, b});
        }
    }
    const auto rate = std::to_string(bytes_per_second);
    for (int32_t b : brokers)
        alter_configs(client, resource_broker, std::to_string(b),
                      {{std::string(leader_rate), rate}, {std::string(follower_rate), rate}}, {});
    for (const auto& [topic, sides] : topics) {
        alter_configs(client, resource_topic, topic,
                      {{std::string(leader_replicas),
                        merged_pairs(topic_config(client, topic, leader_replicas), sides.first)},
                       {std::string(follower_replicas),
                        merged_pairs(topic_config(client, topic, follower_replicas), sides.second)}},
                      {});
    }
    return brokers;
}

void clear_reassignment_throttle(kafka_client& client, const std::vector<partition_move>& moves) {
    const auto layout = read_layout(client);
    for (const auto& [broker, rack] : layout.brokers)
        alter_configs(client, resource_broker, std::to_string(broker), {},
                      {std::string(leader_rate), std::string(follower_rate)});
    std::set<std::string> topics;
    for (const auto& m : moves) topics.insert(m.topic);
    for (const auto& topic : topics)
        alter_configs(client, resource_topic, topic, {}, {std::string(leader_replicas), std::string(follower_replicas)});
}

void wait_for_moves(kafka_client& client, const std::vector<partition_move>& moves, int64_t timeout_ms,
                    int64_t progress_ms) {
    std::set<std::pair<std::string, int32_t>> wanted;
    for (const auto& m : moves) wanted.insert({m.topic, m.partition});
    const auto start = std::chrono::steady_clock::now();
    auto last_note = start - std::chrono::hours(1);
    size_t last_left = wanted.size() + 1;
    for (;;) {
        size_t left = 0;
        std::string detail;
        try {
            for (const auto& p : read_layout(client).partitions) {
                if (!wanted.contains({p.topic, p.partition}) || (p.adding.empty() && p.removing.empty())) continue;
                ++left;
                if (detail.size() < 200)
                    detail += fmt::format(" {}-{} (adding {}, ISR {})", p.topic, p.partition, join_ints(p.adding),
                                          join_ints(p.isr));
            }
        } catch (const cli_error& e) {
            // A controller failover under us: the moves live on in the
            // metadata log; ask again.
            note(fmt::format("waiting: {}", e.what()));
            left = last_left;
        }
        const auto now = std::chrono::steady_clock::now();
        const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
        if (left == 0) {
            note(fmt::format("{}/{} partitions moved in {:.1f} s", wanted.size(), wanted.size(), elapsed_ms / 1000.0));
            return;
        }
        if (left != last_left || now - last_note >= std::chrono::milliseconds(progress_ms)) {
            note(fmt::format("{}/{} partitions moved, {:.1f} s;{}", wanted.size() - left, wanted.size(),
                             elapsed_ms / 1000.0, detail));
            last_note = now;
            last_left = left;
        }
        if (timeout_ms > 0 && elapsed_ms > timeout_ms)
            throw cli_error(fmt::format("{} partitions still moving after {} ms", left, timeout_ms),
                            "they carry on in the cluster; see strata partition list-reassignments");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace strata::cli
