#include "configs.h"

#include <boost/asio/this_coro.hpp>

#include <chrono>

#include <fmt/format.h>

#include "peers.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/metadata_response.h"

#include "strata/protocol/messages/describe_configs_request.h"
#include "strata/protocol/messages/describe_configs_response.h"
#include "strata/protocol/messages/incremental_alter_configs_request.h"
#include "strata/protocol/messages/incremental_alter_configs_response.h"

namespace strata::rest {

namespace pm = protocol::messages;

namespace {

// DescribeConfigs' ConfigSource numbers, as Confluent names them.
const char* source_name(int8_t source) {
    switch (source) {
        case 1: return "DYNAMIC_TOPIC_CONFIG";
        case 2: return "DYNAMIC_BROKER_CONFIG";
        case 3: return "DYNAMIC_DEFAULT_BROKER_CONFIG";
        case 4: return "STATIC_BROKER_CONFIG";
        case 5: return "DEFAULT_CONFIG";
        case 6: return "DYNAMIC_BROKER_LOGGER_CONFIG";
        case 7: return "CLIENT_METRICS_CONFIG";
        default: return "UNKNOWN";
    }
}

json value_or_null(const std::optional<std::string>& value) {
    return value ? json(*value) : json(nullptr);
}

// The cluster-wide default of every broker (Kafka's BROKER resource named
// ""): Confluent's /broker-configs, a KafkaClusterConfig of config_type BROKER.
bool cluster_wide(const config_target& target) {
    return target.type == config_resource::broker && target.name.empty();
}

std::string resource_path(const config_target& target) {
    if (cluster_wide(target)) return fmt::format("/v3/clusters/{}/broker-configs", target.cluster_id);
    return target.type == config_resource::topic
               ? fmt::format("/v3/clusters/{}/topics/{}/configs", target.cluster_id, target.name)
               : fmt::format("/v3/clusters/{}/brokers/{}/configs", target.cluster_id, target.name);
}

const char* kind_of(const config_target& target) {
    return cluster_wide(target) ? "KafkaClusterConfig"
           : target.type == config_resource::topic ? "KafkaTopicConfig" : "KafkaBrokerConfig";
}

json config_json(context& ctx, const config_target& target, const pm::describe_configs_response::describe_configs_resource_result& c) {
    const bool topic = target.type == config_resource::topic;
    const std::string resource_name =
        cluster_wide(target) ? fmt::format("crn:///kafka={}/broker-config={}", target.cluster_id, c.name)
                             : fmt::format("crn:///kafka={}/{}={}/config={}", target.cluster_id,
                                           topic ? "topic" : "broker", target.name, c.name);
    json out{{"kind", kind_of(target)},
             {"metadata", {{"self", ctx.base + resource_path(target) + "/" + c.name}, {"resource_name", resource_name}}},
             {"cluster_id", target.cluster_id},
             {"name", c.name},
             {"value", c.is_sensitive ? json(nullptr) : value_or_null(c.value)},
             {"is_default", c.config_source == 5},
             {"is_read_only", c.read_only},
             {"is_sensitive", c.is_sensitive},
             {"source", source_name(c.config_source)}};
    if (cluster_wide(target)) out["config_type"] = "BROKER";
    else if (topic) out["topic_name"] = target.name;
    else out["broker_id"] = std::atoi(target.name.c_str());
    json synonyms = json::array();
    for (const auto& s : c.synonyms)
        synonyms.push_back({{"name", s.name}, {"value", value_or_null(s.value)}, {"source", source_name(s.source)}});
    out["synonyms"] = synonyms;
    return out;
}

// A broker's own configs are answered by that broker only: another answers
// Kafka's INVALID_REQUEST ("Unexpected broker id"), and the Java AdminClient
// (so Confluent's proxy) sends them to the broker named. The request is
// asked here first, as the REST user, so that the authorize stage (on the
// cluster) answers with the user's ACLs; that INVALID_REQUEST then means
// "another broker's", and the request goes to it over the proxy's links,
// as the inter-broker principal, as group_call.h does for groups.
bool elsewhere(const context& ctx, const config_target& target, int16_t error) {
    return target.type == config_resource::broker && ctx.peers && !target.name.empty() &&
           target.name != std::to_string(ctx.node_id) &&
           error == kafka_error_code(kafka_error::invalid_request);
}

template <typename Response, typename Request>
awaitable<Response> at_broker(context& ctx, const config_target& target, const Request& request, int16_t cap) {
    auto md = co_await ctx.metadata(no_topics());
    for (const auto& b : md.brokers) {
        if (std::to_string(b.node_id) != target.name) continue;
        const broker_address where{b.node_id, b.host, b.port};
        auto link = ctx.peers->connection(co_await boost::asio::this_coro::executor, where);
        if (!link) throw rest_error(500, 50003, "Retriable Kafka error: the broker is stopping");
        const int16_t version = co_await ctx.kafka.version_for(static_cast<protocol::api_key>(Request::api_key), cap);
        auto answer = co_await link->template call<Response>(request, version, std::chrono::milliseconds(10000));
        if (!answer)
            throw rest_error(500, 50003,
                             fmt::format("Retriable Kafka error: broker {} ({}:{}) did not answer for its configs: {}; "
                                         "retry the request", where.node_id, where.host, where.port,
                                         link->last_failure().empty() ? std::string(net::to_string(answer.error()))
                                                                      : link->last_failure()));
        co_return std::move(answer).value();
    }
    throw rest_error(404, 404, fmt::format("Broker {} not found.", target.name));
}

}  // namespace

awaitable<json> describe_configs(context& ctx, const config_target& target, std::optional<std::string> key) {
    pm::describe_configs_request request;
    pm::describe_configs_request::describe_configs_resource resource;
    resource.resource_type = static_cast<int8_t>(target.type);
    resource.resource_name = target.name;
    resource.configuration_keys.reset();
    request.resources.push_back(resource);
    request.include_synonyms = true;
    auto response = co_await ctx.kafka.call<pm::describe_configs_response>(request, 4);
    if (!response.results.empty() && elsewhere(ctx, target, response.results.front().error_code))
        response = co_await at_broker<pm::describe_configs_response>(ctx, target, request, 4);
    if (response.results.empty()) throw rest_error(500, 50002, "DescribeConfigs answered no resource");
    const auto& result = response.results.front();
    check_kafka(result.error_code, result.error_message);
    if (key) {
        for (const auto& c : result.configs)
            if (c.name == *key) co_return config_json(ctx, target, c);
        if (cluster_wide(target)) throw rest_error(404, 404, fmt::format("Config {} cannot be found for the cluster.", *key));
        throw rest_error(404, 404, fmt::format("Config {} cannot be found for {} {}.", *key,
                                               target.type == config_resource::topic ? "topic" : "broker", target.name));
    }
    json data = json::array();
    for (const auto& c : result.configs) data.push_back(config_json(ctx, target, c));
    co_return json{{"kind", std::string(kind_of(target)) + "List"},
                   {"metadata", {{"self", ctx.base + resource_path(target)}, {"next", nullptr}}},
                   {"data", data}};
}

awaitable<void> alter_configs(context& ctx, const config_target& target, const std::vector<config_change>& changes) {
    pm::incremental_alter_configs_request request;
    pm::incremental_alter_configs_request::alter_configs_resource resource;
    resource.resource_type = static_cast<int8_t>(target.type);
    resource.resource_name = target.name;
    for (const auto& change : changes) {
        pm::incremental_alter_configs_request::alterable_config c;
        c.name = change.name;
        c.config_operation = change.value ? 0 : 1;  // SET, DELETE
        c.value = change.value;
        resource.configs.push_back(c);
    }
    request.resources.push_back(resource);
    auto response = co_await ctx.kafka.call<pm::incremental_alter_configs_response>(request, 1);
    if (!response.responses.empty() && elsewhere(ctx, target, response.responses.front().error_code))
        response = co_await at_broker<pm::incremental_alter_configs_response>(ctx, target, request, 1);
    for (const auto& r : response.responses) check_kafka(r.error_code, r.error_message);
}

namespace {

std::vector<config_change> parse_alter_batch(const json& body) {
    if (!body.is_object() || !body.contains("data") || !body["data"].is_array())
        throw rest_error(400, 400, "Expected {\"data\": [{\"name\": ..., \"value\": ..., \"operation\": ...}]}");
    std::vector<config_change> changes;
    for (const auto& entry : body["data"]) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string())
            throw rest_error(400, 400, "Each config change needs a string \"name\"");
        const std::string operation = entry.value("operation", "SET");
        config_change change{entry["name"].get<std::string>(), std::nullopt};
        if (operation == "SET" || operation == "set") {
            if (!entry.contains("value") || !entry["value"].is_string())
                throw rest_error(400, 400, fmt::format("Config {}: SET needs a string \"value\"", change.name));
            change.value = entry["value"].get<std::string>();
        } else if (operation != "DELETE" && operation != "delete") {
            throw rest_error(400, 400, fmt::format("Unknown operation {}: SET or DELETE", operation));
        }
        changes.push_back(std::move(change));
    }
    return changes;
}

}  // namespace

