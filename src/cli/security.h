// How the CLI connects: Kafka's client-properties file (--command-config)
// turned into the TLS context and SASL credentials of net::client_options.
#pragma once

#include <map>
#include <string>

#include "strata/net/client_connection.h"

namespace strata::cli {

// "key=value" lines, '#' and '!' comments, surrounding blanks trimmed (the
// subset of java.util.Properties that client configs use).
std::map<std::string, std::string> parse_properties(const std::string& text);

// Reads `path` and applies security.protocol, sasl.mechanism (or
// librdkafka's sasl.mechanisms), sasl.username / sasl.password or
// sasl.jaas.config, ssl.ca.location / ssl.truststore.location /
// ssl.truststore.certificates, ssl.certificate.location + ssl.key.location
// or ssl.keystore.location, ssl.key.password and
// ssl.endpoint.identification.algorithm to `options`. Throws a usage error
// naming the key for anything it cannot use.
void apply_command_config(const std::string& path, net::client_options& options);

}  // namespace strata::cli
