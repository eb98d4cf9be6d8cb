#include "strata/server/broker_config.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config_values.h"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "strata/security/jaas.h"
#include "strata/security/oauthbearer.h"
#include "strata/security/principal_mapping.h"
#include "strata/security/sasl.h"
#include "strata/security/tls.h"
#include "strata/server/cluster_security.h"
#include "strata/server/config_schema.h"

namespace strata::server {

namespace {

std::string describe_problems(const std::vector<std::string>& problems) {
    std::string message = "invalid configuration:";
    for (const auto& problem : problems) message += "\n  " + problem;
    return message;
}

// " (did you mean log.dirs?)" for a near miss, else "".
std::string suggestion(std::string_view unknown) {
    const config_key* best = nullptr;
    size_t best_distance = 0;
    for (const auto& key : config_schema()) {
        const size_t distance = detail::edit_distance(unknown, key.name);
        if (!best || distance < best_distance) {
            best = &key;
            best_distance = distance;
        }
    }
    if (best && best_distance <= std::max<size_t>(2, unknown.size() / 4)) {
        return fmt::format(" (did you mean {}?)", best->name);
    }
    return {};
}

// A YAML value as text: a scalar as written, a list of scalars joined with
// commas (Kafka's list form), null as empty.
std::optional<std::string> value_text(const YAML::Node& value, std::string& problem) {
    if (value.IsNull()) return std::string();
    if (value.IsScalar()) return value.Scalar();
    if (value.IsSequence()) {
        std::string joined;
        for (const auto& item : value) {
            if (!item.IsScalar()) {
                problem = "a list item must be a plain value";
                return std::nullopt;
            }
            if (!joined.empty()) joined += ',';
            joined += item.Scalar();
        }
        return joined;
    }
    problem = "expected a value or a list of values, not a mapping (keys are flat: log.dirs, not log: {dirs: })";
    return std::nullopt;
}

// listener.name.<listener>.<mechanism>.sasl.jaas.config (Kafka's
// per-listener, per-mechanism JAAS key), mechanism plain, scram-sha-256 or
// scram-sha-512. PLAIN entries are kept by listener (the users a PLAIN
// listener accepts, and the node's own credentials); SCRAM entries only
// carry the node's own credentials and are kept in explicit_values under
// the key in lower case (DescribeConfigs treats *.sasl.jaas.config as
// sensitive). Checked in check_security.
bool apply_listener_jaas(const std::string& name, const YAML::Node& value, broker_config& config) {
    constexpr std::string_view prefix = "listener.name.";
    constexpr std::string_view suffix = ".sasl.jaas.config";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        return false;
    std::string middle = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    for (auto& ch : middle) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const auto dot = middle.rfind('.');
    if (dot == std::string::npos || dot == 0) return false;
    const std::string mechanism = middle.substr(dot + 1);
    std::string listener = middle.substr(0, dot);
    const std::string text = value.IsScalar() ? value.Scalar() : std::string();
    if (mechanism == "plain") {
        for (auto& ch : listener) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        config.listener_plain_jaas[listener] = text;
        config.explicit_values[name] = "[hidden]";
        return true;
    }
    if (mechanism == "scram-sha-256" || mechanism == "scram-sha-512") {
        config.explicit_values[std::string(prefix) + middle + std::string(suffix)] = text;
        return true;
    }
    return false;
}

// Kafka's listener- and mechanism-prefixed SASL keys,
// listener.name.<listener>.<mechanism>.<key>: connections.max.reauth.ms,
// sasl.server.callback.handler.class, and OAUTHBEARER's sasl.jaas.config
// (PLAIN's and SCRAM's are apply_listener_jaas's). Kept by upper-case
// listener name; checked in check_security. False for any other key.
bool apply_listener_sasl(const std::string& name, const std::string& where, const YAML::Node& value,
                         broker_config& config, std::vector<std::string>& problems) {
    constexpr std::string_view prefix = "listener.name.";
    if (name.rfind(prefix, 0) != 0) return false;
    static const std::array<std::string_view, 4> mechanisms{"plain", "scram-sha-256", "scram-sha-512", "oauthbearer"};
    static const std::array<std::string_view, 3> keys{"connections.max.reauth.ms",
                                                      "sasl.server.callback.handler.class", "sasl.jaas.config"};
    std::string lowered = name;
    for (auto& ch : lowered) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const auto reauth_value = [&](const std::string& text) {
        int64_t ms = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
        if (ec == std::errc() && end == text.data() + text.size()) return true;
        problems.push_back(fmt::format("{}: {}: expected an integer (ms), got '{}'", where, name, text));
        return false;
    };
    // listener.name.<l>.connections.max.reauth.ms: every mechanism of the
    // listener (Kafka reads the key with the listener prefix overriding).
    constexpr std::string_view listener_wide = ".connections.max.reauth.ms";
    if (lowered.ends_with(listener_wide) && lowered.size() > prefix.size() + listener_wide.size() &&
        lowered.find('.', prefix.size()) == lowered.size() - listener_wide.size()) {
        std::string listener = name.substr(prefix.size(), name.size() - prefix.size() - listener_wide.size());
        for (auto& ch : listener) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        std::string problem;
        const auto text = value_text(value, problem);
        if (!text) problems.push_back(fmt::format("{}: {}: {}", where, name, problem));
        else if (reauth_value(*text)) {
            config.listener_sasl_options[listener]["connections.max.reauth.ms"] = *text;
            config.explicit_values[name] = *text;
        }
        return true;
    }
    for (const auto mechanism : mechanisms) {
        for (const auto key : keys) {
            const auto suffix = fmt::format(".{}.{}", mechanism, key);
            if (lowered.size() <= prefix.size() + suffix.size() || !lowered.ends_with(suffix)) continue;
            if (key == "sasl.jaas.config" && mechanism != "oauthbearer") continue;
            std::string listener = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
            for (auto& ch : listener) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            std::string problem;
            const auto text = value_text(value, problem);
            if (!text) {
                problems.push_back(fmt::format("{}: {}: {}", where, name, problem));
                return true;
            }
            if (key == "connections.max.reauth.ms" && !reauth_value(*text)) return true;
            config.listener_sasl_options[listener][fmt::format("{}.{}", mechanism, key)] = *text;
            config.explicit_values[name] = key == "sasl.jaas.config" ? "[hidden]" : *text;
            return true;
        }
    }
    return false;
}

// listener.name.<listener>.ssl.* (Kafka's per-listener overrides): the
// value is checked as the ssl.* key checks it and kept by upper-case
// listener name; for_listener() applies them. False for any other key.
bool apply_listener_ssl(const std::string& name, const std::string& where, const YAML::Node& value,
                        broker_config& config, std::vector<std::string>& problems) {
    constexpr std::string_view prefix = "listener.name.";
    if (name.rfind(prefix, 0) != 0) return false;
    const auto marker = name.find(".ssl.", prefix.size());
    if (marker == std::string::npos || marker == prefix.size()) return false;
    const std::string ssl_key = name.substr(marker + 1);
    const config_key* key = find_config_key(ssl_key);
    if (!key) {
        problems.push_back(fmt::format("{}: {}: unknown key: {} is not an ssl.* key{}", where, name, ssl_key,
                                       suggestion(ssl_key)));
        return true;
    }
    std::string listener = name.substr(prefix.size(), marker - prefix.size());
    for (auto& ch : listener) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::string problem;
    const auto text = value_text(value, problem);
    broker_config scratch;
    if (text) problem = key->apply(*text, scratch);
    if (!problem.empty()) {
        problems.push_back(fmt::format("{}: {}: {}", where, name, problem));
        return true;
    }
    config.listener_ssl_overrides[listener][ssl_key] = *text;
    const bool secret = ssl_key == "ssl.key.password" || ssl_key == "ssl.keystore.key";
    config.explicit_values[name] = secret ? "[hidden]" : *text;
    return true;
}

// listener.name.<listener>.max.connection.creation.rate (KIP-612's
// per-listener rate), kept by upper-case listener name. False for any other
// key.
bool apply_listener_connection_rate(const std::string& name, const std::string& where, const YAML::Node& value,
                                    broker_config& config, std::vector<std::string>& problems) {
    constexpr std::string_view prefix = "listener.name.", suffix = ".max.connection.creation.rate";
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 || !name.ends_with(suffix))
        return false;
    std::string listener = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    for (auto& ch : listener) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::string problem;
    const auto text = value_text(value, problem);
    broker_config scratch;
    if (text) problem = find_config_key("max.connection.creation.rate")->apply(*text, scratch);
    if (!problem.empty()) {
        problems.push_back(fmt::format("{}: {}: {}", where, name, problem));
        return true;
    }
    config.listener_connection_creation_rates[listener] = scratch.max_connection_creation_rate;
    config.explicit_values[name] = *text;
    return true;
}

void apply_yaml(std::string_view yaml, std::string_view origin, broker_config& config,
                std::vector<std::string>& problems) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        problems.push_back(fmt::format("{}:{}:{}: not valid YAML: {}", origin, e.mark.line + 1, e.mark.column + 1,
                                       e.msg));
        return;
    }
    if (root.IsNull()) return;  // an empty file: every default
    if (!root.IsMap()) {
        problems.push_back(fmt::format("{}: expected a mapping of configuration keys to values", origin));
        return;
    }
    std::set<std::string> seen;
    for (const auto& entry : root) {
        const auto where = fmt::format("{}:{}", origin, entry.first.Mark().line + 1);
        if (!entry.first.IsScalar()) {
            problems.push_back(fmt::format("{}: a key must be a plain name", where));
            continue;
        }
        const std::string name = entry.first.Scalar();
        if (!seen.insert(name).second) {
            problems.push_back(fmt::format("{}: {}: given more than once", where, name));
            continue;
        }
        if (apply_listener_jaas(name, entry.second, config)) continue;
        if (apply_listener_sasl(name, where, entry.second, config, problems)) continue;
        if (apply_listener_ssl(name, where, entry.second, config, problems)) continue;
        if (apply_listener_connection_rate(name, where, entry.second, config, problems)) continue;
        const config_key* key = find_config_key(name);
        if (!key) {
            problems.push_back(fmt::format("{}: {}: unknown key{}", where, name, suggestion(name)));
            continue;
        }
        std::string problem;
        const auto text = value_text(entry.second, problem);
        if (text) problem = key->apply(*text, config);
        if (!problem.empty()) problems.push_back(fmt::format("{}: {}: {}", where, name, problem));
        else if (text) config.explicit_values[name] = *text;
    }
}

