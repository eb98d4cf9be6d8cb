// KIP-768's secured OAUTHBEARER validator (Kafka's
// OAuthBearerValidatorCallbackHandler) with its keys from a JWKS file
// (sasl.oauthbearer.jwks.endpoint.url=file:...): RS256/384/512 signatures
// checked with OpenSSL, then jose4j's claim rules as Kafka configures them
// (exp and iat required, nbf honoured, the clock skew, the audience and
// issuer), then Kafka's own (a non-empty subject claim).
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/security/oauthbearer.h"

namespace strata::security {

namespace {

using json = nlohmann::json;

struct pkey_deleter {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using pkey_ptr = std::shared_ptr<EVP_PKEY>;

struct jwk {
    std::string kid;  // may be empty
    std::string alg;  // may be empty: any RS*
    pkey_ptr key;
};

pkey_ptr rsa_public_key(const std::string& n, const std::string& e) {
    BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr);
    BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr);
    OSSL_PARAM_BLD* build = OSSL_PARAM_BLD_new();
    OSSL_PARAM* params = nullptr;
    EVP_PKEY_CTX* ctx = nullptr;
    EVP_PKEY* key = nullptr;
    if (bn_n && bn_e && build && OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN(build, OSSL_PKEY_PARAM_RSA_E, bn_e) && (params = OSSL_PARAM_BLD_to_param(build)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr)) && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(build);
    BN_free(bn_n);
    BN_free(bn_e);
    return key ? pkey_ptr(key, pkey_deleter{}) : nullptr;
}

const EVP_MD* digest_of(std::string_view alg) {
    if (alg == "RS256") return EVP_sha256();
    if (alg == "RS384") return EVP_sha384();
    if (alg == "RS512") return EVP_sha512();
    return nullptr;
}

bool verify(EVP_PKEY* key, const EVP_MD* md, std::string_view signed_part, const std::string& signature) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                               reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

oauthbearer_validation invalid(std::string reason) {
    oauthbearer_validation v;
    v.reason = std::move(reason);
    return v;
}

std::optional<json> decode_part(std::string_view part) {
    const auto text = base64url_decode(part);
    if (!text) return std::nullopt;
    auto parsed = json::parse(*text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    return parsed;
}

// A NumericDate claim in seconds; nullopt when absent, error when not a number.
std::optional<double> numeric_date(const json& claims, const char* name, bool& wrong) {
    auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number()) {
        wrong = true;
        return std::nullopt;
    }
    return it->get<double>();
}

oauthbearer_validation validate(const std::vector<jwk>& keys, const jwks_validator_options& options, int64_t now_ms,
                                std::string_view token) {
    const size_t first = token.find('.');
    const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
        return invalid("not a JWS compact serialization (three dot-separated parts)");
    const auto header = decode_part(token.substr(0, first));
    const auto claims = decode_part(token.substr(first + 1, second - first - 1));
    const auto signature = base64url_decode(token.substr(second + 1));
    if (!header || !claims || !signature) return invalid("malformed Base64 URL encoded value or JSON");
    const auto alg_it = header->find("alg");
    const std::string alg = alg_it != header->end() && alg_it->is_string() ? alg_it->get<std::string>() : "";
    const EVP_MD* md = digest_of(alg);
    if (!md) return invalid(fmt::format("the JWS algorithm '{}' is not allowed (RS256, RS384, RS512)", alg));
    const auto kid_it = header->find("kid");
    const std::string kid = kid_it != header->end() && kid_it->is_string() ? kid_it->get<std::string>() : "";
    const auto signed_part = token.substr(0, second);
    bool matched_key = false, verified = false;
    for (const auto& k : keys) {
        if (!kid.empty() && k.kid != kid) continue;
        if (!k.alg.empty() && k.alg != alg) continue;
        matched_key = true;
        if (verify(k.key.get(), md, signed_part, *signature)) {
            verified = true;
            break;
        }
    }
    if (!matched_key) return invalid(fmt::format("no key in the JWKS matches kid '{}' and alg {}", kid, alg));
    if (!verified) return invalid("the JWS signature is not valid");

    // jose4j's checks, as Kafka's ValidatorAccessTokenValidator sets them up.
    bool wrong = false;
    const auto exp = numeric_date(*claims, "exp", wrong);
    const auto iat = numeric_date(*claims, "iat", wrong);
    const auto nbf = numeric_date(*claims, "nbf", wrong);
    if (wrong) return invalid("a time claim (exp, iat, nbf) is not a number");
    if (!exp) return invalid("No Expiration Time (exp) claim present.");
    if (!iat) return invalid("No Issued At (iat) claim present.");
    const double now = static_cast<double>(now_ms) / 1000.0;
    const double skew = options.clock_skew_seconds;
    if (now - skew >= *exp) return invalid(fmt::format("The JWT is no longer valid - exp {} is before now {}", *exp, now));
    if (nbf && now + skew < *nbf) return invalid(fmt::format("The JWT is not yet valid - nbf {}", *nbf));
    // Audience: jose4j refuses a token naming an audience when none is
    // expected, and requires one of the expected ones when configured.
    std::vector<std::string> audience;
    if (auto aud = claims->find("aud"); aud != claims->end()) {
        if (aud->is_string()) audience.push_back(aud->get<std::string>());
        else if (aud->is_array()) {
            for (const auto& a : *aud)
                if (a.is_string()) audience.push_back(a.get<std::string>());
        } else return invalid("the aud claim is neither a string nor a list of strings");
    }
    if (options.expected_audience.empty()) {
        if (claims->contains("aud"))
            return invalid("Audience (aud) claim present in the JWT but no expected audience value(s) were provided "
                           "(sasl.oauthbearer.expected.audience)");
    } else {
        bool any = false;
        for (const auto& a : audience)
            any = any || std::find(options.expected_audience.begin(), options.expected_audience.end(), a) !=
                             options.expected_audience.end();
        if (!any) return invalid("Audience (aud) claim does not contain an acceptable identifier");
    }
    if (!options.expected_issuer.empty()) {
        const auto iss = claims->find("iss");
        if (iss == claims->end() || !iss->is_string() || iss->get<std::string>() != options.expected_issuer)
            return invalid(fmt::format("Issuer (iss) claim is not the expected {}", options.expected_issuer));
    }
    // Kafka's ClaimValidationUtils.
    oauthbearer_token result;
    const auto sub = claims->find(options.sub_claim_name);
    if (sub == claims->end() || !sub->is_string())
        return invalid(fmt::format("{} value must be a non-empty string", options.sub_claim_name));
    result.principal = sub->get<std::string>();
    const auto b = result.principal.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return invalid(fmt::format("{} value must be non-empty", options.sub_claim_name));
    result.principal = result.principal.substr(b, result.principal.find_last_not_of(" \t\r\n") - b + 1);
    if (auto scope = claims->find(options.scope_claim_name); scope != claims->end()) {
        if (scope->is_string()) result.scope.insert(scope->get<std::string>());
        else if (scope->is_array())
            for (const auto& s : *scope)
                if (s.is_string()) result.scope.insert(s.get<std::string>());
    }
    result.lifetime_ms = static_cast<int64_t>(*exp * 1000);
    result.start_ms = static_cast<int64_t>(*iat * 1000);
    oauthbearer_validation ok;
    ok.token = std::move(result);
    return ok;
}

}  // namespace

