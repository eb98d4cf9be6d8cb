// strata token create | renew | expire | describe: KIP-48's delegation
// tokens (CreateDelegationToken v3, RenewDelegationToken, ExpireDelegationToken,
// DescribeDelegationToken), as Kafka's kafka-delegation-tokens.sh. The
// broker refuses them over PLAINTEXT and over token-authenticated
// connections: connect with --command-config (SASL or mutual TLS).
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "strata/protocol/messages/create_delegation_token_request.h"
#include "strata/protocol/messages/create_delegation_token_response.h"
#include "strata/protocol/messages/describe_delegation_token_request.h"
#include "strata/protocol/messages/describe_delegation_token_response.h"
#include "strata/protocol/messages/expire_delegation_token_request.h"
#include "strata/protocol/messages/expire_delegation_token_response.h"
#include "strata/protocol/messages/renew_delegation_token_request.h"
#include "strata/protocol/messages/renew_delegation_token_response.h"
#include "strata/security/scram.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

// "User:alice" -> (User, alice).
std::pair<std::string, std::string> token_principal_of(const std::string& text) {
    const auto colon = text.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        throw_usage(fmt::format("'{}' is not a principal", text), "Type:name, e.g. User:alice");
    return {text.substr(0, colon), text.substr(colon + 1)};
}

security::bytes token_hmac_of(const std::string& text) {
    auto decoded = security::base64_decode(text);
    if (!decoded || decoded->empty()) throw_usage("--hmac is not base64", "the HMAC `strata token create` printed");
    return *decoded;
}

std::string token_time(int64_t ms) {
    if (ms < 0) return std::to_string(ms);
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
}

struct token_create_args {
    std::string owner;
    std::vector<std::string> renewers;
    int64_t max_lifetime_ms = -1;
};

void token_create(const global_options& g, const token_create_args& a) {
    pm::create_delegation_token_request request;
    request.owner_principal_type.reset();
    request.owner_principal_name.reset();
    if (!a.owner.empty()) {
        auto [type, name] = token_principal_of(a.owner);
        request.owner_principal_type = type;
        request.owner_principal_name = name;
    }
    for (const auto& r : a.renewers) {
        auto [type, name] = token_principal_of(r);
        auto& out = request.renewers.emplace_back();
        out.principal_type = type;
        out.principal_name = name;
    }
    request.max_lifetime_ms = a.max_lifetime_ms;
    kafka_client client(g);
    const auto response = client.call_retrying<pm::create_delegation_token_response>(kafka_client::bootstrap_node,
                                                                                     request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "creating a delegation token", std::nullopt);
    const auto hmac = security::base64_encode(response.hmac);
    table t{{"TOKEN_ID", "HMAC", "OWNER", "REQUESTER", "ISSUED", "EXPIRES", "MAX"}, {}};
    t.rows.push_back({response.token_id, hmac, response.principal_type + ":" + response.principal_name,
                      response.token_requester_principal_type + ":" + response.token_requester_principal_name,
                      token_time(response.issue_timestamp_ms), token_time(response.expiry_timestamp_ms),
                      token_time(response.max_timestamp_ms)});
    print_result(g,
                 json{{"token_id", response.token_id},
                      {"hmac", hmac},
                      {"owner", response.principal_type + ":" + response.principal_name},
                      {"requester", response.token_requester_principal_type + ":" +
                                        response.token_requester_principal_name},
                      {"issue_timestamp_ms", response.issue_timestamp_ms},
                      {"expiry_timestamp_ms", response.expiry_timestamp_ms},
                      {"max_timestamp_ms", response.max_timestamp_ms}},
                 t);
}

template <typename Response, typename Request>
void change_expiry(const global_options& g, Request request, const char* what) {
    kafka_client client(g);
    const auto response = client.call_retrying<Response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, what, std::nullopt);
    if (g.format() == output_format::table)
        std::cout << fmt::format("The token now expires at {}\n", token_time(response.expiry_timestamp_ms));
    else
        print_result(g, json{{"expiry_timestamp_ms", response.expiry_timestamp_ms}}, {});
}

