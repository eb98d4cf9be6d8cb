#include "index.h"

#include <fcntl.h>

#include <gtest/gtest.h>

#include "lru_cache.h"
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

std::vector<uint8_t> file_bytes(const std::string& path) {
    auto f = open_file(path, O_RDONLY).value();
    std::vector<uint8_t> data(1 << 16);
    data.resize(pread_full(f.fd(), data, 0).value());
    return data;
}

// Empties index_cache() and puts its bound back afterwards.
struct cold_cache {
    size_t saved = index_cache().capacity();
    cold_cache() { index_cache().set_capacity(0); index_cache().set_capacity(saved); }
    ~cold_cache() { index_cache().set_capacity(saved); }
};

TEST(sparse_index, both_formats_are_kafkas_bytes) {
    testing::temp_dir dir;
    offset_index index(offset(1000), 100);
    ASSERT_TRUE(index.open(dir.path() + "/a.index").value());
    ASSERT_TRUE(index.append(offset(1001), 0x01020304));
    ASSERT_TRUE(index.append(offset(1000 + 0x0a0b0c), 0x7f000000));
    EXPECT_EQ(file_bytes(dir.path() + "/a.index"),
              (std::vector<uint8_t>{0, 0, 0, 1, 1, 2, 3, 4, 0, 0x0a, 0x0b, 0x0c, 0x7f, 0, 0, 0}));
    time_index times(offset(1000), 100);
    ASSERT_TRUE(times.open(dir.path() + "/a.timeindex").value());
    ASSERT_TRUE(times.maybe_append(0x0102030405060708, offset(1002)));
    EXPECT_EQ(file_bytes(dir.path() + "/a.timeindex"), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 2}));
}

TEST(sparse_index, offset_lookups_at_every_boundary) {
    testing::temp_dir dir;
    offset_index index(offset(100), 1000);
    ASSERT_TRUE(index.open(dir.path() + "/a.index").value());
    EXPECT_EQ(index.lookup(offset(100)).at, offset(100)) << "empty: the segment's start";
    EXPECT_FALSE(index.last());
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(index.append(offset(100 + i * 10), uint32_t(i * 1000)));
    EXPECT_EQ(index.lookup(offset(0)).position, 0u) << "below the base";
    EXPECT_EQ(index.lookup(offset(109)).position, 0u) << "just below the first entry";
    EXPECT_EQ(index.lookup(offset(110)).position, 1000u) << "on the first entry";
    EXPECT_EQ(index.lookup(offset(129)).position, 2000u);
    EXPECT_EQ(index.lookup(offset(130)).position, 3000u);
    EXPECT_EQ(index.lookup(offset(150)).position, 5000u) << "on the last entry";
    EXPECT_EQ(index.lookup(offset(1'000'000)).position, 5000u) << "past the last";
    ASSERT_TRUE(index.append(offset(150), 6000)) << "out of order: ignored, not an error";
    ASSERT_TRUE(index.append(offset(160), 5000));
    EXPECT_EQ(index.entries(), 5u);
    EXPECT_EQ(index.last()->at, offset(150));
}

TEST(sparse_index, time_lookups_at_every_boundary_and_repeated_offsets) {
    testing::temp_dir dir;
    time_index index(offset(100), 1000);
    ASSERT_TRUE(index.open(dir.path() + "/a.timeindex").value());
    EXPECT_EQ(index.lookup(5).timestamp, -1);
    ASSERT_TRUE(index.maybe_append(1000, offset(110)));
    ASSERT_TRUE(index.maybe_append(2000, offset(110)));  // the same offset may repeat
    ASSERT_TRUE(index.maybe_append(3000, offset(130)));
    ASSERT_TRUE(index.maybe_append(4000, offset(120)));  // offset going back: ignored
    EXPECT_EQ(index.entries(), 3u);
    EXPECT_EQ(index.lookup(999).timestamp, -1);
    EXPECT_EQ(index.lookup(999).at, offset(100));
    EXPECT_EQ(index.lookup(1000).at, offset(110));
    EXPECT_EQ(index.lookup(2999).timestamp, 2000);
    EXPECT_EQ(index.lookup(3000).at, offset(130));
    EXPECT_EQ(index.lookup(INT64_MAX).timestamp, 3000);
}

TEST(sparse_index, a_full_index_says_so) {
    testing::temp_dir dir;
    offset_index index(offset(0), 3);
    time_index times(offset(0), 2);
    ASSERT_TRUE(index.open(dir.path() + "/a.index").value());
    ASSERT_TRUE(times.open(dir.path() + "/a.timeindex").value());
    for (int i = 1; i <= 3; ++i) {
        EXPECT_FALSE(index.full());
        ASSERT_TRUE(index.append(offset(i), uint32_t(i * 100)));
    }
    EXPECT_TRUE(index.full());
    ASSERT_TRUE(times.maybe_append(1, offset(1)));
    EXPECT_FALSE(times.full());
    ASSERT_TRUE(times.maybe_append(2, offset(2)));
    EXPECT_TRUE(times.full());
    ASSERT_TRUE(index.truncate_to(offset(3)));
    EXPECT_FALSE(index.full());
}

