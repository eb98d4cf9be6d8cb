#include "strata/replication/producer_state.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace strata::replication {

namespace {

constexpr int16_t no_epoch = -1;

bool in_sequence(int32_t last, int32_t next) {
    return last == INT32_MAX ? next == 0 : next == last + 1;
}

// A v2 batch header (record_batch.h draws it): the fields read here.
// (record_batch_view needs the whole batch in memory; this reads headers only.)
constexpr size_t header_bytes = protocol::record_batch_view::header_size;
constexpr size_t attributes_at = protocol::record_batch_view::attributes_offset;
constexpr size_t length_at = 8, magic_at = 16, last_delta_at = 23, max_timestamp_at = 35, producer_id_at = 43,
                 producer_epoch_at = 51, base_sequence_at = 53;

template <typename T>
T big_endian(const uint8_t* p) {
    T value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) value = T((uint64_t(value) << 8) | p[i]);
    return value;
}

}  // namespace

producer_check producer_state::check(int64_t producer_id, int16_t epoch, int32_t first_sequence,
                                     int32_t last_sequence) const {
    producer_check out;
    auto found = _producers.find(producer_id);
    if (found == _producers.end()) return out;  // unknown (new, or expired by retention): any sequence
    const entry& e = found->second;
    if (epoch < e.epoch) {
        out.error = kafka_error::invalid_producer_epoch;
        out.message = fmt::format("producer {} epoch {} is older than the current epoch {}", producer_id, epoch,
                                  e.epoch);
        return out;
    }
    if (epoch > e.epoch) {
        // A new epoch starts its sequence over.
        if (first_sequence != 0 && e.epoch != no_epoch) {
            out.error = kafka_error::out_of_order_sequence_number;
            out.message = fmt::format("producer {} epoch {} must start at sequence 0, not {}", producer_id, epoch,
                                      first_sequence);
        }
        return out;
    }
    for (const auto& b : e.batches) {
        if (b.first_sequence == first_sequence && b.last_sequence == last_sequence) {
            out.duplicate_of = b;
            return out;
        }
    }
    if (!e.batches.empty() && !in_sequence(e.batches.back().last_sequence, first_sequence)) {
        out.error = kafka_error::out_of_order_sequence_number;
        out.message = fmt::format("producer {} epoch {}: sequence {} does not follow {}", producer_id, epoch,
                                  first_sequence, e.batches.back().last_sequence);
    }
    return out;
}

size_t producer_state::expire(int64_t now_ms, int64_t expiration_ms) {
    // A producer with an open transaction stays until its marker comes.
    return std::erase_if(_producers, [&](const auto& p) {
        return now_ms - p.second.last_timestamp >= expiration_ms && !_ongoing.contains(p.first);
    });
}

void producer_state::record(int64_t producer_id, int16_t epoch, const producer_batch& batch, int64_t timestamp,
                            bool transactional) {
    if (transactional) _ongoing.emplace(producer_id, batch.first_offset);  // kept if already open
    entry& e = _producers[producer_id];
    e.last_timestamp = std::max(e.last_timestamp, timestamp);
    if (epoch != e.epoch) {
        e.epoch = epoch;
        e.batches.clear();
    }
    e.batches.push_back(batch);
    while (e.batches.size() > batches_kept) e.batches.pop_front();
}

kafka_error producer_state::check_marker(int64_t producer_id, int16_t epoch, int32_t coordinator_epoch) const {
    auto found = _producers.find(producer_id);
    if (found == _producers.end()) return kafka_error::none;
    if (epoch < found->second.epoch) return kafka_error::invalid_producer_epoch;
    if (coordinator_epoch < found->second.coordinator_epoch) return kafka_error::transaction_coordinator_fenced;
    return kafka_error::none;
}

