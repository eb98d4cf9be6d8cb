// Append, read, roll, lookups, retention, truncation and group commit on one
// partition log, with a manual clock and a manual flusher.
#include "disk_log.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include "storage_test_support.h"

namespace strata::storage {
namespace {

using testing::make_batch;
using testing::make_simple_batch;
using testing::read_records;

constexpr int64_t t0 = 1'700'000'000'000;

log_config small_segments(size_t segment_bytes = 4096) {
    log_config c;
    c.segment_bytes = segment_bytes;
    c.index_interval_bytes = 256;
    return c;
}

TEST(disk_log, assigns_offsets_and_stamps_epoch) {
    testing::log_fixture f;
    auto log = f.open(log_config{});
    auto a = log->append(make_simple_batch(3), leader_epoch(7)).value();
    auto b = log->append(make_simple_batch(2), leader_epoch(7)).value();
    EXPECT_EQ(a.base_offset, offset(0));
    EXPECT_EQ(a.last_offset, offset(2));
    EXPECT_EQ(b.base_offset, offset(3));
    EXPECT_EQ(log->end_offset(), offset(5));
    auto bytes = testing::read_all(*log, offset(0));
    protocol::record_batch_sequence seq(bytes);
    auto first = *seq.next().value();
    EXPECT_EQ(first.base_offset(), 0);
    EXPECT_EQ(first.partition_leader_epoch(), 7);
    EXPECT_TRUE(first.crc_ok());
    auto second = *seq.next().value();
    EXPECT_EQ(second.base_offset(), 3);
    EXPECT_EQ(read_records(*log, offset(4)).front().at, offset(4));
}

TEST(disk_log, rejects_invalid_batches) {
    testing::log_fixture f;
    auto log = f.open(log_config{});
    auto batch = make_simple_batch(2);
    batch[70] ^= 0xff;  // inside the CRC
    auto r = log->append(batch, leader_epoch(0));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, storage_errc::invalid_records);
    EXPECT_EQ(to_kafka_error(r.error()), kafka_error::corrupt_message);
    EXPECT_EQ(log->end_offset(), offset(0));
}

TEST(disk_log, log_append_time_is_stamped_under_the_crc) {
    testing::log_fixture f;
    log_config c;
    c.timestamp_kind = protocol::timestamp_type::log_append_time;
    auto log = f.open(c);
    f.time.set(t0 + 5000);
    auto r = log->append(make_simple_batch(2, 10, t0), leader_epoch(0)).value();
    EXPECT_EQ(r.log_append_time, t0 + 5000);
    auto bytes = testing::read_all(*log, offset(0));
    auto batch = protocol::record_batch_view::from(bytes).value();
    EXPECT_TRUE(batch.crc_ok());
    EXPECT_EQ(batch.timestamp_kind(), protocol::timestamp_type::log_append_time);
    EXPECT_EQ(batch.max_timestamp(), t0 + 5000);
}

TEST(disk_log, replicated_batches_keep_offsets_and_must_continue_the_log) {
    testing::log_fixture f;
    auto log = f.open(log_config{});
    protocol::record_batch_options o;
    o.base_offset = 10;
    o.partition_leader_epoch = 3;
    protocol::record_batch_builder builder(o);
    builder.append(t0, std::nullopt, std::nullopt);
    auto batch = builder.build().value();
    auto r = log->append(batch, leader_epoch(99), append_origin::replication).value();
    EXPECT_EQ(r.base_offset, offset(10));
    EXPECT_EQ(log->end_offset(), offset(11));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(3));
    auto again = log->append(batch, leader_epoch(99), append_origin::replication);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, storage_errc::non_monotonic_offset);
}

