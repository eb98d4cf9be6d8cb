#include "cleaner.h"

#include <algorithm>

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

// ---- transactions (KIP-98: Kafka's LogCleaner with aborted transactions) ----------

protocol::bytes_view view_of(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::vector<uint8_t> txn_batch(int64_t producer_id, const std::vector<std::pair<std::string, std::string>>& records) {
    protocol::record_batch_options o;
    o.producer_id = producer_id;
    o.producer_epoch = 0;
    o.base_sequence = 0;
    o.is_transactional = true;
    protocol::record_batch_builder builder(o);
    for (const auto& [key, value] : records) builder.append(1'700'000'000'000, view_of(key), view_of(value));
    return builder.build().value();
}

// A COMMIT or ABORT control batch: key version 0 + type, value version 0 + coordinator epoch 5.
std::vector<uint8_t> marker(int64_t producer_id, bool commit) {
    protocol::record_batch_options o;
    o.producer_id = producer_id;
    o.producer_epoch = 0;
    o.is_transactional = true;
    o.is_control = true;
    protocol::record_batch_builder builder(o);
    const std::string key{0, 0, 0, char(commit ? 1 : 0)};
    const std::string value{0, 0, 0, 0, 0, 5};
    builder.append(1'700'000'000'000, view_of(key), view_of(value));
    return builder.build().value();
}

struct stored_batch {
    int64_t base;
    bool control;
    int64_t producer_id;
    bool horizon;
    std::vector<std::string> values;  // data batches only
};

std::vector<stored_batch> stored_batches(const partition_log& log) {
    auto bytes = testing::read_all(log, log.log_start_offset());
    std::vector<stored_batch> out;
    protocol::record_batch_sequence batches(bytes);
    for (;;) {
        auto b = batches.next();
        if (!b || !b.value()) break;
        const auto& batch = *b.value();
        stored_batch s{batch.base_offset(), batch.is_control(), batch.producer_id(), batch.has_delete_horizon(), {}};
        if (!batch.is_control()) {
            auto decoded = protocol::decode_records(batch, 1 << 20);
            for (const auto& r : decoded.value().records) s.values.emplace_back(r.value->begin(), r.value->end());
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<std::string> data_values(const partition_log& log) {
    std::vector<std::string> out;
    for (const auto& b : stored_batches(log)) out.insert(out.end(), b.values.begin(), b.values.end());
    return out;
}

size_t markers_of(const partition_log& log, int64_t producer_id) {
    size_t n = 0;
    for (const auto& b : stored_batches(log)) n += b.control && b.producer_id == producer_id;
    return n;
}

// Pads the log past a segment roll with keys no test reads, so that what
// came before is cleanable (never the active segment).
void roll_past(partition_log& log) {
    std::vector<testing::record_spec> other;
    for (int i = 0; i < 20; ++i) other.push_back({"pad" + std::to_string(i), std::string(60, 'p')});
    ASSERT_TRUE(log.append(make_batch(other), leader_epoch(0)));
    ASSERT_TRUE(log.roll());
}

TEST(cleaner_transactions, aborted_data_goes_and_supersedes_nothing) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(make_batch({{"k", "committed-1"}}), leader_epoch(0)));
    // Producer 7's aborted transaction writes a later value of k: it must not hide committed-1.
    ASSERT_TRUE(log->append(txn_batch(7, {{"k", "aborted"}, {"j", "aborted-j"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(marker(7, false), leader_epoch(0), append_origin::internal));
    // Producer 8's committed transaction: its value of j stays, and its marker with it.
    ASSERT_TRUE(log->append(txn_batch(8, {{"j", "committed-j"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(marker(8, true), leader_epoch(0), append_origin::internal));
    roll_past(*log);

    auto stats = clean_log(*log, options()).value();
    EXPECT_GE(stats.records_removed, 2);
    auto values = data_values(*log);
    EXPECT_EQ(std::count(values.begin(), values.end(), "committed-1"), 1);
    EXPECT_EQ(std::count(values.begin(), values.end(), "committed-j"), 1);
    EXPECT_EQ(std::count(values.begin(), values.end(), "aborted"), 0);
    EXPECT_EQ(std::count(values.begin(), values.end(), "aborted-j"), 0);
    // Both markers are still there: the ABORT one until its horizon, the COMMIT one while its data is.
    EXPECT_EQ(markers_of(*log, 7), 1u);
    EXPECT_EQ(markers_of(*log, 8), 1u);

    // After delete.retention.ms the ABORT marker (nothing left of its transaction) goes; COMMIT stays.
    f.time.advance(60'001);
    log->set_cleaner_checkpoint(offset(0));
    ASSERT_TRUE(clean_log(*log, options()));
    EXPECT_EQ(markers_of(*log, 7), 0u);
    EXPECT_EQ(markers_of(*log, 8), 1u);
    values = data_values(*log);
    EXPECT_EQ(std::count(values.begin(), values.end(), "committed-j"), 1);
}

TEST(cleaner_transactions, a_commit_marker_goes_once_its_data_is_superseded_and_the_horizon_passed) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(txn_batch(9, {{"k", "in-txn"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(marker(9, true), leader_epoch(0), append_origin::internal));
    ASSERT_TRUE(log->append(make_batch({{"k", "later"}}), leader_epoch(0)));
    roll_past(*log);

    ASSERT_TRUE(clean_log(*log, options()));
    auto batches = stored_batches(*log);
    auto m = std::find_if(batches.begin(), batches.end(), [](const auto& b) { return b.control; });
    ASSERT_NE(m, batches.end()) << "the marker stays until its horizon";
    EXPECT_TRUE(m->horizon) << "and has one once its transaction is empty";
    EXPECT_EQ(data_values(*log)[0], "later");

    f.time.advance(59'000);
    log->set_cleaner_checkpoint(offset(0));
    ASSERT_TRUE(clean_log(*log, options()));
    EXPECT_EQ(markers_of(*log, 9), 1u) << "before the horizon";
    f.time.advance(2'000);
    log->set_cleaner_checkpoint(offset(0));
    ASSERT_TRUE(clean_log(*log, options()));
    EXPECT_EQ(markers_of(*log, 9), 0u);
    EXPECT_EQ(data_values(*log)[0], "later");
}

TEST(cleaner_transactions, an_open_transaction_is_kept_whole_and_maps_no_key) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(make_batch({{"k", "committed"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(txn_batch(11, {{"k", "open"}}), leader_epoch(0)));
    roll_past(*log);

    ASSERT_TRUE(clean_log(*log, options()));
    auto values = data_values(*log);
    EXPECT_EQ(std::count(values.begin(), values.end(), "committed"), 1) << "an open value may yet abort";
    EXPECT_EQ(std::count(values.begin(), values.end(), "open"), 1);
    EXPECT_LE(log->cleaner_checkpoint(), offset(1)) << "the next cleaning maps from the open transaction";

    // The transaction aborts: the next cleaning drops it and committed stays.
    ASSERT_TRUE(log->append(marker(11, false), leader_epoch(0), append_origin::internal));
    roll_past(*log);
    ASSERT_TRUE(clean_log(*log, options()));
    values = data_values(*log);
    EXPECT_EQ(std::count(values.begin(), values.end(), "committed"), 1);
    EXPECT_EQ(std::count(values.begin(), values.end(), "open"), 0);
}

TEST(cleaner_transactions, a_committed_transaction_supersedes_like_any_record) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(make_batch({{"k", "old"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(txn_batch(12, {{"k", "new"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(marker(12, true), leader_epoch(0), append_origin::internal));
    roll_past(*log);
    ASSERT_TRUE(clean_log(*log, options()));
    auto values = data_values(*log);
    EXPECT_EQ(std::count(values.begin(), values.end(), "old"), 0);
    EXPECT_EQ(std::count(values.begin(), values.end(), "new"), 1);
    EXPECT_EQ(markers_of(*log, 12), 1u) << "its data is still there";
}

}  // namespace
}  // namespace strata::storage
