// Every message of every schema at every valid version: encode, size(),
// decode, compare, re-encode, and reject every truncation.
#include <gtest/gtest.h>

#include "protocol_samples.h"

namespace strata::protocol::testing {
namespace {

TEST(codec_round_trip, every_message_every_version) {
    auto cases = all_message_cases();
    ASSERT_GT(cases.size(), 1000u);
    size_t failures = 0;
    for (auto& c : cases) {
        auto result = c.round_trip();
        if (!result.ok) {
            ++failures;
            ADD_FAILURE() << c.name << " v" << c.version << " seed " << c.seed << ": " << result.error;
            if (failures > 50) break;
        }
    }
}

}  // namespace
}  // namespace strata::protocol::testing
