// SCRAM (RFC 5802, RFC 7677) as Kafka uses it: SCRAM-SHA-256 and
// SCRAM-SHA-512, credentials stored as (salt, StoredKey, ServerKey,
// iterations), never the password. The server side of one exchange, the
// client side (for the strata CLI), and the credential derivation that
// AlterUserScramCredentials clients and `stratad format --add-scram` use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::security {

using bytes = std::vector<uint8_t>;

// Kafka's ScramMechanism type codes (UserScramCredentialRecord.mechanism,
// AlterUserScramCredentials).
enum class scram_mechanism : int8_t { unknown = 0, sha_256 = 1, sha_512 = 2 };

std::optional<scram_mechanism> scram_mechanism_from_name(std::string_view name);  // "SCRAM-SHA-256"
std::string_view scram_mechanism_name(scram_mechanism mechanism);
// Kafka's minimum iterations (4096) and maximum (16384).
inline constexpr int32_t scram_min_iterations = 4096;
inline constexpr int32_t scram_max_iterations = 16384;

struct scram_credential {
    bytes salt;
    bytes stored_key;
    bytes server_key;
    int32_t iterations = 0;
};

// The primitives, exposed for the RFC test vectors.
bytes scram_hash(scram_mechanism m, const bytes& data);
bytes scram_hmac(scram_mechanism m, const bytes& key, std::string_view data);
// Hi() of RFC 5802: PBKDF2 with HMAC.
bytes scram_salted_password(scram_mechanism m, std::string_view password, const bytes& salt, int32_t iterations);
// From the salted password (what AlterUserScramCredentials carries).
scram_credential scram_credential_from_salted(scram_mechanism m, const bytes& salted_password, bytes salt,
                                              int32_t iterations);
scram_credential make_scram_credential(scram_mechanism m, std::string_view password, bytes salt, int32_t iterations);

bytes random_bytes(size_t n);
std::string base64_encode(const bytes& data);
std::optional<bytes> base64_decode(std::string_view text);

// KIP-48: a delegation token's HMAC, HmacSHA512 keyed with the UTF-8 bytes
// of `delegation.token.secret.key` over the token id's, as Kafka computes
// it. Its base64 form is the token's SCRAM password.
bytes delegation_token_hmac(std::string_view secret_key, std::string_view token_id);

// A delegation token as SCRAM sees it: the credential derived from its
// HMAC (as Kafka's DelegationTokenCache, at the mechanism's minimum
// iterations), whom it authenticates (its owner's name) and when it expires.
struct scram_token {
    scram_credential credential;
    std::string owner;
    int64_t expiry_ms = 0;
};

// The server side of one authentication. Messages are RFC 5802's; the
// username in client-first is decoded (=2C, =3D) before lookup. A
// client-first with Kafka's extension `tokenauth=true` (after the nonce)
// names a delegation token id instead of a user: the token's credential is
// checked and the exchange authenticates the token's owner.
class scram_server {
public:
    // Looks a user's credential up; nullopt for an unknown user.
    using lookup = std::function<std::optional<scram_credential>(const std::string& user)>;
    // Looks a live delegation token up by id; nullopt for an unknown or
    // expired one (or when tokens are disabled).
    using token_lookup = std::function<std::optional<scram_token>(const std::string& token_id)>;

    // `server_nonce` empty: random (tests pass RFC 7677's).
    scram_server(scram_mechanism mechanism, lookup find, std::string server_nonce = {}, token_lookup tokens = {});

    struct step {
        bool ok = false;
        bool complete = false;
        std::string response;  // the message for the client
        std::string error;     // on failure: why (never a secret), for the log
    };
    step evaluate(std::string_view message);
    // The authenticated user: the token's owner after a token exchange.
    const std::string& user() const { return _user; }
    bool token_authenticated() const { return _token_expiry_ms.has_value(); }
    std::optional<int64_t> token_expiry_ms() const { return _token_expiry_ms; }

private:
    step client_first(std::string_view message);
    step client_final(std::string_view message);

    scram_mechanism _mechanism;
    lookup _find;
    token_lookup _tokens;
    std::optional<int64_t> _token_expiry_ms;
    std::string _server_nonce;
    int _stage = 0;
    std::string _user;
    std::optional<scram_credential> _credential;
    std::string _client_first_bare;
    std::string _server_first;
    std::string _nonce;  // client nonce + server nonce
};

// The client side (strata CLI): first(), then final(server-first), then
// verify(server-final).
class scram_client {
public:
    scram_client(scram_mechanism mechanism, std::string user, std::string password, std::string client_nonce = {});
    // Authenticate with a delegation token (KIP-48): `user` is the token id,
    // `password` the base64 HMAC, and client-first carries tokenauth=true.
    void set_token_auth(bool on) { _token_auth = on; }
    std::string first();
    // nullopt with `error` set when the server's message is unusable.
    std::optional<std::string> final(std::string_view server_first, std::string& error);
    bool verify(std::string_view server_final, std::string& error) const;

private:
    scram_mechanism _mechanism;
    std::string _user;
    std::string _password;
    std::string _client_nonce;
    bool _token_auth = false;
    std::string _client_first_bare;
    bytes _server_signature;
};

}  // namespace strata::security

namespace strata::security {
class sasl_exchange;
// A SCRAM mechanism as a SASL exchange (sasl.h).
std::unique_ptr<sasl_exchange> make_scram_exchange(scram_mechanism m, scram_server::lookup find,
                                                   scram_server::token_lookup tokens = {});
}  // namespace strata::security
