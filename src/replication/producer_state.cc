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
    return std::erase_if(_producers, [&](const auto& p) { return now_ms - p.second.last_timestamp >= expiration_ms; });
}

void producer_state::record(int64_t producer_id, int16_t epoch, const producer_batch& batch, int64_t timestamp) {
    entry& e = _producers[producer_id];
    e.last_timestamp = std::max(e.last_timestamp, timestamp);
    if (epoch != e.epoch) {
        e.epoch = epoch;
        e.batches.clear();
    }
    e.batches.push_back(batch);
    while (e.batches.size() > batches_kept) e.batches.pop_front();
}

namespace {

constexpr uint8_t snapshot_version = 1;
constexpr size_t snapshot_batch_bytes = 4 + 4 + 8 + 8;
constexpr size_t snapshot_producer_bytes = 8 + 2 + 8 + 1;

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
    if (!take(5) || p[0] != snapshot_version) return false;
    const int32_t count = big_endian<int32_t>(p + 1);
    p += 5;
    // Every producer takes at least its fixed part: a count beyond what the
    // bytes can hold is corrupt, and is refused before anything is allocated.
    if (count < 0 || size_t(count) > left / snapshot_producer_bytes) return false;
    std::unordered_map<int64_t, entry> producers;
    producers.reserve(size_t(count));
    for (int32_t i = 0; i < count; ++i) {
        if (!take(snapshot_producer_bytes)) return false;
        const int64_t id = big_endian<int64_t>(p);
        entry e;
        e.epoch = big_endian<int16_t>(p + 8);
        e.last_timestamp = big_endian<int64_t>(p + 10);
        const size_t batches = p[18];
        p += snapshot_producer_bytes;
        if (batches > batches_kept || !take(batches * snapshot_batch_bytes)) return false;
        for (size_t b = 0; b < batches; ++b, p += snapshot_batch_bytes) {
            e.batches.push_back(producer_batch{big_endian<int32_t>(p), big_endian<int32_t>(p + 4),
                                               big_endian<int64_t>(p + 8), big_endian<int64_t>(p + 16)});
        }
        producers[id] = std::move(e);
    }
    if (left != 0) return false;
    _producers = std::move(producers);
    return true;
}

storage::result<void> producer_state::rebuild(const storage::partition_log& log) {
    _producers.clear();
    _replayed_batches = 0;
    storage::offset next = log.log_start_offset();
    if (auto snapshot = log.load_producer_snapshot(); snapshot && decode(snapshot->state)) next = snapshot->at;
    const storage::offset end = log.end_offset();
    uint8_t header[header_bytes];
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
            const bool control = (big_endian<int16_t>(header + attributes_at) & 0x20) != 0;
            if (producer_id >= 0 && !control) {
                const int32_t first_sequence = big_endian<int32_t>(header + base_sequence_at);
                const int32_t last_sequence =
                    first_sequence < 0 ? first_sequence
                                       : int32_t((int64_t(first_sequence) + last_delta) % (int64_t(INT32_MAX) + 1));
                record(producer_id, big_endian<int16_t>(header + producer_epoch_at),
                       producer_batch{first_sequence, last_sequence, base, base + last_delta},
                       big_endian<int64_t>(header + max_timestamp_at));
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
