// A user name and password checked against the broker's SASL users, for
// clients that send a password rather than run a SASL exchange (HTTP Basic
// on the broker's HTTP listener): PLAIN users from the configuration first,
// then SCRAM credentials (SHA-256, then SHA-512) from the metadata image.
//
// A SCRAM check costs a PBKDF2 of the credential's iterations (4096+ HMACs),
// so a successful check is remembered per user together with the credential
// it matched and a digest of the password: the next request with the same
// password costs one SHA-256, and a changed or deleted credential (a new
// StoredKey) or another password is checked in full again.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "strata/security/scram.h"

namespace strata::security {

class password_checker {
public:
    // A user's SCRAM credential of one mechanism, or nullopt.
    using scram_lookup = std::function<std::optional<scram_credential>(const std::string& user, scram_mechanism)>;

    password_checker(std::map<std::string, std::string> plain_users, scram_lookup scram);

    // Thread-safe.
    bool check(const std::string& user, const std::string& password) const;

private:
    struct remembered {
        bytes stored_key;       // the credential that matched
        bytes password_digest;  // SHA-256 of the password that matched it
    };

    std::map<std::string, std::string> _plain;
    scram_lookup _scram;
    mutable std::mutex _lock;
    mutable std::unordered_map<std::string, remembered> _verified;
};

}  // namespace strata::security
