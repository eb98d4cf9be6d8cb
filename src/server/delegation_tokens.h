// KIP-48's delegation tokens as the active controller decides them (Kafka
// 3.9's DelegationTokenControlManager) and as brokers filter them for
// DescribeDelegationToken (its DelegationTokenManager.filterToken). Pure
// logic over a metadata image: time, token ids and principals are passed
// in, the records to commit come out. delegation_token_apis.cc runs it on
// the active controller; the unit tests drive it step by step.
//
// A token is a DelegationTokenRecord: owner, requester and renewers as
// principal strings ("User:alice"), issue / expiry / max timestamps, the
// token id. Its HMAC is never stored: every node derives it from the token
// id with its own delegation.token.secret.key (security::delegation_token_hmac).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/metadata/image.h"
#include "strata/security/principal.h"
#include "strata/security/scram.h"

namespace strata::server {

struct delegation_token_config {
    std::string secret_key;                  // delegation.token.secret.key; empty: tokens disabled
    int64_t max_lifetime_ms = 604800000;     // delegation.token.max.lifetime.ms (7 days)
    int64_t expiry_time_ms = 86400000;       // delegation.token.expiry.time.ms (1 day)
    bool enabled() const { return !secret_key.empty(); }
};

// "User:alice" -> {User, alice}; text without a colon is a User.
security::principal parse_principal(std::string_view text);

// TokenInformation.ownerOrRenewer (KIP-373): the owner, the requester or a
// renewer. `principal` as "Type:name".
bool owner_or_renewer(const metadata::records::delegation_token_record& token, const std::string& principal);

struct created_token {
    kafka_error error = kafka_error::none;
    metadata::records::delegation_token_record token;  // owner, requester set even on error
    security::bytes hmac;
    std::vector<metadata::record> records;
};

// CreateDelegationToken on the controller: DELEGATION_TOKEN_AUTH_DISABLED
// without a secret, INVALID_PRINCIPAL_TYPE for a renewer that is not a User;
// else a token that lives until now + min(max_lifetime_ms > 0 ?
// max_lifetime_ms : max, delegation.token.max.lifetime.ms), renewable until
// then, expiring at the earlier of that and now + delegation.token.expiry.time.ms.
created_token create_delegation_token(const delegation_token_config& config, const security::principal& owner,
                                      const security::principal& requester,
                                      const std::vector<security::principal>& renewers, int64_t max_lifetime_ms,
                                      int64_t now_ms, std::string token_id);

// The token whose HMAC this is (Kafka's tokenForHmac), or null.
const metadata::records::delegation_token_record* token_for_hmac(const metadata::metadata_image& image,
                                                                 const delegation_token_config& config,
                                                                 const security::bytes& hmac);

struct changed_expiry {
    kafka_error error = kafka_error::none;
    int64_t expiry_timestamp_ms = 0;
    std::vector<metadata::record> records;
};

// RenewDelegationToken: DELEGATION_TOKEN_NOT_FOUND, DELEGATION_TOKEN_EXPIRED
// (past its expiry or max), DELEGATION_TOKEN_OWNER_MISMATCH (neither its
// owner nor a renewer), in that order; else the expiry becomes
// min(max, now + min(renew_period_ms > 0 ? renew_period_ms : default,
// delegation.token.expiry.time.ms)).
changed_expiry renew_delegation_token(const metadata::metadata_image& image, const delegation_token_config& config,
                                      const security::bytes& hmac, const security::principal& renewer,
                                      int64_t renew_period_ms, int64_t now_ms);

// ExpireDelegationToken: as renew's checks (and DELEGATION_TOKEN_AUTH_DISABLED
// first); a negative period removes the token at once (the response carries
// the period itself as the expiry, as Kafka's does), else the expiry becomes
// min(max, now + period).
changed_expiry expire_delegation_token(const metadata::metadata_image& image, const delegation_token_config& config,
                                       const security::bytes& hmac, const security::principal& principal,
                                       int64_t expiry_time_period_ms, int64_t now_ms);

// Kafka's DelegationTokenManager.filterToken for DescribeDelegationToken:
// with an owners filter, only tokens some listed principal owns, requested
// or may renew; of those, the requester's own (owner, requester, renewer),
// or those `may_describe` allows (DESCRIBE on the token, or DESCRIBE_TOKENS
// on its owner's User resource).
template <typename MayDescribe>
bool token_visible(const metadata::records::delegation_token_record& token, const security::principal& requester,
                   const std::optional<std::vector<std::string>>& owners, MayDescribe may_describe) {
    if (owners) {
        bool listed = false;
        for (const auto& owner : *owners) listed = listed || owner_or_renewer(token, owner);
        if (!listed) return false;
    }
    return owner_or_renewer(token, requester.to_string()) || may_describe(token);
}

}  // namespace strata::server
