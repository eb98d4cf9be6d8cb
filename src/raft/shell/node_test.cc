// raft::node on a real io_context: a single voter elects itself at once,
// commits proposals durably, replays them after a restart, and refuses
// proposals it cannot make. (Three nodes over loopback are tested with the
// server's request handlers in src/server/raft_service_test.cc.)
#include "strata/raft/node.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace strata::raft {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// The node's executor: an io_context run by one thread, as in stratad.
class raft_thread {
public:
    raft_thread() : _guard(_context.get_executor()), _thread([this] { _context.run(); }) {}
    ~raft_thread() {
        _guard.reset();
        _thread.join();
    }
    asio::any_io_executor executor() { return _context.get_executor(); }

    // Runs `task` on a second context (a "network thread") and waits.
    template <typename T>
    T run(asio::awaitable<T> task) {
        // In an optional: Boost 1.74's co_spawn needs a default-constructible result.
        auto wrapped = [](asio::awaitable<T> inner) -> asio::awaitable<std::optional<T>> { co_return co_await std::move(inner); };
        auto result = asio::co_spawn(_caller, wrapped(std::move(task)), asio::use_future);
        _caller.restart();
        _caller.run();
        return std::move(*result.get());
    }

private:
    asio::io_context _context;
    asio::executor_work_guard<asio::io_context::executor_type> _guard;
    std::thread _thread;
    asio::io_context _caller;
};

node_config single_voter(const fs::path& dir) {
    node_config config;
    config.raft.self = node_id{1};
    config.raft.voters = {node_id{1}};
    config.directory = dir;
    config.cluster_id = "test-cluster";
    return config;
}

class node_test : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() / fmt::format("strata-raft-node-{}", ::getpid());
        fs::remove_all(_dir);
    }
    void TearDown() override { fs::remove_all(_dir); }
    fs::path _dir;
};

template <typename Predicate>
bool eventually(Predicate p) {
    for (int i = 0; i < 2000; ++i) {
        if (p()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

TEST_F(node_test, a_single_voter_elects_itself_and_commits_proposals) {
    raft_thread thread;
    std::vector<log_entry> committed;
    std::mutex mutex;
    {
        node n(thread.executor(), single_voter(_dir));
        n.on_commit([&](const std::vector<log_entry>& entries) {
            std::lock_guard lock(mutex);
            committed.insert(committed.end(), entries.begin(), entries.end());
        });
        n.start();
        ASSERT_TRUE(eventually([&] { return n.status().role == raft_role::leader; }));
        EXPECT_EQ(n.status().leader, node_id{1});

        auto first = thread.run(n.propose({"a", "b"}, std::chrono::seconds(5)));
        ASSERT_TRUE(first) << static_cast<int>(first.error());
        auto second = thread.run(n.propose({"c"}, std::chrono::seconds(5)));
        ASSERT_TRUE(second);
        EXPECT_EQ(second.value(), first.value() + 1);
        EXPECT_EQ(thread.run(n.propose({}, std::chrono::seconds(1))).error(), kafka_error::invalid_request);

        auto quorum = thread.run(n.describe_quorum());
        EXPECT_EQ(quorum.error, kafka_error::none);
        EXPECT_EQ(quorum.leader_id, node_id{1});
        EXPECT_EQ(quorum.high_watermark, second.value() + 1);
        n.stop();
    }
    {
        std::lock_guard lock(mutex);
        std::vector<std::string> data;
        for (const auto& e : committed) if (e.kind == entry_kind::data) data.push_back(e.data);
        EXPECT_EQ(data, (std::vector<std::string>{"a", "b", "c"}));
        committed.clear();
    }
    // A restart replays the log: the entries are committed again, in a new epoch.
    node again(thread.executor(), single_voter(_dir));
    again.on_commit([&](const std::vector<log_entry>& entries) {
        std::lock_guard lock(mutex);
        committed.insert(committed.end(), entries.begin(), entries.end());
    });
    again.start();
    ASSERT_TRUE(eventually([&] { return again.status().role == raft_role::leader; }));
    EXPECT_EQ(again.status().current_epoch, epoch{2});
    ASSERT_TRUE(eventually([&] {
        std::lock_guard lock(mutex);
        return committed.size() == 5u;  // two leader changes and three records
    }));
    again.stop();
}

TEST_F(node_test, a_voter_that_cannot_win_refuses_proposals) {
    raft_thread thread;
    auto config = single_voter(_dir);
    config.raft.voters = {node_id{1}, node_id{2}, node_id{3}};
    config.peers = {peer_address{node_id{2}, "127.0.0.1", 1}, peer_address{node_id{3}, "127.0.0.1", 1}};
    node n(thread.executor(), config);
    n.start();
    auto refused = thread.run(n.propose({"x"}, std::chrono::seconds(1)));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), kafka_error::not_controller);
    auto quorum = thread.run(n.describe_quorum());
    EXPECT_EQ(quorum.error, kafka_error::not_leader_or_follower);
    n.stop();
}

}  // namespace
}  // namespace strata::raft
