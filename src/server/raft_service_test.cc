// Three raft nodes over real loopback connections, each behind a real
// net::server answering with the broker's request handler (the KRaft APIs
// and the Fetch router): election, proposals committed on every node, and a
// new leader after the old one stops. Unit-test sized; the process-level
// version (SIGKILL, SIGSTOP, restarts) is tests/integration/test_raft_quorum.py.
#include <unistd.h>

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fetch_router.h"
#include "raft_handlers.h"
#include "request_dispatcher.h"
#include "strata/net/server.h"
#include "strata/server/metadata_quorum.h"

namespace strata::server {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

uint16_t free_port() {
    asio::io_context context;
    asio::ip::tcp::acceptor acceptor(context, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
}

// One controller: a raft node on its own thread, the KRaft handlers of the
// dispatcher and a server (the raft part of what stratad runs).
struct controller {
    asio::io_context context{1};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::thread thread;
    std::unique_ptr<raft::node> node;
    request_dispatcher dispatcher;
    fetch_router router;
    std::unique_ptr<net::server> network;
    std::mutex mutex;
    std::vector<std::string> committed;
    bool stopped = false;

    void stop() {
        if (stopped) return;
        stopped = true;
        network->stop();
        node->stop();
        guard.reset();
        thread.join();
    }
    std::vector<std::string> data() {
        std::lock_guard lock(mutex);
        return committed;
    }
};

class raft_service_test : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() / fmt::format("strata-raft-service-{}", ::getpid());
        fs::remove_all(_dir);
        for (int i = 0; i < 3; ++i) _ports.push_back(free_port());
        for (int i = 0; i < 3; ++i) start(i);
    }
    void TearDown() override {
        for (auto& c : _controllers) c->stop();
        fs::remove_all(_dir);
    }

    void start(int i) {
        auto config = default_broker_config();
        config.node_id = i + 1;
        config.log_dirs = {(_dir / fmt::format("node-{}", i + 1)).string()};
        config.listeners = {listener{"CONTROLLER", "127.0.0.1", _ports[i]}};
        for (int j = 0; j < 3; ++j) config.controller_quorum_voters.push_back(quorum_voter{j + 1, "127.0.0.1", _ports[j]});
        auto c = std::make_unique<controller>();
        auto raft_config = make_raft_node_config(config);
        raft_config.cluster_id = "raft-service-test";
        c->node = std::make_unique<raft::node>(c->context.get_executor(), raft_config);
        c->node->on_commit([c = c.get()](const std::vector<raft::log_entry>& entries) {
            std::lock_guard lock(c->mutex);
            for (const auto& e : entries) {
                if (e.kind == raft::entry_kind::data) c->committed.push_back(e.data);
            }
        });
        c->guard.emplace(c->context.get_executor());
        c->node->start();
        c->thread = std::thread([c = c.get()] { c->context.run(); });
        register_raft_apis(c->dispatcher, c->router, *c->node);
        c->router.register_with(c->dispatcher);
        net::server_options options;
        options.listeners.push_back(net::listener_options{"CONTROLLER", "127.0.0.1", _ports[i], true});
        options.network_threads = 1;
        c->network = std::make_unique<net::server>(options, c->dispatcher);
        c->network->start();
        _controllers.push_back(std::move(c));
    }

    // The index of the node that is leader, as the others agree.
    std::optional<int> leader(std::optional<int> except = std::nullopt) {
        for (int i = 0; i < 3; ++i) {
            if (i == except) continue;
            const auto status = _controllers[i]->node->status();
            if (status.role == raft::raft_role::leader) return i;
        }
        return std::nullopt;
    }

    template <typename Predicate>
    bool eventually(Predicate p, std::chrono::milliseconds patience = 10s) {
        const auto deadline = std::chrono::steady_clock::now() + patience;
        while (std::chrono::steady_clock::now() < deadline) {
            if (p()) return true;
            std::this_thread::sleep_for(5ms);
        }
        return false;
    }

    raft::node_result<raft::offset> propose(int i, std::vector<std::string> records) {
        asio::io_context caller;
        auto wrapped = [](raft::node& n, std::vector<std::string> r) -> asio::awaitable<std::optional<raft::node_result<raft::offset>>> {
            co_return co_await n.propose(std::move(r), 5s);
        };
        auto result = asio::co_spawn(caller, wrapped(*_controllers[i]->node, std::move(records)), asio::use_future);
        caller.run();
        return std::move(*result.get());
    }

    fs::path _dir;
    std::vector<uint16_t> _ports;
    std::vector<std::unique_ptr<controller>> _controllers;
};

TEST_F(raft_service_test, three_nodes_elect_commit_and_fail_over) {
    ASSERT_TRUE(eventually([&] { return leader().has_value(); }));
    const int first = *leader();
    auto committed = propose(first, {"topic-a", "topic-b"});
    ASSERT_TRUE(committed) << static_cast<int>(committed.error());
    for (auto& c : _controllers) {
        EXPECT_TRUE(eventually([&] { return c->data() == std::vector<std::string>{"topic-a", "topic-b"}; }));
    }
    // A follower refuses proposals: the controller's clients go to the leader.
    const int follower = (first + 1) % 3;
    EXPECT_EQ(propose(follower, {"x"}).error(), kafka_error::not_controller);

    _controllers[first]->stop();
    ASSERT_TRUE(eventually([&] { return leader(first).has_value(); }, 5s));
    const int second = *leader(first);
    EXPECT_NE(second, first);
    ASSERT_TRUE(propose(second, {"topic-c"}));
    for (int i = 0; i < 3; ++i) {
        if (i == first) continue;
        EXPECT_TRUE(eventually([&] {
            return _controllers[i]->data() == std::vector<std::string>{"topic-a", "topic-b", "topic-c"};
        }));
    }
}

}  // namespace
}  // namespace strata::server
