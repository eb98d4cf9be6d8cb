#include "cleaner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <unordered_map>

#include "strata/common/log.h"

namespace strata::storage {
namespace {

using protocol::record_batch_view;
constexpr size_t max_decompressed = size_t(256) << 20;
constexpr size_t map_entry_overhead = 48;

std::string key_of(const protocol::bytes_view& key) { return {reinterpret_cast<const char*>(key.data()), key.size()}; }

// Token bucket over the clock: waits whenever more bytes went through than
// the rate allows since the start.
class throttle {
public:
    throttle(const clock& time, const cleaner_options& options, cleaner_stats& stats)
        : _time(time), _options(options), _stats(stats), _start(time.now_ms()) {}

    void account(uint64_t bytes) {
        _bytes += bytes;
        double allowed_ms = double(_bytes) * 1000.0 / _options.io_bytes_per_second;
        int64_t elapsed = _time.now_ms() - _start;
        if (allowed_ms > double(elapsed) + 1) {
            auto wait = int64_t(allowed_ms) - elapsed;
            _stats.throttled_ms += wait;
            if (_options.sleep) _options.sleep(wait);
            else std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        }
    }

private:
    const clock& _time;
    const cleaner_options& _options;
    cleaner_stats& _stats;
    int64_t _start;
    uint64_t _bytes = 0;
};

using key_map = std::unordered_map<std::string, int64_t>;

// A control record's key is version (int16) then type (int16: 0 ABORT, 1 COMMIT).
bool is_abort_marker(const record_batch_view& b, std::vector<uint8_t>& scratch) {
    bool abort = false;
    (void)protocol::for_each_record(b, max_decompressed, scratch, [&](const protocol::record_view& r) {
        if (r.key && r.key->size() >= 4) abort = (((*r.key)[2] << 8) | (*r.key)[3]) == 0;
    });
    return abort;
}

// How each producer's transactions in the log end, from one scan of every
// segment (the active one too: a marker may be there). Kafka's cleaner reads
// the aborted ranges from the .txnindex; this one does not read it yet and
// keeps one entry per marker while a cleaning runs.
class txn_outcomes {
public:
    enum class fate { committed, aborted, open };

    result<void> scan(const std::vector<std::shared_ptr<segment>>& segments, std::vector<uint8_t>& scratch) {
        for (const auto& s : segments) {
            auto walked = s->for_each_batch(0, s->size(), [&](const record_batch_view& b, uint64_t) {
                if (!b.is_transactional()) return true;
                if (b.is_control()) {
                    _markers[b.producer_id()].emplace_back(b.base_offset(), is_abort_marker(b, scratch));
                    _open_first.erase(b.producer_id());
                } else {
                    _open_first.try_emplace(b.producer_id(), b.base_offset());
                }
                return true;
            });
            if (!walked) return walked.error();
        }
        return boost::outcome_v2::success();
    }

    // The fate of a transactional batch of `producer_id` at `at`: its
    // producer's first marker after it.
    fate of(int64_t producer_id, int64_t at) const {
        auto it = _markers.find(producer_id);
        if (it == _markers.end()) return fate::open;
        auto marker = std::upper_bound(it->second.begin(), it->second.end(), std::pair<int64_t, bool>{at, true});
        if (marker == it->second.end()) return fate::open;
        return marker->second ? fate::aborted : fate::committed;
    }

    // The first offset of the earliest transaction with no marker yet (Kafka's
    // first unstable offset): the cleaner maps no key at or past it.
    std::optional<int64_t> first_unstable() const {
        std::optional<int64_t> first;
        for (const auto& [producer, at] : _open_first) first = std::min(first.value_or(at), at);
        return first;
    }

private:
    std::unordered_map<int64_t, std::vector<std::pair<int64_t, bool>>> _markers;  // ascending offsets
    std::unordered_map<int64_t, int64_t> _open_first;
};

// What one cleaning carries from segment to segment: which producers'
// current transactions kept data (their COMMIT marker must stay).
struct txn_cleaning {
    const txn_outcomes& outcomes;
    std::unordered_map<int64_t, bool> retained;
    std::vector<uint8_t> scratch;
};

struct segment_cleaner {
    disk_log& log;
    const key_map& latest;
    int64_t now;
    throttle& io;
    cleaner_stats& stats;
    txn_cleaning& txns;
    std::vector<uint8_t> out;
    bool changed = false;
    bool kept_none = false;  // the last clean_data kept no record