void producer_state::end_transaction(int64_t producer_id, int16_t epoch, const txn_marker& marker,
                                     int64_t marker_offset, int64_t timestamp) {
    entry& e = _producers[producer_id];
    e.last_timestamp = std::max(e.last_timestamp, timestamp);
    if (epoch != e.epoch) {
        e.epoch = epoch;
        e.batches.clear();
    }
    e.coordinator_epoch = std::max(e.coordinator_epoch, marker.coordinator_epoch);
    auto open = _ongoing.find(producer_id);
    if (open == _ongoing.end()) return;  // a marker for a partition the producer wrote nothing to
    const int64_t first = open->second;
    _ongoing.erase(open);
    if (!marker.commit) {
        // Kafka's ProducerStateManager.lastStableOffset(completedTxn): the
        // earliest other open transaction's first offset, else past the marker.
        const int64_t others = first_unstable_offset();
        _aborted.push_back(aborted_txn{producer_id, first, marker_offset,
                                       others == INT64_MAX ? marker_offset + 1 : others});
    }
}

std::vector<producer_info> producer_state::describe() const {
    std::vector<producer_info> out;
    for (const auto& [id, e] : _producers) {
        producer_info p;
        p.producer_id = id;
        p.epoch = e.epoch;
        p.last_sequence = e.batches.empty() ? -1 : e.batches.back().last_sequence;
        p.last_timestamp = e.last_timestamp;
        p.coordinator_epoch = e.coordinator_epoch;
        if (auto open = _ongoing.find(id); open != _ongoing.end()) p.txn_start_offset = open->second;
        out.push_back(p);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.producer_id < b.producer_id; });
    return out;
}

std::vector<storage::producer_last_batch> producer_state::last_batches() const {
    std::vector<storage::producer_last_batch> out;
    out.reserve(_producers.size());
    for (const auto& [id, e] : _producers)
        out.push_back({id, e.epoch, e.batches.empty() ? -1 : e.batches.back().last_offset});
    return out;
}

int64_t producer_state::first_unstable_offset() const {
    int64_t first = INT64_MAX;
    for (const auto& [id, offset] : _ongoing) first = std::min(first, offset);
    return first;
}

namespace {

// Zig-zag varints of a record (Kafka's ByteUtils.readVarint/readVarlong).
bool read_varlong(const uint8_t*& p, const uint8_t* end, int64_t& out) {
    uint64_t raw = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (p >= end) return false;
        const uint8_t b = *p++;
        raw |= uint64_t(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            out = int64_t(raw >> 1) ^ -int64_t(raw & 1);
            return true;
        }
    }
    return false;
}


}  // namespace

std::optional<txn_marker> parse_txn_marker(protocol::bytes_view records) {
    const uint8_t* p = records.data();
    const uint8_t* end = p + records.size();
    int64_t length, timestamp_delta, offset_delta, key_length, value_length;
    if (!read_varlong(p, end, length) || p >= end) return std::nullopt;
    ++p;  // attributes
    if (!read_varlong(p, end, timestamp_delta) || !read_varlong(p, end, offset_delta) ||
        !read_varlong(p, end, key_length) || key_length < 4 || end - p < key_length)
        return std::nullopt;
    const int16_t type = big_endian<int16_t>(p + 2);
    if (type != 0 && type != 1) return std::nullopt;  // 0 ABORT, 1 COMMIT; others are not markers
    p += key_length;
    txn_marker out;
    out.commit = type == 1;
    if (read_varlong(p, end, value_length) && value_length >= 6 && end - p >= value_length)
        out.coordinator_epoch = big_endian<int32_t>(p + 2);
    return out;
}

std::vector<uint8_t> txn_marker_key(bool commit) {
    return {0, 0, 0, uint8_t(commit ? 1 : 0)};
}

std::vector<uint8_t> txn_marker_value(int32_t coordinator_epoch) {
    std::vector<uint8_t> out{0, 0};
    for (int i = 3; i >= 0; --i) out.push_back(uint8_t(uint32_t(coordinator_epoch) >> (8 * i)));
    return out;
}

void producer_state::apply(const protocol::record_batch_view& b) {
    if (!b.has_producer_id()) return;
    if (b.is_control()) {
        if (auto marker = parse_txn_marker(b.records_data()))
            end_transaction(b.producer_id(), b.producer_epoch(), *marker, b.base_offset(), b.max_timestamp());
        return;
    }
    producer_batch range;
    range.first_sequence = b.base_sequence();
    range.last_sequence = int32_t((int64_t(b.base_sequence()) + b.last_offset_delta()) % (int64_t(INT32_MAX) + 1));
    range.first_offset = b.base_offset();
    range.last_offset = b.last_offset();
    record(b.producer_id(), b.producer_epoch(), range, b.max_timestamp(), b.is_transactional());
}

