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
    // Authenticated with a delegation token (KIP-48): such a connection may
    // not create, renew or expire tokens. Not part of the identity: equal
    // principals name the same type and name, as Kafka's KafkaPrincipal.
    bool token_authenticated = false;

    std::string to_string() const { return type + ":" + name; }
    bool operator==(const principal& other) const { return type == other.type && name == other.name; }
};

}  // namespace strata::security
