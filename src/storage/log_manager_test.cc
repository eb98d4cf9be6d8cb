#include "strata/storage/log_manager.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage_test_support.h"

namespace strata::storage {
namespace {

log_manager_config manual(const std::string& dir, clock* time) {
    log_manager_config c;
    c.data_dir = dir;
    c.start_threads = false;
    c.clock = time;
    return c;
}

TEST(log_manager, clean_shutdown_marker_and_partitions_on_disk) {
    testing::temp_dir dir;
    manual_clock time;
    topic_partition tp{"orders", partition_id(3)};
    {
        auto m = log_manager::open(manual(dir.path(), &time)).value();
        EXPECT_FALSE(m->was_clean_shutdown());
        auto log = m->get_or_create(tp, log_config{}).value();
        ASSERT_TRUE(log->append(testing::make_simple_batch(4), leader_epoch(0)));
        ASSERT_TRUE(std::filesystem::exists(dir.path() + "/orders-3/00000000000000000000.log"));
        ASSERT_TRUE(m->shutdown());
        EXPECT_FALSE(log->append(testing::make_simple_batch(1), leader_epoch(0)));
    }
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/.strata_clean_shutdown"));
    auto m = log_manager::open(manual(dir.path(), &time)).value();
    EXPECT_TRUE(m->was_clean_shutdown());
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/.strata_clean_shutdown")) << "removed while running";
    ASSERT_EQ(m->partitions_on_disk().size(), 1u);
    EXPECT_EQ(m->partitions_on_disk()[0], tp);
    auto log = m->get_or_create(tp, log_config{}).value();
    EXPECT_EQ(log->end_offset(), offset(4));
    EXPECT_EQ(log->flushed_offset(), offset(4));
}

// Counts the synced writes a manager makes; the data lives in a shared
// memory store, so a second manager can reopen it.
class counting_store final : public state_store {
public:
    counting_store(std::shared_ptr<state_store> inner, int* synced) : _inner(std::move(inner)), _synced(synced) {}
    result<std::optional<std::string>> get(std::string_view key) override { return _inner->get(key); }
    result<void> apply(std::vector<write> writes, bool sync) override {
        if (sync) ++*_synced;
        return _inner->apply(std::move(writes), sync);
    }
    result<void> remove_prefix(std::string_view prefix, bool sync) override {
        if (sync) ++*_synced;
        return _inner->remove_prefix(prefix, sync);
    }

private:
    std::shared_ptr<state_store> _inner;
    int* _synced;
};

TEST(log_manager, shutdown_syncs_the_state_store_once_for_every_log) {
    // One sync per directory, as Kafka's one recovery-point checkpoint file
    // per log dir: a sync per log made a broker with ~1,750 partitions slow to
    // stop.
    testing::temp_dir dir;
    manual_clock time;
    std::shared_ptr<state_store> data = make_memory_state_store();
    int synced = 0;
    {
        auto m = log_manager::open(manual(dir.path(), &time), std::make_unique<counting_store>(data, &synced)).value();
        for (int p = 0; p < 20; ++p) {
            auto log = m->get_or_create({"t", partition_id(p)}, log_config{}).value();
            ASSERT_TRUE(log->append(testing::make_simple_batch(p + 1), leader_epoch(0)));
        }
        synced = 0;
        ASSERT_TRUE(m->shutdown());
        EXPECT_EQ(synced, 1);
    }
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/.strata_clean_shutdown"));
    auto m = log_manager::open(manual(dir.path(), &time), std::make_unique<counting_store>(data, &synced)).value();
    EXPECT_TRUE(m->was_clean_shutdown());
    for (int p = 0; p < 20; ++p) {
        auto log = m->get_or_create({"t", partition_id(p)}, log_config{}).value();
        EXPECT_EQ(log->end_offset(), offset(p + 1));
        EXPECT_EQ(log->flushed_offset(), offset(p + 1)) << "every log's recovery point was written";
    }
}

TEST(log_manager, the_metadata_quorums_log_is_not_a_partition_log) {
    // metadata.log.dir defaults to the first log dir, so raft's
    // __cluster_metadata-0 sits among the partitions; the log manager must
    // neither list it (the stray-log sweep would delete it) nor recover it.
    testing::temp_dir dir;
    manual_clock time;
    std::filesystem::create_directories(dir.path() + "/__cluster_metadata-0");
    std::filesystem::create_directories(dir.path() + "/orders-0");
    auto m = log_manager::open(manual(dir.path(), &time)).value();
    ASSERT_EQ(m->partitions_on_disk().size(), 1u);
    EXPECT_EQ(m->partitions_on_disk()[0], (topic_partition{"orders", partition_id(0)}));
    ASSERT_TRUE(m->shutdown());
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/__cluster_metadata-0"));
}

TEST(log_manager, a_log_of_an_earlier_topic_of_the_same_name_is_replaced) {
    // A topic deleted and created again under its name while this broker
    // was down: the log on disk has the old topic id and must not serve the
    // new topic (Kafka's partition.metadata and stray-log rule).
    testing::temp_dir dir;
    manual_clock time;
    topic_partition tp{"orders", partition_id(0)};
    const auto first = *protocol::uuid::from_string("AAAAAAAAAAAAAAAAAAAAAQ");
    const auto second = *protocol::uuid::from_string("AAAAAAAAAAAAAAAAAAAAAg");
    {
        auto m = log_manager::open(manual(dir.path(), &time)).value();
        auto log = m->get_or_create(tp, log_config{}, first).value();
        ASSERT_TRUE(log->append(testing::make_simple_batch(4), leader_epoch(0)));
        ASSERT_TRUE(m->shutdown());
    }
    std::ifstream metadata(dir.path() + "/orders-0/partition.metadata");
    std::string text((std::istreambuf_iterator<char>(metadata)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ\n");
    {
        auto m = log_manager::open(manual(dir.path(), &time)).value();
        EXPECT_EQ(m->get_or_create(tp, log_config{}, first).value()->end_offset(), offset(4)) << "the same topic";
        ASSERT_TRUE(m->shutdown());
    }
    {
        auto m = log_manager::open(manual(dir.path(), &time)).value();
        auto log = m->get_or_create(tp, log_config{}, second).value();
        EXPECT_EQ(log->end_offset(), offset(0)) << "the new topic starts empty";
        ASSERT_TRUE(log->append(testing::make_simple_batch(2), leader_epoch(0)));
        ASSERT_TRUE(m->shutdown());
    }
    auto m = log_manager::open(manual(dir.path(), &time)).value();
    EXPECT_EQ(m->get_or_create(tp, log_config{}, second).value()->end_offset(), offset(2));
}

TEST(log_manager, a_log_without_a_recorded_topic_id_is_adopted) {
    // Logs written before topic ids were recorded keep their records.
    testing::temp_dir dir;
    manual_clock time;
    topic_partition tp{"orders", partition_id(0)};
    {
        auto m = log_manager::open(manual(dir.path(), &time)).value();
        ASSERT_TRUE(m->get_or_create(tp, log_config{}).value()->append(testing::make_simple_batch(3), leader_epoch(0)));
        ASSERT_TRUE(m->shutdown());
    }
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/orders-0/partition.metadata"));
    const auto id = *protocol::uuid::from_string("AAAAAAAAAAAAAAAAAAAAAw");
    auto m = log_manager::open(manual(dir.path(), &time)).value();
    EXPECT_EQ(m->get_or_create(tp, log_config{}, id).value()->end_offset(), offset(3));
    EXPECT_TRUE(std::filesystem::exists(dir.path() + "/orders-0/partition.metadata"));
}

TEST(log_manager, remove_renames_then_deletes_in_the_background) {
    testing::temp_dir dir;
    manual_clock time;
    auto m = log_manager::open(manual(dir.path(), &time)).value();
    topic_partition tp{"gone", partition_id(0)};
    auto log = m->get_or_create(tp, log_config{}).value();
    ASSERT_TRUE(log->append(testing::make_simple_batch(4), leader_epoch(0)));
    auto region = log->read({offset(0), 1 << 20, std::nullopt, true}).value().region;
    auto bytes = read_region(region).value();
    ASSERT_TRUE(m->remove(tp));
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/gone-0"));
    EXPECT_EQ(m->get(tp), nullptr);
    EXPECT_EQ(read_region(region).value(), bytes) << "open regions stay readable";
    m->run_retention();
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
        EXPECT_FALSE(e.path().string().ends_with("-delete")) << e.path();
    EXPECT_EQ(m->remove(tp).error().code, storage_errc::unknown_partition);
}

TEST(log_manager, retention_runs_over_every_log) {
    testing::temp_dir dir;
    manual_clock time;
    auto m = log_manager::open(manual(dir.path(), &time)).value();
    log_config c;
    c.segment_bytes = 1024;
    c.retention_ms = 1000;
    auto log = m->get_or_create({"t", partition_id(0)}, c).value();
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->append(testing::make_simple_batch(2, 50, time.now_ms()), leader_epoch(0)));
    time.advance(5000);
    m->run_retention();
    EXPECT_EQ(log->segment_count(), 1u);
}

// Kafka's LogDirFailureChannel: the first I/O error takes the directory
// offline for every log in it, once, and nothing is vouched for afterwards.
TEST(log_manager, an_io_error_takes_the_directory_offline) {
    testing::temp_dir dir;
    manual_clock time;
    auto config = manual(dir.path(), &time);
    std::vector<std::string> failures;
    config.on_dir_failure = [&](const std::string& failed, const storage_error& cause) {
        failures.push_back(failed);
        EXPECT_EQ(cause.code, storage_errc::io_error);
    };
    topic_partition a{"a", partition_id(0)}, b{"b", partition_id(0)};
    {
        // (A memory state store: the manager leaves a failed directory's
        // store open, and a RocksDB one would stay locked for the reopen.)
        auto m = log_manager::open(config, make_memory_state_store()).value();
        auto log_a = m->get_or_create(a, log_config{}).value();
        auto log_b = m->get_or_create(b, log_config{}).value();
        ASSERT_TRUE(log_a->append(testing::make_simple_batch(4), leader_epoch(0)));
        ASSERT_TRUE(log_b->append(testing::make_simple_batch(4), leader_epoch(0)));
        EXPECT_FALSE(m->offline());
        EXPECT_FALSE(m->dir_stats().offline);

        // A real failing system call: the next segment's file cannot be
        // created once its partition directory is gone.
        std::filesystem::remove_all(dir.path() + "/a-0");
        auto rolled = log_a->roll();
        ASSERT_FALSE(rolled);
        EXPECT_EQ(rolled.error().code, storage_errc::io_error);
        EXPECT_TRUE(m->offline());
        EXPECT_TRUE(m->dir_stats().offline);
        EXPECT_EQ(failures, std::vector<std::string>{dir.path()});

        // Every log of the directory, not only the one that failed, refuses
        // appends, reads and flushes; an acks=all wait fails, never succeeds.
        auto appended = log_b->append(testing::make_simple_batch(1), leader_epoch(0));
        ASSERT_FALSE(appended);
        EXPECT_EQ(appended.error().code, storage_errc::log_dir_offline);
        EXPECT_EQ(to_kafka_error(appended.error()), kafka_error::kafka_storage_error);
        EXPECT_EQ(log_b->end_offset(), offset(4));
        EXPECT_FALSE(log_b->read({offset(0), 1 << 20, std::nullopt, true}));
        std::optional<result<void>> flushed;
        log_b->flush_to(offset(4), [&](result<void> r) { flushed = std::move(r); });
        ASSERT_TRUE(flushed.has_value()) << "answered at once";
        EXPECT_FALSE(*flushed);
        EXPECT_FALSE(log_b->truncate_to(offset(2)));
        EXPECT_EQ(log_b->end_offset(), offset(4));
        EXPECT_EQ(m->get_or_create({"c", partition_id(0)}, log_config{}).error().code, storage_errc::log_dir_offline);
        EXPECT_FALSE(log_a->roll());
        EXPECT_EQ(failures.size(), 1u) << "reported once";

        EXPECT_FALSE(m->shutdown());
    }
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/.strata_clean_shutdown"));
    config.on_dir_failure = nullptr;
    auto m = log_manager::open(config, make_memory_state_store()).value();
    EXPECT_FALSE(m->was_clean_shutdown()) << "the next start recovers the logs";
    EXPECT_FALSE(m->offline());
    EXPECT_EQ(m->get_or_create(b, log_config{}).value()->end_offset(), offset(4));
}

}  // namespace
}  // namespace strata::storage
