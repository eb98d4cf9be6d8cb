#include "delegation_tokens.h"

#include <algorithm>

#include <openssl/crypto.h>

namespace strata::server {

namespace records = metadata::records;

security::principal parse_principal(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) return security::principal{"User", std::string(text)};
    return security::principal{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
}

bool owner_or_renewer(const records::delegation_token_record& token, const std::string& principal) {
    return token.owner == principal || token.requester == principal ||
           std::find(token.renewers.begin(), token.renewers.end(), principal) != token.renewers.end();
}

created_token create_delegation_token(const delegation_token_config& config, const security::principal& owner,
                                      const security::principal& requester,
                                      const std::vector<security::principal>& renewers, int64_t max_lifetime_ms,
                                      int64_t now_ms, std::string token_id) {
    created_token out;
    out.token.owner = owner.to_string();
    out.token.requester = requester.to_string();
    if (!config.enabled()) {
        out.error = kafka_error::delegation_token_auth_disabled;
        return out;
    }
    for (const auto& r : renewers) {
        if (r.type != "User") {
            out.error = kafka_error::invalid_principal_type;
            return out;
        }
        out.token.renewers.push_back(r.to_string());
    }
    const int64_t lifetime = max_lifetime_ms > 0 ? std::min(config.max_lifetime_ms, max_lifetime_ms)
                                                 : config.max_lifetime_ms;
    out.token.issue_timestamp = now_ms;
    out.token.max_timestamp = now_ms + lifetime;
    out.token.expiration_timestamp = std::min(out.token.max_timestamp, now_ms + config.expiry_time_ms);
    out.token.token_id = std::move(token_id);
    out.hmac = security::delegation_token_hmac(config.secret_key, out.token.token_id);
    out.records.emplace_back(out.token);
    return out;
}

const records::delegation_token_record* token_for_hmac(const metadata::metadata_image& image,
                                                       const delegation_token_config& config,
                                                       const security::bytes& hmac) {
    if (!config.enabled()) return nullptr;
    // One HMAC per token (a microsecond each): token counts are small, and
    // the image keeps no secret-derived index.
    for (const auto& [id, token] : image.tokens()) {
        const auto expected = security::delegation_token_hmac(config.secret_key, id);
        if (expected.size() == hmac.size() && CRYPTO_memcmp(expected.data(), hmac.data(), hmac.size()) == 0)
            return &token;
    }
    return nullptr;
}

namespace {

// The checks renew and expire share, in Kafka's order.
const records::delegation_token_record* checked_token(const metadata::metadata_image& image,
                                                      const delegation_token_config& config,
                                                      const security::bytes& hmac,
                                                      const security::principal& principal, int64_t now_ms,
                                                      changed_expiry& out) {
    const auto* token = token_for_hmac(image, config, hmac);
    if (!token) {
        out.error = kafka_error::delegation_token_not_found;
        return nullptr;
    }
    if (token->max_timestamp < now_ms || token->expiration_timestamp < now_ms) {
        out.error = kafka_error::delegation_token_expired;
        return nullptr;
    }
    // Kafka's allowedToRenew: the owner or a listed renewer (not the requester).
    const auto name = principal.to_string();
    if (token->owner != name && std::find(token->renewers.begin(), token->renewers.end(), name) ==
                                    token->renewers.end()) {
        out.error = kafka_error::delegation_token_owner_mismatch;
        return nullptr;
    }
    return token;
}

}  // namespace

changed_expiry renew_delegation_token(const metadata::metadata_image& image, const delegation_token_config& config,
                                      const security::bytes& hmac, const security::principal& renewer,
                                      int64_t renew_period_ms, int64_t now_ms) {
    changed_expiry out;
    const auto* token = checked_token(image, config, hmac, renewer, now_ms, out);
    if (!token) return out;
    const int64_t period = renew_period_ms > 0 ? std::min(config.expiry_time_ms, renew_period_ms)
                                               : config.expiry_time_ms;
    out.expiry_timestamp_ms = std::min(token->max_timestamp, now_ms + period);
    auto renewed = *token;
    renewed.expiration_timestamp = out.expiry_timestamp_ms;
    out.records.emplace_back(std::move(renewed));
    return out;
}

changed_expiry expire_delegation_token(const metadata::metadata_image& image, const delegation_token_config& config,
                                       const security::bytes& hmac, const security::principal& principal,
                                       int64_t expiry_time_period_ms, int64_t now_ms) {
    changed_expiry out;
    if (!config.enabled()) {
        out.error = kafka_error::delegation_token_auth_disabled;
        return out;
    }
    const auto* token = checked_token(image, config, hmac, principal, now_ms, out);
    if (!token) return out;
    if (expiry_time_period_ms < 0) {
        out.expiry_timestamp_ms = expiry_time_period_ms;
        records::remove_delegation_token_record remove;
        remove.token_id = token->token_id;
        out.records.emplace_back(std::move(remove));
        return out;
    }
    out.expiry_timestamp_ms = std::min(token->max_timestamp, now_ms + expiry_time_period_ms);
    auto changed = *token;
    changed.expiration_timestamp = out.expiry_timestamp_ms;
    out.records.emplace_back(std::move(changed));
    return out;
}

}  // namespace strata::server
