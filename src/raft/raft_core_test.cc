// Step-by-step tests of one or two raft_cores with hand-delivered messages:
// the order of persist and send actions, the vote and pre-vote rules,
// divergence repair, the high-watermark rule, snapshots, check-quorum.
#include <gtest/gtest.h>

#include "strata/raft/memory_log.h"
#include "strata/raft/raft_core.h"

namespace strata::raft {
namespace {

node_id n(int32_t id) { return node_id{id}; }

raft_config config_for(int32_t self, std::vector<int32_t> voters = {1, 2, 3}) {
    raft_config config;
    config.self = n(self);
    for (int32_t v : voters) {
        config.voters.push_back(n(v));
    }
    config.election_timeout = 100;
    config.election_jitter = 100;
    config.fetch_timeout = 200;
    config.request_timeout = 50;
    config.seed = static_cast<uint64_t>(self);
    config.snapshot_chunk_bytes = 4;
    return config;
}

template <typename T>
std::vector<T> all_of(const std::vector<action>& actions) {
    std::vector<T> out;
    for (const action& a : actions) {
        if (auto* x = std::get_if<T>(&a)) {
            out.push_back(*x);
        }
    }
    return out;
}

template <typename Request>
std::vector<std::pair<node_id, Request>> sent(const std::vector<action>& actions) {
    std::vector<std::pair<node_id, Request>> out;
    for (const auto& s : all_of<send_request>(actions)) {
        if (auto* r = std::get_if<Request>(&s.message)) {
            out.emplace_back(s.to, *r);
        }
    }
    return out;
}

// Index of the first action of type T, or -1.
template <typename T>
int first_index(const std::vector<action>& actions) {
    for (size_t i = 0; i < actions.size(); ++i) {
        if (std::holds_alternative<T>(actions[i])) {
            return static_cast<int>(i);
        }
    }
    return -1;
}

void fill(memory_log& log, int64_t count, int32_t ep) {
    for (int64_t i = 0; i < count; ++i) {
        log.append(log_entry{log.end_offset(), epoch{ep}, entry_kind::data, "e" + std::to_string(log.end_offset().value())});
    }
}

// Drives `core` (which must be able to win) through pre-vote and vote, with
// node 2 granting both.
void win_election(raft_core& core, millis& now) {
    now += 1000;
    core.tick(now);
    auto pre_votes = sent<vote_request>(core.take_actions());
    ASSERT_FALSE(pre_votes.empty());
    ASSERT_TRUE(pre_votes.front().second.pre_vote);
    core.handle_response(n(2), pre_votes.front().second, vote_response{kafka_error::none, std::nullopt, core.current_epoch(), true}, now);
    auto votes = sent<vote_request>(core.take_actions());
    ASSERT_FALSE(votes.empty());
    core.handle_response(n(2), votes.front().second, vote_response{kafka_error::none, std::nullopt, core.current_epoch(), true}, now);
    ASSERT_EQ(core.role(), raft_role::leader);
    core.take_actions();
}

TEST(raft_core, a_vote_is_persisted_before_the_response_is_sent) {
    memory_log log;
    raft_core core(config_for(2), log, {}, 0);
    core.take_actions();
    auto response = core.handle_request(n(1), vote_request{epoch{1}, n(1), n(2), epoch{0}, offset{0}, false}, 10);
    auto actions = core.take_actions();
    EXPECT_TRUE(std::get<vote_response>(response).vote_granted);
    auto persisted = all_of<persist_quorum_state>(actions);
    ASSERT_FALSE(persisted.empty());
    // The driver sends the response only after draining these actions.
    EXPECT_EQ(persisted.back().state, (quorum_state{epoch{1}, n(1), std::nullopt}));
    EXPECT_EQ(core.current_epoch(), epoch{1});
}

TEST(raft_core, one_vote_per_epoch) {
    memory_log log;
    raft_core core(config_for(2), log, {}, 0);
    auto vote = [&](int32_t candidate) {
        auto r = core.handle_request(n(candidate), vote_request{epoch{1}, n(candidate), n(2), epoch{0}, offset{0}, false}, 10);
        return std::get<vote_response>(r).vote_granted;
    };
    EXPECT_TRUE(vote(1));
    EXPECT_FALSE(vote(3));
    EXPECT_TRUE(vote(1));  // a retransmission gets the same answer
    // After a restart with the persisted state, still no second vote.
    memory_log log2;
    raft_core restarted(config_for(2), log2, quorum_state{epoch{1}, n(1), std::nullopt}, 20);
    auto r = restarted.handle_request(n(3), vote_request{epoch{1}, n(3), n(2), epoch{0}, offset{0}, false}, 30);
    EXPECT_FALSE(std::get<vote_response>(r).vote_granted);
}

TEST(raft_core, election_restriction_refuses_a_less_up_to_date_candidate) {
    memory_log log;
    fill(log, 3, 1);
    raft_core core(config_for(2), log, quorum_state{epoch{1}, std::nullopt, std::nullopt}, 0);
    auto granted = [&](int32_t ep, int32_t last_epoch, int64_t end, int32_t candidate) {
        auto r = core.handle_request(n(candidate), vote_request{epoch{ep}, n(candidate), n(2), epoch{last_epoch}, offset{end}, false}, 10);
        return std::get<vote_response>(r).vote_granted;
    };
    EXPECT_FALSE(granted(2, 1, 2, 1));  // shorter log, same last epoch
    EXPECT_FALSE(granted(3, 0, 9, 1));  // longer but older last epoch
    EXPECT_TRUE(granted(4, 2, 1, 3));   // newer last epoch wins
}

TEST(raft_core, a_pre_vote_changes_nothing_durable) {
    memory_log log;
    raft_core core(config_for(2), log, {}, 0);
    core.take_actions();
    auto r = core.handle_request(n(1), vote_request{epoch{1}, n(1), n(2), epoch{0}, offset{0}, true}, 10);
    EXPECT_TRUE(std::get<vote_response>(r).vote_granted);
    EXPECT_TRUE(core.take_actions().empty());
    EXPECT_EQ(core.current_epoch(), epoch{0});
}

TEST(raft_core, a_follower_refuses_pre_votes_while_its_leader_is_alive) {
    memory_log log;
    raft_core core(config_for(2), log, {}, 0);
    core.handle_request(n(1), begin_quorum_epoch_request{n(2), n(1), epoch{1}}, 10);
    ASSERT_EQ(core.role(), raft_role::follower);
    auto pre_vote = vote_request{epoch{2}, n(3), n(2), epoch{0}, offset{0}, true};
    auto r = std::get<vote_response>(core.handle_request(n(3), pre_vote, 20));
    EXPECT_FALSE(r.vote_granted);
    EXPECT_EQ(r.leader_id, n(1));  // so the asker goes back to following it
    // No Fetch answer for the fetch timeout: the leader is gone for us.
    core.tick(10 + 200);
    EXPECT_EQ(core.role(), raft_role::prospective);
    EXPECT_EQ(core.current_epoch(), epoch{1});
    r = std::get<vote_response>(core.handle_request(n(3), pre_vote, 220));
    EXPECT_TRUE(r.vote_granted);
}

TEST(raft_core, campaign_persists_the_new_epoch_before_asking_for_votes) {
    memory_log log;
    raft_core core(config_for(1), log, {}, 0);
    core.take_actions();
    core.tick(1000);
    ASSERT_EQ(core.role(), raft_role::prospective);
    auto actions = core.take_actions();
    EXPECT_TRUE(all_of<persist_quorum_state>(actions).empty());  // a pre-vote round persists nothing
    auto pre_votes = sent<vote_request>(actions);
    ASSERT_EQ(pre_votes.size(), 2u);
    EXPECT_EQ(pre_votes[0].second.candidate_epoch, epoch{1});
    core.handle_response(n(2), pre_votes[0].second, vote_response{kafka_error::none, std::nullopt, epoch{0}, true}, 1001);
    ASSERT_EQ(core.role(), raft_role::candidate);
    actions = core.take_actions();
    int persist_at = first_index<persist_quorum_state>(actions);
    int send_at = first_index<send_request>(actions);
    ASSERT_GE(persist_at, 0);
    EXPECT_LT(persist_at, send_at);
    EXPECT_EQ(std::get<persist_quorum_state>(actions[persist_at]).state, (quorum_state{epoch{1}, n(1), std::nullopt}));
    auto votes = sent<vote_request>(actions);
    core.handle_response(n(3), votes[1].second, vote_response{kafka_error::none, std::nullopt, epoch{1}, true}, 1002);
    ASSERT_EQ(core.role(), raft_role::leader);
    actions = core.take_actions();
    // The leader-change record is appended and made durable; the others are told.
    ASSERT_EQ(log.end_offset(), offset{1});
    EXPECT_EQ(log.entry(offset{0}).kind, entry_kind::leader_change);
    EXPECT_EQ(log.entry(offset{0}).ep, epoch{1});
    EXPECT_FALSE(all_of<persist_log>(actions).empty());
    EXPECT_EQ(sent<begin_quorum_epoch_request>(actions).size(), 2u);
    ASSERT_FALSE(all_of<leader_changed>(actions).empty());
    EXPECT_EQ(all_of<leader_changed>(actions).back().leader, n(1));
}

TEST(raft_core, divergent_follower_is_told_where_to_truncate_and_repaired) {
    // The leader has epoch-1 entries 0..2, then its own leader-change record;
    // the follower has 0..2 and two entries of an epoch-2 leader that failed.
    memory_log leader_log;
    fill(leader_log, 3, 1);
    millis now = 0;
    raft_core leader(config_for(1), leader_log, quorum_state{epoch{2}, std::nullopt, std::nullopt}, now);
    win_election(leader, now);
    ASSERT_EQ(leader.current_epoch(), epoch{3});

    memory_log follower_log;
    fill(follower_log, 3, 1);
    fill(follower_log, 2, 2);
    raft_core follower(config_for(2), follower_log, quorum_state{epoch{3}, std::nullopt, n(1)}, now);
    for (int round = 0; round < 5 && follower_log.end_offset() != leader_log.end_offset(); ++round) {
        auto fetches = sent<fetch_request>(follower.take_actions());
        ASSERT_EQ(fetches.size(), 1u);
        auto response = leader.handle_request(n(2), fetches[0].second, now);
        if (round == 0) {
            // Epoch 2 is unknown to the leader: its largest epoch <= 2 is 1,
            // which ends at 3.
            ASSERT_TRUE(std::get<fetch_response>(response).diverging_epoch);
            EXPECT_EQ(*std::get<fetch_response>(response).diverging_epoch, (epoch_end_offset{epoch{1}, offset{3}}));
        }
        follower.handle_response(n(1), fetches[0].second, response, now);
    }
    ASSERT_EQ(follower_log.end_offset(), offset{4});
    EXPECT_EQ(follower_log.entry(offset{3}), leader_log.entry(offset{3}));
}

TEST(raft_core, high_watermark_waits_for_an_entry_of_the_leaders_epoch) {
    // Raft's figure-8 rule: the old entries 0..2 are on a majority (leader and
    // follower) before the leader-change record is, but are not committed
    // until that record is.
    memory_log leader_log;
    fill(leader_log, 3, 1);
    millis now = 0;
    raft_core leader(config_for(1), leader_log, quorum_state{epoch{2}, std::nullopt, std::nullopt}, now);
    win_election(leader, now);
    auto fetch_at = [&](int64_t o, int32_t last_epoch) {
        return std::get<fetch_response>(
            leader.handle_request(n(2), fetch_request{n(2), epoch{3}, offset{o}, epoch{last_epoch}, 1 << 20, 0}, now));
    };
    auto r = fetch_at(3, 1);
    EXPECT_EQ(leader.high_watermark(), offset{0});
    EXPECT_EQ(r.records.size(), 1u);  // the leader-change record
    fetch_at(4, 3);
    EXPECT_EQ(leader.high_watermark(), offset{4});
    auto applied = all_of<apply_entries>(leader.take_actions());
    ASSERT_EQ(applied.size(), 1u);
    EXPECT_EQ(applied[0].entries.size(), 4u);
}

TEST(raft_core, observers_do_not_count_toward_the_high_watermark) {
    memory_log leader_log;
    millis now = 0;
    raft_core leader(config_for(1), leader_log, {}, now);
    win_election(leader, now);
    leader.handle_request(n(9), fetch_request{n(9), epoch{1}, offset{1}, epoch{1}, 1 << 20, 0}, now);
    EXPECT_EQ(leader.high_watermark(), offset{0});
    leader.handle_request(n(3), fetch_request{n(3), epoch{1}, offset{1}, epoch{1}, 1 << 20, 0}, now);
    EXPECT_EQ(leader.high_watermark(), offset{1});
    auto described = std::get<describe_quorum_response>(leader.handle_request(n(9), describe_quorum_request{}, now));
    EXPECT_EQ(described.leader_id, n(1));
    EXPECT_EQ(described.current_voters.size(), 3u);
    ASSERT_EQ(described.observers.size(), 1u);
    EXPECT_EQ(described.observers[0].replica_id, n(9));
}

TEST(raft_core, a_stale_or_duplicated_fetch_response_is_ignored) {
    memory_log log;
    raft_core follower(config_for(2), log, quorum_state{epoch{1}, std::nullopt, n(1)}, 0);
    auto first = sent<fetch_request>(follower.take_actions()).at(0).second;
    fetch_response answer;
    answer.current_leader = {n(1), epoch{1}};
    answer.high_watermark = offset{1};
    answer.records = {log_entry{offset{0}, epoch{1}, entry_kind::leader_change, ""}};
    follower.handle_response(n(1), first, answer, 5);
    EXPECT_EQ(log.end_offset(), offset{1});
    // The same answer again (duplicated by the network): not appended twice,
    // and no exception for appending at the wrong offset.
    follower.handle_response(n(1), first, answer, 6);
    EXPECT_EQ(log.end_offset(), offset{1});
    // An answer from a node that is not the leader is ignored too.
    auto second = sent<fetch_request>(follower.take_actions()).at(0).second;
    answer.records = {log_entry{offset{1}, epoch{1}, entry_kind::data, "x"}};
    follower.handle_response(n(3), second, answer, 7);
    EXPECT_EQ(log.end_offset(), offset{1});
}

TEST(raft_core, follower_persists_fetched_entries_before_fetching_again) {
    memory_log log;
    raft_core follower(config_for(2), log, quorum_state{epoch{1}, std::nullopt, n(1)}, 0);
    auto request = sent<fetch_request>(follower.take_actions()).at(0).second;
    fetch_response answer;
    answer.current_leader = {n(1), epoch{1}};
    answer.high_watermark = offset{0};
    answer.records = {log_entry{offset{0}, epoch{1}, entry_kind::leader_change, ""}};
    follower.handle_response(n(1), request, answer, 5);
    auto actions = follower.take_actions();
    int persist_at = first_index<persist_log>(actions);
    int send_at = first_index<send_request>(actions);
    ASSERT_GE(persist_at, 0);
    ASSERT_GE(send_at, 0);
    EXPECT_LT(persist_at, send_at);
    EXPECT_EQ(sent<fetch_request>(actions).at(0).second.fetch_offset, offset{1});
}

TEST(raft_core, follower_behind_the_log_start_fetches_the_snapshot_in_chunks) {
    memory_log leader_log;
    millis now = 0;
    raft_core leader(config_for(1), leader_log, {}, now);
    win_election(leader, now);
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(leader.propose("v" + std::to_string(i), now));
    }
    leader.handle_request(n(3), fetch_request{n(3), epoch{1}, offset{5}, epoch{1}, 1 << 20, 0}, now);
    ASSERT_EQ(leader.applied_offset(), offset{5});
    EXPECT_EQ(leader.snapshot_created(snapshot_id{offset{6}, epoch{1}}, "x").error(), raft_error::snapshot_not_applied);
    ASSERT_TRUE(leader.snapshot_created(snapshot_id{offset{5}, epoch{1}}, "state-at-5"));
    EXPECT_EQ(leader_log.start_offset(), offset{5});

