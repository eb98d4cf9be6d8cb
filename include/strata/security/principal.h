// The identity a connection authenticated as. A leaf header: the network
// layer keeps one on every connection.
#pragma once

#include <string>

namespace strata::security {

// KafkaPrincipal: "User:alice". Every connection has one; until SASL and
// mutual TLS exist it is User:ANONYMOUS, as Kafka's PLAINTEXT listeners give.
struct principal {
    std::string type = "User";
    std::string name = "ANONYMOUS";

    std::string to_string() const { return type + ":" + name; }
    bool operator==(const principal&) const = default;
};

}  // namespace strata::security