void apply_environment(const environment& env, broker_config& config, std::vector<std::string>& problems) {
    if (!env) return;
    for (const auto& key : config_schema()) {
        const auto variable = environment_variable_for(key.name);
        if (auto value = env(variable)) {
            if (auto problem = key.apply(*value, config); !problem.empty()) {
                problems.push_back(fmt::format("environment {}: {}: {}", variable, key.name, problem));
            } else {
                config.explicit_values[std::string(key.name)] = *value;
            }
        }
    }
}

bool is_meta_address(const std::string& host) { return host == "0.0.0.0" || host == "::"; }

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
    return name;
}

std::string to_lower(std::string text) {
    for (auto& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return text;
}

// A listener this node serves, or the controller listener a broker-only
// node connects to without serving it.
bool known_listener_name(const broker_config& config, const std::string& upper_name) {
    return config.find_listener(upper_name) ||
           std::find(config.controller_listener_names.begin(), config.controller_listener_names.end(), upper_name) !=
               config.controller_listener_names.end();
}

// The broker's own connections (controller quorum, replication) speak the
// protocol of the listener they reach, with the node's SASL login on SASL
// ones (check_cluster_sasl); TLS listeners need a key store; JAAS entries
// must parse and name a listener.
void check_security(const broker_config& config, std::vector<std::string>& problems) {
    bool tls = false;
    for (const auto& l : config.listeners) {
        const auto protocol = config.security_protocol(l.name).value_or("PLAINTEXT");
        tls = tls || protocol == "SSL" || protocol == "SASL_SSL";
    }
    check_cluster_sasl(config, problems);
    // A broker-only node connects to the controllers' listener without serving it.
    bool connects_with_tls = tls;
    if (!config.controller_listener_names.empty()) {
        const auto protocol = config.security_protocol(config.controller_listener_names.front()).value_or("PLAINTEXT");
        connects_with_tls = connects_with_tls || protocol == "SSL" || protocol == "SASL_SSL";
    }
    tls = connects_with_tls;
    // Each TLS listener with its own overrides; the node's own connections
    // (a broker-only node's to the controllers) with the controller listener's.
    std::vector<std::string> tls_listeners;
    for (const auto& l : config.listeners) {
        const auto protocol = config.security_protocol(l.name).value_or("PLAINTEXT");
        if (protocol == "SSL" || protocol == "SASL_SSL") tls_listeners.push_back(l.name);
    }
    if (tls && tls_listeners.empty()) tls_listeners.push_back(config.controller_listener_names.front());
    std::set<std::string> reported;
    for (const auto& name : tls_listeners) {
        const auto effective = config.for_listener(name);
        const auto overridden = [&](std::string_view key) {
            auto it = config.listener_ssl_overrides.find(name);
            return it != config.listener_ssl_overrides.end() && it->second.contains(std::string(key))
                       ? fmt::format("listener.name.{}.{}", to_lower(name), key)
                       : std::string(key);
        };
        if (effective.ssl_keystore_location.empty() &&
            (effective.ssl_keystore_certificate_chain.empty() || effective.ssl_keystore_key.empty())) {
            auto text = fmt::format("{}: an SSL or SASL_SSL listener needs the broker's key and certificate "
                                    "(ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key)",
                                    overridden("ssl.keystore.location"));
            if (reported.insert(text).second) problems.push_back(text);
        }
        const auto settings = listener_tls_settings(config, name);
        if (settings.client_auth != "none" && effective.ssl_truststore_location.empty() &&
            effective.ssl_truststore_certificates.empty()) {
            auto text = fmt::format("{}: verifying client certificates needs ssl.truststore.location or "
                                    "ssl.truststore.certificates",
                                    overridden("ssl.client.auth"));
            if (reported.insert(text).second) problems.push_back(text);
        }
    }
    for (const auto& [listener, overrides] : config.listener_ssl_overrides) {
        if (!known_listener_name(config, listener))
            problems.push_back(fmt::format("listener.name.{}.{}: {} is not one of the listeners", to_lower(listener),
                                           overrides.begin()->first, listener));
    }
    // A broker-only node names the controller listener without serving it
    // (its own credentials for the controllers).
    const auto known_listener = [&](const std::string& upper_name) {
        return config.find_listener(upper_name) ||
               std::find(config.controller_listener_names.begin(), config.controller_listener_names.end(),
                         upper_name) != config.controller_listener_names.end();
    };
    for (const auto& [listener, rate] : config.listener_connection_creation_rates) {
        if (!known_listener(listener))
            problems.push_back(fmt::format("listener.name.{}.max.connection.creation.rate: {} is not one of the "
                                           "listeners",
                                           to_lower(listener), listener));
    }
    for (const auto& [listener, jaas] : config.listener_plain_jaas) {
        const auto key = fmt::format("listener.name.{}.plain.sasl.jaas.config", listener);
        if (!known_listener(listener))
            problems.push_back(fmt::format("{}: {} is not one of the listeners", key, listener));
        std::string error;
        if (!security::parse_plain_jaas_users(jaas, error)) problems.push_back(fmt::format("{}: {}", key, error));
    }
    // SCRAM entries (kept in explicit_values by apply_listener_jaas, lower case).
    constexpr std::string_view prefix = "listener.name.", suffix = ".sasl.jaas.config";
    for (const auto& [key, jaas] : config.explicit_values) {
        if (key.rfind(prefix, 0) != 0 || !key.ends_with(suffix) || jaas == "[hidden]") continue;
        const auto middle = key.substr(prefix.size(), key.size() - prefix.size() - suffix.size());
        std::string listener = middle.substr(0, middle.rfind('.'));
        for (auto& ch : listener) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (!known_listener(listener))
            problems.push_back(fmt::format("{}: {} is not one of the listeners", key, listener));
        std::string error;
        if (!security::parse_jaas_entry(jaas, "ScramLoginModule", error))
            problems.push_back(fmt::format("{}: {}", key, error));
    }
    for (const auto& [listener, options] : config.listener_sasl_options) {
        if (!known_listener(listener))
            problems.push_back(fmt::format("listener.name.{}.{}: {} is not one of the listeners", to_lower(listener),
                                           options.begin()->first, listener));
    }
    // OAUTHBEARER's validator on every SASL listener that offers it (a bad
    // JAAS option or an unreadable JWKS file stops the start).
    if (std::find(config.sasl_enabled_mechanisms.begin(), config.sasl_enabled_mechanisms.end(), "OAUTHBEARER") !=
        config.sasl_enabled_mechanisms.end()) {
        for (const auto& l : config.listeners) {
            const auto protocol = config.security_protocol(l.name).value_or("PLAINTEXT");
            if (protocol != "SASL_PLAINTEXT" && protocol != "SASL_SSL") continue;
            std::string error;
            if (!oauthbearer_validator_for(config, l.name, error)) problems.push_back(error);
        }
    }
    for (const auto& entry : config.sasl_plain_users) {
        const auto colon = entry.find(':');
        if (colon == std::string::npos || colon == 0)
            problems.push_back(fmt::format("sasl.plain.users: '{}' is not name:password",
                                           entry.substr(0, std::min(entry.size(), entry.find(':')))));
    }
}

void check_listeners(const broker_config& config, std::vector<std::string>& problems) {
    const auto problem = [&](std::string text) { problems.push_back(std::move(text)); };

    std::set<std::string> names;
    std::set<uint16_t> ports;
    for (const auto& l : config.listeners) {
        if (!names.insert(l.name).second) problem(fmt::format("listeners: the name {} is used twice", l.name));
        if (l.port != 0 && !ports.insert(l.port).second) {
            problem(fmt::format("listeners: port {} is used twice", l.port));
        }
        const auto protocol = config.security_protocol(l.name);
        if (!protocol) {
            problem(fmt::format("listener.security.protocol.map: no security protocol for listener {}", l.name));
        } else if (*protocol != "PLAINTEXT" && *protocol != "SSL" && *protocol != "SASL_PLAINTEXT" &&
                   *protocol != "SASL_SSL") {
            problem(fmt::format("listener.security.protocol.map: {} maps to {}, which is not a security protocol "
                                "(PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", l.name, *protocol));
        }
    }
    check_security(config, problems);
    for (const auto& l : config.advertised_listeners) {
        if (!config.find_listener(l.name)) {
            problem(fmt::format("advertised.listeners: {} is not one of the listeners", l.name));
        }
        if (l.host.empty() || is_meta_address(l.host) || l.port == 0) {
            problem(fmt::format("advertised.listeners: {} must name a routable host and a port", l.to_string()));
        }
    }
}

void check_roles(const broker_config& config, std::vector<std::string>& problems) {
    const auto problem = [&](std::string text) { problems.push_back(std::move(text)); };
    const bool broker = config.has_role("broker");
    const bool controller = config.has_role("controller");
    std::set<int32_t> voter_ids;
    for (const auto& voter : config.controller_quorum_voters) {
        if (!voter_ids.insert(voter.id).second) {
            problem(fmt::format("controller.quorum.voters: id {} is given twice", voter.id));
        }
    }
    if (config.controller_quorum_voters.empty()) {
        if (!controller) {
            problem("controller.quorum.voters: a node without the controller role needs the quorum's voters");
        }
    } else if (controller) {
        if (!voter_ids.count(config.node_id)) {
            problem(fmt::format("controller.quorum.voters: this node ({} = {}) has the controller role but is not "
                                "a voter", "node.id", config.node_id));
        }
        const bool has_controller_listener = std::any_of(
            config.controller_listener_names.begin(), config.controller_listener_names.end(),
            [&](const std::string& name) { return config.find_listener(name) != nullptr; });
        if (!has_controller_listener) {
            problem("controller.listener.names: a controller in a quorum of several voters needs one of these "
                    "among its listeners");
        }
    }
    if (broker) {
        if (!config.find_listener(config.inter_broker_listener_name)) {
            problem(fmt::format("inter.broker.listener.name: {} is not one of the listeners",
                                config.inter_broker_listener_name));
        }
        for (const auto& name : config.controller_listener_names) {
            if (name == config.inter_broker_listener_name) {
                problem(fmt::format("inter.broker.listener.name: {} is a controller listener", name));
            }
        }
        const auto advertised = config.effective_advertised_listeners();
        if (advertised.empty()) problem("listeners: a broker needs a listener that is not a controller listener");
        if (config.advertised_listeners.empty()) {
            for (const auto& l : advertised) {
                if (is_meta_address(l.host)) {
                    problem(fmt::format("advertised.listeners: must be set, as listener {} binds {}, which "
                                        "clients cannot connect to", l.name, l.host));
                }
            }
        }
    }
}

// The rules that involve several keys, checked once every key has its value.
void check_consistency(const broker_config& config, std::vector<std::string>& problems) {
    check_listeners(config, problems);
    check_roles(config, problems);
    // Kafka's rule too: else a request of the largest allowed size could
    // never be read.
    if (config.max_connections_per_ip == 0 && config.max_connections_per_ip_overrides.empty())
        problems.push_back("max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides "
                           "is set");
    if (config.queued_max_request_bytes > 0 && config.queued_max_request_bytes < config.socket_request_max_bytes)
        problems.push_back(
            fmt::format("queued.max.request.bytes ({}) must be at least socket.request.max.bytes ({}), "
                        "or -1",
                        config.queued_max_request_bytes, config.socket_request_max_bytes));
}

}  // namespace

