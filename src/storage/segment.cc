#include "segment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include "lru_cache.h"
#include "strata/common/log.h"

namespace strata::storage {
namespace {

using protocol::record_batch_view;

constexpr size_t length_prefix = 12;  // baseOffset + batchLength
constexpr size_t scan_chunk = 4 << 20;

int64_t file_mtime_ms(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return 0;
    return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

enum class scan_action { next, stop, invalid };

struct scan_outcome {
    uint64_t position = 0;  // where the scan stopped
    bool invalid = false;   // stopped on bytes that are not a valid batch
};

// Walks batches in [start, end) through a reused buffer. A batch larger than
// the buffer grows it, but never beyond the bytes the file holds.
template <typename Fn>
result<scan_outcome> scan(int fd, uint64_t start, uint64_t end, Fn&& fn) {
    std::vector<uint8_t> buf;
    uint64_t buf_pos = start;
    size_t buf_len = 0;
    uint64_t pos = start;
    auto ensure = [&](size_t need) -> result<bool> {
        if (pos >= buf_pos && pos - buf_pos + need <= buf_len) return true;
        size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(need, scan_chunk), end - pos));
        if (buf.size() < want) buf.resize(want);
        auto n = pread_full(fd, {buf.data(), want}, pos);
        if (!n) return n.error();
        buf_pos = pos;
        buf_len = n.value();
        return buf_len >= need;
    };
    while (pos < end) {
        if (end - pos < length_prefix) return scan_outcome{pos, true};
        auto have = ensure(length_prefix);
        if (!have) return have.error();
        if (!have.value()) return scan_outcome{pos, true};
        auto length = static_cast<int32_t>(get_be32(buf.data() + (pos - buf_pos) + 8));
        if (length < int32_t(record_batch_view::header_size - length_prefix) ||
            uint64_t(length) + length_prefix > end - pos) {
            return scan_outcome{pos, true};
        }
        size_t size = length_prefix + size_t(length);
        have = ensure(size);
        if (!have) return have.error();
        if (!have.value()) return scan_outcome{pos, true};
        auto view = record_batch_view::from({buf.data() + (pos - buf_pos), size});
        if (!view) return scan_outcome{pos, true};
        switch (fn(view.value(), pos)) {
            case scan_action::next: break;
            case scan_action::stop: return scan_outcome{pos, false};
            case scan_action::invalid: return scan_outcome{pos, true};
        }
        pos += size;
    }
    return scan_outcome{pos, false};
}

}  // namespace

batch_info parse_batch_header(const uint8_t* h, uint64_t position) {
    batch_info info;
    info.base = offset(int64_t(get_be64(h)));
    info.size = uint32_t(length_prefix + get_be32(h + 8));
    info.epoch = leader_epoch(int32_t(get_be32(h + 12)));
    info.last = info.base + int64_t(int32_t(get_be32(h + 23)));
    info.max_timestamp = int64_t(get_be64(h + 35));
    info.position = position;
    return info;
}

segment::segment(std::string dir, offset base, const log_config& config)
    : _dir(std::move(dir)),
      _base(base),
      _index_interval_bytes(config.index_interval_bytes),
      _log_path(_dir + "/" + segment_file_name(base, log_suffix)),
      _file_cache_id(lru_cache::next_id()),
      _index(base, std::max<size_t>(1, config.segment_index_bytes / offset_index::entry_size)),
      _time_index(base, std::max<size_t>(1, config.segment_index_bytes / time_index::entry_size)),
      _txn_index(_dir + "/" + segment_file_name(base, txn_index_suffix), base),
      _next_offset(base.value()),
      _offset_of_max_timestamp(base) {}

segment::~segment() { log_file_cache().erase(_file_cache_id); }

