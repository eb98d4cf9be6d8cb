#include "strata/security/oauthbearer.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace strata::security {
namespace {

using json = nlohmann::json;

constexpr int64_t now_ms = 1'700'000'000'000;  // a fixed wall clock
int64_t fixed_clock() { return now_ms; }

std::string unsecured(const json& claims, const json& header = json{{"alg", "none"}}) {
    return base64url_encode(header.dump()) + "." + base64url_encode(claims.dump()) + ".";
}

std::string initial_response(const std::string& token, const std::string& authzid = "",
                             const std::string& extensions = "") {
    return "n," + (authzid.empty() ? "" : "a=" + authzid) + ",\x01" + "auth=Bearer " + token + extensions + "\x01\x01";
}

TEST(oauthbearer, initial_response_as_kafka_writes_it) {
    std::string error;
    auto parsed = parse_oauthbearer_initial_response(initial_response("abc.def.", "", "\x01traceId=123"), error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(parsed->token, "abc.def.");
    EXPECT_EQ(parsed->authorization_id, "");
    EXPECT_EQ(parsed->extensions, (std::map<std::string, std::string>{{"traceId", "123"}}));
    parsed = parse_oauthbearer_initial_response(initial_response("t", "alice"), error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(parsed->authorization_id, "alice");
    // The scheme is case-insensitive.
    parsed = parse_oauthbearer_initial_response("n,,\x01" "auth=bearer xyz\x01\x01", error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(parsed->token, "xyz");
}

TEST(oauthbearer, malformed_initial_responses_are_refused) {
    std::string error;
    for (const auto& bad : {std::string(""), std::string("n,,auth=Bearer x\x01\x01"),  // no ^A after the header
                                  std::string("y,,\x01" "auth=Bearer x\x01\x01"),            // channel binding
                                  std::string("n,,\x01" "auth=Bearer x\x01"),                // no closing ^A
                                  std::string("n,,\x01" "auth=Bearer\x01\x01"),              // no token
                                  std::string("n,,\x01" "auth=Bearer a+b\x01\x01"),          // bad token char
                                  std::string("n,,\x01" "1x=2\x01" "auth=Bearer x\x01\x01"),  // bad key
                                  std::string("n,a=a,b,\x01" "auth=Bearer x\x01\x01")}) {    // bad authzid
        EXPECT_FALSE(parse_oauthbearer_initial_response(bad, error)) << bad;
    }
    EXPECT_FALSE(parse_oauthbearer_initial_response("n,,\x01" "foo=bar\x01\x01", error));
    EXPECT_EQ(error, "Invalid OAUTHBEARER client first message: 'auth' not specified");
    EXPECT_FALSE(parse_oauthbearer_initial_response("n,,\x01" "auth=Basic xyz\x01\x01", error));
    EXPECT_EQ(error, "Invalid scheme in OAUTHBEARER client first message: Basic");
}

TEST(oauthbearer, error_json_is_kafkas) {
    EXPECT_EQ(oauthbearer_error_json("invalid_token", std::nullopt), R"({"status":"invalid_token"})");
    EXPECT_EQ(oauthbearer_error_json("insufficient_scope", "[a, b]"),
              R"({"status":"insufficient_scope", "scope":"[a, b]"})");
}

TEST(oauthbearer, unsecured_validator_accepts_a_good_token) {
    auto validate = make_unsecured_validator({}, fixed_clock);
    const auto v = validate(unsecured({{"sub", "alice"}, {"iat", now_ms / 1000}, {"exp", now_ms / 1000 + 3600},
                                       {"scope", json::array({"a", "b"})}}));
    ASSERT_TRUE(v.token) << v.reason;
    EXPECT_EQ(v.token->principal, "alice");
    EXPECT_EQ(v.token->lifetime_ms, now_ms + 3'600'000);
    EXPECT_EQ(v.token->scope, (std::set<std::string>{"a", "b"}));
}

TEST(oauthbearer, unsecured_validator_checks_like_kafka) {
    auto validate = make_unsecured_validator({}, fixed_clock);
    const int64_t now = now_ms / 1000;
    // Expired, exactly at expiry, missing exp, missing sub, iat in the
    // future, exp not after iat, a signature, alg other than none.
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}, {"exp", now - 1}})).token);
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}, {"exp", now}})).token);
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}})).token);
    EXPECT_FALSE(validate(unsecured({{"exp", now + 60}})).token);
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}, {"iat", now + 10}, {"exp", now + 60}})).token);
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}, {"exp", "soon"}})).token);
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}, {"exp", now + 60}}) + "c2ln").token);
    EXPECT_FALSE(validate(unsecured({{"sub", "a"}, {"exp", now + 60}}, {{"alg", "RS256"}})).token);
    EXPECT_FALSE(validate("not-a-jws").token);
    EXPECT_FALSE(validate("a..").token);
    const auto failure = validate(unsecured({{"sub", "a"}, {"exp", now - 1}}));
    EXPECT_EQ(failure.status, "invalid_token");
    EXPECT_FALSE(failure.scope);
}

