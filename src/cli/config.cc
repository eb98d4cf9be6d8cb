// strata config get | set, for topics and brokers (DescribeConfigs,
// IncrementalAlterConfigs).
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "ops.h"
#include "strata/protocol/messages/describe_configs_request.h"
#include "strata/protocol/messages/describe_configs_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

std::string source_name(int8_t source) {
    switch (source) {
        case 1:
            return "topic";
        case 2:
            return "broker";
        case 3:
            return "broker-default";
        case 4:
            return "static";
        case 5:
            return "default";
        case 6:
            return "logger";
        case 7:
            return "client-metrics";
        case 8:
            return "group";
        default:
            return "unknown";
    }
}

int8_t resource_type_of(const std::string& kind) {
    return kind == "topic" ? resource_topic : resource_broker;
}

// "broker default" (or "") names the cluster-wide default of dynamic broker
// configs: Kafka's resource name "" (kafka-configs.sh --entity-default).
bool is_cluster_default(const std::string& kind, const std::string& name) {
    return kind == "broker" && (name.empty() || name == "default");
}

std::string resource_name_of(const std::string& kind, const std::string& name) {
    return is_cluster_default(kind, name) ? std::string() : name;
}

void config_get(const global_options& g, const std::string& kind, const std::string& name,
                const std::vector<std::string>& keys, bool overrides_only) {
    kafka_client client(g);
    pm::describe_configs_request request;
    pm::describe_configs_request::describe_configs_resource resource;
    resource.resource_type = resource_type_of(kind);
    resource.resource_name = resource_name_of(kind, name);
    if (keys.empty()) {
        resource.configuration_keys.reset();
    } else {
        resource.configuration_keys = keys;
    }
    request.resources.push_back(resource);
    int32_t target = kafka_client::bootstrap_node;
    if (is_cluster_default(kind, name)) {
        // Any broker answers for the cluster-wide default.
    } else if (kind == "broker") {
        try {
            target = std::stoi(name);
        } catch (const std::exception&) {
            throw_usage(fmt::format("broker id '{}' is not a number", name));
        }
    } else {
        client.topic_metadata(name);  // UNKNOWN_TOPIC_OR_PARTITION with a hint if it does not exist
    }
    const int16_t version = client.version_of<pm::describe_configs_request>(target);
    auto response = client.call<pm::describe_configs_response>(target, request);
    json doc{{"resource", kind}, {"name", name}, {"configs", json::array()}};
    table t{{"KEY", "VALUE", "SOURCE", "READ-ONLY"}, {}};
    for (const auto& r : response.results) {
        if (r.error_code != 0)
            throw_kafka_error(r.error_code, fmt::format("describing the config of {} '{}'", kind, name),
                              r.error_message);
        auto configs = r.configs;
        std::sort(configs.begin(), configs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
        for (const auto& c : configs) {
            const int8_t source = version == 0 ? (c.is_default ? 5 : (kind == "topic" ? 1 : 4)) : c.config_source;
            if (overrides_only && (source == 5 || source == 4)) continue;
            const std::string value = c.is_sensitive ? "(sensitive)" : c.value.value_or("null");
            doc["configs"].push_back(
                {{"key", c.name},
                 {"value", c.is_sensitive ? json(nullptr) : (c.value ? json(*c.value) : json(nullptr))},
                 {"source", source_name(source)},
                 {"read_only", c.read_only},
                 {"sensitive", c.is_sensitive}});
            t.rows.push_back({c.name, value, source_name(source), c.read_only ? "yes" : "no"});
        }
    }
    print_result(g, doc, t);
}

void config_set(const global_options& g, const std::string& kind, const std::string& name,
                const std::vector<std::string>& settings, const std::vector<std::string>& remove) {
    if (settings.empty() && remove.empty())
        throw_usage("nothing to change", "give key=value pairs and/or --delete key");
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& s : settings) pairs.push_back(parse_key_value(s, "setting"));
    kafka_client client(g);
    alter_configs(client, resource_type_of(kind), resource_name_of(kind, name), pairs, remove);
    json changes = json::object();
    for (const auto& [k, v] : pairs) changes[k] = v;
    for (const auto& k : remove) changes[k] = nullptr;
    if (g.format() == output_format::table) {
        std::cout << fmt::format("Updated the config of {} '{}':\n", kind, name);
        for (const auto& [k, v] : pairs) std::cout << fmt::format("  {} = {}\n", k, v);
        for (const auto& k : remove) std::cout << fmt::format("  {} reset to default\n", k);
    } else {
        print_result(g, json{{"resource", kind}, {"name", name}, {"changed", changes}}, {});
    }
}

}  // namespace

void add_config_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* config = app.add_subcommand("config", "Read and change topic and broker configs");
    config->require_subcommand(1);
    config->footer(
        "Example:\n  strata config get topic orders\n  strata config set broker 1 log.retention.ms=86400000");

    struct get_args {
        std::string kind, name;
        std::vector<std::string> keys;
        bool overrides = false;
    };
    auto ga = std::make_shared<get_args>();
    auto* get = config->add_subcommand("get", "Show the configs of a topic or a broker");
    get->add_option("kind", ga->kind, "topic or broker")->required()->check(CLI::IsMember({"topic", "broker"}));
    get->add_option("name", ga->name, "Topic name, broker id, or `default` (the cluster-wide broker default)")
        ->required();
    get->add_option("-k,--key", ga->keys, "Only these keys (repeatable)");
    get->add_flag("--overrides", ga->overrides, "Only values set on this resource (not defaults)");
    get->footer(
        "Examples:\n  strata config get topic orders --overrides\n  strata config get broker 1 -k log.retention.ms");
    get->callback([global, ga] { config_get(*global, ga->kind, ga->name, ga->keys, ga->overrides); });

    struct set_args {
        std::string kind, name;
        std::vector<std::string> settings, remove;
    };
    auto sa = std::make_shared<set_args>();
    auto* set = config->add_subcommand("set", "Set (or --delete) config keys of a topic or a broker");
    set->add_option("kind", sa->kind, "topic or broker")->required()->check(CLI::IsMember({"topic", "broker"}));
    set->add_option("name", sa->name, "Topic name, broker id, or `default` (the cluster-wide broker default)")
        ->required();
    set->add_option("settings", sa->settings, "key=value pairs");
    set->add_option("-d,--delete", sa->remove, "Key to reset to its default (repeatable)");
    set->footer(
        "Examples:\n  strata config set topic orders retention.ms=3600000 cleanup.policy=compact\n"
        "  strata config set topic orders --delete retention.ms\n"
        "  strata config set broker default log.retention.ms=86400000   (every broker)\n"
        "  strata config set broker 1 message.max.bytes=2000000");
    set->callback([global, sa] { config_set(*global, sa->kind, sa->name, sa->settings, sa->remove); });
}

}  // namespace strata::cli