result<std::shared_ptr<const file_handle>> segment::log_file() const {
    std::lock_guard lock(_file_mutex);
    if (_pinned) return _pinned;
    if (auto file = _cached.lock()) {
        // Still open: in the cache, or held by a reader after its eviction.
        if (!log_file_cache().get(_file_cache_id)) log_file_cache().put(_file_cache_id, file, 1);
        return file;
    }
    auto opened = open_file(_log_path, O_RDWR);
    if (!opened) return opened.error();
    auto file = std::make_shared<const file_handle>(std::move(opened.value()));
    _cached = file;
    log_file_cache().put(_file_cache_id, file, 1);
    return std::shared_ptr<const file_handle>(file);
}

result<std::shared_ptr<const file_handle>> segment::pinned_file() {
    {
        std::lock_guard lock(_file_mutex);
        if (_pinned) return _pinned;
    }
    auto file = log_file();
    if (!file) return file.error();
    std::lock_guard lock(_file_mutex);
    if (!_pinned) _pinned = file.value();
    log_file_cache().erase(_file_cache_id);
    return _pinned;
}

result<void> segment::pin_file() {
    // The index files go with the path: never load another segment's.
    _index.detach();
    _time_index.detach();
    auto file = log_file();
    if (!file) return file.error();
    // One step under the lock, so that a concurrent unpin_file() (the
    // flusher sealing it) cannot leave it unpinned.
    std::lock_guard lock(_file_mutex);
    if (!_pinned) _pinned = file.value();
    _pinned_for_good = true;
    log_file_cache().erase(_file_cache_id);
    return boost::outcome_v2::success();
}

void segment::unpin_file() {
    std::lock_guard lock(_file_mutex);
    if (!_pinned || _pinned_for_good) return;
    _cached = _pinned;
    log_file_cache().put(_file_cache_id, std::move(_pinned), 1);
    _pinned.reset();
}

bool segment::file_pinned() const {
    std::lock_guard lock(_file_mutex);
    return _pinned != nullptr;
}

result<size_t> segment::read(std::span<uint8_t> data, uint64_t position) const {
    auto file = log_file();
    if (!file) return file.error();
    return pread_full(file.value()->fd(), data, position);
}

result<std::shared_ptr<segment>> segment::create(const std::string& dir, offset base, const log_config& config,
                                                 int64_t now_ms) {
    std::shared_ptr<segment> s(new segment(dir, base, config));
    ::unlink((dir + "/" + segment_file_name(base, index_suffix)).c_str());
    ::unlink((dir + "/" + segment_file_name(base, time_index_suffix)).c_str());
    auto log = open_file(s->_log_path, O_RDWR | O_CREAT | O_TRUNC);
    if (!log) return log.error();
    s->_pinned = std::make_shared<const file_handle>(std::move(log.value()));
    if (auto r = s->_index.open(dir + "/" + segment_file_name(base, index_suffix), 0); !r) return r.error();
    if (auto r = s->_time_index.open(dir + "/" + segment_file_name(base, time_index_suffix)); !r) return r.error();
    if (auto r = s->_txn_index.create(); !r) return r.error();
    s->_created_ms = now_ms;
    return s;
}

