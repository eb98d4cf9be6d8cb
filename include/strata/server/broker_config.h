// The broker's configuration: one YAML file whose keys are Kafka's property
// names, overridden by STRATA_* environment variables. Every key, its type,
// default, validation and documentation is one row of the table in
// src/server/config_schema.cc; docs/configuration.md is checked against it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "strata/net/server.h"
#include "strata/quota/connection_rates.h"
#include "strata/security/oauthbearer.h"
#include "strata/security/tls.h"

namespace strata::server {

// "NAME://host:port" in listeners and advertised.listeners. An empty host
// means every interface.
struct listener {
    std::string name;  // upper case, as Kafka normalises listener names
    std::string host;
    uint16_t port = 0;

    std::string to_string() const;  // the form it was written in
    bool operator==(const listener&) const = default;
};

// "id@host:port" in controller.quorum.voters.
struct quorum_voter {
    int32_t id = 0;
    std::string host;
    uint16_t port = 0;

    std::string to_string() const;
    bool operator==(const quorum_voter&) const = default;
};

// Values of the keys in the schema, one member per key, named after it.
// A value-initialised broker_config is not meaningful: start from
// default_broker_config() (every key at its documented default).
struct broker_config {
    // Node identity and roles.
    int32_t node_id = 0;
    std::vector<std::string> process_roles;
    std::string broker_rack;
    std::string replica_selector_class;

    // Listeners and the controller quorum.
    std::vector<listener> listeners;
    std::vector<listener> advertised_listeners;
    std::map<std::string, std::string> listener_security_protocol_map;
    std::vector<std::string> controller_listener_names;
    std::string inter_broker_listener_name;
    std::vector<quorum_voter> controller_quorum_voters;
    int32_t controller_quorum_election_timeout_ms = 0;
    int32_t controller_quorum_election_backoff_max_ms = 0;
    int32_t controller_quorum_fetch_timeout_ms = 0;
    int32_t controller_quorum_request_timeout_ms = 0;
    int32_t broker_heartbeat_interval_ms = 0;
    int32_t broker_session_timeout_ms = 0;

    // Network.
    int32_t num_network_threads = 0;
    int32_t num_io_threads = 0;
    int32_t socket_request_max_bytes = 0;
    int32_t socket_send_buffer_bytes = 0;
    int32_t socket_receive_buffer_bytes = 0;
    int32_t socket_listen_backlog_size = 0;
    int32_t max_in_flight_requests_per_connection = 0;
    int64_t queued_max_request_bytes = 0;
    int32_t max_connections = 0;
    int32_t max_connections_per_ip = 0;
    std::string max_connections_per_ip_overrides;  // "host:count,...", see parse_connection_overrides
    int32_t max_connection_creation_rate = 0;     // KIP-612, broker-wide
    // Not a key of the table: listener.name.<listener>.max.connection.creation.rate,
    // by upper-case listener name.
    std::map<std::string, int32_t> listener_connection_creation_rates;
    int64_t connections_max_idle_ms = 0;

    // HTTP (metrics, health).
    std::vector<std::string> http_listeners;
    int32_t http_max_request_bytes = 0;
    int32_t http_max_connections = 0;
    std::string http_authentication_method;  // NONE or BASIC
    std::string http_authentication_realm;

    // Storage.
    std::vector<std::string> log_dirs;
    std::string metadata_log_dir;
    int64_t metadata_log_max_record_bytes_between_snapshots = 0;
    int64_t metadata_log_max_snapshot_interval_ms = 0;
    int32_t log_segment_bytes = 0;
    std::optional<int64_t> log_roll_ms;
    int32_t log_roll_hours = 0;
    std::optional<int64_t> log_retention_ms;
    std::optional<int32_t> log_retention_minutes;
    int32_t log_retention_hours = 0;
    int64_t log_retention_bytes = 0;
    int64_t log_retention_check_interval_ms = 0;
    int64_t log_cleaner_backoff_ms = 0;
    int32_t log_index_size_max_bytes = 0;
    int32_t log_index_interval_bytes = 0;
    std::vector<std::string> log_cleanup_policy;
    std::string log_message_timestamp_type;
    std::string compression_type;
    int32_t message_max_bytes = 0;

