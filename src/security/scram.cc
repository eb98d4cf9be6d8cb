#include "strata/security/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace strata::security {

namespace {

const EVP_MD* digest(scram_mechanism m) {
    return m == scram_mechanism::sha_512 ? EVP_sha512() : EVP_sha256();
}

// RFC 5802's saslname: ',' and '=' travel as =2C and =3D.
std::optional<std::string> decode_saslname(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '=') {
            out += s[i];
            continue;
        }
        if (s.substr(i, 3) == "=2C") out += ',';
        else if (s.substr(i, 3) == "=3D") out += '=';
        else return std::nullopt;
        i += 2;
    }
    return out;
}

std::string encode_saslname(std::string_view s) {
    std::string out;
    for (char ch : s) {
        if (ch == ',') out += "=2C";
        else if (ch == '=') out += "=3D";
        else out += ch;
    }
    return out;
}

// "a=1,b=2" -> the value of attribute `key` among the comma-separated ones.
std::optional<std::string_view> attribute(std::string_view message, char key) {
    size_t pos = 0;
    while (pos <= message.size()) {
        const size_t end = std::min(message.find(',', pos), message.size());
        const auto part = message.substr(pos, end - pos);
        if (part.size() >= 2 && part[0] == key && part[1] == '=') return part.substr(2);
        pos = end + 1;
    }
    return std::nullopt;
}

// Kafka's SCRAM extensions (KIP-84/KIP-48) follow the nonce in
// client-first-bare as key=value attributes; `tokenauth` is the only one it
// knows (the others are ignored), true when Java's Boolean.parseBoolean says
// so (any case of "true").
bool token_extension(std::string_view bare) {
    size_t pos = bare.find(",r=");
    if (pos == std::string_view::npos) return false;
    pos = bare.find(',', pos + 3);
    while (pos != std::string_view::npos) {
        const size_t end = std::min(bare.find(',', pos + 1), bare.size());
        const auto part = bare.substr(pos + 1, end - pos - 1);
        if (part.rfind("tokenauth=", 0) == 0) {
            const auto value = part.substr(10);
            return value.size() == 4 && (value[0] | 0x20) == 't' && (value[1] | 0x20) == 'r' &&
                   (value[2] | 0x20) == 'u' && (value[3] | 0x20) == 'e';
        }
        pos = end < bare.size() ? end : std::string_view::npos;
    }
    return false;
}

// A printable nonce: base64 of random bytes without ',' (base64 has none).
std::string make_nonce() {
    return base64_encode(random_bytes(24));
}

bool equal_constant_time(const bytes& a, const bytes& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<scram_mechanism> scram_mechanism_from_name(std::string_view name) {
    if (name == "SCRAM-SHA-256") return scram_mechanism::sha_256;
    if (name == "SCRAM-SHA-512") return scram_mechanism::sha_512;
    return std::nullopt;
}

std::string_view scram_mechanism_name(scram_mechanism mechanism) {
    switch (mechanism) {
        case scram_mechanism::sha_256: return "SCRAM-SHA-256";
        case scram_mechanism::sha_512: return "SCRAM-SHA-512";
        default: return "UNKNOWN";
    }
}

bytes scram_hash(scram_mechanism m, const bytes& data) {
    bytes out(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (!EVP_Digest(data.data(), data.size(), out.data(), &size, digest(m), nullptr))
        throw std::runtime_error("EVP_Digest failed");
    out.resize(size);
    return out;
}

bytes scram_hmac(scram_mechanism m, const bytes& key, std::string_view data) {
    bytes out(EVP_MAX_MD_SIZE);
    unsigned int size = 0;
    if (!HMAC(digest(m), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
              data.size(), out.data(), &size))
        throw std::runtime_error("HMAC failed");
    out.resize(size);
    return out;
}

bytes scram_salted_password(scram_mechanism m, std::string_view password, const bytes& salt, int32_t iterations) {
    bytes out(static_cast<size_t>(EVP_MD_get_size(digest(m))));
    if (!PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, digest(m), static_cast<int>(out.size()),
                           out.data()))
        throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
    return out;
}

scram_credential scram_credential_from_salted(scram_mechanism m, const bytes& salted_password, bytes salt,
                                              int32_t iterations) {
    scram_credential c;
    c.salt = std::move(salt);
    c.iterations = iterations;
    c.stored_key = scram_hash(m, scram_hmac(m, salted_password, "Client Key"));
    c.server_key = scram_hmac(m, salted_password, "Server Key");
    return c;
}

scram_credential make_scram_credential(scram_mechanism m, std::string_view password, bytes salt, int32_t iterations) {
    const auto salted = scram_salted_password(m, password, salt, iterations);
    return scram_credential_from_salted(m, salted, std::move(salt), iterations);
}

bytes delegation_token_hmac(std::string_view secret_key, std::string_view token_id) {
    bytes out(static_cast<size_t>(EVP_MD_get_size(EVP_sha512())));
    unsigned int length = 0;
    if (!HMAC(EVP_sha512(), secret_key.data(), static_cast<int>(secret_key.size()),
              reinterpret_cast<const unsigned char*>(token_id.data()), token_id.size(), out.data(), &length))
        throw std::runtime_error("HMAC failed");
    out.resize(length);
    return out;
}

bytes random_bytes(size_t n) {
    bytes out(n);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
    return out;
}

std::string base64_encode(const bytes& data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<size_t>(n));
    return out;
}

