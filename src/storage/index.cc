#include "index.h"

#include <fcntl.h>

#include "lru_cache.h"

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

// What a cached index costs: its bytes plus the vector and the cache node.
size_t cache_cost(const std::vector<uint8_t>& data) { return data.size() + 128; }

}  // namespace

template <typename T>
sparse_index<T>::sparse_index(offset base, size_t max_entries)
    : _base(base), _max_entries(max_entries), _cache_id(lru_cache::next_id()) {}

template <typename T>
sparse_index<T>::~sparse_index() {
    index_cache().erase(_cache_id);
}

template <typename T>
result<bool> sparse_index<T>::open(const std::string& path, uint64_t log_size) {
    return load(path, log_size, true);
}

template <typename T>
result<bool> sparse_index<T>::open_sealed(const std::string& path, uint64_t log_size) {
    return load(path, log_size, false);
}

template <typename T>
result<bool> sparse_index<T>::load(const std::string& path, uint64_t log_size, bool keep) {
    auto file = open_file(path, O_RDWR | O_CREAT);
    if (!file) return file.error();
    auto data = read_whole(file.value().fd());
    if (!data) return data.error();
    auto& bytes = data.value();
    bool ok = bytes.size() % entry_size == 0;
    for (size_t p = 0; ok && p < bytes.size(); p += entry_size) {
        entry e = T::decode(&bytes[p], _base);
        ok = T::in_range(e, _base, log_size) && (p == 0 || T::follows(T::decode(&bytes[p - entry_size], _base), e));
    }
    if (!ok) bytes.clear();  // the caller rebuilds (reset(), then appends)
    std::lock_guard lock(_mutex);
    index_cache().erase(_cache_id);
    _path = path;
    set_count_locked(bytes.size() / entry_size, bytes.data());
    if (keep) {
        _file = std::move(file.value());
        _resident = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    } else {
        _file = file_handle();
        _resident.reset();
    }
    return ok;
}

template <typename T>
void sparse_index<T>::set_count_locked(size_t count, const uint8_t* data) {
    _count = count;
    if (count == 0) {
        _last.reset();
    } else {
        _last = T::decode(data + (count - 1) * entry_size, _base);
    }
}

template <typename T>
result<void> sparse_index<T>::make_resident_locked() {
    if (_resident) return boost::outcome_v2::success();
    if (_path.empty()) return make_error(storage_errc::closed);
    auto file = open_file(_path, O_RDWR | O_CREAT);
    if (!file) return file.error();
    auto data = read_whole(file.value().fd());
    if (!data) return data.error();
    // Exactly the entries counted at open (a file that failed its check
    // counts none; recovery resets it before appending).
    data.value().resize(std::min(data.value().size(), _count * entry_size));
    set_count_locked(data.value().size() / entry_size, data.value().data());
    index_cache().erase(_cache_id);
    _file = std::move(file.value());
    _resident = std::make_shared<std::vector<uint8_t>>(std::move(data.value()));
    return boost::outcome_v2::success();
}

template <typename T>
std::shared_ptr<const std::vector<uint8_t>> sparse_index<T>::entries_locked() const {
    if (_resident) return _resident;
    if (_count == 0) return nullptr;
    if (auto cached = index_cache().get(_cache_id)) return std::static_pointer_cast<const bytes>(cached);
    if (_path.empty()) return nullptr;  // detached
    auto file = open_file(_path, O_RDONLY);
    if (!file) return nullptr;
    auto data = read_whole(file.value().fd());
    if (!data) return nullptr;
    data.value().resize(std::min(data.value().size(), _count * entry_size) / entry_size * entry_size);
    auto loaded = std::make_shared<const bytes>(std::move(data.value()));
    index_cache().put(_cache_id, loaded, cache_cost(*loaded));
    return loaded;
}

