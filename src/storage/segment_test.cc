// Sealed segments keep neither their indexes on the heap nor their .log open
// (segment.h): what a log retains costs no memory or descriptors until read,
// and every lookup gives the same answers before and after sealing,
// eviction and reopening.
#include "segment.h"

#include <gtest/gtest.h>

#include "disk_log.h"
#include "lru_cache.h"
#include "storage_test_support.h"

namespace strata::storage {
namespace {

using testing::make_simple_batch;
using testing::read_records;

constexpr int64_t t0 = 1'700'000'000'000;

log_config small_segments() {
    log_config c;
    c.segment_bytes = 4096;
    c.index_interval_bytes = 256;
    return c;
}

// Empties both caches on entry; their bounds are restored on exit.
struct cold_caches {
    size_t index_bound = index_cache().capacity();
    size_t file_bound = log_file_cache().capacity();
    cold_caches() { drop(); }
    ~cold_caches() {
        index_cache().set_capacity(index_bound);
        log_file_cache().set_capacity(file_bound);
    }
    void drop() const {
        index_cache().set_capacity(0);
        index_cache().set_capacity(index_bound);
        log_file_cache().set_capacity(0);
        log_file_cache().set_capacity(file_bound);
    }
};

struct answers {
    std::vector<offset> by_offset;   // first offset each read returns
    std::vector<int64_t> by_time;    // offset for each timestamp, -1 if none
    bool operator==(const answers&) const = default;
};

answers ask(const disk_log& log) {
    answers a;
    for (int64_t o = 0; o < log.end_offset().value(); o += 7) {
        auto records = read_records(log, offset(o));
        a.by_offset.push_back(records.empty() ? offset(-1) : records.front().at);
    }
    for (int64_t ts = t0 - 5; ts < t0 + 400; ts += 3) {
        auto hit = log.offset_for_timestamp(ts).value();
        a.by_time.push_back(hit ? hit->found.value() : -1);
    }
    return a;
}

void fill(disk_log& log, int batches) {
    for (int i = 0; i < batches; ++i) {
        ASSERT_TRUE(log.append(make_simple_batch(3, 40, t0 + i), leader_epoch(1)));
    }
}

size_t sealed_with_indexes_loaded(const disk_log& log) {
    auto snap = log.snapshot();
    size_t n = 0;
    for (size_t i = 0; i + 1 < snap.segments->size(); ++i) n += (*snap.segments)[i]->indexes_loaded() ? 1 : 0;
    return n;
}

TEST(sealed_segment, indexes_leave_the_heap_once_flushed_and_come_back_on_a_lookup) {
    testing::log_fixture f;
    cold_caches cold;
    auto log = f.open(small_segments());
    fill(*log, 300);
    auto snap = log->snapshot();
    ASSERT_GT(snap.segments->size(), 10u);
    EXPECT_TRUE((*snap.segments)[0]->indexes_resident()) << "not flushed yet";
    ASSERT_TRUE(log->flush());
    for (size_t i = 0; i + 1 < snap.segments->size(); ++i) {
        EXPECT_FALSE((*snap.segments)[i]->indexes_resident()) << i;
        EXPECT_FALSE((*snap.segments)[i]->file_pinned()) << i;
    }
    EXPECT_TRUE(snap.segments->back()->file_pinned()) << "the active segment keeps its file";
    cold.drop();
    EXPECT_EQ(sealed_with_indexes_loaded(*log), 0u);
    auto before = ask(*log);
    EXPECT_GT(sealed_with_indexes_loaded(*log), 0u) << "lookups load them";
    cold.drop();
    EXPECT_EQ(ask(*log), before) << "the same answers after eviction";
}

TEST(sealed_segment, a_reopened_log_holds_nothing_until_read_and_answers_the_same) {
    testing::log_fixture f;
    answers before;
    {
        auto log = f.open(small_segments());
        fill(*log, 300);
        before = ask(*log);
        ASSERT_TRUE(log->close());
    }
    cold_caches cold;
    auto log = f.open(small_segments());
    auto snap = log->snapshot();
    for (const auto& s : *snap.segments) {
        EXPECT_FALSE(s->indexes_loaded()) << s->base_offset().value();
        EXPECT_FALSE(s->file_pinned()) << s->base_offset().value();
    }
    EXPECT_LE(log_file_cache().size(), snap.segments->size());
    EXPECT_EQ(ask(*log), before);
    // The reopened active segment takes appends (and so becomes resident).
    fill(*log, 5);
    EXPECT_TRUE(log->snapshot().segments->back()->file_pinned());
    EXPECT_EQ(read_records(*log, offset(900)).front().at, offset(900));
}

TEST(sealed_segment, descriptors_stay_within_the_cache_bound) {
    testing::log_fixture f;
    cold_caches cold;
    auto log = f.open(small_segments());
    fill(*log, 300);
    ASSERT_TRUE(log->flush());
    auto before = ask(*log);
    log_file_cache().set_capacity(2);
    EXPECT_EQ(ask(*log), before);
    EXPECT_LE(log_file_cache().size(), 2u);
    // A region handed out keeps its descriptor open past an eviction.
    auto region = log->read({offset(3)}).value().region;
    log_file_cache().set_capacity(0);
    EXPECT_EQ(protocol::record_batch_view::from(read_region(region).value()).value().base_offset(), 3);
}

TEST(sealed_segment, an_unlinked_sealed_segment_stays_readable) {
    testing::temp_dir dir;
    cold_caches cold;
    auto s = segment::create(dir.path(), offset(0), small_segments(), t0).value();
    auto batch = make_simple_batch(3, 40, t0);
    std::vector<batch_info> infos{parse_batch_header(batch.data(), 0)};
    struct iovec iov{batch.data(), batch.size()};
    ASSERT_TRUE(s->append(infos, &iov, 1, batch.size()));
    ASSERT_TRUE(s->flush(true));
    cold.drop();
    EXPECT_FALSE(s->file_pinned());
    s->unlink_files();
    EXPECT_FALSE(std::filesystem::exists(s->log_path()));
    auto found = s->find_batch(offset(1), s->size()).value();
    ASSERT_TRUE(found);
    EXPECT_EQ(found->base, offset(0));
    EXPECT_EQ(found->last, offset(2));
}

// Appends `count` batches of `records` records (offsets follow on).
void append_batches(segment& s, int count, int records, size_t value_size) {
    for (int i = 0; i < count; ++i) {
        auto batch = make_simple_batch(records, value_size, t0 + i);
        int64_t base = s.next_offset().value();
        for (int b = 0; b < 8; ++b) batch[b] = uint8_t(uint64_t(base) >> (56 - 8 * b));  // baseOffset
        std::vector<batch_info> infos{parse_batch_header(batch.data(), s.size())};
        struct iovec iov{batch.data(), batch.size()};
        ASSERT_TRUE(s.append(infos, &iov, 1, batch.size()));
    }
}

TEST(sealed_segment, a_replaced_segment_never_reads_its_successors_index) {
    testing::temp_dir dir;
    cold_caches cold;
    auto old = segment::create(dir.path(), offset(0), small_segments(), t0).value();
    append_batches(*old, 20, 3, 40);
    ASSERT_TRUE(old->flush(true));
    std::vector<uint64_t> positions;
    for (int o = 0; o < 60; ++o) positions.push_back(old->find_batch(offset(o), old->size()).value()->position);
    cold.drop();
    old->unlink_files();
    // A new segment at the same base: different batches, different index.
    auto next = segment::create(dir.path(), offset(0), small_segments(), t0).value();
    append_batches(*next, 6, 10, 300);
    ASSERT_TRUE(next->flush(true));
    cold.drop();
    for (int o = 0; o < 60; ++o) {
        auto found = old->find_batch(offset(o), old->size()).value();
        ASSERT_TRUE(found) << o;
        EXPECT_EQ(found->position, positions[size_t(o)]) << o;
        EXPECT_LE(found->base, offset(o));
        EXPECT_GE(found->last, offset(o));
    }
}

}  // namespace
}  // namespace strata::storage
