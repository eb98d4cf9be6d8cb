#include "strata/server/cluster_security.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <fmt/format.h>

#include "strata/security/jaas.h"
#include "strata/security/tls.h"

namespace strata::server {

namespace {

bool is_sasl(std::string_view protocol) {
    return protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL";
}

std::string lower(std::string text) {
    for (auto& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return text;
}

std::string upper(std::string text) {
    for (auto& ch : text) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return text;
}

bool is_controller_listener(const broker_config& config, std::string_view listener_name) {
    return std::find(config.controller_listener_names.begin(), config.controller_listener_names.end(), listener_name) !=
           config.controller_listener_names.end();
}

// The key naming the mechanism of the node's own connections to the listener.
std::string_view mechanism_key(const broker_config& config, std::string_view listener_name) {
    return is_controller_listener(config, listener_name) ? "sasl.mechanism.controller.protocol"
                                                         : "sasl.mechanism.inter.broker.protocol";
}

// The value of a key kept only in explicit_values (the two mechanism keys
// have no member of their own), or Kafka's default.
std::string explicit_or(const broker_config& config, std::string_view key, std::string_view fallback) {
    auto it = config.explicit_values.find(std::string(key));
    return it == config.explicit_values.end() ? std::string(fallback) : it->second;
}

}  // namespace

std::string controller_listener(const broker_config& config) {
    return config.controller_listener_names.empty() ? std::string("CONTROLLER")
                                                    : config.controller_listener_names.front();
}

std::optional<cluster_sasl_login> cluster_sasl(const broker_config& config, std::string_view listener_name,
                                               std::string& problem) {
    problem.clear();
    const auto protocol = config.security_protocol(listener_name).value_or("PLAINTEXT");
    if (!is_sasl(protocol)) return std::nullopt;
    const auto key = mechanism_key(config, listener_name);
    const bool controller = is_controller_listener(config, listener_name);
    cluster_sasl_login login;
    login.mechanism = upper(explicit_or(config, key, "GSSAPI"));
    const auto module = security::jaas_login_module(login.mechanism);
    if (module.empty()) {
        problem = fmt::format(
            "{}: the {} listener {} uses {}, so the nodes authenticate to it with this mechanism, and {} is not "
            "one Strata has{}: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            key, controller ? "controller" : "inter-broker", listener_name, protocol, login.mechanism,
            explicit_or(config, key, "").empty() ? " (GSSAPI is Kafka's default)" : "");
        return std::nullopt;
    }
    const auto jaas_key =
        fmt::format("listener.name.{}.{}.sasl.jaas.config", lower(std::string(listener_name)), lower(login.mechanism));
    std::optional<std::string> jaas;
    if (login.mechanism == "PLAIN") {
        if (auto it = config.listener_plain_jaas.find(upper(std::string(listener_name)));
            it != config.listener_plain_jaas.end())
            jaas = it->second;
    } else if (auto it = config.explicit_values.find(jaas_key); it != config.explicit_values.end()) {
        jaas = it->second;
    }
    const auto missing = [&](std::string_view what) {
        return fmt::format(
            "{}: the node's own credentials for the {} listener {} ({} with {}, from {}) are missing: {} (as "
            "Kafka's `org.apache.kafka.common.security.{}.{} required username=\"...\" password=\"...\";`)",
            jaas_key, controller ? "controller" : "inter-broker", listener_name, protocol, login.mechanism, key, what,
            login.mechanism == "PLAIN" ? "plain" : "scram", module);
    };
    if (!jaas) {
        problem = missing("the key is not set");
        return std::nullopt;
    }
    std::string error;
    auto entry = security::parse_jaas_entry(*jaas, module, error);
    if (!entry) {
        problem = fmt::format("{}: {}", jaas_key, error);
        return std::nullopt;
    }
    auto username = entry->options.find("username");
    auto password = entry->options.find("password");
    if (username == entry->options.end() || username->second.empty() || password == entry->options.end()) {
        problem = missing("it has no username and password options");
        return std::nullopt;
    }
    login.username = username->second;
    login.password = password->second;
    return login;
}

void check_cluster_sasl(const broker_config& config, std::vector<std::string>& problems) {
    std::vector<std::string> listeners;
    if (config.has_role("broker")) listeners.push_back(config.inter_broker_listener_name);
    if (!config.controller_listener_names.empty()) listeners.push_back(controller_listener(config));
    for (const auto& name : listeners) {
        std::string problem;
        const auto login = cluster_sasl(config, name, problem);
        if (!problem.empty()) problems.push_back(std::move(problem));
        if (!login) continue;
        const bool controller = is_controller_listener(config, name);
        if (controller && config.has_role("controller") && login->mechanism != "PLAIN") {
            problems.push_back(fmt::format(
                "sasl.mechanism.controller.protocol: {} cannot secure the connections between controllers: SCRAM "
                "credentials live in the metadata log, which the controllers must reach each other to read (as "
                "in Kafka's KRaft mode); use PLAIN on the controller listener {} (brokers-only nodes may use "
                "SCRAM to reach it)",
                login->mechanism, name));
        }
        // A listener the node serves must offer the mechanism its peers use.
        if (config.find_listener(name) &&
            std::find(config.sasl_enabled_mechanisms.begin(), config.sasl_enabled_mechanisms.end(), login->mechanism) ==
                config.sasl_enabled_mechanisms.end()) {
            problems.push_back(fmt::format(
                "sasl.enabled.mechanisms: does not include {}, the mechanism the nodes "
                "use on the {} listener {} ({})",
                login->mechanism, controller ? "controller" : "inter-broker", name, mechanism_key(config, name)));
        }
    }
}

net::client_security cluster_client_security(const broker_config& config, std::string_view listener_name) {
    net::client_security out;
    const auto protocol = config.security_protocol(listener_name).value_or("PLAINTEXT");
    if (protocol == "SSL" || protocol == "SASL_SSL") {
        // As Kafka's brokers: the listener's own listener.name.<l>.ssl.* first.
        const auto effective = config.for_listener(listener_name);
        out.tls = security::make_client_tls_context(tls_settings_from(effective), true);
        out.verify_hostname = effective.ssl_endpoint_identification_algorithm == "https";
    }
    // Every (re)connection then runs SaslHandshake v1 + SaslAuthenticate v1
    // with these before its first request (net::client_connection).
    std::string problem;
    if (auto login = cluster_sasl(config, listener_name, problem)) {
        out.sasl_mechanism = login->mechanism;
        out.sasl_username = login->username;
        out.sasl_password = login->password;
    } else if (!problem.empty()) {
        throw std::runtime_error(problem);
    }
    return out;
}

}  // namespace strata::server