std::string listener::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("{}://[{}]:{}", name, host, port);
    return fmt::format("{}://{}:{}", name, host, port);
}

std::string quorum_voter::to_string() const {
    if (host.find(':') != std::string::npos) return fmt::format("{}@[{}]:{}", id, host, port);
    return fmt::format("{}@{}:{}", id, host, port);
}

bool broker_config::has_role(std::string_view role) const {
    return std::find(process_roles.begin(), process_roles.end(), role) != process_roles.end();
}

std::map<std::string, std::string> broker_config::plain_users(std::string_view listener_name) const {
    std::map<std::string, std::string> users;
    for (const auto& entry : sasl_plain_users) {
        const auto colon = entry.find(':');
        if (colon != std::string::npos && colon > 0) users[entry.substr(0, colon)] = entry.substr(colon + 1);
    }
    if (auto it = listener_plain_jaas.find(std::string(listener_name)); it != listener_plain_jaas.end()) {
        std::string error;
        if (auto parsed = security::parse_plain_jaas_users(it->second, error)) {
            for (auto& [name, password] : *parsed) users[name] = password;
        }
    }
    return users;
}

std::optional<std::string> broker_config::listener_sasl_option(std::string_view listener_name,
                                                                std::string_view mechanism,
                                                                std::string_view key) const {
    auto it = listener_sasl_options.find(std::string(listener_name));
    if (it == listener_sasl_options.end()) return std::nullopt;
    auto found = it->second.find(fmt::format("{}.{}", to_lower(std::string(mechanism)), key));
    if (found == it->second.end()) return std::nullopt;
    return found->second;
}

