#include "strata/replication/partition_manager.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdlib.h>

#include "strata/protocol/record_batch.h"
#include "strata/storage/log_manager.h"

namespace strata::replication {
namespace {

namespace mr = metadata::records;

constexpr int32_t self = 1;

protocol::uuid id_of(uint8_t n) {
    protocol::uuid u;
    u.bytes[0] = 0xab;  // never Kafka's metadata topic id (0...01)
    u.bytes[15] = n;
    return u;
}

std::vector<uint8_t> batch_of(int count, int64_t timestamp = 1'700'000'000'000) {
    protocol::record_batch_builder builder;
    std::string value = "value";
    for (int i = 0; i < count; ++i)
        builder.append(timestamp, std::nullopt,
                       protocol::bytes_view(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    return builder.build().value();
}

// A broker's replication layer over a real log manager in a temporary
// directory. The flusher thread is real (fsync completions arrive from it), so
// tests run the io_context until what they wait for has happened.
struct fixture {
    explicit fixture(std::function<metadata::config_map(const metadata::metadata_image&)> dynamic_defaults = {},
                     isr_update_sender isr_sender = {}, protocol::uuid incarnation = {}, std::string existing_dir = {}) {
        if (existing_dir.empty()) {
            std::string pattern = (std::filesystem::temp_directory_path() / "strata-replication-XXXXXX").string();
            if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
            existing_dir = pattern;
        }
        dir = existing_dir;
        storage::log_manager_config config;
        config.data_dir = dir;
        config.housekeeping_interval_ms = 3'600'000;
        config.clock = &clock;
        logs = storage::log_manager::open(config).value();
        partition_manager_options options;
        options.node_id = self;
        options.clock = &clock;
        options.dynamic_defaults = std::move(dynamic_defaults);
        options.isr_sender = std::move(isr_sender);
        options.incarnation_id = incarnation;
        manager.emplace(options, *logs, io.get_executor());
    }
    ~fixture() {
        manager->stop_all();
        run_until([] { return false; }, std::chrono::milliseconds(20));
        manager.reset();
        (void)logs->shutdown();
        if (!keep_dir) std::filesystem::remove_all(dir);
    }

    // Runs handlers until `done` or a generous bound (a failure, not a wait).
    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
        auto guard = boost::asio::make_work_guard(io);
        auto until = std::chrono::steady_clock::now() + bound;
        while (!done() && std::chrono::steady_clock::now() < until) {
            io.restart();
            io.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }

    void apply(const std::vector<metadata::record>& records) {
        metadata::metadata_delta delta(image);
        for (const auto& r : records) delta.replay(r);
        image = delta.apply();
        manager->apply(image, delta.changes());
        run_until([] { return false; }, std::chrono::milliseconds(10));
    }

    static mr::topic_record topic(const std::string& name, uint8_t id) {
        mr::topic_record r;
        r.name = name;
        r.topic_id = id_of(id);
        return r;
    }
    static mr::partition_record partition_rec(uint8_t topic, int32_t index, int32_t leader, int32_t epoch,
                                              std::vector<int32_t> isr = {self}, std::vector<int32_t> replicas = {}) {
        mr::partition_record r;
        r.topic_id = id_of(topic);
        r.partition_id = index;
        r.replicas = replicas.empty() ? isr : replicas;
        r.isr = isr;
        r.leader = leader;
        r.leader_epoch = epoch;
        r.partition_epoch = 0;
        return r;
    }
    static mr::config_record topic_config(const std::string& topic, const std::string& key, const std::string& value) {
        mr::config_record r;
        r.resource_type = static_cast<int8_t>(metadata::config_resource_type::topic);
        r.resource_name = topic;
        r.name = key;
        r.value = value;
        return r;
    }

    produce_outcome produce(const std::string& topic, int32_t index, std::vector<uint8_t> batch,
                            required_acks acks = required_acks::leader) {
        auto found = manager->find(topic, index);
        EXPECT_TRUE(found.leader) << "no leader for " << topic << "-" << index;
        if (!found.leader) return {};
        auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(batch));
        std::optional<produce_outcome> result;
        found.leader->produce(*owned, owned, acks, [&](produce_outcome o) { result = std::move(o); });
        EXPECT_TRUE(run_until([&] { return result.has_value(); }));
        return result.value_or(produce_outcome{});
    }

    static mr::register_broker_record registration(int32_t id, const protocol::uuid& incarnation) {
        mr::register_broker_record r;
        r.broker_id = id;
        r.incarnation_id = incarnation;
        r.broker_epoch = 100;
        r.fenced = true;
        return r;
    }

    storage::manual_clock clock;
    std::string dir;
    bool keep_dir = false;
    boost::asio::io_context io;
    std::unique_ptr<storage::log_manager> logs;
    std::optional<partition_manager> manager;
    std::shared_ptr<const metadata::metadata_image> image = std::make_shared<metadata::metadata_image>();
};

TEST(partition_manager, leads_what_the_image_says_with_its_epoch) {
    fixture f;
    f.apply({fixture::topic("orders", 1), fixture::partition_rec(1, 0, self, 7), fixture::partition_rec(1, 1, 2, 3, {2})});

    auto led = f.manager->find("orders", 0);
    ASSERT_TRUE(led.leader);
    EXPECT_EQ(led.error, kafka_error::none);
    EXPECT_EQ(led.topic_id, id_of(1));
    ASSERT_TRUE(f.run_until([&] { return led.leader->is_leader(); }));
    EXPECT_EQ(led.leader->epoch(), leader_epoch(7));
    EXPECT_TRUE(f.logs->get({"orders", storage::partition_id(0)}));

    EXPECT_EQ(f.manager->find("orders", 1).error, kafka_error::not_leader_or_follower);
    EXPECT_EQ(f.manager->find("orders", 2).error, kafka_error::unknown_topic_or_partition);
    EXPECT_EQ(f.manager->find("nope", 0).error, kafka_error::unknown_topic_or_partition);
    EXPECT_EQ(f.manager->find(id_of(9), 0).error, kafka_error::unknown_topic_id);
    EXPECT_TRUE(f.manager->find(id_of(1), 0).leader);
    EXPECT_FALSE(f.logs->get({"orders", storage::partition_id(1)}));
}

// The coordinators load a partition of their topic when this broker is
// elected its leader: told once per new leader epoch, of their topic only,
// when find() already returns the partition as leader.
TEST(partition_manager, leadership_listeners_hear_of_each_new_leader_epoch_once_it_is_led) {
    fixture f;
    std::vector<std::pair<int32_t, int32_t>> told;  // (partition, epoch seen)
    bool found_leading = true;
    f.manager->on_leadership("offsets", [&](int32_t p) {
        auto found = f.manager->find("offsets", p);
        found_leading = found_leading && found.leader && found.leader->is_leader();
        told.emplace_back(p, found.leader ? found.leader->epoch().value() : -1);
    });
    f.apply({fixture::topic("offsets", 1), fixture::partition_rec(1, 0, self, 4), fixture::partition_rec(1, 1, 2, 1, {2}),
             fixture::topic("other", 2), fixture::partition_rec(2, 0, self, 1)});
    ASSERT_TRUE(f.run_until([&] { return !told.empty(); }));
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(told, (std::vector<std::pair<int32_t, int32_t>>{{0, 4}}));
    EXPECT_TRUE(found_leading);

    // An ISR change at the same epoch: nothing new to load.
    mr::partition_change_record isr;
    isr.topic_id = id_of(1);
    isr.partition_id = 0;
    isr.isr = std::vector<int32_t>{self};
    f.apply({isr});
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(told.size(), 1u);

    // Partition 1 moves here: told, at its new epoch.
    mr::partition_change_record moved;
    moved.topic_id = id_of(1);
    moved.partition_id = 1;
    moved.leader = self;
    moved.isr = std::vector<int32_t>{self};
    moved.replicas = std::vector<int32_t>{self};
    f.apply({moved});
    ASSERT_TRUE(f.run_until([&] { return told.size() == 2; }));
    EXPECT_EQ(told[1], (std::pair<int32_t, int32_t>{1, 2}));
    EXPECT_TRUE(found_leading);
}

TEST(partition_manager, produce_assigns_offsets_and_stamps_the_leader_epoch) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 5)});
    auto first = f.produce("t", 0, batch_of(3));
    EXPECT_EQ(first.error, kafka_error::none) << first.message;
    EXPECT_EQ(first.base_offset, offset(0));
    EXPECT_EQ(first.log_start_offset, offset(0));
    EXPECT_EQ(first.log_append_time, -1);
    auto second = f.produce("t", 0, batch_of(2));
    EXPECT_EQ(second.base_offset, offset(3));

    auto p = f.manager->find("t", 0).leader;
    // Group commit: the HW follows the fsync that every append asked for.
    ASSERT_TRUE(f.run_until([&] { return p->high_watermark() == offset(5); }));
    EXPECT_EQ(p->log()->latest_epoch(), leader_epoch(5));
    auto read = p->log()->read({offset(0)}).value();
    auto bytes = storage::read_region(read.region).value();
    auto stored = protocol::record_batch_view::from(bytes).value();
    EXPECT_EQ(stored.partition_leader_epoch(), 5);
    EXPECT_EQ(stored.base_offset(), 0);
}

