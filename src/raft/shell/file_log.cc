#include "strata/raft/file_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/common/log.h"
#include "strata/protocol/record_batch.h"
#include "strata/raft/kafka_wire.h"

namespace strata::raft {

namespace fs = std::filesystem;

namespace {

const auto& logger() {
    static const auto instance = log::get("raft");
    return instance;
}

[[noreturn]] void throw_errno(const std::string& what, const fs::path& path) {
    throw std::system_error(errno, std::generic_category(), fmt::format("{} {}", what, path.string()));
}

void sync_fd(int fd, const fs::path& path) {
    if (::fdatasync(fd) != 0) throw_errno("fdatasync", path);
}

void sync_directory(const fs::path& directory) {
    int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open directory", directory);
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) throw_errno("fsync directory", directory);
}

void write_all(int fd, const uint8_t* data, size_t size, uint64_t position, const fs::path& path) {
    while (size > 0) {
        const ssize_t n = ::pwrite(fd, data, size, static_cast<off_t>(position));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path);
        }
        data += n;
        size -= static_cast<size_t>(n);
        position += static_cast<uint64_t>(n);
    }
}

std::string read_whole_file(const fs::path& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open", path);
    std::string out;
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            ::close(fd);
            throw_errno("read", path);
        }
        if (n == 0) break;
        out.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
}

std::string segment_name(offset base) { return fmt::format("{:020}.log", base.value()); }
std::string snapshot_name(snapshot_id id) {
    return fmt::format("{:020}-{:010}.checkpoint", id.end_offset.value(), id.ep.value());
}

int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Entries per batch at most, so that a long run of one epoch is not one
// batch larger than a fetch.
constexpr size_t max_batch_entries = 1024;

}  // namespace

void write_file_atomically(const fs::path& path, std::string_view bytes) {
    const fs::path temporary = path.string() + ".tmp";
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("create", temporary);
    try {
        write_all(fd, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0, temporary);
        if (::fsync(fd) != 0) throw_errno("fsync", temporary);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    if (::rename(temporary.c_str(), path.c_str()) != 0) throw_errno("rename", temporary);
    sync_directory(path.parent_path());
}

// ---- file_log -----------------------------------------------------------------------

file_log::file_log(fs::path directory, size_t segment_bytes)
    : _directory(std::move(directory)), _segment_bytes(segment_bytes) {
    fs::create_directories(_directory);
    recover();
}

file_log::~file_log() {
    for (auto& s : _segments) {
        if (s.fd >= 0) ::close(s.fd);
    }
}

void file_log::recover() {
    std::vector<std::pair<int64_t, fs::path>> segment_files;
    std::optional<std::pair<snapshot_id, fs::path>> snapshot;
    for (const auto& item : fs::directory_iterator(_directory)) {
        const auto name = item.path().filename().string();
        if (name.ends_with(".tmp")) {
            fs::remove(item.path());  // an interrupted atomic write
        } else if (name.size() == 24 && name.ends_with(".log")) {
            segment_files.emplace_back(std::stoll(name.substr(0, 20)), item.path());
        } else if (name.size() == 42 && name.ends_with(".checkpoint")) {
            snapshot_id id{offset{std::stoll(name.substr(0, 20))}, epoch{std::stoi(name.substr(21, 10))}};
            if (!snapshot || snapshot->first.end_offset < id.end_offset) snapshot.emplace(id, item.path());
        }
    }
    if (snapshot) _memory.install_snapshot(snapshot->first, read_whole_file(snapshot->second));
    std::sort(segment_files.begin(), segment_files.end());
    for (const auto& [base, path] : segment_files) {
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) throw_errno("open", path);
        _segments.push_back(segment{offset{base}, path, fd, 0});
    }
    bool stop = false;
    for (size_t i = 0; i < _segments.size() && !stop; ++i) {
        recover_segment(i, stop);
        if (stop) remove_segments_from(i + 1);
    }
    if (!_segments.empty() && _segments.back().size == 0) remove_segments_from(_segments.size() - 1);
    _memory.take_changes();  // what was just read is what is on disk
    logger()->info("metadata log {}: offsets [{}, {}), last epoch {}, {} segment(s){}", _directory.string(),
                   _memory.start_offset(), _memory.end_offset(), _memory.last_epoch(), _segments.size(),
                   snapshot ? fmt::format(", snapshot {}", snapshot->first) : std::string());
}

