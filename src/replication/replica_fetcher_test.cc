// The replica fetcher against a scripted leader: a net::server on loopback
// whose Fetch handler notes what each fetch carries and long-polls it for its
// max_wait_ms (a caught-up leader with nothing to send). The follower is a
// real partition manager over a log manager in a temporary directory, wired
// to the fetcher as stratad wires them.
#include "strata/replication/replica_fetcher.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <stdlib.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "../net/net_test_support.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/request_header.h"
#include "strata/protocol/messages/response_header.h"
#include "strata/replication/partition_manager.h"
#include "strata/storage/log_manager.h"

namespace strata::replication {
namespace {

namespace mr = metadata::records;
namespace pm = protocol::messages;
using namespace std::chrono_literals;

constexpr int32_t leader_id = 1;
constexpr int32_t self = 2;
constexpr int32_t long_poll_ms = 10'000;  // far longer than any wait below

protocol::uuid id_of(uint8_t n) {
    protocol::uuid u;
    u.bytes[0] = 0xab;
    u.bytes[15] = n;
    return u;
}

// One fetch as the leader received it.
struct seen_fetch {
    uint64_t connection = 0;
    int32_t max_wait_ms = 0;
    std::set<uint8_t> topics;  // by the last byte of their id
    std::chrono::steady_clock::time_point at;
};

// The leader's side: notes each fetch, answers a topic named in
// `refuse_once` UNKNOWN_LEADER_EPOCH the first time it is asked for (the
// leader has not applied the image yet), the others empty after max_wait_ms.
class scripted_leader {
public:
    scripted_leader() : _handler([this](const net::connection_info& c, std::shared_ptr<const std::vector<uint8_t>> f) {
                            return handle(c, std::move(f));
                        }),
                        _server(net::testing::loopback_options(), _handler) {
        _server.start();
    }
    ~scripted_leader() { stop(); }

    void stop() {
        _stopping = true;
        _server.stop();
    }
    uint16_t port() const { return net::testing::port_of(_server); }
    void refuse_once(uint8_t topic) {
        std::lock_guard lock(_mutex);
        _refuse.insert(topic);
    }

    // Blocks until `count` fetches arrived (false after the patience).
    bool wait_for_fetches(size_t count) {
        std::unique_lock lock(_mutex);
        return _changed.wait_for(lock, net::testing::patience, [&] { return _fetches.size() >= count; });
    }
    std::vector<seen_fetch> fetches() {
        std::lock_guard lock(_mutex);
        return _fetches;
    }

private:
    boost::asio::awaitable<net::handler_result> handle(const net::connection_info& connection,
                                                       std::shared_ptr<const std::vector<uint8_t>> frame) {
        protocol::reader peek(*frame);
        const auto key = static_cast<protocol::api_key>(peek.read_int16());
        const int16_t version = peek.read_int16();
        EXPECT_EQ(key, protocol::api_key::fetch);
        protocol::reader r(*frame);
        pm::request_header header;
        header.decode(r, protocol::request_header_version(key, version));
        pm::fetch_request request;
        request.decode(r, version);

        pm::fetch_response response;
        seen_fetch seen{connection.id, request.max_wait_ms, {}, std::chrono::steady_clock::now()};
        bool refused = false;
        {
            std::lock_guard lock(_mutex);
            for (const auto& t : request.topics) {
                const uint8_t topic = t.topic_id.bytes[15];
                seen.topics.insert(topic);
                auto& out = response.responses.emplace_back();
                out.topic_id = t.topic_id;
                for (const auto& p : t.partitions) {
                    auto& pd = out.partitions.emplace_back();
                    pd.partition_index = p.partition;
                    pd.high_watermark = 0;
                    pd.last_stable_offset = 0;
                    pd.log_start_offset = 0;
                    pd.records = protocol::records{};
                    if (_refuse.erase(topic) > 0) {
                        pd.error_code = int16_t(kafka_error::unknown_leader_epoch);
                        refused = true;
                    }
                }
            }
            _fetches.push_back(seen);
            _changed.notify_all();
        }
        // The long poll: nothing to send, so the whole max_wait_ms (an error
        // is answered at once).
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(request.max_wait_ms);
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
        while (!refused && !_stopping && std::chrono::steady_clock::now() < until) {
            timer.expires_after(5ms);
            co_await timer.async_wait(boost::asio::use_awaitable);
        }
        protocol::encoded_output out;
        protocol::writer w(out);
        pm::response_header rh;
        rh.correlation_id = header.correlation_id;
        rh.encode(w, protocol::response_header_version(key, version));
        response.encode(w, version);
        co_return net::handler_result{std::move(out), false};
    }