TEST(disk_log, rolls_by_size_time_and_full_index) {
    testing::log_fixture f;
    auto log = f.open(small_segments(4096));
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->append(make_simple_batch(5, 100), leader_epoch(0)));
    EXPECT_GE(log->segment_count(), 3u);
    for (const auto& s : *log->snapshot().segments) EXPECT_LE(s->size(), 4096u);

    testing::log_fixture g;
    log_config by_time;
    by_time.segment_ms = 1000;
    auto timed = g.open(by_time);
    ASSERT_TRUE(timed->append(make_simple_batch(1, 10, g.time.now_ms()), leader_epoch(0)));
    g.time.advance(500);
    ASSERT_TRUE(timed->append(make_simple_batch(1, 10, g.time.now_ms()), leader_epoch(0)));
    EXPECT_EQ(timed->segment_count(), 1u);
    g.time.advance(1000);
    ASSERT_TRUE(timed->append(make_simple_batch(1, 10, g.time.now_ms()), leader_epoch(0)));
    EXPECT_EQ(timed->segment_count(), 2u);

    testing::log_fixture h;
    log_config tiny_index;
    tiny_index.index_interval_bytes = 1;
    tiny_index.segment_index_bytes = 3 * 12;  // three entries
    auto indexed = h.open(tiny_index);
    // Four offset-index entries fit; one entry per batch after the first.
    for (int i = 0; i < 15; ++i) ASSERT_TRUE(indexed->append(make_simple_batch(1, 10), leader_epoch(0)));
    EXPECT_EQ(indexed->segment_count(), 3u);
}