void file_log::recover_segment(size_t index, bool& stop) {
    segment& s = _segments[index];
    const std::string bytes = read_whole_file(s.path);
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    protocol::record_batch_sequence sequence(std::span<const uint8_t>(data, bytes.size()));
    uint64_t position = 0;
    for (;;) {
        auto next = sequence.next();
        bool bad = !next;
        std::vector<log_entry> entries;
        if (!bad && !next.value()) break;  // the end
        if (!bad) {
            const auto& batch = *next.value();
            auto decoded = wire::decode_entries(batch.bytes());
            bad = !batch.crc_ok() || !decoded || decoded.value().empty();
            if (!bad) entries = std::move(decoded).value();
        }
        if (!bad && !_batches.empty() && entries.front().off != _batches.back().last + 1) bad = true;
        offset expected = _memory.end_offset();
        epoch last = _memory.last_epoch();
        for (const auto& entry : entries) {
            if (bad || entry.off < _memory.start_offset()) continue;
            if (entry.off != expected || entry.ep < last) {
                bad = true;
                break;
            }
            expected = entry.off + 1;
            last = entry.ep;
        }
        if (bad) {
            // A torn write at the crash (or damage): keep the prefix.
            logger()->warn("metadata log {}: cutting {} at byte {} (of {})", _directory.string(), s.path.string(),
                           position, bytes.size());
            if (::ftruncate(s.fd, static_cast<off_t>(position)) != 0) throw_errno("truncate", s.path);
            sync_fd(s.fd, s.path);
            stop = true;
            break;
        }
        for (auto& entry : entries) {
            if (entry.off >= _memory.start_offset()) _memory.append(std::move(entry));
        }
        const auto& batch = *next.value();
        _batches.push_back(batch_position{offset{batch.base_offset()}, offset{batch.last_offset()}, index, position});
        position += batch.size();
    }
    s.size = position;
}

void file_log::persist() {
    const auto changed = _memory.take_changes();
    if (changed.snapshot_changed) write_snapshot();
    const offset start = _memory.start_offset();
    offset from = changed.lowest_changed;
    const offset disk_end = _batches.empty() ? start : _batches.back().last + 1;
    if (from < start || disk_end < start) {
        // The log was emptied at a snapshot (a follower that took the
        // leader's): nothing on disk is worth keeping.
        remove_segments_from(0);
        from = start;
    } else if (changed.snapshot_changed) {
        drop_segments_below(start);
    }
    truncate_from(from);
    write_entries(_batches.empty() ? start : _batches.back().last + 1);
}

void file_log::truncate_from(offset from) {
    auto it = std::find_if(_batches.begin(), _batches.end(), [&](const batch_position& b) { return b.last >= from; });
    if (it == _batches.end()) return;
    const size_t index = it->segment;
    const uint64_t position = it->position;
    _batches.erase(it, _batches.end());
    remove_segments_from(index + 1);
    segment& s = _segments[index];
    if (position == 0) {
        remove_segments_from(index);
        return;
    }
    if (::ftruncate(s.fd, static_cast<off_t>(position)) != 0) throw_errno("truncate", s.path);
    s.size = position;
    sync_fd(s.fd, s.path);
}

