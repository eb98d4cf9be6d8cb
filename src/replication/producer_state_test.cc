#include "strata/replication/producer_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "strata/protocol/record_batch.h"
#include "strata/storage/log_manager.h"

namespace strata::replication {
namespace {

TEST(producer_state, retries_are_duplicates_and_gaps_are_refused) {
    producer_state s;
    EXPECT_EQ(s.check(7, 0, 0, 9).error, kafka_error::none);  // a new producer
    s.record(7, 0, {0, 9, 100, 109}, 1000);
    // The same range again is a retry: answered with its offsets.
    auto retry = s.check(7, 0, 0, 9);
    ASSERT_TRUE(retry.duplicate_of);
    EXPECT_EQ(retry.duplicate_of->first_offset, 100);
    EXPECT_EQ(s.check(7, 0, 10, 19).error, kafka_error::none);
    EXPECT_EQ(s.check(7, 0, 11, 19).error, kafka_error::out_of_order_sequence_number);
    EXPECT_EQ(s.check(7, 0, 5, 9).error, kafka_error::out_of_order_sequence_number);
}

TEST(producer_state, keeps_five_batches_and_checks_epochs) {
    producer_state s;
    for (int i = 0; i < 7; ++i) s.record(1, 3, {i * 10, i * 10 + 9, i * 100, i * 100 + 9}, 1000 + i);
    EXPECT_FALSE(s.check(1, 3, 10, 19).duplicate_of);  // fell out of the window
    EXPECT_TRUE(s.check(1, 3, 20, 29).duplicate_of);
    EXPECT_EQ(s.check(1, 2, 70, 79).error, kafka_error::invalid_producer_epoch);
    EXPECT_EQ(s.check(1, 4, 0, 5).error, kafka_error::none);  // a new epoch starts over
    EXPECT_EQ(s.check(1, 4, 3, 5).error, kafka_error::out_of_order_sequence_number);
    EXPECT_EQ(s.check(2, 0, 42, 50).error, kafka_error::none);  // unknown producer: any sequence
}

TEST(producer_state, sequence_wraps_after_int_max) {
    producer_state s;
    s.record(1, 0, {INT32_MAX - 1, INT32_MAX, 0, 1}, 1000);
    EXPECT_EQ(s.check(1, 0, 0, 4).error, kafka_error::none);
}

TEST(producer_state, producers_silent_for_the_expiration_are_forgotten) {
    producer_state s;
    s.record(1, 0, {0, 9, 0, 9}, 1'000);
    s.record(2, 0, {0, 9, 10, 19}, 5'000);
    s.record(2, 0, {10, 19, 20, 29}, 3'000);  // an older timestamp does not move it back
    EXPECT_EQ(s.expire(10'999, 10'000), 0u);
    EXPECT_EQ(s.expire(11'000, 10'000), 1u);  // producer 1: exactly the expiration ago
    EXPECT_EQ(s.producers(), 1u);
    EXPECT_FALSE(s.check(1, 0, 10, 19).duplicate_of);
    EXPECT_EQ(s.check(1, 0, 50, 59).error, kafka_error::none);  // forgotten: any sequence, as new
    EXPECT_TRUE(s.check(2, 0, 10, 19).duplicate_of);
    EXPECT_EQ(s.expire(15'000, 10'000), 1u);
    EXPECT_EQ(s.producers(), 0u);
}

TEST(producer_state, snapshot_bytes_round_trip_and_malformed_ones_are_refused) {
    producer_state s;
    for (int i = 0; i < 7; ++i) s.record(1, 3, {i * 10, i * 10 + 9, i * 100, i * 100 + 9}, 1000 + i);
    s.record(-5, 0, {0, 0, 900, 900}, -1);
    s.record(INT64_MAX, INT16_MAX, {INT32_MAX - 1, INT32_MAX, INT64_MAX - 1, INT64_MAX}, INT64_MAX);
    const std::string bytes = s.encode();
    producer_state copy;
    ASSERT_TRUE(copy.decode(bytes));
    EXPECT_EQ(copy.encode(), bytes);
    EXPECT_TRUE(copy.check(1, 3, 60, 69).duplicate_of);
    EXPECT_FALSE(copy.check(1, 3, 10, 19).duplicate_of);
    EXPECT_EQ(copy.check(1, 2, 70, 79).error, kafka_error::invalid_producer_epoch);
    EXPECT_TRUE(copy.check(INT64_MAX, INT16_MAX, INT32_MAX - 1, INT32_MAX).duplicate_of);
    // Every strict prefix, a longer input, another version and an absurd
    // producer count are refused, and leave the state as it was.
    for (size_t n = 0; n < bytes.size(); ++n) EXPECT_FALSE(copy.decode(bytes.substr(0, n))) << n;
    EXPECT_FALSE(copy.decode(bytes + "x"));
    std::string other_version = bytes;
    other_version[0] = 9;
    EXPECT_FALSE(copy.decode(other_version));
    EXPECT_FALSE(copy.decode(std::string("\x01\x7f\xff\xff\xff", 5)));
    std::string too_many_batches = bytes;
    too_many_batches[5 + 30] = 6;  // the first producer's batch count, past five
    EXPECT_FALSE(copy.decode(too_many_batches));
    EXPECT_EQ(copy.encode(), bytes);
}

// A real log in a temporary directory (RocksDB state store included).
struct log_fixture {
    log_fixture() {
        std::string pattern = (std::filesystem::temp_directory_path() / "strata-producers-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        dir = pattern;
        open();
    }
    ~log_fixture() {
        log.reset();
        if (logs) (void)logs->shutdown();
        // Closes the state store first: RocksDB may still be deleting
        // obsolete files in the background, which remove_all would race.
        logs.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
    void open() {
        storage::log_manager_config config;
        config.data_dir = dir;
        config.start_threads = false;
        logs = storage::log_manager::open(config).value();
        log = logs->get_or_create(tp, storage::log_config{}).value();
    }
    void reopen() {
        log.reset();
        (void)logs->shutdown();
        logs.reset();
        open();
    }
    // Appends an idempotent batch of `count` records for producer `id`.
    storage::append_result append(int64_t id, int32_t first_sequence, int count) {
        protocol::record_batch_options options;
        options.producer_id = id;
        options.producer_epoch = 0;
        options.base_sequence = first_sequence;
        protocol::record_batch_builder builder(options);
        std::string value = "v";
        for (int i = 0; i < count; ++i)
            builder.append(now_ms, std::nullopt,
                           protocol::bytes_view(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
        auto batch = builder.build().value();
        return log->append(batch, storage::leader_epoch(0)).value();
    }

    // Current timestamps: old ones would make segment.ms roll at every append.
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    std::string dir;
    storage::topic_partition tp{"idempotent", storage::partition_id(0)};
    std::unique_ptr<storage::log_manager> logs;
    std::shared_ptr<storage::partition_log> log;
};

TEST(producer_state, rebuild_replays_only_the_batches_after_the_snapshot) {
    log_fixture f;
    for (int i = 0; i < 3; ++i) f.append(7, i * 10, 10);
    producer_state before;
    ASSERT_TRUE(before.rebuild(*f.log));
    EXPECT_EQ(before.replayed_batches(), 3u);
    ASSERT_TRUE(f.log->save_producer_snapshot(f.log->end_offset(), before.encode()));
    f.append(7, 30, 10);
    f.append(8, 0, 5);
    f.reopen();

    producer_state after;
    ASSERT_TRUE(after.rebuild(*f.log));
    EXPECT_EQ(after.replayed_batches(), 2u);  // the two batches after the snapshot
    auto first = after.check(7, 0, 0, 9);      // from the snapshot
    ASSERT_TRUE(first.duplicate_of);
    EXPECT_EQ(first.duplicate_of->first_offset, 0);
    auto fourth = after.check(7, 0, 30, 39);  // replayed
    ASSERT_TRUE(fourth.duplicate_of);
    EXPECT_EQ(fourth.duplicate_of->first_offset, 30);
    EXPECT_TRUE(after.check(8, 0, 0, 4).duplicate_of);
    EXPECT_EQ(after.check(7, 0, 50, 59).error, kafka_error::out_of_order_sequence_number);
}

TEST(producer_state, truncation_below_the_snapshot_drops_it) {
    log_fixture f;
    for (int i = 0; i < 4; ++i) f.append(7, i * 10, 10);
    producer_state s;
    ASSERT_TRUE(s.rebuild(*f.log));
    ASSERT_TRUE(f.log->save_producer_snapshot(f.log->end_offset(), s.encode()));
    ASSERT_TRUE(f.log->load_producer_snapshot());
    // A follower truncating to offset 20 loses the third and fourth batches:
    // the snapshot (which has them) must not be used again.
    ASSERT_TRUE(f.log->truncate_to(storage::offset(20)));
    EXPECT_FALSE(f.log->load_producer_snapshot());
    producer_state rebuilt;
    ASSERT_TRUE(rebuilt.rebuild(*f.log));
    EXPECT_EQ(rebuilt.replayed_batches(), 2u);
    EXPECT_FALSE(rebuilt.check(7, 0, 20, 29).duplicate_of);
    EXPECT_EQ(rebuilt.check(7, 0, 20, 29).error, kafka_error::none);
    // Appends past the old snapshot offset do not bring it back.
    f.append(7, 20, 30);
    EXPECT_FALSE(f.log->load_producer_snapshot());
}

TEST(producer_state, a_snapshot_past_what_recovery_kept_is_dropped) {
    log_fixture f;
    for (int i = 0; i < 4; ++i) f.append(7, i * 10, 10);
    producer_state s;
    ASSERT_TRUE(s.rebuild(*f.log));
    ASSERT_TRUE(f.log->save_producer_snapshot(f.log->end_offset(), s.encode()));
    const auto size = f.log->size_bytes();
    f.log.reset();
    ASSERT_TRUE(f.logs->shutdown());
    f.logs.reset();
    // An unclean stop that lost the log's tail: no marker, a shorter file.
    std::filesystem::remove(f.dir + "/.strata_clean_shutdown");
    const auto segment = f.dir + "/idempotent-0/00000000000000000000.log";
    ASSERT_EQ(::truncate(segment.c_str(), off_t(size - 10)), 0);
    f.open();
    EXPECT_EQ(f.log->end_offset(), storage::offset(30));
    EXPECT_FALSE(f.log->load_producer_snapshot());
    f.append(7, 30, 20);  // the log grows past the old snapshot offset again
    producer_state rebuilt;
    ASSERT_TRUE(rebuilt.rebuild(*f.log));
    EXPECT_EQ(rebuilt.replayed_batches(), 4u);
    EXPECT_EQ(rebuilt.check(7, 0, 30, 49).duplicate_of->first_offset, 30);
}


// ---- transactions -------------------------------------------------------------------

// What the log's cleaner keeps of each producer (Kafka's
// lastRecordsOfActiveProducers): its last data batch in its epoch, or, after
// a marker of a new epoch, none (the marker then holds the epoch).
TEST(producer_state, last_batches_for_the_cleaner) {
    producer_state s;
    s.record(1, 0, {0, 4, 10, 14}, 1000, true);
    s.record(1, 0, {5, 9, 16, 20}, 1000, true);
    s.record(3, 2, {0, 0, 21, 21}, 1000, false);
    s.end_transaction(1, 1, txn_marker{true, 5}, 22, 1000);
    auto last = s.last_batches();
    std::sort(last.begin(), last.end(), [](const auto& a, const auto& b) { return a.producer_id < b.producer_id; });
    ASSERT_EQ(last.size(), 2u);
    EXPECT_EQ(last[0], (storage::producer_last_batch{1, 1, -1}));
    EXPECT_EQ(last[1], (storage::producer_last_batch{3, 2, 21}));
}

TEST(producer_state, transactions_open_close_and_abort) {
    producer_state s;
    s.record(1, 0, {0, 4, 10, 14}, 1000, true);
    s.record(2, 0, {0, 0, 15, 15}, 1000, true);
    s.record(1, 0, {5, 9, 16, 20}, 1000, true);  // same transaction: the first offset stays
    s.record(3, 0, {0, 0, 21, 21}, 1000, false);  // idempotent only
    EXPECT_TRUE(s.in_transaction(1));
    EXPECT_FALSE(s.in_transaction(3));
    EXPECT_EQ(s.first_unstable_offset(), 10);
    EXPECT_EQ(s.check_marker(1, -1, 0), kafka_error::invalid_producer_epoch);
    s.end_transaction(1, 0, txn_marker{false, 5}, 22, 1000);
    EXPECT_EQ(s.first_unstable_offset(), 15);
    ASSERT_EQ(s.aborted().size(), 1u);
    // The LSO after the marker: producer 2's open transaction.
    EXPECT_EQ(s.aborted()[0], (aborted_txn{1, 10, 22, 15}));
    EXPECT_EQ(s.check_marker(1, 0, 4), kafka_error::transaction_coordinator_fenced);
    s.end_transaction(2, 0, txn_marker{true, 5}, 23, 1000);
    EXPECT_EQ(s.first_unstable_offset(), INT64_MAX);
    EXPECT_EQ(s.aborted().size(), 1u);  // commits are not listed
    // A marker of a bumped epoch (the coordinator fenced the producer):
    // the old epoch is refused from then on; the new one starts at 0.
    s.end_transaction(1, 1, txn_marker{false, 5}, 24, 1000);
    EXPECT_EQ(s.check(1, 0, 10, 10).error, kafka_error::invalid_producer_epoch);
    EXPECT_EQ(s.check(1, 1, 0, 0).error, kafka_error::none);
    // Expiry keeps producers with open transactions.
    s.record(4, 0, {0, 0, 30, 30}, 1000, true);
    s.expire(1'000'000, 1000);
    EXPECT_TRUE(s.in_transaction(4));
    EXPECT_EQ(s.take_aborted().size(), 1u);  // handed to the .txnindex once
    EXPECT_EQ(s.aborted().size(), 0u);
    s.end_transaction(4, 0, txn_marker{false, 5}, 31, 1000);
    EXPECT_EQ(s.aborted()[0], (aborted_txn{4, 30, 31, 32}));  // nothing else open: past the marker
}

TEST(producer_state, snapshot_keeps_open_transactions) {
    producer_state s;
    s.record(1, 0, {0, 4, 10, 14}, 1000, true);
    s.record(2, 0, {0, 0, 15, 15}, 1000, true);
    s.end_transaction(2, 0, txn_marker{false, 3}, 16, 1000);
    producer_state copy;
    ASSERT_TRUE(copy.decode(s.encode()));
    EXPECT_TRUE(copy.in_transaction(1));
    EXPECT_EQ(copy.first_unstable_offset(), 10);
    EXPECT_TRUE(copy.aborted().empty());  // aborted transactions live in the .txnindex
    EXPECT_EQ(copy.check_marker(2, 0, 2), kafka_error::transaction_coordinator_fenced);
    EXPECT_EQ(copy.encode(), s.encode());
}

namespace {

std::vector<uint8_t> txn_batch(int64_t id, int16_t epoch, int32_t sequence, int count, int64_t now) {
    protocol::record_batch_options options;
    options.producer_id = id;
    options.producer_epoch = epoch;
    options.base_sequence = sequence;
    options.is_transactional = true;
    protocol::record_batch_builder builder(options);
    const uint8_t v = 'v';
    for (int i = 0; i < count; ++i) builder.append(now, std::nullopt, protocol::bytes_view(&v, 1));
    return builder.build().value();
}

std::vector<uint8_t> marker_batch(int64_t id, int16_t epoch, bool commit, int32_t coordinator_epoch, int64_t now) {
    protocol::record_batch_options options;
    options.producer_id = id;
    options.producer_epoch = epoch;
    options.is_transactional = true;
    options.is_control = true;
    protocol::record_batch_builder builder(options);
    auto key = txn_marker_key(commit);
    auto value = txn_marker_value(coordinator_epoch);
    builder.append(now, protocol::bytes_view(key), protocol::bytes_view(value));
    return builder.build().value();
}

}  // namespace

TEST(producer_state, rebuild_finds_transactions_and_markers_in_the_log) {
    log_fixture f;
    auto append = [&](const std::vector<uint8_t>& batch, storage::append_origin origin) {
        return f.log->append(batch, storage::leader_epoch(0), origin).value();
    };
    append(txn_batch(1, 0, 0, 3, f.now_ms), storage::append_origin::client);             // 0-2
    append(txn_batch(2, 0, 0, 2, f.now_ms), storage::append_origin::client);             // 3-4
    append(marker_batch(1, 0, false, 7, f.now_ms), storage::append_origin::internal);    // 5: ABORT 1
    append(txn_batch(1, 1, 0, 1, f.now_ms), storage::append_origin::client);             // 6
    producer_state half;
    ASSERT_TRUE(half.rebuild(*f.log));
    ASSERT_TRUE(f.log->save_producer_snapshot(f.log->end_offset(), half.encode()));
    append(marker_batch(2, 0, true, 7, f.now_ms), storage::append_origin::internal);     // 7: COMMIT 2
    f.reopen();
    producer_state s;
    ASSERT_TRUE(s.rebuild(*f.log));
    EXPECT_EQ(s.replayed_batches(), 1u);  // the snapshot had the rest
    EXPECT_TRUE(s.aborted().empty());       // the abort at 5 is before it
    EXPECT_FALSE(s.in_transaction(2));
    EXPECT_TRUE(s.in_transaction(1));
    EXPECT_EQ(s.first_unstable_offset(), 6);
    EXPECT_EQ(s.check_marker(1, 1, 6), kafka_error::transaction_coordinator_fenced);
    // Without a snapshot: the same from the whole log.
    log_fixture g;
    for (const auto& [batch, internal] : std::vector<std::pair<std::vector<uint8_t>, bool>>{
             {txn_batch(1, 0, 0, 3, g.now_ms), false},
             {txn_batch(2, 0, 0, 2, g.now_ms), false},
             {marker_batch(1, 0, false, 7, g.now_ms), true},
             {txn_batch(1, 1, 0, 1, g.now_ms), false},
             {marker_batch(2, 0, true, 7, g.now_ms), true}})
        ASSERT_TRUE(g.log->append(batch, storage::leader_epoch(0),
                                  internal ? storage::append_origin::internal : storage::append_origin::client));
    producer_state full;
    ASSERT_TRUE(full.rebuild(*g.log));
    EXPECT_EQ(full.replayed_batches(), 5u);
    ASSERT_EQ(full.aborted().size(), 1u);
    EXPECT_EQ(full.aborted()[0], (aborted_txn{1, 0, 5, 3}));  // producer 2 still open at 3
    EXPECT_EQ(full.first_unstable_offset(), 6);
}

}  // namespace
}  // namespace strata::replication

namespace strata::replication {
namespace {

// The .txnindex (storage/txn_index.h) across rolls, reopen, a deleted and a
// corrupt file (rebuilt from the replay), and truncation; read_committed
// answers come from it alone.
TEST(producer_state, aborted_transactions_index_across_rolls_truncation_and_rebuild) {
    log_fixture f;
    // A fresh log opens through recovery (no clean-shutdown marker), which
    // marks its indexes stale; the partition's open rebuilds them (nothing).
    if (auto stale = f.log->aborted_txns_stale_from()) ASSERT_TRUE(f.log->rebuild_aborted_txns(*stale, {}));
    auto append = [&](const std::vector<uint8_t>& batch, bool internal) {
        return f.log->append(batch, storage::leader_epoch(0),
                             internal ? storage::append_origin::internal : storage::append_origin::client)
            .value();
    };
    append(txn_batch(1, 0, 0, 3, f.now_ms), false);          // 0-2: producer 1 opens
    ASSERT_TRUE(f.log->roll());
    append(txn_batch(2, 0, 0, 1, f.now_ms), false);          // 3: producer 2 opens
    append(marker_batch(1, 0, false, 1, f.now_ms), true);    // 4: ABORT 1 (LSO 3: 2 is open)
    ASSERT_TRUE(f.log->roll());
    append(marker_batch(2, 0, true, 1, f.now_ms), true);     // 5: COMMIT 2
    append(txn_batch(3, 0, 0, 1, f.now_ms), false);          // 6: producer 3 opens
    append(marker_batch(3, 0, false, 1, f.now_ms), true);    // 7: ABORT 3 (LSO 8)
    const aborted_txn first{1, 0, 4, 3}, second{3, 6, 7, 8};
    // What the partition does after each marker: the producer state hands
    // its aborts to the log.
    producer_state s;
    ASSERT_TRUE(s.rebuild(*f.log));
    for (const auto& t : s.take_aborted()) ASSERT_TRUE(f.log->append_aborted_txn(t));
    namespace fs = std::filesystem;
    const std::string dir = (fs::path(f.dir) / "idempotent-0").string();
    auto index_path = [&](int64_t base) {
        return dir + "/" + fmt::format("{:020}", base) + ".txnindex";
    };
    ASSERT_TRUE(fs::exists(index_path(0)));
    EXPECT_EQ(fs::file_size(index_path(0)), 0u);   // every segment has one
    EXPECT_EQ(fs::file_size(index_path(3)), 34u);  // the marker at 4 is here
    EXPECT_EQ(fs::file_size(index_path(5)), 34u);

    auto collect = [&](int64_t from, int64_t upper) {
        return f.log->collect_aborted_txns(storage::offset(from), storage::offset(upper)).value();
    };
    auto check_answers = [&] {
        EXPECT_EQ(collect(0, 8), (std::vector<aborted_txn>{first, second}));
        EXPECT_EQ(collect(5, 8), (std::vector<aborted_txn>{second}));  // marker 4 is before the fetch
        EXPECT_EQ(collect(0, 3), (std::vector<aborted_txn>{first}));   // 3 starts after the bound
        EXPECT_EQ(collect(3, 6), (std::vector<aborted_txn>{first}));
        EXPECT_EQ(collect(1, 2), (std::vector<aborted_txn>{first}));   // inside the transaction
        EXPECT_TRUE(collect(8, 9).empty());
    };
    check_answers();
    EXPECT_FALSE(f.log->aborted_txns_stale_from());

    f.reopen();
    EXPECT_FALSE(f.log->aborted_txns_stale_from());
    check_answers();

    // Deleted: noticed at open, rebuilt from the replay, even with a
    // producer snapshot past it (which would skip the abort at 4).
    {
        producer_state now;
        ASSERT_TRUE(now.rebuild(*f.log));
        ASSERT_TRUE(f.log->save_producer_snapshot(f.log->end_offset(), now.encode()));
    }
    fs::remove(index_path(3));
    f.reopen();
    ASSERT_EQ(f.log->aborted_txns_stale_from(), storage::offset(3));
    producer_state replay;
    ASSERT_TRUE(replay.rebuild(*f.log));
    ASSERT_TRUE(f.log->rebuild_aborted_txns(storage::offset(3), replay.take_aborted()));
    EXPECT_FALSE(f.log->aborted_txns_stale_from());
    EXPECT_EQ(fs::file_size(index_path(3)), 34u);
    check_answers();

    // Corrupt (a partial entry): the same.
    {
        std::FILE* out = std::fopen(index_path(5).c_str(), "wb");
        ASSERT_TRUE(out);
        std::fputs("garbage", out);
        std::fclose(out);
    }
    f.reopen();
    ASSERT_EQ(f.log->aborted_txns_stale_from(), storage::offset(5));
    producer_state again;
    ASSERT_TRUE(again.rebuild(*f.log));
    ASSERT_TRUE(f.log->rebuild_aborted_txns(storage::offset(5), again.take_aborted()));
    check_answers();

    // Truncation below the marker at 7 takes its entry.
    ASSERT_TRUE(f.log->truncate_to(storage::offset(7)));
    EXPECT_EQ(collect(0, 7), (std::vector<aborted_txn>{first}));
    EXPECT_EQ(fs::file_size(index_path(5)), 0u);
    f.reopen();
    EXPECT_FALSE(f.log->aborted_txns_stale_from());
    EXPECT_EQ(collect(0, 7), (std::vector<aborted_txn>{first}));
}

}  // namespace
}  // namespace strata::replication