result<std::shared_ptr<segment>> segment::open(const std::string& dir, offset base, const log_config& config,
                                               bool& needs_recovery, bool* txn_index_ok) {
    std::shared_ptr<segment> s(new segment(dir, base, config));
    auto txn_ok = s->_txn_index.open_existing();
    if (!txn_ok) return txn_ok.error();
    if (txn_index_ok) *txn_index_ok = txn_ok.value();
    // Every segment opens sealed: nothing of it stays on the heap or open
    // but in the caches (the log's first append makes the last one resident).
    auto log = s->log_file();
    if (!log) return log.error();
    const int fd = log.value()->fd();
    auto size = file_size(fd);
    if (!size) return size.error();
    s->_size.store(size.value());
    s->_created_ms = file_mtime_ms(s->_log_path);
    auto index_ok = s->_index.open_sealed(dir + "/" + segment_file_name(base, index_suffix), size.value());
    if (!index_ok) return index_ok.error();
    auto time_ok = s->_time_index.open_sealed(dir + "/" + segment_file_name(base, time_index_suffix));
    if (!time_ok) return time_ok.error();
    needs_recovery = !index_ok.value() || !time_ok.value();
    if (needs_recovery || size.value() == 0) return s;

    // The next offset and the largest timestamp come from the tail after the
    // last index entry: at most index.interval.bytes plus one batch to read.
    auto from = s->_index.last();
    if (auto t = s->_time_index.last()) {
        s->_max_timestamp.store(t->timestamp);
        s->_offset_of_max_timestamp = t->at;
    }
    bool first = true;
    auto tail = scan(fd, from ? from->position : 0, size.value(),
                     [&](const record_batch_view& b, uint64_t) {
                         if (first && !from) s->_first_batch_timestamp.store(b.max_timestamp());
                         first = false;
                         s->_next_offset.store(b.last_offset() + 1);
                         if (b.max_timestamp() > s->_max_timestamp.load()) {
                             s->_max_timestamp.store(b.max_timestamp());
                             s->_offset_of_max_timestamp = offset(b.last_offset());
                         }
                         return scan_action::next;
                     });
    if (!tail) return tail.error();
    if (tail.value().invalid) needs_recovery = true;
    if (from) {
        uint8_t header[record_batch_view::header_size];
        auto n = pread_full(fd, header, 0);
        if (n && n.value() == sizeof header) s->_first_batch_timestamp.store(parse_batch_header(header, 0).max_timestamp);
    }
    s->_bytes_since_index_entry = size.value() - (from ? from->position : 0);
    return s;
}

int64_t segment::time_waited_for_roll(int64_t now_ms, int64_t max_timestamp) const {
    int64_t first = _first_batch_timestamp.load(std::memory_order_acquire);
    return first >= 0 ? max_timestamp - first : now_ms - _created_ms;
}

int64_t segment::retention_timestamp() const {
    int64_t ts = max_timestamp();
    return ts >= 0 ? ts : file_mtime_ms(_log_path);
}

result<void> segment::index_batch(const batch_info& batch) {
    if (batch.max_timestamp > _max_timestamp.load(std::memory_order_relaxed)) {
        _max_timestamp.store(batch.max_timestamp, std::memory_order_release);
        _offset_of_max_timestamp = batch.last;
    }
    if (_first_batch_timestamp.load(std::memory_order_relaxed) < 0 && batch.position == 0) {
        _first_batch_timestamp.store(batch.max_timestamp, std::memory_order_release);
    }
    // Kafka's rule: an entry for the batch that crosses the interval, keyed
    // by its last offset, at its start position.
    if (_bytes_since_index_entry > _index_interval_bytes) {
        if (auto r = _index.append(batch.last, uint32_t(batch.position)); !r) return r;
        if (auto r = _time_index.maybe_append(_max_timestamp.load(), _offset_of_max_timestamp); !r) return r;
        _bytes_since_index_entry = 0;
    }
    _bytes_since_index_entry += batch.size;
    return boost::outcome_v2::success();
}

result<void> segment::append(const std::vector<batch_info>& batches, struct iovec* iov, int iov_count,
                             size_t bytes) {
    uint64_t position = size();
    auto file = pinned_file();
    if (!file) return file.error();
    const int fd = file.value()->fd();
    if (auto r = pwritev_all(fd, iov, iov_count, position); !r) {
        // Leave no partial batch behind for readers or the next append.
        (void)truncate_file(fd, position);
        return r;
    }
    for (const auto& b : batches) {
        if (auto r = index_batch(b); !r) return r;
    }
    _next_offset.store(batches.back().last.value() + 1, std::memory_order_release);
    _size.store(position + bytes, std::memory_order_release);
    return boost::outcome_v2::success();
}