void file_log::write_entries(offset from) {
    const offset end = _memory.end_offset();
    if (from >= end) return;
    const size_t segments_before = _segments.size();
    std::vector<size_t> written;
    const int64_t now = wall_clock_ms();
    offset o = from;
    while (o < end) {
        std::vector<log_entry> run{_memory.entry(o)};
        for (offset next = o + 1; next < end && run.size() < max_batch_entries; next = next + 1) {
            const log_entry& e = _memory.entry(next);
            if (e.ep != run.front().ep || e.kind != run.front().kind) break;
            run.push_back(e);
        }
        const auto bytes = wire::encode_entries(run, now);
        if (_segments.empty() || _segments.back().size >= _segment_bytes) open_segment(o);
        const size_t index = _segments.size() - 1;
        segment& s = _segments.back();
        write_all(s.fd, bytes.data(), bytes.size(), s.size, s.path);
        _batches.push_back(batch_position{run.front().off, run.back().off, index, s.size});
        s.size += bytes.size();
        if (written.empty() || written.back() != index) written.push_back(index);
        o = run.back().off + 1;
    }
    for (size_t index : written) sync_fd(_segments[index].fd, _segments[index].path);
    if (_segments.size() != segments_before) sync_directory(_directory);
}

void file_log::open_segment(offset base) {
    const fs::path path = _directory / segment_name(base);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("create", path);
    _segments.push_back(segment{base, path, fd, 0});
}

void file_log::remove_segments_from(size_t index) {
    if (index >= _segments.size()) return;
    for (size_t i = index; i < _segments.size(); ++i) {
        ::close(_segments[i].fd);
        fs::remove(_segments[i].path);
    }
    _segments.erase(_segments.begin() + static_cast<std::ptrdiff_t>(index), _segments.end());
    std::erase_if(_batches, [&](const batch_position& b) { return b.segment >= index; });
    sync_directory(_directory);
}

void file_log::drop_segments_below(offset start) {
    // A segment goes when the next one begins at or below the log start: all
    // its entries are in the snapshot. The last segment always stays.
    size_t drop = 0;
    while (drop + 1 < _segments.size() && _segments[drop + 1].base <= start) ++drop;
    if (drop == 0) return;
    for (size_t i = 0; i < drop; ++i) {
        ::close(_segments[i].fd);
        fs::remove(_segments[i].path);
    }
    _segments.erase(_segments.begin(), _segments.begin() + static_cast<std::ptrdiff_t>(drop));
    std::erase_if(_batches, [&](const batch_position& b) { return b.segment < drop; });
    for (auto& b : _batches) b.segment -= drop;
    sync_directory(_directory);
}

void file_log::write_snapshot() {
    const auto id = _memory.latest_snapshot();
    if (!id) return;
    const std::string& data = _memory.snapshot_data();
    write_file_atomically(_directory / snapshot_name(*id), data);
    for (const auto& item : fs::directory_iterator(_directory)) {
        const auto name = item.path().filename().string();
        if (name.ends_with(".checkpoint") && name != snapshot_name(*id)) fs::remove(item.path());
    }
}

// ---- quorum_state_file -------------------------------------------------------------

quorum_state_file::quorum_state_file(fs::path directory) : _path(directory / "quorum-state") {
    fs::create_directories(directory);
}

quorum_state quorum_state_file::read() const {
    if (!fs::exists(_path)) return {};
    const auto json = nlohmann::json::parse(read_whole_file(_path));
    quorum_state state;
    state.current_epoch = epoch{json.at("leaderEpoch").get<int32_t>()};
    const auto voted = json.at("votedId").get<int32_t>();
    const auto leader = json.at("leaderId").get<int32_t>();
    if (voted >= 0) state.voted_for = node_id{voted};
    if (leader >= 0) state.leader = node_id{leader};
    return state;
}

void quorum_state_file::write(const quorum_state& state) {
    nlohmann::json json{
        {"clusterId", ""},
        {"leaderId", state.leader ? state.leader->value() : -1},
        {"leaderEpoch", state.current_epoch.value()},
        {"votedId", state.voted_for ? state.voted_for->value() : -1},
        {"appliedOffset", 0},
        {"currentVoters", nullptr},
        {"data_version", 0},
    };
    write_file_atomically(_path, json.dump());
}

}  // namespace strata::raft