// Kafka's LogSegment.shouldRoll: segment.ms is measured in record time, from
// the segment's first batch's max timestamp to the incoming batch's. A
// backfill of old records (1970) must not roll one segment per batch, which
// the wall-clock rule did (and time retention then deleted all but one).
TEST(disk_log, segment_ms_counts_record_time_from_the_first_batch) {
    testing::log_fixture f;
    log_config c;
    c.segment_ms = 1000;
    f.time.set(t0);
    auto log = f.open(c);
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(log->append(make_batch({{"k", "v", 1000 + i}, {"k", "v", 1000 + i}}), leader_epoch(0)));
    EXPECT_EQ(log->segment_count(), 1u);
    f.time.advance(10'000);  // wall-clock time alone does not roll a segment with timestamps
    ASSERT_TRUE(log->append(make_batch({{"k", "v", 1500}}), leader_epoch(0)));
    EXPECT_EQ(log->segment_count(), 1u);
    // A batch whose records are more than segment.ms after the first batch's.
    ASSERT_TRUE(log->append(make_batch({{"k", "v", 1000 + 1001}}), leader_epoch(0)));
    EXPECT_EQ(log->segment_count(), 2u);
    // Retention sees 1970 records in the non-active segment only.
    c.retention_ms = 60'000;
    log->reconfigure(c);
    EXPECT_EQ(log->apply_retention().value(), 1u);
    EXPECT_EQ(log->log_start_offset(), offset(11));
}

TEST(disk_log, segment_ms_counts_wall_clock_time_when_the_first_batch_has_no_timestamp) {
    testing::log_fixture f;
    log_config c;
    c.segment_ms = 1000;
    f.time.set(t0);
    auto log = f.open(c);
    ASSERT_TRUE(log->append(make_batch({{"k", "v", -1}}), leader_epoch(0)));
    f.time.advance(900);
    ASSERT_TRUE(log->append(make_batch({{"k", "v", -1}}), leader_epoch(0)));
    EXPECT_EQ(log->segment_count(), 1u);
    f.time.advance(200);
    ASSERT_TRUE(log->append(make_batch({{"k", "v", -1}}), leader_epoch(0)));
    EXPECT_EQ(log->segment_count(), 2u);
}

// Sarama 1.22 sends -1 as a batch's maxTimestamp: the log stores the max of
// its records' timestamps (with a CRC that checks out), so that time lookups
// and the time index see the records.
TEST(disk_log, stores_the_max_timestamp_computed_from_the_records) {
    testing::log_fixture f;
    auto log = f.open(log_config{});
    auto batch = make_batch({{"a", "x", t0 + 10}, {"b", "y", t0 + 70}, {"c", "z", t0 + 40}});
    protocol::set_max_timestamp(batch, protocol::timestamp_type::create_time, -1);
    auto r = log->append(batch, leader_epoch(0)).value();
    EXPECT_EQ(r.max_timestamp, t0 + 70);
    auto bytes = testing::read_all(*log, offset(0));
    auto stored = protocol::record_batch_view::from(bytes).value();
    EXPECT_EQ(stored.max_timestamp(), t0 + 70);
    EXPECT_TRUE(stored.crc_ok());
    auto found = log->offset_for_timestamp(t0 + 50).value();
    ASSERT_TRUE(found);
    EXPECT_EQ(*found, (timestamp_and_offset{t0 + 70, offset(1)}));
}

TEST(disk_log, reads_by_offset_across_segments_within_bounds) {
    testing::log_fixture f;
    auto log = f.open(small_segments(2048));
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(log->append(make_simple_batch(2, 50), leader_epoch(0)));
    ASSERT_GT(log->segment_count(), 3u);
    for (int64_t at : {0, 1, 37, 64, 99}) {
        auto records = read_records(*log, offset(at));
        ASSERT_FALSE(records.empty());
        EXPECT_EQ(records.front().at, offset(at));
        EXPECT_EQ(records.back().at, offset(99));
    }
    // max_offset (the high watermark) excludes batches at or after it.
    auto r = log->read({offset(0), 1 << 20, offset(10), true}).value();
    auto bytes = read_region(r.region).value();
    protocol::record_batch_sequence seq(bytes);
    int64_t last = -1;
    while (auto b = seq.next().value()) last = b->last_offset();
    EXPECT_EQ(last, 9);
    // KIP-74: the first batch comes whole even past max_bytes.
    auto one = log->read({offset(0), 10, std::nullopt, true}).value();
    EXPECT_GE(one.region.length, protocol::record_batch_view::header_size);
    EXPECT_TRUE(protocol::record_batch_view::from(read_region(one.region).value()));
    EXPECT_EQ(log->read({offset(0), 10, std::nullopt, false}).value().region.length, 10u);
    // The end gives nothing; past it and below the start are out of range.
    EXPECT_EQ(log->read({offset(100), 100, std::nullopt, true}).value().region.length, 0u);
    EXPECT_EQ(log->read({offset(101), 100, std::nullopt, true}).error().code, storage_errc::offset_out_of_range);
}

TEST(disk_log, looks_up_offsets_by_timestamp) {
    testing::log_fixture f;
    auto log = f.open(small_segments(2048));
    for (int i = 0; i < 40; ++i) {
        ASSERT_TRUE(log->append(make_batch({{"a", "x", t0 + i * 100}, {"b", "y", t0 + i * 100 + 50}}), leader_epoch(0)));
    }
    auto hit = log->offset_for_timestamp(t0 + 1050).value();
    ASSERT_TRUE(hit);
    EXPECT_EQ(hit->found, offset(21));  // batch 10's second record
    EXPECT_EQ(hit->timestamp, t0 + 1050);
    EXPECT_EQ(log->offset_for_timestamp(t0 + 1051).value()->found, offset(22));
    EXPECT_EQ(log->offset_for_timestamp(0).value()->found, offset(0));
    EXPECT_FALSE(log->offset_for_timestamp(t0 + 100000).value());
}

TEST(disk_log, retention_by_time_and_size_never_deletes_the_active_segment) {
    testing::log_fixture f;
    log_config c = small_segments(2048);
    c.retention_ms = 10'000;
    auto log = f.open(c);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(log->append(make_simple_batch(2, 50, f.time.now_ms()), leader_epoch(0)));
    size_t before = log->segment_count();
    EXPECT_EQ(log->apply_retention().value(), 0u);
    f.time.advance(20'000);
    EXPECT_EQ(log->apply_retention().value(), before - 1);
    EXPECT_EQ(log->segment_count(), 1u);
    EXPECT_EQ(log->log_start_offset(), log->snapshot().segments->front()->base_offset());
    EXPECT_EQ(log->read({offset(0), 100, std::nullopt, true}).error().code, storage_errc::offset_out_of_range);

    testing::log_fixture g;
    log_config by_size = small_segments(2048);
    by_size.retention_bytes = 5000;
    auto sized = g.open(by_size);
    for (int i = 0; i < 80; ++i) ASSERT_TRUE(sized->append(make_simple_batch(2, 50), leader_epoch(0)));
    ASSERT_GT(sized->size_bytes(), 10000u);
    ASSERT_GT(sized->apply_retention().value(), 0u);
    EXPECT_GE(sized->size_bytes(), 5000u);  // deletes only while what stays is at least retention.bytes
    EXPECT_LT(sized->size_bytes(), 5000u + 2048u);
}

TEST(disk_log, regions_stay_readable_after_their_segment_is_deleted) {
    testing::log_fixture f;
    log_config c = small_segments(1024);
    c.retention_ms = 0;
    auto log = f.open(c);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->append(make_simple_batch(2, 50, t0), leader_epoch(0)));
    auto held = log->read({offset(0), 1 << 20, std::nullopt, true}).value();
    auto expected = read_region(held.region).value();
    f.time.advance(1000);
    ASSERT_GT(log->apply_retention().value(), 0u);
    EXPECT_EQ(read_region(held.region).value(), expected);
}

TEST(disk_log, delete_records_moves_the_log_start) {
    testing::log_fixture f;
    auto log = f.open(small_segments(1024));
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(log->append(make_simple_batch(2, 50), leader_epoch(0)));
    EXPECT_EQ(log->delete_records_before(offset(15)).value(), offset(15));
    EXPECT_EQ(log->read({offset(14), 100, std::nullopt, true}).error().code, storage_errc::offset_out_of_range);
    EXPECT_EQ(read_records(*log, offset(15)).front().at, offset(15));
    EXPECT_EQ(log->delete_records_before(offset(41)).error().code, storage_errc::offset_out_of_range);
    size_t before = log->segment_count();
    ASSERT_GT(log->apply_retention().value(), 0u);
    EXPECT_LT(log->segment_count(), before);
    EXPECT_EQ(log->log_start_offset(), offset(15));
}

// A roll makes a new directory entry, whose sync must come before any of the
// new segment's offsets counts as flushed: the flush (on the flusher's
// background thread) does it, not the appending thread.
TEST(disk_log, a_roll_leaves_its_directory_sync_to_the_next_flush) {
    testing::log_fixture f;
    auto log = f.open(small_segments(1024));
    ASSERT_TRUE(log->append(make_simple_batch(2, 50), leader_epoch(0)));
    log->flush_to(log->end_offset(), [](result<void>) {});
    f.flush_thread.run_pending();  // the first flush syncs the created directory
    ASSERT_EQ(log->flushed_offset(), log->end_offset());

    const auto before = disk_log::directory_syncs();
    while (log->segment_count() < 3) ASSERT_TRUE(log->append(make_simple_batch(2, 50), leader_epoch(0)));
    EXPECT_EQ(disk_log::directory_syncs(), before);  // two rolls, no sync on the appending thread
    bool flushed = false;
    log->flush_to(log->end_offset(), [&](result<void> r) { flushed = r.has_value(); });
    EXPECT_FALSE(flushed);
    EXPECT_LT(log->flushed_offset(), log->end_offset());
    EXPECT_EQ(f.flush_thread.run_pending(), 1u);
    EXPECT_EQ(disk_log::directory_syncs(), before + 1);  // one sync covers both rolls
    EXPECT_TRUE(flushed);
    EXPECT_EQ(log->flushed_offset(), log->end_offset());

    // Without a roll, a flush syncs no directory.
    const auto segments = log->segment_count();
    ASSERT_TRUE(log->append(make_simple_batch(1, 10), leader_epoch(0)));
    ASSERT_EQ(log->segment_count(), segments);
    log->flush_to(log->end_offset(), [](result<void>) {});
    f.flush_thread.run_pending();
    EXPECT_EQ(disk_log::directory_syncs(), before + 1);
}

TEST(disk_log, truncation_removes_the_batch_holding_the_offset_and_later_ones) {
    testing::log_fixture f;
    auto log = f.open(small_segments(1024));
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(log->append(make_simple_batch(2, 50), leader_epoch(i < 20 ? 1 : 2)));
    ASSERT_TRUE(log->truncate_to(offset(31)));  // inside batch [30, 31]
    EXPECT_EQ(log->end_offset(), offset(30));
    EXPECT_EQ(read_records(*log, offset(0)).back().at, offset(29));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(1));
    auto next = log->append(make_simple_batch(1), leader_epoch(3)).value();
    EXPECT_EQ(next.base_offset, offset(30));
    ASSERT_TRUE(log->truncate_to(offset(4)));
    EXPECT_EQ(log->end_offset(), offset(4));
    EXPECT_EQ(log->segment_count(), 1u);
    ASSERT_TRUE(log->truncate_fully_and_start_at(offset(1000)));
    EXPECT_EQ(log->log_start_offset(), offset(1000));
    EXPECT_EQ(log->append(make_simple_batch(1), leader_epoch(4)).value().base_offset, offset(1000));
}