TEST(oauthbearer, unsecured_validator_options) {
    std::string error;
    auto options = unsecured_validator_options_from({{"unsecuredValidatorPrincipalClaimName", "user"},
                                                     {"unsecuredValidatorRequiredScope", "read write"},
                                                     {"unsecuredValidatorAllowableClockSkewMs", "5000"}},
                                                    error);
    ASSERT_TRUE(options) << error;
    auto validate = make_unsecured_validator(*options, fixed_clock);
    const int64_t now = now_ms / 1000;
    // The principal comes from `user`; 3 s past exp is within the 5 s skew.
    auto v = validate(unsecured({{"user", "bob"}, {"exp", now - 3}, {"scope", json::array({"read", "write"})}}));
    ASSERT_TRUE(v.token) << v.reason;
    EXPECT_EQ(v.token->principal, "bob");
    v = validate(unsecured({{"user", "bob"}, {"exp", now + 60}, {"scope", json::array({"read"})}}));
    EXPECT_FALSE(v.token);
    EXPECT_EQ(v.status, "insufficient_scope");
    EXPECT_EQ(v.scope, "[read, write]");
    EXPECT_FALSE(unsecured_validator_options_from({{"unsecuredValidatorAllowableClockSkewMs", "-1"}}, error));
    EXPECT_FALSE(unsecured_validator_options_from({{"unsecuredValidatorAllowableClockSkewMs", "x"}}, error));
}

TEST(oauthbearer, exchange_answers_errors_with_json_then_fails_on_the_ack) {
    auto exchange = make_oauthbearer_exchange(make_unsecured_validator({}, fixed_clock));
    auto step = exchange->evaluate(initial_response(unsecured({{"sub", "a"}, {"exp", now_ms / 1000 - 1}})));
    ASSERT_TRUE(step.ok);
    EXPECT_FALSE(step.complete);
    EXPECT_EQ(step.response, R"({"status":"invalid_token"})");
    step = exchange->evaluate("\x01");
    EXPECT_FALSE(step.ok);
    EXPECT_EQ(exchange->client_error(), R"({"status":"invalid_token"})");
}

TEST(oauthbearer, exchange_success_and_authorization_id) {
    const auto token = unsecured({{"sub", "alice"}, {"exp", now_ms / 1000 + 60}});
    auto exchange = make_oauthbearer_exchange(make_unsecured_validator({}, fixed_clock));
    auto step = exchange->evaluate(initial_response(token, "alice"));
    ASSERT_TRUE(step.ok && step.complete) << step.error;
    EXPECT_EQ(step.response, "");
    EXPECT_EQ(exchange->user(), "alice");
    EXPECT_EQ(exchange->credential_expiry_ms(), now_ms + 60'000);
    auto other = make_oauthbearer_exchange(make_unsecured_validator({}, fixed_clock));
    step = other->evaluate(initial_response(token, "bob"));
    EXPECT_FALSE(step.ok);
    EXPECT_NE(other->client_error().find("authorization id (bob)"), std::string::npos);
    // Garbage: a generic failure (no client message).
    auto garbage = make_oauthbearer_exchange(make_unsecured_validator({}, fixed_clock));
    EXPECT_FALSE(garbage->evaluate("garbage").ok);
    EXPECT_EQ(garbage->client_error(), "");
}

// ---- JWKS ----

struct rsa_key {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    ~rsa_key() { EVP_PKEY_free(key); }
    std::string component(const char* name) const {
        BIGNUM* bn = nullptr;
        EVP_PKEY_get_bn_param(key, name, &bn);
        std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
        BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
        BN_free(bn);
        return out;
    }
    json jwk(const std::string& kid) const {
        return {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"}, {"alg", "RS256"},
                {"n", base64url_encode(component(OSSL_PKEY_PARAM_RSA_N))},
                {"e", base64url_encode(component(OSSL_PKEY_PARAM_RSA_E))}};
    }
    std::string sign(const json& header, const json& claims) const {
        const auto input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        size_t size = 0;
        EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
        EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size());
        std::string sig(size, '\0');
        EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size());
        EVP_MD_CTX_free(ctx);
        sig.resize(size);
        return input + "." + base64url_encode(sig);
    }
};

