#include "strata/security/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include <boost/asio/ssl/context.hpp>

#include "strata/common/log.h"

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

// The CertificateRequest names the trust store's CAs (certificate_authorities),
// as Kafka's brokers do (Java's trust manager lists its accepted issuers):
// clients pick their certificate by them. librdkafka (2.12) sends none when
// its own is from another CA, so with ssl.client.auth=requested it still
// connects (and logs in with SASL on SASL_SSL) instead of failing the
// handshake on a certificate this broker would refuse.
void advertise_client_cas(SSL_CTX* ctx) {
    STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
        X509* cert = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i));
        if (cert && !SSL_CTX_add_client_CA(ctx, cert)) fail("ssl.truststore: a CA name for the CertificateRequest");
    }
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
    if (settings.client_auth != "none") advertise_client_cas(context->native_handle());
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

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
    static const auto instance = log::get("security");
    return instance;
}

std::string name_text(X509_NAME* name) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio) return {};
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string text(data, static_cast<size_t>(size));
    BIO_free(bio);
    return text;
}

std::string general_name_text(const GENERAL_NAME* name) {
    switch (name->type) {
        case GEN_DNS:
        case GEN_EMAIL:
        case GEN_URI: {
            const ASN1_STRING* s = name->d.ia5;
            return fmt::format("{}:{}", name->type == GEN_DNS ? "DNS" : name->type == GEN_EMAIL ? "email" : "URI",
                               std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                           static_cast<size_t>(ASN1_STRING_length(s))));
        }
        case GEN_IPADD: {
            const ASN1_OCTET_STRING* s = name->d.ip;
            std::string out = "IP:";
            const unsigned char* p = ASN1_STRING_get0_data(s);
            for (int i = 0; i < ASN1_STRING_length(s); ++i) out += fmt::format("{}{}", i ? "." : "", static_cast<int>(p[i]));
            return out;
        }
        case GEN_DIRNAME:
            return "dirName:" + name_text(name->d.directoryName);
        default:
            return fmt::format("other({})", name->type);
    }
}

}  // namespace

std::pair<std::string, std::string> certificate_identity(SSL_CTX* ctx) {
    X509* certificate = SSL_CTX_get0_certificate(ctx);
    if (!certificate) return {};
    std::vector<std::string> names;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) names.push_back(general_name_text(sk_GENERAL_NAME_value(sans, i)));
        GENERAL_NAMES_free(sans);
    }
    std::sort(names.begin(), names.end());  // Kafka compares them as a set
    return {name_text(X509_get_subject_name(certificate)), join(names, ',')};
}

reloading_tls_context::reloading_tls_context(tls_settings settings, options opts)
    : _settings(std::move(settings)), _options(std::move(opts)) {
    _state = files_state();
    _context = make_server_tls_context(_settings);
}

std::string reloading_tls_context::files_state() const {
    std::string state;
    for (const auto* path : {&_settings.keystore_location, &_settings.truststore_location}) {
        struct stat st {};
        if (path->empty()) {
            state += "-;";
        } else if (::stat(path->c_str(), &st) != 0) {
            state += "missing;";
        } else {
            state += fmt::format("{}.{}:{}:{}:{};", st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_size, st.st_dev,
                                 st.st_ino);
        }
    }
    return state;
}

std::shared_ptr<ssl::context> reloading_tls_context::current() {
    std::lock_guard lock(_mutex);
    if (_settings.keystore_location.empty() && _settings.truststore_location.empty()) return _context;
    auto state = files_state();
    if (state == _state) return _context;
    _state = std::move(state);
    try {
        auto fresh = make_server_tls_context(_settings);
        const auto [old_subject, old_sans] = certificate_identity(_context->native_handle());
        const auto [new_subject, new_sans] = certificate_identity(fresh->native_handle());
        if (!_options.allow_dn_changes && new_subject != old_subject)
            throw std::runtime_error(fmt::format("the new certificate's subject {} is not the old one's ({}); "
                                                 "ssl.allow.dn.changes permits that",
                                                 new_subject, old_subject));
        if (!_options.allow_san_changes && new_sans != old_sans)
            throw std::runtime_error(fmt::format("the new certificate's subject alternative names [{}] are not the "
                                                 "old one's [{}]; ssl.allow.san.changes permits that",
                                                 new_sans, old_sans));
        _context = std::move(fresh);
        ++_reloads;
        logger()->info("{}: reloaded the TLS key store and trust store; new connections use certificate {}",
                       _options.name, new_subject);
    } catch (const std::exception& e) {
        logger()->error("{}: the changed TLS files were not loaded, connections keep the previous certificate: {}",
                        _options.name, e.what());
    }
    return _context;
}

uint64_t reloading_tls_context::reloads() const {
    std::lock_guard lock(_mutex);
    return _reloads;
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