template <typename T>
result<void> sparse_index<T>::append(const entry& e) {
    std::lock_guard lock(_mutex);
    if (_last && !T::follows(*_last, e)) return boost::outcome_v2::success();  // never out of order
    // A detached index belongs to a segment being deleted or replaced (the
    // flusher may still finish it): there is no file left to extend.
    if (!_resident && _path.empty()) return boost::outcome_v2::success();
    if (auto r = make_resident_locked(); !r) return r;
    uint8_t buf[entry_size];
    T::encode(buf, e, _base);
    if (auto r = pwrite_all(_file.fd(), buf, _count * entry_size); !r) return r;
    _resident->insert(_resident->end(), buf, buf + entry_size);
    ++_count;
    _last = e;
    return boost::outcome_v2::success();
}

template <typename T>
typename sparse_index<T>::entry sparse_index<T>::lookup(key_type target) const {
    std::lock_guard lock(_mutex);
    auto data = entries_locked();
    if (!data) return T::none(_base);
    // Upper bound: the first entry whose key is above `target`.
    size_t lo = 0;
    size_t hi = data->size() / entry_size;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!(target < T::key(T::decode(data->data() + mid * entry_size, _base)))) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) return T::none(_base);
    return T::decode(data->data() + (lo - 1) * entry_size, _base);
}

template <typename T>
result<void> sparse_index<T>::truncate_to(offset to) {
    std::lock_guard lock(_mutex);
    if (auto r = make_resident_locked(); !r) return r;
    auto& data = *_resident;
    // Lower bound on the offset, which never decreases in either kind.
    size_t lo = 0;
    size_t hi = _count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (T::decode(data.data() + mid * entry_size, _base).at < to) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    data.resize(lo * entry_size);
    set_count_locked(lo, data.data());
    return truncate_file(_file.fd(), data.size());
}

template <typename T>
result<void> sparse_index<T>::reset() {
    std::lock_guard lock(_mutex);
    if (!_resident) {
        if (_path.empty()) return make_error(storage_errc::closed);
        auto file = open_file(_path, O_RDWR | O_CREAT);
        if (!file) return file.error();
        index_cache().erase(_cache_id);
        _file = std::move(file.value());
        _resident = std::make_shared<std::vector<uint8_t>>();
    }
    _resident->clear();
    set_count_locked(0, nullptr);
    return truncate_file(_file.fd(), 0);
}

template <typename T>
result<void> sparse_index<T>::flush() {
    int fd;
    {
        std::lock_guard lock(_mutex);
        fd = _file.fd();
    }
    // A sealed index has no descriptor and nothing unsynced: it was flushed
    // before seal(), and only a resident index writes. The sync runs without
    // the lock (lookups go on); seal(), the only closer of a resident index's
    // descriptor, runs on the same thread after it (segment::flush).
    if (fd < 0) return boost::outcome_v2::success();
    return fdatasync_file(fd);
}

template <typename T>
void sparse_index<T>::seal() {
    std::shared_ptr<const bytes> entries;
    {
        std::lock_guard lock(_mutex);
        if (!_resident) return;
        entries = std::move(_resident);
        _resident.reset();
        _file = file_handle();
        // A segment just sealed is the likeliest to be read next (followers
        // and consumers near the end): its entries start out in the cache.
        if (!entries->empty()) index_cache().put(_cache_id, entries, cache_cost(*entries));
    }
}

template <typename T>
void sparse_index<T>::detach() {
    std::lock_guard lock(_mutex);
    _path.clear();
}

template <typename T>
bool sparse_index<T>::full() const {
    std::lock_guard lock(_mutex);
    return _count >= _max_entries;
}

template <typename T>
size_t sparse_index<T>::entries() const {
    std::lock_guard lock(_mutex);
    return _count;
}

template <typename T>
std::optional<typename sparse_index<T>::entry> sparse_index<T>::last() const {
    std::lock_guard lock(_mutex);
    return _last;
}

template <typename T>
bool sparse_index<T>::loaded() const {
    std::lock_guard lock(_mutex);
    return _resident != nullptr || index_cache().get(_cache_id) != nullptr;
}

template <typename T>
bool sparse_index<T>::is_resident() const {
    std::lock_guard lock(_mutex);
    return _resident != nullptr;
}

template class sparse_index<offset_index_traits>;
template class sparse_index<time_index_traits>;

}  // namespace strata::storage
