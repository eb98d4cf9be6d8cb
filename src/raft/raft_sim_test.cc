// Scenario tests of the Raft core over the simulated network: elections,
// failures, partitions, lossy networks, crashes, pre-vote, check-quorum,
// observers and snapshots. Deterministic: one seed, a simulated clock.
#include <cstdlib>

#include <gtest/gtest.h>

#include "sim_cluster.h"

namespace strata::raft::testing {
namespace {

sim_options options(int voters, uint64_t seed = 7) {
    sim_options o;
    o.voters = voters;
    o.seed = seed;
    o.trace = std::getenv("STRATA_RAFT_TRACE") != nullptr;
    return o;
}

TEST(raft_sim, three_voters_elect_one_leader_and_commit) {
    sim_cluster cluster(options(3));
    auto leader = cluster.wait_for_leader(2000);
    ASSERT_TRUE(leader);
    // BeginQuorumEpoch tells the others.
    cluster.advance(20);
    for (const sim_node& n : cluster.nodes()) {
        if (n.id != *leader) {
            EXPECT_EQ(n.core->role(), raft_role::follower);
            EXPECT_EQ(n.core->leader(), leader);
        }
    }
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(cluster.propose_and_commit("entry-" + std::to_string(i), 2000)) << i;
    }
    offset committed{static_cast<int64_t>(cluster.checker().committed())};
    ASSERT_TRUE(cluster.run_until([&] { return cluster.all_applied(committed); }, 1000));
    // Every node applied the same 20 entries after one leader-change record.
    for (const sim_node& n : cluster.nodes()) {
        std::vector<std::string> data;
        for (const log_entry& e : n.applied) {
            if (e.kind == entry_kind::data) {
                data.push_back(e.data);
            }
        }
        ASSERT_EQ(data.size(), 20u) << "node " << n.id.value();
        EXPECT_EQ(data.front(), "entry-0");
        EXPECT_EQ(data.back(), "entry-19");
    }
}

TEST(raft_sim, single_voter_leads_at_once_and_commits_alone) {
    sim_cluster cluster(options(1));
    EXPECT_EQ(cluster.core(node_id{1}).role(), raft_role::leader);
    auto at = cluster.propose(node_id{1}, "x");
    ASSERT_TRUE(at);
    // Committed and applied within the same step: persisted, then applied.
    EXPECT_EQ(cluster.core(node_id{1}).high_watermark(), *at + 1);
    EXPECT_EQ(cluster.node(node_id{1}).applied_end, *at + 1);
}

TEST(raft_sim, five_voters_reelect_after_leader_crash_and_keep_committed_entries) {
    sim_cluster cluster(options(5, 11));
    ASSERT_TRUE(cluster.propose_and_commit("before", 3000));
    node_id old_leader = *cluster.leader();
    epoch old_epoch = cluster.core(old_leader).current_epoch();
    cluster.crash(old_leader);
    millis crashed_at = cluster.now();
    auto next = cluster.wait_for_leader(3000);
    ASSERT_TRUE(next);
    EXPECT_NE(*next, old_leader);
    EXPECT_GT(cluster.core(*next).current_epoch(), old_epoch);
    // Detection (fetch timeout 200 ms) plus an election or two.
    EXPECT_LT(cluster.now() - crashed_at, 800);
    ASSERT_TRUE(cluster.propose_and_commit("after", 3000));
    cluster.restart(old_leader);
    ASSERT_TRUE(cluster.run_until([&] { return cluster.all_applied(offset{static_cast<int64_t>(cluster.checker().committed())}); }, 3000));
    EXPECT_EQ(cluster.core(old_leader).role(), raft_role::follower);
}

TEST(raft_sim, divergent_log_of_deposed_leader_is_repaired) {
    sim_cluster cluster(options(3, 5));
    ASSERT_TRUE(cluster.propose_and_commit("committed", 3000));
    node_id old_leader = *cluster.leader();
    cluster.isolate(old_leader);
    // The isolated leader appends entries that can never commit.
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(cluster.propose(old_leader, "lost-" + std::to_string(i)));
    }
    offset old_end = cluster.core(old_leader).log().end_offset();
    offset old_hw = cluster.core(old_leader).high_watermark();
    cluster.advance(100);
    EXPECT_EQ(cluster.core(old_leader).high_watermark(), old_hw);  // a minority cannot commit
    // The majority elects a new leader and commits past the lost entries.
    ASSERT_TRUE(cluster.run_until([&] { auto l = cluster.leader(); return l && *l != old_leader; }, 3000));
    for (int i = 0; i < 8; ++i) {
        ASSERT_TRUE(cluster.propose_and_commit("new-" + std::to_string(i), 3000));
    }
    ASSERT_GT(static_cast<int64_t>(cluster.checker().committed()), old_end.value());
    cluster.heal();
    offset committed{static_cast<int64_t>(cluster.checker().committed())};
    ASSERT_TRUE(cluster.run_until([&] { return cluster.all_applied(committed); }, 3000));
    // The old leader truncated its divergent suffix and now holds the new log.
    const raft_log& repaired = cluster.core(old_leader).log();
    for (int64_t o = 0; o < committed.value(); ++o) {
        EXPECT_EQ(repaired.entry(offset{o}), cluster.checker().committed_entry(offset{o})) << o;
    }
    for (const log_entry& e : cluster.node(old_leader).applied) {
        EXPECT_EQ(e.data.rfind("lost-", 0), std::string::npos);
    }
}

