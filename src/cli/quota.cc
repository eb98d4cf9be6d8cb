// strata quota set | list | delete: client quotas (AlterClientQuotas,
// DescribeClientQuotas), as Kafka's kafka-configs.sh --entity-type
// users/clients/ips. An entity is named with --user / --client-id / --ip,
// or their defaults with --user-default / --client-default / --ip-default.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "strata/protocol/messages/alter_client_quotas_request.h"
#include "strata/protocol/messages/alter_client_quotas_response.h"
#include "strata/protocol/messages/describe_client_quotas_request.h"
#include "strata/protocol/messages/describe_client_quotas_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct entity_args {
    std::optional<std::string> user, client_id, ip;
    bool user_default = false, client_default = false, ip_default = false;
};

void add_entity_options(CLI::App& command, entity_args& e) {
    command.add_option("--user", e.user, "The user (the principal's name)");
    command.add_flag("--user-default", e.user_default, "The default user (every user without its own quota)");
    command.add_option("--client-id", e.client_id, "The client.id");
    command.add_flag("--client-default", e.client_default, "The default client-id");
    command.add_option("--ip", e.ip, "An IP address (connection_creation_rate only)");
    command.add_flag("--ip-default", e.ip_default, "The default IP");
}

// The entity's components: type and name (nullopt: the default).
std::vector<std::pair<std::string, std::optional<std::string>>> components(const entity_args& e) {
    std::vector<std::pair<std::string, std::optional<std::string>>> out;
    const auto add = [&](const char* type, const std::optional<std::string>& name, bool dflt) {
        if (name && dflt) throw_usage(fmt::format("give a {} or its default, not both", type), "");
        if (name) out.emplace_back(type, *name);
        if (dflt) out.emplace_back(type, std::nullopt);
    };
    add("user", e.user, e.user_default);
    add("client-id", e.client_id, e.client_default);
    add("ip", e.ip, e.ip_default);
    return out;
}

std::string entity_text(const std::vector<std::pair<std::string, std::optional<std::string>>>& entity) {
    std::string out;
    for (const auto& [type, name] : entity) {
        if (!out.empty()) out += ", ";
        out += type + "=" + (name ? *name : "<default>");
    }
    return out;
}

pm::alter_client_quotas_request::entry_data entry_for(const entity_args& e) {
    const auto entity = components(e);
    if (entity.empty()) throw_usage("name an entity", "--user, --client-id, --ip or their --*-default");
    pm::alter_client_quotas_request::entry_data entry;
    for (const auto& [type, name] : entity) {
        auto& c = entry.entity.emplace_back();
        c.entity_type = type;
        c.entity_name = name;
    }
    return entry;
}

void check_results(const pm::alter_client_quotas_response& response, const std::string& what) {
    for (const auto& r : response.entries)
        if (r.error_code != 0) throw_kafka_error(r.error_code, what, r.error_message);
}

pm::describe_client_quotas_response describe(kafka_client& client, const entity_args& e, bool strict) {
    pm::describe_client_quotas_request request;
    for (const auto& [type, name] : components(e)) {
        auto& c = request.components.emplace_back();
        c.entity_type = type;
        c.match_type = name ? 0 : 1;
        c.match = name;
    }
    request.strict = strict;
    auto response = client.call<pm::describe_client_quotas_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "describing quotas", response.error_message);
    return response;
}

void quota_set(const global_options& g, const entity_args& e, const std::vector<std::string>& settings, bool dry_run) {
    pm::alter_client_quotas_request request;
    request.validate_only = dry_run;
    auto& entry = request.entries.emplace_back(entry_for(e));
    json values = json::object();
    for (const auto& s : settings) {
        const auto eq = s.find('=');
        if (eq == std::string::npos || eq == 0) throw_usage(fmt::format("'{}' is not key=value", s), "producer_byte_rate=1048576");
        auto& op = entry.ops.emplace_back();
        op.key = s.substr(0, eq);
        try {
            size_t used = 0;
            op.value = std::stod(s.substr(eq + 1), &used);
            if (used != s.size() - eq - 1) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
            throw_usage(fmt::format("'{}' is not a number", s.substr(eq + 1)), "producer_byte_rate=1048576");
        }
        values[op.key] = op.value;
    }
    if (entry.ops.empty()) throw_usage("give at least one key=value", "producer_byte_rate=1048576");
    kafka_client client(g);
    const auto what = fmt::format("setting quotas of {}", entity_text(components(e)));
    check_results(client.call_retrying<pm::alter_client_quotas_response>(kafka_client::bootstrap_node, request), what);
    if (g.format() == output_format::table) {
        std::cout << fmt::format("{} quotas of {}\n", dry_run ? "Validated" : "Set", entity_text(components(e)));
    } else {
        print_result(g, json{{"entity", entity_text(components(e))}, {"values", values}, {"dry_run", dry_run}}, {});
    }
}

