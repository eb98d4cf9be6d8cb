// strata user create | list | delete: SCRAM credentials
// (AlterUserScramCredentials, DescribeUserScramCredentials), as Kafka's
// kafka-configs.sh --alter --add-config 'SCRAM-SHA-512=[password=...]'.
// The password is salted and hashed here (PBKDF2); only the salted
// password travels, and only StoredKey/ServerKey are stored.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "strata/protocol/messages/alter_user_scram_credentials_request.h"
#include "strata/protocol/messages/alter_user_scram_credentials_response.h"
#include "strata/protocol/messages/describe_user_scram_credentials_request.h"
#include "strata/protocol/messages/describe_user_scram_credentials_response.h"
#include "strata/security/scram.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

security::scram_mechanism mechanism_of(const std::string& name) {
    auto m = security::scram_mechanism_from_name(name);
    if (!m) throw_usage(fmt::format("unknown SCRAM mechanism '{}'", name), "SCRAM-SHA-256 or SCRAM-SHA-512");
    return *m;
}

void check_results(const pm::alter_user_scram_credentials_response& response, const std::string& what) {
    for (const auto& r : response.results) {
        if (r.error_code != 0) throw_kafka_error(r.error_code, what + " " + r.user, r.error_message);
    }
}

void user_create(const global_options& g, const std::string& name, const std::string& password,
                 const std::vector<std::string>& mechanisms, int32_t iterations) {
    pm::alter_user_scram_credentials_request request;
    for (const auto& mechanism : mechanisms) {
        const auto m = mechanism_of(mechanism);
        auto& u = request.upsertions.emplace_back();
        u.name = name;
        u.mechanism = static_cast<int8_t>(m);
        u.iterations = iterations;
        u.salt = security::random_bytes(16);
        u.salted_password = security::scram_salted_password(m, password, u.salt, iterations);
    }
    kafka_client client(g);
    check_results(client.call_retrying<pm::alter_user_scram_credentials_response>(kafka_client::bootstrap_node, request),
                  "creating user");
    if (g.format() == output_format::table) {
        std::cout << fmt::format("Created SCRAM credentials for user '{}'\n", name);
    } else {
        print_result(g, json{{"user", name}, {"mechanisms", mechanisms}, {"iterations", iterations}}, {});
    }
}

void user_delete(const global_options& g, const std::string& name, const std::vector<std::string>& mechanisms) {
    kafka_client client(g);
    std::vector<std::string> to_delete = mechanisms;
    if (to_delete.empty()) {
        // Every credential the user has.
        pm::describe_user_scram_credentials_request describe;
        describe.users.emplace().emplace_back().name = name;
        auto found = client.call<pm::describe_user_scram_credentials_response>(kafka_client::bootstrap_node, describe);
        if (found.error_code != 0) throw_kafka_error(found.error_code, "describing users", found.error_message);
        for (const auto& r : found.results) {
            if (r.error_code != 0) throw_kafka_error(r.error_code, "user " + name, r.error_message);
            for (const auto& c : r.credential_infos)
                to_delete.emplace_back(security::scram_mechanism_name(static_cast<security::scram_mechanism>(c.mechanism)));
        }
    }
    pm::alter_user_scram_credentials_request request;
    for (const auto& mechanism : to_delete) {
        auto& d = request.deletions.emplace_back();
        d.name = name;
        d.mechanism = static_cast<int8_t>(mechanism_of(mechanism));
    }
    check_results(client.call_retrying<pm::alter_user_scram_credentials_response>(kafka_client::bootstrap_node, request),
                  "deleting user");
    if (g.format() == output_format::table) std::cout << fmt::format("Deleted SCRAM credentials of user '{}'\n", name);
    else print_result(g, json{{"user", name}, {"deleted", to_delete}}, {});
}

void user_list(const global_options& g, const std::vector<std::string>& names) {
    pm::describe_user_scram_credentials_request request;
    if (names.empty()) {
        request.users.reset();  // every user
    } else {
        for (const auto& n : names) request.users->emplace_back().name = n;
    }
    kafka_client client(g);
    auto response = client.call<pm::describe_user_scram_credentials_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "describing users", response.error_message);
    table t{{"USER", "MECHANISM", "ITERATIONS"}, {}};
    json doc = json::array();
    for (const auto& r : response.results) {
        if (r.error_code != 0) throw_kafka_error(r.error_code, "user " + r.user, r.error_message);
        json credentials = json::array();
        for (const auto& c : r.credential_infos) {
            const auto mechanism =
                std::string(security::scram_mechanism_name(static_cast<security::scram_mechanism>(c.mechanism)));
            t.rows.push_back({r.user, mechanism, std::to_string(c.iterations)});
            credentials.push_back(json{{"mechanism", mechanism}, {"iterations", c.iterations}});
        }
        doc.push_back(json{{"user", r.user}, {"credentials", credentials}});
    }
    print_result(g, doc, t);
}

}  // namespace

void add_user_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* user = app.add_subcommand("user", "Manage SCRAM users (credentials stored in the cluster's metadata)");
    user->require_subcommand(1);
    user->footer("Example:\n  strata user create alice --password alice-secret\n  strata user list");

    struct create_args {
        std::string name, password;
        std::vector<std::string> mechanisms{"SCRAM-SHA-512"};
        int32_t iterations = 4096;
    };
    auto ca = std::make_shared<create_args>();
    auto* create = user->add_subcommand("create", "Create a user, or change its password");
    create->add_option("name", ca->name, "User name")->required();
    create->add_option("-p,--password", ca->password, "The password (or env STRATA_USER_PASSWORD)")
        ->envname("STRATA_USER_PASSWORD")
        ->required();
    create->add_option("-m,--mechanism", ca->mechanisms, "SCRAM-SHA-256 and/or SCRAM-SHA-512 (repeatable)")
        ->default_val(std::vector<std::string>{"SCRAM-SHA-512"});
    create->add_option("--iterations", ca->iterations, "PBKDF2 iterations")->check(CLI::Range(4096, 16384));
    create->callback([global, ca] { user_create(*global, ca->name, ca->password, ca->mechanisms, ca->iterations); });

    auto names = std::make_shared<std::vector<std::string>>();
    auto* list = user->add_subcommand("list", "List users and their SCRAM mechanisms");
    list->add_option("names", *names, "Only these users");
    list->callback([global, names] { user_list(*global, *names); });

    struct delete_args {
        std::string name;
        std::vector<std::string> mechanisms;
    };
    auto da = std::make_shared<delete_args>();
    auto* del = user->add_subcommand("delete", "Delete a user's SCRAM credentials");
    del->add_option("name", da->name, "User name")->required();
    del->add_option("-m,--mechanism", da->mechanisms, "Only this mechanism (default: every one)");
    del->callback([global, da] { user_delete(*global, da->name, da->mechanisms); });
}

}  // namespace strata::cli
