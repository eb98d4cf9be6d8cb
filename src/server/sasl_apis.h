// SASL authentication in the request pipeline: SaslHandshake (17, v0-1) and
// SaslAuthenticate (36, v0-2) as Kafka 3.9 serves them, the raw token
// exchange that follows a v0 handshake, and what a SASL connection may send
// before it has authenticated. Mechanisms: PLAIN (users from the
// configuration), SCRAM-SHA-256/512 (credentials from the metadata
// image, i.e. UserScramCredentialRecords committed through the quorum) and
// OAUTHBEARER (a token validator per listener). KIP-368: the session's
// lifetime, re-authentication on a live connection, and the close of a
// connection whose session has ended.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "request_dispatcher.h"
#include "strata/metadata/image.h"
#include "strata/security/oauthbearer.h"
#include "strata/security/sasl.h"

namespace strata::server {

struct sasl_settings {
    std::vector<std::string> mechanisms;  // sasl.enabled.mechanisms, in order
    // PLAIN users by listener name.
    std::map<std::string, std::map<std::string, std::string>> plain_users;
    std::chrono::milliseconds failure_delay{100};  // connection.failed.authentication.delay.ms
    // The current metadata image (SCRAM credentials); null: no SCRAM users.
    std::function<std::shared_ptr<const metadata::metadata_image>()> image;
    // delegation.token.secret.key (KIP-48); empty: delegation tokens are
    // disabled and SCRAM's tokenauth exchanges fail.
    std::string delegation_token_secret_key;
    // OAUTHBEARER's token validator by listener name (when it is enabled).
    std::map<std::string, security::oauthbearer_validator> oauthbearer;
    // KIP-368: connections.max.reauth.ms by listener name, then mechanism;
    // absent or <= 0: sessions do not end (but for an expiring credential).
    std::map<std::string, std::map<std::string, int64_t>> max_reauth_ms;
};

// Immutable after construction; used from every network thread.
class sasl_authenticator {
public:
    explicit sasl_authenticator(sasl_settings settings) : _settings(std::move(settings)) {}

    const std::vector<std::string>& mechanisms() const { return _settings.mechanisms; }
    std::chrono::milliseconds failure_delay() const { return _settings.failure_delay; }
    // The exchange for `mechanism` on `listener`; null when not enabled.
    std::shared_ptr<security::sasl_exchange> start(const std::string& listener, const std::string& mechanism) const;
    int64_t max_reauth_ms(const std::string& listener, const std::string& mechanism) const;

private:
    sasl_settings _settings;
};

// Registers SaslHandshake and SaslAuthenticate. With a null authenticator
// (no SASL listener) both answer ILLEGAL_SASL_STATE, as Kafka's broker does
// on a listener without SASL.
void register_sasl_apis(request_dispatcher& dispatcher, const sasl_authenticator* authenticator);

// The pre-authentication stage of the pipeline, for a connection whose SASL
// exchange is not complete: a raw token after a v0 handshake is answered
// here; otherwise only ApiVersions (before the handshake), SaslHandshake
// and SaslAuthenticate (after it) may pass, and anything else closes the
// connection without being parsed. nullopt: let the request through.
std::optional<boost::asio::awaitable<net::handler_result>> before_authentication(
    const sasl_authenticator* authenticator, const net::connection_info& connection,
    const std::shared_ptr<const std::vector<uint8_t>>& frame);

// KIP-368, for an authenticated SASL connection: a session past its end
// may only begin a re-authentication (SaslHandshake) or carry on with one
// (SaslAuthenticate); any other request closes the connection, unparsed,
// as Kafka closes an expired channel. nullopt: let the request through.
std::optional<boost::asio::awaitable<net::handler_result>> after_session_end(
    const net::connection_info& connection, const std::shared_ptr<const std::vector<uint8_t>>& frame);

}  // namespace strata::server
