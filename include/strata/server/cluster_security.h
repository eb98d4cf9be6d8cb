// The security of the cluster's own connections: a broker reaching another
// broker's inter-broker listener (replication, transaction markers) or a
// voter's controller listener (the quorum, the controller channel) speaks
// that listener's security protocol, as Kafka's brokers do.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/net/client_security.h"
#include "strata/server/broker_config.h"

namespace strata::server {

// For connections to `listener_name` (its protocol from
// listener.security.protocol.map): PLAINTEXT gives the default (nothing);
// SASL_PLAINTEXT and SASL_SSL give the node's own SASL login (below); SSL
// and SASL_SSL give a TLS client context that verifies the peer against
// ssl.truststore.* (and its host name with
// ssl.endpoint.identification.algorithm=https) and presents the broker's own
// ssl.keystore.* certificate, so a listener with ssl.client.auth=required
// sees the broker's certificate subject as its principal. Throws
// std::runtime_error when the TLS material cannot be loaded or the SASL
// login is not configured (check_cluster_sasl reports that at start-up).
net::client_security cluster_client_security(const broker_config& config, std::string_view listener_name);

// How the node authenticates itself on a SASL inter-broker or controller
// listener, as Kafka's brokers: the mechanism from
// sasl.mechanism.inter.broker.protocol (or sasl.mechanism.controller.protocol
// for the controller listener), the username and password from the
// `username` and `password` options of
// listener.name.<listener>.<mechanism>.sasl.jaas.config.
struct cluster_sasl_login {
    std::string mechanism;  // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    std::string username;
    std::string password;
};

// The login for `listener_name`; nullopt with an empty `problem` when the
// listener does not use SASL, nullopt with `problem` (naming the key to fix)
// when it does and the mechanism or the credentials are missing or not
// supported.
std::optional<cluster_sasl_login> cluster_sasl(const broker_config& config, std::string_view listener_name,
                                               std::string& problem);

// The start-up checks of the node's SASL logins: the inter-broker listener
// (broker role) and the controller listener, the mechanism enabled where the
// node serves the listener, and no SCRAM between controllers (its
// credentials live in the metadata log the controllers must first reach, as
// in Kafka's KRaft).
void check_cluster_sasl(const broker_config& config, std::vector<std::string>& problems);

// The listener the controllers serve the quorum on (the first of
// controller.listener.names).
std::string controller_listener(const broker_config& config);

}  // namespace strata::server
