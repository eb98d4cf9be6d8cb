// strata acl create | list | delete: ACLs (CreateAcls, DescribeAcls,
// DeleteAcls), as Kafka's kafka-acls.sh --add / --list / --remove. The
// brokers keep them in the cluster's metadata; they apply when the brokers
// run with authorizer.class.name set (docs/security.md).
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "strata/protocol/messages/create_acls_request.h"
#include "strata/protocol/messages/create_acls_response.h"
#include "strata/protocol/messages/delete_acls_request.h"
#include "strata/protocol/messages/delete_acls_response.h"
#include "strata/protocol/messages/describe_acls_request.h"
#include "strata/protocol/messages/describe_acls_response.h"
#include "strata/security/acl.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;
using security::acl_operation;
using security::acl_permission;
using security::pattern_type;
using security::resource_type;

namespace {

// The resource options every acl command shares; at most one is given.
struct resource_args {
    std::string topic, group, transactional_id, delegation_token, user_principal;
    bool cluster = false;
    std::string pattern;  // literal | prefixed (create); also any | match (list, delete)

    // The resource named, or (type ANY, no name) when none is.
    std::pair<resource_type, std::optional<std::string>> resource() const {
        std::vector<std::pair<resource_type, std::optional<std::string>>> given;
        if (!topic.empty()) given.emplace_back(resource_type::topic, topic);
        if (!group.empty()) given.emplace_back(resource_type::group, group);
        if (!transactional_id.empty()) given.emplace_back(resource_type::transactional_id, transactional_id);
        if (!delegation_token.empty()) given.emplace_back(resource_type::delegation_token, delegation_token);
        if (!user_principal.empty()) given.emplace_back(resource_type::user, user_principal);
        if (cluster) given.emplace_back(resource_type::cluster, std::string(security::cluster_resource_name));
        if (given.size() > 1)
            throw_usage("name one resource",
                        "--topic, --group, --transactional-id, --delegation-token, --user-principal or --cluster");
        if (given.empty()) return {resource_type::any, std::nullopt};
        return given.front();
    }
};

void add_resource_options(CLI::App* command, resource_args& r, const std::string& default_pattern,
                          const std::vector<std::string>& patterns) {
    command->add_option("--topic", r.topic, "A topic (`*`: every topic)");
    command->add_option("--group", r.group, "A consumer group (`*`: every group)");
    command->add_option("--transactional-id", r.transactional_id, "A transactional id (`*`: every one)");
    command->add_option("--delegation-token", r.delegation_token, "A delegation token id");
    command->add_option("--user-principal", r.user_principal,
                        "A user resource (KIP-373, User:alice): CREATE_TOKENS lets the ACL's principal create "
                        "delegation tokens for that user, DESCRIBE_TOKENS see its tokens");
    command->add_flag("--cluster", r.cluster, "The cluster resource (kafka-cluster)");
    std::string choices;
    for (const auto& p : patterns) choices += (choices.empty() ? "" : ", ") + p;
    command->add_option("--resource-pattern-type", r.pattern, "How the name matches: " + choices)
        ->check(CLI::IsMember(patterns, CLI::ignore_case))
        ->default_val(default_pattern);
}

template <typename Enum>
Enum parse_or_usage(const std::optional<Enum>& parsed, const std::string& what, const std::string& value,
                    const std::string& choices) {
    if (!parsed) throw_usage(fmt::format("unknown {} '{}'", what, value), choices);
    return *parsed;
}

acl_operation operation_of(const std::string& s) {
    return parse_or_usage(security::parse_operation(s), "operation", s,
                          "ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, "
                          "ALTER_CONFIGS, IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS");
}

std::string principal_of(const std::string& s) {
    const auto colon = s.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size())
        throw_usage(fmt::format("principal '{}' has no type", s), "write it as User:alice (User:* for everyone)");
    return s;
}

json acl_json(resource_type type, const std::string& name, pattern_type pattern, const std::string& principal,
              const std::string& host, acl_operation op, acl_permission permission) {
    return json{{"resource_type", security::name_of(type)}, {"resource_name", name},
                {"pattern_type", security::name_of(pattern)}, {"principal", principal},
                {"host", host}, {"operation", security::name_of(op)},
                {"permission", security::name_of(permission)}};
}

