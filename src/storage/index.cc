#include "index.h"

#include <fcntl.h>

#include <algorithm>

namespace strata::storage {
namespace {

result<std::vector<uint8_t>> read_whole(int fd) {
    auto size = file_size(fd);
    if (!size) return size.error();
    std::vector<uint8_t> data(size.value());
    auto n = pread_full(fd, data, 0);
    if (!n) return n.error();
    data.resize(n.value());
    return data;
}

}  // namespace

result<bool> offset_index::open(const std::string& path, uint64_t log_size) {
    auto file = open_file(path, O_RDWR | O_CREAT);
    if (!file) return file.error();
    _file = std::move(file.value());
    auto data = read_whole(_file.fd());
    if (!data) return data.error();
    std::lock_guard lock(_mutex);
    _entries.clear();
    const auto& bytes = data.value();
    if (bytes.size() % entry_size != 0) return false;
    for (size_t p = 0; p < bytes.size(); p += entry_size) {
        index_entry e{_base + int64_t(get_be32(&bytes[p])), get_be32(&bytes[p + 4])};
        bool increasing = _entries.empty() || (e.at > _entries.back().at && e.position > _entries.back().position);
        if (!increasing || e.position >= log_size || e.at < _base) {
            _entries.clear();
            return false;
        }
        _entries.push_back(e);
    }
    return true;
}

result<void> offset_index::append(offset at, uint32_t position) {
    uint8_t buf[entry_size];
    put_be32(buf, uint32_t(at - _base));
    put_be32(buf + 4, position);
    std::lock_guard lock(_mutex);
    if (!_entries.empty() && (at <= _entries.back().at || position <= _entries.back().position)) {
        return boost::outcome_v2::success();  // never out of order
    }
    if (auto r = pwrite_all(_file.fd(), buf, _entries.size() * entry_size); !r) return r;
    _entries.push_back({at, position});
    return boost::outcome_v2::success();
}

index_entry offset_index::lookup(offset target) const {
    std::lock_guard lock(_mutex);
    auto it = std::upper_bound(_entries.begin(), _entries.end(), target,
                               [](offset t, const index_entry& e) { return t < e.at; });
    if (it == _entries.begin()) return {_base, 0};
    return *std::prev(it);
}

result<void> offset_index::truncate_to(offset to) {
    std::lock_guard lock(_mutex);
    auto it = std::lower_bound(_entries.begin(), _entries.end(), to,
                               [](const index_entry& e, offset t) { return e.at < t; });
    _entries.erase(it, _entries.end());
    return truncate_file(_file.fd(), _entries.size() * entry_size);
}

result<void> offset_index::reset() {
    std::lock_guard lock(_mutex);
    _entries.clear();
    return truncate_file(_file.fd(), 0);
}

result<void> offset_index::flush() { return fdatasync_file(_file.fd()); }

bool offset_index::full() const {
    std::lock_guard lock(_mutex);
    return _entries.size() >= _max_entries;
}

size_t offset_index::entries() const {
    std::lock_guard lock(_mutex);
    return _entries.size();
}

std::optional<index_entry> offset_index::last() const {
    std::lock_guard lock(_mutex);
    if (_entries.empty()) return std::nullopt;
    return _entries.back();
}

result<bool> time_index::open(const std::string& path) {
    auto file = open_file(path, O_RDWR | O_CREAT);
    if (!file) return file.error();
    _file = std::move(file.value());
    auto data = read_whole(_file.fd());
    if (!data) return data.error();
    std::lock_guard lock(_mutex);
    _entries.clear();
    const auto& bytes = data.value();
    if (bytes.size() % entry_size != 0) return false;
    for (size_t p = 0; p < bytes.size(); p += entry_size) {
        time_index_entry e{int64_t(get_be64(&bytes[p])), _base + int64_t(get_be32(&bytes[p + 8]))};
        bool increasing = _entries.empty() || (e.timestamp > _entries.back().timestamp && e.at >= _entries.back().at);
        if (!increasing || e.at < _base) {
            _entries.clear();
            return false;
        }
        _entries.push_back(e);
    }
    return true;
}

result<void> time_index::maybe_append(int64_t timestamp, offset at) {
    std::lock_guard lock(_mutex);
    if (!_entries.empty() && (timestamp <= _entries.back().timestamp || at < _entries.back().at)) {
        return boost::outcome_v2::success();
    }
    uint8_t buf[entry_size];
    put_be64(buf, uint64_t(timestamp));
    put_be32(buf + 8, uint32_t(at - _base));
    if (auto r = pwrite_all(_file.fd(), buf, _entries.size() * entry_size); !r) return r;
    _entries.push_back({timestamp, at});
    return boost::outcome_v2::success();
}

time_index_entry time_index::lookup(int64_t timestamp) const {
    std::lock_guard lock(_mutex);
    auto it = std::upper_bound(_entries.begin(), _entries.end(), timestamp,
                               [](int64_t t, const time_index_entry& e) { return t < e.timestamp; });
    if (it == _entries.begin()) return {-1, _base};
    return *std::prev(it);
}

result<void> time_index::truncate_to(offset to) {
    std::lock_guard lock(_mutex);
    auto it = std::lower_bound(_entries.begin(), _entries.end(), to,
                               [](const time_index_entry& e, offset t) { return e.at < t; });
    _entries.erase(it, _entries.end());
    return truncate_file(_file.fd(), _entries.size() * entry_size);
}

result<void> time_index::reset() {
    std::lock_guard lock(_mutex);
    _entries.clear();
    return truncate_file(_file.fd(), 0);
}

result<void> time_index::flush() { return fdatasync_file(_file.fd()); }

bool time_index::full() const {
    std::lock_guard lock(_mutex);
    return _entries.size() >= _max_entries;
}

std::optional<time_index_entry> time_index::last() const {
    std::lock_guard lock(_mutex);
    if (_entries.empty()) return std::nullopt;
    return _entries.back();
}

}  // namespace strata::storage
