// The security of the cluster's own connections: a broker reaching another
// broker's inter-broker listener (replication, transaction markers) or a
// voter's controller listener (the quorum, the controller channel) speaks
// that listener's security protocol, as Kafka's brokers do.
#pragma once

#include <string>
#include <string_view>

#include "strata/net/client_security.h"
#include "strata/server/broker_config.h"

namespace strata::server {

// For connections to `listener_name` (its protocol from
// listener.security.protocol.map): PLAINTEXT gives the default (nothing);
// SSL gives a TLS client context that verifies the peer against
// ssl.truststore.* (and its host name with
// ssl.endpoint.identification.algorithm=https) and presents the broker's own
// ssl.keystore.* certificate, so a listener with ssl.client.auth=required
// sees the broker's certificate subject as its principal. Throws
// std::runtime_error when the TLS material cannot be loaded.
net::client_security cluster_client_security(const broker_config& config, std::string_view listener_name);

// The listener the controllers serve the quorum on (the first of
// controller.listener.names).
std::string controller_listener(const broker_config& config);

}  // namespace strata::server