    // Topics and replication.
    bool auto_create_topics_enable = false;
    int32_t num_partitions = 0;
    int32_t default_replication_factor = 0;
    int32_t min_insync_replicas = 0;
    bool unclean_leader_election_enable = false;
    bool controlled_shutdown_enable = false;
    int32_t controlled_shutdown_timeout_ms = 0;
    bool auto_leader_rebalance_enable = false;
    int32_t leader_imbalance_check_interval_seconds = 0;
    int32_t leader_imbalance_per_broker_percentage = 0;
    int64_t replica_lag_time_max_ms = 0;
    int32_t replica_fetch_max_bytes = 0;
    int32_t replica_fetch_response_max_bytes = 0;
    int32_t replica_fetch_wait_max_ms = 0;
    int32_t replica_fetch_backoff_ms = 0;
    int32_t num_replica_fetchers = 0;
    int32_t offsets_topic_num_partitions = 0;
    int32_t offsets_topic_replication_factor = 0;
    int32_t transaction_state_log_num_partitions = 0;
    int32_t transaction_state_log_replication_factor = 0;
    int32_t transaction_state_log_min_isr = 0;
    int32_t transaction_state_log_segment_bytes = 0;
    int32_t transaction_max_timeout_ms = 0;
    int32_t transaction_abort_timed_out_transaction_cleanup_interval_ms = 0;
    int32_t transactional_id_expiration_ms = 0;
    int32_t transaction_remove_expired_transaction_cleanup_interval_ms = 0;
    int32_t group_initial_rebalance_delay_ms = 0;
    int64_t producer_id_expiration_ms = 0;
    int32_t offsets_topic_segment_bytes = 0;
    int32_t offsets_retention_minutes = 0;
    int64_t offsets_retention_check_interval_ms = 0;
    int32_t offset_metadata_max_bytes = 0;
    int32_t group_min_session_timeout_ms = 0;
    int32_t group_max_session_timeout_ms = 0;
    int32_t group_max_size = 0;
    int32_t group_consumer_session_timeout_ms = 0;
    int32_t group_consumer_heartbeat_interval_ms = 0;

    // Security (SASL, TLS).
    std::vector<std::string> sasl_enabled_mechanisms;
    std::vector<std::string> sasl_plain_users;
    int32_t sasl_server_max_receive_size = 0;
    int32_t connection_failed_authentication_delay_ms = 0;
    int64_t connections_max_reauth_ms = 0;  // KIP-368; 0: sessions do not end
    // OAUTHBEARER's secured validator (KIP-768), with a JWKS file.
    std::string sasl_oauthbearer_jwks_endpoint_url;
    std::vector<std::string> sasl_oauthbearer_expected_audience;
    std::string sasl_oauthbearer_expected_issuer;
    std::string sasl_oauthbearer_sub_claim_name;
    std::string sasl_oauthbearer_scope_claim_name;
    int32_t sasl_oauthbearer_clock_skew_seconds = 0;
    // Client quotas' windowed rates (Kafka's quota.window.*).
    int32_t quota_window_num = 0;
    int32_t quota_window_size_seconds = 0;
    // The controller mutation quota's token bucket (Kafka's controller.quota.window.*).
    int32_t controller_quota_window_num = 0;
    int32_t controller_quota_window_size_seconds = 0;
    std::string ssl_keystore_type;
    std::string ssl_keystore_location;
    std::string ssl_keystore_certificate_chain;
    std::string ssl_keystore_key;
    std::string ssl_key_password;
    std::string ssl_truststore_type;
    std::string ssl_truststore_location;
    std::string ssl_truststore_certificates;
    std::string ssl_client_auth;
    std::string ssl_endpoint_identification_algorithm;
    std::vector<std::string> ssl_enabled_protocols;
    std::vector<std::string> ssl_cipher_suites;
    std::string ssl_principal_mapping_rules;
    bool ssl_allow_dn_changes = false;
    bool ssl_allow_san_changes = false;
    // Authorization (Kafka's StandardAuthorizer).
    std::string authorizer_class_name;
    std::string super_users;
    bool allow_everyone_if_no_acl_found = false;
    // Delegation tokens (KIP-48); an empty secret key disables them.
    std::string delegation_token_secret_key;
    int64_t delegation_token_max_lifetime_ms = 0;
    int64_t delegation_token_expiry_time_ms = 0;
    int64_t delegation_token_expiry_check_interval_ms = 0;
    // Not a key of the table: listener.name.<listener>.plain.sasl.jaas.config,
    // by upper-case listener name (the JAAS text as written).
    std::map<std::string, std::string> listener_plain_jaas;
    // Not keys of the table: Kafka's listener- and mechanism-prefixed SASL
    // keys, listener.name.<listener>.<mechanism>.<key> for
    // connections.max.reauth.ms, sasl.server.callback.handler.class and
    // (OAUTHBEARER) sasl.jaas.config; by upper-case listener name, then
    // "<mechanism in lower case>.<key>", the value as written.
    std::map<std::string, std::map<std::string, std::string>> listener_sasl_options;
    // The listener's value of a mechanism-prefixed key (nullopt: not set).
    std::optional<std::string> listener_sasl_option(std::string_view listener_name, std::string_view mechanism,
                                                    std::string_view key) const;
    // connections.max.reauth.ms for a listener and mechanism: the prefixed
    // value, else the broker-wide one.
    int64_t max_reauth_ms(std::string_view listener_name, std::string_view mechanism) const;
    // Not keys of the table: listener.name.<listener>.ssl.* (Kafka's
    // per-listener overrides of the ssl.* keys), by upper-case listener name,
    // then the ssl.* key, its value as written. See for_listener().
    std::map<std::string, std::map<std::string, std::string>> listener_ssl_overrides;