    // Kafka's transactional cleaning (LogCleaner, KIP-98 and KIP-534): a
    // marker goes once no data of its transaction is left (always so for
    // ABORT, whose data goes at once) and its delete horizon (set when that
    // first holds: now + delete.retention.ms) has passed, so that a consumer
    // that read the data has time to read the marker.
    result<void> clean_control(const record_batch_view& b) {
        const bool abort = is_abort_marker(b, txns.scratch);
        bool kept_data = false;
        if (auto it = txns.retained.find(b.producer_id()); it != txns.retained.end()) {
            kept_data = it->second && !abort;
            txns.retained.erase(it);
        }
        if (kept_data) return keep_raw(b);
        auto horizon = b.delete_horizon_ms();
        if (horizon && now >= *horizon) {
            changed = true;
            stats.records_removed += b.record_count();
            return boost::outcome_v2::success();
        }
        if (horizon) return keep_raw(b);
        auto decoded = protocol::decode_records(b, max_decompressed);
        if (!decoded) return keep_raw(b);
        std::vector<const protocol::record_view*> all;
        for (const auto& r : decoded.value().records) all.push_back(&r);
        changed = true;
        return rebuild(b, all, now + log.config().delete_retention_ms, true);
    }

    // Appends what stays of the batch to `out`.
    result<void> clean_batch(const record_batch_view& b) {
        if (b.is_control()) return b.is_transactional() ? clean_control(b) : keep_raw(b);
        auto fate = txn_outcomes::fate::committed;
        if (b.is_transactional()) fate = txns.outcomes.of(b.producer_id(), b.base_offset());
        if (fate == txn_outcomes::fate::aborted) {  // an aborted transaction's data goes at once
            changed = true;
            stats.records_removed += b.record_count();
            return boost::outcome_v2::success();
        }
        // An open transaction's records are neither mapped nor dropped: it may still abort.
        if (fate == txn_outcomes::fate::open) return keep_raw(b);
        auto cleaned = clean_data(b);
        if (cleaned && b.is_transactional() && !kept_none) txns.retained[b.producer_id()] = true;
        return cleaned;
    }

    result<void> clean_data(const record_batch_view& b) {
        kept_none = false;
        auto decoded = protocol::decode_records(b, max_decompressed);
        if (!decoded) return keep_raw(b);  // never lose what cannot be read
        auto horizon = b.delete_horizon_ms();
        std::vector<const protocol::record_view*> kept;
        bool needs_horizon = false;
        for (const auto& r : decoded.value().records) {
            int64_t at = b.base_offset() + r.offset_delta;
            bool superseded = false;
            if (r.key) {
                auto it = latest.find(key_of(*r.key));
                superseded = it != latest.end() && it->second > at;
            }
            bool tombstone = r.key && !r.value;
            if (superseded || (tombstone && horizon && now >= *horizon)) continue;
            needs_horizon |= tombstone && !horizon;
            kept.push_back(&r);
        }
        stats.records_removed += int64_t(decoded.value().records.size() - kept.size());
        if (kept.size() == decoded.value().records.size() && !needs_horizon) return keep_raw(b);
        changed = true;
        if (kept.empty()) {
            kept_none = true;
            return boost::outcome_v2::success();
        }
        return rebuild(b, kept, horizon ? horizon : std::optional<int64_t>(now + log.config().delete_retention_ms));
    }

    result<void> keep_raw(const record_batch_view& b) {
        out.insert(out.end(), b.bytes().begin(), b.bytes().end());
        return boost::outcome_v2::success();
    }