TEST(raft_sim, minority_side_of_a_partition_cannot_commit_majority_elects_and_heals) {
    sim_cluster cluster(options(5, 3));
    ASSERT_TRUE(cluster.propose_and_commit("start", 3000));
    node_id old_leader = *cluster.leader();
    std::vector<node_id> minority{old_leader};
    for (node_id v : cluster.voter_ids()) {
        if (v != old_leader && minority.size() < 2) {
            minority.push_back(v);
        }
    }
    cluster.split(minority);
    auto minority_at = cluster.propose(old_leader, "minority");
    ASSERT_TRUE(minority_at);
    ASSERT_TRUE(cluster.run_until(
        [&] {
            auto l = cluster.leader();
            return l && std::find(minority.begin(), minority.end(), *l) == minority.end();
        },
        3000));
    ASSERT_TRUE(cluster.propose_and_commit("majority", 3000));
    // Check-quorum: the old leader gave up, having heard from 2 of 5.
    cluster.advance(400);
    EXPECT_NE(cluster.core(old_leader).role(), raft_role::leader);
    cluster.heal();
    offset committed{static_cast<int64_t>(cluster.checker().committed())};
    ASSERT_TRUE(cluster.run_until([&] { return cluster.all_applied(committed); }, 3000));
    for (int64_t o = 0; o < committed.value(); ++o) {
        EXPECT_NE(cluster.checker().committed_entry(offset{o}).data, "minority");
    }
}

TEST(raft_sim, lossy_duplicating_reordering_network_still_commits_everything) {
    sim_options o = options(5, 21);
    o.drop_rate = 0.2;
    o.duplicate_rate = 0.2;
    o.min_latency = 1;
    o.max_latency = 40;  // wide spread: messages overtake each other
    sim_cluster cluster(o);
    for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(cluster.propose_and_commit("e" + std::to_string(i), 10000)) << i;
    }
    EXPECT_GE(cluster.checker().committed(), 31u);
}

TEST(raft_sim, whole_cluster_restart_keeps_persisted_state) {
    sim_cluster cluster(options(3, 9));
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(cluster.propose_and_commit("e" + std::to_string(i), 3000));
    }
    std::map<int32_t, epoch> epochs;
    for (const sim_node& n : cluster.nodes()) {
        epochs[n.id.value()] = n.core->current_epoch();
    }
    size_t committed = cluster.checker().committed();
    // Committed means on a majority; let the last voter catch up too, so
    // that every voter has the whole log to persist.
    ASSERT_TRUE(cluster.run_until(
        [&] {
            for (node_id v : cluster.voter_ids())
                if (cluster.core(v).log().end_offset().value() < static_cast<int64_t>(committed)) return false;
            return true;
        },
        3000));
    for (node_id v : cluster.voter_ids()) {
        cluster.crash(v);
    }
    for (node_id v : cluster.voter_ids()) {
        cluster.restart(v);
        // Volatile state is gone, persisted state is back.
        EXPECT_EQ(cluster.core(v).current_epoch(), epochs[v.value()]);
        EXPECT_EQ(cluster.core(v).log().end_offset().value(), static_cast<int64_t>(committed));
        EXPECT_EQ(cluster.node(v).applied_end, offset{0});
    }
    ASSERT_TRUE(cluster.propose_and_commit("after-restart", 3000));
    ASSERT_TRUE(cluster.run_until([&] { return cluster.all_applied(offset{static_cast<int64_t>(committed)}); }, 3000));
}

