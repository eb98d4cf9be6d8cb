// controller_channel::alter_partition on a single-node quorum: the node is
// the active controller and a registered broker (its own broker_lifecycle
// registers it in-process), so the channel decides in-process. The remote
// path (over the controller listener) is what
// tests/integration/test_alter_partition.py exercises from outside.
#include <unistd.h>

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "controller_channel.h"
#include "strata/common/kafka_error.h"
#include "strata/server/metadata_quorum.h"

namespace strata::server {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace msg = protocol::messages;
using namespace std::chrono_literals;

template <typename Predicate>
bool eventually(Predicate p, std::chrono::milliseconds patience = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
        if (p()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return false;
}

// (co_spawn needs a default-constructible result: hence the optionals.)
asio::awaitable<std::optional<msg::alter_partition_response>> alter(controller_channel& channel,
                                                                    msg::alter_partition_request request) {
    co_return co_await channel.alter_partition(std::move(request), 5s);
}

asio::awaitable<std::optional<msg::create_topics_response>> create(metadata::metadata_service& metadata,
                                                                   msg::create_topics_request request) {
    co_return co_await metadata.create_topics(std::move(request), 7);
}

template <typename T>
T run(asio::awaitable<std::optional<T>> op) {
    asio::io_context caller;
    auto result = asio::co_spawn(caller, std::move(op), asio::use_future);
    caller.run();
    return std::move(*result.get());
}

struct controller_channel_test : ::testing::Test {
    fs::path dir = fs::temp_directory_path() / fmt::format("strata-controller-channel-{}", ::getpid());
    std::optional<metadata_quorum> quorum;

    void SetUp() override {
        fs::remove_all(dir);
        auto config = default_broker_config();
        config.node_id = 1;
        config.log_dirs = {dir.string()};
        quorum.emplace(config);
        quorum->start();
        ASSERT_TRUE(eventually([&] {
            const auto* b = quorum->metadata().image()->broker(1);
            return b && !b->fenced;
        })) << "the node did not register and unfence its broker";
    }
    void TearDown() override {
        quorum.reset();
        fs::remove_all(dir);
    }
};

TEST_F(controller_channel_test, alter_partition_runs_on_the_local_active_controller) {
    msg::create_topics_request create_request;
    auto& t = create_request.topics.emplace_back();
    t.name = "t";
    t.num_partitions = 1;
    t.replication_factor = 1;
    ASSERT_EQ(run(create(quorum->metadata(), create_request)).topics.at(0).error_code, 0);
    const auto image = quorum->metadata().image();
    const auto* topic = image->topic("t");
    ASSERT_NE(topic, nullptr);
    const auto& p = topic->partitions.at(0);
    const int64_t epoch = image->broker(1)->epoch;

    msg::alter_partition_request request;
    request.broker_id = 1;
    request.broker_epoch = epoch;
    auto& rt = request.topics.emplace_back();
    rt.topic_id = topic->id;
    auto& rp = rt.partitions.emplace_back();
    rp.partition_index = 0;
    rp.leader_epoch = p.leader_epoch;
    rp.partition_epoch = p.partition_epoch;
    rp.new_isr_with_epochs.push_back({1, epoch, {}});

    // The current state: answered as it is (v3, topic by id).
    auto response = run(alter(quorum->controller(), request));
    ASSERT_EQ(response.error_code, 0);
    ASSERT_EQ(response.topics.size(), 1u);
    EXPECT_EQ(response.topics[0].topic_id, topic->id);
    const auto& r = response.topics[0].partitions.at(0);
    EXPECT_EQ(r.error_code, 0);
    EXPECT_EQ(r.leader_id, 1);
    EXPECT_EQ(r.isr, std::vector<int32_t>{1});
    EXPECT_EQ(r.partition_epoch, p.partition_epoch);

    // Another broker epoch: the whole request is refused.
    request.broker_epoch = epoch + 1;
    auto stale = run(alter(quorum->controller(), request));
    EXPECT_EQ(stale.error_code, static_cast<int16_t>(kafka_error::stale_broker_epoch));
    EXPECT_TRUE(stale.topics.empty());
}

}  // namespace
}  // namespace strata::server
