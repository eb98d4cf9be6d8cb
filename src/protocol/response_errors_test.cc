// The generated error-code walk: every ErrorCode field at any depth, writable.
#include <gtest/gtest.h>

#include "strata/protocol/messages/delete_acls_response.h"
#include "strata/protocol/messages/elect_leaders_response.h"
#include "strata/protocol/response_errors.h"

namespace strata::protocol {
namespace {

messages::delete_acls_response nested_errors() {
    messages::delete_acls_response r;
    r.filter_results.resize(2);
    r.filter_results[0].error_code = 0;
    r.filter_results[0].matching_acls.resize(2);
    r.filter_results[0].matching_acls[1].error_code = 41;  // NOT_CONTROLLER, two levels down
    r.filter_results[1].error_code = 31;
    return r;
}

TEST(response_errors, visits_every_error_code_at_every_depth) {
    auto r = nested_errors();
    std::vector<int16_t> seen;
    for_each_error_code(r, [&](int16_t& code) { seen.push_back(code); });
    EXPECT_EQ(seen, (std::vector<int16_t>{0, 0, 41, 31}));
    std::vector<int16_t> collected;
    collect_error_codes(r, collected);  // the metrics' walk: non-zero only
    EXPECT_EQ(collected, (std::vector<int16_t>{41, 31}));
}

TEST(response_errors, finds_and_replaces_a_nested_code) {
    auto r = nested_errors();
    EXPECT_TRUE(has_error(r, 41));
    EXPECT_FALSE(has_error(r, 7));
    replace_error(r, 41, 7);
    EXPECT_EQ(r.filter_results[0].matching_acls[1].error_code, 7);
    EXPECT_FALSE(has_error(r, 41));
}

TEST(response_errors, top_level_and_nested_codes_of_one_response) {
    messages::elect_leaders_response r;
    r.error_code = 41;
    r.replica_election_results.resize(1);
    r.replica_election_results[0].partition_result.resize(2);
    r.replica_election_results[0].partition_result[1].error_code = 84;
    int count = 0;
    for_each_error_code(r, [&](int16_t& code) { count += code != 0; });
    EXPECT_EQ(count, 2);
}

}  // namespace
}  // namespace strata::protocol
