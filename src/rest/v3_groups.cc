// v3 consumer groups: KafkaConsumerGroup, KafkaConsumer, KafkaConsumerLag and
// KafkaConsumerGroupLagSummary, from ListGroups, DescribeGroups, OffsetFetch
// and ListOffsets.
#include <boost/asio/this_coro.hpp>

#include <set>

#include <fmt/format.h>

#include "common.h"
#include "group_call.h"
#include "offsets.h"
#include "strata/protocol/messages/consumer_protocol_assignment.h"
#include "strata/protocol/messages/describe_groups_request.h"
#include "strata/protocol/messages/describe_groups_response.h"
#include "strata/protocol/messages/list_groups_request.h"
#include "strata/protocol/messages/list_groups_response.h"
#include "strata/protocol/messages/offset_fetch_request.h"
#include "strata/protocol/messages/offset_fetch_response.h"

namespace strata::rest {

namespace pm = protocol::messages;
using described = pm::describe_groups_response::described_group;

namespace {

std::string group_path(const std::string& cluster, const std::string& group) {
    return fmt::format("/v3/clusters/{}/consumer-groups/{}", cluster, group);
}

awaitable<described> describe_group(context& ctx, const std::string& group, int32_t* coordinator = nullptr) {
    pm::describe_groups_request request;
    request.groups.push_back(group);
    auto response = co_await group_call<pm::describe_groups_response>(ctx, group, request, 5, coordinator);
    if (response.groups.empty()) throw rest_error(500, 50002, "DescribeGroups answered no group");
    auto g = response.groups.front();
    check_kafka(g.error_code);
    // Kafka describes an unknown group as Dead with no members.
    if (g.group_state == "Dead") throw rest_error(404, 404, fmt::format("Consumer group {} not found.", group));
    co_return g;
}

std::map<std::string, std::vector<int32_t>> assignment_of(const std::vector<uint8_t>& bytes) {
    std::map<std::string, std::vector<int32_t>> out;
    if (bytes.size() < 2) return out;
    try {
        protocol::reader r(bytes);
        const int16_t version = r.read_int16();
        pm::consumer_protocol_assignment a;
        a.decode(r, std::min<int16_t>(std::max<int16_t>(version, 0), pm::consumer_protocol_assignment::highest_supported_version));
        for (const auto& tp : a.assigned_partitions) out[tp.topic] = tp.partitions;
    } catch (const protocol::decode_error&) {
    }
    return out;
}

json group_json(context& ctx, const std::string& cluster, const described& g, int32_t coordinator) {
    const std::string path = group_path(cluster, g.group_id);
    return {{"kind", "KafkaConsumerGroup"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/consumer-group={}", cluster, g.group_id)}}},
            {"cluster_id", cluster},
            {"consumer_group_id", g.group_id},
            {"is_simple", g.protocol_type.empty()},
            {"partition_assignor", g.protocol_data},
            {"state", g.group_state.empty() ? "UNKNOWN" : [&] { std::string s = g.group_state; for (auto& c : s) c = char(std::toupper(c)); return s; }()},
            {"type", "CLASSIC"},
            {"coordinator", coordinator >= 0 ? ctx.related(fmt::format("/v3/clusters/{}/brokers/{}", cluster, coordinator))
                                             : json(nullptr)},
            {"consumers", ctx.related(path + "/consumers")},
            {"lag_summary", ctx.related(path + "/lag-summary")}};
}

json consumer_json(context& ctx, const std::string& cluster, const std::string& group, const pm::describe_groups_response::described_group_member& m) {
    const std::string path = group_path(cluster, group) + "/consumers/" + m.member_id;
    json assignments = json::array();
    for (const auto& [topic, partitions] : assignment_of(m.member_assignment))
        for (int32_t p : partitions) assignments.push_back({{"topic_name", topic}, {"partition_id", p}});
    return {{"kind", "KafkaConsumer"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/consumer-group={}/consumer={}", cluster, group, m.member_id)}}},
            {"cluster_id", cluster},
            {"consumer_group_id", group},
            {"consumer_id", m.member_id},
            {"instance_id", m.group_instance_id ? json(*m.group_instance_id) : json(nullptr)},
            {"client_id", m.client_id},
            {"host", m.client_host},
            {"assignments", assignments}};
}

struct lag_row {
    std::string topic;
    int32_t partition = 0;
    int64_t current = -1;
    int64_t end = -1;
    const pm::describe_groups_response::described_group_member* member = nullptr;
};

awaitable<std::vector<lag_row>> group_lags(context& ctx, const described& g) {
    pm::offset_fetch_request request;
    request.group_id = g.group_id;
    request.topics.reset();  // every partition with a committed offset
    auto response = co_await group_call<pm::offset_fetch_response>(ctx, g.group_id, request, 7);
    check_kafka(response.error_code);
    // A coordinator elsewhere answered the inter-broker principal, which may
    // describe every topic: topics the REST user may not describe are left
    // out here, as the coordinator leaves them out for the user itself.
    if (!response.topics.empty()) {
        std::vector<std::string> names;
        for (const auto& t : response.topics) names.push_back(t.name);
        auto md = co_await ctx.metadata(names);
        std::set<std::string> refused;
        for (const auto& t : md.topics)
            if (t.name && t.error_code == kafka_error_code(kafka_error::topic_authorization_failed)) refused.insert(*t.name);
        std::erase_if(response.topics, [&](const auto& t) { return refused.contains(t.name); });
    }
    std::map<topic_partition, lag_row> rows;
    for (const auto& t : response.topics)
        for (const auto& p : t.partitions)
            if (p.error_code == 0 && p.committed_offset >= 0)
                rows[{t.name, p.partition_index}] = {t.name, p.partition_index, p.committed_offset, -1, nullptr};
    // Assigned partitions without a commit yet lag from nothing.
    for (const auto& m : g.members)
        for (const auto& [topic, partitions] : assignment_of(m.member_assignment))
            for (int32_t p : partitions) {
                auto& row = rows[{topic, p}];
                row.topic = topic;
                row.partition = p;
                row.member = &m;
            }
    std::vector<topic_partition> wanted;
    for (const auto& [tp, row] : rows) wanted.push_back(tp);
    auto ranges = co_await list_offsets(ctx, wanted);
    std::vector<lag_row> out;
    for (auto& [tp, row] : rows) {
        if (auto found = ranges.find(tp); found != ranges.end()) row.end = found->second.latest;
        out.push_back(row);
    }
    co_return out;
}

int64_t lag_of(const lag_row& row) {
    if (row.end < 0) return 0;
    return row.current < 0 ? row.end : std::max<int64_t>(0, row.end - row.current);
}

json lag_json(context& ctx, const std::string& cluster, const std::string& group, const lag_row& row) {
    const std::string path = fmt::format("{}/lags/{}/partitions/{}", group_path(cluster, group), row.topic, row.partition);
    return {{"kind", "KafkaConsumerLag"},
            {"metadata", {{"self", ctx.base + path}, {"resource_name", fmt::format("crn:///kafka={}/consumer-group={}/lag={}/partition={}", cluster, group, row.topic, row.partition)}}},
            {"cluster_id", cluster},
            {"consumer_group_id", group},
            {"topic_name", row.topic},
            {"partition_id", row.partition},
            {"current_offset", row.current},
            {"log_end_offset", row.end},
            {"lag", lag_of(row)},
            {"consumer_id", row.member ? json(row.member->member_id) : json("")},
            {"instance_id", row.member && row.member->group_instance_id ? json(*row.member->group_instance_id) : json(nullptr)},
            {"client_id", row.member ? json(row.member->client_id) : json("")}};
}

// ListGroups on one broker: in process here, over the Kafka protocol
// elsewhere (each broker lists the groups it coordinates, as Kafka's
// AdminClient asks every broker). Unreachable brokers are retried while the
// coordinator wait lasts (the cluster moves their groups meanwhile).
awaitable<pm::list_groups_response> list_groups_on(context& ctx, const broker_address& broker) {
    pm::list_groups_request request;
    if (broker.node_id == ctx.node_id || !ctx.peers) co_return co_await ctx.kafka.call<pm::list_groups_response>(request, 4);
    auto link = ctx.peers->connection(co_await boost::asio::this_coro::executor, broker);
    if (!link) throw rest_error(500, 50003, "Retriable Kafka error: the broker is stopping");
    const int16_t version = co_await ctx.kafka.version_for(protocol::api_key::list_groups, 4);
    auto answer = co_await link->call<pm::list_groups_response>(request, version, std::chrono::milliseconds(10000));
    if (!answer)
        throw rest_error(500, 50003,
                         fmt::format("Retriable Kafka error: broker {} ({}:{}) did not answer ListGroups: {}; retry "
                                     "the request", broker.node_id, broker.host, broker.port,
                                     link->last_failure().empty() ? std::string(net::to_string(answer.error()))
                                                                  : link->last_failure()));
    co_return std::move(answer).value();
}

awaitable<http::response> list_groups(context& ctx, const http::request&, const path_params& p) {
    auto md = co_await ctx.cluster(p[0], no_topics());
    std::set<std::string> names;
    for (const auto& b : md.brokers) {
        const broker_address where{b.node_id, b.host, b.port};  // (GCC 12: no braces in co_await arguments)
        const auto listed = co_await list_groups_on(ctx, where);
        check_kafka(listed.error_code);
        for (const auto& g : listed.groups)
            if (g.protocol_type == "consumer" || g.protocol_type.empty()) names.insert(g.group_id);
    }
    // Each group described by its coordinator, as the REST user: groups the
    // user may not describe (GROUP_AUTHORIZATION_FAILED) are left out.
    json data = json::array();
    for (const auto& name : names) {
        pm::describe_groups_request describe;
        describe.groups.push_back(name);
        int32_t coordinator = -1;
        auto response = co_await group_call<pm::describe_groups_response>(ctx, name, describe, 5, &coordinator);
        for (const auto& g : response.groups)
            if (g.error_code == 0 && g.group_state != "Dead") data.push_back(group_json(ctx, p[0], g, coordinator));
    }
    co_return json_response(200, {{"kind", "KafkaConsumerGroupList"}, {"metadata", {{"self", ctx.base + "/v3/clusters/" + p[0] + "/consumer-groups"}, {"next", nullptr}}}, {"data", data}});
}

}  // namespace

void add_v3_group_routes(std::vector<route>& routes) {
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups", list_groups});
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups/{}", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0], no_topics());
                          int32_t coordinator = -1;
                          auto g = co_await describe_group(ctx, p[1], &coordinator);
                          co_return json_response(200, group_json(ctx, p[0], g, coordinator));
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups/{}/consumers", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0], no_topics());
                          auto g = co_await describe_group(ctx, p[1]);
                          json data = json::array();
                          for (const auto& m : g.members) data.push_back(consumer_json(ctx, p[0], p[1], m));
                          co_return json_response(200, {{"kind", "KafkaConsumerList"}, {"metadata", {{"self", ctx.base + group_path(p[0], p[1]) + "/consumers"}, {"next", nullptr}}}, {"data", data}});
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups/{}/consumers/{}", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0], no_topics());
                          auto g = co_await describe_group(ctx, p[1]);
                          for (const auto& m : g.members)
                              if (m.member_id == p[2]) co_return json_response(200, consumer_json(ctx, p[0], p[1], m));
                          throw rest_error(404, 404, fmt::format("Consumer {} not found.", p[2]));
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups/{}/lags", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0], no_topics());
                          auto g = co_await describe_group(ctx, p[1]);
                          json data = json::array();
                          for (const auto& row : co_await group_lags(ctx, g)) data.push_back(lag_json(ctx, p[0], p[1], row));
                          co_return json_response(200, {{"kind", "KafkaConsumerLagList"}, {"metadata", {{"self", ctx.base + group_path(p[0], p[1]) + "/lags"}, {"next", nullptr}}}, {"data", data}});
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups/{}/lags/{}/partitions/{}", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0], no_topics());
                          auto g = co_await describe_group(ctx, p[1]);
                          for (const auto& row : co_await group_lags(ctx, g))
                              if (row.topic == p[2] && std::to_string(row.partition) == p[3]) co_return json_response(200, lag_json(ctx, p[0], p[1], row));
                          throw rest_error(404, 404, "Consumer lag not found.");
                      }});
    routes.push_back({"GET", "/v3/clusters/{}/consumer-groups/{}/lag-summary", [](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0], no_topics());
                          auto g = co_await describe_group(ctx, p[1]);
                          auto rows = co_await group_lags(ctx, g);
                          int64_t total = 0;
                          const lag_row* max = nullptr;
                          for (const auto& row : rows) {
                              total += lag_of(row);
                              if (!max || lag_of(row) > lag_of(*max)) max = &row;
                          }
                          const std::string path = group_path(p[0], p[1]);
                          json out{{"kind", "KafkaConsumerGroupLagSummary"},
                                   {"metadata", {{"self", ctx.base + path + "/lag-summary"}, {"resource_name", fmt::format("crn:///kafka={}/consumer-group={}/lag-summary", p[0], p[1])}}},
                                   {"cluster_id", p[0]},
                                   {"consumer_group_id", p[1]},
                                   {"max_lag", max ? lag_of(*max) : 0},
                                   {"total_lag", total}};
                          if (max) {
                              out["max_lag_consumer_id"] = max->member ? max->member->member_id : "";
                              out["max_lag_instance_id"] = max->member && max->member->group_instance_id ? json(*max->member->group_instance_id) : json(nullptr);
                              out["max_lag_client_id"] = max->member ? max->member->client_id : "";
                              out["max_lag_topic_name"] = max->topic;
                              out["max_lag_partition_id"] = max->partition;
                              out["max_lag_consumer"] = max->member ? ctx.related(path + "/consumers/" + max->member->member_id) : json(nullptr);
                              out["max_lag_partition"] = ctx.related(fmt::format("/v3/clusters/{}/topics/{}/partitions/{}", p[0], max->topic, max->partition));
                          }
                          co_return json_response(200, out);
                      }});
}

}  // namespace strata::rest