std::vector<std::string> acl_row(const json& a) {
    return {a["resource_type"], a["resource_name"], a["pattern_type"], a["principal"],
            a["host"], a["operation"], a["permission"]};
}

const std::vector<std::string> acl_headers{"RESOURCE_TYPE", "NAME", "PATTERN", "PRINCIPAL", "HOST", "OPERATION",
                                           "PERMISSION"};

struct create_args {
    resource_args resource;
    std::vector<std::string> allow, deny, operations;
    std::string host = "*";
};

void acl_create(const global_options& g, const create_args& a) {
    const auto [type, name] = a.resource.resource();
    if (type == resource_type::any)
        throw_usage("an ACL needs a resource",
                    "--topic, --group, --transactional-id, --delegation-token, --user-principal or --cluster");
    if (a.allow.empty() && a.deny.empty())
        throw_usage("an ACL needs a principal", "--allow-principal User:alice or --deny-principal User:bob");
    const auto pattern = parse_or_usage(security::parse_pattern_type(a.resource.pattern), "pattern type",
                                        a.resource.pattern, "literal or prefixed");
    pm::create_acls_request request;
    json created = json::array();
    const auto add = [&](const std::string& principal, acl_permission permission) {
        for (const auto& op_name : a.operations) {
            const auto op = operation_of(op_name);
            auto& c = request.creations.emplace_back();
            c.resource_type = static_cast<int8_t>(type);
            c.resource_name = *name;
            c.resource_pattern_type = static_cast<int8_t>(pattern);
            c.principal = principal_of(principal);
            c.host = a.host;
            c.operation = static_cast<int8_t>(op);
            c.permission_type = static_cast<int8_t>(permission);
            created.push_back(acl_json(type, *name, pattern, principal, a.host, op, permission));
        }
    };
    for (const auto& p : a.allow) add(p, acl_permission::allow);
    for (const auto& p : a.deny) add(p, acl_permission::deny);
    kafka_client client(g);
    auto response = client.call_retrying<pm::create_acls_response>(kafka_client::bootstrap_node, request);
    for (size_t i = 0; i < response.results.size(); ++i) {
        const auto& r = response.results[i];
        if (r.error_code != 0)
            throw_kafka_error(r.error_code, fmt::format("creating ACL {}", i < created.size() ? created[i].dump() : ""),
                              r.error_message);
    }
    if (g.format() == output_format::table) {
        std::cout << fmt::format("Created {} ACL{}\n", created.size(), created.size() == 1 ? "" : "s");
        return;
    }
    print_result(g, created, {});
}

struct filter_args {
    resource_args resource;
    std::string principal, host, operation, permission;
};

// Kafka's AclBindingFilter from the options: what is not given matches all.
template <typename Filter>
void fill_filter(const filter_args& a, Filter& f) {
    const auto [type, name] = a.resource.resource();
    f.resource_type_filter = static_cast<int8_t>(type);
    f.resource_name_filter = name;
    f.pattern_type_filter = static_cast<int8_t>(parse_or_usage(
        security::parse_pattern_type(a.resource.pattern), "pattern type", a.resource.pattern,
        "any, match, literal or prefixed"));
    f.principal_filter = a.principal.empty() ? std::nullopt : std::optional(principal_of(a.principal));
    f.host_filter = a.host.empty() ? std::nullopt : std::optional(a.host);
    f.operation = static_cast<int8_t>(a.operation.empty() ? acl_operation::any : operation_of(a.operation));
    f.permission_type = static_cast<int8_t>(
        a.permission.empty() ? acl_permission::any
                             : parse_or_usage(security::parse_permission(a.permission), "permission", a.permission,
                                              "allow or deny"));
}

void acl_list(const global_options& g, const filter_args& a) {
    pm::describe_acls_request request;
    fill_filter(a, request);
    kafka_client client(g);
    auto response = client.call<pm::describe_acls_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "listing ACLs", response.error_message);
    json doc = json::array();
    table t{acl_headers, {}};
    for (const auto& r : response.resources) {
        for (const auto& d : r.acls) {
            auto acl = acl_json(static_cast<resource_type>(r.resource_type), r.resource_name,
                                static_cast<pattern_type>(r.pattern_type), d.principal, d.host,
                                static_cast<acl_operation>(d.operation), static_cast<acl_permission>(d.permission_type));
            t.rows.push_back(acl_row(acl));
            doc.push_back(std::move(acl));
        }
    }
    print_result(g, doc, t);
}