std::optional<bytes> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    bytes out(text.size() / 4 * 3 + 1);
    const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    size_t size = static_cast<size_t>(n);
    // EVP_DecodeBlock counts the padding as zero bytes.
    if (!text.empty() && text.back() == '=') --size;
    if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
    out.resize(size);
    return out;
}

// ---- server ----

scram_server::scram_server(scram_mechanism mechanism, lookup find, std::string server_nonce, token_lookup tokens)
    : _mechanism(mechanism), _find(std::move(find)), _tokens(std::move(tokens)), _server_nonce(std::move(server_nonce)) {
    if (_server_nonce.empty()) _server_nonce = make_nonce();
}

scram_server::step scram_server::evaluate(std::string_view message) {
    if (_stage == 0) return client_first(message);
    if (_stage == 1) return client_final(message);
    return step{false, false, {}, "unexpected message after the exchange ended"};
}

scram_server::step scram_server::client_first(std::string_view message) {
    _stage = 2;  // failed unless set otherwise below
    // gs2-header: "n,," (no channel binding; "y,," a client that could
    // bind but thinks we cannot), optionally with a=authzid.
    if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',')
        return {false, false, {}, "client-first: channel binding is not supported"};
    const size_t second_comma = message.find(',', 2);
    if (second_comma == std::string_view::npos) return {false, false, {}, "client-first: malformed gs2 header"};
    const auto authzid = message.substr(2, second_comma - 2);
    _client_first_bare = std::string(message.substr(second_comma + 1));
    const auto name = attribute(_client_first_bare, 'n');
    const auto nonce = attribute(_client_first_bare, 'r');
    if (!name || !nonce || nonce->empty() || _client_first_bare.rfind("n=", 0) != 0)
        return {false, false, {}, "client-first: missing username or nonce"};
    const auto user = decode_saslname(*name);
    if (!user || user->empty()) return {false, false, {}, "client-first: invalid username"};
    if (!authzid.empty() && authzid != "a=" + encode_saslname(*user))
        return {false, false, {}, "client-first: authorization id differs from the username"};
    _user = *user;
    if (token_extension(_client_first_bare)) {
        auto token = _tokens ? _tokens(_user) : std::nullopt;
        if (!token) return {false, false, {}, "unknown or expired delegation token"};
        _credential = std::move(token->credential);
        _user = std::move(token->owner);  // Kafka's authorizationId: the token's owner
        _token_expiry_ms = token->expiry_ms;
    } else {
        _credential = _find(_user);
        if (!_credential) return {false, false, {}, "unknown user"};
    }
    _nonce = std::string(*nonce) + _server_nonce;
    _server_first = "r=" + _nonce + ",s=" + base64_encode(_credential->salt) + ",i=" +
                    std::to_string(_credential->iterations);
    _stage = 1;
    return {true, false, _server_first, {}};
}

scram_server::step scram_server::client_final(std::string_view message) {
    _stage = 2;
    const size_t proof_at = message.find(",p=");
    if (proof_at == std::string_view::npos) return {false, false, {}, "client-final: no proof"};
    const auto without_proof = message.substr(0, proof_at);
    const auto channel = attribute(without_proof, 'c');
    const auto nonce = attribute(without_proof, 'r');
    const auto proof = base64_decode(message.substr(proof_at + 3));
    if (!channel || !nonce || !proof) return {false, false, {}, "client-final: malformed"};
    // Kafka only checks that the nonce ends with the server-first's: librdkafka
    // sends its own nonce before the combined one.
    if (nonce->size() < _nonce.size() || nonce->substr(nonce->size() - _nonce.size()) != _nonce)
        return {false, false, {}, "client-final: nonce mismatch"};
    const auto binding = base64_decode(*channel);
    if (!binding || binding->empty() || ((*binding)[0] != 'n' && (*binding)[0] != 'y'))
        return {false, false, {}, "client-final: unsupported channel binding"};
    const std::string auth_message = _client_first_bare + "," + _server_first + "," + std::string(without_proof);
    const auto client_signature = scram_hmac(_mechanism, _credential->stored_key, auth_message);
    if (proof->size() != client_signature.size()) return {false, false, {}, "client-final: wrong proof length"};
    bytes client_key(client_signature.size());
    for (size_t i = 0; i < client_key.size(); ++i) client_key[i] = (*proof)[i] ^ client_signature[i];
    if (!equal_constant_time(scram_hash(_mechanism, client_key), _credential->stored_key))
        return {false, false, {}, "invalid credentials"};
    const auto server_signature = scram_hmac(_mechanism, _credential->server_key, auth_message);
    _stage = 3;
    return {true, true, "v=" + base64_encode(server_signature), {}};
}