namespace {

constexpr uint8_t snapshot_version = 3;
constexpr size_t snapshot_batch_bytes = 4 + 4 + 8 + 8;
constexpr size_t snapshot_producer_bytes_v1 = 8 + 2 + 8 + 1;
constexpr size_t snapshot_producer_bytes = 8 + 2 + 8 + 4 + 8 + 1;
constexpr size_t snapshot_aborted_bytes = 8 + 8 + 8;

template <typename T>
void append_big_endian(std::string& out, T value) {
    for (size_t i = sizeof(T); i-- > 0;) out.push_back(char(uint8_t(uint64_t(value) >> (8 * i))));
}

}  // namespace

std::string producer_state::encode() const {
    std::string out;
    out.reserve(5 + _producers.size() * (snapshot_producer_bytes + batches_kept * snapshot_batch_bytes));
    out.push_back(char(snapshot_version));
    append_big_endian(out, int32_t(_producers.size()));
    // In producer id order, so that equal states encode to equal bytes.
    std::vector<int64_t> ids;
    ids.reserve(_producers.size());
    for (const auto& entry : _producers) ids.push_back(entry.first);
    std::sort(ids.begin(), ids.end());
    for (int64_t id : ids) {
        const entry& e = _producers.at(id);
        append_big_endian(out, id);
        append_big_endian(out, e.epoch);
        append_big_endian(out, e.last_timestamp);
        append_big_endian(out, e.coordinator_epoch);
        auto open = _ongoing.find(id);
        append_big_endian(out, open == _ongoing.end() ? int64_t(-1) : open->second);
        out.push_back(char(uint8_t(e.batches.size())));
        for (const auto& b : e.batches) {
            append_big_endian(out, b.first_sequence);
            append_big_endian(out, b.last_sequence);
            append_big_endian(out, b.first_offset);
            append_big_endian(out, b.last_offset);
        }
    }
    return out;
}

bool producer_state::decode(std::string_view bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    size_t left = bytes.size();
    auto take = [&](size_t n) {
        if (left < n) return false;
        left -= n;
        return true;
    };
    if (!take(5) || p[0] < 1 || p[0] > snapshot_version) return false;
    const bool v1 = p[0] == 1;
    const bool v2 = p[0] == 2;
    const size_t fixed = v1 ? snapshot_producer_bytes_v1 : snapshot_producer_bytes;
    const int32_t count = big_endian<int32_t>(p + 1);
    p += 5;
    // Every producer takes at least its fixed part: a count beyond what the
    // bytes can hold is corrupt, and is refused before anything is allocated.
    if (count < 0 || size_t(count) > left / fixed) return false;
    std::unordered_map<int64_t, entry> producers;
    std::map<int64_t, int64_t> ongoing;
    producers.reserve(size_t(count));
    for (int32_t i = 0; i < count; ++i) {
        if (!take(fixed)) return false;
        const int64_t id = big_endian<int64_t>(p);
        entry e;
        e.epoch = big_endian<int16_t>(p + 8);
        e.last_timestamp = big_endian<int64_t>(p + 10);
        if (!v1) {
            e.coordinator_epoch = big_endian<int32_t>(p + 18);
            if (const int64_t first = big_endian<int64_t>(p + 22); first >= 0) ongoing[id] = first;
        }
        const size_t batches = p[fixed - 1];
        p += fixed;
        if (batches > batches_kept || !take(batches * snapshot_batch_bytes)) return false;
        for (size_t b = 0; b < batches; ++b, p += snapshot_batch_bytes) {
            e.batches.push_back(producer_batch{big_endian<int32_t>(p), big_endian<int32_t>(p + 4),
                                               big_endian<int64_t>(p + 8), big_endian<int64_t>(p + 16)});
        }
        producers[id] = std::move(e);
    }
    if (v2) {
        // Version 2's aborted list: now in the .txnindex files, skipped.
        if (!take(4)) return false;
        const int32_t aborted_count = big_endian<int32_t>(p);
        p += 4;
        if (aborted_count < 0 || size_t(aborted_count) > left / snapshot_aborted_bytes) return false;
        if (!take(size_t(aborted_count) * snapshot_aborted_bytes)) return false;
    }
    if (left != 0) return false;
    _producers = std::move(producers);
    _ongoing = std::move(ongoing);
    return true;
}

