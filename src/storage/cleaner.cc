#include "cleaner.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <queue>
#include <unordered_map>
#include <unordered_set>

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
enum class marker_type { none, abort, commit, other };

marker_type marker_of(const record_batch_view& b, std::vector<uint8_t>& scratch) {
    auto type = marker_type::none;  // an emptied control batch (kept for its producer)
    (void)protocol::for_each_record(b, max_decompressed, scratch, [&](const protocol::record_view& r) {
        if (type != marker_type::none) return;
        type = marker_type::other;
        if (!r.key || r.key->size() < 4) return;
        const int type_id = ((*r.key)[2] << 8) | (*r.key)[3];
        if (type_id == 0) type = marker_type::abort;
        if (type_id == 1) type = marker_type::commit;
    });
    return type;
}

// Kafka's CleanedTransactionMetadata: which transactions the batches met in
// offset order belong to. Every batch below the last stable offset belongs to
// a complete transaction, and the aborted ones are in the .txnindex of the
// segments read (collect_aborted_txns, added segment by segment), so a
// transactional batch that is in no aborted range was committed. Nothing
// here grows with the log: the aborted entries wait in a heap by first
// offset until the batches reach them, and leave with their marker.
class txn_metadata {
public:
    void add_aborted(const std::vector<aborted_txn>& txns) {
        for (const auto& t : txns) _aborted.push(t);
    }

    // A data batch: true when its transaction aborted (it goes, and keeps
    // its ABORT marker for this cleaning).
    bool on_data_batch(const record_batch_view& b) {
        take_aborted_up_to(b.last_offset());
        if (!b.is_transactional()) return false;
        if (auto it = _ongoing_aborted.find(b.producer_id()); it != _ongoing_aborted.end()) {
            it->second.data_seen = true;
            return true;
        }
        _ongoing_committed.insert(b.producer_id());
        return false;
    }

    // A control batch: true when no batch of its transaction was met in this
    // cleaning, so that it may go (once its delete horizon passed). An ABORT
    // marker kept for the data removed now keeps its .txnindex entry.
    bool on_control_batch(const record_batch_view& b, std::vector<uint8_t>& scratch) {
        take_aborted_up_to(b.last_offset());
        switch (marker_of(b, scratch)) {
        case marker_type::none: return true;
        case marker_type::other: return false;
        case marker_type::commit: return _ongoing_committed.erase(b.producer_id()) == 0;
        case marker_type::abort: {
            auto it = _ongoing_aborted.find(b.producer_id());
            if (it == _ongoing_aborted.end()) return true;
            const bool seen = it->second.data_seen;
            if (seen) kept_aborted.push_back(it->second.txn);
            _ongoing_aborted.erase(it);
            return !seen;
        }
        }
        return false;
    }

    // The entries of the segment being rewritten whose marker stays with data (its new .txnindex).
    std::vector<aborted_txn> kept_aborted;

private:
    struct ongoing_abort {
        aborted_txn txn;
        bool data_seen = false;
    };
    struct later_first {
        bool operator()(const aborted_txn& a, const aborted_txn& b) const { return a.first_offset > b.first_offset; }
    };

    void take_aborted_up_to(int64_t at) {
        while (!_aborted.empty() && _aborted.top().first_offset <= at) {
            _ongoing_aborted.try_emplace(_aborted.top().producer_id, ongoing_abort{_aborted.top()});
            _aborted.pop();
        }
    }

    std::priority_queue<aborted_txn, std::vector<aborted_txn>, later_first> _aborted;
    std::unordered_map<int64_t, ongoing_abort> _ongoing_aborted;
    std::unordered_set<int64_t> _ongoing_committed;
};

// Kafka's lastRecordsOfActiveProducers, by producer id.
using last_batches = std::unordered_map<int64_t, producer_last_batch>;

struct segment_cleaner {
    disk_log& log;
    const key_map& latest;
    const last_batches& last;
    int64_t now;
    throttle& io;
    cleaner_stats& stats;
    txn_metadata& txns;
    std::vector<uint8_t>& scratch;
    std::vector<uint8_t> out;
    bool changed = false;

    // Kafka's checkBatchRetention: the batch that holds a producer's last
    // sequence or epoch stays, emptied if need be, so that a replay of the
    // log still knows the producer.
    bool last_of_producer(const record_batch_view& b) const {
        if (!b.has_producer_id()) return false;
        auto it = last.find(b.producer_id());
        if (it == last.end()) return false;
        if (it->second.last_data_offset >= 0) return b.last_offset() == it->second.last_data_offset;
        return b.is_control() && b.producer_epoch() == it->second.epoch;
    }