TEST(partition_manager, acks_all_answers_once_durable_and_in_the_hw) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1)});
    auto p = f.manager->find("t", 0).leader;
    auto out = f.produce("t", 0, batch_of(4), required_acks::all);
    EXPECT_EQ(out.error, kafka_error::none);
    EXPECT_EQ(out.base_offset, offset(0));
    EXPECT_GE(p->log()->flushed_offset(), offset(4));
    EXPECT_GE(p->high_watermark(), offset(4));
}

TEST(partition_manager, min_insync_replicas_refuses_acks_all_only) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::topic_config("t", "min.insync.replicas", "2"),
             fixture::partition_rec(1, 0, self, 1)});
    EXPECT_EQ(f.produce("t", 0, batch_of(1), required_acks::all).error, kafka_error::not_enough_replicas);
    EXPECT_EQ(f.produce("t", 0, batch_of(1), required_acks::leader).error, kafka_error::none);
}

TEST(partition_manager, hw_waits_for_every_isr_member) {
    fixture f;
    // ISR {1, 2}: until follower 2 fetches, the HW cannot pass 0.
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1, {self, 2})});
    auto p = f.manager->find("t", 0).leader;
    EXPECT_EQ(f.produce("t", 0, batch_of(2)).error, kafka_error::none);
    f.run_until([&] { return p->log()->flushed_offset() >= offset(2); });
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(p->high_watermark(), offset(0));
    // The ISR shrinks to the leader: the HW catches up.
    mr::partition_change_record shrink;
    shrink.topic_id = id_of(1);
    shrink.partition_id = 0;
    shrink.isr = std::vector<int32_t>{self};
    f.apply({shrink});
    EXPECT_TRUE(f.run_until([&] { return p->high_watermark() == offset(2); }));
}