    memory_log follower_log;
    raft_core follower(config_for(2), follower_log, quorum_state{epoch{1}, std::nullopt, n(1)}, now);
    std::optional<apply_snapshot> loaded;
    for (int round = 0; round < 10 && !loaded; ++round) {
        for (const action& a : follower.take_actions()) {
            if (auto* s = std::get_if<apply_snapshot>(&a)) {
                loaded = *s;
            } else if (auto* send = std::get_if<send_request>(&a)) {
                auto response = leader.handle_request(n(2), send->message, now);
                follower.handle_response(n(1), send->message, response, now);
            }
        }
    }
    ASSERT_TRUE(loaded);
    EXPECT_EQ(loaded->id, (snapshot_id{offset{5}, epoch{1}}));
    EXPECT_EQ(loaded->data, "state-at-5");  // 10 bytes in 4-byte chunks
    EXPECT_EQ(follower_log.start_offset(), offset{5});
    EXPECT_EQ(follower.applied_offset(), offset{5});

    // A snapshot id the leader no longer has: SNAPSHOT_NOT_FOUND.
    auto r = leader.handle_request(n(2), fetch_snapshot_request{n(2), epoch{1}, snapshot_id{offset{3}, epoch{1}}, 0, 100}, now);
    EXPECT_EQ(std::get<fetch_snapshot_response>(r).error, kafka_error::snapshot_not_found);
}

TEST(raft_core, check_quorum_resigns_and_announces_it) {
    memory_log log;
    millis now = 0;
    raft_core leader(config_for(1), log, {}, now);
    win_election(leader, now);
    millis elected = now;
    leader.handle_request(n(2), fetch_request{n(2), epoch{1}, offset{0}, epoch{0}, 1 << 20, 0}, elected + 250);
    leader.tick(elected + 299);
    EXPECT_EQ(leader.role(), raft_role::leader);  // node 2 fetched: 2 of 3
    leader.tick(elected + 250 + 300);
    ASSERT_EQ(leader.role(), raft_role::resigned);
    auto actions = leader.take_actions();
    auto ends = sent<end_quorum_epoch_request>(actions);
    ASSERT_EQ(ends.size(), 2u);
    // Most caught-up first: node 2 fetched, node 3 never did.
    EXPECT_EQ(ends[0].second.preferred_candidates, (std::vector<node_id>{n(2), n(3)}));
    EXPECT_FALSE(leader.propose("x", now));
    EXPECT_EQ(to_kafka_error(leader.propose("x", now).error()), kafka_error::not_controller);
}

TEST(raft_core, the_preferred_successor_campaigns_at_once) {
    memory_log log;
    raft_core follower(config_for(2), log, quorum_state{epoch{1}, std::nullopt, n(1)}, 0);
    follower.take_actions();
    follower.handle_request(n(1), end_quorum_epoch_request{n(1), epoch{1}, {n(2), n(3)}}, 10);
    EXPECT_EQ(follower.role(), raft_role::unattached);
    follower.tick(10);
    EXPECT_EQ(follower.role(), raft_role::prospective);
    EXPECT_EQ(sent<vote_request>(follower.take_actions()).size(), 2u);
}

TEST(raft_core, a_follower_that_loses_its_leaders_connection_campaigns_within_the_jitter) {
    memory_log log_a, log_b;
    raft_core told(config_for(2), log_a, quorum_state{epoch{1}, std::nullopt, n(1)}, 0);
    raft_core untold(config_for(2), log_b, quorum_state{epoch{1}, std::nullopt, n(1)}, 0);
    ASSERT_EQ(told.role(), raft_role::follower);
    told.leader_unreachable(n(3), 10);  // not its leader: changes nothing
    told.tick(109);
    EXPECT_EQ(told.role(), raft_role::follower);
    told.leader_unreachable(n(1), 10);
    told.tick(110);  // within election_jitter (100) of the lost connection
    EXPECT_EQ(told.role(), raft_role::prospective);
    untold.tick(110);  // without the hint, the fetch timeout (200) still runs
    EXPECT_EQ(untold.role(), raft_role::follower);
}

TEST(raft_core, an_observer_never_campaigns_and_finds_the_leader) {
    memory_log log;
    raft_core observer(config_for(4), log, {}, 0);
    EXPECT_FALSE(observer.is_voter());
    observer.tick(10000);
    EXPECT_EQ(observer.role(), raft_role::unattached);
    auto fetches = sent<fetch_request>(observer.take_actions());
    ASSERT_EQ(fetches.size(), 1u);
    fetch_response not_leader;
    not_leader.error = kafka_error::not_leader_or_follower;
    not_leader.current_leader = {n(2), epoch{5}};
    observer.handle_response(fetches[0].first, fetches[0].second, not_leader, 10001);
    EXPECT_EQ(observer.role(), raft_role::follower);
    EXPECT_EQ(observer.leader(), n(2));
    EXPECT_EQ(sent<fetch_request>(observer.take_actions()).at(0).first, n(2));
    // And it refuses to vote.
    auto r = observer.handle_request(n(1), vote_request{epoch{6}, n(1), n(4), epoch{0}, offset{0}, false}, 10002);
    EXPECT_FALSE(std::get<vote_response>(r).vote_granted);
}

TEST(memory_log, end_offset_for_epoch_answers_like_the_leader_epoch_cache) {
    memory_log log;
    EXPECT_EQ(log.end_offset_for_epoch(epoch{0}), (epoch_end_offset{epoch{0}, offset{0}}));
    fill(log, 2, 1);
    fill(log, 3, 3);
    EXPECT_EQ(log.end_offset_for_epoch(epoch{1}), (epoch_end_offset{epoch{1}, offset{2}}));
    EXPECT_EQ(log.end_offset_for_epoch(epoch{2}), (epoch_end_offset{epoch{1}, offset{2}}));
    EXPECT_EQ(log.end_offset_for_epoch(epoch{3}), (epoch_end_offset{epoch{3}, offset{5}}));
    EXPECT_EQ(log.end_offset_for_epoch(epoch{0}), (epoch_end_offset{epoch{0}, offset{0}}));
    log.install_snapshot(snapshot_id{offset{3}, epoch{3}}, "s");
    EXPECT_EQ(log.start_offset(), offset{3});
    EXPECT_EQ(log.end_offset(), offset{5});  // the suffix after the snapshot stays
    EXPECT_EQ(log.end_offset_for_epoch(epoch{1}), std::nullopt);  // only the snapshot can help
    EXPECT_EQ(log.end_offset_for_epoch(epoch{3}), (epoch_end_offset{epoch{3}, offset{5}}));
    log.truncate_suffix(offset{3});
    EXPECT_EQ(log.last_epoch(), epoch{3});  // the snapshot's
    EXPECT_EQ(log.end_offset_for_epoch(epoch{4}), (epoch_end_offset{epoch{3}, offset{3}}));
    // A snapshot the log does not share (a follower's): the log empties.
    log.install_snapshot(snapshot_id{offset{10}, epoch{7}}, "t");
    EXPECT_EQ(log.start_offset(), offset{10});
    EXPECT_EQ(log.end_offset(), offset{10});
    EXPECT_EQ(log.last_epoch(), epoch{7});
}

}  // namespace
}  // namespace strata::raft