oauthbearer_validator make_jwks_validator(const jwks_validator_options& options, std::string& error,
                                          wall_clock_ms clock) {
    std::ifstream in(options.jwks_file);
    if (!in) {
        error = fmt::format("cannot read the JWKS file {}", options.jwks_file);
        return nullptr;
    }
    std::stringstream text;
    text << in.rdbuf();
    const auto set = json::parse(text.str(), nullptr, false);
    if (set.is_discarded() || !set.is_object() || !set.contains("keys") || !set["keys"].is_array()) {
        error = fmt::format("{} is not a JWKS (a JSON object with a \"keys\" list)", options.jwks_file);
        return nullptr;
    }
    std::vector<jwk> keys;
    for (const auto& k : set["keys"]) {
        if (!k.is_object() || k.value("kty", "") != "RSA") continue;  // only RSA keys verify RS*
        if (k.contains("use") && k.value("use", "") != "sig") continue;
        const auto n = base64url_decode(k.value("n", ""));
        const auto e = base64url_decode(k.value("e", ""));
        if (!n || !e || n->empty() || e->empty()) continue;
        auto key = rsa_public_key(*n, *e);
        if (!key) continue;
        keys.push_back(jwk{k.value("kid", ""), k.value("alg", ""), std::move(key)});
    }
    if (keys.empty()) {
        error = fmt::format("the JWKS file {} holds no RSA signing key", options.jwks_file);
        return nullptr;
    }
    return [keys = std::move(keys), options, clock = std::move(clock)](std::string_view token) {
        return validate(keys, options, clock(), token);
    };
}

}  // namespace strata::security
