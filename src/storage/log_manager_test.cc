#include "strata/storage/log_manager.h"

#include <filesystem>

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

}  // namespace
}  // namespace strata::storage