class jwks : public ::testing::Test {
protected:
    void SetUp() override {
        path = std::filesystem::temp_directory_path() / ("strata-jwks-" + std::to_string(::getpid()) + ".json");
        std::ofstream(path) << json{{"keys", json::array({key.jwk("k1")})}}.dump();
        options.jwks_file = path.string();
    }
    void TearDown() override { std::filesystem::remove(path); }
    oauthbearer_validator make() {
        std::string error;
        auto v = make_jwks_validator(options, error, fixed_clock);
        EXPECT_TRUE(v) << error;
        return v;
    }
    json claims(json extra = json::object()) const {
        json c{{"sub", "carol"}, {"iat", now_ms / 1000}, {"exp", now_ms / 1000 + 600}};
        c.update(extra);
        return c;
    }
    // One key for every test: generating a 2048-bit key takes a while.
    static inline rsa_key key;
    std::filesystem::path path;
    jwks_validator_options options;
};

TEST_F(jwks, accepts_a_token_signed_by_a_key_of_the_set) {
    auto validate = make();
    auto v = validate(key.sign({{"alg", "RS256"}, {"kid", "k1"}}, claims()));
    ASSERT_TRUE(v.token) << v.reason;
    EXPECT_EQ(v.token->principal, "carol");
    EXPECT_EQ(v.token->lifetime_ms, now_ms + 600'000);
    // Without a kid, any key of the set that verifies it.
    EXPECT_TRUE(validate(key.sign({{"alg", "RS256"}}, claims())).token);
}

TEST_F(jwks, refuses_other_keys_algorithms_and_tampering) {
    auto validate = make();
    rsa_key other;
    EXPECT_FALSE(validate(other.sign({{"alg", "RS256"}, {"kid", "k1"}}, claims())).token);
    EXPECT_FALSE(validate(key.sign({{"alg", "RS256"}, {"kid", "k2"}}, claims())).token);
    EXPECT_FALSE(validate(unsecured(claims())).token);  // alg none
    auto token = key.sign({{"alg", "RS256"}, {"kid", "k1"}}, claims());
    const auto dot = token.find('.');
    const auto forged = token.substr(0, dot + 1) + base64url_encode(claims({{"sub", "admin"}}).dump()) +
                        token.substr(token.rfind('.'));
    EXPECT_FALSE(validate(forged).token);
}

TEST_F(jwks, checks_the_claims) {
    auto validate = make();
    const int64_t now = now_ms / 1000;
    const json header{{"alg", "RS256"}, {"kid", "k1"}};
    EXPECT_FALSE(validate(key.sign(header, claims({{"exp", now - 31}}))).token);  // past the 30 s skew
    EXPECT_TRUE(validate(key.sign(header, claims({{"exp", now - 29}}))).token);   // within it
    EXPECT_FALSE(validate(key.sign(header, claims({{"nbf", now + 60}}))).token);
    json no_iat = claims();
    no_iat.erase("iat");
    EXPECT_FALSE(validate(key.sign(header, no_iat)).token);
    EXPECT_FALSE(validate(key.sign(header, claims({{"sub", ""}}))).token);
    EXPECT_FALSE(validate(key.sign(header, claims({{"aud", "kafka"}}))).token);  // none expected
    options.expected_audience = {"kafka"};
    options.expected_issuer = "https://issuer";
    options.sub_claim_name = "client_id";
    validate = make();
    EXPECT_FALSE(validate(key.sign(header, claims({{"aud", "other"}, {"iss", "https://issuer"}}))).token);
    EXPECT_FALSE(validate(key.sign(header, claims({{"aud", "kafka"}, {"iss", "https://evil"}}))).token);
    auto v = validate(key.sign(header, claims({{"aud", json::array({"x", "kafka"})}, {"iss", "https://issuer"},
                                                {"client_id", "svc"}})));
    ASSERT_TRUE(v.token) << v.reason;
    EXPECT_EQ(v.token->principal, "svc");
}

TEST_F(jwks, a_bad_file_is_a_startup_error) {
    std::string error;
    options.jwks_file = "/nonexistent/jwks.json";
    EXPECT_FALSE(make_jwks_validator(options, error));
    EXPECT_NE(error.find("cannot read"), std::string::npos);
    std::ofstream(path) << R"({"keys":[{"kty":"EC"}]})";
    options.jwks_file = path.string();
    EXPECT_FALSE(make_jwks_validator(options, error));
    EXPECT_NE(error.find("no RSA signing key"), std::string::npos);
}

}  // namespace
}  // namespace strata::security