// Kafka's leader-epoch cache at election (Partition.makeLeader assigns the
// new epoch at the log end): the chaos run of seed 521 elected a replica
// without the batches the previous leader appended at its epoch; with
// nothing appended at its own epoch, it could not place the followers' last
// fetched epoch. The election entry gives the exact answer: the previous
// epochs end at the log end it was elected with.
TEST(disk_log, an_epoch_assigned_at_election_places_epochs_the_log_never_saw) {
    testing::log_fixture f;
    auto log = f.open(small_segments());
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(i < 5 ? 1 : 2)));
    // The previous leader's epoch 3 batches never reached this replica: by
    // its batches alone, epoch 3 is newer than anything it knows.
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(3)), std::nullopt);
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(4)));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(4));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(3)), (epoch_end{leader_epoch(2), offset(10)}));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(4)), (epoch_end{leader_epoch(4), offset(10)}));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(2)), (epoch_end{leader_epoch(2), offset(10)}));
    EXPECT_EQ(log->epoch_for_offset(offset(4)), leader_epoch(1));
    EXPECT_EQ(log->epoch_for_offset(offset(9)), leader_epoch(2));
    EXPECT_EQ(log->epoch_for_offset(offset(10)), leader_epoch(4));
    // Not newer than the latest: nothing changes.
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(4)));
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(2)));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(4));
    // Batches at the epoch extend it; the entry stays where it began.
    ASSERT_TRUE(log->append(make_simple_batch(3), leader_epoch(4)));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(4)), (epoch_end{leader_epoch(4), offset(13)}));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(3)), (epoch_end{leader_epoch(2), offset(10)}));
    // An epoch elected with nothing appended is superseded by the next one
    // starting at the same offset (Kafka drops it too).
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(6)));
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(7)));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(6)), (epoch_end{leader_epoch(4), offset(13)}));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(7)), (epoch_end{leader_epoch(7), offset(13)}));
}