void token_describe(const global_options& g, const std::vector<std::string>& owners) {
    pm::describe_delegation_token_request request;
    if (owners.empty()) {
        request.owners.reset();  // every token the principal may see
    } else {
        for (const auto& o : owners) {
            auto [type, name] = token_principal_of(o);
            auto& out = request.owners->emplace_back();
            out.principal_type = type;
            out.principal_name = name;
        }
    }
    kafka_client client(g);
    const auto response = client.call<pm::describe_delegation_token_response>(kafka_client::bootstrap_node, request);
    if (response.error_code != 0) throw_kafka_error(response.error_code, "describing delegation tokens", std::nullopt);
    table t{{"TOKEN_ID", "HMAC", "OWNER", "REQUESTER", "RENEWERS", "ISSUED", "EXPIRES", "MAX"}, {}};
    json doc = json::array();
    for (const auto& token : response.tokens) {
        std::vector<std::string> renewers;
        for (const auto& r : token.renewers) renewers.push_back(r.principal_type + ":" + r.principal_name);
        const auto hmac = security::base64_encode(token.hmac);
        const auto owner = token.principal_type + ":" + token.principal_name;
        const auto requester = token.token_requester_principal_type + ":" + token.token_requester_principal_name;
        t.rows.push_back({token.token_id, hmac, owner, requester, fmt::format("{}", fmt::join(renewers, ",")),
                          token_time(token.issue_timestamp), token_time(token.expiry_timestamp),
                          token_time(token.max_timestamp)});
        doc.push_back(json{{"token_id", token.token_id},
                           {"hmac", hmac},
                           {"owner", owner},
                           {"requester", requester},
                           {"renewers", renewers},
                           {"issue_timestamp_ms", token.issue_timestamp},
                           {"expiry_timestamp_ms", token.expiry_timestamp},
                           {"max_timestamp_ms", token.max_timestamp}});
    }
    print_result(g, doc, t);
}

}  // namespace

void add_token_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* token = app.add_subcommand("token", "Manage delegation tokens (KIP-48)");
    token->require_subcommand(1);
    token->footer(
        "Example:\n"
        "  strata --command-config alice.properties token create --renewer User:etl\n"
        "  strata --command-config alice.properties token renew --hmac <HMAC> --renew-time-period -1\n"
        "  strata --command-config alice.properties token describe --owner-principal User:alice");

    auto ca = std::make_shared<token_create_args>();
    auto* create = token->add_subcommand("create", "Create a token (for yourself, or --owner-principal)");
    create->add_option("--owner-principal", ca->owner,
                       "Create it for this principal (needs CREATE_TOKENS on that User resource)");
    create->add_option("--renewer-principal,--renewer", ca->renewers, "A principal that may renew it (repeatable)");
    create->add_option("--max-life-time-period", ca->max_lifetime_ms,
                       "Its maximum lifetime in ms (-1: delegation.token.max.lifetime.ms)");
    create->callback([global, ca] { token_create(*global, *ca); });

    struct expiry_args {
        std::string hmac;
        int64_t period = -1;
    };
    auto ra = std::make_shared<expiry_args>();
    auto* renew = token->add_subcommand("renew", "Renew a token (its owner or a renewer)");
    renew->add_option("--hmac", ra->hmac, "The token's HMAC (base64)")->required();
    renew->add_option("--renew-time-period", ra->period,
                      "Renew for this many ms (-1: delegation.token.expiry.time.ms)");
    renew->callback([global, ra] {
        pm::renew_delegation_token_request request;
        request.hmac = token_hmac_of(ra->hmac);
        request.renew_period_ms = ra->period;
        change_expiry<pm::renew_delegation_token_response>(*global, request, "renewing the token");
    });

    auto ea = std::make_shared<expiry_args>();
    auto* expire = token->add_subcommand("expire", "Expire a token (its owner or a renewer)");
    expire->add_option("--hmac", ea->hmac, "The token's HMAC (base64)")->required();
    expire->add_option("--expiry-time-period", ea->period, "Expire it in this many ms (-1: now, and remove it)");
    expire->callback([global, ea] {
        pm::expire_delegation_token_request request;
        request.hmac = token_hmac_of(ea->hmac);
        request.expiry_time_period_ms = ea->period;
        change_expiry<pm::expire_delegation_token_response>(*global, request, "expiring the token");
    });

    auto owners = std::make_shared<std::vector<std::string>>();
    auto* describe = token->add_subcommand("describe", "List the tokens you own, renew or may describe");
    describe->add_option("--owner-principal", *owners, "Only tokens of this owner (repeatable)");
    describe->callback([global, owners] { token_describe(*global, *owners); });
}

}  // namespace strata::cli
