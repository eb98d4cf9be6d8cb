// Kafka's JAAS configuration entries, as written in the broker's
// `listener.name.<listener>.<mechanism>.sasl.jaas.config` keys:
//   org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="secret";
// A broker reads two things from them: the users a PLAIN listener accepts
// (`user_<name>="password"`, see sasl.h) and its own client credentials
// (`username`, `password`) for its connections to the other nodes.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace strata::security {

struct jaas_entry {
    std::string login_module;  // as written, e.g. org.apache.kafka.common.security.plain.PlainLoginModule
    std::map<std::string, std::string> options;
};

// One entry: `<LoginModule> <flag> key="value" ...;`. nullopt with `error`
// when the text is not one, or when the login module's class name does not
// end with `module_name` (PlainLoginModule, ScramLoginModule).
std::optional<jaas_entry> parse_jaas_entry(std::string_view jaas, std::string_view module_name, std::string& error);

// The JAAS login module of a SASL mechanism: PlainLoginModule for PLAIN,
// ScramLoginModule for SCRAM-SHA-256/512; empty for any other.
std::string_view jaas_login_module(std::string_view mechanism);

}  // namespace strata::security