int64_t broker_config::max_reauth_ms(std::string_view listener_name, std::string_view mechanism) const {
    auto text = listener_sasl_option(listener_name, mechanism, "connections.max.reauth.ms");
    if (!text) {
        if (auto it = listener_sasl_options.find(std::string(listener_name)); it != listener_sasl_options.end()) {
            if (auto found = it->second.find("connections.max.reauth.ms"); found != it->second.end())
                text = found->second;
        }
    }
    if (!text) return connections_max_reauth_ms;
    int64_t ms = 0;
    std::from_chars(text->data(), text->data() + text->size(), ms);  // checked when loaded
    return ms;
}

security::oauthbearer_validator oauthbearer_validator_for(const broker_config& config, std::string_view listener_name,
                                                          std::string& error) {
    const auto prefix = fmt::format("listener.name.{}.oauthbearer.", to_lower(std::string(listener_name)));
    const auto handler = config.listener_sasl_option(listener_name, "OAUTHBEARER", "sasl.server.callback.handler.class")
                             .value_or("");
    const auto short_name = handler.substr(handler.rfind('.') == std::string::npos ? 0 : handler.rfind('.') + 1);
    if (short_name == "OAuthBearerValidatorCallbackHandler") {
        const auto& url = config.sasl_oauthbearer_jwks_endpoint_url;
        if (url.empty()) {
            error = fmt::format("{}sasl.server.callback.handler.class: {} needs sasl.oauthbearer.jwks.endpoint.url",
                                prefix, handler);
            return nullptr;
        }
        security::jwks_validator_options options;
        // file:/path, file:///path, file://localhost/path.
        std::string path = url.substr(5);
        if (path.rfind("//", 0) == 0) {
            const auto slash = path.find('/', 2);
            path = slash == std::string::npos ? std::string() : path.substr(slash);
        }
        options.jwks_file = path;
        options.expected_audience = config.sasl_oauthbearer_expected_audience;
        options.expected_issuer = config.sasl_oauthbearer_expected_issuer;
        if (!config.sasl_oauthbearer_sub_claim_name.empty()) options.sub_claim_name = config.sasl_oauthbearer_sub_claim_name;
        if (!config.sasl_oauthbearer_scope_claim_name.empty())
            options.scope_claim_name = config.sasl_oauthbearer_scope_claim_name;
        options.clock_skew_seconds = config.sasl_oauthbearer_clock_skew_seconds;
        std::string problem;
        auto validator = security::make_jwks_validator(options, problem);
        if (!validator) error = fmt::format("sasl.oauthbearer.jwks.endpoint.url: {}", problem);
        return validator;
    }
    if (!handler.empty() && short_name != "OAuthBearerUnsecuredValidatorCallbackHandler") {
        error = fmt::format("{}sasl.server.callback.handler.class: {} is not supported (Strata has "
                            "OAuthBearerValidatorCallbackHandler and OAuthBearerUnsecuredValidatorCallbackHandler)",
                            prefix, handler);
        return nullptr;
    }
    std::map<std::string, std::string> jaas_options;
    if (auto jaas = config.listener_sasl_option(listener_name, "OAUTHBEARER", "sasl.jaas.config")) {
        std::string problem;
        auto entry = security::parse_jaas_entry(*jaas, "OAuthBearerLoginModule", problem);
        if (!entry) {
            error = fmt::format("{}sasl.jaas.config: {}", prefix, problem);
            return nullptr;
        }
        jaas_options = entry->options;
    }
    std::string problem;
    auto options = security::unsecured_validator_options_from(jaas_options, problem);
    if (!options) {
        error = fmt::format("{}sasl.jaas.config: {}", prefix, problem);
        return nullptr;
    }
    return security::make_unsecured_validator(std::move(*options));
}

