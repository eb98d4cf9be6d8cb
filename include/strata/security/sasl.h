// SASL on the server: one mechanism exchange per connection (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512), and the state a SASL listener keeps on each
// connection (sasl_session) so that the network layer can hold an
// unauthenticated peer to the pre-authentication limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "strata/security/principal.h"

namespace strata::security {

// The server side of one mechanism's exchange.
class sasl_exchange {
public:
    virtual ~sasl_exchange() = default;
    struct step {
        bool ok = false;        // false: authentication failed
        bool complete = false;  // the client is authenticated as `user`
        std::string response;   // the token for the client (may be empty)
        std::string error;      // on failure, for the log: never a password
    };
    virtual step evaluate(std::string_view token) = 0;
    // The authenticated (or claimed, for the log) user name.
    virtual const std::string& user() const = 0;
    // After a failed step: the message for the client (Kafka's
    // SaslAuthenticationException text); empty for Kafka's generic "invalid
    // credentials" one. Never a secret.
    virtual std::string client_error() const { return {}; }
    // Once complete: when the credential expires, in ms since the epoch
    // (an OAUTHBEARER token's exp); nullopt when it does not (Kafka's
    // CREDENTIAL_LIFETIME_MS negotiated property). Bounds the session.
    virtual std::optional<int64_t> credential_expiry_ms() const { return std::nullopt; }
    // Once complete: whether the client authenticated with a delegation
    // token (SCRAM's tokenauth extension, KIP-48) rather than a password.
    virtual bool token_authenticated() const { return false; }
};

// PLAIN (RFC 4616): "authzid NUL user NUL password", checked against
// `password_of` in constant time. An authzid other than the user is refused,
// as Kafka does.
using plain_lookup = std::function<std::optional<std::string>(const std::string& user)>;
std::unique_ptr<sasl_exchange> make_plain_exchange(plain_lookup password_of);

// Kafka's PlainLoginModule JAAS entry: the user_<name>="password" options
// (the broker's own username/password options are ignored). nullopt with
// `error` for text that is not one such entry.
std::optional<std::map<std::string, std::string>> parse_plain_jaas_users(std::string_view jaas, std::string& error);

// Per connection on a SASL listener. Owned through connection_info by the
// connection; read and written on the connection's thread only (the network
// layer reads `authenticated()`, the request pipeline drives the rest).
struct sasl_session {
    enum class stage {
        handshake,     // ApiVersions or SaslHandshake expected
        authenticate,  // SaslAuthenticate (or a raw token after a v0 handshake) expected
        complete,
        failed,
    };
    stage state = stage::handshake;
    bool raw_tokens = false;  // SaslHandshake v0: tokens without Kafka's request headers
    std::string mechanism;
    std::shared_ptr<sasl_exchange> exchange;
    principal authenticated_as;

    // KIP-368. When the session ends (connections.max.reauth.ms, or the
    // credential's expiry); none: it does not. A request other than a
    // re-authentication after this closes the connection.
    std::optional<std::chrono::steady_clock::time_point> expires;
    // A re-authentication is under way: the connection stays authenticated
    // as `authenticated_as` (state complete) while `exchange` runs; the new
    // exchange must use `mechanism` and end in the same principal.
    bool reauthenticating = false;
    std::string reauth_mechanism;  // the mechanism the re-authentication's handshake asked for
    std::optional<std::chrono::steady_clock::time_point> last_reauth_start;

    bool authenticated() const { return state == stage::complete; }
};

}  // namespace strata::security