result<std::optional<batch_info>> segment::read_header(int fd, uint64_t position, uint64_t end) const {
    if (position + record_batch_view::header_size > end) return std::optional<batch_info>{};
    uint8_t header[record_batch_view::header_size];
    auto n = pread_full(fd, header, position);
    if (!n) return n.error();
    if (n.value() < sizeof header) return std::optional<batch_info>{};
    auto info = parse_batch_header(header, position);
    if (info.size < record_batch_view::header_size || position + info.size > end) return std::optional<batch_info>{};
    return std::optional<batch_info>(info);
}

result<std::optional<batch_info>> segment::find_batch(offset target, uint64_t end) const {
    uint64_t pos = _index.lookup(target).position;
    auto file = log_file();
    if (!file) return file.error();
    for (;;) {
        auto header = read_header(file.value()->fd(), pos, end);
        if (!header || !header.value()) return header;
        if (header.value()->last >= target) return header;
        pos += header.value()->size;
    }
}

result<std::optional<batch_info>> segment::find_batch_by_time(int64_t timestamp, uint64_t end) const {
    auto entry = _time_index.lookup(timestamp);
    uint64_t pos = entry.timestamp < 0 ? 0 : _index.lookup(entry.at).position;
    auto file = log_file();
    if (!file) return file.error();
    for (;;) {
        auto header = read_header(file.value()->fd(), pos, end);
        if (!header || !header.value()) return header;
        if (header.value()->max_timestamp >= timestamp) return header;
        pos += header.value()->size;
    }
}

result<void> segment::for_each_batch(uint64_t start, uint64_t end, const batch_fn& fn) const {
    auto file = log_file();
    if (!file) return file.error();
    auto outcome = scan(file.value()->fd(), start, end, [&](const record_batch_view& b, uint64_t pos) {
        return fn(b, pos) ? scan_action::next : scan_action::stop;
    });
    if (!outcome) return outcome.error();
    if (outcome.value().invalid) return make_error(storage_errc::corrupt_state);
    return boost::outcome_v2::success();
}

result<recovery_stats> segment::recover(const std::function<void(const record_batch_view&)>& on_batch) {
    if (auto r = _index.reset(); !r) return r.error();
    if (auto r = _time_index.reset(); !r) return r.error();
    _bytes_since_index_entry = 0;
    _max_timestamp.store(-1);
    _first_batch_timestamp.store(-1);
    _offset_of_max_timestamp = _base;
    _next_offset.store(_base.value());
    auto file = pinned_file();
    if (!file) return file.error();
    const int fd = file.value()->fd();
    auto size = file_size(fd);
    if (!size) return size.error();

    protocol::batch_validation_options checks;
    checks.from_client = false;
    recovery_stats stats;
    offset expected = _base;
    result<void> index_status = boost::outcome_v2::success();
    auto outcome = scan(fd, 0, size.value(), [&](const record_batch_view& b, uint64_t pos) {
        if (b.last_offset_delta() < 0 || offset(b.base_offset()) < expected ||
            b.last_offset() - _base.value() > std::numeric_limits<int32_t>::max() ||
            !protocol::validate_batch(b, checks)) {
            return scan_action::invalid;
        }
        auto info = parse_batch_header(b.bytes().data(), pos);
        index_status = index_batch(info);
        if (!index_status) return scan_action::stop;
        expected = info.last.next();
        ++stats.batches;
        if (on_batch) on_batch(b);
        return scan_action::next;
    });
    if (!outcome) return outcome.error();
    if (!index_status) return index_status.error();
    stats.valid_bytes = outcome.value().position;
    stats.truncated_bytes = size.value() - stats.valid_bytes;
    if (stats.truncated_bytes > 0) {
        if (auto r = truncate_file(fd, stats.valid_bytes); !r) return r.error();
        if (auto r = fdatasync_file(fd); !r) return r.error();
    }
    _next_offset.store(expected.value());
    _size.store(stats.valid_bytes);
    return stats;
}

