// SASL/OAUTHBEARER (RFC 7628, Kafka's KIP-255 and KIP-768) on the server:
// the client's initial response, the token validators Kafka's broker ships
// (the unsecured alg=none JWS validator that is its default, and a JWKS
// validator for RS256-signed JWTs whose keys come from a JWKS file), and
// the exchange that ties them together, answering a bad token with the
// RFC 7628 error JSON ({"status":"invalid_token"}) as Kafka does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "strata/security/sasl.h"

namespace strata::security {

// The client's first message: `n,[a=<authzid>],^Aauth=Bearer <token>^A[key=value^A]...^A`
// (^A is 0x01), Kafka's OAuthBearerClientInitialResponse grammar.
struct oauthbearer_initial_response {
    std::string authorization_id;  // empty when not given
    std::string token;
    std::map<std::string, std::string> extensions;  // every key=value but auth
};
// nullopt with `error` (Kafka's SaslException text) when malformed.
std::optional<oauthbearer_initial_response> parse_oauthbearer_initial_response(std::string_view message,
                                                                               std::string& error);

// A validated token (Kafka's OAuthBearerToken).
struct oauthbearer_token {
    std::string principal;
    int64_t lifetime_ms = 0;              // expiry, ms since the epoch (credential lifetime)
    std::optional<int64_t> start_ms;      // iat
    std::set<std::string> scope;
};

// A validator's answer: a token, or the RFC 7628 error fields.
struct oauthbearer_validation {
    std::optional<oauthbearer_token> token;
    std::string status = "invalid_token";  // or insufficient_scope
    std::optional<std::string> scope;      // the required scope, on insufficient_scope
    std::string reason;                    // for the broker's log
};
using oauthbearer_validator = std::function<oauthbearer_validation(std::string_view token)>;

// Wall-clock milliseconds since the epoch; injectable for tests.
using wall_clock_ms = std::function<int64_t()>;
int64_t system_wall_clock_ms();

// Kafka's OAuthBearerUnsecuredValidatorCallbackHandler options (the
// OAuthBearerLoginModule JAAS entry's unsecuredValidator* options).
struct unsecured_validator_options {
    std::string principal_claim_name = "sub";   // unsecuredValidatorPrincipalClaimName
    std::string scope_claim_name = "scope";     // unsecuredValidatorScopeClaimName
    std::vector<std::string> required_scope;    // unsecuredValidatorRequiredScope (space-separated)
    int32_t allowable_clock_skew_ms = 0;        // unsecuredValidatorAllowableClockSkewMs
};
// From the JAAS options; nullopt with `error` for a bad option value.
std::optional<unsecured_validator_options> unsecured_validator_options_from(
    const std::map<std::string, std::string>& jaas_options, std::string& error);
oauthbearer_validator make_unsecured_validator(unsecured_validator_options options,
                                               wall_clock_ms clock = system_wall_clock_ms);

// KIP-768's validator (OAuthBearerValidatorCallbackHandler) over a JWKS
// file: signed JWTs (RS256, RS384, RS512), `exp` and `iat` required, `nbf`
// honoured, the audience and issuer checked when configured.
struct jwks_validator_options {
    std::string jwks_file;                    // sasl.oauthbearer.jwks.endpoint.url, file:// stripped
    std::vector<std::string> expected_audience;  // sasl.oauthbearer.expected.audience
    std::string expected_issuer;              // sasl.oauthbearer.expected.issuer (empty: any)
    std::string sub_claim_name = "sub";       // sasl.oauthbearer.sub.claim.name
    std::string scope_claim_name = "scope";   // sasl.oauthbearer.scope.claim.name
    int32_t clock_skew_seconds = 30;          // sasl.oauthbearer.clock.skew.seconds
};
// Loads the key set now; nullptr with `error` when the file is unreadable
// or holds no usable RSA signing key (a start-up error, as in Kafka).
oauthbearer_validator make_jwks_validator(const jwks_validator_options& options, std::string& error,
                                          wall_clock_ms clock = system_wall_clock_ms);

// The exchange: validate the token; on failure answer the error JSON and
// fail once the client acknowledges it with a single 0x01, the message to
// the client being that JSON (Kafka's SaslAuthenticationException). An
// authorization id other than the token's principal is refused.
std::unique_ptr<sasl_exchange> make_oauthbearer_exchange(oauthbearer_validator validator);

// RFC 7628's error JSON, exactly as Kafka's OAuthBearerSaslServer writes it.
std::string oauthbearer_error_json(const std::string& status, const std::optional<std::string>& scope);

// base64url (RFC 4648 section 5), padding optional; also the standard
// alphabet. nullopt for anything else.
std::optional<std::string> base64url_decode(std::string_view text);
std::string base64url_encode(std::string_view data);

}  // namespace strata::security