TEST(partition_manager, size_and_timestamp_limits_per_topic_config) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::topic_config("t", "max.message.bytes", "100"),
             fixture::topic_config("t", "message.timestamp.before.max.ms", "60000"),
             fixture::topic_config("t", "segment.bytes", "1000"), fixture::partition_rec(1, 0, self, 1)});
    EXPECT_EQ(f.produce("t", 0, batch_of(10)).error, kafka_error::message_too_large);
    EXPECT_EQ(f.produce("t", 0, batch_of(100)).error, kafka_error::record_list_too_large);
    auto old = f.produce("t", 0, batch_of(1, f.clock.now_ms() - 120'000));
    EXPECT_EQ(old.error, kafka_error::invalid_timestamp);
    EXPECT_FALSE(old.message.empty());
    EXPECT_EQ(f.produce("t", 0, batch_of(1, f.clock.now_ms())).error, kafka_error::none);
    auto corrupt = batch_of(1, f.clock.now_ms());
    corrupt.back() ^= 0xff;
    EXPECT_EQ(f.produce("t", 0, corrupt).error, kafka_error::corrupt_message);
}

// KIP-467: the outcome names the records that failed validation; the batch
// takes no offsets. A batch whose header says maxTimestamp -1 (Sarama 1.22)
// is stored with its records' max timestamp.
TEST(partition_manager, record_errors_and_the_recomputed_max_timestamp) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::topic_config("t", "cleanup.policy", "compact"),
             fixture::partition_rec(1, 0, self, 1)});
    const int64_t now = f.clock.now_ms();
    auto bytes = [](std::string_view s) {
        return protocol::bytes_view(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    };
    protocol::record_batch_builder keyless;
    keyless.append(now, bytes("k0"), bytes("v"));
    keyless.append(now, std::nullopt, bytes("v"));
    keyless.append(now, bytes("k2"), bytes("v"));
    auto refused = f.produce("t", 0, keyless.build().value());
    EXPECT_EQ(refused.error, kafka_error::invalid_record);
    ASSERT_EQ(refused.record_errors.size(), 1u);
    EXPECT_EQ(refused.record_errors[0].batch_index, 1);
    EXPECT_EQ(refused.record_errors[0].message,
              "Compacted topic cannot accept message without key in topic partition t-0");
    EXPECT_EQ(f.manager->find("t", 0).leader->log_end_offset(), storage::offset(0));

    protocol::record_batch_builder keyed;
    keyed.append(now - 20, bytes("k0"), bytes("v"));
    keyed.append(now - 10, bytes("k1"), bytes("v"));
    auto batch = keyed.build().value();
    protocol::set_max_timestamp(batch, protocol::timestamp_type::create_time, -1);
    auto out = f.produce("t", 0, batch);
    EXPECT_EQ(out.error, kafka_error::none) << out.message;
    EXPECT_TRUE(out.record_errors.empty());
    EXPECT_EQ(f.manager->find("t", 0).leader->max_timestamp(), now - 10);
}

TEST(partition_manager, log_append_time_topics_stamp_the_broker_time) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::topic_config("t", "message.timestamp.type", "LogAppendTime"),
             fixture::partition_rec(1, 0, self, 1)});
    auto out = f.produce("t", 0, batch_of(2, 5));
    EXPECT_EQ(out.error, kafka_error::none);
    EXPECT_EQ(out.log_append_time, f.clock.now_ms());
    EXPECT_EQ(f.manager->find("t", 0).leader->max_timestamp(), f.clock.now_ms());
}

TEST(partition_manager, losing_leadership_and_deleting_the_topic) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1), fixture::partition_rec(1, 1, self, 1)});
    auto p0 = f.manager->find("t", 0).leader;
    ASSERT_TRUE(p0);

    mr::partition_change_record moved;
    moved.topic_id = id_of(1);
    moved.partition_id = 0;
    moved.leader = 2;
    f.apply({moved});
    EXPECT_EQ(f.manager->find("t", 0).error, kafka_error::not_leader_or_follower);
    EXPECT_FALSE(p0->is_leader());
    std::optional<produce_outcome> late;
    auto owned = std::make_shared<const std::vector<uint8_t>>(batch_of(1));
    p0->produce(*owned, owned, required_acks::leader, [&](produce_outcome o) { late = o; });
    ASSERT_TRUE(f.run_until([&] { return late.has_value(); }));
    EXPECT_EQ(late->error, kafka_error::not_leader_or_follower);

    mr::remove_topic_record removed;
    removed.topic_id = id_of(1);
    f.apply({removed});
    EXPECT_EQ(f.manager->find("t", 1).error, kafka_error::unknown_topic_or_partition);
    EXPECT_FALSE(f.logs->get({"t", storage::partition_id(0)}));
    EXPECT_FALSE(f.logs->get({"t", storage::partition_id(1)}));
    EXPECT_TRUE(f.manager->leaders().empty());

    // Re-created under the same name: a fresh, empty log.
    f.apply({fixture::topic("t", 2), fixture::partition_rec(2, 0, self, 1)});
    auto fresh = f.manager->find("t", 0);
    ASSERT_TRUE(fresh.leader);
    EXPECT_EQ(fresh.topic_id, id_of(2));
    EXPECT_EQ(fresh.leader->log_end_offset(), offset(0));
}