// The election entry is kept by a clean close and reopen and by a reopen that
// recovers the log (it has no batch recovery could rebuild it from).
TEST(disk_log, the_epoch_assigned_at_election_survives_reopen) {
    for (bool clean : {true, false}) {
        SCOPED_TRACE(clean ? "clean" : "recovered");
        testing::log_fixture f;
        {
            auto log = f.open(small_segments());
            for (int i = 0; i < 6; ++i) ASSERT_TRUE(log->append(make_simple_batch(2), leader_epoch(3)));
            ASSERT_TRUE(log->assign_epoch_start(leader_epoch(5)));
            if (clean) {
                ASSERT_TRUE(log->close());
            }
        }
        auto log = f.open(small_segments(), !clean);
        EXPECT_EQ(log->end_offset(), offset(12));
        EXPECT_EQ(log->latest_epoch(), leader_epoch(5));
        EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(4)), (epoch_end{leader_epoch(3), offset(12)}));
        EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(5)), (epoch_end{leader_epoch(5), offset(12)}));
    }
}

// Stored entries past the recovered log end (their batches lost in a crash)
// go; only the one starting exactly at the end is kept.
TEST(disk_log, reopen_drops_epochs_whose_batches_are_gone) {
    testing::log_fixture f;
    uint64_t cut = 0;
    {
        auto log = f.open(small_segments());
        for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(1)));
        ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(2)));
        ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(3)));
        cut = log->read({offset(4)}).value().region.position;
        ASSERT_TRUE(log->close());
    }
    // The batches at offsets 4 (epoch 2) and 5 (epoch 3) never reached the disk.
    ASSERT_EQ(::truncate((f.log_dir() + "/" + std::string(20, '0') + ".log").c_str(), off_t(cut)), 0);
    auto log = f.open(small_segments(), true);
    EXPECT_EQ(log->end_offset(), offset(4));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(2));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(3)), std::nullopt);  // newer than the history now
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(2)), (epoch_end{leader_epoch(2), offset(4)}));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(1)), (epoch_end{leader_epoch(1), offset(4)}));
}

