#include "group_call.h"

#include <gtest/gtest.h>

#include "strata/protocol/messages/describe_groups_response.h"
#include "strata/protocol/messages/offset_commit_request.h"
#include "strata/protocol/messages/offset_commit_response.h"
#include "strata/protocol/messages/offset_fetch_request.h"
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

// A non-coordinator's answer to a commit of an allowed and a refused topic:
// the allowed partitions go on to the coordinator, the refusals stay and
// are added to the coordinator's answer.
TEST(rest_group_call, a_mixed_commit_answer_forwards_the_allowed_partitions_only) {
    pm::offset_commit_request request;
    request.group_id = "g";
    for (const char* name : {"allowed", "refused"}) {
        auto& t = request.topics.emplace_back();
        t.name = name;
        for (int32_t i = 0; i < 2; ++i) {
            auto& p = t.partitions.emplace_back();
            p.partition_index = i;
            p.committed_offset = 7;
        }
    }
    auto local = commit_answer({not_coordinator, not_coordinator});
    local.topics[0].name = "allowed";
    auto& refused = local.topics.emplace_back();
    refused.name = "refused";
    for (int32_t i = 0; i < 2; ++i) {
        auto& p = refused.partitions.emplace_back();
        p.partition_index = i;
        p.error_code = topic_refused;
    }
    ASSERT_EQ(only_coordinator_errors(local), 0);
    auto part = coordinator_part(request, local);
    ASSERT_TRUE(part);
    EXPECT_EQ(part->group_id, "g");
    ASSERT_EQ(part->topics.size(), 1u);
    EXPECT_EQ(part->topics[0].name, "allowed");
    EXPECT_EQ(part->topics[0].partitions.size(), 2u);
    EXPECT_EQ(part->topics[0].partitions[1].committed_offset, 7);

    auto answer = commit_answer({0, 0});
    answer.topics[0].name = "allowed";
    add_refusals(answer, local);
    ASSERT_EQ(answer.topics.size(), 2u);
    EXPECT_EQ(answer.topics[1].name, "refused");
    EXPECT_EQ(answer.topics[1].partitions.size(), 2u);
    EXPECT_EQ(answer.topics[1].partitions[0].error_code, topic_refused);

    // Nothing to send on: all refused, all done, or only coordinator errors
    // (those are forwarded whole).
    EXPECT_FALSE(coordinator_part(request, commit_answer({topic_refused, topic_refused})));
    EXPECT_FALSE(coordinator_part(request, commit_answer({0, 0})));
}

TEST(rest_group_call, a_mixed_fetch_answer_forwards_the_describable_topics_only) {
    pm::offset_fetch_request request;
    request.group_id = "g";
    request.topics.emplace();
    for (const char* name : {"allowed", "refused"}) {
        auto& t = request.topics->emplace_back();
        t.name = name;
        t.partition_indexes = {0, 1};
    }
    pm::offset_fetch_response local;
    local.error_code = not_coordinator;
    auto& t = local.topics.emplace_back();
    t.name = "refused";
    for (int32_t i = 0; i < 2; ++i) {
        auto& p = t.partitions.emplace_back();
        p.partition_index = i;
        p.committed_offset = -1;
        p.error_code = topic_refused;
    }
    ASSERT_EQ(only_coordinator_errors(local), 0);
    auto part = coordinator_part(request, local);
    ASSERT_TRUE(part && part->topics);
    ASSERT_EQ(part->topics->size(), 1u);
    EXPECT_EQ((*part->topics)[0].name, "allowed");

    pm::offset_fetch_response answer;
    answer.topics.emplace_back().name = "allowed";
    add_refusals(answer, local);
    ASSERT_EQ(answer.topics.size(), 2u);
    EXPECT_EQ(answer.topics[1].name, "refused");
    EXPECT_EQ(answer.topics[1].partitions[1].error_code, topic_refused);

    // Every named topic refused: answered here (no coordinator error).
    local.error_code = 0;
    EXPECT_FALSE(coordinator_part(request, local));
    // "Every topic" (the lags' request) has no part to single out.
    local.error_code = not_coordinator;
    request.topics.reset();
    EXPECT_FALSE(coordinator_part(request, local));
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