    std::mutex _mutex;
    std::condition_variable _changed;
    std::vector<seen_fetch> _fetches;
    std::set<uint8_t> _refuse;
    std::atomic<bool> _stopping{false};
    net::testing::function_handler _handler;
    net::server _server;
};

// The follower broker: partition manager, its strands' thread, the fetcher.
struct follower {
    explicit follower(uint16_t leader_port) {
        std::string pattern = (std::filesystem::temp_directory_path() / "strata-fetcher-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        dir = pattern;
        storage::log_manager_config config;
        config.data_dir = dir;
        config.housekeeping_interval_ms = 3'600'000;
        logs = storage::log_manager::open(config).value();
        strands = std::thread([this] { io.run(); });

        replica_fetcher_options fo;
        fo.node_id = self;
        fo.fetch_wait_max_ms = long_poll_ms;
        fo.isr_check_interval = 0ms;
        fo.image = [this] { return manager->image(); };
        fetcher.emplace(fo);
        partition_manager_options options;
        options.node_id = self;
        options.on_follow = [this](const std::shared_ptr<partition>& p, int32_t leader, leader_epoch epoch) {
            fetcher->follow(p, leader, epoch);
        };
        manager.emplace(options, *logs, io.get_executor());
        fetcher->start();

        // Both brokers registered, the leader at the scripted server.
        for (int32_t id : {leader_id, self}) {
            mr::register_broker_record r;
            r.broker_id = id;
            r.incarnation_id = id_of(uint8_t(100 + id));
            r.broker_epoch = 10;
            r.fenced = false;
            auto& e = r.end_points.emplace_back();
            e.name = "PLAINTEXT";
            e.host = "127.0.0.1";
            e.port = id == leader_id ? leader_port : 1;
            records.push_back(r);
        }
        apply();
    }
    ~follower() {
        fetcher->stop();
        manager->stop_all();
        std::this_thread::sleep_for(20ms);  // the strands' last posts
        guard.reset();
        io.stop();
        strands.join();
        manager.reset();
        (void)logs->shutdown();
        std::filesystem::remove_all(dir);
    }

    // Topic `n` (one partition, replicas {leader, self}) led by the leader at epoch 1.
    void add_topic(uint8_t n) {
        mr::topic_record t;
        t.name = "t" + std::to_string(n);
        t.topic_id = id_of(n);
        records.push_back(t);
        mr::partition_record p;
        p.topic_id = id_of(n);
        p.partition_id = 0;
        p.replicas = {leader_id, self};
        p.isr = p.replicas;
        p.leader = leader_id;
        p.leader_epoch = 1;
        records.push_back(p);
        apply();
    }

    void apply() {
        metadata::metadata_delta delta(image);
        for (const auto& r : records) delta.replay(r);
        records.clear();
        image = delta.apply();
        manager->apply(image, delta.changes());
    }

    std::string dir;
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{io.get_executor()};
    std::thread strands;
    std::unique_ptr<storage::log_manager> logs;
    std::optional<replica_fetcher_manager> fetcher;
    std::optional<partition_manager> manager;
    std::shared_ptr<const metadata::metadata_image> image = std::make_shared<metadata::metadata_image>();
    std::vector<metadata::record> records;
};

// A partition followed while the fetcher's fetch is parked at the leader
// without it is fetched at once, on a new connection, not after the long
// poll (after a leadership move the new leader's HW waits for it).
TEST(replica_fetcher, a_partition_followed_during_a_parked_fetch_is_fetched_at_once) {
    scripted_leader leader;
    follower f(leader.port());
    f.add_topic(1);
    ASSERT_TRUE(leader.wait_for_fetches(1));
    std::this_thread::sleep_for(50ms);  // the fetch is parked
    ASSERT_EQ(leader.fetches().size(), 1u);
    EXPECT_EQ(leader.fetches()[0].topics, std::set<uint8_t>{1});

    const auto followed = std::chrono::steady_clock::now();
    f.add_topic(2);
    ASSERT_TRUE(leader.wait_for_fetches(2));
    const auto second = leader.fetches()[1];
    EXPECT_EQ(second.topics, (std::set<uint8_t>{1, 2}));
    EXPECT_LT(second.at - followed, std::chrono::milliseconds(long_poll_ms / 2));  // not the long poll
    EXPECT_NE(second.connection, leader.fetches()[0].connection);  // the parked one was withdrawn
    EXPECT_EQ(second.max_wait_ms, long_poll_ms);

    // Another one at once (within the 20 ms between withdrawals): its turn
    // comes a few milliseconds later, not after the long poll.
    f.add_topic(3);
    ASSERT_TRUE(leader.wait_for_fetches(3));
    const auto third = leader.fetches()[2];
    EXPECT_EQ(third.topics, (std::set<uint8_t>{1, 2, 3}));
    EXPECT_LT(third.at - second.at, std::chrono::milliseconds(long_poll_ms / 2));
    EXPECT_NE(third.connection, second.connection);
}

// A partition the leader refused for an image race (backing off 50 ms) caps
// the next fetch's long poll at its backoff, so it is fetched again then,
// not after the long poll on the others.
TEST(replica_fetcher, a_partition_backing_off_caps_the_long_poll) {
    scripted_leader leader;
    follower f(leader.port());
    f.add_topic(1);
    ASSERT_TRUE(leader.wait_for_fetches(1));
    std::this_thread::sleep_for(50ms);
    leader.refuse_once(2);
    f.add_topic(2);
    // Fetch 2 carries both and is answered at once (topic 2 refused); fetch
    // 3 leaves topic 2 out and waits at most its backoff; fetch 4 has it again.
    ASSERT_TRUE(leader.wait_for_fetches(4));
    const auto fetches = leader.fetches();
    EXPECT_EQ(fetches[1].topics, (std::set<uint8_t>{1, 2}));
    EXPECT_EQ(fetches[2].topics, std::set<uint8_t>{1});
    EXPECT_GE(fetches[2].max_wait_ms, 1);
    EXPECT_LE(fetches[2].max_wait_ms, 50);
    EXPECT_EQ(fetches[3].topics, (std::set<uint8_t>{1, 2}));
    EXPECT_LT(fetches[3].at - fetches[1].at, std::chrono::milliseconds(long_poll_ms / 2));
}

}  // namespace
}  // namespace strata::replication