storage::result<void> producer_state::rebuild(const storage::partition_log& log) {
    _producers.clear();
    _ongoing.clear();
    _aborted.clear();
    _replayed_batches = 0;
    storage::offset next = log.log_start_offset();
    // A .txnindex to rebuild needs every abort from where it is stale: a
    // snapshot taken after that point would skip some.
    const auto stale = log.aborted_txns_stale_from();
    if (auto snapshot = log.load_producer_snapshot();
        snapshot && (!stale || snapshot->at <= *stale) && decode(snapshot->state))
        next = snapshot->at;
    const storage::offset end = log.end_offset();
    // A batch header, and for a control batch its one small record.
    constexpr size_t marker_bytes = 64;
    uint8_t header[header_bytes + marker_bytes];
    while (next < end) {
        storage::read_options options;
        options.start = next;
        options.max_bytes = size_t(1) << 31;  // the rest of the segment holding `next`
        options.max_offset = end;
        auto read = log.read(options);
        if (!read) return read.error();
        const auto& region = read.value().region;
        if (region.length == 0) break;
        uint64_t position = region.position;
        const uint64_t stop = region.position + region.length;
        int64_t last_offset = -1;
        while (position + header_bytes <= stop) {
            if (::pread(region.fd, header, header_bytes, off_t(position)) != ssize_t(header_bytes))
                return storage::io_error(errno);
            const int64_t base = big_endian<int64_t>(header);
            const int32_t length = big_endian<int32_t>(header + length_at);
            if (length <= 0 || header[magic_at] != 2) break;
            const int32_t last_delta = big_endian<int32_t>(header + last_delta_at);
            last_offset = base + last_delta;
            const int64_t producer_id = big_endian<int64_t>(header + producer_id_at);
            const int16_t attributes = big_endian<int16_t>(header + attributes_at);
            const bool control = (attributes & 0x20) != 0;
            if (producer_id >= 0 && control) {
                // COMMIT/ABORT markers close the producer's transaction.
                const size_t batch_bytes = std::min<uint64_t>(12 + uint64_t(length), stop - position);
                const size_t want = std::min(batch_bytes, sizeof(header));
                if (::pread(region.fd, header, want, off_t(position)) != ssize_t(want)) return storage::io_error(errno);
                if (want <= header_bytes) break;
                if (auto marker = parse_txn_marker(protocol::bytes_view(header + header_bytes, want - header_bytes)))
                    end_transaction(producer_id, big_endian<int16_t>(header + producer_epoch_at), *marker, base,
                                    big_endian<int64_t>(header + max_timestamp_at));
            }
            if (producer_id >= 0 && !control) {
                const int32_t first_sequence = big_endian<int32_t>(header + base_sequence_at);
                const int32_t last_sequence =
                    first_sequence < 0 ? first_sequence
                                       : int32_t((int64_t(first_sequence) + last_delta) % (int64_t(INT32_MAX) + 1));
                record(producer_id, big_endian<int16_t>(header + producer_epoch_at),
                       producer_batch{first_sequence, last_sequence, base, base + last_delta},
                       big_endian<int64_t>(header + max_timestamp_at), (attributes & 0x10) != 0);
            }
            ++_replayed_batches;
            position += 12 + uint64_t(length);  // base offset and length fields, then `length` bytes
        }
        if (last_offset < 0 || storage::offset(last_offset + 1) <= next) break;  // no progress: stop, never loop
        next = storage::offset(last_offset + 1);
    }
    return boost::outcome_v2::success();
}

}  // namespace strata::replication
