// Randomized schedules: thousands of seeded runs of a cluster under crashes,
// restarts, partitions, loss, duplication, reordering, resignations and
// snapshots, with Raft's safety properties checked on every log append, every
// apply and every step (sim_cluster.h's safety_checker): at most one leader
// per epoch, log matching, leader completeness, state-machine safety, and
// committed entries durable on a majority. After the faults stop, the
// cluster must elect a leader and commit again (liveness).
//
// STRATA_RAFT_SEEDS=<n> runs n schedules (default 5000) from
// STRATA_RAFT_FIRST_SEED (default 1), of STRATA_RAFT_STEPS steps (1500);
// STRATA_RAFT_SEED=<s> replays one, with a trace if STRATA_RAFT_TRACE is set.
#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim_cluster.h"
#include "strata/common/log.h"

namespace strata::raft::testing {
namespace {

constexpr millis step_ms = 5;

struct schedule_outcome {
    bool ok = true;
    int step = -1;
    std::string error;
    size_t committed = 0;
    int elections = 0;
};

template <typename T>
T pick(std::mt19937_64& random, std::initializer_list<T> choices) {
    return *(choices.begin() + random() % choices.size());
}

node_id random_node(sim_cluster& cluster, std::mt19937_64& random) {
    return cluster.nodes()[random() % cluster.nodes().size()].id;
}

void inject_fault(sim_cluster& cluster, std::mt19937_64& random, int& proposals) {
    uint64_t roll = random() % 1000;
    if (roll < 15) {
        // Crash the leader half of the time: the interesting case.
        auto leader = cluster.leader();
        cluster.crash(leader && random() % 2 ? *leader : random_node(cluster, random));
    } else if (roll < 30) {
        // A quick bounce: volatile state gone, back before anyone noticed.
        node_id bounced = random_node(cluster, random);
        cluster.crash(bounced);
        cluster.restart(bounced);
    } else if (roll < 45) {
        cluster.restart(random_node(cluster, random));
    } else if (roll < 55) {
        std::vector<node_id> side;
        for (const sim_node& n : cluster.nodes()) {
            if (random() % 2) {
                side.push_back(n.id);
            }
        }
        cluster.heal();
        cluster.split(side);
    } else if (roll < 65) {
        cluster.isolate(random_node(cluster, random));
    } else if (roll < 70) {
        node_id a = random_node(cluster, random);
        node_id b = random_node(cluster, random);
        if (a != b) {
            cluster.cut(a, b);
        }
    } else if (roll < 90) {
        cluster.heal();
    } else if (roll < 93) {
        if (auto leader = cluster.leader()) {
            cluster.resign(*leader);
        }
    } else if (roll < 110) {
        cluster.take_snapshot(random_node(cluster, random));
    } else if (roll < 400) {
        // Any node that believes it leads may be asked, stale ones included.
        for (sim_node& n : cluster.nodes()) {
            if (n.up() && n.core->role() == raft_role::leader) {
                cluster.propose(n.id, fmt::format("p{}-n{}", proposals++, n.id));
            }
        }
    }
}

schedule_outcome run_schedule(uint64_t seed, int fault_steps, bool trace) {
    std::mt19937_64 random(seed ^ 0x9e3779b97f4a7c15ULL);
    sim_options options;
    options.seed = seed;
    options.voters = pick(random, {3, 3, 5});
    options.observers = pick(random, {0, 0, 1});
    options.drop_rate = pick(random, {0.0, 0.05, 0.2});
    options.duplicate_rate = pick(random, {0.0, 0.05, 0.2});
    options.max_latency = pick<millis>(random, {5, 20, 60});
    options.fetch_max_entries = pick<size_t>(random, {1, 4, 64});
    options.snapshot_chunk_bytes = pick(random, {4, 64});
    options.trace = trace;
    schedule_outcome outcome;
    int proposals = 0;
    try {
        sim_cluster cluster(options);
        for (outcome.step = 0; outcome.step < fault_steps; ++outcome.step) {
            inject_fault(cluster, random, proposals);
            cluster.advance(step_ms);
        }
        // The faults stop: everyone up, a clean network. A leader must be
        // elected and commit a new entry, and every voter must catch up.
        cluster.heal();
        cluster.set_faults(0, 0, 1, 5);
        for (const sim_node& n : cluster.nodes()) {
            cluster.restart(n.id);
        }
        if (!cluster.propose_and_commit(fmt::format("final-{}", seed), 5000)) {
            outcome.ok = false;
            outcome.error = "liveness: no entry committed within 5 s after the faults stopped";
            return outcome;
        }
        offset committed{static_cast<int64_t>(cluster.checker().committed())};
        if (!cluster.run_until([&] { return cluster.all_applied(committed); }, 3000)) {
            outcome.ok = false;
            outcome.error = "liveness: voters did not all apply the committed log within 3 s";
            return outcome;
        }
        outcome.committed = cluster.checker().committed();
    } catch (const std::exception& e) {
        outcome.ok = false;
        outcome.error = e.what();
    }
    return outcome;
}

std::optional<uint64_t> env_number(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') {
        return std::nullopt;
    }
    return std::stoull(value);
}

TEST(raft_random, safety_and_liveness_over_seeded_schedules) {
    auto previous_level = strata::log::level();
    strata::log::set_level(spdlog::level::warn);
    bool trace = std::getenv("STRATA_RAFT_TRACE") != nullptr;
    uint64_t first = env_number("STRATA_RAFT_FIRST_SEED").value_or(1);
    uint64_t count = env_number("STRATA_RAFT_SEEDS").value_or(5000);
    int fault_steps = static_cast<int>(env_number("STRATA_RAFT_STEPS").value_or(1500));
    if (auto seed = env_number("STRATA_RAFT_SEED")) {
        first = *seed;
        count = 1;
    }
    auto started = std::chrono::steady_clock::now();
    size_t total_committed = 0;
    int failures = 0;
    uint64_t ran = 0;
    for (uint64_t seed = first; seed < first + count; ++seed) {
        schedule_outcome outcome = run_schedule(seed, fault_steps, trace);
        ++ran;
        total_committed += outcome.committed;
        if (!outcome.ok) {
            ++failures;
            ADD_FAILURE() << fmt::format(
                "seed {} failed at step {}: {}\n  replay: STRATA_RAFT_SEED={} STRATA_RAFT_STEPS={} STRATA_RAFT_TRACE=1 "
                "build/src/strata_raft_test --gtest_filter='raft_random.*'",
                seed, outcome.step, outcome.error, seed, fault_steps);
            if (failures >= 5) {
                break;
            }
        }
    }
    auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << fmt::format("{} schedules x {} steps of {} ms: {} entries committed in all, {:.1f} s\n", ran,
                             fault_steps, step_ms, total_committed, elapsed);
    strata::log::set_level(previous_level);
}

}  // namespace
}  // namespace strata::raft::testing