    // A control batch always gets the horizon (it is why it is rebuilt).
    result<void> rebuild(const record_batch_view& b, const std::vector<const protocol::record_view*>& kept,
                         std::optional<int64_t> horizon, bool control = false) {
        bool tombstones = control;
        for (const auto* r : kept) tombstones |= r->key && !r->value;
        protocol::record_batch_options o;
        o.compression = b.compression();
        o.timestamp_kind = b.timestamp_kind();
        if (o.timestamp_kind == protocol::timestamp_type::log_append_time) o.log_append_time = b.max_timestamp();
        o.base_offset = b.base_offset();
        o.partition_leader_epoch = b.partition_leader_epoch();
        o.producer_id = b.producer_id();
        o.producer_epoch = b.producer_epoch();
        o.base_sequence = b.base_sequence();
        o.is_transactional = b.is_transactional();
        o.is_control = control;
        o.last_offset_delta = b.last_offset_delta();
        if (tombstones) o.delete_horizon_ms = horizon;
        protocol::record_batch_builder builder(o);
        for (const auto* r : kept) {
            builder.append_at(r->offset_delta, b.base_timestamp() + r->timestamp_delta, r->key, r->value, r->headers);
        }
        auto built = builder.build();
        if (!built) return invalid_records(built.error());
        out.insert(out.end(), built.value().begin(), built.value().end());
        return boost::outcome_v2::success();
    }
};

result<void> write_cleaned(const std::string& path, const std::vector<uint8_t>& data) {
    auto file = open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
    if (!file) return file.error();
    if (auto r = pwrite_all(file.value().fd(), data, 0); !r) return r;
    return fdatasync_file(file.value().fd());
}

result<bool> clean_segment(disk_log& log, const std::shared_ptr<segment>& s, const key_map& latest, throttle& io,
                           cleaner_stats& stats, txn_cleaning& txns) {
    uint64_t size = s->size();
    segment_cleaner cleaner{log, latest, log.time().now_ms(), io, stats, txns, {}, false};
    result<void> status = boost::outcome_v2::success();
    auto walked = s->for_each_batch(0, size, [&](const record_batch_view& b, uint64_t) {
        io.account(b.size());
        stats.bytes_read += b.size();
        status = cleaner.clean_batch(b);
        return bool(status);
    });
    if (!walked) return walked.error();
    if (!status) return status.error();
    if (!cleaner.changed) return false;
    io.account(cleaner.out.size());
    stats.bytes_written += cleaner.out.size();
    auto path = log.dir() + "/" + segment_file_name(s->base_offset(), segment::cleaned_suffix);
    if (auto r = write_cleaned(path, cleaner.out); !r) return r.error();
    return log.swap_cleaned(s, size);
}

}  // namespace

double dirty_ratio(const disk_log& log) {
    auto snap = log.snapshot();
    const auto& segments = *snap.segments;
    offset dirty_start = std::max(log.cleaner_checkpoint(), snap.log_start);
    uint64_t total = 0, dirty = 0;
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
        total += segments[i]->size();
        if (segments[i + 1]->base_offset() > dirty_start) dirty += segments[i]->size();
    }
    return total == 0 ? 0.0 : double(dirty) / double(total);
}

result<cleaner_stats> clean_log(disk_log& log, const cleaner_options& options) {
    cleaner_stats stats;
    auto snap = log.snapshot();
    const auto segments = *snap.segments;
    if (segments.size() < 2) return stats;
    offset dirty_start = std::max(log.cleaner_checkpoint(), snap.log_start);
    offset map_end = segments.back()->base_offset();
    if (dirty_start >= map_end) return stats;
    if (!options.ignore_dirty_ratio && dirty_ratio(log) < log.config().min_cleanable_dirty_ratio) return stats;

    throttle io(log.time(), options, stats);
    std::vector<uint8_t> scratch;
    txn_outcomes outcomes;
    if (auto r = outcomes.scan(segments, scratch); !r) return r.error();
    // Keys at or past the first unstable offset are not mapped this time,
    // and the checkpoint stops there, so the next cleaning maps them.
    const auto unstable = outcomes.first_unstable();
    key_map latest;
    size_t map_bytes = 0;
    bool mapped_any = false;
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
        if (segments[i + 1]->base_offset() <= dirty_start) continue;
        if (mapped_any && map_bytes > options.dedupe_buffer_bytes) {
            map_end = segments[i]->base_offset();
            break;
        }
        mapped_any = true;
        auto walked = segments[i]->for_each_batch(0, segments[i]->size(), [&](const record_batch_view& b, uint64_t) {
            io.account(b.size());
            if (b.is_control() || b.last_offset() < dirty_start.value()) return true;
            // An aborted or still open transaction's keys supersede nothing.
            if (b.is_transactional() && outcomes.of(b.producer_id(), b.base_offset()) != txn_outcomes::fate::committed)
                return true;
            if (unstable && b.base_offset() >= *unstable) return true;
            (void)protocol::for_each_record(b, max_decompressed, scratch, [&](const protocol::record_view& r) {
                int64_t at = b.base_offset() + r.offset_delta;
                if (!r.key || at < dirty_start.value()) return;
                auto [it, inserted] = latest.try_emplace(key_of(*r.key), at);
                if (inserted) map_bytes += r.key->size() + map_entry_overhead;
                else it->second = std::max(it->second, at);
            });
            return true;
        });
        if (!walked) return walked.error();
    }
    txn_cleaning txns{outcomes, {}, {}};
    for (size_t i = 0; i + 1 < segments.size() && segments[i]->base_offset() < map_end; ++i) {
        if (segments[i + 1]->base_offset() > map_end) break;
        auto swapped = clean_segment(log, segments[i], latest, io, stats, txns);
        if (!swapped) return swapped.error();
        stats.segments_rewritten += swapped.value() ? 1 : 0;
    }
    if (unstable && offset(*unstable) < map_end) map_end = std::max(dirty_start, offset(*unstable));
    log.set_cleaner_checkpoint(map_end);
    return stats;
}

}  // namespace strata::storage