// A follower cut off for a long time rejoins. With pre-vote it never raised
// its epoch, so the leader keeps leading; without, it unseats the leader.
epoch epoch_after_rejoin(bool pre_vote, node_id& leader_before, node_id& leader_after) {
    sim_options o = options(3, 13);
    o.pre_vote = pre_vote;
    sim_cluster cluster(o);
    EXPECT_TRUE(cluster.propose_and_commit("x", 3000));
    leader_before = *cluster.leader();
    epoch before = cluster.core(leader_before).current_epoch();
    node_id loner = leader_before == node_id{1} ? node_id{2} : node_id{1};
    cluster.isolate(loner);
    cluster.advance(3000);  // many election timeouts
    cluster.heal();
    cluster.advance(1000);
    EXPECT_TRUE(cluster.propose_and_commit("y", 3000));
    leader_after = *cluster.leader();
    return epoch{cluster.core(leader_after).current_epoch().value() - before.value()};
}

TEST(raft_sim, pre_vote_keeps_a_rejoining_node_from_disrupting_the_leader) {
    node_id before{0}, after{0};
    EXPECT_EQ(epoch_after_rejoin(true, before, after), epoch{0});
    EXPECT_EQ(before, after);
    // The control: without pre-vote the loner's inflated epoch forces an election.
    EXPECT_GT(epoch_after_rejoin(false, before, after), epoch{0});
}

TEST(raft_sim, check_quorum_makes_an_isolated_leader_resign) {
    sim_cluster cluster(options(3, 17));
    ASSERT_TRUE(cluster.propose_and_commit("x", 3000));
    node_id old_leader = *cluster.leader();
    cluster.isolate(old_leader);
    millis isolated_at = cluster.now();
    ASSERT_TRUE(cluster.run_until([&] { return cluster.core(old_leader).role() != raft_role::leader; }, 2000));
    // 1.5 x fetch timeout (200 ms) after the last Fetch arrived.
    EXPECT_GE(cluster.now() - isolated_at, 250);
    EXPECT_LE(cluster.now() - isolated_at, 300 + 60);
}

TEST(raft_sim, graceful_resignation_hands_over_quickly) {
    sim_cluster cluster(options(3, 19));
    ASSERT_TRUE(cluster.propose_and_commit("x", 3000));
    node_id old_leader = *cluster.leader();
    cluster.resign(old_leader);
    millis resigned_at = cluster.now();
    // No fetch timeout to wait for: EndQuorumEpoch starts the election.
    ASSERT_TRUE(cluster.run_until([&] { auto l = cluster.leader(); return l && *l != old_leader; }, 1000));
    EXPECT_LT(cluster.now() - resigned_at, 100);
}

TEST(raft_sim, observers_follow_the_log_but_do_not_count_toward_commit) {
    sim_options o = options(3, 23);
    o.observers = 1;
    sim_cluster cluster(o);
    node_id observer{4};
    ASSERT_TRUE(cluster.propose_and_commit("a", 3000));
    ASSERT_TRUE(cluster.run_until([&] { return cluster.node(observer).applied_end >= offset{2}; }, 2000));
    EXPECT_EQ(cluster.core(observer).role(), raft_role::follower);
    node_id leader = *cluster.leader();
    for (node_id v : cluster.voter_ids()) {
        if (v != leader) {
            cluster.crash(v);
        }
    }
    // Leader and observer are up: two nodes, one voter. Nothing commits.
    offset hw = cluster.core(leader).high_watermark();
    ASSERT_TRUE(cluster.propose(leader, "b"));
    cluster.advance(200);
    EXPECT_EQ(cluster.core(leader).high_watermark(), hw);
    EXPECT_EQ(cluster.core(observer).log().end_offset(), cluster.core(leader).log().end_offset());
}

TEST(raft_sim, follower_behind_the_log_start_catches_up_from_a_snapshot) {
    sim_cluster cluster(options(3, 29));
    ASSERT_TRUE(cluster.propose_and_commit("first", 3000));
    node_id leader = *cluster.leader();
    node_id lagging = leader == node_id{3} ? node_id{2} : node_id{3};
    cluster.crash(lagging);
    for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(cluster.propose_and_commit("e" + std::to_string(i), 3000));
    }
    for (node_id v : cluster.voter_ids()) {
        cluster.take_snapshot(v);
    }
    ASSERT_GT(cluster.core(leader).log().start_offset(), offset{2});
    cluster.restart(lagging);
    offset committed{static_cast<int64_t>(cluster.checker().committed())};
    ASSERT_TRUE(cluster.run_until([&] { return cluster.all_applied(committed); }, 3000));
    // It loaded the snapshot (in several 64-byte chunks? the digest is short:
    // one chunk) rather than replaying from offset 0.
    EXPECT_EQ(cluster.core(lagging).log().start_offset(), cluster.core(leader).log().start_offset());
    ASSERT_TRUE(cluster.propose_and_commit("after", 3000));
}

}  // namespace
}  // namespace strata::raft::testing
