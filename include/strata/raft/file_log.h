// The metadata quorum's durable state on local disk: the Raft log
// (file_log) and the quorum state (quorum_state_file), both in
// <metadata.log.dir>/__cluster_metadata-0/.
//
// STOPGAP, isolated so that it can be swapped: the storage engine's
// segmented log (strata/storage/log.h) and its RocksDB state store had not
// landed when the shell was written, so this is a minimal one-file-per-
// segment log of its own. It keeps every entry past the snapshot in memory
// as well (raft_log hands out references), which suits a metadata log that
// snapshots keep short. Replacing it means implementing raft_log + persist()
// on a storage::partition_log; nothing else in the shell changes.
//
// Directory layout:
//
//   00000000000000000000.log   segments: Kafka v2 record batches exactly as
//   00000000000000004096.log   on the wire (kafka_wire.h: one batch per run of
//   ...                        entries of one epoch; leader changes as
//                              control batches), named by the base offset
//                              of their first batch (20 digits)
//   00000000000000004000-0000000007.checkpoint
//                              the latest snapshot: <end offset>-<epoch>,
//                              the application's bytes as given
//   quorum-state               JSON, Kafka's QuorumStateData fields
//                              {"clusterId", "leaderId", "leaderEpoch",
//                              "votedId", "appliedOffset", "currentVoters",
//                              "data_version"}
//
// Crash safety. Segments are written only by persist(), which writes what
// changed since the last persist and fdatasyncs before returning; recovery
// keeps the longest prefix of whole, CRC-valid, consecutive batches and cuts
// the rest. Snapshots and the quorum state are replaced atomically (write a
// temporary file, fsync, rename, fsync the directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/raft/memory_log.h"
#include "strata/raft/raft_log.h"

namespace strata::raft {

// A raft_log whose writes become durable at persist(). Owned by the raft
// node, used on its executor only. I/O failures throw std::system_error: the
// node cannot go on without its log (Kafka halts too).
class file_log final : public raft_log {
public:
    // Opens (creating) `directory` and recovers what it holds.
    explicit file_log(std::filesystem::path directory, size_t segment_bytes = size_t{64} << 20);
    ~file_log() override;

    offset start_offset() const override { return _memory.start_offset(); }
    offset end_offset() const override { return _memory.end_offset(); }
    epoch last_epoch() const override { return _memory.last_epoch(); }
    const log_entry& entry(offset o) const override { return _memory.entry(o); }
    std::optional<epoch_end_offset> end_offset_for_epoch(epoch e) const override {
        return _memory.end_offset_for_epoch(e);
    }
    void append(log_entry entry) override { _memory.append(std::move(entry)); }
    void truncate_suffix(offset from) override { _memory.truncate_suffix(from); }
    std::optional<snapshot_id> latest_snapshot() const override { return _memory.latest_snapshot(); }
    int64_t snapshot_size() const override { return _memory.snapshot_size(); }
    std::string read_snapshot(int64_t position, int32_t max_bytes) const override {
        return _memory.read_snapshot(position, max_bytes);
    }
    void install_snapshot(snapshot_id id, std::string data) override { _memory.install_snapshot(id, std::move(data)); }

    // Writes every change since the last call and makes it durable.
    void persist();

    const std::filesystem::path& directory() const { return _directory; }
    size_t segment_count() const { return _segments.size(); }

private:
    struct batch_position {
        offset base;
        offset last;
        size_t segment;   // index into _segments
        uint64_t position;
    };
    struct segment {
        offset base;
        std::filesystem::path path;
        int fd = -1;
        uint64_t size = 0;
    };

    void recover();
    void load_snapshot();
    void recover_segment(size_t index, bool& stop);
    void truncate_from(offset from);
    void write_entries(offset from);
    void write_snapshot();
    void open_segment(offset base);
    void remove_segments_from(size_t index);
    void drop_segments_below(offset start);

    std::filesystem::path _directory;
    size_t _segment_bytes;
    memory_log _memory;
    std::vector<segment> _segments;
    std::vector<batch_position> _batches;  // what the segments hold, in order
};

// The quorum-state file (see above), replaced atomically on every write.
class quorum_state_file {
public:
    explicit quorum_state_file(std::filesystem::path directory);
    // What the file holds; all zero/none when it does not exist.
    quorum_state read() const;
    // Durable on return.
    void write(const quorum_state& state);

private:
    std::filesystem::path _path;
};

// Writes `bytes` to `path` atomically and durably: a temporary file beside
// it, fsync, rename over `path`, fsync the directory.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace strata::raft