    // This configuration as a listener sees it: its listener.name.<l>.ssl.*
    // overrides in place of the ssl.* keys (Kafka's valuesWithPrefixOverride).
    broker_config for_listener(std::string_view listener_name) const;

    // Operations.
    std::string log_level;

    // Not a key: the text of every key the file or the environment set (the
    // environment's when both did), for DescribeConfigs' sources.
    std::map<std::string, std::string> explicit_values;

    bool has_role(std::string_view role) const;
    const listener* find_listener(std::string_view name) const;
    // The security protocol of a listener: listener.security.protocol.map,
    // with controller listeners PLAINTEXT unless mapped (as in Kafka's KRaft).
    std::optional<std::string> security_protocol(std::string_view listener_name) const;
    // PLAIN users of a listener: sasl.plain.users plus its JAAS user_ options.
    std::map<std::string, std::string> plain_users(std::string_view listener_name) const;
    // advertised.listeners, or when empty the listeners that are not
    // controller listeners (Kafka's rule).
    std::vector<listener> effective_advertised_listeners() const;
    // Time-based retention and roll, in milliseconds, resolved from the
    // ms / minutes / hours keys in Kafka's order of precedence; -1: unlimited.
    int64_t effective_retention_ms() const;
    int64_t effective_roll_ms() const;
    // metadata.log.dir, or the first of log.dirs.
    std::string effective_metadata_log_dir() const;
};

// Every problem found while loading, each naming its key (and where the value
// came from); loading reports them all at once.
class config_error : public std::runtime_error {
public:
    explicit config_error(std::vector<std::string> problems);
    const std::vector<std::string>& problems() const { return _problems; }

private:
    std::vector<std::string> _problems;
};

// Looks up an environment variable; injected so that tests need not touch
// the process environment.
using environment = std::function<std::optional<std::string>(const std::string& name)>;
environment process_environment();
environment no_environment();

// The environment variable that overrides `key`: STRATA_ + the key upper
// cased, with dots (and dashes) as underscores: log.dirs -> STRATA_LOG_DIRS.
std::string environment_variable_for(std::string_view key);

// Every key at its default, no file, no environment.
broker_config default_broker_config();

// Defaults, then the YAML document `yaml` (`origin` names it in messages),
// then environment overrides; then the checks that span keys. Throws
// config_error.
broker_config load_broker_config(std::string_view yaml, std::string_view origin, const environment& env);
broker_config load_broker_config_file(const std::filesystem::path& file, const environment& env);

// The configuration compiled into stratad for when no file is given: the
// text of config/single-node.yaml at build time.
std::string_view embedded_default_config();
broker_config load_embedded_default_config(const environment& env);

// How the network server is set up from the configuration: every listener
// (with its SASL flag and TLS context), the thread count, the request size
// bounds. Throws std::runtime_error when a TLS key or certificate cannot be
// loaded.
// max.connections.per.ip.overrides: "host:count" items separated by commas,
// the host an IP address (IPv6 in brackets) or a host name, the count at
// least 0. On a malformed value, `problem` says why and the result is empty.
std::vector<std::pair<std::string, int32_t>> parse_connection_overrides(std::string_view value, std::string& problem);

// Throws std::runtime_error when a host name of
// max.connections.per.ip.overrides does not resolve (a start-up failure).
net::server_options to_server_options(const broker_config& config);
// KIP-612's connection creation rates: max.connection.creation.rate, its
// listener.name.<l>. overrides, the quota windows; the controller
// listeners are exempt from the broker-wide rate.
quota::connection_rate_config connection_rate_config_from(const broker_config& config);
security::tls_settings tls_settings_from(const broker_config& config);
// The settings of one listener's TLS server context: the listener's
// overrides applied, and (KIP-684) on a SASL_SSL listener ssl.client.auth
// only when given with the listener prefix.
security::tls_settings listener_tls_settings(const broker_config& config, std::string_view listener_name);

// The OAUTHBEARER token validator of a SASL listener: Kafka's unsecured one
// (the default; options from listener.name.<l>.oauthbearer.sasl.jaas.config)
// or, with listener.name.<l>.oauthbearer.sasl.server.callback.handler.class
// = ...OAuthBearerValidatorCallbackHandler, the JWKS one. nullptr with
// `error` for a bad setting.
security::oauthbearer_validator oauthbearer_validator_for(const broker_config& config, std::string_view listener_name,
                                                          std::string& error);

}  // namespace strata::server

template <>
struct fmt::formatter<strata::server::listener> : fmt::formatter<std::string_view> {
    auto format(const strata::server::listener& value, fmt::format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(value.to_string(), ctx);
    }
};

template <>
struct fmt::formatter<strata::server::quorum_voter> : fmt::formatter<std::string_view> {
    auto format(const strata::server::quorum_voter& value, fmt::format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(value.to_string(), ctx);
    }
};