    // Appends what stays of the batch to `out`. Transactions (KIP-98, as
    // Kafka's LogCleaner): an aborted transaction's data goes at once; a
    // COMMIT or ABORT marker with no data of its transaction met in this
    // cleaning gets a delete horizon (now + delete.retention.ms, KIP-534) and
    // goes in a cleaning after it, so that a consumer that read the data has
    // time to read the marker.
    result<void> clean_batch(const record_batch_view& b) {
        if (b.is_control() && !b.is_transactional()) return keep_raw(b);
        const bool can_discard = b.is_control() ? txns.on_control_batch(b, scratch) : txns.on_data_batch(b);
        if (b.record_count() == 0) {  // emptied before: it stays only as a producer's last batch
            if (last_of_producer(b)) return keep_raw(b);
            changed = true;
            return boost::outcome_v2::success();
        }
        const auto horizon = b.delete_horizon_ms();
        const bool discard = b.is_control() ? can_discard && horizon && *horizon <= now : can_discard;
        if (discard) {
            changed = true;
            stats.records_removed += b.record_count();
            return last_of_producer(b) ? keep_empty(b) : boost::outcome_v2::success();
        }
        if (!b.is_control()) return clean_data(b);
        if (!can_discard || horizon) return keep_raw(b);
        // A marker whose transaction is empty: it gets its horizon now.
        auto decoded = protocol::decode_records(b, max_decompressed);
        if (!decoded) return keep_raw(b);
        std::vector<const protocol::record_view*> all;
        for (const auto& r : decoded.value().records) all.push_back(&r);
        changed = true;
        return rebuild(b, all, now + log.config().delete_retention_ms, true);
    }

    result<void> clean_data(const record_batch_view& b) {
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
        if (kept.empty()) return last_of_producer(b) ? keep_empty(b) : boost::outcome_v2::success();
        return rebuild(b, kept, horizon ? horizon : std::optional<int64_t>(now + log.config().delete_retention_ms));
    }

    result<void> keep_raw(const record_batch_view& b) {
        out.insert(out.end(), b.bytes().begin(), b.bytes().end());
        return boost::outcome_v2::success();
    }

    // What a rewritten batch keeps of the original's header: its offsets,
    // epoch, producer fields and timestamp kind.
    static protocol::record_batch_options header_of(const record_batch_view& b) {
        protocol::record_batch_options o;
        o.timestamp_kind = b.timestamp_kind();
        o.base_offset = b.base_offset();
        o.partition_leader_epoch = b.partition_leader_epoch();
        o.producer_id = b.producer_id();
        o.producer_epoch = b.producer_epoch();
        o.base_sequence = b.base_sequence();
        o.is_transactional = b.is_transactional();
        o.last_offset_delta = b.last_offset_delta();
        return o;
    }

    // Kafka's RETAIN_EMPTY (writeEmptyHeader): the header alone, with the
    // producer fields, offsets and attributes, uncompressed and no records.
    result<void> keep_empty(const record_batch_view& b) {
        auto o = header_of(b);
        o.log_append_time = b.max_timestamp();
        o.is_control = b.is_control();
        auto built = protocol::record_batch_builder(o).build();
        if (!built) return invalid_records(built.error());
        out.insert(out.end(), built.value().begin(), built.value().end());
        return boost::outcome_v2::success();
    }

