#include "reassign_ops.h"

#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common.h"
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
    auto response = client.call<pm::alter_partition_reassignments_response>(kafka_client::bootstrap_node, request);
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
