// Unclean starts: logs cut or overwritten with garbage at random places are
// truncated at the first invalid byte, keep every batch before it, and never
// serve an invalid one; broken indexes are rebuilt.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "disk_log.h"
#include "storage_test_support.h"

namespace strata::storage {
namespace {

using testing::make_simple_batch;

log_config small_segments() {
    log_config c;
    c.segment_bytes = 8192;
    c.index_interval_bytes = 512;
    return c;
}

// Every batch the log serves checks out, offsets increase, and the records
// are the ones written (value byte = 'a' + record index % 26).
int64_t verify_log(const partition_log& log) {
    auto bytes = testing::read_all(log, log.log_start_offset());
    protocol::record_batch_sequence seq(bytes);
    int64_t expected = log.log_start_offset().value();
    for (;;) {
        auto b = seq.next();
        EXPECT_TRUE(b) << "unframed bytes served";
        if (!b || !b.value()) break;
        EXPECT_TRUE(b.value()->crc_ok());
        EXPECT_EQ(b.value()->base_offset(), expected);
        expected = b.value()->last_offset() + 1;
    }
    EXPECT_EQ(expected, log.end_offset().value());
    return expected;
}

std::vector<std::filesystem::path> log_files(const std::string& dir, std::string_view suffix) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().string().ends_with(suffix)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

TEST(recovery, clean_reopen_keeps_everything_without_a_scan) {
    testing::log_fixture f;
    {
        auto log = f.open(small_segments());
        for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->append(make_simple_batch(3, 40), leader_epoch(1)));
        ASSERT_TRUE(log->close());
    }
    auto log = f.open(small_segments(), false);
    EXPECT_EQ(log->end_offset(), offset(300));
    EXPECT_EQ(verify_log(*log), 300);
    EXPECT_EQ(testing::read_records(*log, offset(150)).front().at, offset(150));
}

TEST(recovery, torn_tail_is_truncated_at_the_last_whole_batch) {
    testing::log_fixture f;
    std::vector<uint64_t> ends;
    {
        auto log = f.open(small_segments());
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->append(make_simple_batch(3, 40), leader_epoch(1)));
    }
    auto files = log_files(f.log_dir(), ".log");
    auto last = files.back();
    auto size = std::filesystem::file_size(last);
    std::filesystem::resize_file(last, size - 7);
    auto log = f.open(small_segments(), true);
    EXPECT_EQ(log->end_offset(), offset(27));
    verify_log(*log);
    EXPECT_EQ(log->append(make_simple_batch(1), leader_epoch(2)).value().base_offset, offset(27));
}

TEST(recovery, garbage_at_random_positions_cuts_the_log_there) {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 30; ++round) {
        testing::log_fixture f;
        {
            auto log = f.open(small_segments());
            for (int i = 0; i < 60; ++i) ASSERT_TRUE(log->append(make_simple_batch(3, 40), leader_epoch(1)));
        }
        auto files = log_files(f.log_dir(), ".log");
        auto victim = files[rng() % files.size()];
        auto size = std::filesystem::file_size(victim);
        uint64_t at = rng() % size;
        int fd = ::open(victim.c_str(), O_WRONLY);
        std::vector<uint8_t> garbage(1 + rng() % 64);
        for (auto& g : garbage) g = uint8_t(rng());
        ASSERT_EQ(::pwrite(fd, garbage.data(), garbage.size(), off_t(at)), ssize_t(garbage.size()));
        ::close(fd);
        if (rng() % 2) std::filesystem::resize_file(victim, at + garbage.size());

        auto log = f.open(small_segments(), true);
        int64_t end = verify_log(*log);
        // Everything in segments before the damaged one survives.
        auto damaged_base = parse_segment_file_name(victim.filename().string(), ".log").value();
        EXPECT_GE(end, damaged_base.value()) << "round " << round;
        EXPECT_LE(end, 180);
        ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(2)));
        verify_log(*log);
    }
}

TEST(recovery, missing_or_corrupt_index_is_rebuilt_even_on_a_clean_start) {
    testing::log_fixture f;
    {
        auto log = f.open(small_segments());
        for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->append(make_simple_batch(3, 40), leader_epoch(1)));
        ASSERT_TRUE(log->close());
    }
    auto indexes = log_files(f.log_dir(), ".index");
    ASSERT_GE(indexes.size(), 3u);
    std::filesystem::remove(indexes[0]);
    std::filesystem::resize_file(indexes[1], std::filesystem::file_size(indexes[1]) - 3);
    auto log = f.open(small_segments(), false);
    EXPECT_EQ(log->end_offset(), offset(300));
    verify_log(*log);
    for (int64_t at : {1, 50, 120, 299}) EXPECT_EQ(testing::read_records(*log, offset(at)).front().at, offset(at));
    EXPECT_TRUE(std::filesystem::exists(indexes[0]));
}

TEST(recovery, rebuilds_leader_epochs_from_scanned_batches) {
    testing::log_fixture f;
    {
        auto log = f.open(small_segments());
        for (int i = 0; i < 30; ++i) ASSERT_TRUE(log->append(make_simple_batch(1, 40), leader_epoch(i / 10)));
    }
    ASSERT_TRUE(f.store->apply({{leader_epochs_key(f.tp), std::nullopt}}, true));
    auto log = f.open(small_segments(), true);
    EXPECT_EQ(log->latest_epoch(), leader_epoch(2));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(1)), (epoch_end{leader_epoch(1), offset(20)}));
}

}  // namespace
}  // namespace strata::storage
