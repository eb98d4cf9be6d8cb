#include "strata/raft/memory_log.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace strata::raft {

epoch memory_log::last_epoch() const {
    if (!_entries.empty()) {
        return _entries.back().ep;
    }
    return _snapshot ? _snapshot->ep : epoch{0};
}

const log_entry& memory_log::entry(offset o) const {
    if (o < _start || o >= end_offset()) {
        throw std::out_of_range(fmt::format("raft log entry {} outside [{}, {})", o, _start, end_offset()));
    }
    return _entries[static_cast<size_t>(o.value() - _start.value())];
}

std::optional<epoch_end_offset> memory_log::end_offset_for_epoch(epoch e) const {
    // The last retained epoch start with epoch <= e.
    auto it = std::upper_bound(_epochs.begin(), _epochs.end(), e,
                               [](epoch value, const epoch_start& s) { return value < s.ep; });
    if (it != _epochs.begin()) {
        auto found = std::prev(it);
        offset end = it == _epochs.end() ? end_offset() : it->start;
        return epoch_end_offset{found->ep, end};
    }
    // Older than every retained entry: the snapshot's epoch may still answer.
    offset first_retained = _epochs.empty() ? end_offset() : _epochs.front().start;
    if (_snapshot) {
        if (_snapshot->ep <= e) {
            return epoch_end_offset{_snapshot->ep, first_retained};
        }
        return std::nullopt;
    }
    if (_start == offset{0}) {
        return epoch_end_offset{epoch{0}, offset{0}};
    }
    return std::nullopt;
}

void memory_log::append(log_entry entry) {
    if (entry.off != end_offset() || entry.ep < last_epoch()) {
        throw std::logic_error(fmt::format("raft log append of ({}, epoch {}) at end offset {} last epoch {}",
                                           entry.off, entry.ep, end_offset(), last_epoch()));
    }
    if (_epochs.empty() || _epochs.back().ep != entry.ep) {
        _epochs.push_back({entry.ep, entry.off});
    }
    note_change(entry.off);
    _entries.push_back(std::move(entry));
}

void memory_log::truncate_suffix(offset from) {
    if (from < _start) {
        throw std::logic_error(fmt::format("raft log truncation to {} below start {}", from, _start));
    }
    if (from >= end_offset()) {
        return;
    }
    note_change(from);
    _entries.resize(static_cast<size_t>(from.value() - _start.value()));
    while (!_epochs.empty() && _epochs.back().start >= from) {
        _epochs.pop_back();
    }
}

std::string memory_log::read_snapshot(int64_t position, int32_t max_bytes) const {
    if (position < 0 || position > snapshot_size()) {
        return {};
    }
    return _snapshot_data.substr(static_cast<size_t>(position), static_cast<size_t>(std::max(max_bytes, 0)));
}

void memory_log::install_snapshot(snapshot_id id, std::string data) {
    bool keeps_suffix = id.end_offset > _start && id.end_offset <= end_offset() &&
                        entry(id.end_offset - 1).ep == id.ep;
    if (keeps_suffix) {
        _entries.erase(_entries.begin(), _entries.begin() + (id.end_offset.value() - _start.value()));
    } else {
        note_change(std::min(id.end_offset, _start));
        _entries.clear();
    }
    _start = id.end_offset;
    _epochs.erase(std::remove_if(_epochs.begin(), _epochs.end(),
                                 [&](const epoch_start& s) { return _entries.empty() || s.ep < _entries.front().ep; }),
                  _epochs.end());
    if (!_epochs.empty()) {
        _epochs.front().start = _start;
    }
    _snapshot = id;
    _snapshot_data = std::move(data);
    _snapshot_changed = true;
}

void memory_log::note_change(offset o) {
    if (!_lowest_changed || o < *_lowest_changed) {
        _lowest_changed = o;
    }
}

memory_log::changes memory_log::take_changes() {
    changes result{_lowest_changed.value_or(end_offset()), _snapshot_changed};
    _lowest_changed.reset();
    _snapshot_changed = false;
    return result;
}

void memory_log::sync_from(const memory_log& source, const changes& changed) {
    if (changed.snapshot_changed || changed.lowest_changed < _start || source._start != _start) {
        *this = source;
        _lowest_changed.reset();
        _snapshot_changed = false;
        return;
    }
    truncate_suffix(std::min(changed.lowest_changed, end_offset()));
    for (offset o = end_offset(); o < source.end_offset(); o = o + 1) {
        append(source.entry(o));
    }
    _lowest_changed.reset();
}

}  // namespace strata::raft
