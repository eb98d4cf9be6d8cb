// CreateDelegationToken (38, v0-3), RenewDelegationToken (39, v0-2),
// ExpireDelegationToken (40, v0-2) and DescribeDelegationToken (41, v0-3):
// KIP-48's delegation tokens as Kafka 3.9's KRaft brokers and controllers
// serve them. Create, renew and expire are decided by the active controller
// (delegation_tokens.h) and committed as DelegationTokenRecord /
// RemoveDelegationTokenRecord, so every broker authenticates tokens from
// its own image; describe is answered from the image where it arrives.
//
// Kafka forwards these requests inside an Envelope that carries the
// client's principal; Strata forwards without one (admin_apis.h), so the
// broker that receives a request makes every check that needs the client's
// connection (KafkaApis' allowTokenRequests, CREATE_TOKENS) and passes the
// principal the controller decides for in a tagged field of the forwarded
// request (`forwarded_principal_tag`), which the controller believes only
// from a node holding CLUSTER_ACTION on a controller listener.
#include <algorithm>

#include "admin_apis.h"
#include "delegation_tokens.h"
#include "strata/common/log.h"
#include "strata/protocol/messages/create_delegation_token_request.h"
#include "strata/protocol/messages/create_delegation_token_response.h"
#include "strata/protocol/messages/describe_delegation_token_request.h"
#include "strata/protocol/messages/describe_delegation_token_response.h"
#include "strata/protocol/messages/expire_delegation_token_request.h"
#include "strata/protocol/messages/expire_delegation_token_response.h"
#include "strata/protocol/messages/renew_delegation_token_request.h"
#include "strata/protocol/messages/renew_delegation_token_response.h"
#include "strata/security/oauthbearer.h"
#include "strata/server/broker_config.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

// A tag no Kafka schema uses (theirs count up from 0): the principal
// ("User:alice") a forwarded token request is decided for.
constexpr uint32_t forwarded_principal_tag = 32767;

// Kafka's DelegationTokenManager.ErrorTimestamp: the timestamps of a
// request refused before it reached the controller.
constexpr int64_t error_timestamp = -1;

const auto& token_log() {
    static const auto instance = log::get("security");
    return instance;
}

delegation_token_config token_config(const admin_context& admin) {
    delegation_token_config config;
    if (!admin.broker) return config;
    config.secret_key = admin.broker->delegation_token_secret_key;
    config.max_lifetime_ms = admin.broker->delegation_token_max_lifetime_ms;
    config.expiry_time_ms = admin.broker->delegation_token_expiry_time_ms;
    return config;
}

// KafkaApis.allowTokenRequests: not over a connection authenticated with a
// token, nor one without authentication (PLAINTEXT, or SSL without a
// client certificate).
bool token_requests_allowed(const request_context& ctx) {
    const auto& principal = ctx.principal();
    if (principal.token_authenticated) return false;
    if (!ctx.connection.sasl && !ctx.connection.tls) return false;
    if (!ctx.connection.sasl && principal == security::principal{}) return false;
    return true;
}

// A request another node forwarded with the principal it is decided for:
// believed from a node allowed CLUSTER_ACTION, on a controller listener
// (so that no client, even where no authorizer is configured, can speak
// for another principal).
bool trusted_forward(const admin_context& admin, const request_context& ctx) {
    if (!forwarded(ctx)) return false;
    if (!authorized_or_forwarded(ctx, security::acl_operation::cluster_action, security::resource_type::cluster,
                                 security::cluster_resource_name))
        return false;
    if (!admin.broker) return true;
    const auto& names = admin.broker->controller_listener_names;
    return std::find(names.begin(), names.end(), ctx.connection.listener) != names.end();
}

template <typename Request>
void set_forwarded_principal(Request& request, const security::principal& principal) {
    std::erase_if(request.unknown_tags, [](const auto& t) { return t.tag == forwarded_principal_tag; });
    const auto text = principal.to_string();
    request.unknown_tags.push_back(protocol::tagged_field{forwarded_principal_tag, {text.begin(), text.end()}});
    std::sort(request.unknown_tags.begin(), request.unknown_tags.end(),
              [](const auto& a, const auto& b) { return a.tag < b.tag; });
}

template <typename Request>
std::optional<security::principal> forwarded_principal(const Request& request) {
    for (const auto& t : request.unknown_tags)
        if (t.tag == forwarded_principal_tag)
            return parse_principal(std::string_view(reinterpret_cast<const char*>(t.data.data()), t.data.size()));
    return std::nullopt;
}

int64_t now_ms() { return security::system_wall_clock_ms(); }

// ---- create -------------------------------------------------------------

msg::create_delegation_token_response create_refusal(kafka_error error, const security::principal& owner,
                                                     const security::principal& requester) {
    // CreateDelegationTokenResponse.prepareResponse's error form.
    msg::create_delegation_token_response response;
    response.error_code = kafka_error_code(error);
    response.principal_type = owner.type;
    response.principal_name = owner.name;
    response.token_requester_principal_type = requester.type;
    response.token_requester_principal_name = requester.name;
    response.issue_timestamp_ms = response.expiry_timestamp_ms = response.max_timestamp_ms = error_timestamp;
    return response;
}