broker_config broker_config::for_listener(std::string_view listener_name) const {
    broker_config effective = *this;
    auto it = listener_ssl_overrides.find(std::string(listener_name));
    if (it == listener_ssl_overrides.end()) return effective;
    for (const auto& [key, value] : it->second) {
        // Checked when loaded: cannot fail here.
        if (const auto* k = find_config_key(key)) k->apply(value, effective);
    }
    return effective;
}

const listener* broker_config::find_listener(std::string_view name) const {
    for (const auto& l : listeners) {
        if (l.name == name) return &l;
    }
    return nullptr;
}

std::optional<std::string> broker_config::security_protocol(std::string_view listener_name) const {
    if (auto it = listener_security_protocol_map.find(std::string(listener_name));
        it != listener_security_protocol_map.end()) {
        return it->second;
    }
    const bool is_controller_listener =
        std::find(controller_listener_names.begin(), controller_listener_names.end(), listener_name) !=
        controller_listener_names.end();
    if (is_controller_listener) return std::string("PLAINTEXT");
    return std::nullopt;
}

std::vector<listener> broker_config::effective_advertised_listeners() const {
    if (!advertised_listeners.empty()) return advertised_listeners;
    std::vector<listener> result;
    for (const auto& l : listeners) {
        const bool is_controller_listener =
            std::find(controller_listener_names.begin(), controller_listener_names.end(), l.name) !=
            controller_listener_names.end();
        if (is_controller_listener) continue;
        result.push_back(l);
        // A listener on every interface is advertised under the machine's
        // name, as Kafka does (0.0.0.0 and :: are refused in validation).
        if (result.back().host.empty()) result.back().host = host_name();
    }
    return result;
}

