// Checkpoints and leader epochs: encodings, the RocksDB store, and the
// round trip through a log's close and reopen.
#include <gtest/gtest.h>

#include "leader_epoch_cache.h"
#include "storage_test_support.h"

namespace strata::storage {
namespace {

TEST(checkpoints, encode_decode_round_trip) {
    log_checkpoints c{offset(5), offset(1000), offset(990), offset(700)};
    EXPECT_EQ(log_checkpoints::decode(c.encode()).value(), c);
    EXPECT_FALSE(log_checkpoints::decode("garbage"));
}

TEST(leader_epoch_cache, assign_lookup_and_truncate) {
    leader_epoch_cache cache;
    EXPECT_TRUE(cache.assign(leader_epoch(1), offset(0)));
    EXPECT_FALSE(cache.assign(leader_epoch(1), offset(10)));
    EXPECT_TRUE(cache.assign(leader_epoch(3), offset(100)));
    EXPECT_TRUE(cache.assign(leader_epoch(5), offset(200)));
    EXPECT_EQ(cache.end_offset_for(leader_epoch(5), offset(250)), (epoch_end{leader_epoch(5), offset(250)}));
    EXPECT_EQ(cache.end_offset_for(leader_epoch(4), offset(250)), (epoch_end{leader_epoch(3), offset(200)}));
    EXPECT_EQ(cache.end_offset_for(leader_epoch(1), offset(250)), (epoch_end{leader_epoch(1), offset(100)}));
    EXPECT_EQ(cache.end_offset_for(leader_epoch(0), offset(250)), (epoch_end{leader_epoch(0), offset(0)}));
    EXPECT_FALSE(cache.end_offset_for(leader_epoch(6), offset(250)));

    auto decoded = leader_epoch_cache::decode(cache.encode()).value();
    EXPECT_EQ(decoded.entries(), cache.entries());

    cache.truncate_from_end(offset(150));
    EXPECT_EQ(cache.latest_epoch(), leader_epoch(3));
    cache.truncate_from_start(offset(120));
    ASSERT_EQ(cache.entries().size(), 1u);
    EXPECT_EQ(cache.entries()[0], (epoch_entry{leader_epoch(3), offset(120)}));
}

TEST(state_store, rocksdb_round_trip_and_prefix_delete) {
    testing::temp_dir dir;
    {
        auto store = open_rocksdb_state_store(dir.path() + "/db").value();
        ASSERT_TRUE(store->apply({{"storage/a-0/checkpoints", std::string("x")}, {"storage/a-1/checkpoints", std::string("y")}}, true));
        ASSERT_TRUE(store->remove_prefix("storage/a-0/", true));
    }
    auto store = open_rocksdb_state_store(dir.path() + "/db").value();
    EXPECT_FALSE(store->get("storage/a-0/checkpoints").value());
    EXPECT_EQ(store->get("storage/a-1/checkpoints").value(), std::optional<std::string>("y"));
}

// Kafka's epochForOffset: the latest epoch starting at or before the offset.
TEST(leader_epoch_cache, epoch_for_an_offset) {
    leader_epoch_cache cache;
    EXPECT_EQ(cache.epoch_for(offset(0)), std::nullopt);
    ASSERT_TRUE(cache.assign(leader_epoch(2), offset(10)));
    ASSERT_TRUE(cache.assign(leader_epoch(4), offset(20)));
    EXPECT_EQ(cache.epoch_for(offset(9)), std::nullopt);
    EXPECT_EQ(cache.epoch_for(offset(10)), leader_epoch(2));
    EXPECT_EQ(cache.epoch_for(offset(19)), leader_epoch(2));
    EXPECT_EQ(cache.epoch_for(offset(20)), leader_epoch(4));
    EXPECT_EQ(cache.epoch_for(offset(1000)), leader_epoch(4));
}

TEST(state_store, log_checkpoints_survive_reopen) {
    testing::log_fixture f;
    log_config config;
    {
        auto log = f.open(config);
        for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->append(testing::make_simple_batch(10), leader_epoch(i < 5 ? 1 : 2)));
        log->set_high_watermark(offset(60));
        ASSERT_EQ(log->delete_records_before(offset(20)).value(), offset(20));
        ASSERT_TRUE(log->close());
    }
    auto stored = log_checkpoints::decode(*f.store->get(checkpoints_key(f.tp)).value()).value();
    EXPECT_EQ(stored.log_start, offset(20));
    EXPECT_EQ(stored.recovery_point, offset(100));
    EXPECT_EQ(stored.high_watermark, offset(60));
    auto log = f.open(config);
    EXPECT_EQ(log->log_start_offset(), offset(20));
    EXPECT_EQ(log->high_watermark(), offset(60));
    EXPECT_EQ(log->end_offset(), offset(100));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(1)), (epoch_end{leader_epoch(1), offset(50)}));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(2));
}

}  // namespace
}  // namespace strata::storage