security::principal owner_of(const msg::create_delegation_token_request& request, const security::principal& requester) {
    if (!request.owner_principal_name || request.owner_principal_name->empty()) return requester;
    return security::principal{request.owner_principal_type.value_or("User"), *request.owner_principal_name};
}

// On the active controller.
awaitable<msg::create_delegation_token_response> create_locally(admin_context& admin,
                                                                msg::create_delegation_token_request request) {
    const auto requester = forwarded_principal(request).value_or(security::principal{});
    const auto owner = owner_of(request, requester);
    std::vector<security::principal> renewers;
    for (const auto& r : request.renewers) renewers.push_back(security::principal{r.principal_type, r.principal_name});
    created_token created;
    const auto config = token_config(admin);
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image&) {
        created = create_delegation_token(config, owner, requester, renewers, request.max_lifetime_ms, now_ms(),
                                          protocol::uuid::random().to_string());
        return created.records;
    });
    msg::create_delegation_token_response response;
    response.principal_type = owner.type;
    response.principal_name = owner.name;
    response.token_requester_principal_type = requester.type;
    response.token_requester_principal_name = requester.name;
    if (created.error != kafka_error::none || error != kafka_error::none) {
        response.error_code = kafka_error_code(created.error != kafka_error::none ? created.error : error);
        co_return response;
    }
    response.issue_timestamp_ms = created.token.issue_timestamp;
    response.expiry_timestamp_ms = created.token.expiration_timestamp;
    response.max_timestamp_ms = created.token.max_timestamp;
    response.token_id = created.token.token_id;
    response.hmac = created.hmac;
    token_log()->info("delegation token {} created for {} by {}", created.token.token_id, created.token.owner,
                      created.token.requester);
    co_return response;
}

awaitable<msg::create_delegation_token_response> handle_create(admin_context& admin, request_context& ctx,
                                                               msg::create_delegation_token_request& request) {
    auto local = [&admin](msg::create_delegation_token_request r) { return create_locally(admin, std::move(r)); };
    if (forwarded(ctx)) {
        if (!trusted_forward(admin, ctx))
            co_return create_refusal(kafka_error::cluster_authorization_failed, security::principal{},
                                     security::principal{});
        co_return co_await on_controller<msg::create_delegation_token_response>(admin, &ctx, std::move(request),
                                                                                ctx.version, local);
    }
    const auto requester = ctx.principal();
    const auto owner = owner_of(request, requester);
    // KafkaApis' order: the connection, then CREATE_TOKENS on the owner
    // (creating for oneself needs none, KIP-373), then the renewers' type.
    if (!token_requests_allowed(ctx))
        co_return create_refusal(kafka_error::delegation_token_request_not_allowed, owner, requester);
    if (owner != requester &&
        !ctx.authorized(security::acl_operation::create_tokens, security::resource_type::user, owner.to_string()))
        co_return create_refusal(kafka_error::delegation_token_authorization_failed, owner, requester);
    for (const auto& r : request.renewers)
        if (r.principal_type != "User")
            co_return create_refusal(kafka_error::invalid_principal_type, owner, requester);
    // v3 names the owner, so the controller needs only the requester.
    request.owner_principal_type = owner.type;
    request.owner_principal_name = owner.name;
    set_forwarded_principal(request, requester);
    co_return co_await on_controller<msg::create_delegation_token_response>(admin, &ctx, std::move(request), 3,
                                                                            local);
}

// ---- renew, expire ------------------------------------------------------

template <typename Response>
Response expiry_refusal(kafka_error error) {
    Response response;
    response.error_code = kafka_error_code(error);
    response.expiry_timestamp_ms = error_timestamp;
    return response;
}

// Runs `decide` (renew or expire) on the active controller.
template <typename Response, typename Request, typename Decide>
awaitable<Response> change_expiry_locally(admin_context& admin, Request request, Decide decide) {
    const auto principal = forwarded_principal(request).value_or(security::principal{});
    changed_expiry changed;
    const auto config = token_config(admin);
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        changed = decide(image, config, principal, request);
        return changed.records;
    });
    Response response;
    response.error_code = kafka_error_code(changed.error != kafka_error::none ? changed.error : error);
    if (changed.error == kafka_error::none && error == kafka_error::none)
        response.expiry_timestamp_ms = changed.expiry_timestamp_ms;
    co_return response;
}

template <typename Response, typename Request, typename Local>
awaitable<Response> handle_expiry_change(admin_context& admin, request_context& ctx, Request& request, Local local,
                                         int16_t newest) {
    if (forwarded(ctx)) {
        if (!trusted_forward(admin, ctx)) co_return expiry_refusal<Response>(kafka_error::cluster_authorization_failed);
        co_return co_await on_controller<Response>(admin, &ctx, std::move(request), ctx.version, local);
    }
    if (!token_requests_allowed(ctx))
        co_return expiry_refusal<Response>(kafka_error::delegation_token_request_not_allowed);
    set_forwarded_principal(request, ctx.principal());
    co_return co_await on_controller<Response>(admin, &ctx, std::move(request), newest, local);
}

