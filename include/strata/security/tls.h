// TLS contexts from Kafka's PEM settings (ssl.keystore.*, ssl.truststore.*,
// ssl.client.auth, ssl.enabled.protocols, ssl.cipher.suites) for Asio's SSL
// streams over OpenSSL, and the principal of a verified client certificate.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
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

// A server context rebuilt when the files behind it change, so that new
// connections get a renewed certificate without a restart (running ones keep
// theirs). current() stats ssl.keystore.location and ssl.truststore.location
// (mtime, size, inode: a rename or a symlink swap counts) on each call, which
// costs far less than the handshake it precedes, and rebuilds the context
// when they differ from the last attempt. A new key store whose certificate
// names another subject or other subject alternative names is refused, as
// Kafka's dynamic reconfiguration (unless ssl.allow.dn.changes /
// ssl.allow.san.changes, KIP-978); so is one that does not load (half
// written, key and certificate not matching): the old context stays and the
// problem is logged, once per change of the files. Thread-safe.
class reloading_tls_context {
public:
    struct options {
        std::string name;  // for the log: "listener SSL"
        bool allow_dn_changes = false;
        bool allow_san_changes = false;
    };
    // Builds the first context; throws as make_server_tls_context.
    reloading_tls_context(tls_settings settings, options opts);

    std::shared_ptr<boost::asio::ssl::context> current();
    // Contexts built after the first (tests, metrics).
    uint64_t reloads() const;

private:
    std::string files_state() const;

    const tls_settings _settings;
    const options _options;
    mutable std::mutex _mutex;
    std::shared_ptr<boost::asio::ssl::context> _context;
    std::string _state;  // files_state() at the last attempt
    uint64_t _reloads = 0;
};

// The leaf certificate's subject (RFC 2253) and its subject alternative
// names, sorted and comma-joined; empty strings without a certificate.
std::pair<std::string, std::string> certificate_identity(SSL_CTX* ctx);

// The verified peer certificate's subject in RFC 2253 ("CN=alice,O=Example"),
// as Java's X500Principal.getName() gives it; nullopt without one.
std::optional<std::string> peer_certificate_subject(SSL* ssl);

}  // namespace strata::security
