// v3 clusters, brokers, topics and partitions (Confluent's KafkaCluster,
// KafkaBroker, KafkaTopic, KafkaPartition, KafkaReplica resources).
#include <boost/asio/this_coro.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "common.h"
#include "configs.h"
#include "offsets.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/messages/create_topics_response.h"
#include "strata/protocol/messages/delete_topics_request.h"
#include "strata/protocol/messages/delete_topics_response.h"
#include "strata/protocol/messages/describe_log_dirs_request.h"
#include "strata/protocol/messages/describe_log_dirs_response.h"
#include "strata/protocol/messages/list_offsets_request.h"
#include "strata/protocol/messages/list_offsets_response.h"

namespace strata::rest {

namespace pm = protocol::messages;
using md = pm::metadata_response;

namespace {

pm::list_offsets_request offsets_request(const std::vector<topic_partition>& partitions, int64_t timestamp) {
    pm::list_offsets_request request;
    request.replica_id = -1;
    std::map<std::string, size_t> index;
    for (const auto& [topic, partition] : partitions) {
        auto [it, added] = index.emplace(topic, request.topics.size());
        if (added) request.topics.emplace_back().name = topic;
        auto& p = request.topics[it->second].partitions.emplace_back();
        p.partition_index = partition;
        p.timestamp = timestamp;
    }
    return request;
}

// ListOffsets is answered by each partition's leader only. Partitions this
// broker answers NOT_LEADER_OR_FOLLOWER for (so the REST user may describe
// them: the authorize stage answered here) go to their leaders, as a
// client's would, over the proxy's links to the other brokers. Partitions
// still unanswered are left out.
awaitable<void> list_offsets_at_leaders(context& ctx, const std::vector<topic_partition>& partitions, int64_t timestamp,
                                        std::map<topic_partition, int64_t>& out) {
    std::vector<std::string> topics;
    for (const auto& tp : partitions)
        if (std::find(topics.begin(), topics.end(), tp.first) == topics.end()) topics.push_back(tp.first);
    auto md = co_await ctx.metadata(topics);
    std::map<int32_t, broker_address> brokers;
    for (const auto& b : md.brokers) brokers[b.node_id] = broker_address{b.node_id, b.host, b.port};
    std::map<int32_t, std::vector<topic_partition>> by_leader;
    for (const auto& t : md.topics)
        for (const auto& p : t.partitions)
            if (t.name && std::find(partitions.begin(), partitions.end(), topic_partition{*t.name, p.partition_index}) !=
                              partitions.end() && p.leader_id >= 0 && p.leader_id != ctx.node_id && brokers.contains(p.leader_id))
                by_leader[p.leader_id].emplace_back(*t.name, p.partition_index);
    const auto executor = co_await boost::asio::this_coro::executor;
    const int16_t version = co_await ctx.kafka.version_for(protocol::api_key::list_offsets, 7);
    for (const auto& [leader, wanted] : by_leader) {
        auto link = ctx.peers->connection(executor, brokers[leader]);
        if (!link) co_return;
        auto answer = co_await link->call<pm::list_offsets_response>(offsets_request(wanted, timestamp), version,
                                                                      std::chrono::milliseconds(10000));
        if (!answer) continue;
        for (const auto& t : answer.value().topics)
            for (const auto& p : t.partitions)
                if (p.error_code == 0) out[{t.name, p.partition_index}] = p.offset;
    }
}

}  // namespace

awaitable<std::map<topic_partition, int64_t>> offsets_at(context& ctx, const std::vector<topic_partition>& partitions,
                                                         int64_t timestamp) {
    std::map<topic_partition, int64_t> out;
    if (partitions.empty()) co_return out;
    auto response = co_await ctx.kafka.call<pm::list_offsets_response>(offsets_request(partitions, timestamp), 7);
    std::vector<topic_partition> elsewhere;
    for (const auto& t : response.topics)
        for (const auto& p : t.partitions) {
            if (p.error_code == kafka_error_code(kafka_error::not_leader_or_follower)) elsewhere.emplace_back(t.name, p.partition_index);
            if (p.error_code == 0) out[{t.name, p.partition_index}] = p.offset;
        }
    if (!elsewhere.empty() && ctx.peers) co_await list_offsets_at_leaders(ctx, elsewhere, timestamp, out);
    co_return out;
}

awaitable<std::map<topic_partition, offset_range>> list_offsets(context& ctx, const std::vector<topic_partition>& partitions) {
    std::map<topic_partition, offset_range> out;
    for (const auto& [tp, offset] : co_await offsets_at(ctx, partitions, -2)) out[tp].earliest = offset;
    for (const auto& [tp, offset] : co_await offsets_at(ctx, partitions, -1)) out[tp].latest = offset;
    co_return out;
}

namespace {

std::string cluster_path(const std::string& id) {
    return "/v3/clusters/" + id;
}

json cluster_json(context& ctx, const md& m) {
    const std::string id = m.cluster_id.value_or("");
    const std::string path = cluster_path(id);
    return {{"kind", "KafkaCluster"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", "crn:///kafka=" + id}}},
            {"cluster_id", id},
            {"controller", m.controller_id >= 0 ? ctx.related(fmt::format("{}/brokers/{}", path, m.controller_id)) : json(nullptr)},
            {"acls", ctx.related(path + "/acls")},
            {"brokers", ctx.related(path + "/brokers")},
            {"broker_configs", ctx.related(path + "/broker-configs")},
            {"consumer_groups", ctx.related(path + "/consumer-groups")},
            {"topics", ctx.related(path + "/topics")},
            {"partition_reassignments", ctx.related(path + "/topics/-/partitions/-/reassignment")}};
}

json broker_json(context& ctx, const std::string& cluster, const md::metadata_response_broker& b) {
    const std::string path = fmt::format("{}/brokers/{}", cluster_path(cluster), b.node_id);
    return {{"kind", "KafkaBroker"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/broker={}", cluster, b.node_id)}}},
            {"cluster_id", cluster},
            {"broker_id", b.node_id},
            {"host", b.host},
            {"port", b.port},
            {"rack", b.rack ? json(*b.rack) : json(nullptr)},
            {"configs", ctx.related(path + "/configs")},
            {"partition_replicas", ctx.related(path + "/partition-replicas")}};
}

const md::metadata_response_topic& find_topic(const md& m, const std::string& name) {
    for (const auto& t : m.topics)
        if (t.name && *t.name == name) {
            if (t.error_code != 0) throw_kafka(t.error_code);
            return t;
        }
    throw rest_error(404, 40403, "This server does not host this topic-partition.");
}

json topic_json(context& ctx, const std::string& cluster, const md::metadata_response_topic& t) {
    const std::string name = t.name.value_or("");
    const std::string path = fmt::format("{}/topics/{}", cluster_path(cluster), name);
    const int rf = t.partitions.empty() ? 0 : int(t.partitions.front().replica_nodes.size());
    return {{"kind", "KafkaTopic"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/topic={}", cluster, name)}}},
            {"cluster_id", cluster},
            {"topic_name", name},
            {"is_internal", t.is_internal},
            {"replication_factor", rf},
            {"partitions_count", t.partitions.size()},
            {"partitions", ctx.related(path + "/partitions")},
            {"configs", ctx.related(path + "/configs")},
            {"partition_reassignments", ctx.related(path + "/partitions/-/reassignment")},
            {"authorized_operations", json::array()}};
}

// Confluent's KafkaPartition, with what an operator asks of a partition
// beside it (Strata's additions): ISR, earliest and latest offsets.
json partition_json(context& ctx, const std::string& cluster, const std::string& topic,
                    const md::metadata_response_partition& p, const offset_range* range) {
    const std::string path = fmt::format("{}/topics/{}/partitions/{}", cluster_path(cluster), topic, p.partition_index);
    json out{{"kind", "KafkaPartition"},
             {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/topic={}/partition={}", cluster, topic, p.partition_index)}}},
             {"cluster_id", cluster},
             {"topic_name", topic},
             {"partition_id", p.partition_index},
             {"leader", p.leader_id >= 0 ? ctx.related(fmt::format("{}/replicas/{}", path, p.leader_id)) : json(nullptr)},
             {"replicas", ctx.related(path + "/replicas")},
             {"reassignment", ctx.related(path + "/reassignment")},
             {"leader_id", p.leader_id},
             {"replica_ids", p.replica_nodes},
             {"isr_ids", p.isr_nodes}};
    out["earliest_offset"] = range ? json(range->earliest) : json(nullptr);
    out["latest_offset"] = range ? json(range->latest) : json(nullptr);
    return out;
}

const md::metadata_response_partition& find_partition(const md::metadata_response_topic& t, const std::string& id) {
    for (const auto& p : t.partitions)
        if (std::to_string(p.partition_index) == id) return p;
    throw rest_error(404, 40402, "Partition not found.");
}

awaitable<std::map<topic_partition, int64_t>> partition_sizes(context& ctx) {
    pm::describe_log_dirs_request request;
    request.topics.reset();
    std::map<topic_partition, int64_t> out;
    try {
        auto response = co_await ctx.kafka.call<pm::describe_log_dirs_response>(request, 4);
        for (const auto& dir : response.results)
            for (const auto& t : dir.topics)
                for (const auto& p : t.partitions) out[{t.name, p.partition_index}] += p.partition_size;
    } catch (const kafka_call_error&) {
        // Sizes are an addition; a broker without DescribeLogDirs lists topics all the same.
    }
    co_return out;
}

awaitable<http::response> list_topics(context& ctx, const http::request&, const path_params& p) {
    auto m = co_await ctx.cluster(p[0]);
    auto sizes = co_await partition_sizes(ctx);
    json data = json::array();
    for (const auto& t : m.topics) {
        if (t.error_code != 0 || !t.name) continue;
        json topic = topic_json(ctx, p[0], t);
        int64_t bytes = 0;
        for (const auto& part : t.partitions) bytes += sizes[{*t.name, part.partition_index}];
        topic["size_bytes"] = bytes;  // Strata's addition, for the console
        data.push_back(topic);
    }
    co_return json_response(200, {{"kind", "KafkaTopicList"}, {"metadata", {{"self", ctx.base + cluster_path(p[0]) + "/topics"}, {"next", nullptr}}}, {"data", data}});
}

awaitable<http::response> create_topic(context& ctx, const http::request& request, const path_params& p) {
    co_await ctx.cluster(p[0]);
    const json body = parse_body(request);
    if (!body.is_object() || !body.contains("topic_name") || !body["topic_name"].is_string())
        throw rest_error(400, 400, "Expected {\"topic_name\": ..., \"partitions_count\": ..., \"replication_factor\": ...}");
    pm::create_topics_request create;
    auto& topic = create.topics.emplace_back();
    topic.name = body["topic_name"].get<std::string>();
    try {
        topic.num_partitions = body.value("partitions_count", -1);
        topic.replication_factor = static_cast<int16_t>(body.value("replication_factor", -1));
        if (body.contains("configs"))
            for (const auto& c : body["configs"]) {
                auto& config = topic.configs.emplace_back();
                config.name = c.at("name").get<std::string>();
                config.value = c.at("value").is_null() ? std::nullopt : std::optional(c.at("value").get<std::string>());
            }
    } catch (const json::exception& e) {
        throw rest_error(400, 400, fmt::format("Invalid topic request: {}", e.what()));
    }
    create.validate_only = body.value("validate_only", false);
    create.timeout_ms = 30000;
    auto response = co_await ctx.kafka.call<pm::create_topics_response>(create, 7);
    for (const auto& r : response.topics) {
        if (r.error_code == 36) throw rest_error(400, 40002, fmt::format("Topic '{}' already exists.", r.name));
        check_kafka(r.error_code, r.error_message);
    }
    // The answer describes the topic as created (its metadata may lag a moment).
    md::metadata_response_topic created;
    created.name = topic.name;
    const auto& result = response.topics.front();
    created.partitions.resize(size_t(std::max(result.num_partitions, 0)));
    for (auto& part : created.partitions) part.replica_nodes.resize(size_t(std::max<int>(result.replication_factor, 0)));
    co_return json_response(201, topic_json(ctx, p[0], created));
}

awaitable<http::response> delete_topic(context& ctx, const http::request&, const path_params& p) {
    co_await ctx.cluster(p[0]);
    pm::delete_topics_request request;
    request.topic_names.push_back(p[1]);
    request.timeout_ms = 30000;
    // v5: by name, with error messages.
    auto response = co_await ctx.kafka.call<pm::delete_topics_response>(request, 5);
    for (const auto& r : response.responses) check_kafka(r.error_code, r.error_message);
    co_return no_content();
}

awaitable<http::response> list_partitions(context& ctx, const http::request&, const path_params& p) {
    auto m = co_await ctx.cluster(p[0], one_topic(p[1]));
    const auto& t = find_topic(m, p[1]);
    std::vector<topic_partition> wanted;
    for (const auto& part : t.partitions) wanted.emplace_back(p[1], part.partition_index);
    auto ranges = co_await list_offsets(ctx, wanted);
    json data = json::array();
    for (const auto& part : t.partitions) {
        auto found = ranges.find({p[1], part.partition_index});
        data.push_back(partition_json(ctx, p[0], p[1], part, found == ranges.end() ? nullptr : &found->second));
    }
    co_return json_response(200, {{"kind", "KafkaPartitionList"}, {"metadata", {{"self", fmt::format("{}{}/topics/{}/partitions", ctx.base, cluster_path(p[0]), p[1])}, {"next", nullptr}}}, {"data", data}});
}

awaitable<http::response> get_partition(context& ctx, const http::request&, const path_params& p) {
    auto m = co_await ctx.cluster(p[0], one_topic(p[1]));
    const auto& part = find_partition(find_topic(m, p[1]), p[2]);
    const std::vector<topic_partition> wanted{{p[1], part.partition_index}};
    auto ranges = co_await list_offsets(ctx, wanted);
    auto found = ranges.find({p[1], part.partition_index});
    co_return json_response(200, partition_json(ctx, p[0], p[1], part, found == ranges.end() ? nullptr : &found->second));
}

json replica_json(context& ctx, const std::string& cluster, const std::string& topic, const md::metadata_response_partition& p, int32_t broker) {
    const std::string path = fmt::format("{}/topics/{}/partitions/{}/replicas/{}", cluster_path(cluster), topic, p.partition_index, broker);
    return {{"kind", "KafkaReplica"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/topic={}/partition={}/replica={}", cluster, topic, p.partition_index, broker)}}},
            {"cluster_id", cluster},
            {"topic_name", topic},
            {"partition_id", p.partition_index},
            {"broker_id", broker},
            {"is_leader", p.leader_id == broker},
            {"is_in_sync", std::find(p.isr_nodes.begin(), p.isr_nodes.end(), broker) != p.isr_nodes.end()},
            {"broker", ctx.related(fmt::format("{}/brokers/{}", cluster_path(cluster), broker))}};
}

}  // namespace

void add_v3_cluster_routes(std::vector<route>& routes) {
    routes.push_back({"GET", "/v3/clusters", [](context& ctx, const http::request&, const path_params&) -> awaitable<http::response> {
                          auto m = co_await ctx.metadata(no_topics());
                          co_return json_response(200, {{"kind", "KafkaClusterList"}, {"metadata", {{"self", ctx.base + "/v3/clusters"}, {"next", nullptr}}}, {"data", json::array({cluster_json(ctx, m)})}});
                      }});
    routes.push_back({"GET", "/v3/clusters/{}", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_return json_response(200, cluster_json(ctx, co_await ctx.cluster(p[0], no_topics())));
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/brokers", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          auto m = co_await ctx.cluster(p[0], no_topics());
                          json data = json::array();
                          for (const auto& b : m.brokers) data.push_back(broker_json(ctx, p[0], b));
                          co_return json_response(200, {{"kind", "KafkaBrokerList"}, {"metadata", {{"self", ctx.base + cluster_path(p[0]) + "/brokers"}, {"next", nullptr}}}, {"data", data}});
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/brokers/{}", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          auto m = co_await ctx.cluster(p[0], no_topics());
                          for (const auto& b : m.brokers)
                              if (std::to_string(b.node_id) == p[1]) co_return json_response(200, broker_json(ctx, p[0], b));
                          throw rest_error(404, 404, fmt::format("Broker {} not found.", p[1]));
                      }});
    add_config_routes(routes, "/v3/clusters/{}/brokers/{}", config_resource::broker);
    add_config_routes(routes, "/v3/clusters/{}/broker-configs",
                      [](const path_params& p) { return config_target{config_resource::broker, p[0], ""}; });
}

void add_v3_topic_routes(std::vector<route>& routes) {
    routes.push_back({"GET", "/v3/clusters/{}/topics", list_topics});
    routes.push_back({"POST", "/v3/clusters/{}/topics", create_topic});
    routes.push_back({"GET", "/v3/clusters/{}/topics/{}", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          auto m = co_await ctx.cluster(p[0], one_topic(p[1]));
                          co_return json_response(200, topic_json(ctx, p[0], find_topic(m, p[1])));
                      }});
    routes.push_back({"DELETE", "/v3/clusters/{}/topics/{}", delete_topic});
    add_config_routes(routes, "/v3/clusters/{}/topics/{}", config_resource::topic);
    routes.push_back({"GET", "/v3/clusters/{}/topics/{}/partitions", list_partitions});
    routes.push_back({"GET", "/v3/clusters/{}/topics/{}/partitions/{}", get_partition});
    routes.push_back({"GET", "/v3/clusters/{}/topics/{}/partitions/{}/replicas", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          auto m = co_await ctx.cluster(p[0], one_topic(p[1]));
                          const auto& part = find_partition(find_topic(m, p[1]), p[2]);
                          json data = json::array();
                          for (int32_t b : part.replica_nodes) data.push_back(replica_json(ctx, p[0], p[1], part, b));
                          co_return json_response(200, {{"kind", "KafkaReplicaList"}, {"metadata", {{"self", fmt::format("{}{}/topics/{}/partitions/{}/replicas", ctx.base, cluster_path(p[0]), p[1], p[2])}, {"next", nullptr}}}, {"data", data}});
                      }});
}

}  // namespace strata::rest