TEST(partition_manager, waiters_wake_when_the_hw_moves) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1)});
    auto p = f.manager->find("t", 0).leader;
    auto signal = async_signal::make(f.io.get_executor());
    p->add_waiter(signal);
    EXPECT_FALSE(signal->fired());
    f.produce("t", 0, batch_of(1));
    EXPECT_TRUE(f.run_until([&] { return signal->fired(); }));
}

TEST(partition_config, topic_configs_override_broker_defaults) {
    partition_config defaults;
    defaults.log.segment_bytes = 1 << 20;
    defaults.min_insync_replicas = 1;
    metadata::config_map topic{{"segment.bytes", "4096"},
                               {"cleanup.policy", "compact, delete"},
                               {"message.timestamp.type", "LogAppendTime"},
                               {"min.insync.replicas", "2"},
                               {"message.timestamp.difference.max.ms", "1000"},
                               {"message.timestamp.after.max.ms", "50"},
                               {"retention.ms", "-1"},
                               {"flush.messages", "10"},
                               {"max.message.bytes", "not a number"},
                               {"compression.type", "zstd"}};
    std::vector<std::string> problems;
    auto c = resolve_partition_config(defaults, topic, &problems);
    EXPECT_EQ(c.log.segment_bytes, 4096u);
    EXPECT_EQ(c.log.cleanup, storage::cleanup_policy::compact_and_remove);
    EXPECT_EQ(c.log.timestamp_kind, protocol::timestamp_type::log_append_time);
    EXPECT_EQ(c.min_insync_replicas, 2);
    EXPECT_EQ(c.timestamp_before_max_ms, 1000);
    EXPECT_EQ(c.timestamp_after_max_ms, 50);
    EXPECT_EQ(c.log.retention_ms, -1);
    EXPECT_EQ(c.log.flush, storage::flush_mode::interval);
    EXPECT_EQ(c.log.flush_messages, 10);
    EXPECT_EQ(c.log.max_message_bytes, defaults.log.max_message_bytes);
    ASSERT_EQ(problems.size(), 1u);
}

}  // namespace
}  // namespace strata::replication

namespace strata::replication {
namespace {

// The server maps BROKER ConfigRecords to topic configs (server/topic_configs);
// here a stand-in hook takes the cluster default's message.max.bytes.
metadata::config_map cluster_default_max_bytes(const metadata::metadata_image& image) {
    const auto& broker = image.configs({metadata::config_resource_type::broker, ""});
    metadata::config_map out;
    if (auto it = broker.find("message.max.bytes"); it != broker.end()) out.emplace("max.message.bytes", it->second);
    return out;
}

mr::config_record broker_default(const std::string& key, std::optional<std::string> value) {
    mr::config_record r;
    r.resource_type = static_cast<int8_t>(metadata::config_resource_type::broker);
    r.resource_name = "";
    r.name = key;
    r.value = std::move(value);
    return r;
}

TEST(partition_manager, dynamic_broker_defaults_reach_open_partitions_under_topic_overrides) {
    fixture f(cluster_default_max_bytes);
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1), fixture::topic("own", 2),
             fixture::topic_config("own", "max.message.bytes", "1000000"), fixture::partition_rec(2, 0, self, 1)});
    EXPECT_EQ(f.produce("t", 0, batch_of(10)).error, kafka_error::none);
    f.apply({broker_default("message.max.bytes", "100")});
    EXPECT_EQ(f.produce("t", 0, batch_of(10)).error, kafka_error::message_too_large);
    EXPECT_EQ(f.produce("own", 0, batch_of(10)).error, kafka_error::none);  // the topic's own config wins
    f.apply({broker_default("message.max.bytes", std::nullopt)});
    EXPECT_EQ(f.produce("t", 0, batch_of(10)).error, kafka_error::none);
}

