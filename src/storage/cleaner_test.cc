#include "cleaner.h"

#include <algorithm>
#include <map>
#include <set>

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

// What the partition (the log's owner) publishes for the cleaner: everything
// replicated (HW at the end), the first unstable offset, and its producers'
// last batches as of the log end.
void publish(partition_log& log, int64_t first_unstable = INT64_MAX, std::vector<producer_last_batch> last = {}) {
    log.set_high_watermark(log.end_offset());
    log.set_first_unstable_offset(offset(first_unstable));
    log.set_active_producers(log.end_offset(), std::move(last));
}

// A cleaning as the log manager runs it on a log whose owner has nothing open.
result<cleaner_stats> clean(disk_log& log, const cleaner_options& o = options()) {
    publish(log);
    return clean_log(log, o);
}

// A cleaning of the whole log again (the manager cleans a log again once new
// dirty data is past its dirty ratio; these tests add none).
result<cleaner_stats> clean_again(disk_log& log) {
    log.set_cleaner_checkpoint(offset(0));
    return clean(log);
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
    auto stats = clean(*log).value();
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

    ASSERT_TRUE(clean(*log));
    auto after_first = latest_by_key(*log);
    ASSERT_TRUE(after_first.count("key2"));
    EXPECT_FALSE(after_first["key2"]) << "tombstone kept until its horizon";

    f.time.advance(60'001);
    log->set_cleaner_checkpoint(offset(0));
    ASSERT_TRUE(clean(*log));
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
    auto stats = clean(*log).value();
    EXPECT_EQ(stats.segments_rewritten, 0u);
    EXPECT_EQ(read_records(*log, offset(0)).size(), 50u);

    testing::log_fixture g;
    auto ratio_log = g.open(compacted());
    fill(*ratio_log, 30, protocol::compression_codec::none);
    ASSERT_TRUE(clean(*ratio_log));
    EXPECT_EQ(dirty_ratio(*ratio_log), 0.0);
    cleaner_options by_ratio = options();
    by_ratio.ignore_dirty_ratio = false;
    EXPECT_EQ(clean(*ratio_log, by_ratio).value().bytes_read, 0u);
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
    auto stats = clean(*log, o).value();
    uint64_t io = stats.bytes_read + stats.bytes_written;
    EXPECT_GT(slept, 0);
    EXPECT_GE(double(slept) + 50, double(io) * 1000.0 / 10'000 * 0.5);
}

// ---- transactions (KIP-98: Kafka's LogCleaner with aborted transactions) ----------

protocol::bytes_view view_of(const std::string& text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A transactional (or, with transactional = false, idempotent) batch of
// `producer_id`; values nullopt are tombstones.
std::vector<uint8_t> txn_batch(int64_t producer_id,
                               const std::vector<std::pair<std::string, std::optional<std::string>>>& records,
                               int32_t sequence = 0, bool transactional = true) {
    protocol::record_batch_options o;
    o.producer_id = producer_id;
    o.producer_epoch = 0;
    o.base_sequence = sequence;
    o.is_transactional = transactional;
    protocol::record_batch_builder builder(o);
    for (const auto& [key, value] : records)
        builder.append(1'700'000'000'000, view_of(key), value ? std::optional(view_of(*value)) : std::nullopt);
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

// Writes the marker as the partition does: COMMIT, or ABORT with its
// .txnindex entry (the transaction from `first`; `lso` after it).
int64_t end_txn(partition_log& log, int64_t producer_id, bool commit, int64_t first = -1, int64_t lso = -1) {
    auto m = log.append(marker(producer_id, commit), leader_epoch(0), append_origin::internal).value();
    const int64_t at = m.base_offset.value();
    if (!commit) {
        EXPECT_TRUE(log.append_aborted_txn({producer_id, first, at, lso < 0 ? at + 1 : lso}));
    }
    return at;
}

int64_t append_at(partition_log& log, const std::vector<uint8_t>& batch) {
    return log.append(batch, leader_epoch(0)).value().base_offset.value();
}

struct stored_batch {
    int64_t base;
    int64_t last;
    bool control;
    int64_t producer_id;
    int32_t base_sequence;
    int32_t records;
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
        stored_batch s{batch.base_offset(),   batch.last_offset(),  batch.is_control(),        batch.producer_id(),
                       batch.base_sequence(), batch.record_count(), batch.has_delete_horizon(), {}};
        if (!batch.is_control()) {
            auto decoded = protocol::decode_records(batch, 1 << 20);
            for (const auto& r : decoded.value().records)
                s.values.emplace_back(r.value ? std::string(r.value->begin(), r.value->end()) : "<tombstone>");
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

size_t count_of(const std::vector<std::string>& values, const std::string& v) {
    return size_t(std::count(values.begin(), values.end(), v));
}

size_t markers_of(const partition_log& log, int64_t producer_id) {
    size_t n = 0;
    for (const auto& b : stored_batches(log)) n += b.control && b.producer_id == producer_id && b.records > 0;
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

// What a read_committed consumer ends up with, key by key (Kafka's consumer:
// the fetch's aborted transactions, from the .txnindex, drop a producer's
// batches from an entry's first offset to its ABORT marker; tombstones delete).
std::map<std::string, std::string> read_committed_view(const partition_log& log) {
    auto aborted = log.collect_aborted_txns(log.log_start_offset(), log.end_offset()).value();
    std::sort(aborted.begin(), aborted.end(), [](const auto& a, const auto& b) { return a.first_offset < b.first_offset; });
    size_t next = 0;
    std::set<int64_t> skipping;
    std::map<std::string, std::string> view;
    auto bytes = testing::read_all(log, log.log_start_offset());
    protocol::record_batch_sequence batches(bytes);
    for (;;) {
        auto b = batches.next();
        if (!b || !b.value()) break;
        const auto& batch = *b.value();
        while (next < aborted.size() && aborted[next].first_offset <= batch.last_offset())
            skipping.insert(aborted[next++].producer_id);
        if (batch.is_control()) {
            auto decoded = protocol::decode_records(batch, 1 << 20);
            if (!decoded.value().records.empty() && (*decoded.value().records[0].key)[3] == 0) skipping.erase(batch.producer_id());
            continue;
        }
        if (batch.is_transactional() && skipping.contains(batch.producer_id())) continue;
        auto decoded = protocol::decode_records(batch, 1 << 20);
        for (const auto& r : decoded.value().records) {
            std::string key(r.key->begin(), r.key->end());
            if (r.value) view[key] = std::string(r.value->begin(), r.value->end());
            else view.erase(key);
        }
    }
    return view;
}

TEST(cleaner_transactions, aborted_data_goes_and_its_marker_after_delete_retention) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(make_batch({{"k", "committed-1"}}), leader_epoch(0)));
    // Producer 7's aborted transaction writes a later value of k: it must not hide committed-1.
    const int64_t first7 = append_at(*log, txn_batch(7, {{"k", "aborted"}, {"j", "aborted-j"}}));
    end_txn(*log, 7, false, first7);
    // Producer 8's committed transaction: its value of j stays, and its marker with it.
    ASSERT_TRUE(log->append(txn_batch(8, {{"j", "committed-j"}}), leader_epoch(0)));
    end_txn(*log, 8, true);
    roll_past(*log);
    auto view = read_committed_view(*log);

    auto stats = clean(*log).value();
    EXPECT_GE(stats.records_removed, 2);
    auto values = data_values(*log);
    EXPECT_EQ(count_of(values, "committed-1"), 1u);
    EXPECT_EQ(count_of(values, "committed-j"), 1u);
    EXPECT_EQ(count_of(values, "aborted"), 0u);
    EXPECT_EQ(count_of(values, "aborted-j"), 0u);
    EXPECT_EQ(read_committed_view(*log), view);
    // Both markers stay: the ABORT one (and its .txnindex entry) for the
    // cleaning that removed its data, the COMMIT one while its data is there.
    EXPECT_EQ(markers_of(*log, 7), 1u);
    EXPECT_EQ(markers_of(*log, 8), 1u);
    EXPECT_EQ(log->collect_aborted_txns(offset(0), log->end_offset()).value().size(), 1u);

    // The next cleaning finds no data of 7's transaction: its marker gets a
    // horizon, and the .txnindex entry goes (nothing left to filter).
    ASSERT_TRUE(clean_again(*log));
    auto batches = stored_batches(*log);
    auto m7 = std::find_if(batches.begin(), batches.end(), [](const auto& b) { return b.control && b.producer_id == 7; });
    ASSERT_NE(m7, batches.end());
    EXPECT_TRUE(m7->horizon);
    EXPECT_TRUE(log->collect_aborted_txns(offset(0), log->end_offset()).value().empty());

    // After delete.retention.ms the ABORT marker goes; COMMIT stays with its data.
    f.time.advance(60'001);
    ASSERT_TRUE(clean_again(*log));
    EXPECT_EQ(markers_of(*log, 7), 0u);
    EXPECT_EQ(markers_of(*log, 8), 1u);
    EXPECT_EQ(count_of(data_values(*log), "committed-j"), 1u);
    EXPECT_EQ(read_committed_view(*log), view);
}

TEST(cleaner_transactions, a_commit_marker_goes_once_its_data_is_gone_and_the_horizon_passed) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(txn_batch(9, {{"k", "in-txn"}}), leader_epoch(0)));
    end_txn(*log, 9, true);
    ASSERT_TRUE(log->append(make_batch({{"k", "later"}}), leader_epoch(0)));
    roll_past(*log);

    // The cleaning that removes the transaction's data keeps its marker as it is.
    ASSERT_TRUE(clean(*log));
    EXPECT_EQ(data_values(*log)[0], "later");
    auto batches = stored_batches(*log);
    auto m = std::find_if(batches.begin(), batches.end(), [](const auto& b) { return b.control; });
    ASSERT_NE(m, batches.end());
    EXPECT_FALSE(m->horizon);
    // The next one finds the transaction empty: the horizon is set.
    ASSERT_TRUE(clean_again(*log));
    batches = stored_batches(*log);
    m = std::find_if(batches.begin(), batches.end(), [](const auto& b) { return b.control; });
    ASSERT_NE(m, batches.end());
    EXPECT_TRUE(m->horizon);

    f.time.advance(59'000);
    ASSERT_TRUE(clean_again(*log));
    EXPECT_EQ(markers_of(*log, 9), 1u) << "before the horizon";
    f.time.advance(2'000);
    ASSERT_TRUE(clean_again(*log));
    EXPECT_EQ(markers_of(*log, 9), 0u);
    EXPECT_EQ(data_values(*log)[0], "later");
}

TEST(cleaner_transactions, nothing_at_or_past_the_last_stable_offset_is_cleaned) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(make_batch({{"k", "old"}}), leader_epoch(0)));
    const int64_t first5 = append_at(*log, txn_batch(5, {{"a", "aborted"}}));
    end_txn(*log, 5, false, first5);
    ASSERT_TRUE(log->append(make_batch({{"k", "new"}}), leader_epoch(0)));
    roll_past(*log);
    // Producer 11's transaction is open: the LSO is its first offset.
    const int64_t open = append_at(*log, txn_batch(11, {{"k", "open"}, {"b", "open-b"}}));
    ASSERT_TRUE(log->append(make_batch({{"k", "after-open"}}), leader_epoch(0)));
    roll_past(*log);
    ASSERT_TRUE(log->append(make_batch({{"k", "newest"}, {"b", "b-newest"}}), leader_epoch(0)));
    roll_past(*log);
    const auto tail_before = testing::read_all(*log, offset(open));

    publish(*log, open);
    ASSERT_TRUE(clean_log(*log, options()));
    auto values = data_values(*log);
    EXPECT_EQ(count_of(values, "old"), 0u) << "superseded below the LSO";
    EXPECT_EQ(count_of(values, "aborted"), 0u);
    EXPECT_EQ(count_of(values, "new"), 1u) << "its later values are past the LSO: not mapped";
    EXPECT_EQ(testing::read_all(*log, offset(open)), tail_before) << "the segment holding the LSO and after: untouched";
    EXPECT_LE(log->cleaner_checkpoint(), offset(open));

    // The HW bounds it too: with the transaction committed but the marker
    // not replicated, the owner's LSO is still `open`.
    end_txn(*log, 11, true);
    roll_past(*log);
    publish(*log, open);
    ASSERT_TRUE(clean_log(*log, options()));
    EXPECT_EQ(count_of(data_values(*log), "open"), 1u);

    // Complete: the next cleaning maps through it.
    ASSERT_TRUE(clean(*log));
    values = data_values(*log);
    EXPECT_EQ(count_of(values, "new"), 0u);
    EXPECT_EQ(count_of(values, "open"), 0u);
    EXPECT_EQ(count_of(values, "after-open"), 0u);
    EXPECT_EQ(count_of(values, "newest"), 1u);
    EXPECT_EQ(count_of(values, "b-newest"), 1u);
}

TEST(cleaner_transactions, nothing_is_cleaned_before_the_owner_publishes) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    fill(*log, 30, protocol::compression_codec::none);
    log->set_high_watermark(log->end_offset());
    EXPECT_EQ(clean_log(*log, options()).value().bytes_read, 0u);
    log->set_first_unstable_offset(offset(INT64_MAX));
    EXPECT_EQ(clean_log(*log, options()).value().bytes_read, 0u) << "no producer view yet";
    log->set_active_producers(log->end_offset(), {});
    EXPECT_GT(clean_log(*log, options()).value().records_removed, 0);
}

TEST(cleaner_transactions, a_committed_transaction_supersedes_like_any_record) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    ASSERT_TRUE(log->append(make_batch({{"k", "old"}}), leader_epoch(0)));
    ASSERT_TRUE(log->append(txn_batch(12, {{"k", "new"}}), leader_epoch(0)));
    end_txn(*log, 12, true);
    roll_past(*log);
    ASSERT_TRUE(clean(*log));
    auto values = data_values(*log);
    EXPECT_EQ(count_of(values, "old"), 0u);
    EXPECT_EQ(count_of(values, "new"), 1u);
    EXPECT_EQ(markers_of(*log, 12), 1u) << "its data is still there";
}

TEST(cleaner_transactions, the_last_batch_of_each_active_producer_stays_empty) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    // Idempotent producer 21: its last batch (sequence 5) is superseded.
    ASSERT_TRUE(log->append(txn_batch(21, {{"k", "p21"}}, 5, false), leader_epoch(0)));
    const int64_t last21 = log->end_offset().value() - 1;
    // Transactional producer 22: its last data batch is aborted.
    const int64_t first22 = append_at(*log, txn_batch(22, {{"j", "p22"}, {"j2", "p22"}}, 40));
    const int64_t last22 = first22 + 1;
    end_txn(*log, 22, false, first22);
    // Producer 23, expired from the producer state: nothing of it is kept.
    ASSERT_TRUE(log->append(txn_batch(23, {{"k", "p23"}}, 9, false), leader_epoch(0)));
    ASSERT_TRUE(log->append(make_batch({{"k", "later"}}), leader_epoch(0)));
    roll_past(*log);

    publish(*log, INT64_MAX, {{21, 0, last21}, {22, 0, last22}});
    ASSERT_TRUE(clean_log(*log, options()));
    auto batches = stored_batches(*log);
    auto find = [&](int64_t producer) {
        return std::find_if(batches.begin(), batches.end(),
                            [&](const auto& b) { return b.producer_id == producer && !b.control; });
    };
    auto b21 = find(21);
    ASSERT_NE(b21, batches.end());
    EXPECT_EQ(b21->records, 0);
    EXPECT_EQ(b21->last, last21);
    EXPECT_EQ(b21->base_sequence, 5);
    auto b22 = find(22);
    ASSERT_NE(b22, batches.end());
    EXPECT_EQ(b22->records, 0);
    EXPECT_EQ(b22->base, first22);
    EXPECT_EQ(b22->last, last22) << "the last offset, so the last sequence, is kept";
    EXPECT_EQ(find(23), batches.end());
    EXPECT_EQ(count_of(data_values(*log), "later"), 1u);

    // Empty batches survive recovery and another cleaning.
    ASSERT_TRUE(log->close());
    log = f.open(compacted(), true);
    publish(*log, INT64_MAX, {{21, 0, last21}, {22, 0, last22}});
    ASSERT_TRUE(clean_log(*log, options()));
    batches = stored_batches(*log);
    EXPECT_NE(find(21), batches.end());
    EXPECT_NE(find(22), batches.end());
}

// Interleaved transactions of three producers (committed and aborted, over
// segment rolls, with tombstones) and plain writes: a read_committed reader
// sees the same keys and values before and after each of several cleanings
// (the markers going after delete.retention.ms between them), and the values
// it sees are the model's.
TEST(cleaner_transactions, read_committed_sees_the_same_before_and_after_cleaning) {
    testing::log_fixture f;
    auto log = f.open(compacted());
    // Every write that a reader must see, by offset: plain ones, and a
    // transaction's once it commits (a reader applies them in log order).
    std::map<int64_t, std::pair<std::string, std::optional<std::string>>> visible;
    using txn_writes = std::vector<std::pair<int64_t, std::pair<std::string, std::optional<std::string>>>>;
    std::map<int64_t, std::pair<int64_t, txn_writes>> open;
    uint32_t seed = 12345;
    auto next = [&] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
    for (int step = 0; step < 400; ++step) {
        const int64_t producer = 30 + next() % 3;
        const std::string key = "key" + std::to_string(next() % 12);
        const int action = next() % 10;
        if (action < 2) {
            std::string value = "plain-" + std::to_string(step);
            visible[append_at(*log, make_batch({{key, value}}))] = {key, value};
        } else if (action < 7) {
            std::optional<std::string> value;
            if (next() % 5) value = "txn-" + std::to_string(step);
            const int64_t at = append_at(*log, txn_batch(producer, {{key, value}}));
            open.try_emplace(producer, at, txn_writes{}).first->second.second.push_back({at, {key, value}});
        } else if (auto it = open.find(producer); it != open.end()) {
            const bool commit = action < 9;
            int64_t lso = INT64_MAX;
            for (const auto& [p, o] : open)
                if (p != producer) lso = std::min(lso, o.first);
            // The entry's LSO as the partition computes it: the earliest other open transaction.
            end_txn(*log, producer, commit, it->second.first, lso == INT64_MAX ? -1 : lso);
            if (commit)
                for (const auto& [at, write] : it->second.second) visible[at] = write;
            open.erase(it);
        }
    }
    // Ends every open transaction (aborted), then rolls so all is cleanable.
    for (const auto& [producer, o] : open) end_txn(*log, producer, false, o.first);
    roll_past(*log);
    ASSERT_GT(log->segment_count(), 5u);

    std::map<std::string, std::string> model;
    for (const auto& [at, write] : visible) {
        if (write.second) model[write.first] = *write.second;
        else model.erase(write.first);
    }
    auto before = read_committed_view(*log);
    for (auto it = before.begin(); it != before.end();)
        it = it->first.rfind("pad", 0) == 0 ? before.erase(it) : std::next(it);
    EXPECT_EQ(before, model);
    before = read_committed_view(*log);
    for (int round = 0; round < 4; ++round) {
        auto stats = clean_again(*log).value();
        if (round == 0) {
            EXPECT_GT(stats.records_removed, 0);
        }
        EXPECT_EQ(read_committed_view(*log), before) << "cleaning " << round;
        f.time.advance(60'001);
    }
    // After the horizons: no marker is left whose transaction is empty, and no aborted data.
    std::set<int64_t> with_data;
    for (const auto& b : stored_batches(*log))
        if (!b.control && b.producer_id >= 30) with_data.insert(b.producer_id);
    for (const auto& b : stored_batches(*log))
        if (b.control) {
            EXPECT_TRUE(with_data.contains(b.producer_id)) << "marker at " << b.base;
        }
}

}  // namespace
}  // namespace strata::storage