    // A control batch always gets the horizon (it is why it is rebuilt).
    result<void> rebuild(const record_batch_view& b, const std::vector<const protocol::record_view*>& kept,
                         std::optional<int64_t> horizon, bool control = false) {
        bool tombstones = control;
        for (const auto* r : kept) tombstones |= r->key && !r->value;
        auto o = header_of(b);
        o.compression = b.compression();
        if (o.timestamp_kind == protocol::timestamp_type::log_append_time) o.log_append_time = b.max_timestamp();
        o.is_control = control;
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

result<bool> clean_segment(disk_log& log, const std::shared_ptr<segment>& s, const key_map& latest,
                           const last_batches& last, throttle& io, cleaner_stats& stats, txn_metadata& txns,
                           std::vector<uint8_t>& scratch) {
    uint64_t size = s->size();
    segment_cleaner cleaner{log, latest, last, log.time().now_ms(), io, stats, txns, scratch, {}, false};
    txns.kept_aborted.clear();
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
    // The entries kept are some of the segment's own (an ABORT marker's
    // entry is in the segment that holds it): as many means the same file,
    // which is left alone rather than rewritten (and synced) once more.
    const bool index_changed = txns.kept_aborted.size() != s->aborted_txns().entries();
    return log.swap_cleaned(s, size, index_changed ? &txns.kept_aborted : nullptr);
}

// Kafka's LogCleanerManager.cleanableOffsets and LogToClean's
// firstUncleanableOffset: the base offset of the segment that holds the
// first offset the cleaner may not reach: the last stable offset (an open
// transaction may still abort; never past the HW), the offset the owner's
// producer view describes, the active segment. nullopt until the owner
// published its producer state.
std::optional<offset> first_uncleanable(const disk_log& log, const segment_list& segments) {
    const auto lso = log.last_stable_offset();
    const auto producers = log.last_active_producers();
    if (!lso || !producers || segments.empty()) return std::nullopt;
    const offset bound = std::min({*lso, producers->at, segments.back()->base_offset()});
    for (size_t i = segments.size(); i-- > 0;)
        if (segments[i]->base_offset() <= bound) return segments[i]->base_offset();
    return segments.front()->base_offset();
}

}  // namespace

double dirty_ratio(const disk_log& log) {
    auto snap = log.snapshot();
    const auto& segments = *snap.segments;
    const auto uncleanable = first_uncleanable(log, segments);
    if (!uncleanable) return 0.0;
    offset dirty_start = std::max(log.cleaner_checkpoint(), snap.log_start);
    uint64_t total = 0, dirty = 0;
    for (size_t i = 0; i + 1 < segments.size() && segments[i + 1]->base_offset() <= *uncleanable; ++i) {
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
    const auto uncleanable = first_uncleanable(log, segments);
    if (!uncleanable) return stats;
    offset dirty_start = std::max(log.cleaner_checkpoint(), snap.log_start);
    offset map_end = *uncleanable;
    if (dirty_start >= map_end) return stats;
    if (!options.ignore_dirty_ratio && dirty_ratio(log) < log.config().min_cleanable_dirty_ratio) return stats;

    throttle io(log.time(), options, stats);
    std::vector<uint8_t> scratch;
    last_batches last;
    if (auto producers = log.last_active_producers(); producers && producers->producers)
        for (const auto& p : *producers->producers) last.emplace(p.producer_id, p);

    // The key map of [dirty_start, map_end): an aborted transaction's keys
    // supersede nothing (Kafka's buildOffsetMap).
    txn_metadata map_txns;
    auto aborted = log.collect_aborted_txns(dirty_start, map_end);
    if (!aborted) return aborted.error();
    map_txns.add_aborted(aborted.value());
    key_map latest;
    size_t map_bytes = 0;
    bool mapped_any = false;
    for (size_t i = 0; i + 1 < segments.size() && segments[i + 1]->base_offset() <= map_end; ++i) {
        if (segments[i + 1]->base_offset() <= dirty_start) continue;
        if (mapped_any && map_bytes > options.dedupe_buffer_bytes) {
            map_end = segments[i]->base_offset();
            break;
        }
        mapped_any = true;
        auto walked = segments[i]->for_each_batch(0, segments[i]->size(), [&](const record_batch_view& b, uint64_t) {
            io.account(b.size());
            if (b.is_control()) {
                if (b.is_transactional()) (void)map_txns.on_control_batch(b, scratch);
                return true;
            }
            if (map_txns.on_data_batch(b) || b.last_offset() < dirty_start.value()) return true;
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
    // Every segment below map_end, from the log start: the aborted
    // transactions of each come from its range of the .txnindex files (Kafka
    // collects them per segment too, so that the cleaned segment's index can
    // be written from them).
    txn_metadata txns;
    for (size_t i = 0; i + 1 < segments.size() && segments[i + 1]->base_offset() <= map_end; ++i) {
        auto in_segment = log.collect_aborted_txns(segments[i]->base_offset(), segments[i + 1]->base_offset());
        if (!in_segment) return in_segment.error();
        txns.add_aborted(in_segment.value());
        auto swapped = clean_segment(log, segments[i], latest, last, io, stats, txns, scratch);
        if (!swapped) return swapped.error();
        stats.segments_rewritten += swapped.value() ? 1 : 0;
    }
    log.set_cleaner_checkpoint(map_end);
    return stats;
}

}  // namespace strata::storage