int64_t broker_config::effective_retention_ms() const {
    if (log_retention_ms) return *log_retention_ms < 0 ? -1 : *log_retention_ms;
    if (log_retention_minutes) return *log_retention_minutes < 0 ? -1 : int64_t{*log_retention_minutes} * 60'000;
    return log_retention_hours < 0 ? -1 : int64_t{log_retention_hours} * 3'600'000;
}

int64_t broker_config::effective_roll_ms() const {
    if (log_roll_ms) return *log_roll_ms;
    return int64_t{log_roll_hours} * 3'600'000;
}

std::string broker_config::effective_metadata_log_dir() const {
    if (!metadata_log_dir.empty()) return metadata_log_dir;
    return log_dirs.empty() ? std::string() : log_dirs.front();
}

config_error::config_error(std::vector<std::string> problems)
    : std::runtime_error(describe_problems(problems)), _problems(std::move(problems)) {}

environment process_environment() {
    return [](const std::string& name) -> std::optional<std::string> {
        if (const char* value = std::getenv(name.c_str())) return std::string(value);
        return std::nullopt;
    };
}

environment no_environment() {
    return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

std::string environment_variable_for(std::string_view key) {
    std::string name = "STRATA_";
    for (char ch : key) {
        if (ch == '.' || ch == '-') {
            name += '_';
        } else {
            name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
    }
    return name;
}

broker_config default_broker_config() {
    broker_config config;
    std::vector<std::string> problems;
    for (const auto& key : config_schema()) {
        if (auto problem = key.apply(key.default_value, config); !problem.empty()) {
            problems.push_back(fmt::format("{}: the built-in default '{}' is invalid: {}", key.name,
                                           key.default_value, problem));
        }
    }
    if (!problems.empty()) throw config_error(std::move(problems));  // a bug in the table; unit-tested
    return config;
}

broker_config load_broker_config(std::string_view yaml, std::string_view origin, const environment& env) {
    broker_config config = default_broker_config();
    std::vector<std::string> problems;
    apply_yaml(yaml, origin, config, problems);
    apply_environment(env, config, problems);
    if (problems.empty()) check_consistency(config, problems);
    if (!problems.empty()) throw config_error(std::move(problems));
    return config;
}

broker_config load_broker_config_file(const std::filesystem::path& file, const environment& env) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw config_error({fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno))});
    std::ostringstream text;
    text << in.rdbuf();
    return load_broker_config(text.str(), file.string(), env);
}