TEST(sparse_index, truncation_on_entries_between_them_and_past_them) {
    testing::temp_dir dir;
    std::string path = dir.path() + "/a.timeindex";
    time_index index(offset(0), 1000);
    ASSERT_TRUE(index.open(path).value());
    for (int i = 1; i <= 6; ++i) ASSERT_TRUE(index.maybe_append(i * 100, offset(i * 10)));
    ASSERT_TRUE(index.truncate_to(offset(1000)));
    EXPECT_EQ(index.entries(), 6u) << "past the last: nothing goes";
    ASSERT_TRUE(index.truncate_to(offset(45)));
    EXPECT_EQ(index.entries(), 4u) << "between 40 and 50";
    ASSERT_TRUE(index.truncate_to(offset(40)));
    EXPECT_EQ(index.entries(), 3u) << "on 40: it goes too";
    EXPECT_EQ(file_bytes(path).size(), 3 * time_index::entry_size);
    ASSERT_TRUE(index.maybe_append(350, offset(35)));
    EXPECT_EQ(index.lookup(INT64_MAX).at, offset(35));
    ASSERT_TRUE(index.truncate_to(offset(0)));
    EXPECT_EQ(index.entries(), 0u);
    EXPECT_FALSE(index.last());
    EXPECT_TRUE(file_bytes(path).empty());
}

TEST(sparse_index, a_sealed_index_is_not_resident_until_looked_up) {
    testing::temp_dir dir;
    std::string path = dir.path() + "/a.index";
    std::vector<index_entry> answers;
    {
        offset_index index(offset(500), 1000);
        ASSERT_TRUE(index.open(path).value());
        for (int i = 1; i <= 200; ++i) ASSERT_TRUE(index.append(offset(500 + i * 7), uint32_t(i * 333)));
        for (int t = 400; t < 2000; t += 5) answers.push_back(index.lookup(offset(t)));
    }
    cold_cache cold;
    offset_index index(offset(500), 1000);
    ASSERT_TRUE(index.open_sealed(path, 1 << 20).value());
    EXPECT_FALSE(index.is_resident());
    EXPECT_FALSE(index.loaded()) << "checked at open, then dropped";
    EXPECT_EQ(index.entries(), 200u);
    EXPECT_EQ(index.last()->at, offset(1900));
    size_t i = 0;
    for (int t = 400; t < 2000; t += 5, ++i) {
        auto e = index.lookup(offset(t));
        EXPECT_EQ(e.at, answers[i].at);
        EXPECT_EQ(e.position, answers[i].position);
    }
    EXPECT_TRUE(index.loaded()) << "a lookup loads it into the cache";
    EXPECT_FALSE(index.is_resident());
    EXPECT_GE(index_cache().cost(), 200 * offset_index::entry_size);
    index_cache().set_capacity(0);
    EXPECT_FALSE(index.loaded()) << "evicted";
    index_cache().set_capacity(cold.saved);
    EXPECT_EQ(index.lookup(offset(1000)).at, answers[(1000 - 400) / 5].at) << "loaded again";
}

TEST(sparse_index, sealing_and_reviving_keep_the_same_entries) {
    testing::temp_dir dir;
    std::string path = dir.path() + "/a.timeindex";
    cold_cache cold;
    time_index index(offset(0), 1000);
    ASSERT_TRUE(index.open(path).value());
    for (int i = 1; i <= 50; ++i) ASSERT_TRUE(index.maybe_append(i * 10, offset(i)));
    index.seal();
    EXPECT_FALSE(index.is_resident());
    EXPECT_EQ(index.lookup(255).at, offset(25));
    index_cache().set_capacity(0);
    index_cache().set_capacity(cold.saved);
    EXPECT_FALSE(index.loaded());
    ASSERT_TRUE(index.maybe_append(505, offset(50))) << "an append revives it";
    EXPECT_TRUE(index.is_resident());
    EXPECT_EQ(index.entries(), 51u);
    index.seal();
    ASSERT_TRUE(index.truncate_to(offset(40))) << "so does a truncation";
    EXPECT_EQ(index.entries(), 39u);
    EXPECT_EQ(index.lookup(1000).at, offset(39));
    time_index reopened(offset(0), 1000);
    ASSERT_TRUE(reopened.open_sealed(path).value());
    EXPECT_EQ(reopened.entries(), 39u);
    EXPECT_EQ(reopened.lookup(255).at, offset(25));
    ASSERT_TRUE(reopened.reset());
    EXPECT_EQ(reopened.entries(), 0u);
    EXPECT_TRUE(file_bytes(path).empty());
}

TEST(sparse_index, a_sealed_open_still_fails_the_sanity_check) {
    testing::temp_dir dir;
    std::string path = dir.path() + "/a.index";
    {
        offset_index index(offset(0), 1000);
        ASSERT_TRUE(index.open(path).value());
        ASSERT_TRUE(index.append(offset(10), 5000));
    }
    offset_index small(offset(0), 1000);
    EXPECT_FALSE(small.open_sealed(path, 4000).value());
    EXPECT_EQ(small.entries(), 0u);
    EXPECT_EQ(small.lookup(offset(20)).position, 0u);
}

TEST(segment_names, twenty_digit_base_offsets) {
    EXPECT_EQ(segment_file_name(offset(368769), ".log"), "00000000000000368769.log");
    EXPECT_EQ(parse_segment_file_name("00000000000000368769.log", ".log"), offset(368769));
    EXPECT_FALSE(parse_segment_file_name("00000000000000368769.index", ".log"));
    EXPECT_FALSE(parse_segment_file_name("0000000000000036876x.log", ".log"));
}

}  // namespace
}  // namespace strata::storage
