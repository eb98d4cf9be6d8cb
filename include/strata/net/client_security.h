// How the cluster's own outbound connections (replication, the controller
// quorum, the controller channel, transaction markers) secure themselves:
// the security protocol of the listener they connect to, as a Kafka broker's
// inter-broker and controller clients do.
#pragma once

#include <memory>
#include <string>

#include "strata/net/client_connection.h"

namespace strata::net {

struct client_security {
    // SSL / SASL_SSL: verifies the peer against the trust store and presents
    // the broker's own certificate (mutual TLS when the peer asks for it).
    std::shared_ptr<boost::asio::ssl::context> tls;
    bool verify_hostname = true;  // ssl.endpoint.identification.algorithm=https
    // SASL_PLAINTEXT / SASL_SSL: empty mechanism, no SASL.
    std::string sasl_mechanism;
    std::string sasl_username;
    std::string sasl_password;

    void apply_to(client_options& options) const {
        options.tls = tls;
        options.verify_hostname = verify_hostname;
        options.sasl_mechanism = sasl_mechanism;
        options.sasl_username = sasl_username;
        options.sasl_password = sasl_password;
    }
};

}  // namespace strata::net
