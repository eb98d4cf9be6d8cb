#include "cleaner.h"

#include <gtest/gtest.h>

#include "storage_test_support.h"

namespace strata::storage {
namespace {

using testing::make_batch;
using testing::read_records;

log_config compacted() {
    log_config c;
    c.cleanup = cleanup_policy::compact;
    c.segment_bytes = 1024;
    c.index_interval_bytes = 128;
    c.delete_retention_ms = 60'000;
    return c;
}

cleaner_options options() {
    cleaner_options o;
    o.ignore_dirty_ratio = true;
    o.sleep = [](int64_t) {};
    return o;
}

std::map<std::string, std::optional<std::string>> latest_by_key(const partition_log& log) {
    std::map<std::string, std::optional<std::string>> out;
    for (const auto& r : read_records(log, log.log_start_offset())) out[*r.key] = r.value;
    return out;
}

void fill(partition_log& log, int rounds, protocol::compression_codec codec) {
    for (int round = 0; round < rounds; ++round) {
        std::vector<testing::record_spec> records;
        for (int k = 0; k < 5; ++k)
            records.push_back({"key" + std::to_string(k), "v" + std::to_string(round) + std::string(40, 'x')});
        ASSERT_TRUE(log.append(make_batch(records, codec), leader_epoch(0)));
    }
}

class cleaner_codecs : public ::testing::TestWithParam<protocol::compression_codec> {};

TEST_P(cleaner_codecs, keeps_the_latest_record_per_key_at_its_offset) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    fill(*log, 30, GetParam());
    auto before = latest_by_key(*log);
    size_t size_before = log->size_bytes();
    auto stats = clean_log(*log, options()).value();
    EXPECT_GT(stats.records_removed, 0);
    EXPECT_LT(log->size_bytes(), size_before);
    EXPECT_EQ(latest_by_key(*log), before);
    // Offsets are kept, with gaps, and still increase.
    auto records = read_records(*log, offset(0));
    for (size_t i = 1; i < records.size(); ++i) EXPECT_LT(records[i - 1].at, records[i].at);
    EXPECT_EQ(log->end_offset(), offset(150));
    // Reads from an offset in a gap start at the next record.
    EXPECT_GE(read_records(*log, offset(1)).front().at, offset(1));
    // Cleaned batches keep their codec.
    auto bytes = testing::read_all(*log, offset(0));
    EXPECT_EQ(protocol::record_batch_view::from(bytes).value().compression(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(codecs, cleaner_codecs,
                         ::testing::Values(protocol::compression_codec::none, protocol::compression_codec::gzip,
                                           protocol::compression_codec::lz4, protocol::compression_codec::zstd,
                                           protocol::compression_codec::snappy));

TEST(cleaner, tombstones_go_after_delete_retention) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    fill(*log, 10, protocol::compression_codec::none);
    ASSERT_TRUE(log->append(make_batch({{"key1", std::nullopt}}), leader_epoch(0)));
    fill(*log, 10, protocol::compression_codec::none);  // moves the tombstone out of the active segment
    // Delete key2 for good: tombstone with no later value.
    ASSERT_TRUE(log->append(make_batch({{"key2", std::nullopt}}), leader_epoch(0)));
    fill(*log, 0, protocol::compression_codec::none);
    std::vector<testing::record_spec> other;
    for (int i = 0; i < 20; ++i) other.push_back({"other" + std::to_string(i), std::string(60, 'o')});
    ASSERT_TRUE(log->append(make_batch(other), leader_epoch(0)));
    ASSERT_TRUE(log->roll());

    ASSERT_TRUE(clean_log(*log, options()));
    auto after_first = latest_by_key(*log);
    ASSERT_TRUE(after_first.count("key2"));
    EXPECT_FALSE(after_first["key2"]) << "tombstone kept until its horizon";

    f.time.advance(60'001);
    log->set_cleaner_checkpoint(offset(0));
    ASSERT_TRUE(clean_log(*log, options()));
    auto after_horizon = latest_by_key(*log);
    EXPECT_FALSE(after_horizon.count("key2")) << "tombstone removed after delete.retention.ms";
    EXPECT_TRUE(after_horizon.count("key1"));
    EXPECT_TRUE(after_horizon["key1"]);
}

TEST(cleaner, never_touches_the_active_segment_and_respects_the_dirty_ratio) {
    testing::log_fixture f;
    log_config c = compacted();
    c.segment_bytes = 1 << 20;
    auto log = f.open(c);
    fill(*log, 10, protocol::compression_codec::none);
    auto stats = clean_log(*log, options()).value();
    EXPECT_EQ(stats.segments_rewritten, 0u);
    EXPECT_EQ(read_records(*log, offset(0)).size(), 50u);

    testing::log_fixture g;
    auto ratio_log = g.open(compacted());
    fill(*ratio_log, 30, protocol::compression_codec::none);
    ASSERT_TRUE(clean_log(*ratio_log, options()));
    EXPECT_EQ(dirty_ratio(*ratio_log), 0.0);
    cleaner_options by_ratio = options();
    by_ratio.ignore_dirty_ratio = false;
    EXPECT_EQ(clean_log(*ratio_log, by_ratio).value().bytes_read, 0u);
}

TEST(cleaner, io_is_throttled) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    fill(*log, 30, protocol::compression_codec::none);
    cleaner_options o = options();
    o.io_bytes_per_second = 10'000;
    int64_t slept = 0;
    o.sleep = [&](int64_t ms) {
        slept += ms;
        f.time.advance(ms);
    };
    auto stats = clean_log(*log, o).value();
    uint64_t io = stats.bytes_read + stats.bytes_written;
    EXPECT_GT(slept, 0);
    EXPECT_GE(double(slept) + 50, double(io) * 1000.0 / 10'000 * 0.5);
}

}  // namespace
}  // namespace strata::storage