result<void> segment::truncate_to(offset to) {
    auto found = find_batch(to, size());
    if (!found) return found.error();
    if (!found.value()) return boost::outcome_v2::success();
    uint64_t position = found.value()->position;
    auto file = pinned_file();  // the truncated segment is the active one
    if (!file) return file.error();
    if (auto r = truncate_file(file.value()->fd(), position); !r) return r;
    if (auto r = fdatasync_file(file.value()->fd()); !r) return r;
    if (auto r = _index.truncate_to(to); !r) return r;
    if (auto r = _time_index.truncate_to(to); !r) return r;
    if (auto r = _txn_index.truncate_to(to); !r) return r;
    _size.store(position, std::memory_order_release);
    // Recompute what the cut batches contributed (a rare operation).
    int64_t max_ts = -1;
    offset max_at = _base;
    offset next = _base;
    auto walk = for_each_batch(0, position, [&](const record_batch_view& b, uint64_t) {
        if (b.max_timestamp() > max_ts) {
            max_ts = b.max_timestamp();
            max_at = offset(b.last_offset());
        }
        next = offset(b.last_offset() + 1);
        return true;
    });
    if (!walk) return walk;
    _max_timestamp.store(max_ts);
    _offset_of_max_timestamp = max_at;
    _next_offset.store(next.value(), std::memory_order_release);
    if (position == 0) _first_batch_timestamp.store(-1);
    auto last = _index.last();
    _bytes_since_index_entry = position - (last ? last->position : 0);
    return boost::outcome_v2::success();
}

result<void> segment::flush(bool indexes) {
    {
        auto file = log_file();
        if (!file) return file.error();
        if (auto r = fdatasync_file(file.value()->fd()); !r) return r;
    }
    if (!indexes) return boost::outcome_v2::success();
    // A finished segment's time index ends with its largest timestamp, so
    // that reopening it does not need a scan (Kafka's onBecomeInactiveSegment).
    if (_max_timestamp.load() >= 0) {
        if (auto r = _time_index.maybe_append(_max_timestamp.load(), _offset_of_max_timestamp); !r) return r;
    }
    if (auto r = _index.flush(); !r) return r;
    if (auto r = _time_index.flush(); !r) return r;
    if (auto r = _txn_index.flush(); !r) return r;
    // Flushed with its indexes means finished (the log's run_flush passes
    // indexes only for segments before the active one): seal it.
    _index.seal();
    _time_index.seal();
    unpin_file();
    return boost::outcome_v2::success();
}

void segment::unlink_files() {
    // Readers of this object must keep reading the unlinked file. If even
    // that open fails (no descriptors left), they get an error, not wrong data.
    (void)pin_file();
    ::unlink(_log_path.c_str());
    ::unlink((_dir + "/" + segment_file_name(_base, index_suffix)).c_str());
    ::unlink((_dir + "/" + segment_file_name(_base, time_index_suffix)).c_str());
    _txn_index.unlink();
}

result<std::shared_ptr<segment>> segment::replace_with_cleaned(const std::string& dir, offset base,
                                                               const log_config& config) {
    // Indexes go first: a crash before the rename leaves the old log without
    // indexes (rebuilt at open), never old indexes over the new log. The
    // .txnindex stays: the aborted ranges are still those of this segment's
    // markers (Kafka's cleaner keeps them too), and a consumer filtering a
    // range whose data the cleaner removed simply finds nothing to drop.
    ::unlink((dir + "/" + segment_file_name(base, index_suffix)).c_str());
    ::unlink((dir + "/" + segment_file_name(base, time_index_suffix)).c_str());
    std::string cleaned = dir + "/" + segment_file_name(base, cleaned_suffix);
    std::string target = dir + "/" + segment_file_name(base, log_suffix);
    if (::rename(cleaned.c_str(), target.c_str()) != 0) return io_error(errno);
    if (auto r = fsync_dir(dir); !r) return r.error();
    bool needs_recovery = false;
    auto s = open(dir, base, config, needs_recovery);
    if (!s) return s;
    auto stats = s.value()->recover({});
    if (!stats) return stats.error();
    if (auto r = s.value()->flush(true); !r) return r.error();
    return s;
}

}  // namespace strata::storage
