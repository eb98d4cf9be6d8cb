#include "strata/replication/producer_state.h"

#include <unistd.h>

#include <cstring>

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
constexpr size_t length_at = 8, magic_at = 16, last_delta_at = 23, producer_id_at = 43, producer_epoch_at = 51,
                 base_sequence_at = 53;

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

void producer_state::record(int64_t producer_id, int16_t epoch, const producer_batch& batch) {
    entry& e = _producers[producer_id];
    if (epoch != e.epoch) {
        e.epoch = epoch;
        e.batches.clear();
    }
    e.batches.push_back(batch);
    while (e.batches.size() > batches_kept) e.batches.pop_front();
}

storage::result<void> producer_state::rebuild(const storage::partition_log& log) {
    _producers.clear();
    storage::offset next = log.log_start_offset();
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
                       producer_batch{first_sequence, last_sequence, base, base + last_delta});
            }
            position += 12 + uint64_t(length);  // base offset and length fields, then `length` bytes
        }
        if (last_offset < 0 || storage::offset(last_offset + 1) <= next) break;  // no progress: stop, never loop
        next = storage::offset(last_offset + 1);
    }
    return boost::outcome_v2::success();
}

}  // namespace strata::replication