void add_config_routes(std::vector<route>& routes, const std::string& prefix, config_resource type) {
    add_config_routes(routes, prefix + "/configs", [type](const path_params& p) { return config_target{type, p[0], p[1]}; });
}

void add_config_routes(std::vector<route>& routes, const std::string& collection,
                       std::function<config_target(const path_params&)> target_of) {
    // The config's name is the last path parameter of the one-config forms.
    routes.push_back({"GET", collection, [target_of](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0]);
                          const config_target target = target_of(p);
                          co_return json_response(200, co_await describe_configs(ctx, target, std::nullopt));
                      }});
    routes.push_back({"GET", collection + "/{}", [target_of](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0]);
                          const config_target target = target_of(p);
                          co_return json_response(200, co_await describe_configs(ctx, target, p.back()));
                      }});
    routes.push_back({"PUT", collection + "/{}", [target_of](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0]);
                          const json body = parse_body(request);
                          if (!body.is_object() || !body.contains("value") || !body["value"].is_string())
                              throw rest_error(400, 400, "Expected {\"value\": \"...\"}");
                          const std::vector<config_change> changes{config_change{p.back(), body["value"].get<std::string>()}};
                          const config_target target = target_of(p);
                          co_await alter_configs(ctx, target, changes);
                          co_return no_content();
                      }});
    routes.push_back({"DELETE", collection + "/{}", [target_of](context& ctx, const http::request&, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0]);
                          const std::vector<config_change> changes{config_change{p.back(), std::nullopt}};
                          const config_target target = target_of(p);
                          co_await alter_configs(ctx, target, changes);
                          co_return no_content();
                      }});
    routes.push_back({"POST", collection + ":alter", [target_of](context& ctx, const http::request& request, const path_params& p) -> awaitable<http::response> {
                          co_await ctx.cluster(p[0]);
                          const auto changes = parse_alter_batch(parse_body(request));
                          const config_target target = target_of(p);
                          co_await alter_configs(ctx, target, changes);
                          co_return no_content();
                      }});
}

}  // namespace strata::rest
