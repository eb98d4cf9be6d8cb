#include "strata/security/password_check.h"

#include <gtest/gtest.h>

#include <atomic>

namespace strata::security {
namespace {

TEST(password_checker, plain_users_from_the_configuration) {
    password_checker check({{"alice", "alice-secret"}}, nullptr);
    EXPECT_TRUE(check.check("alice", "alice-secret"));
    EXPECT_FALSE(check.check("alice", "alice-secret "));
    EXPECT_FALSE(check.check("alice", ""));
    EXPECT_FALSE(check.check("bob", "alice-secret"));
    EXPECT_FALSE(check.check("", ""));
}

TEST(password_checker, scram_credentials_of_either_mechanism) {
    const auto salt = bytes{1, 2, 3, 4, 5, 6, 7, 8};
    std::map<std::pair<std::string, scram_mechanism>, scram_credential> credentials{
        {{"carol", scram_mechanism::sha_256}, make_scram_credential(scram_mechanism::sha_256, "carol-pw", salt, 4096)},
        {{"dave", scram_mechanism::sha_512}, make_scram_credential(scram_mechanism::sha_512, "dave-pw", salt, 4096)},
    };
    std::atomic<int> lookups{0};
    password_checker check({}, [&](const std::string& user, scram_mechanism m) -> std::optional<scram_credential> {
        ++lookups;
        auto it = credentials.find({user, m});
        if (it == credentials.end()) return std::nullopt;
        return it->second;
    });
    EXPECT_TRUE(check.check("carol", "carol-pw"));
    EXPECT_TRUE(check.check("dave", "dave-pw"));
    EXPECT_FALSE(check.check("carol", "dave-pw"));
    EXPECT_FALSE(check.check("dave", "carol-pw"));
    EXPECT_FALSE(check.check("erin", "carol-pw"));

    // Remembered, but not past a changed credential: the old password stops
    // working as soon as the image has the new StoredKey.
    EXPECT_TRUE(check.check("carol", "carol-pw"));
    credentials[{"carol", scram_mechanism::sha_256}] =
        make_scram_credential(scram_mechanism::sha_256, "carol-new", salt, 4096);
    EXPECT_FALSE(check.check("carol", "carol-pw"));
    EXPECT_TRUE(check.check("carol", "carol-new"));
    credentials.erase({"carol", scram_mechanism::sha_256});
    EXPECT_FALSE(check.check("carol", "carol-new"));
}

}  // namespace
}  // namespace strata::security
