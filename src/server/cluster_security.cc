#include "strata/server/cluster_security.h"

#include "strata/security/tls.h"

namespace strata::server {

std::string controller_listener(const broker_config& config) {
    return config.controller_listener_names.empty() ? std::string("CONTROLLER")
                                                    : config.controller_listener_names.front();
}

net::client_security cluster_client_security(const broker_config& config, std::string_view listener_name) {
    net::client_security out;
    const auto protocol = config.security_protocol(listener_name).value_or("PLAINTEXT");
    // check_security refuses SASL on these listeners at start-up, so only
    // PLAINTEXT and SSL reach here.
    if (protocol == "SSL" || protocol == "SASL_SSL") {
        out.tls = security::make_client_tls_context(tls_settings_from(config), true);
        out.verify_hostname = config.ssl_endpoint_identification_algorithm == "https";
    }
    return out;
}

}  // namespace strata::server