void acl_delete(const global_options& g, const filter_args& a) {
    // Deleting every ACL of the cluster by a slip of the keyboard is not
    // something a bare `strata acl delete` should do.
    if (a.resource.resource().first == resource_type::any && a.principal.empty())
        throw_usage("name what to delete", "a resource (--topic, --group, ...) and/or --principal");
    pm::delete_acls_request request;
    fill_filter(a, request.filters.emplace_back());
    kafka_client client(g);
    auto response = client.call_retrying<pm::delete_acls_response>(kafka_client::bootstrap_node, request);
    json doc = json::array();
    table t{acl_headers, {}};
    for (const auto& r : response.filter_results) {
        if (r.error_code != 0) throw_kafka_error(r.error_code, "deleting ACLs", r.error_message);
        for (const auto& m : r.matching_acls) {
            if (m.error_code != 0) throw_kafka_error(m.error_code, "deleting an ACL", m.error_message);
            auto acl = acl_json(static_cast<resource_type>(m.resource_type), m.resource_name,
                                static_cast<pattern_type>(m.pattern_type), m.principal, m.host,
                                static_cast<acl_operation>(m.operation), static_cast<acl_permission>(m.permission_type));
            t.rows.push_back(acl_row(acl));
            doc.push_back(std::move(acl));
        }
    }
    if (g.format() == output_format::table) {
        std::cout << fmt::format("Deleted {} ACL{}\n", t.rows.size(), t.rows.size() == 1 ? "" : "s");
        if (!t.rows.empty()) std::cout << render_table(t);
        return;
    }
    print_result(g, doc, t);
}

void add_filter_options(CLI::App* command, filter_args& a) {
    add_resource_options(command, a.resource, "any", {"any", "match", "literal", "prefixed"});
    command->add_option("--principal", a.principal, "Only this principal's ACLs (User:alice)");
    command->add_option("--host", a.host, "Only ACLs for this host");
    command->add_option("--operation", a.operation, "Only ACLs of this operation");
    command->add_option("--permission", a.permission, "Only ALLOW or DENY ACLs");
}

}  // namespace

void add_acl_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* acl = app.add_subcommand("acl", "Manage ACLs (enforced with authorizer.class.name; docs/security.md)");
    acl->require_subcommand(1);
    acl->footer(
        "Example:\n"
        "  strata acl create --allow-principal User:alice --operation read --operation describe --topic orders\n"
        "  strata acl create --allow-principal User:alice --operation read --group app- --resource-pattern-type "
        "prefixed\n"
        "  strata acl list --topic orders --resource-pattern-type match\n"
        "  strata acl delete --principal User:alice");

    auto ca = std::make_shared<create_args>();
    auto* create = acl->add_subcommand("create", "Create ACLs: each principal x each operation on one resource");
    add_resource_options(create, ca->resource, "literal", {"literal", "prefixed"});
    create->add_option("--allow-principal", ca->allow, "Allow this principal (User:alice; repeatable)");
    create->add_option("--deny-principal", ca->deny, "Deny this principal (repeatable; DENY beats ALLOW)");
    create->add_option("--operation", ca->operations, "READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, ALL, ... "
                                                      "(repeatable)")
        ->required();
    create->add_option("--host", ca->host, "The client host the ACL applies to")->default_val("*");
    create->footer("Example:\n  strata acl create --allow-principal User:alice --operation write --topic orders");
    create->callback([global, ca] { acl_create(*global, *ca); });

    auto la = std::make_shared<filter_args>();
    auto* list = acl->add_subcommand("list", "List ACLs (every one, or those matching the filters)");
    add_filter_options(list, *la);
    list->footer("Example:\n  strata acl list --topic orders --resource-pattern-type match -o json");
    list->callback([global, la] { acl_list(*global, *la); });

    auto da = std::make_shared<filter_args>();
    auto* del = acl->add_subcommand("delete", "Delete the ACLs matching the filters");
    add_filter_options(del, *da);
    del->footer("Example:\n  strata acl delete --principal User:bob --topic orders");
    del->callback([global, da] { acl_delete(*global, *da); });
}

}  // namespace strata::cli