// Batches as a leader stores them: offsets from `base`, stamped with `epoch`.
std::vector<uint8_t> leader_batch(int64_t base, int32_t epoch, int count) {
    protocol::record_batch_options options;
    options.base_offset = base;
    options.partition_leader_epoch = epoch;
    protocol::record_batch_builder builder(options);
    std::string value = "replicated";
    for (int i = 0; i < count; ++i)
        builder.append(1'700'000'000'000, std::nullopt,
                       protocol::bytes_view(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    return builder.build().value();
}

TEST(partition_replication, followers_fetch_offsets_move_the_hw_and_release_acks_all) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1, {self, 2, 3})});
    auto p = f.manager->find("t", 0).leader;
    ASSERT_TRUE(p);
    auto owned = std::make_shared<const std::vector<uint8_t>>(batch_of(3));
    std::optional<produce_outcome> acked;
    p->produce(*owned, owned, required_acks::all, [&](produce_outcome o) { acked = o; });
    f.run_until([&] { return p->log()->flushed_offset() >= offset(3); });
    // Follower 2 has everything, follower 3 has not fetched yet: no HW.
    p->record_follower_fetch(2, -1, offset(3));
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(p->high_watermark(), offset(0));
    // The HW is the smallest log end offset in the ISR.
    p->record_follower_fetch(3, -1, offset(2));
    ASSERT_TRUE(f.run_until([&] { return p->high_watermark() == offset(2); }));
    EXPECT_FALSE(acked.has_value());
    // A fetch offset past the log end counts as the log end.
    p->record_follower_fetch(3, -1, offset(10));
    ASSERT_TRUE(f.run_until([&] { return acked.has_value(); }));
    EXPECT_EQ(acked->error, kafka_error::none);
    EXPECT_EQ(p->high_watermark(), offset(3));
    // A replica of another partition, or a fetch offset behind, moves nothing.
    p->record_follower_fetch(4, -1, offset(0));
    p->record_follower_fetch(2, -1, offset(1));
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(p->high_watermark(), offset(3));
}

