#include "disk_log.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "strata/common/log.h"
#include "strata/metrics/registry.h"
#include "strata/protocol/crc32c.h"

namespace strata::storage {
namespace {

using protocol::record_batch_view;
namespace fs = std::filesystem;

const auto& logger() {
    static const auto l = log::get("storage");
    return l;
}

constexpr size_t header_size = record_batch_view::header_size;
constexpr int16_t timestamp_type_bit = 0x08;

struct stamped_header {
    std::array<uint8_t, header_size> bytes;
};

// The header as it is written: base offset and epoch stamped (outside the
// CRC) when the log assigns offsets; the timestamp type bit, maxTimestamp and
// CRC as validation decided (log_validator.h), which rewrote them only when
// they differ from what the client sent.
void stamp(stamped_header& h, const validated_batch& batch, std::optional<offset> base,
           std::optional<leader_epoch> epoch) {
    std::copy_n(batch.view.bytes().data(), header_size, h.bytes.data());
    if (base) put_be64(h.bytes.data(), uint64_t(base->value()));
    if (epoch) put_be32(h.bytes.data() + 12, uint32_t(epoch->value()));
    uint8_t* attr = h.bytes.data() + record_batch_view::attributes_offset;
    uint16_t attributes = uint16_t((attr[0] << 8) | attr[1]);
    attributes = batch.log_append_time ? (attributes | timestamp_type_bit) : (attributes & ~timestamp_type_bit);
    attr[0] = uint8_t(attributes >> 8);
    attr[1] = uint8_t(attributes);
    put_be64(h.bytes.data() + 35, uint64_t(batch.max_timestamp));
    put_be32(h.bytes.data() + record_batch_view::crc_offset, batch.crc);
}

storage_error to_storage_error(const validation_failure& f) {
    return invalid_records(f.cause.value_or(protocol::record_error::malformed_record));
}

}  // namespace

namespace {
std::atomic<uint64_t> directory_sync_count{0};

// Every directory sync of a partition log goes through here, counted (tests
// check on which path they happen).
result<void> sync_dir(const std::string& path) {
    directory_sync_count.fetch_add(1, std::memory_order_relaxed);
    return fsync_dir(path);
}
}  // namespace

uint64_t disk_log::directory_syncs() { return directory_sync_count.load(std::memory_order_relaxed); }

disk_log::disk_log(std::string dir, topic_partition tp, log_config config, disk_log_context context)
    : _dir(std::move(dir)), _tp(std::move(tp)), _config(config), _context(context) {}

disk_log::~disk_log() = default;

result<std::shared_ptr<disk_log>> disk_log::open(std::string dir, topic_partition tp, log_config config,
                                                 disk_log_context context, bool recover) {
    std::error_code ec;
    const bool created = fs::create_directories(dir, ec);
    if (ec) return io_error(ec.value());
    std::shared_ptr<disk_log> log(new disk_log(std::move(dir), std::move(tp), config, context));
    if (auto r = log->load(recover && !created, created); !r) return r.error();
    return log;
}

result<void> disk_log::sync_created_dir() {
    if (!_dir_unsynced) return boost::outcome_v2::success();
    if (auto r = sync_dir(_dir); !r) return r;
    auto* syncs = _context.parent_syncs;
    uint64_t number = 0;
    if (syncs) {
        std::lock_guard lock(syncs->mutex);
        if (syncs->completed < _parent_sync_needed) number = ++syncs->started;
    }
    if (!syncs || number > 0) {
        const auto slash = _dir.find_last_of('/');
        if (auto r = sync_dir(slash == std::string::npos ? "." : _dir.substr(0, slash)); !r) return r;
        if (syncs) {
            std::lock_guard lock(syncs->mutex);
            syncs->completed = std::max(syncs->completed, number);
        }
    }
    _dir_unsynced = false;
    return boost::outcome_v2::success();
}

result<void> disk_log::load(bool recover, bool created) {
    log_checkpoints checkpoints{};
    auto stored = _context.store->get(checkpoints_key(_tp));
    if (!stored) return stored.error();
    if (stored.value()) {
        auto decoded = log_checkpoints::decode(*stored.value());
        if (!decoded) return decoded.error();
        checkpoints = decoded.value();
    }
    auto epochs = _context.store->get(leader_epochs_key(_tp));
    if (!epochs) return epochs.error();
    std::vector<epoch_entry> stored_epochs;
    if (epochs.value()) {
        auto decoded = leader_epoch_cache::decode(*epochs.value());
        if (!decoded) return decoded.error();
        _epochs = std::move(decoded.value());
        stored_epochs = _epochs.entries();
    }

    // Leftovers of an interrupted cleaning or deletion go; bases come from .log files.
    std::vector<offset> bases;
    for (const auto& entry : fs::directory_iterator(_dir)) {
        std::string name = entry.path().filename().string();
        if (name.ends_with(segment::cleaned_suffix) || name.ends_with(".tmp")) {
            fs::remove(entry.path());
        } else if (auto base = parse_segment_file_name(name, segment::log_suffix)) {
            bases.push_back(*base);
        }
    }
    std::sort(bases.begin(), bases.end());

    auto segments = std::make_shared<segment_list>();
    std::vector<bool> broken;
    for (offset base : bases) {
        bool needs_recovery = false;
        bool txn_index_ok = true;
        auto s = segment::open(_dir, base, _config, needs_recovery, &txn_index_ok);
        if (!s) return s.error();
        segments->push_back(s.value());
        broken.push_back(needs_recovery);
        if (!txn_index_ok && !_txn_index_stale_from) {
            logger()->warn("{}: segment {} has no valid .txnindex; it is rebuilt from the log", _tp, base);
            _txn_index_stale_from = base;
        }
    }
    if (segments->empty()) {
        auto s = segment::create(_dir, checkpoints.log_start, _config, _context.time->now_ms());
        if (!s) return s.error();
        segments->push_back(s.value());
        broken.push_back(false);
        if (created) {
            _dir_unsynced = true;  // synced by the first flush (open() says why)
            if (auto* syncs = _context.parent_syncs) {
                std::lock_guard lock(syncs->mutex);
                _parent_sync_needed = syncs->started + 1;  // one begun after the directory was made
            }
        } else if (auto r = sync_dir(_dir); !r) {
            return r;
        }
    }
    publish(segments, segments->back()->next_offset(), std::max(checkpoints.log_start, segments->front()->base_offset()));

    // Segments before the recovery point were synced with their indexes; only
    // a failed sanity check sends one of them through recovery.
    size_t first_unsafe = segments->size();
    if (recover) {
        first_unsafe = 0;
        for (size_t i = 0; i < segments->size(); ++i)
            if ((*segments)[i]->base_offset() <= checkpoints.recovery_point) first_unsafe = i;
    }
    for (size_t i = 0; i < first_unsafe; ++i) {
        if (broken[i]) {
            logger()->warn("{}: segment {} failed its index check; recovering from it", _tp, (*segments)[i]->base_offset());
            first_unsafe = i;
            break;
        }
    }
    // What recovery finds valid may exist only in the page cache: the
    // recovery point stays where it was until the flusher syncs it (requested
    // below, in the background, so that the scan alone sets the start time).
    std::optional<offset> unsynced_from;
    if (first_unsafe < segments->size()) {
        unsynced_from = (*segments)[first_unsafe]->base_offset();
        // Recovery may cut the log anywhere: the aborted-transaction indexes
        // from here on are rebuilt with the producer state (Kafka rebuilds
        // them in LogSegment.recover from the producer state it replays).
        _txn_index_stale_from = std::min(_txn_index_stale_from.value_or(*unsynced_from), *unsynced_from);
        if (auto r = recover_from(first_unsafe); !r) return r;
    }

    auto snap = snapshot();
    offset end = snap.end;
    offset log_start = std::clamp(checkpoints.log_start, snap.segments->front()->base_offset(), end);
    publish(snap.segments, end, log_start);
    _epochs.truncate_from_end(end);
    // Like Kafka, entries at or past the recovered end go (their batches are
    // gone), except one starting exactly at the end: the entry an election
    // assigned (assign_epoch_start) has no batch, so recovery cannot rebuild
    // it, and "this epoch starts at the log end" is still true of the log
    // (were it the epoch of lost batches, a leader that disagrees has the
    // follower truncate at its end, which drops it). Kafka drops it here and
    // reassigns it at the next election; keeping it answers exactly between.
    for (const auto& e : stored_epochs)
        if (e.start == end) _epochs.assign(e.epoch, end);
    _high_watermark.store(std::min(checkpoints.high_watermark, end).value());
    _cleaner_checkpoint.store(checkpoints.cleaner_checkpoint.value());
    {
        std::lock_guard lock(_flush_mutex);
        _flushed = unsynced_from ? std::min(*unsynced_from, end) : end;
        _recovery_point = _flushed;
        _last_flush_ms = _context.time->now_ms();
    }
    if (auto r = write_epochs(); !r) return r;
    // A snapshot past the recovered end describes batches recovery cut off
    // (or never reached the disk); new appends would make it look valid again.
    if (auto r = drop_producer_snapshot_after(end); !r) return r;
    if (auto r = write_checkpoints(!created); !r) return r;
    if (unsynced_from) request_flush();
    return boost::outcome_v2::success();
}

// Scans segments [first, end) batch by batch; cuts the log at the first
// invalid byte (dropping every later segment) and rebuilds epochs and indexes.
result<void> disk_log::recover_from(size_t first) {
    auto snap = snapshot();
    auto segments = std::make_shared<segment_list>(*snap.segments);
    _epochs.truncate_from_end((*segments)[first]->base_offset());
    offset expected = first > 0 ? (*segments)[first - 1]->next_offset() : offset(0);
    size_t keep = segments->size();
    uint64_t scanned = 0;
    for (size_t i = first; i < segments->size(); ++i) {
        auto& s = (*segments)[i];
        if (s->base_offset() < expected) {  // overlaps its predecessor: cannot be trusted
            keep = i;
            break;
        }
        auto stats = s->recover([&](const record_batch_view& b) {
            _epochs.assign(leader_epoch(b.partition_leader_epoch()), offset(b.base_offset()));
        });
        if (!stats) return stats.error();
        scanned += stats.value().valid_bytes;
        expected = s->next_offset();
        if (stats.value().truncated_bytes > 0) {
            logger()->warn("{}: segment {} truncated at byte {} ({} invalid bytes)", _tp, s->base_offset(),
                           stats.value().valid_bytes, stats.value().truncated_bytes);
            keep = i + 1;
            break;
        }
    }
    for (size_t i = keep; i < segments->size(); ++i) {
        logger()->warn("{}: deleting segment {} after the point of corruption", _tp, (*segments)[i]->base_offset());
        (*segments)[i]->unlink_files();
    }
    segments->resize(keep);
    if (segments->empty()) {
        auto s = segment::create(_dir, expected, _config, _context.time->now_ms());
        if (!s) return s.error();
        segments->push_back(s.value());
    }
    if (auto r = sync_dir(_dir); !r) return r;
    logger()->info("{}: recovered {} bytes from offset {}", _tp, scanned, (*segments)[std::min(first, keep - 1)]->base_offset());
    publish(segments, segments->back()->next_offset(), snap.log_start);
    return boost::outcome_v2::success();
}

// ---- aborted-transaction index ---------------------------------------------------

namespace {
// The segment holding offset `o`: the last whose base is <= o (the first if none).
size_t segment_holding(const segment_list& segments, offset o) {
    auto it = std::upper_bound(segments.begin(), segments.end(), o,
                               [](offset value, const std::shared_ptr<segment>& s) { return value < s->base_offset(); });
    return it == segments.begin() ? 0 : size_t(it - segments.begin()) - 1;
}
}  // namespace

result<void> disk_log::append_aborted_txn(const aborted_txn& txn) {
    if (offline()) return log_dir_offline();
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    auto snap = snapshot();
    auto& s = (*snap.segments)[segment_holding(*snap.segments, offset(txn.last_offset))];
    return watch(s->aborted_txns().append(txn), "txnindex append");
}

std::optional<offset> disk_log::aborted_txns_stale_from() const {
    std::lock_guard owner(_owner_mutex);
    return _txn_index_stale_from;
}

result<void> disk_log::rebuild_aborted_txns(offset from, const std::vector<aborted_txn>& txns) {
    if (offline()) return log_dir_offline();
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    auto snap = snapshot();
    const auto& segments = *snap.segments;
    size_t rewritten = 0, entries = 0;
    for (size_t i = segment_holding(segments, from); i < segments.size(); ++i) {
        const offset base = segments[i]->base_offset();
        const bool last = i + 1 == segments.size();
        std::vector<aborted_txn> mine;
        for (const auto& t : txns)
            if (t.last_offset >= base.value() && (last || t.last_offset < segments[i + 1]->base_offset().value()))
                mine.push_back(t);
        if (auto r = watch(segments[i]->aborted_txns().rewrite(mine), "txnindex rebuild"); !r) return r;
        ++rewritten;
        entries += mine.size();
    }
    if (auto r = watch(sync_dir(_dir), "txnindex rebuild"); !r) return r;
    logger()->info("{}: rebuilt the .txnindex of {} segments from offset {} ({} aborted transactions)", _tp,
                   rewritten, from, entries);
    _txn_index_stale_from.reset();
    return boost::outcome_v2::success();
}

result<std::vector<aborted_txn>> disk_log::collect_aborted_txns(offset from, offset upper) const {
    std::vector<aborted_txn> out;
    auto snap = snapshot();
    const auto& segments = *snap.segments;
    for (size_t i = segment_holding(segments, from); i < segments.size(); ++i) {
        auto complete = segments[i]->aborted_txns().collect(from.value(), upper.value(), out);
        if (!complete) return complete.error();
        if (complete.value()) break;
    }
    return out;
}

log_snapshot disk_log::snapshot() const {
    std::lock_guard lock(_publish_mutex);
    return _published;
}

void disk_log::publish(std::shared_ptr<const segment_list> segments, offset end, offset log_start) {
    uint64_t active_size = segments->back()->size();
    std::lock_guard lock(_publish_mutex);
    _published = log_snapshot{std::move(segments), end, active_size, log_start};
}

void disk_log::publish_end(offset end) {
    std::lock_guard lock(_publish_mutex);
    _published.end = end;
    _published.active_size = _published.segments->back()->size();
}

result<void> disk_log::write_checkpoints(bool sync) {
    log_checkpoints c;
    auto snap = snapshot();
    c.log_start = snap.log_start;
    {
        std::lock_guard lock(_flush_mutex);
        c.recovery_point = _recovery_point;
    }
    c.high_watermark = offset(_high_watermark.load());
    c.cleaner_checkpoint = offset(_cleaner_checkpoint.load());
    return _context.store->apply({{checkpoints_key(_tp), c.encode()}}, sync);
}

// storage/<dir>/producer_snapshot: version int8 (1) | at int64 | state.
constexpr uint8_t producer_snapshot_version = 1;
constexpr size_t producer_snapshot_header = 9;

result<void> disk_log::save_producer_snapshot(offset at, std::string_view state) {
    if (offline()) return log_dir_offline();
    return watch(save_producer_snapshot_unwatched(at, state), "producer snapshot");
}

result<void> disk_log::save_producer_snapshot_unwatched(offset at, std::string_view state) {
    // Under the owner lock: a log deleted meanwhile (its state keys removed)
    // must not get one back, which a re-created topic of that name would read.
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    if (at > snapshot().end) return make_error(storage_errc::offset_out_of_range);
    std::string value(producer_snapshot_header, '\0');
    value[0] = char(producer_snapshot_version);
    put_be64(reinterpret_cast<uint8_t*>(value.data()) + 1, uint64_t(at.value()));
    value.append(state);
    return _context.store->apply({{producer_snapshot_key(_tp), std::move(value)}}, false);
}

std::optional<producer_snapshot> disk_log::load_producer_snapshot() const {
    auto stored = _context.store->get(producer_snapshot_key(_tp));
    if (!stored || !stored.value()) return std::nullopt;
    const std::string& value = *stored.value();
    if (value.size() < producer_snapshot_header || uint8_t(value[0]) != producer_snapshot_version) return std::nullopt;
    producer_snapshot snapshot{offset(int64_t(get_be64(reinterpret_cast<const uint8_t*>(value.data()) + 1))),
                               value.substr(producer_snapshot_header)};
    auto snap = this->snapshot();
    if (snapshot.at < snap.log_start || snapshot.at > snap.end) return std::nullopt;
    return snapshot;
}

result<void> disk_log::drop_producer_snapshot_after(offset end) {
    auto stored = _context.store->get(producer_snapshot_key(_tp));
    if (!stored) return stored.error();
    if (!stored.value()) return boost::outcome_v2::success();
    const std::string& value = *stored.value();
    const bool stale = value.size() < producer_snapshot_header ||
                       int64_t(get_be64(reinterpret_cast<const uint8_t*>(value.data()) + 1)) > end.value();
    if (!stale) return boost::outcome_v2::success();
    return _context.store->apply({{producer_snapshot_key(_tp), std::nullopt}}, true);
}

result<void> disk_log::write_epochs(bool sync) {
    return _context.store->apply({{leader_epochs_key(_tp), _epochs.encode()}}, sync);
}

result<void> disk_log::assign_epoch_start(leader_epoch epoch) {
    if (offline()) return log_dir_offline();
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    // Under the owner lock the log end cannot move: the entry is exactly
    // where the first batch of `epoch` will go. Synced, unlike the entries
    // appends make (recovery rebuilds those from the batches; nothing could
    // rebuild this one).
    if (!_epochs.assign(epoch, snapshot().end)) return boost::outcome_v2::success();
    return watch(write_epochs(true), "leader epoch checkpoint");
}

result<append_result> disk_log::append(protocol::bytes_view payload, leader_epoch epoch, append_origin origin) {
    produce_validation_config checks = validation_config_for(config(), origin);
    checks.partition = fmt::format("{}", _tp);
    auto validated = validate_produce(payload, checks, _context.time->now_ms());
    if (!validated) return to_storage_error(validated.error());
    return append_validated(validated.value(), epoch);
}

result<append_result> disk_log::append_validated(const validated_records& records, leader_epoch epoch) {
    if (offline()) return log_dir_offline();
    return watch(append_unwatched(records, epoch), "append");
}

result<append_result> disk_log::append_unwatched(const validated_records& records, leader_epoch epoch) {
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    if (records.batches.empty()) return invalid_records(protocol::record_error::no_batches);
    const bool assign = records.origin != append_origin::replication;

    std::vector<stamped_header> headers(records.batches.size());
    std::vector<struct iovec> iov;
    iov.reserve(headers.size() * 2);
    std::vector<batch_info> infos;
    infos.reserve(headers.size());
    append_result out;
    offset next = snapshot().end;
    size_t bytes = 0;
    for (size_t i = 0; i < headers.size(); ++i) {
        const auto& batch = records.batches[i];
        offset base = assign ? next : offset(batch.view.base_offset());
        if (base < next || batch.view.last_offset_delta() < 0) return make_error(storage_errc::non_monotonic_offset);
        stamp(headers[i], batch, assign ? std::optional(base) : std::nullopt,
              assign ? std::optional(epoch) : std::nullopt);
        iov.push_back({headers[i].bytes.data(), header_size});
        if (batch.view.size() > header_size)
            iov.push_back({const_cast<uint8_t*>(batch.view.records_data().data()), batch.view.size() - header_size});
        auto info = parse_batch_header(headers[i].bytes.data(), bytes);
        infos.push_back(info);
        if (i == 0) out.base_offset = base;
        out.max_timestamp = std::max(out.max_timestamp, info.max_timestamp);
        next = info.last.next();
        bytes += batch.view.size();
    }
    out.last_offset = infos.back().last;
    out.log_append_time = records.log_append_time;
    out.bytes = bytes;
    out.batch_count = int32_t(records.batches.size());
    out.record_count = records.record_count;

    if (auto r = maybe_roll(out.base_offset, out.last_offset, bytes, out.max_timestamp); !r) return r.error();
    auto active = snapshot().segments->back();
    for (auto& info : infos) info.position += active->size();
    if (auto r = active->append(infos, iov.data(), int(iov.size()), bytes); !r) return r.error();

    bool epochs_changed = false;
    for (const auto& info : infos) epochs_changed |= _epochs.assign(info.epoch, info.base);
    if (epochs_changed) {
        if (auto r = write_epochs(); !r) return r.error();
    }
    publish_end(next);

    if (_config.flush == flush_mode::interval) {
        _unflushed_messages += out.record_count;
        if (_unflushed_messages >= _config.flush_messages) {
            _unflushed_messages = 0;
            request_flush();
        }
    }
    return out;
}

// Kafka's LogSegment.shouldRoll: segment.ms counts in record time, from the
// segment's first batch's max timestamp to the incoming batches' max
// timestamp; only a segment without a timestamp counts wall-clock time since
// it was created. (Backfilled old records so stay together instead of
// rolling one segment per batch that retention then deletes.)
result<void> disk_log::maybe_roll(offset first, offset last, size_t bytes, int64_t max_timestamp) {
    auto active = snapshot().segments->back();
    if (active->empty()) {
        if (active->base_offset() == first) return boost::outcome_v2::success();
        // An empty segment at the wrong base (a follower's first batch after
        // a gap): replace it rather than index offsets below its base.
        return roll_locked(first);
    }
    int64_t now = _context.time->now_ms();
    bool full = active->size() + bytes > _config.segment_bytes;
    bool old = active->time_waited_for_roll(now, max_timestamp) > _config.segment_ms;
    bool overflow = last - active->base_offset() > std::numeric_limits<int32_t>::max();
    if (full || old || overflow || active->index_full()) return roll_locked(first);
    return boost::outcome_v2::success();
}

result<void> disk_log::roll_locked(offset base) {
    auto snap = snapshot();
    auto segments = std::make_shared<segment_list>(*snap.segments);
    if (segments->back()->empty()) {
        segments->back()->unlink_files();
        segments->pop_back();
    }
    auto s = segment::create(_dir, base, _config, _context.time->now_ms());
    if (!s) return s.error();
    // The new segment's directory entry is synced by the next flush, on the
    // flusher's (background) thread, not here on the appending strand. The
    // rule: no offset of a segment counts as durable (the flushed offset,
    // the recovery point, an acks=all answer) before its directory entry is
    // synced, and run_flush syncs the directory before it advances either
    // (as Kafka's LocalLog.flush syncs the log dir when it flushes a new
    // segment). Set before publish(): a flush whose snapshot holds the new
    // segment sees it set, or a later sync already covered it.
    _roll_unsynced.store(true, std::memory_order_release);
    segments->push_back(s.value());
    publish(segments, snap.end, snap.log_start);
    // Kafka flushes a finished segment in the background on roll, which moves
    // the recovery point past it.
    request_flush();
    return boost::outcome_v2::success();
}

result<void> disk_log::roll() {
    if (offline()) return log_dir_offline();
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    auto snap = snapshot();
    if (snap.segments->back()->empty()) return boost::outcome_v2::success();
    return watch(roll_locked(snap.end), "roll");
}

void disk_log::lower_flushed(offset end) {
    std::vector<waiter> failed;
    {
        std::lock_guard lock(_flush_mutex);
        _flushed = std::min(_flushed, end);
        _recovery_point = std::min(_recovery_point, end);
        ++_truncations;
        auto it = std::partition(_waiters.begin(), _waiters.end(), [&](const waiter& w) { return w.upto <= end; });
        std::move(it, _waiters.end(), std::back_inserter(failed));
        _waiters.erase(it, _waiters.end());
    }
    for (auto& w : failed) w.done(make_error(storage_errc::offset_out_of_range));
}

result<void> disk_log::truncate_to(offset to) {
    if (offline()) return log_dir_offline();
    return watch(truncate_to_unwatched(to), "truncate");
}

result<void> disk_log::truncate_to_unwatched(offset to) {
    std::unique_lock owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    auto snap = snapshot();
    if (to >= snap.end) {
        // Nothing to cut, but an epoch this replica assigned when it led,
        // with no batch of its own, may sit at the log end; the leader has
        // just said it does not know that epoch. Kafka's truncateTo trims
        // the epoch cache here too: otherwise the follower would keep
        // naming that epoch as its last fetched one and diverge for ever.
        if (!_epochs.truncate_from_end(snap.end)) return boost::outcome_v2::success();
        return write_epochs();
    }
    if (to < snap.log_start) {
        owner.unlock();
        return truncate_fully_and_start_at(to);
    }
    auto segments = std::make_shared<segment_list>(*snap.segments);
    while (segments->size() > 1 && segments->back()->base_offset() >= to) {
        segments->back()->unlink_files();
        segments->pop_back();
    }
    if (auto r = segments->back()->truncate_to(to); !r) return r;
    if (auto r = sync_dir(_dir); !r) return r;
    offset end = segments->back()->next_offset();
    publish(segments, end, snap.log_start);
    _epochs.truncate_from_end(end);
    if (offset(_high_watermark.load()) > end) _high_watermark.store(end.value());
    lower_flushed(end);
    if (auto r = write_epochs(); !r) return r;
    if (auto r = drop_producer_snapshot_after(end); !r) return r;
    return write_checkpoints(true);
}

result<void> disk_log::truncate_fully_and_start_at(offset start) {
    if (offline()) return log_dir_offline();
    return watch(truncate_fully_unwatched(start), "truncate");
}

result<void> disk_log::truncate_fully_unwatched(offset start) {
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    auto snap = snapshot();
    for (const auto& s : *snap.segments) s->unlink_files();
    auto s = segment::create(_dir, start, _config, _context.time->now_ms());
    if (!s) return s.error();
    if (auto r = sync_dir(_dir); !r) return r;
    publish(std::make_shared<segment_list>(segment_list{s.value()}), start, start);
    _epochs.clear();
    _high_watermark.store(start.value());
    lower_flushed(start);
    {
        std::lock_guard lock(_flush_mutex);
        _flushed = start;
        _recovery_point = start;
    }
    if (auto r = write_epochs(); !r) return r;
    if (auto r = _context.store->apply({{producer_snapshot_key(_tp), std::nullopt}}, true); !r) return r;
    return write_checkpoints(true);
}

result<offset> disk_log::delete_records_before(offset new_start) {
    if (offline()) return log_dir_offline();
    return watch(delete_records_unwatched(new_start), "delete records");
}

result<offset> disk_log::delete_records_unwatched(offset new_start) {
    std::lock_guard owner(_owner_mutex);
    if (_closed) return make_error(storage_errc::closed);
    auto snap = snapshot();
    if (new_start > snap.end || new_start.value() < 0) return make_error(storage_errc::offset_out_of_range);
    if (new_start <= snap.log_start) return snap.log_start;
    publish(snap.segments, snap.end, new_start);
    if (_epochs.truncate_from_start(new_start)) {
        if (auto r = write_epochs(); !r) return r.error();
    }
    if (auto r = write_checkpoints(true); !r) return r.error();
    return new_start;
}

void disk_log::set_high_watermark(offset hw) {
    _high_watermark.store(std::min(hw, end_offset()).value());
}

result<read_result> disk_log::read(const read_options& options) const {
    if (offline()) return log_dir_offline();
    auto snap = snapshot();
    if (options.start < snap.log_start || options.start > snap.end)
        return make_error(storage_errc::offset_out_of_range);
    offset limit = options.max_offset ? std::min(*options.max_offset, snap.end) : snap.end;
    read_result empty{{}, snap.log_start, snap.end};
    if (options.start >= limit) return empty;
    const auto& segments = *snap.segments;
    auto it = std::upper_bound(segments.begin(), segments.end(), options.start,
                               [](offset o, const std::shared_ptr<segment>& s) { return o < s->base_offset(); });
    size_t index = it == segments.begin() ? 0 : size_t(std::prev(it) - segments.begin());
    return read_in(snap, index, options, limit);
}

result<read_result> disk_log::read_in(const log_snapshot& snap, size_t index, const read_options& options,
                                      offset limit) const {
    const auto& segments = *snap.segments;
    read_result out{{}, snap.log_start, snap.end};
    for (; index < segments.size(); ++index) {
        const auto& s = segments[index];
        uint64_t seg_end = index + 1 == segments.size() ? snap.active_size : s->size();
        auto first = s->find_batch(options.start, seg_end);
        if (!first) return first.error();
        if (!first.value()) continue;  // the offset is in a gap at the segment's end
        if (first.value()->base >= limit) return out;
        uint64_t end_pos = seg_end;
        if (limit < snap.end) {
            auto bound = s->find_batch(limit, seg_end);
            if (!bound) return bound.error();
            if (bound.value()) end_pos = bound.value()->position;
        }
        uint64_t pos = first.value()->position;
        uint64_t length = std::min<uint64_t>(end_pos - pos, options.max_bytes);
        if (options.min_one_batch && length < first.value()->size) length = std::min<uint64_t>(first.value()->size, end_pos - pos);
        length = std::min<uint64_t>(length, std::numeric_limits<int32_t>::max());
        if (length == 0) return out;
        auto file = s->log_file();  // the region keeps the descriptor open
        if (!file) return file.error();
        out.region = protocol::file_region{file.value()->fd(), pos, uint32_t(length), file.value()};
        return out;
    }
    return out;
}

result<std::optional<timestamp_and_offset>> disk_log::offset_for_timestamp(int64_t timestamp) const {
    if (offline()) return log_dir_offline();
    auto snap = snapshot();
    const auto& segments = *snap.segments;
    std::vector<uint8_t> buffer, scratch;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto& s = segments[i];
        if (s->max_timestamp() < timestamp) continue;
        uint64_t seg_end = i + 1 == segments.size() ? snap.active_size : s->size();
        uint64_t pos = 0;
        for (;;) {
            auto found = s->find_batch_by_time(timestamp, seg_end);
            if (!found) return found.error();
            if (!found.value()) break;
            const auto& info = *found.value();
            pos = info.position;
            buffer.resize(info.size);
            auto n = s->read(buffer, pos);
            if (!n) return n.error();
            auto batch = record_batch_view::from(buffer);
            if (!batch) return make_error(storage_errc::corrupt_state);
            std::optional<timestamp_and_offset> hit;
            const auto& b = batch.value();
            bool append_time = b.timestamp_kind() == protocol::timestamp_type::log_append_time;
            auto walked = protocol::for_each_record(b, size_t(64) << 20, scratch, [&](const protocol::record_view& r) {
                int64_t ts = append_time ? b.max_timestamp() : b.base_timestamp() + r.timestamp_delta;
                offset at = offset(b.base_offset() + r.offset_delta);
                if (!hit && ts >= timestamp && at >= snap.log_start) hit = timestamp_and_offset{ts, at};
            });
            if (!walked) return invalid_records(walked.error());
            if (hit) return hit;
            break;  // maxTimestamp >= target but every record below log start
        }
    }
    return std::optional<timestamp_and_offset>{};
}

