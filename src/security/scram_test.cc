#include "strata/security/scram.h"

#include <gtest/gtest.h>

#include "strata/security/jaas.h"
#include "strata/security/sasl.h"

namespace strata::security {
namespace {

// RFC 7677, section 3: user "user", password "pencil".
constexpr std::string_view rfc_client_first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view rfc_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view rfc_server_first =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view rfc_client_final =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view rfc_server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

scram_credential rfc_credential() {
    return make_scram_credential(scram_mechanism::sha_256, "pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="),
                                 4096);
}

TEST(scram, rfc7677_server_side) {
    scram_server server(
        scram_mechanism::sha_256,
        [](const std::string& user) -> std::optional<scram_credential> {
            if (user == "user") return rfc_credential();
            return std::nullopt;
        },
        std::string(rfc_server_nonce));
    auto first = server.evaluate(rfc_client_first);
    ASSERT_TRUE(first.ok) << first.error;
    EXPECT_FALSE(first.complete);
    EXPECT_EQ(first.response, rfc_server_first);
    auto final = server.evaluate(rfc_client_final);
    ASSERT_TRUE(final.ok) << final.error;
    EXPECT_TRUE(final.complete);
    EXPECT_EQ(final.response, rfc_server_final);
    EXPECT_EQ(server.user(), "user");
}

TEST(scram, rfc7677_client_side) {
    scram_client client(scram_mechanism::sha_256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
    EXPECT_EQ(client.first(), rfc_client_first);
    std::string error;
    auto final = client.final(rfc_server_first, error);
    ASSERT_TRUE(final) << error;
    EXPECT_EQ(*final, rfc_client_final);
    EXPECT_TRUE(client.verify(rfc_server_final, error)) << error;
    EXPECT_FALSE(client.verify("v=AAAA", error));
}

// librdkafka sends its client nonce before the combined one in
// client-final; Kafka accepts a nonce that ends with the combined one.
TEST(scram, a_client_final_nonce_ending_with_the_combined_nonce_is_accepted) {
    auto lookup = [](const std::string&) -> std::optional<scram_credential> { return rfc_credential(); };
    scram_server server(scram_mechanism::sha_256, lookup, std::string(rfc_server_nonce));
    ASSERT_TRUE(server.evaluate(rfc_client_first).ok);
    // The proof is computed over the message as sent, so build it like a client would.
    const std::string without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO" + std::string(rfc_server_first.substr(2, 50));
    const std::string auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO," + std::string(rfc_server_first) + "," + without_proof;
    const auto salted = scram_salted_password(scram_mechanism::sha_256, "pencil", *base64_decode("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
    const auto client_key = scram_hmac(scram_mechanism::sha_256, salted, "Client Key");
    const auto signature = scram_hmac(scram_mechanism::sha_256, scram_hash(scram_mechanism::sha_256, client_key), auth_message);
    bytes proof(client_key.size());
    for (size_t i = 0; i < proof.size(); ++i) proof[i] = client_key[i] ^ signature[i];
    auto final = server.evaluate(without_proof + ",p=" + base64_encode(proof));
    EXPECT_TRUE(final.complete) << final.error;
}

TEST(scram, wrong_password_and_unknown_user_fail) {
    auto lookup = [](const std::string& user) -> std::optional<scram_credential> {
        if (user == "alice") return make_scram_credential(scram_mechanism::sha_512, "right", random_bytes(16), 4096);
        return std::nullopt;
    };
    for (const auto* password : {"right", "wrong"}) {
        scram_server server(scram_mechanism::sha_512, lookup);
        scram_client client(scram_mechanism::sha_512, "alice", password);
        auto first = server.evaluate(client.first());
        ASSERT_TRUE(first.ok);
        std::string error;
        auto final = server.evaluate(*client.final(first.response, error));
        EXPECT_EQ(final.ok, std::string(password) == "right");
        if (final.ok) {
            EXPECT_TRUE(client.verify(final.response, error)) << error;
        }
    }
    scram_server server(scram_mechanism::sha_512, lookup);
    scram_client client(scram_mechanism::sha_512, "bob", "x");
    EXPECT_FALSE(server.evaluate(client.first()).ok);
}

TEST(scram, usernames_with_commas_and_equals_are_escaped) {
    scram_server server(scram_mechanism::sha_256, [](const std::string& user) -> std::optional<scram_credential> {
        if (user == "a,b=c") return make_scram_credential(scram_mechanism::sha_256, "pw", random_bytes(16), 4096);
        return std::nullopt;
    });
    scram_client client(scram_mechanism::sha_256, "a,b=c", "pw");
    const auto first_message = client.first();
    EXPECT_NE(first_message.find("n=a=2Cb=3Dc"), std::string::npos);
    auto first = server.evaluate(first_message);
    ASSERT_TRUE(first.ok) << first.error;
    std::string error;
    EXPECT_TRUE(server.evaluate(*client.final(first.response, error)).complete);
}

TEST(scram, channel_binding_and_garbage_are_refused) {
    auto lookup = [](const std::string&) -> std::optional<scram_credential> { return rfc_credential(); };
    for (std::string_view bad : {"p=tls-unique,,n=user,r=abc", "", "n,,", "n,,r=abc", "n,,n=us=er,r=abc"}) {
        scram_server server(scram_mechanism::sha_256, lookup);
        EXPECT_FALSE(server.evaluate(bad).ok) << bad;
    }
    scram_server server(scram_mechanism::sha_256, lookup, std::string(rfc_server_nonce));
    ASSERT_TRUE(server.evaluate(rfc_client_first).ok);
    EXPECT_FALSE(server.evaluate("c=biws,r=wrongnonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=").ok);
}

TEST(plain, checks_user_password_and_authzid) {
    auto lookup = [](const std::string& user) -> std::optional<std::string> {
        if (user == "alice") return std::string("secret");
        return std::nullopt;
    };
    using namespace std::string_literals;
    EXPECT_TRUE(make_plain_exchange(lookup)->evaluate("\0alice\0secret"s).complete);
    EXPECT_TRUE(make_plain_exchange(lookup)->evaluate("alice\0alice\0secret"s).complete);
    EXPECT_FALSE(make_plain_exchange(lookup)->evaluate("\0alice\0secreT"s).ok);
    EXPECT_FALSE(make_plain_exchange(lookup)->evaluate("\0alice\0secret2"s).ok);
    EXPECT_FALSE(make_plain_exchange(lookup)->evaluate("\0bob\0secret"s).ok);
    EXPECT_FALSE(make_plain_exchange(lookup)->evaluate("bob\0alice\0secret"s).ok);
    EXPECT_FALSE(make_plain_exchange(lookup)->evaluate("alice secret"s).ok);
}

TEST(plain, jaas_users) {
    std::string error;
    auto users = parse_plain_jaas_users(
        R"(org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-pw" user_admin="admin-pw" user_alice="a;b\"c";)",
        error);
    ASSERT_TRUE(users) << error;
    EXPECT_EQ(users->size(), 2u);
    EXPECT_EQ(users->at("admin"), "admin-pw");
    EXPECT_EQ(users->at("alice"), "a;b\"c");
    EXPECT_FALSE(parse_plain_jaas_users("org.apache.kafka.common.security.scram.ScramLoginModule required;", error));
    EXPECT_FALSE(parse_plain_jaas_users("PlainLoginModule required user_a=\"x\"", error));
}

// The broker's own credentials for its connections to the other nodes.
TEST(jaas, own_credentials) {
    std::string error;
    auto entry = parse_jaas_entry(
        "org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=\"broker\"\n  password=\"p w;\";",
        "ScramLoginModule", error);
    ASSERT_TRUE(entry) << error;
    EXPECT_EQ(entry->options.at("username"), "broker");
    EXPECT_EQ(entry->options.at("password"), "p w;");
    EXPECT_FALSE(parse_jaas_entry("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"a\";",
                                  "ScramLoginModule", error));
    EXPECT_NE(error.find("org.apache.kafka.common.security.scram.ScramLoginModule"), std::string::npos);
    EXPECT_FALSE(parse_jaas_entry("x.NotPlainLoginModule required;", "PlainLoginModule", error));
    EXPECT_EQ(jaas_login_module("SCRAM-SHA-512"), "ScramLoginModule");
    EXPECT_EQ(jaas_login_module("PLAIN"), "PlainLoginModule");
    EXPECT_EQ(jaas_login_module("GSSAPI"), "");
}

// KIP-48: HmacSHA512 keyed with the secret's UTF-8 bytes over the token id's
// (RFC 4231 test case 2's key and data, SHA-512).
TEST(scram, delegation_token_hmac_is_hmac_sha512_of_the_token_id) {
    const auto hmac = delegation_token_hmac("Jefe", "what do ya want for nothing?");
    EXPECT_EQ(base64_encode(hmac),
              base64_encode(scram_hmac(scram_mechanism::sha_512, bytes{'J', 'e', 'f', 'e'},
                                       "what do ya want for nothing?")));
    ASSERT_EQ(hmac.size(), 64u);
    EXPECT_EQ(hmac[0], 0x16);
    EXPECT_EQ(hmac[63], 0x37);
}

// A client-first with tokenauth=true names a token: its credential is the
// one derived from the HMAC, the exchange authenticates the owner, and the
// token's expiry bounds the session. Without the extension the same name is
// looked up as a user; an unknown token fails.
TEST(scram, token_authentication_authenticates_the_owner) {
    const std::string hmac = base64_encode(delegation_token_hmac("secret", "tok-1"));
    auto users = [](const std::string&) -> std::optional<scram_credential> { return std::nullopt; };
    auto tokens = [&](const std::string& id) -> std::optional<scram_token> {
        if (id != "tok-1") return std::nullopt;
        return scram_token{make_scram_credential(scram_mechanism::sha_256, hmac, random_bytes(16), 4096), "alice",
                           12345};
    };
    {
        scram_server server(scram_mechanism::sha_256, users, {}, tokens);
        scram_client client(scram_mechanism::sha_256, "tok-1", hmac);
        client.set_token_auth(true);
        const auto first_message = client.first();
        EXPECT_NE(first_message.find(",tokenauth=true"), std::string::npos);
        auto first = server.evaluate(first_message);
        ASSERT_TRUE(first.ok) << first.error;
        std::string error;
        auto final = server.evaluate(*client.final(first.response, error));
        ASSERT_TRUE(final.complete) << final.error;
        EXPECT_TRUE(client.verify(final.response, error)) << error;
        EXPECT_EQ(server.user(), "alice");
        EXPECT_TRUE(server.token_authenticated());
        EXPECT_EQ(server.token_expiry_ms(), 12345);
    }
    {  // the wrong HMAC
        scram_server server(scram_mechanism::sha_256, users, {}, tokens);
        scram_client client(scram_mechanism::sha_256, "tok-1", "not-the-hmac");
        client.set_token_auth(true);
        auto first = server.evaluate(client.first());
        ASSERT_TRUE(first.ok);
        std::string error;
        EXPECT_FALSE(server.evaluate(*client.final(first.response, error)).ok);
    }
    {  // no extension: a user lookup, which knows no tok-1
        scram_server server(scram_mechanism::sha_256, users, {}, tokens);
        scram_client client(scram_mechanism::sha_256, "tok-1", hmac);
        EXPECT_FALSE(server.evaluate(client.first()).ok);
    }
    {  // an unknown token; and a server without tokens
        scram_server server(scram_mechanism::sha_256, users, {}, tokens);
        EXPECT_FALSE(server.evaluate("n,,n=tok-2,r=abc,tokenauth=true").ok);
        scram_server without(scram_mechanism::sha_256, users);
        EXPECT_FALSE(without.evaluate("n,,n=tok-1,r=abc,tokenauth=TRUE").ok);
    }
}

}  // namespace
}  // namespace strata::security