TEST(partition_replication, lagging_followers_leave_the_isr_and_caught_up_ones_rejoin) {
    struct sent {
        isr_update_request request;
        std::function<void(isr_update_result)> done;
    };
    std::vector<sent> requests;
    fixture f({}, [&](isr_update_request r, std::function<void(isr_update_result)> done) {
        requests.push_back({std::move(r), std::move(done)});
    });
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1, {self, 2, 3})});
    auto p = f.manager->find("t", 0).leader;
    ASSERT_TRUE(p);
    ASSERT_EQ(f.produce("t", 0, batch_of(2)).error, kafka_error::none);
    p->record_follower_fetch(2, 11, offset(2));
    p->record_follower_fetch(3, 12, offset(0));
    // Within replica.lag.time.max.ms (30 s by default) nobody is dropped.
    f.clock.advance(29'000);
    p->check_isr();
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_TRUE(requests.empty());
    // Follower 2 keeps up; follower 3 stays behind the log end.
    p->record_follower_fetch(2, 11, offset(2));
    f.clock.advance(2'000);
    p->check_isr();
    ASSERT_TRUE(f.run_until([&] { return requests.size() == 1; }));
    EXPECT_EQ(requests[0].request.epoch, leader_epoch(1));
    EXPECT_EQ(requests[0].request.partition_epoch, 0);
    ASSERT_EQ(requests[0].request.isr.size(), 2u);
    EXPECT_EQ(requests[0].request.isr[0].id, self);
    EXPECT_EQ(requests[0].request.isr[1].id, 2);
    EXPECT_EQ(requests[0].request.isr[1].broker_epoch, 11);
    // One request in flight at a time.
    p->check_isr();
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(requests.size(), 1u);
    // Accepted: the ISR changes when the image brings the change back.
    requests[0].done({kafka_error::none, 1, {self, 2}});
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(p->isr(), (std::vector<int32_t>{self, 2, 3}));
    mr::partition_change_record shrink;
    shrink.topic_id = id_of(1);
    shrink.partition_id = 0;
    shrink.isr = std::vector<int32_t>{self, 2};
    f.apply({shrink});
    ASSERT_TRUE(f.run_until([&] { return p->isr() == std::vector<int32_t>{self, 2}; }));
    // Follower 3 catches up with the HW: it is asked back in, at the new
    // partition epoch and with its broker epoch.
    p->record_follower_fetch(3, 12, offset(2));
    ASSERT_TRUE(f.run_until([&] { return requests.size() == 2; }));
    EXPECT_EQ(requests[1].request.partition_epoch, 1);
    ASSERT_EQ(requests[1].request.isr.size(), 3u);
    EXPECT_EQ(requests[1].request.isr[2].id, 3);
    EXPECT_EQ(requests[1].request.isr[2].broker_epoch, 12);
    // A stale partition epoch waits for the image; other errors retry.
    requests[1].done({kafka_error::invalid_update_version, -1, {}});
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    p->record_follower_fetch(3, 12, offset(2));
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    EXPECT_EQ(requests.size(), 2u);
    mr::partition_change_record expand;
    expand.topic_id = id_of(1);
    expand.partition_id = 0;
    expand.isr = std::vector<int32_t>{self, 2, 3};
    f.apply({expand});
    ASSERT_TRUE(f.run_until([&] { return p->isr() == std::vector<int32_t>{self, 2, 3}; }));
}

TEST(partition_replication, a_follower_appends_the_leaders_batches_and_truncates) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, 2, 4, {2, self})});
    EXPECT_EQ(f.manager->find("t", 0).error, kafka_error::not_leader_or_follower);
    auto replicas = f.manager->replicas();
    ASSERT_EQ(replicas.size(), 1u);
    auto p = replicas[0];
    f.run_until([&] { return p->leader_id() == 2; });
    EXPECT_FALSE(p->is_leader());
    EXPECT_EQ(p->epoch(), leader_epoch(4));

    auto run = [&](const std::function<void(partition::done_callback)>& start) {
        std::optional<kafka_error> result;
        start([&](kafka_error e) { result = e; });
        EXPECT_TRUE(f.run_until([&] { return result.has_value(); }));
        return result.value_or(kafka_error::unknown_server_error);
    };
    // The leader's offsets and epochs are kept; a batch cut short at the end
    // of the fetch is left for the next one.
    auto payload = std::make_shared<std::vector<uint8_t>>(leader_batch(0, 3, 3));
    auto second = leader_batch(3, 4, 2);
    payload->insert(payload->end(), second.begin(), second.end());
    auto partial = leader_batch(5, 4, 1);
    payload->insert(payload->end(), partial.begin(), partial.begin() + 30);
    EXPECT_EQ(run([&](auto done) { p->append_from_leader(leader_epoch(4), *payload, payload, offset(4), offset(0), done); }),
              kafka_error::none);
    EXPECT_EQ(p->log_end_offset(), offset(5));
    EXPECT_EQ(p->high_watermark(), offset(4));
    EXPECT_EQ(p->log()->latest_epoch(), leader_epoch(4));
    EXPECT_EQ(p->log()->end_offset_for_epoch(leader_epoch(3)), (storage::epoch_end{leader_epoch(3), offset(3)}));
    EXPECT_EQ(p->last_offset_for_epoch(leader_epoch(3)), (storage::epoch_end{leader_epoch(3), offset(3)}));
    // KIP-320, as a follower fetching from this replica would be answered:
    // agreeing logs get nothing; a follower past where its epoch ends here
    // truncates there; an epoch older than this history ends where the
    // history starts (Kafka's answer), a newer one has no answer (-1, -1).
    EXPECT_EQ(p->diverging_epoch(leader_epoch(3), offset(3)), std::nullopt);
    EXPECT_EQ(p->diverging_epoch(leader_epoch(4), offset(5)), std::nullopt);
    EXPECT_EQ(p->diverging_epoch(leader_epoch(3), offset(4)), (storage::epoch_end{leader_epoch(3), offset(3)}));
    EXPECT_EQ(p->diverging_epoch(leader_epoch(4), offset(6)), (storage::epoch_end{leader_epoch(4), offset(5)}));
    EXPECT_EQ(p->diverging_epoch(leader_epoch(2), offset(1)), (storage::epoch_end{leader_epoch(2), offset(0)}));
    EXPECT_EQ(p->diverging_epoch(leader_epoch(5), offset(5)), (storage::epoch_end{leader_epoch(-1), offset(-1)}));
    // The same batches again (a retried fetch) add nothing.
    EXPECT_EQ(run([&](auto done) { p->append_from_leader(leader_epoch(4), *payload, payload, offset(5), offset(0), done); }),
              kafka_error::none);
    EXPECT_EQ(p->log_end_offset(), offset(5));
    EXPECT_EQ(p->high_watermark(), offset(5));
    // An answer for another leader epoch is refused.
    EXPECT_EQ(run([&](auto done) { p->update_follower_hw(leader_epoch(3), offset(5), done); }),
              kafka_error::not_leader_or_follower);
    // Divergence: everything from offset 3 on goes, and the HW with it.
    EXPECT_EQ(run([&](auto done) { p->truncate_as_follower(leader_epoch(4), offset(3), false, done); }),
              kafka_error::none);
    EXPECT_EQ(p->log_end_offset(), offset(3));
    EXPECT_EQ(p->high_watermark(), offset(3));
    EXPECT_EQ(p->log()->latest_epoch(), leader_epoch(3));

    // Elected: it leads from its log at the next epoch, and a produce goes on
    // from its log end.
    mr::partition_change_record elected;
    elected.topic_id = id_of(1);
    elected.partition_id = 0;
    elected.leader = self;
    elected.isr = std::vector<int32_t>{self};
    f.apply({elected});
    ASSERT_TRUE(f.run_until([&] { return p->is_leader(); }));
    EXPECT_EQ(f.produce("t", 0, batch_of(1)).base_offset, offset(3));
}

