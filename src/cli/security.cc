#include "security.h"

#include <fstream>
#include <sstream>

#include <boost/asio/ssl/context.hpp>
#include <fmt/format.h>

#include "common.h"
#include "strata/security/tls.h"

namespace strata::cli {

namespace {

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t\r");
    if (begin == std::string::npos) return {};
    const auto end = s.find_last_not_of(" \t\r");
    return s.substr(begin, end - begin + 1);
}

std::string read_file(const std::string& path, const std::string& key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_usage(fmt::format("{}: cannot read {}", key, path));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// username="..." and password="..." of a JAAS entry.
std::string jaas_option(const std::string& jaas, const std::string& name) {
    const auto at = jaas.find(name + "=\"");
    if (at == std::string::npos) return {};
    const auto begin = at + name.size() + 2;
    const auto end = jaas.find('"', begin);
    return end == std::string::npos ? std::string() : jaas.substr(begin, end - begin);
}

}  // namespace

std::map<std::string, std::string> parse_properties(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line = trim(line);
        if (line.empty() || line[0] == '#' || line[0] == '!') continue;
        const auto eq = line.find_first_of("=:");
        if (eq == std::string::npos) continue;
        out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
    }
    return out;
}

void apply_command_config(const std::string& path, net::client_options& options) {
    auto props = parse_properties(read_file(path, "--command-config"));
    const auto get = [&](const std::string& key) {
        auto it = props.find(key);
        return it == props.end() ? std::string() : it->second;
    };
    std::string protocol = get("security.protocol");
    for (auto& ch : protocol) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (protocol.empty()) protocol = "PLAINTEXT";
    if (protocol != "PLAINTEXT" && protocol != "SSL" && protocol != "SASL_PLAINTEXT" && protocol != "SASL_SSL")
        throw_usage(fmt::format("security.protocol: unknown protocol '{}' in {}", protocol, path),
                    "one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
    if (protocol == "SSL" || protocol == "SASL_SSL") {
        security::tls_settings tls;
        tls.truststore_location = !get("ssl.ca.location").empty() ? get("ssl.ca.location")
                                                                   : get("ssl.truststore.location");
        tls.truststore_certificates = get("ssl.truststore.certificates");
        if (!get("ssl.keystore.location").empty()) {
            tls.keystore_location = get("ssl.keystore.location");
        } else if (!get("ssl.certificate.location").empty()) {
            tls.keystore_certificate_chain = read_file(get("ssl.certificate.location"), "ssl.certificate.location");
            tls.keystore_key = read_file(get("ssl.key.location"), "ssl.key.location");
        }
        tls.key_password = get("ssl.key.password");
        const bool verify = get("enable.ssl.certificate.verification") != "false";
        try {
            options.tls = security::make_client_tls_context(tls, verify);
        } catch (const std::exception& e) {
            throw_usage(fmt::format("{}: {}", path, e.what()));
        }
        // Kafka's default is https (check the host name); an empty value turns it off.
        options.verify_hostname = verify && (!props.count("ssl.endpoint.identification.algorithm") ||
                                             !get("ssl.endpoint.identification.algorithm").empty());
    }
    if (protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL") {
        options.sasl_mechanism = !get("sasl.mechanism").empty() ? get("sasl.mechanism") : get("sasl.mechanisms");
        if (options.sasl_mechanism.empty()) options.sasl_mechanism = "PLAIN";  // librdkafka's default (Kafka's is GSSAPI)
        options.sasl_username = get("sasl.username");
        options.sasl_password = get("sasl.password");
        if (const auto jaas = get("sasl.jaas.config"); !jaas.empty()) {
            options.sasl_username = jaas_option(jaas, "username");
            options.sasl_password = jaas_option(jaas, "password");
        }
        if (options.sasl_username.empty())
            throw_usage(fmt::format("{}: SASL needs sasl.username (or sasl.jaas.config with username=\"...\")", path));
    }
}

}  // namespace strata::cli
