// Idempotent producers (KIP-98): per partition, the epoch and the last five
// batches of every producer id, so that a retried batch is answered with
// the offsets it already has instead of being written twice, and a batch
// that skips sequence numbers is refused.
//
// Owned by the partition and used on its strand only. Rebuilt when a
// partition opens by reading the batch headers of its log (the producer
// fields are in every v2 batch header), so it survives restarts and
// crashes: whatever was appended before the crash is in the log. To keep
// that replay short, the partition saves the state as a snapshot in the
// log's state store (Kafka's producer snapshots) when a segment rolls and
// when it stops; the replay then starts at the snapshot's offset. The
// snapshot's bytes (big-endian):
//
//   version int8 (1) | producerCount int32 |
//   [ producerId int64 | epoch int16 | lastTimestamp int64 | batchCount int8 |
//     [ firstSequence int32 | lastSequence int32 |
//       firstOffset int64 | lastOffset int64 ]* ]*
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "strata/common/kafka_error.h"
#include "strata/storage/log.h"

namespace strata::replication {

struct producer_batch {
    int32_t first_sequence = 0;
    int32_t last_sequence = 0;
    int64_t first_offset = 0;
    int64_t last_offset = 0;
};

// What to do with an incoming batch.
struct producer_check {
    kafka_error error = kafka_error::none;  // OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH
    std::string message;
    std::optional<producer_batch> duplicate_of;  // already in the log: answer with its offsets
};

class producer_state {
public:
    // Kafka keeps the last five batches per producer (a producer has at most
    // five in flight per partition).
    static constexpr size_t batches_kept = 5;

    producer_check check(int64_t producer_id, int16_t epoch, int32_t first_sequence, int32_t last_sequence) const;
    // `timestamp`: the batch's maxTimestamp (Kafka's lastTimestamp), which
    // expiry compares with the clock.
    void record(int64_t producer_id, int16_t epoch, const producer_batch& batch, int64_t timestamp);
    // Forgets every producer whose last batch is `expiration_ms` or more older
    // than `now_ms` (Kafka's producer.id.expiration.ms), so that the state of
    // producers that came and went does not grow without bound. A retry from a
    // forgotten producer is accepted as new, as in Kafka. Returns how many.
    size_t expire(int64_t now_ms, int64_t expiration_ms);

    // Loads the log's producer snapshot, if it has a valid one, then replays
    // the producer fields of every batch after it (of every batch, from the
    // log start, without one). Reads only the 61-byte batch headers.
    storage::result<void> rebuild(const storage::partition_log& log);
    // The batches replayed by the last rebuild (tests, logs).
    size_t replayed_batches() const { return _replayed_batches; }

    // The snapshot bytes drawn above; decode rejects malformed input.
    std::string encode() const;
    bool decode(std::string_view bytes);

    size_t producers() const { return _producers.size(); }

private:
    struct entry {
        int16_t epoch = -1;
        int64_t last_timestamp = -1;
        std::deque<producer_batch> batches;  // oldest first
    };
    std::unordered_map<int64_t, entry> _producers;
    size_t _replayed_batches = 0;
};

}  // namespace strata::replication
