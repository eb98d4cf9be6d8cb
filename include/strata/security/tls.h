// TLS contexts from Kafka's PEM settings (ssl.keystore.*, ssl.truststore.*,
// ssl.client.auth, ssl.enabled.protocols, ssl.cipher.suites) for Asio's SSL
// streams over OpenSSL, and the principal of a verified client certificate.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/ssl.h>

namespace boost::asio::ssl {
class context;
}

namespace strata::security {

struct tls_settings {
    // The own key and certificate chain: one PEM file holding both, or inline PEM.
    std::string keystore_location;
    std::string keystore_certificate_chain;
    std::string keystore_key;
    std::string key_password;
    // The CAs a peer's certificate is verified against: a PEM file, or inline PEM.
    std::string truststore_location;
    std::string truststore_certificates;
    std::string client_auth = "none";  // server: none, requested, required
    std::vector<std::string> enabled_protocols{"TLSv1.2", "TLSv1.3"};
    std::vector<std::string> cipher_suites;  // empty: OpenSSL's defaults
};

// Throws std::runtime_error naming what could not be loaded (and OpenSSL's reason).
std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(const tls_settings& settings);
// A client context (the strata CLI): verifies the server against the trust
// store (or the system's CAs when none is given) unless `verify` is false;
// presents the key store's certificate when one is given.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(const tls_settings& settings, bool verify = true);

// The verified peer certificate's subject in RFC 2253 ("CN=alice,O=Example"),
// as Java's X500Principal.getName() gives it; nullopt without one.
std::optional<std::string> peer_certificate_subject(SSL* ssl);

}  // namespace strata::security