// The seed-521 chaos run, on one replica: it follows at epoch 4 and has
// only the epoch 3 batches (the epoch 4 leader's own batches never reached
// it), then is elected at epoch 5 and appends nothing. Kafka's makeLeader
// records epoch 5 at the log end, so a follower holding those epoch 4
// batches is told exactly where to truncate: epoch 3, ending at offset 3 (the
// log end at election), not an undefined epoch.
TEST(partition_replication, a_new_leader_records_its_epoch_at_its_log_end) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, 2, 4, {2, self})});
    auto replicas = f.manager->replicas();
    ASSERT_EQ(replicas.size(), 1u);
    auto p = replicas[0];
    ASSERT_TRUE(f.run_until([&] { return p->leader_id() == 2; }));
    auto run = [&](const std::function<void(partition::done_callback)>& start) {
        std::optional<kafka_error> result;
        start([&](kafka_error e) { result = e; });
        EXPECT_TRUE(f.run_until([&] { return result.has_value(); }));
        return result.value_or(kafka_error::unknown_server_error);
    };
    auto payload = std::make_shared<std::vector<uint8_t>>(leader_batch(0, 3, 3));
    ASSERT_EQ(run([&](auto done) { p->append_from_leader(leader_epoch(4), *payload, payload, offset(3), offset(0), done); }),
              kafka_error::none);
    // As a follower it knows nothing of epoch 4.
    EXPECT_EQ(p->diverging_epoch(leader_epoch(4), offset(6)), (storage::epoch_end{leader_epoch(-1), offset(-1)}));

    mr::partition_change_record elected;
    elected.topic_id = id_of(1);
    elected.partition_id = 0;
    elected.leader = self;
    elected.isr = std::vector<int32_t>{self};
    f.apply({elected});
    ASSERT_TRUE(f.run_until([&] { return p->is_leader(); }));
    ASSERT_EQ(p->epoch(), leader_epoch(5));
    EXPECT_EQ(p->log()->latest_epoch(), leader_epoch(5));
    EXPECT_EQ(p->last_offset_for_epoch(leader_epoch(4)), (storage::epoch_end{leader_epoch(3), offset(3)}));
    EXPECT_EQ(p->last_offset_for_epoch(leader_epoch(5)), (storage::epoch_end{leader_epoch(5), offset(3)}));
    EXPECT_EQ(p->diverging_epoch(leader_epoch(4), offset(6)), (storage::epoch_end{leader_epoch(3), offset(3)}));
    EXPECT_EQ(p->diverging_epoch(leader_epoch(3), offset(3)), std::nullopt);
    EXPECT_EQ(p->epoch_for_offset(offset(3)), leader_epoch(5));

    // Deposed before appending anything: following broker 2 at epoch 6, whose
    // history has no epoch 5, it names epoch 5 as its last until the leader's
    // divergence answer truncates it at its log end, which drops that epoch.
    mr::partition_change_record deposed;
    deposed.topic_id = id_of(1);
    deposed.partition_id = 0;
    deposed.leader = 2;
    deposed.isr = std::vector<int32_t>{2, self};
    f.apply({deposed});
    ASSERT_TRUE(f.run_until([&] { return p->leader_id() == 2; }));
    ASSERT_EQ(p->epoch(), leader_epoch(6));
    EXPECT_EQ(p->log()->latest_epoch(), leader_epoch(5));
    EXPECT_EQ(run([&](auto done) { p->truncate_as_follower(leader_epoch(6), offset(3), false, done); }),
              kafka_error::none);
    EXPECT_EQ(p->log_end_offset(), offset(3));
    EXPECT_EQ(p->log()->latest_epoch(), leader_epoch(3));
}

// KIP-392: the leader's view of its in-sync followers, for choosing a
// consumer's read replica; and any hosted replica serves a consumer's read.
TEST(partition_replication, read_candidates_are_in_sync_followers_holding_the_offset) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 1, {self, 2, 3}, {self, 2, 3, 4})});
    auto p = f.manager->find("t", 0).leader;
    ASSERT_TRUE(p);
    ASSERT_TRUE(f.run_until([&] { return p->is_leader(); }));
    EXPECT_EQ(f.produce("t", 0, batch_of(10)).error, kafka_error::none);
    // No follower has fetched yet: none is known to hold anything.
    EXPECT_TRUE(p->read_candidates(offset(0)).empty());
    p->record_follower_fetch(2, -1, offset(10), offset(0));
    p->record_follower_fetch(3, -1, offset(6), offset(4));
    p->record_follower_fetch(4, -1, offset(10), offset(0));  // not in the ISR
    f.run_until([] { return false; }, std::chrono::milliseconds(20));
    auto ids = [&](int64_t at) {
        std::vector<int32_t> out;
        for (const auto& c : p->read_candidates(offset(at))) out.push_back(c.id);
        return out;
    };
    EXPECT_EQ(ids(5), (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(ids(2), (std::vector<int32_t>{2}));   // below 3's log start
    EXPECT_EQ(ids(8), (std::vector<int32_t>{2}));   // past 3's log end
    EXPECT_EQ(ids(11), (std::vector<int32_t>{}));
    const auto c = p->read_candidates(offset(5));
    EXPECT_EQ(c[0].log_end_offset, 10);
    EXPECT_EQ(c[1].log_end_offset, 6);

    // A follower of another partition serves consumers' reads too, but is
    // nobody's leader.
    f.apply({fixture::topic("u", 2), fixture::partition_rec(2, 0, 2, 3, {2, self})});
    EXPECT_EQ(f.manager->find("u", 0).error, kafka_error::not_leader_or_follower);
    auto follower = f.manager->find_replica("u", 0);
    ASSERT_TRUE(follower.leader);
    EXPECT_EQ(f.manager->find_replica(id_of(2), 0).leader, follower.leader);
    EXPECT_FALSE(follower.leader->is_leader());
    EXPECT_TRUE(follower.leader->read_candidates(offset(0)).empty());
    EXPECT_EQ(f.manager->find_replica("u", 1).error, kafka_error::unknown_topic_or_partition);
    EXPECT_EQ(f.manager->find_replica(id_of(9), 0).error, kafka_error::unknown_topic_id);
    f.apply({fixture::topic("v", 3), fixture::partition_rec(3, 0, 2, 1, {2, 3})});
    EXPECT_EQ(f.manager->find_replica("v", 0).error, kafka_error::not_leader_or_follower);
}

// A follower's HW wakes the consumers long-polling on it (KIP-392).
TEST(partition_replication, a_followers_hw_wakes_its_waiters) {
    fixture f;
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, 2, 4, {2, self})});
    auto p = f.manager->find_replica("t", 0).leader;
    ASSERT_TRUE(p);
    ASSERT_TRUE(f.run_until([&] { return p->leader_id() == 2; }));
    auto signal = async_signal::make(f.io.get_executor());
    p->add_waiter(signal);
    auto payload = std::make_shared<std::vector<uint8_t>>(leader_batch(0, 4, 3));
    std::optional<kafka_error> result;
    p->append_from_leader(leader_epoch(4), *payload, payload, offset(0), offset(0),
                          [&](kafka_error e) { result = e; });
    ASSERT_TRUE(f.run_until([&] { return result.has_value(); }));
    EXPECT_FALSE(signal->fired());  // appended, HW still 0
    result.reset();
    p->update_follower_hw(leader_epoch(4), offset(3), [&](kafka_error e) { result = e; });
    ASSERT_TRUE(f.run_until([&] { return result.has_value(); }));
    EXPECT_EQ(p->high_watermark(), offset(3));
    EXPECT_TRUE(signal->fired());
}

