#include "leader_epoch_cache.h"

#include <algorithm>

#include "file_util.h"

namespace strata::storage {
namespace {
constexpr uint8_t format_version = 1;
}

bool leader_epoch_cache::assign(leader_epoch epoch, offset start) {
    std::lock_guard lock(_mutex);
    if (!_entries.empty() && (epoch <= _entries.back().epoch || start < _entries.back().start)) return false;
    // An epoch with no records of its own is superseded by one that starts
    // at the same offset (Kafka drops such entries too).
    if (!_entries.empty() && start == _entries.back().start) _entries.pop_back();
    _entries.push_back({epoch, start});
    return true;
}

bool leader_epoch_cache::truncate_from_end(offset end) {
    std::lock_guard lock(_mutex);
    auto it = std::find_if(_entries.begin(), _entries.end(), [&](const epoch_entry& e) { return e.start >= end; });
    if (it == _entries.end()) return false;
    _entries.erase(it, _entries.end());
    return true;
}

bool leader_epoch_cache::truncate_from_start(offset start) {
    std::lock_guard lock(_mutex);
    // The last entry starting at or before `start` covers it.
    auto covering = std::find_if(_entries.rbegin(), _entries.rend(), [&](const epoch_entry& e) { return e.start <= start; });
    if (covering == _entries.rend()) return false;
    auto first_kept = std::prev(covering.base());
    bool changed = first_kept != _entries.begin() || first_kept->start != start;
    first_kept->start = start;
    _entries.erase(_entries.begin(), first_kept);
    return changed;
}

std::optional<epoch_end> leader_epoch_cache::end_offset_for(leader_epoch requested, offset log_end) const {
    std::lock_guard lock(_mutex);
    if (requested.value() < 0 || _entries.empty()) return std::nullopt;
    if (requested == _entries.back().epoch) return epoch_end{requested, log_end};
    auto higher = std::find_if(_entries.begin(), _entries.end(), [&](const epoch_entry& e) { return e.epoch > requested; });
    if (higher == _entries.end()) return std::nullopt;
    // Kafka answers an epoch older than the history with that epoch and the
    // start of the first one it knows.
    if (higher == _entries.begin()) return epoch_end{requested, higher->start};
    return epoch_end{std::prev(higher)->epoch, higher->start};
}

std::optional<leader_epoch> leader_epoch_cache::epoch_for(offset o) const {
    std::lock_guard lock(_mutex);
    std::optional<leader_epoch> out;
    for (const auto& e : _entries) {
        if (e.start > o) break;
        out = e.epoch;
    }
    return out;
}

std::optional<leader_epoch> leader_epoch_cache::latest_epoch() const {
    std::lock_guard lock(_mutex);
    if (_entries.empty()) return std::nullopt;
    return _entries.back().epoch;
}

std::vector<epoch_entry> leader_epoch_cache::entries() const {
    std::lock_guard lock(_mutex);
    return _entries;
}

void leader_epoch_cache::clear() {
    std::lock_guard lock(_mutex);
    _entries.clear();
}

std::string leader_epoch_cache::encode() const {
    std::lock_guard lock(_mutex);
    std::string out(5 + _entries.size() * 12, '\0');
    auto* p = reinterpret_cast<uint8_t*>(out.data());
    p[0] = format_version;
    put_be32(p + 1, uint32_t(_entries.size()));
    p += 5;
    for (const auto& e : _entries) {
        put_be32(p, uint32_t(e.epoch.value()));
        put_be64(p + 4, uint64_t(e.start.value()));
        p += 12;
    }
    return out;
}

result<leader_epoch_cache> leader_epoch_cache::decode(std::string_view bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    if (bytes.size() < 5 || p[0] != format_version) return make_error(storage_errc::corrupt_state);
    uint32_t count = get_be32(p + 1);
    if (bytes.size() != 5 + size_t(count) * 12) return make_error(storage_errc::corrupt_state);
    leader_epoch_cache cache;
    p += 5;
    for (uint32_t i = 0; i < count; ++i, p += 12) {
        epoch_entry e{leader_epoch(int32_t(get_be32(p))), offset(int64_t(get_be64(p + 4)))};
        if (!cache._entries.empty() && (e.epoch <= cache._entries.back().epoch || e.start < cache._entries.back().start))
            return make_error(storage_errc::corrupt_state);
        cache._entries.push_back(e);
    }
    return cache;
}

std::string log_checkpoints::encode() const {
    std::string out(33, '\0');
    auto* p = reinterpret_cast<uint8_t*>(out.data());
    p[0] = format_version;
    put_be64(p + 1, uint64_t(log_start.value()));
    put_be64(p + 9, uint64_t(recovery_point.value()));
    put_be64(p + 17, uint64_t(high_watermark.value()));
    put_be64(p + 25, uint64_t(cleaner_checkpoint.value()));
    return out;
}

result<log_checkpoints> log_checkpoints::decode(std::string_view bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    if (bytes.size() != 33 || p[0] != format_version) return make_error(storage_errc::corrupt_state);
    log_checkpoints c;
    c.log_start = offset(int64_t(get_be64(p + 1)));
    c.recovery_point = offset(int64_t(get_be64(p + 9)));
    c.high_watermark = offset(int64_t(get_be64(p + 17)));
    c.cleaner_checkpoint = offset(int64_t(get_be64(p + 25)));
    return c;
}

std::string partition_state_prefix(const topic_partition& tp) { return "storage/" + tp.dir_name() + "/"; }
std::string checkpoints_key(const topic_partition& tp) { return partition_state_prefix(tp) + "checkpoints"; }
std::string leader_epochs_key(const topic_partition& tp) { return partition_state_prefix(tp) + "leader_epochs"; }
std::string producer_snapshot_key(const topic_partition& tp) {
    return partition_state_prefix(tp) + "producer_snapshot";
}

}  // namespace strata::storage
