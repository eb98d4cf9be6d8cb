#include "sasl_apis.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

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

void complete(const net::connection_info& connection, sasl_session& session) {
    session.state = sasl_session::stage::complete;
    session.authenticated_as = security::principal{"User", session.exchange->user()};
    session.exchange.reset();
    sasl_log()->info("connection {} from {} on {}: authenticated as {} with {}", connection.id, connection.remote,
                   connection.listener, session.authenticated_as.to_string(), session.mechanism);
}

asio::awaitable<msg::sasl_handshake_response> handle_handshake(const sasl_authenticator* authenticator,
                                                               request_context& ctx,
                                                               msg::sasl_handshake_request& request) {
    msg::sasl_handshake_response response;
    if (authenticator) response.mechanisms = authenticator->mechanisms();
    auto* session = ctx.connection.sasl.get();
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

asio::awaitable<msg::sasl_authenticate_response> handle_authenticate(const sasl_authenticator* authenticator,
                                                                     request_context& ctx,
                                                                     msg::sasl_authenticate_request& request) {
    msg::sasl_authenticate_response response;
    auto* session = ctx.connection.sasl.get();
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
        // Kafka's wording; nothing about which part was wrong.
        response.error_message = "Authentication failed during authentication due to invalid credentials with SASL "
                                 "mechanism " + session->mechanism;
        ctx.close_connection = true;
        co_return response;
    }
    response.auth_bytes.assign(step.response.begin(), step.response.end());
    if (step.complete) complete(ctx.connection, *session);
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
    if (step.complete) complete(connection, session);
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
    const auto scram = security::scram_mechanism_from_name(mechanism);
    if (!scram) return nullptr;
    return security::make_scram_exchange(
        *scram, [image_of = _settings.image, m = *scram](const std::string& user)
                    -> std::optional<security::scram_credential> {
            if (!image_of) return std::nullopt;
            const auto image = image_of();
            const auto* record = image ? image->scram_credential(user, static_cast<int8_t>(m)) : nullptr;
            if (!record) return std::nullopt;
            return security::scram_credential{record->salt, record->stored_key, record->server_key,
                                              record->iterations};
        });
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

}  // namespace strata::server