std::optional<epoch_end> disk_log::end_offset_for_epoch(leader_epoch epoch) const {
    return _epochs.end_offset_for(epoch, end_offset());
}

offset disk_log::flushed_offset() const {
    std::lock_guard lock(_flush_mutex);
    return _flushed;
}

size_t disk_log::size_bytes() const {
    auto snap = snapshot();
    size_t total = 0;
    for (const auto& s : *snap.segments) total += s->size();
    return total;
}

void disk_log::request_flush() {
    if (_context.flush_thread) _context.flush_thread->request(shared_from_this());
    else run_flush();
}

void disk_log::flush_to(offset upto, flush_callback done) {
    // Nothing is durable any more: an acks=all produce waiting for this
    // flush must fail, never be acknowledged.
    if (offline()) return done(log_dir_offline());
    {
        std::lock_guard lock(_flush_mutex);
        if (_flushed < upto) {
            _waiters.push_back({upto, std::move(done)});
            done = nullptr;
        }
    }
    if (done) {
        done(boost::outcome_v2::success());
        return;
    }
    request_flush();
}

result<void> disk_log::flush() {
    auto target = end_offset();
    run_flush();
    if (flushed_offset() < target) return make_error(storage_errc::io_error);
    return boost::outcome_v2::success();
}

void disk_log::run_flush() {
    std::lock_guard sync(_sync_mutex);
    auto snap = snapshot();
    offset flushed;
    uint64_t truncations;
    {
        std::lock_guard lock(_flush_mutex);
        flushed = _flushed;
        truncations = _truncations;
    }
    result<void> status = boost::outcome_v2::success();
    if (offline()) {
        status = log_dir_offline();
    } else if (_roll_unsynced.exchange(false, std::memory_order_acq_rel)) {
        // After the snapshot (see roll_locked): a roll it holds is covered.
        // On failure nothing advances below, and the next flush tries again.
        status = sync_dir(_dir);
        if (!status) _roll_unsynced.store(true, std::memory_order_release);
    }
    if (status && flushed < snap.end) {
        const auto started = std::chrono::steady_clock::now();
        const auto& segments = *snap.segments;
        status = sync_created_dir();
        for (size_t i = 0; i < segments.size() && status; ++i) {
            bool active = i + 1 == segments.size();
            if (!active && segments[i + 1]->base_offset() <= flushed) continue;  // synced before
            status = segments[i]->flush(!active);
        }
        if (_context.flush_seconds)
            _context.flush_seconds->observe(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    std::vector<waiter> done;
    {
        std::lock_guard lock(_flush_mutex);
        if (status && truncations == _truncations && _flushed < snap.end) {
            _flushed = snap.end;
            _recovery_point = snap.end;
        }
        _last_flush_ms = _context.time->now_ms();
        auto it = std::partition(_waiters.begin(), _waiters.end(),
                                 [&](const waiter& w) { return status && w.upto > _flushed; });
        std::move(it, _waiters.end(), std::back_inserter(done));
        _waiters.erase(it, _waiters.end());
    }
    if (!status && status.error().code != storage_errc::log_dir_offline) {
        logger()->error("{}: flush failed: {}", _tp, status.error());
        // A failed fsync may have dropped the dirty pages it could not write
        // (Linux marks them clean): a later fsync that succeeds proves nothing.
        (void)watch(status, "fsync");
    }
    // Not synced: a later write that survives implies this one did, and a
    // stale recovery point only means more to scan.
    if (status && flushed < snap.end) (void)write_checkpoints(false);
    for (auto& w : done) w.done(status);
}

log_config disk_log::config() const {
    std::lock_guard lock(_config_mutex);
    return _config;
}

void disk_log::reconfigure(const log_config& config) {
    std::lock_guard owner(_owner_mutex);
    std::lock_guard lock(_config_mutex);
    _config = config;
}

void disk_log::maybe_flush_by_time() {
    const log_config config = this->config();
    // Group commit flushes for acks=all only; in between, a flush a minute
    // (Kafka's log.flush.offset.checkpoint.interval.ms) moves the recovery
    // point, which bounds the scan after an unclean shutdown.
    const int64_t interval = config.flush == flush_mode::interval ? config.flush_ms : background_flush_ms;
    if (interval == INT64_MAX) return;
    bool due;
    {
        std::lock_guard lock(_flush_mutex);
        due = _context.time->now_ms() - _last_flush_ms >= interval && _flushed < end_offset();
    }
    if (due) request_flush();
}

result<size_t> disk_log::apply_retention() {
    if (offline()) return size_t{0};
    return watch(apply_retention_unwatched(), "retention");
}

result<size_t> disk_log::apply_retention_unwatched() {
    std::lock_guard owner(_owner_mutex);
    if (_closed) return size_t{0};
    auto snap = snapshot();
    const auto& segments = *snap.segments;
    int64_t now = _context.time->now_ms();
    int64_t total = 0;
    for (const auto& s : segments) total += int64_t(s->size());
    size_t drop = 0;
    for (; drop + 1 < segments.size(); ++drop) {
        const auto& s = segments[drop];
        bool below_start = segments[drop + 1]->base_offset() <= snap.log_start;
        bool expired = _config.deletes() && _config.retention_ms >= 0 &&
                       now - s->retention_timestamp() > _config.retention_ms;
        bool over_size = _config.deletes() && _config.retention_bytes >= 0 &&
                         total - int64_t(s->size()) >= _config.retention_bytes;
        if (!below_start && !expired && !over_size) break;
        total -= int64_t(s->size());
    }
    if (drop == 0) return drop;
    auto remaining = std::make_shared<segment_list>(segments.begin() + ptrdiff_t(drop), segments.end());
    offset log_start = std::max(snap.log_start, remaining->front()->base_offset());
    publish(remaining, snap.end, log_start);
    for (size_t i = 0; i < drop; ++i) segments[i]->unlink_files();
    logger()->info("{}: retention deleted {} segment(s); log start offset {}", _tp, drop, log_start);
    if (_epochs.truncate_from_start(log_start)) {
        if (auto r = write_epochs(); !r) return r.error();
    }
    if (auto r = write_checkpoints(false); !r) return r.error();
    return drop;
}

offset disk_log::cleaner_checkpoint() const { return offset(_cleaner_checkpoint.load()); }

void disk_log::set_cleaner_checkpoint(offset o) {
    _cleaner_checkpoint.store(o.value());
    (void)write_checkpoints(false);
}

result<bool> disk_log::swap_cleaned(const std::shared_ptr<segment>& old, uint64_t old_size,
                                    const std::vector<aborted_txn>* aborted) {
    if (offline()) return log_dir_offline();
    return watch(swap_cleaned_unwatched(old, old_size, aborted), "cleaner swap");
}

result<bool> disk_log::swap_cleaned_unwatched(const std::shared_ptr<segment>& old, uint64_t old_size,
                                              const std::vector<aborted_txn>* aborted) {
    std::lock_guard owner(_owner_mutex);
    auto snap = snapshot();
    auto it = std::find(snap.segments->begin(), snap.segments->end(), old);
    std::string cleaned = _dir + "/" + segment_file_name(old->base_offset(), segment::cleaned_suffix);
    if (_closed || it == snap.segments->end() || it + 1 == snap.segments->end() || old->size() != old_size) {
        ::unlink(cleaned.c_str());
        return false;
    }
    // Readers of the old segment keep its file, not the path about to be reused.
    if (auto r = old->pin_file(); !r) return r.error();
    auto replacement = segment::replace_with_cleaned(_dir, old->base_offset(), _config);
    if (!replacement) return replacement.error();
    // A crash before this rewrite leaves the old entries: a superset, which
    // read_committed filtering tolerates (a range with no data drops nothing).
    if (aborted) {
        if (auto r = replacement.value()->aborted_txns().rewrite(*aborted); !r) return r.error();
    }
    auto segments = std::make_shared<segment_list>(*snap.segments);
    (*segments)[size_t(it - snap.segments->begin())] = replacement.value();
    publish(segments, snap.end, snap.log_start);
    return true;
}

result<void> disk_log::close(bool sync_checkpoints) {
    if (offline()) {
        // Nothing more is written to a failed directory; the next start
        // recovers it (no clean-shutdown marker).
        std::lock_guard owner(_owner_mutex);
        _closed = true;
        return log_dir_offline();
    }
    if (auto r = flush(); !r) return r;
    std::lock_guard owner(_owner_mutex);
    _closed = true;
    if (auto r = write_epochs(); !r) return r;
    return write_checkpoints(sync_checkpoints);
}

void disk_log::delete_files() {
    std::lock_guard owner(_owner_mutex);
    _closed = true;
    std::vector<waiter> failed;
    {
        std::lock_guard lock(_flush_mutex);
        failed.swap(_waiters);
    }
    for (auto& w : failed) w.done(make_error(storage_errc::closed));
    (void)_context.store->remove_prefix(partition_state_prefix(_tp), false);
}

// ---- the owner's producer state, for the cleaner ------------------------------

void disk_log::set_first_unstable_offset(offset first) {
    _first_unstable.store(first.value(), std::memory_order_release);
}

void disk_log::set_active_producers(offset at, std::vector<producer_last_batch> producers) {
    auto shared = std::make_shared<const std::vector<producer_last_batch>>(std::move(producers));
    std::lock_guard lock(_producers_mutex);
    _active_producers = active_producers{at, std::move(shared)};
}

std::optional<offset> disk_log::last_stable_offset() const {
    const int64_t first = _first_unstable.load(std::memory_order_acquire);
    if (first < 0) return std::nullopt;
    return offset(std::min(first, _high_watermark.load(std::memory_order_acquire)));
}

std::optional<active_producers> disk_log::last_active_producers() const {
    std::lock_guard lock(_producers_mutex);
    return _active_producers;
}

result<std::vector<uint8_t>> read_region(const protocol::file_region& region) {
    std::vector<uint8_t> out(region.length);
    auto n = pread_full(region.fd, out, region.position);
    if (!n) return n.error();
    out.resize(n.value());
    return out;
}

}  // namespace strata::storage