broker_config load_embedded_default_config(const environment& env) {
    return load_broker_config(embedded_default_config(), "(built-in single-node configuration)", env);
}

security::tls_settings tls_settings_from(const broker_config& config) {
    security::tls_settings s;
    s.keystore_location = config.ssl_keystore_location;
    s.keystore_certificate_chain = config.ssl_keystore_certificate_chain;
    s.keystore_key = config.ssl_keystore_key;
    s.key_password = config.ssl_key_password;
    s.truststore_location = config.ssl_truststore_location;
    s.truststore_certificates = config.ssl_truststore_certificates;
    s.client_auth = config.ssl_client_auth;
    s.enabled_protocols = config.ssl_enabled_protocols;
    s.cipher_suites = config.ssl_cipher_suites;
    return s;
}

security::tls_settings listener_tls_settings(const broker_config& config, std::string_view listener_name) {
    auto settings = tls_settings_from(config.for_listener(listener_name));
    // KIP-684: SASL_SSL clients authenticate with SASL; a certificate is
    // asked of them only when ssl.client.auth is set for that listener.
    if (config.security_protocol(listener_name).value_or("PLAINTEXT") == "SASL_SSL") {
        auto it = config.listener_ssl_overrides.find(std::string(listener_name));
        if (it == config.listener_ssl_overrides.end() || !it->second.contains("ssl.client.auth"))
            settings.client_auth = "none";
    }
    return settings;
}

std::vector<std::pair<std::string, int32_t>> parse_connection_overrides(std::string_view value, std::string& problem) {
    std::vector<std::pair<std::string, int32_t>> out;
    const auto trim = [](std::string_view s) {
        while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
        while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
        return s;
    };
    if (trim(value).empty()) return out;
    while (true) {
        const auto comma = value.find(',');
        const auto item = trim(value.substr(0, comma));
        const auto colon = item.rfind(':');
        std::string_view host = colon == std::string_view::npos ? std::string_view() : trim(item.substr(0, colon));
        const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
        if (bracketed) host = host.substr(1, host.size() - 2);
        int32_t count = -1;
        if (colon != std::string_view::npos) {
            const auto number = trim(item.substr(colon + 1));
            auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), count);
            if (error != std::errc() || end != number.data() + number.size()) count = -1;
        }
        if (host.empty() || count < 0 || (!bracketed && host.find(':') != std::string_view::npos)) {
            problem = fmt::format("'{}' is not host:count (a count of at least 0; an IPv6 address in brackets)", item);
            return {};
        }
        out.emplace_back(std::string(host), count);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return out;
}

