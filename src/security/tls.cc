#include "strata/security/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdexcept>

#include <boost/asio/ssl/context.hpp>

namespace strata::security {

namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_reason() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown OpenSSL error";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + openssl_reason());
}

int protocol_version(const std::string& name) {
    if (name == "TLSv1.2") return TLS1_2_VERSION;
    if (name == "TLSv1.3") return TLS1_3_VERSION;
    throw std::runtime_error("ssl.enabled.protocols: unsupported protocol " + name);
}

std::string join(const std::vector<std::string>& items, char separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

void configure_protocols(SSL_CTX* ctx, const tls_settings& settings) {
    if (settings.enabled_protocols.empty()) throw std::runtime_error("ssl.enabled.protocols: empty");
    int lowest = TLS1_3_VERSION;
    int highest = TLS1_2_VERSION;
    for (const auto& p : settings.enabled_protocols) {
        lowest = std::min(lowest, protocol_version(p));
        highest = std::max(highest, protocol_version(p));
    }
    if (!SSL_CTX_set_min_proto_version(ctx, lowest) || !SSL_CTX_set_max_proto_version(ctx, highest))
        fail("ssl.enabled.protocols");
    if (settings.cipher_suites.empty()) return;
    // TLS 1.3 suites (TLS_AES_128_GCM_SHA256...) and the older ones are set apart.
    std::vector<std::string> v13, v12;
    for (const auto& c : settings.cipher_suites) (c.rfind("TLS_", 0) == 0 ? v13 : v12).push_back(c);
    if (!v13.empty() && !SSL_CTX_set_ciphersuites(ctx, join(v13, ':').c_str())) fail("ssl.cipher.suites (TLS 1.3)");
    if (!v12.empty() && !SSL_CTX_set_cipher_list(ctx, join(v12, ':').c_str())) fail("ssl.cipher.suites");
}

void load_key_store(ssl::context& context, const tls_settings& settings) {
    if (!settings.key_password.empty()) {
        context.set_password_callback([password = settings.key_password](std::size_t, ssl::context::password_purpose) {
            return password;
        });
    }
    boost::system::error_code ec;
    if (!settings.keystore_location.empty()) {
        context.use_certificate_chain_file(settings.keystore_location, ec);
        if (ec) throw std::runtime_error("ssl.keystore.location: no certificate chain in " +
                                         settings.keystore_location + ": " + ec.message());
        context.use_private_key_file(settings.keystore_location, ssl::context::pem, ec);
        if (ec) throw std::runtime_error("ssl.keystore.location: no usable private key in " +
                                         settings.keystore_location + ": " + ec.message());
    } else {
        context.use_certificate_chain(boost::asio::buffer(settings.keystore_certificate_chain), ec);
        if (ec) throw std::runtime_error("ssl.keystore.certificate.chain: " + ec.message());
        context.use_private_key(boost::asio::buffer(settings.keystore_key), ssl::context::pem, ec);
        if (ec) throw std::runtime_error("ssl.keystore.key: " + ec.message());
    }
    if (!SSL_CTX_check_private_key(context.native_handle()))
        fail("ssl.keystore: the private key does not match the certificate");
}

// True when a trust store was given.
bool load_trust_store(ssl::context& context, const tls_settings& settings) {
    boost::system::error_code ec;
    if (!settings.truststore_location.empty()) {
        context.load_verify_file(settings.truststore_location, ec);
        if (ec) throw std::runtime_error("ssl.truststore.location: " + settings.truststore_location + ": " +
                                         ec.message());
        return true;
    }
    if (!settings.truststore_certificates.empty()) {
        context.add_certificate_authority(boost::asio::buffer(settings.truststore_certificates), ec);
        if (ec) throw std::runtime_error("ssl.truststore.certificates: " + ec.message());
        return true;
    }
    return false;
}

}  // namespace

std::shared_ptr<ssl::context> make_server_tls_context(const tls_settings& settings) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::single_dh_use);
    configure_protocols(context->native_handle(), settings);
    load_key_store(*context, settings);
    const bool trust = load_trust_store(*context, settings);
    if (settings.client_auth == "required") {
        context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    } else if (settings.client_auth == "requested") {
        context->set_verify_mode(ssl::verify_peer);
    } else {
        context->set_verify_mode(ssl::verify_none);
    }
    if (settings.client_auth != "none" && !trust)
        throw std::runtime_error("ssl.client.auth: verifying client certificates needs a trust store");
    // Session resumption across connections needs an id context when peers are verified.
    static const unsigned char session_id[] = "strata";
    SSL_CTX_set_session_id_context(context->native_handle(), session_id, sizeof session_id - 1);
    return context;
}

std::shared_ptr<ssl::context> make_client_tls_context(const tls_settings& settings, bool verify) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    configure_protocols(context->native_handle(), settings);
    if (!settings.keystore_location.empty() || !settings.keystore_certificate_chain.empty())
        load_key_store(*context, settings);
    if (!load_trust_store(*context, settings)) context->set_default_verify_paths();
    context->set_verify_mode(verify ? ssl::verify_peer : ssl::verify_none);
    return context;
}

std::optional<std::string> peer_certificate_subject(SSL* ssl) {
    X509* certificate = SSL_get0_peer_certificate(ssl);
    if (!certificate || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio) return std::nullopt;
    X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string subject(data, static_cast<size_t>(size));
    BIO_free(bio);
    return subject;
}

}  // namespace strata::security