// ---- client ----

scram_client::scram_client(scram_mechanism mechanism, std::string user, std::string password,
                           std::string client_nonce)
    : _mechanism(mechanism),
      _user(std::move(user)),
      _password(std::move(password)),
      _client_nonce(client_nonce.empty() ? make_nonce() : std::move(client_nonce)) {}

std::string scram_client::first() {
    _client_first_bare = "n=" + encode_saslname(_user) + ",r=" + _client_nonce;
    if (_token_auth) _client_first_bare += ",tokenauth=true";
    return "n,," + _client_first_bare;
}

std::optional<std::string> scram_client::final(std::string_view server_first, std::string& error) {
    const auto nonce = attribute(server_first, 'r');
    const auto salt_text = attribute(server_first, 's');
    const auto iterations_text = attribute(server_first, 'i');
    if (!nonce || !salt_text || !iterations_text) {
        error = "malformed server-first message";
        return std::nullopt;
    }
    if (nonce->substr(0, _client_nonce.size()) != _client_nonce || nonce->size() <= _client_nonce.size()) {
        error = "the server's nonce does not extend ours";
        return std::nullopt;
    }
    const auto salt = base64_decode(*salt_text);
    int32_t iterations = 0;
    try {
        iterations = std::stoi(std::string(*iterations_text));
    } catch (...) {
    }
    if (!salt || iterations < scram_min_iterations) {
        error = "bad salt or too few iterations in server-first message";
        return std::nullopt;
    }
    const std::string without_proof = "c=biws,r=" + std::string(*nonce);
    const std::string auth_message = _client_first_bare + "," + std::string(server_first) + "," + without_proof;
    const auto salted = scram_salted_password(_mechanism, _password, *salt, iterations);
    const auto client_key = scram_hmac(_mechanism, salted, "Client Key");
    const auto stored_key = scram_hash(_mechanism, client_key);
    const auto client_signature = scram_hmac(_mechanism, stored_key, auth_message);
    bytes proof(client_key.size());
    for (size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ client_signature[i];
    _server_signature = scram_hmac(_mechanism, scram_hmac(_mechanism, salted, "Server Key"), auth_message);
    return without_proof + ",p=" + base64_encode(proof);
}

bool scram_client::verify(std::string_view server_final, std::string& error) const {
    if (auto e = attribute(server_final, 'e')) {
        error = "server error: " + std::string(*e);
        return false;
    }
    const auto v = attribute(server_final, 'v');
    const auto signature = v ? base64_decode(*v) : std::nullopt;
    if (!signature || !equal_constant_time(*signature, _server_signature)) {
        error = "the server's signature does not match";
        return false;
    }
    return true;
}

}  // namespace strata::security

#include "strata/security/sasl.h"

namespace strata::security {

namespace {

class scram_exchange final : public sasl_exchange {
public:
    scram_exchange(scram_mechanism m, scram_server::lookup find, scram_server::token_lookup tokens)
        : _server(m, std::move(find), {}, std::move(tokens)) {}
    step evaluate(std::string_view token) override {
        auto s = _server.evaluate(token);
        return {s.ok, s.complete, std::move(s.response), std::move(s.error)};
    }
    const std::string& user() const override { return _server.user(); }
    bool token_authenticated() const override { return _server.token_authenticated(); }
    // Kafka's ScramSaslServer negotiates the token's expiry as the
    // credential's lifetime (KIP-368): the session ends with the token.
    std::optional<int64_t> credential_expiry_ms() const override { return _server.token_expiry_ms(); }

private:
    scram_server _server;
};

}  // namespace

std::unique_ptr<sasl_exchange> make_scram_exchange(scram_mechanism m, scram_server::lookup find,
                                                   scram_server::token_lookup tokens) {
    return std::make_unique<scram_exchange>(m, std::move(find), std::move(tokens));
}

}  // namespace strata::security
