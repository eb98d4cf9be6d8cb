#include "txn_index.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "file_util.h"

namespace strata::storage {
namespace {

void encode(const aborted_txn& t, uint8_t* p) {
    p[0] = uint8_t(uint16_t(txn_index::version) >> 8);
    p[1] = uint8_t(txn_index::version);
    put_be64(p + 2, uint64_t(t.producer_id));
    put_be64(p + 10, uint64_t(t.first_offset));
    put_be64(p + 18, uint64_t(t.last_offset));
    put_be64(p + 26, uint64_t(t.last_stable_offset));
}

aborted_txn decode(const uint8_t* p) {
    return aborted_txn{int64_t(get_be64(p + 2)), int64_t(get_be64(p + 10)), int64_t(get_be64(p + 18)),
                       int64_t(get_be64(p + 26))};
}

int16_t entry_version(const uint8_t* p) { return int16_t((uint16_t(p[0]) << 8) | p[1]); }

}  // namespace

result<void> txn_index::create() {
    auto file = open_file(_path, O_WRONLY | O_CREAT | O_TRUNC);
    if (!file) return file.error();
    std::lock_guard lock(_mutex);
    _bytes = 0;
    _last_marker = -1;
    return boost::outcome_v2::success();
}

result<bool> txn_index::open_existing() {
    auto file = open_file(_path, O_RDONLY);
    if (!file) {
        if (file.error().code == storage_errc::io_error && file.error().sys_errno == ENOENT) return false;
        return file.error();
    }
    auto size = file_size(file.value().fd());
    if (!size) return size.error();
    std::lock_guard lock(_mutex);
    _bytes = 0;
    _last_marker = -1;
    if (size.value() % entry_size != 0) return false;
    std::vector<uint8_t> bytes(size.value());
    auto n = pread_full(file.value().fd(), bytes, 0);
    if (!n) return n.error();
    if (n.value() != bytes.size()) return false;
    int64_t last = -1;
    for (size_t at = 0; at < bytes.size(); at += entry_size) {
        const auto t = decode(bytes.data() + at);
        if (entry_version(bytes.data() + at) != version || t.producer_id < 0 || t.first_offset < 0 ||
            t.first_offset > t.last_offset || t.last_offset < _base.value() || t.last_offset < last ||
            t.last_stable_offset < 0)
            return false;
        last = t.last_offset;
    }
    _bytes = bytes.size();
    _last_marker = last;
    return true;
}

result<void> txn_index::append(const aborted_txn& txn) {
    uint8_t entry[entry_size];
    encode(txn, entry);
    std::lock_guard lock(_mutex);
    auto file = open_file(_path, O_WRONLY | O_CREAT);
    if (!file) return file.error();
    if (auto r = pwrite_all(file.value().fd(), entry, _bytes); !r) return r;
    _bytes += entry_size;
    _last_marker = txn.last_offset;
    return boost::outcome_v2::success();
}

result<void> txn_index::truncate_to(offset to) {
    std::lock_guard lock(_mutex);
    if (_last_marker < to.value()) return boost::outcome_v2::success();
    auto all = read_all_locked();
    if (!all) return all.error();
    size_t keep = 0;
    while (keep < all.value().size() && all.value()[keep].last_offset < to.value()) ++keep;
    auto file = open_file(_path, O_WRONLY);
    if (!file) return file.error();
    if (auto r = truncate_file(file.value().fd(), keep * entry_size); !r) return r;
    _bytes = keep * entry_size;
    _last_marker = keep > 0 ? all.value()[keep - 1].last_offset : -1;
    return boost::outcome_v2::success();
}

result<void> txn_index::rewrite(const std::vector<aborted_txn>& txns) {
    std::vector<uint8_t> bytes(txns.size() * entry_size);
    for (size_t i = 0; i < txns.size(); ++i) encode(txns[i], bytes.data() + i * entry_size);
    std::lock_guard lock(_mutex);
    if (auto r = write_file_atomically(_path, bytes); !r) return r;
    _bytes = bytes.size();
    _last_marker = txns.empty() ? -1 : txns.back().last_offset;
    return boost::outcome_v2::success();
}

result<void> txn_index::flush() const {
    std::lock_guard lock(_mutex);
    if (_bytes == 0) return boost::outcome_v2::success();
    auto file = open_file(_path, O_RDONLY);
    if (!file) return file.error();
    return fdatasync_file(file.value().fd());
}

void txn_index::unlink() {
    std::lock_guard lock(_mutex);
    ::unlink(_path.c_str());
    _bytes = 0;
    _last_marker = -1;
}

result<std::vector<aborted_txn>> txn_index::read_all_locked() const {
    std::vector<aborted_txn> out;
    if (_bytes == 0) return out;
    auto file = open_file(_path, O_RDONLY);
    if (!file) return file.error();
    std::vector<uint8_t> bytes(_bytes);
    auto n = pread_full(file.value().fd(), bytes, 0);
    if (!n) return n.error();
    out.reserve(n.value() / entry_size);
    for (size_t at = 0; at + entry_size <= n.value(); at += entry_size) out.push_back(decode(bytes.data() + at));
    return out;
}

result<bool> txn_index::collect(int64_t from, int64_t upper, std::vector<aborted_txn>& out) const {
    std::lock_guard lock(_mutex);
    if (_bytes == 0 || _last_marker < from) return false;
    auto all = read_all_locked();
    if (!all) return all.error();
    for (const auto& t : all.value()) {
        if (t.last_offset >= from && t.first_offset < upper) out.push_back(t);
        if (t.last_stable_offset >= upper) return true;
    }
    return false;
}

size_t txn_index::entries() const {
    std::lock_guard lock(_mutex);
    return _bytes / entry_size;
}

}  // namespace strata::storage