awaitable<msg::renew_delegation_token_response> handle_renew(admin_context& admin, request_context& ctx,
                                                             msg::renew_delegation_token_request& request) {
    auto local = [&admin](msg::renew_delegation_token_request r) {
        return change_expiry_locally<msg::renew_delegation_token_response>(
            admin, std::move(r),
            [](const metadata::metadata_image& image, const delegation_token_config& config,
               const security::principal& principal, const msg::renew_delegation_token_request& r) {
                return renew_delegation_token(image, config, r.hmac, principal, r.renew_period_ms, now_ms());
            });
    };
    co_return co_await handle_expiry_change<msg::renew_delegation_token_response>(admin, ctx, request, local, 2);
}

awaitable<msg::expire_delegation_token_response> handle_expire(admin_context& admin, request_context& ctx,
                                                               msg::expire_delegation_token_request& request) {
    auto local = [&admin](msg::expire_delegation_token_request r) {
        return change_expiry_locally<msg::expire_delegation_token_response>(
            admin, std::move(r),
            [](const metadata::metadata_image& image, const delegation_token_config& config,
               const security::principal& principal, const msg::expire_delegation_token_request& r) {
                auto out = expire_delegation_token(image, config, r.hmac, principal, r.expiry_time_period_ms, now_ms());
                if (out.error == kafka_error::none)
                    if (const auto* t = token_for_hmac(image, config, r.hmac))
                        token_log()->info("delegation token {} of {} expired by {}{}", t->token_id, t->owner,
                                          principal.to_string(), r.expiry_time_period_ms < 0 ? " (removed)" : "");
                return out;
            });
    };
    co_return co_await handle_expiry_change<msg::expire_delegation_token_response>(admin, ctx, request, local, 2);
}

// ---- describe -----------------------------------------------------------

void describe_token(const metadata::records::delegation_token_record& token, const delegation_token_config& config,
                    msg::describe_delegation_token_response::described_delegation_token& out) {
    const auto owner = parse_principal(token.owner);
    const auto requester = parse_principal(token.requester);
    out.principal_type = owner.type;
    out.principal_name = owner.name;
    out.token_requester_principal_type = requester.type;
    out.token_requester_principal_name = requester.name;
    out.issue_timestamp = token.issue_timestamp;
    out.expiry_timestamp = token.expiration_timestamp;
    out.max_timestamp = token.max_timestamp;
    out.token_id = token.token_id;
    out.hmac = security::delegation_token_hmac(config.secret_key, token.token_id);
    for (const auto& r : token.renewers) {
        const auto renewer = parse_principal(r);
        auto& o = out.renewers.emplace_back();
        o.principal_type = renewer.type;
        o.principal_name = renewer.name;
    }
}

awaitable<msg::describe_delegation_token_response> handle_describe(admin_context& admin, request_context& ctx,
                                                                   msg::describe_delegation_token_request& request) {
    msg::describe_delegation_token_response response;
    const auto config = token_config(admin);
    if (!token_requests_allowed(ctx)) {
        response.error_code = kafka_error_code(kafka_error::delegation_token_request_not_allowed);
        co_return response;
    }
    if (!config.enabled()) {
        response.error_code = kafka_error_code(kafka_error::delegation_token_auth_disabled);
        co_return response;
    }
    // An empty owners list asks for nothing; a null one for every token.
    if (request.owners && request.owners->empty()) co_return response;
    std::optional<std::vector<std::string>> owners;
    if (request.owners) {
        owners.emplace();
        for (const auto& o : *request.owners) owners->push_back(o.principal_type + ":" + o.principal_name);
    }
    const auto requester = ctx.principal();
    const auto image = admin.metadata.image();
    for (const auto& [id, token] : image->tokens()) {
        const bool visible = token_visible(token, requester, owners, [&ctx](const auto& t) {
            return ctx.authorized(security::acl_operation::describe, security::resource_type::delegation_token,
                                  t.token_id) ||
                   ctx.authorized(security::acl_operation::describe_tokens, security::resource_type::user, t.owner);
        });
        if (visible) describe_token(token, config, response.tokens.emplace_back());
    }
    co_return response;
}

}  // namespace

void register_delegation_token_apis(request_dispatcher& dispatcher, admin_context& admin) {
    dispatcher.register_api<msg::create_delegation_token_request>(
        [&admin](request_context& ctx, msg::create_delegation_token_request& r) { return handle_create(admin, ctx, r); },
        0, 3);
    dispatcher.register_api<msg::renew_delegation_token_request>(
        [&admin](request_context& ctx, msg::renew_delegation_token_request& r) { return handle_renew(admin, ctx, r); },
        0, 2);
    dispatcher.register_api<msg::expire_delegation_token_request>(
        [&admin](request_context& ctx, msg::expire_delegation_token_request& r) { return handle_expire(admin, ctx, r); },
        0, 2);
    dispatcher.register_api<msg::describe_delegation_token_request>(
        [&admin](request_context& ctx, msg::describe_delegation_token_request& r) {
            return handle_describe(admin, ctx, r);
        },
        0, 3);
}

}  // namespace strata::server
