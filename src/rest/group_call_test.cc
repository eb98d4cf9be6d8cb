#include "group_call.h"

#include <gtest/gtest.h>

#include "strata/protocol/messages/describe_groups_response.h"
#include "strata/protocol/messages/offset_commit_request.h"
#include "strata/protocol/messages/offset_commit_response.h"
#include "strata/protocol/messages/offset_fetch_response.h"

namespace strata::rest {
namespace {

namespace pm = protocol::messages;

constexpr int16_t not_coordinator = kafka_error_code(kafka_error::not_coordinator);
constexpr int16_t loading = kafka_error_code(kafka_error::coordinator_load_in_progress);
constexpr int16_t topic_refused = kafka_error_code(kafka_error::topic_authorization_failed);

pm::offset_commit_response commit_answer(std::vector<int16_t> codes) {
    pm::offset_commit_response r;
    auto& t = r.topics.emplace_back();
    t.name = "t";
    for (size_t i = 0; i < codes.size(); ++i) {
        auto& p = t.partitions.emplace_back();
        p.partition_index = int32_t(i);
        p.error_code = codes[i];
    }
    return r;
}

// Forwarding is decided by these: only an answer whose every error says
// "not here (yet)" goes on to the coordinator; one refusal of the user's
// (an authorization error) keeps the whole answer here, so the inter-broker
// principal never does what the user may not.
TEST(rest_group_call, forwards_only_answers_of_coordinator_errors_alone) {
    EXPECT_EQ(only_coordinator_errors(commit_answer({})), 0);
    EXPECT_EQ(only_coordinator_errors(commit_answer({0, 0})), 0);
    EXPECT_EQ(only_coordinator_errors(commit_answer({not_coordinator, not_coordinator})), not_coordinator);
    EXPECT_EQ(only_coordinator_errors(commit_answer({loading, not_coordinator})), loading);
    EXPECT_EQ(only_coordinator_errors(commit_answer({not_coordinator, topic_refused})), 0);
    EXPECT_EQ(only_coordinator_errors(commit_answer({topic_refused, not_coordinator})), 0);

    pm::offset_fetch_response fetched;
    fetched.error_code = not_coordinator;
    EXPECT_EQ(only_coordinator_errors(fetched), not_coordinator);
    fetched.error_code = kafka_error_code(kafka_error::group_authorization_failed);
    EXPECT_EQ(only_coordinator_errors(fetched), 0);

    pm::describe_groups_response described;
    described.groups.emplace_back().error_code = kafka_error_code(kafka_error::coordinator_not_available);
    EXPECT_EQ(only_coordinator_errors(described), kafka_error_code(kafka_error::coordinator_not_available));
}

TEST(rest_group_call, a_forwarded_request_waits_what_is_left_but_join_and_sync_their_own) {
    using std::chrono::milliseconds;
    pm::offset_commit_request commit;
    EXPECT_EQ(forward_timeout(commit, milliseconds(12000)), milliseconds(5000));
    EXPECT_EQ(forward_timeout(commit, milliseconds(2500)), milliseconds(2500));
    EXPECT_EQ(forward_timeout(commit, milliseconds(-3)), milliseconds(1000));
    pm::join_group_request join;
    join.rebalance_timeout_ms = 60000;
    join.session_timeout_ms = 45000;
    EXPECT_EQ(forward_timeout(join, milliseconds(100)), milliseconds(65000));
    pm::sync_group_request sync;
    EXPECT_EQ(forward_timeout(sync, milliseconds(100)), milliseconds(30000));
}

}  // namespace
}  // namespace strata::rest