// A replica that led at an epoch and appended nothing, now following a leader
// that does not know that epoch: the leader's answer has it truncate at its
// log end, which cuts no batch but drops the empty epoch (Kafka's truncateTo
// does so too), so that its next fetch names its real last epoch.
TEST(disk_log, truncation_at_the_log_end_drops_an_epoch_with_no_batches) {
    testing::log_fixture f;
    auto log = f.open(small_segments());
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(i < 2 ? 1 : 2)));
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(5)));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(5));
    ASSERT_TRUE(log->truncate_to(offset(4)));
    EXPECT_EQ(log->end_offset(), offset(4));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(2));
    // Past the end too, as Kafka's truncateTo (it trims at the log end).
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(5)));
    ASSERT_TRUE(log->truncate_to(offset(10)));
    EXPECT_EQ(log->end_offset(), offset(4));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(2));
    // With no entry at the end, such a truncation changes nothing.
    ASSERT_TRUE(log->truncate_to(offset(4)));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(2));
    ASSERT_TRUE(log->assign_epoch_start(leader_epoch(6)));
    ASSERT_TRUE(log->truncate_to(offset(2)));  // a real cut takes the entry with it
    EXPECT_EQ(log->end_offset(), offset(2));
    EXPECT_EQ(log->latest_epoch(), leader_epoch(1));
    EXPECT_EQ(log->end_offset_for_epoch(leader_epoch(1)), (epoch_end{leader_epoch(1), offset(2)}));
    // The trimmed history is what a reopen finds.
    ASSERT_TRUE(log->close());
    auto reopened = f.open(small_segments());
    EXPECT_EQ(reopened->latest_epoch(), leader_epoch(1));
}

TEST(disk_log, group_commit_shares_one_sync_and_calls_every_waiter) {
    testing::log_fixture f;
    auto log = f.open(log_config{});
    std::vector<int> done;
    for (int i = 0; i < 5; ++i) {
        auto r = log->append(make_simple_batch(1), leader_epoch(0)).value();
        log->flush_to(r.last_offset.next(), [&, i](result<void> status) {
            ASSERT_TRUE(status);
            done.push_back(i);
        });
    }
    EXPECT_TRUE(done.empty());
    EXPECT_EQ(f.flush_thread.run_pending(), 1u);  // one queued sync for five waiters
    EXPECT_EQ(done, (std::vector<int>{0, 1, 2, 3, 4}));
    EXPECT_EQ(log->flushed_offset(), offset(5));
    bool immediate = false;
    log->flush_to(offset(5), [&](result<void>) { immediate = true; });
    EXPECT_TRUE(immediate);
}

TEST(disk_log, interval_flush_by_messages_and_time) {
    testing::log_fixture f;
    log_config c;
    c.flush = flush_mode::interval;
    c.flush_messages = 10;
    c.flush_ms = 1000;
    auto log = f.open(c);
    ASSERT_TRUE(log->append(make_simple_batch(5), leader_epoch(0)));
    EXPECT_EQ(f.flush_thread.run_pending(), 0u);
    ASSERT_TRUE(log->append(make_simple_batch(5), leader_epoch(0)));
    EXPECT_EQ(f.flush_thread.run_pending(), 1u);
    EXPECT_EQ(log->flushed_offset(), offset(10));
    ASSERT_TRUE(log->append(make_simple_batch(1), leader_epoch(0)));
    log->maybe_flush_by_time();
    EXPECT_EQ(f.flush_thread.run_pending(), 0u);
    f.time.advance(1000);
    log->maybe_flush_by_time();
    EXPECT_EQ(f.flush_thread.run_pending(), 1u);
    EXPECT_EQ(log->flushed_offset(), offset(11));
}

TEST(disk_log, truncation_fails_waiters_for_offsets_it_removed) {
    testing::log_fixture f;
    auto log = f.open(log_config{});
    ASSERT_TRUE(log->append(make_simple_batch(10), leader_epoch(0)));
    std::optional<result<void>> outcome;
    log->flush_to(offset(10), [&](result<void> r) { outcome = r; });
    ASSERT_TRUE(log->truncate_to(offset(0)));
    ASSERT_TRUE(outcome);
    EXPECT_FALSE(*outcome);
}

}  // namespace
}  // namespace strata::storage
