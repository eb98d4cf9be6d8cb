// The metadata log on disk: what persist() wrote is what a reopened log
// holds, truncation and snapshots rewrite the right files, and a torn tail
// is cut at recovery.
#include "strata/raft/file_log.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace strata::raft {
namespace {

namespace fs = std::filesystem;

class file_log_test : public ::testing::Test {
protected:
    void SetUp() override {
        _dir = fs::temp_directory_path() / fmt::format("strata-file-log-{}-{}", ::getpid(), _counter++);
        fs::remove_all(_dir);
    }
    void TearDown() override { fs::remove_all(_dir); }

    static std::vector<log_entry> entries_of(const raft_log& log) {
        std::vector<log_entry> out;
        for (offset o = log.start_offset(); o < log.end_offset(); o = o + 1) out.push_back(log.entry(o));
        return out;
    }
    static void append(raft_log& log, int n, epoch ep, entry_kind kind = entry_kind::data) {
        for (int i = 0; i < n; ++i) {
            log.append(log_entry{log.end_offset(), ep, kind, kind == entry_kind::data ? fmt::format("r{}", log.end_offset()) : ""});
        }
    }

    fs::path _dir;
    static inline int _counter = 0;
};

TEST_F(file_log_test, what_was_persisted_is_what_reopens) {
    std::vector<log_entry> expected;
    {
        file_log log(_dir);
        append(log, 1, epoch{1}, entry_kind::leader_change);
        append(log, 5, epoch{1});
        log.persist();
        append(log, 3, epoch{2});
        log.persist();
        append(log, 2, epoch{2});  // never persisted
        expected = entries_of(log);
        expected.resize(9);
    }
    file_log reopened(_dir);
    EXPECT_EQ(entries_of(reopened), expected);
    EXPECT_EQ(reopened.last_epoch(), epoch{2});
    EXPECT_EQ(reopened.end_offset_for_epoch(epoch{1}), (epoch_end_offset{epoch{1}, offset{6}}));
}

TEST_F(file_log_test, truncation_rewrites_from_the_batch_that_changed) {
    {
        file_log log(_dir);
        append(log, 10, epoch{1});
        log.persist();
        log.truncate_suffix(offset{4});  // inside the one batch written
        append(log, 3, epoch{3});
        log.persist();
    }
    file_log reopened(_dir);
    ASSERT_EQ(reopened.end_offset(), offset{7});
    EXPECT_EQ(reopened.entry(offset{3}).ep, epoch{1});
    EXPECT_EQ(reopened.entry(offset{4}).ep, epoch{3});
    EXPECT_EQ(reopened.entry(offset{6}).data, "r6");
}

TEST_F(file_log_test, segments_roll_and_snapshots_drop_the_ones_they_cover) {
    {
        file_log log(_dir, 200);  // a tiny segment size: a segment per batch or two
        for (int i = 0; i < 6; ++i) {
            append(log, 5, epoch{1 + i});
            log.persist();
        }
        EXPECT_GT(log.segment_count(), 2u);
        const size_t before = log.segment_count();
        log.install_snapshot(snapshot_id{offset{20}, epoch{4}}, "state at 20");
        log.persist();
        EXPECT_LT(log.segment_count(), before);
    }
    file_log reopened(_dir, 200);
    EXPECT_EQ(reopened.latest_snapshot(), (snapshot_id{offset{20}, epoch{4}}));
    EXPECT_EQ(reopened.read_snapshot(0, 100), "state at 20");
    EXPECT_EQ(reopened.start_offset(), offset{20});
    EXPECT_EQ(reopened.end_offset(), offset{30});
    EXPECT_EQ(reopened.entry(offset{29}).ep, epoch{6});
}

TEST_F(file_log_test, a_snapshot_from_the_leader_replaces_a_diverging_log) {
    {
        file_log log(_dir);
        append(log, 8, epoch{1});
        log.persist();
        log.install_snapshot(snapshot_id{offset{50}, epoch{5}}, "leader state");
        append(log, 2, epoch{5});
        log.persist();
    }
    file_log reopened(_dir);
    EXPECT_EQ(reopened.start_offset(), offset{50});
    EXPECT_EQ(reopened.end_offset(), offset{52});
    EXPECT_EQ(reopened.last_epoch(), epoch{5});
}

TEST_F(file_log_test, a_torn_tail_is_cut_at_recovery) {
    {
        file_log log(_dir);
        append(log, 4, epoch{1});
        log.persist();
        append(log, 4, epoch{2});
        log.persist();
    }
    const auto segment = _dir / "00000000000000000000.log";
    const auto size = fs::file_size(segment);
    fs::resize_file(segment, size - 3);  // the second batch loses its end
    {
        file_log reopened(_dir);
        EXPECT_EQ(reopened.end_offset(), offset{4});
        append(reopened, 1, epoch{3});
        reopened.persist();
    }
    file_log again(_dir);
    EXPECT_EQ(again.end_offset(), offset{5});
    EXPECT_EQ(again.entry(offset{4}).ep, epoch{3});
}

TEST_F(file_log_test, quorum_state_is_replaced_atomically) {
    quorum_state_file file(_dir);
    EXPECT_EQ(file.read(), quorum_state{});
    quorum_state state{epoch{7}, node_id{2}, node_id{3}};
    file.write(state);
    EXPECT_EQ(quorum_state_file(_dir).read(), state);
    file.write(quorum_state{epoch{8}, std::nullopt, std::nullopt});
    EXPECT_EQ(quorum_state_file(_dir).read(), (quorum_state{epoch{8}, std::nullopt, std::nullopt}));
    EXPECT_FALSE(fs::exists(_dir / "quorum-state.tmp"));
}

}  // namespace
}  // namespace strata::raft
