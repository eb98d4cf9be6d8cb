#include "index.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "storage_test_support.h"

namespace strata::storage {
namespace {

TEST(offset_index, lookup_finds_last_entry_at_or_before) {
    testing::temp_dir dir;
    offset_index index(offset(100), 1000);
    ASSERT_TRUE(index.open(dir.path() + "/a.index", 1 << 20).value());
    ASSERT_TRUE(index.append(offset(110), 4000));
    ASSERT_TRUE(index.append(offset(120), 8000));
    EXPECT_EQ(index.lookup(offset(105)).position, 0u);
    EXPECT_EQ(index.lookup(offset(105)).at, offset(100));
    EXPECT_EQ(index.lookup(offset(110)).position, 4000u);
    EXPECT_EQ(index.lookup(offset(119)).position, 4000u);
    EXPECT_EQ(index.lookup(offset(500)).position, 8000u);
}

TEST(offset_index, survives_reopen_and_truncates) {
    testing::temp_dir dir;
    std::string path = dir.path() + "/a.index";
    {
        offset_index index(offset(0), 1000);
        ASSERT_TRUE(index.open(path, 1 << 20).value());
        for (int i = 1; i <= 10; ++i) ASSERT_TRUE(index.append(offset(i * 10), uint32_t(i * 4096)));
        ASSERT_TRUE(index.truncate_to(offset(60)));
        EXPECT_EQ(index.entries(), 5u);
    }
    offset_index reopened(offset(0), 1000);
    ASSERT_TRUE(reopened.open(path, 1 << 20).value());
    EXPECT_EQ(reopened.entries(), 5u);
    EXPECT_EQ(reopened.lookup(offset(1000)).at, offset(50));
}

TEST(offset_index, sanity_check_rejects_torn_and_out_of_range_entries) {
    testing::temp_dir dir;
    std::string path = dir.path() + "/a.index";
    {
        offset_index index(offset(0), 1000);
        ASSERT_TRUE(index.open(path, 1 << 20).value());
        ASSERT_TRUE(index.append(offset(10), 5000));
    }
    offset_index small(offset(0), 1000);
    EXPECT_FALSE(small.open(path, 4000).value()) << "a position past the log";
    auto f = open_file(path, O_WRONLY | O_APPEND).value();
    uint8_t torn[3] = {1, 2, 3};
    ASSERT_TRUE(pwrite_all(f.fd(), torn, 8));
    offset_index torn_index(offset(0), 1000);
    EXPECT_FALSE(torn_index.open(path, 1 << 20).value());
}

TEST(time_index, lookup_and_monotonic_appends) {
    testing::temp_dir dir;
    time_index index(offset(0), 1000);
    ASSERT_TRUE(index.open(dir.path() + "/a.timeindex").value());
    ASSERT_TRUE(index.maybe_append(1000, offset(5)));
    ASSERT_TRUE(index.maybe_append(900, offset(9)));  // not larger: ignored
    ASSERT_TRUE(index.maybe_append(2000, offset(20)));
    EXPECT_EQ(index.lookup(500).timestamp, -1);
    EXPECT_EQ(index.lookup(1500).at, offset(5));
    EXPECT_EQ(index.lookup(2000).at, offset(20));
    ASSERT_TRUE(index.truncate_to(offset(20)));
    EXPECT_EQ(index.last()->at, offset(5));
    time_index reopened(offset(0), 1000);
    ASSERT_TRUE(reopened.open(dir.path() + "/a.timeindex").value());
    EXPECT_EQ(reopened.last()->timestamp, 1000);
}

TEST(segment_names, twenty_digit_base_offsets) {
    EXPECT_EQ(segment_file_name(offset(368769), ".log"), "00000000000000368769.log");
    EXPECT_EQ(parse_segment_file_name("00000000000000368769.log", ".log"), offset(368769));
    EXPECT_FALSE(parse_segment_file_name("00000000000000368769.index", ".log"));
    EXPECT_FALSE(parse_segment_file_name("0000000000000036876x.log", ".log"));
}

}  // namespace
}  // namespace strata::storage