// Kafka's stray replicas: logs of partitions reassigned away or deleted while
// the broker was down go once the image holds this process's registration,
// not before (an image replayed from the local log may be stale).
TEST(partition_manager, stray_logs_are_deleted_once_the_image_has_this_registration) {
    std::string dir;
    {
        fixture before;
        before.keep_dir = true;
        dir = before.dir;
        before.apply({fixture::topic("kept", 1), fixture::partition_rec(1, 0, self, 1),
                      fixture::topic("moved", 2), fixture::partition_rec(2, 0, self, 1),
                      fixture::partition_rec(2, 1, self, 1), fixture::topic("gone", 3),
                      fixture::partition_rec(3, 0, self, 1)});
        EXPECT_EQ(before.produce("moved", 0, batch_of(2)).error, kafka_error::none);
    }
    const auto incarnation = id_of(77);
    fixture f({}, {}, incarnation, dir);
    ASSERT_EQ(f.logs->partitions_on_disk().size(), 4u);
    auto on_disk = [&](const std::string& topic, int32_t index) {
        return std::filesystem::exists(std::filesystem::path(dir) / fmt::format("{}-{}", topic, index));
    };
    // While down: moved-0 went to brokers 2 and 3, `gone` was deleted.
    f.apply({fixture::topic("kept", 1), fixture::partition_rec(1, 0, self, 2),
             fixture::topic("moved", 2), fixture::partition_rec(2, 0, 2, 2, {2, 3}),
             fixture::partition_rec(2, 1, self, 2), fixture::registration(self, id_of(76))});
    EXPECT_TRUE(on_disk("moved", 0)) << "deleted on an image of an earlier registration";
    EXPECT_TRUE(on_disk("gone", 0));
    f.apply({fixture::registration(self, incarnation)});
    EXPECT_TRUE(f.run_until([&] { return !on_disk("moved", 0) && !on_disk("gone", 0); }));
    EXPECT_TRUE(on_disk("kept", 0));
    EXPECT_TRUE(on_disk("moved", 1));
    EXPECT_TRUE(f.manager->find("kept", 0).leader);
}

// A broker restarting replays its own metadata log first: an image from
// before its new registration may still name it the leader of a partition
// (the previous incarnation led it). Leading then, at the old epoch, with a
// log that lost its tail in the unclean stop, overwrote records the other
// replicas had at the same offsets and epoch (chaos seed 523). It waits for
// the image with its own registration.
TEST(partition_manager, does_not_lead_before_its_own_registration) {
    const auto incarnation = id_of(78);
    fixture f({}, {}, incarnation);
    f.apply({fixture::topic("t", 1), fixture::partition_rec(1, 0, self, 4, {self, 2}),
             fixture::registration(self, id_of(76))});
    auto found = f.manager->find("t", 0);
    EXPECT_FALSE(found.leader);
    EXPECT_EQ(found.error, kafka_error::not_leader_or_follower);
    EXPECT_TRUE(f.manager->leaders().empty());
    ASSERT_TRUE(f.manager->find_replica("t", 0).leader);
    EXPECT_FALSE(f.manager->find_replica("t", 0).leader->is_leader());

    // Its registration arrives with nothing else changed (the controller
    // found no other replica to lead): now it leads.
    f.apply({fixture::registration(self, incarnation)});
    EXPECT_TRUE(f.run_until([&] {
        auto now = f.manager->find("t", 0);
        return now.leader && now.leader->is_leader();
    }));
    EXPECT_EQ(f.manager->leaders().size(), 1u);
}

}  // namespace
}  // namespace strata::replication
