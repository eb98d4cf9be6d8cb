// The metadata layer on a real one-voter Raft node (log on disk in a temp
// directory, its own io_context thread): records proposed by the controller
// are committed, applied and published.
#include "strata/metadata/metadata_service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <filesystem>
#include <thread>

#include "strata/common/kafka_error.h"

namespace strata::metadata {
namespace {

namespace asio = boost::asio;

struct single_node {
    std::filesystem::path dir;
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
    std::unique_ptr<raft::node> node;
    std::unique_ptr<metadata_service> service;
    std::thread thread;
    metadata_service_options options;

    explicit single_node(metadata_service_options o = {}) : options(std::move(o)) {
        dir = std::filesystem::temp_directory_path() /
              ("strata-metadata-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
        std::filesystem::remove_all(dir);
        start();
    }

    static int& counter() {
        static int n = 0;
        return n;
    }

    void start() {
        raft::node_config config;
        config.raft.self = raft::node_id{1};
        config.raft.voters = {raft::node_id{1}};
        config.directory = dir / "__cluster_metadata-0";
        config.cluster_id = "test-cluster";
        node = std::make_unique<raft::node>(io.get_executor(), config);
        service = std::make_unique<metadata_service>(io.get_executor(), *node, options);
        service->attach();
        if (!thread.joinable()) thread = std::thread([this] { io.run(); });
        node->start();
        service->start();
    }

    void stop() {
        service->stop();
        node->stop();
        service.reset();
        node.reset();
    }

    ~single_node() {
        stop();
        work.reset();
        io.stop();
        thread.join();
        std::filesystem::remove_all(dir);
    }

    template <typename T>
    T run(asio::awaitable<T> op) {
        return asio::co_spawn(io, std::move(op), asio::use_future).get();
    }

    void wait_for_leader() {
        for (int i = 0; i < 500 && service->controller_id() != 1; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        ASSERT_EQ(service->controller_id(), 1);
    }

    int64_t register_self() {
        msg::broker_registration_request reg;
        reg.broker_id = 1;
        reg.incarnation_id = protocol::uuid::random();
        auto& l = reg.listeners.emplace_back();
        l.name = "PLAINTEXT";
        l.host = "localhost";
        l.port = 9092;
        auto resp = run(service->register_broker(reg));
        EXPECT_EQ(resp.error_code, 0);
        msg::broker_heartbeat_request hb;
        hb.broker_id = 1;
        hb.broker_epoch = resp.broker_epoch;
        hb.current_metadata_offset = service->image()->end_offset();
        auto hbr = run(service->broker_heartbeat(hb));
        EXPECT_EQ(hbr.error_code, 0);
        EXPECT_FALSE(hbr.is_fenced);
        return resp.broker_epoch;
    }
};

msg::create_topics_request create_request(const std::string& name, int32_t partitions) {
    msg::create_topics_request req;
    auto& t = req.topics.emplace_back();
    t.name = name;
    t.num_partitions = partitions;
    t.replication_factor = 1;
    return req;
}

TEST(metadata_service, single_node_creates_topics_through_the_log) {
    single_node n;
    n.wait_for_leader();
    n.register_self();
    auto image = n.service->image();
    EXPECT_EQ(image->feature_level("metadata.version"), 21);
    ASSERT_NE(image->broker(1), nullptr);
    EXPECT_FALSE(image->broker(1)->fenced);

    std::vector<std::string> published;
    auto resp = n.run(n.service->create_topics(create_request("orders", 3), 7));
    ASSERT_EQ(resp.topics.size(), 1u);
    EXPECT_EQ(resp.topics[0].error_code, 0);
    // The topic is in the image as soon as CreateTopics answers.
    const topic_image* t = n.service->image()->topic("orders");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->partitions.size(), 3u);
    EXPECT_EQ(t->id, resp.topics[0].topic_id);

    auto again = n.run(n.service->create_topics(create_request("orders", 3), 7));
    EXPECT_EQ(again.topics[0].error_code, static_cast<int16_t>(kafka_error::topic_already_exists));

    msg::delete_topics_request del;
    del.topic_names = {"orders"};
    auto deleted = n.run(n.service->delete_topics(del, 5));
    EXPECT_EQ(deleted.responses[0].error_code, 0);
    EXPECT_EQ(n.service->image()->topic("orders"), nullptr);
}

TEST(metadata_service, metadata_survives_a_restart) {
    single_node n;
    n.wait_for_leader();
    n.register_self();
    auto resp = n.run(n.service->create_topics(create_request("kept", 2), 7));
    ASSERT_EQ(resp.topics[0].error_code, 0);
    n.stop();
    n.start();
    n.wait_for_leader();
    for (int i = 0; i < 500 && !n.service->image()->topic("kept"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const topic_image* t = n.service->image()->topic("kept");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->id, resp.topics[0].topic_id);
    EXPECT_EQ(t->partitions.size(), 2u);
}

std::vector<std::filesystem::path> checkpoints(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> out;
    for (const auto& item : std::filesystem::directory_iterator(dir))
        if (item.path().extension() == ".checkpoint") out.push_back(item.path());
    return out;
}

TEST(metadata_service, snapshots_the_image_and_loads_it_at_start) {
    metadata_service_options options;
    options.snapshot_max_record_bytes = 2000;  // a few topics' worth of records
    single_node n(options);
    n.wait_for_leader();
    n.register_self();
    std::vector<protocol::uuid> ids;
    for (int i = 0; i < 30; ++i) {
        auto resp = n.run(n.service->create_topics(create_request("snap-" + std::to_string(i), 3), 7));
        ASSERT_EQ(resp.topics[0].error_code, 0);
        ids.push_back(resp.topics[0].topic_id);
    }
    const auto log_dir = n.dir / "__cluster_metadata-0";
    for (int i = 0; i < 500 && checkpoints(log_dir).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_FALSE(checkpoints(log_dir).empty());
    const auto before = n.service->image();

    // Restarted, the node hands the latest snapshot to the service, then the
    // entries after it.
    n.stop();
    n.options.snapshot_max_record_bytes = int64_t{1} << 40;
    n.start();
    n.wait_for_leader();
    for (int i = 0; i < 500 && n.service->image()->end_offset() < before->end_offset(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const auto after = n.service->image();
    EXPECT_GE(after->end_offset(), before->end_offset());
    for (int i = 0; i < 30; ++i) {
        const topic_image* t = after->topic("snap-" + std::to_string(i));
        ASSERT_NE(t, nullptr) << i;
        EXPECT_EQ(t->id, ids[size_t(i)]);
        EXPECT_EQ(t->partitions.size(), 3u);
    }
    EXPECT_NE(after->broker(1), nullptr);
}

TEST(metadata_service, snapshots_on_the_interval_when_records_were_applied) {
    metadata_service_options options;
    options.snapshot_max_record_bytes = int64_t{1} << 40;
    options.snapshot_interval = std::chrono::milliseconds(1);
    single_node n(options);
    n.wait_for_leader();
    n.register_self();
    auto resp = n.run(n.service->create_topics(create_request("timed", 1), 7));
    ASSERT_EQ(resp.topics[0].error_code, 0);
    const auto log_dir = n.dir / "__cluster_metadata-0";
    for (int i = 0; i < 500 && checkpoints(log_dir).empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(checkpoints(log_dir).empty());
}

TEST(metadata_service, no_snapshot_below_the_thresholds) {
    single_node n;
    n.wait_for_leader();
    n.register_self();
    auto resp = n.run(n.service->create_topics(create_request("small", 1), 7));
    ASSERT_EQ(resp.topics[0].error_code, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(checkpoints(n.dir / "__cluster_metadata-0").empty());
}

TEST(metadata_service, concurrent_creates_of_one_name_create_it_once) {
    single_node n;
    n.wait_for_leader();
    n.register_self();
    std::vector<std::future<msg::create_topics_response>> futures;
    for (int i = 0; i < 5; ++i)
        futures.push_back(asio::co_spawn(n.io, n.service->create_topics(create_request("race", 1), 7), asio::use_future));
    int created = 0, exists = 0;
    for (auto& f : futures) {
        auto r = f.get();
        if (r.topics[0].error_code == 0) ++created;
        if (r.topics[0].error_code == static_cast<int16_t>(kafka_error::topic_already_exists)) ++exists;
    }
    EXPECT_EQ(created, 1);
    EXPECT_EQ(exists, 4);
}

}  // namespace
}  // namespace strata::metadata
