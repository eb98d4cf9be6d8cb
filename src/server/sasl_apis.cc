#include "sasl_apis.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include "strata/common/log.h"
#include "strata/protocol/messages/sasl_authenticate_request.h"
#include "strata/protocol/messages/sasl_authenticate_response.h"
#include "strata/protocol/messages/sasl_handshake_request.h"
#include "strata/protocol/messages/sasl_handshake_response.h"
#include "strata/security/scram.h"

namespace strata::server {

namespace {

namespace asio = boost::asio;
namespace msg = protocol::messages;
using security::sasl_session;

const auto& sasl_log() {
    static const auto instance = log::get("security");
    return instance;
}

// Kafka holds back the answer to a failed authentication (and the close
// that follows) to slow down guessing.
asio::awaitable<void> delay_failure(const sasl_authenticator* authenticator) {
    if (!authenticator || authenticator->failure_delay().count() <= 0) co_return;
    asio::steady_timer timer(co_await asio::this_coro::executor, authenticator->failure_delay());
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// Never the token: it holds the password (PLAIN) or a proof (SCRAM).
void log_failure(const net::connection_info& connection, const sasl_session& session, const std::string& reason) {
    const auto& user = session.exchange ? session.exchange->user() : std::string();
    sasl_log()->warn("connection {} from {} on {}: failed authentication{} with {}: {}", connection.id,
                   connection.remote, connection.listener, user.empty() ? "" : " of user '" + user + "'",
                   session.mechanism, reason);
}

using steady = std::chrono::steady_clock;

// Kafka allows one re-authentication a second (KafkaChannel's
// MIN_REAUTH_INTERVAL_ONE_SECOND_NANOS); a sooner handshake is answered as
// on any authenticated connection.
constexpr auto min_reauth_interval = std::chrono::seconds(1);

bool can_begin_reauthentication(const sasl_session& session, steady::time_point now) {
    return session.authenticated() && !session.reauthenticating && session.expires &&
           (!session.last_reauth_start || now - *session.last_reauth_start >= min_reauth_interval);
}

// KIP-368's session lifetime (Kafka's calcCompletionTimesAndReturnSessionLifetimeMs):
// connections.max.reauth.ms, or the credential's remaining life, or the
// smaller of the two; 0 and no end when neither applies.
int64_t start_session(const sasl_authenticator* authenticator, const net::connection_info& connection,
                      sasl_session& session) {
    const auto credential = session.exchange->credential_expiry_ms();
    const int64_t max_reauth = authenticator ? authenticator->max_reauth_ms(connection.listener, session.mechanism) : 0;
    if (!credential && max_reauth <= 0) {
        session.expires.reset();
        return 0;
    }
    int64_t lifetime = max_reauth;
    if (credential) {
        const int64_t remaining = *credential - security::system_wall_clock_ms();
        lifetime = max_reauth > 0 ? std::min(remaining, max_reauth) : remaining;
    }
    lifetime = std::max<int64_t>(lifetime, 0);
    session.expires = steady::now() + std::chrono::milliseconds(lifetime);
    return lifetime;
}

int64_t complete(const sasl_authenticator* authenticator, const net::connection_info& connection,
                 sasl_session& session) {
    session.state = sasl_session::stage::complete;
    session.authenticated_as = security::principal{"User", session.exchange->user()};
    session.authenticated_as.token_authenticated = session.exchange->token_authenticated();
    const int64_t lifetime = start_session(authenticator, connection, session);
    session.exchange.reset();
    sasl_log()->info("connection {} from {} on {}: authenticated as {} with {}{}{}", connection.id, connection.remote,
                     connection.listener, session.authenticated_as.to_string(), session.mechanism,
                     session.authenticated_as.token_authenticated ? " (delegation token)" : "",
                     session.expires ? fmt::format(" (session lifetime {} ms)", lifetime) : std::string());
    return lifetime;
}

// Kafka's wording for a failure whose exchange gave no message of its own.
std::string failure_message(const sasl_session& session, bool reauthentication) {
    std::string own = session.exchange ? session.exchange->client_error() : std::string();
    if (!own.empty()) return own;
    return fmt::format("Authentication failed during {} due to invalid credentials with SASL mechanism {}",
                       reauthentication ? "re-authentication" : "authentication", session.mechanism);
}

asio::awaitable<msg::sasl_handshake_response> handle_handshake(const sasl_authenticator* authenticator,
                                                               request_context& ctx,
                                                               msg::sasl_handshake_request& request) {
    msg::sasl_handshake_response response;
    if (authenticator) response.mechanisms = authenticator->mechanisms();
    auto* session = ctx.connection.sasl.get();
    // KIP-368: a handshake on an authenticated connection whose session
    // ends begins a re-authentication (v1 handshakes: v0's raw tokens
    // cannot share a connection with requests).
    if (authenticator && session && ctx.version >= 1 && can_begin_reauthentication(*session, steady::now())) {
        session->last_reauth_start = steady::now();
        auto exchange = authenticator->start(ctx.connection.listener, request.mechanism);
        if (!exchange) {
            log_failure(ctx.connection, *session, "re-authentication with a mechanism that is not enabled");
            co_await delay_failure(authenticator);
            response.error_code = kafka_error_code(kafka_error::unsupported_sasl_mechanism);
            ctx.close_connection = true;
            co_return response;
        }
        session->reauthenticating = true;
        session->reauth_mechanism = request.mechanism;
        session->exchange = std::move(exchange);
        co_return response;
    }
    if (!authenticator || !session || session->state != sasl_session::stage::handshake) {
        // A listener without SASL, or a second handshake. Mid-exchange
        // Kafka also closes the connection.
        response.error_code = kafka_error_code(kafka_error::illegal_sasl_state);
        if (session && !session->authenticated()) ctx.close_connection = true;
        co_return response;
    }
    session->mechanism = request.mechanism;
    session->exchange = authenticator->start(ctx.connection.listener, request.mechanism);
    if (!session->exchange) {
        session->state = sasl_session::stage::failed;
        log_failure(ctx.connection, *session, "mechanism not enabled");
        co_await delay_failure(authenticator);
        response.error_code = kafka_error_code(kafka_error::unsupported_sasl_mechanism);
        ctx.close_connection = true;
        co_return response;
    }
    session->state = sasl_session::stage::authenticate;
    session->raw_tokens = ctx.version == 0;
    co_return response;
}

asio::awaitable<msg::sasl_authenticate_response> reauthenticate(const sasl_authenticator* authenticator,
                                                                request_context& ctx, sasl_session& session,
                                                                msg::sasl_authenticate_request& request);

asio::awaitable<msg::sasl_authenticate_response> handle_authenticate(const sasl_authenticator* authenticator,
                                                                     request_context& ctx,
                                                                     msg::sasl_authenticate_request& request) {
    msg::sasl_authenticate_response response;
    auto* session = ctx.connection.sasl.get();
    if (session && session->reauthenticating) co_return co_await reauthenticate(authenticator, ctx, *session, request);
    if (!session || session->state != sasl_session::stage::authenticate || session->raw_tokens) {
        response.error_code = kafka_error_code(kafka_error::illegal_sasl_state);
        response.error_message = session && session->authenticated()
                                     ? "SaslAuthenticate request received after successful authentication"
                                     : "Unexpected SaslAuthenticate request";
        if (session && !session->authenticated()) ctx.close_connection = true;
        co_return response;
    }
    const std::string_view token(reinterpret_cast<const char*>(request.auth_bytes.data()), request.auth_bytes.size());
    auto step = session->exchange->evaluate(token);
    if (!step.ok) {
        session->state = sasl_session::stage::failed;
        log_failure(ctx.connection, *session, step.error);
        co_await delay_failure(authenticator);
        response.error_code = kafka_error_code(kafka_error::sasl_authentication_failed);
        // Kafka's wording (nothing about which part was wrong), or the
        // mechanism's own message (OAUTHBEARER's error JSON).
        response.error_message = failure_message(*session, false);
        ctx.close_connection = true;
        co_return response;
    }
    response.auth_bytes.assign(step.response.begin(), step.response.end());
    if (step.complete) response.session_lifetime_ms = complete(authenticator, ctx.connection, *session);
    co_return response;
}

// One step of a KIP-368 re-authentication: the same mechanism, the same
// principal, or the connection is closed (Kafka's SaslServerAuthenticator).
asio::awaitable<msg::sasl_authenticate_response> reauthenticate(const sasl_authenticator* authenticator,
                                                                request_context& ctx, sasl_session& session,
                                                                msg::sasl_authenticate_request& request) {
    msg::sasl_authenticate_response response;
    const auto fail = [&](std::string message, const std::string& reason) {
        log_failure(ctx.connection, session, "re-authentication: " + reason);
        response.error_code = kafka_error_code(kafka_error::sasl_authentication_failed);
        response.error_message = std::move(message);
        ctx.close_connection = true;
        session.reauthenticating = false;
        session.state = sasl_session::stage::failed;
        session.exchange.reset();
    };
    if (session.reauth_mechanism != session.mechanism) {
        fail(fmt::format("SASL mechanism '{}' requested by client is not supported for re-authentication of "
                         "mechanism '{}'",
                         session.reauth_mechanism, session.mechanism),
             "another mechanism");
        co_await delay_failure(authenticator);
        co_return response;
    }
    const std::string_view token(reinterpret_cast<const char*>(request.auth_bytes.data()), request.auth_bytes.size());
    auto step = session.exchange->evaluate(token);
    if (!step.ok) {
        fail(failure_message(session, true), step.error);
        co_await delay_failure(authenticator);
        co_return response;
    }
    response.auth_bytes.assign(step.response.begin(), step.response.end());
    if (!step.complete) co_return response;
    const security::principal now_as{"User", session.exchange->user()};
    if (now_as != session.authenticated_as) {
        fail(fmt::format("Cannot change principals during re-authentication from {}.{}: {}.{}",
                         session.authenticated_as.type, session.authenticated_as.name, now_as.type, now_as.name),
             "a different principal (" + now_as.to_string() + ")");
        response.auth_bytes.clear();
        co_await delay_failure(authenticator);
        co_return response;
    }
    response.session_lifetime_ms = start_session(authenticator, ctx.connection, session);
    session.exchange.reset();
    session.reauthenticating = false;
    sasl_log()->info("connection {} from {} on {}: re-authenticated as {} with {} (session lifetime {} ms)",
                     ctx.connection.id, ctx.connection.remote, ctx.connection.listener,
                     session.authenticated_as.to_string(), session.mechanism, response.session_lifetime_ms);
    co_return response;
}

net::handler_result close_result() {
    net::handler_result result;
    result.close_connection = true;
    return result;
}

// After a v0 handshake the client sends bare tokens and gets bare answers
// (size-prefixed, no Kafka headers); a failure closes without an answer.
asio::awaitable<net::handler_result> raw_token(const sasl_authenticator* authenticator,
                                               const net::connection_info& connection,
                                               std::shared_ptr<const std::vector<uint8_t>> frame) {
    auto& session = *connection.sasl;
    const std::string_view token(reinterpret_cast<const char*>(frame->data()), frame->size());
    auto step = session.exchange->evaluate(token);
    if (!step.ok) {
        session.state = sasl_session::stage::failed;
        log_failure(connection, session, step.error);
        co_await delay_failure(authenticator);
        co_return close_result();
    }
    protocol::encoded_output out;
    out.bytes.assign(step.response.begin(), step.response.end());
    if (step.complete) complete(authenticator, connection, session);
    net::handler_result answer;
    answer.response = std::move(out);
    co_return answer;
}

asio::awaitable<net::handler_result> refuse(const net::connection_info& connection, int16_t key) {
    const auto* schema = protocol::find_api_schema(key);
    sasl_log()->warn("connection {} from {} on {}: {} (key {}) before authentication; closing", connection.id,
                   connection.remote, connection.listener, schema ? schema->name : "an unknown API", key);
    co_return close_result();
}

// KIP-48: a live token's SCRAM credential, derived from its HMAC (the
// password a token's holder presents) at the mechanism's minimum iterations
// with a fresh salt, as Kafka's DelegationTokenCache derives it. Unknown and
// expired tokens (past their expiry or maximum lifetime: the controller
// removes them only at its next check) authenticate nobody.
std::optional<security::scram_token> delegation_token_credential(
    const std::shared_ptr<const metadata::metadata_image>& image, const std::string& secret,
    security::scram_mechanism m, const std::string& token_id) {
    const auto* token = image ? image->delegation_token(token_id) : nullptr;
    if (!token) return std::nullopt;
    const int64_t now = security::system_wall_clock_ms();
    if (token->expiration_timestamp < now || token->max_timestamp < now) return std::nullopt;
    const auto password = security::base64_encode(security::delegation_token_hmac(secret, token_id));
    const auto colon = token->owner.find(':');
    return security::scram_token{
        security::make_scram_credential(m, password, security::random_bytes(32), security::scram_min_iterations),
        colon == std::string::npos ? token->owner : token->owner.substr(colon + 1), token->expiration_timestamp};
}

}  // namespace

std::shared_ptr<security::sasl_exchange> sasl_authenticator::start(const std::string& listener,
                                                                   const std::string& mechanism) const {
    if (std::find(_settings.mechanisms.begin(), _settings.mechanisms.end(), mechanism) == _settings.mechanisms.end())
        return nullptr;
    if (mechanism == "PLAIN") {
        auto found = _settings.plain_users.find(listener);
        std::map<std::string, std::string> users;
        if (found != _settings.plain_users.end()) users = found->second;
        return security::make_plain_exchange(
            [users = std::move(users)](const std::string& user) -> std::optional<std::string> {
                auto it = users.find(user);
                if (it == users.end()) return std::nullopt;
                return it->second;
            });
    }
    if (mechanism == "OAUTHBEARER") {
        auto found = _settings.oauthbearer.find(listener);
        if (found == _settings.oauthbearer.end() || !found->second) return nullptr;
        return security::make_oauthbearer_exchange(found->second);
    }
    const auto scram = security::scram_mechanism_from_name(mechanism);
    if (!scram) return nullptr;
    security::scram_server::token_lookup tokens;
    if (!_settings.delegation_token_secret_key.empty() && _settings.image) {
        tokens = [image_of = _settings.image, secret = _settings.delegation_token_secret_key,
                  m = *scram](const std::string& token_id) -> std::optional<security::scram_token> {
            return delegation_token_credential(image_of(), secret, m, token_id);
        };
    }
    return security::make_scram_exchange(
        *scram,
        [image_of = _settings.image, m = *scram](const std::string& user) -> std::optional<security::scram_credential> {
            if (!image_of) return std::nullopt;
            const auto image = image_of();
            const auto* record = image ? image->scram_credential(user, static_cast<int8_t>(m)) : nullptr;
            if (!record) return std::nullopt;
            return security::scram_credential{record->salt, record->stored_key, record->server_key,
                                              record->iterations};
        },
        std::move(tokens));
}

int64_t sasl_authenticator::max_reauth_ms(const std::string& listener, const std::string& mechanism) const {
    auto by_listener = _settings.max_reauth_ms.find(listener);
    if (by_listener == _settings.max_reauth_ms.end()) return 0;
    auto found = by_listener->second.find(mechanism);
    return found == by_listener->second.end() ? 0 : found->second;
}

void register_sasl_apis(request_dispatcher& dispatcher, const sasl_authenticator* authenticator) {
    dispatcher.register_api<msg::sasl_handshake_request>(
        [authenticator](request_context& ctx, msg::sasl_handshake_request& r) {
            return handle_handshake(authenticator, ctx, r);
        },
        0, 1);
    dispatcher.register_api<msg::sasl_authenticate_request>(
        [authenticator](request_context& ctx, msg::sasl_authenticate_request& r) {
            return handle_authenticate(authenticator, ctx, r);
        },
        0, 2);
}

std::optional<asio::awaitable<net::handler_result>> before_authentication(
    const sasl_authenticator* authenticator, const net::connection_info& connection,
    const std::shared_ptr<const std::vector<uint8_t>>& frame) {
    const auto& session = *connection.sasl;
    if (session.state == sasl_session::stage::authenticate && session.raw_tokens)
        return raw_token(authenticator, connection, frame);
    if (frame->size() < 4) return refuse(connection, -1);
    const auto key = static_cast<int16_t>((uint16_t{(*frame)[0]} << 8) | uint16_t{(*frame)[1]});
    const auto api = static_cast<protocol::api_key>(key);
    const bool handshake_stage = session.state == sasl_session::stage::handshake;
    if ((api == protocol::api_key::api_versions && handshake_stage) || api == protocol::api_key::sasl_handshake ||
        (api == protocol::api_key::sasl_authenticate && !handshake_stage))
        return std::nullopt;
    return refuse(connection, key);
}

std::optional<asio::awaitable<net::handler_result>> after_session_end(
    const net::connection_info& connection, const std::shared_ptr<const std::vector<uint8_t>>& frame) {
    const auto* session = connection.sasl.get();
    if (!session || !session->expires) return std::nullopt;
    const auto now = steady::now();
    if (now < *session->expires) return std::nullopt;
    if (frame->size() >= 2) {
        const auto api = static_cast<protocol::api_key>(static_cast<int16_t>((uint16_t{(*frame)[0]} << 8) |
                                                                             uint16_t{(*frame)[1]}));
        if (api == protocol::api_key::sasl_handshake && can_begin_reauthentication(*session, now)) return std::nullopt;
        if (api == protocol::api_key::sasl_authenticate && session->reauthenticating) return std::nullopt;
    }
    return [](const net::connection_info& connection) -> asio::awaitable<net::handler_result> {
        sasl_log()->info("connection {} from {} on {}: the SASL session of {} has ended without re-authentication "
                         "(KIP-368); closing",
                         connection.id, connection.remote, connection.listener,
                         connection.sasl->authenticated_as.to_string());
        co_return close_result();
    }(connection);
}

}  // namespace strata::server