namespace {

// Kafka resolves the overrides' host names at start-up too.
std::map<std::string, int32_t, std::less<>> resolve_connection_overrides(std::string_view value) {
    std::string problem;
    const auto items = parse_connection_overrides(value, problem);
    if (!problem.empty()) throw std::runtime_error("max.connections.per.ip.overrides: " + problem);
    std::map<std::string, int32_t, std::less<>> out;
    for (const auto& [host, count] : items) {
        boost::system::error_code ec;
        const auto address = boost::asio::ip::make_address(host, ec);
        if (!ec) {
            out[address.to_string()] = count;
            continue;
        }
        boost::asio::io_context io;
        boost::asio::ip::tcp::resolver resolver(io);
        const auto found = resolver.resolve(host, "", ec);
        if (ec)
            throw std::runtime_error(
                fmt::format("max.connections.per.ip.overrides: cannot resolve host {}: {}", host, ec.message()));
        for (const auto& entry : found) {
            auto a = entry.endpoint().address();
            if (a.is_v6() && a.to_v6().is_v4_mapped())
                a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
            out[a.to_string()] = count;
        }
    }
    return out;
}

}  // namespace

net::server_options to_server_options(const broker_config& config) {
    net::server_options options;
    // One TLS context per TLS listener, from its own settings (its
    // listener.name.<l>.ssl.* overrides; KIP-684's ssl.client.auth), each
    // reloaded when its key store or trust store file changes.
    for (const auto& l : config.listeners) {
        const auto protocol = config.security_protocol(l.name).value_or("PLAINTEXT");
        net::listener_options listener;
        listener.name = l.name;
        listener.host = l.host;
        listener.port = l.port;
        listener.sasl = protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL";
        if (protocol == "SSL" || protocol == "SASL_SSL") {
            const auto effective = config.for_listener(l.name);
            security::reloading_tls_context::options reload;
            reload.name = "listener " + l.name;
            reload.allow_dn_changes = effective.ssl_allow_dn_changes;
            reload.allow_san_changes = effective.ssl_allow_san_changes;
            try {
                listener.tls_source = std::make_shared<security::reloading_tls_context>(
                    listener_tls_settings(config, l.name), reload);
            } catch (const std::exception& e) {
                throw std::runtime_error(fmt::format("listener {}: {}", l.name, e.what()));
            }
            listener.tls = listener.tls_source->current();
            listener.zero_copy = false;  // bytes must pass through OpenSSL
            if (protocol == "SSL" && effective.ssl_principal_mapping_rules != "DEFAULT")
                listener.principal_mapper =
                    std::make_shared<security::ssl_principal_mapper>(effective.ssl_principal_mapping_rules);
        }
        options.listeners.push_back(std::move(listener));
    }
    options.max_unauthenticated_request_bytes = config.sasl_server_max_receive_size;
    options.network_threads = static_cast<unsigned>(config.num_network_threads);
    options.max_request_bytes = config.socket_request_max_bytes;
    options.max_in_flight_requests = static_cast<size_t>(config.max_in_flight_requests_per_connection);
    options.max_in_flight_bytes = static_cast<size_t>(config.socket_request_max_bytes);
    options.socket_send_buffer_bytes = config.socket_send_buffer_bytes;
    options.socket_receive_buffer_bytes = config.socket_receive_buffer_bytes;
    options.listen_backlog = config.socket_listen_backlog_size;
    options.queued_max_request_bytes = config.queued_max_request_bytes;
    options.max_connections = config.max_connections;
    options.max_connections_per_ip = config.max_connections_per_ip;
    options.max_connections_per_ip_overrides = resolve_connection_overrides(config.max_connections_per_ip_overrides);
    options.unlimited_listeners = config.controller_listener_names;
    return options;
}

quota::connection_rate_config connection_rate_config_from(const broker_config& config) {
    quota::connection_rate_config rates;
    rates.window = quota::window_config{config.quota_window_num, std::chrono::seconds(config.quota_window_size_seconds)};
    rates.broker_rate = config.max_connection_creation_rate;
    for (const auto& [listener, rate] : config.listener_connection_creation_rates)
        rates.listener_rates.emplace(listener, rate);
    rates.exempt_listeners = config.controller_listener_names;
    return rates;
}

}  // namespace strata::server
