#include "strata/security/password_check.h"

#include <openssl/crypto.h>

namespace strata::security {

namespace {

bool same(const bytes& a, const bytes& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool same(const std::string& a, const std::string& b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bytes digest_of(const std::string& password) {
    return scram_hash(scram_mechanism::sha_256, bytes(password.begin(), password.end()));
}

}  // namespace

password_checker::password_checker(std::map<std::string, std::string> plain_users, scram_lookup scram)
    : _plain(std::move(plain_users)), _scram(std::move(scram)) {}

bool password_checker::check(const std::string& user, const std::string& password) const {
    if (user.empty()) return false;
    if (auto it = _plain.find(user); it != _plain.end()) return same(it->second, password);
    if (!_scram) return false;
    const auto digest = digest_of(password);
    for (auto mechanism : {scram_mechanism::sha_256, scram_mechanism::sha_512}) {
        const auto credential = _scram(user, mechanism);
        if (!credential) continue;
        {
            std::lock_guard guard(_lock);
            auto it = _verified.find(user);
            if (it != _verified.end() && same(it->second.stored_key, credential->stored_key) &&
                same(it->second.password_digest, digest))
                return true;
        }
        // RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key")).
        const auto salted = scram_salted_password(mechanism, password, credential->salt, credential->iterations);
        const auto stored = scram_hash(mechanism, scram_hmac(mechanism, salted, "Client Key"));
        if (!same(stored, credential->stored_key)) continue;
        std::lock_guard guard(_lock);
        _verified[user] = remembered{credential->stored_key, digest};
        return true;
    }
    return false;
}

}  // namespace strata::security