void quota_delete(const global_options& g, const entity_args& e, std::vector<std::string> keys) {
    kafka_client client(g);
    if (keys.empty()) {
        // Every key the entity has.
        const auto described = describe(client, e, true);  // kept: the loop reads into it
        for (const auto& found : *described.entries)
            for (const auto& v : found.values) keys.push_back(v.key);
        if (keys.empty()) throw_usage(fmt::format("{} has no quotas", entity_text(components(e))), "strata quota list");
    }
    pm::alter_client_quotas_request request;
    auto& entry = request.entries.emplace_back(entry_for(e));
    for (const auto& key : keys) {
        auto& op = entry.ops.emplace_back();
        op.key = key;
        op.remove = true;
    }
    const auto what = fmt::format("deleting quotas of {}", entity_text(components(e)));
    check_results(client.call_retrying<pm::alter_client_quotas_response>(kafka_client::bootstrap_node, request), what);
    if (g.format() == output_format::table) {
        std::cout << fmt::format("Deleted {} of {}\n", fmt::join(keys, ", "), entity_text(components(e)));
    } else {
        print_result(g, json{{"entity", entity_text(components(e))}, {"deleted", keys}}, {});
    }
}

void quota_list(const global_options& g, const entity_args& e, bool strict) {
    kafka_client client(g);
    const auto response = describe(client, e, strict);
    table t{{"ENTITY", "KEY", "VALUE"}, {}};
    json doc = json::array();
    for (const auto& entry : *response.entries) {
        std::vector<std::pair<std::string, std::optional<std::string>>> entity;
        json entity_doc = json::object();
        for (const auto& c : entry.entity) {
            entity.emplace_back(c.entity_type, c.entity_name);
            entity_doc[c.entity_type] = c.entity_name ? json(*c.entity_name) : json(nullptr);
        }
        json values = json::object();
        for (const auto& v : entry.values) {
            t.rows.push_back({entity_text(entity), v.key, fmt::format("{}", v.value)});
            values[v.key] = v.value;
        }
        doc.push_back(json{{"entity", entity_doc}, {"values", values}});
    }
    print_result(g, doc, t);
}

}  // namespace

void add_quota_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* quota = app.add_subcommand("quota", "Manage client quotas (byte rates, request percentage)");
    quota->require_subcommand(1);
    quota->footer(
        "Example:\n  strata quota set --client-id loader producer_byte_rate=1048576\n"
        "  strata quota set --user-default consumer_byte_rate=10485760 request_percentage=50\n"
        "  strata quota list\n  strata quota delete --client-id loader");

    struct set_args {
        entity_args entity;
        std::vector<std::string> settings;
        bool dry_run = false;
    };
    auto sa = std::make_shared<set_args>();
    auto* set = quota->add_subcommand("set", "Set quotas of an entity (key=value: producer_byte_rate, "
                                             "consumer_byte_rate, request_percentage, controller_mutation_rate, "
                                             "connection_creation_rate)");
    add_entity_options(*set, sa->entity);
    set->add_option("settings", sa->settings, "key=value pairs")->required();
    set->add_flag("--dry-run", sa->dry_run, "Only validate (validate_only)");
    set->callback([global, sa] { quota_set(*global, sa->entity, sa->settings, sa->dry_run); });

    struct list_args {
        entity_args entity;
        bool strict = false;
    };
    auto la = std::make_shared<list_args>();
    auto* list = quota->add_subcommand("list", "List quotas (of the entities matching the options, default all)");
    add_entity_options(*list, la->entity);
    list->add_flag("--strict", la->strict, "Only entities with exactly the components given");
    list->callback([global, la] { quota_list(*global, la->entity, la->strict); });

    struct delete_args {
        entity_args entity;
        std::vector<std::string> keys;
    };
    auto da = std::make_shared<delete_args>();
    auto* del = quota->add_subcommand("delete", "Delete quotas of an entity (default: every key it has)");
    add_entity_options(*del, da->entity);
    del->add_option("keys", da->keys, "Only these keys");
    del->callback([global, da] { quota_delete(*global, da->entity, da->keys); });
}

}  // namespace strata::cli
