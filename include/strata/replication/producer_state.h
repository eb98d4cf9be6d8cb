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
// snapshot's bytes (big-endian; versions 1, without the transaction fields,
// and 2, with an aborted list that now lives in the .txnindex, are still read):
//
//   version int8 (3) | producerCount int32 |
//   [ producerId int64 | epoch int16 | lastTimestamp int64 |
//     coordinatorEpoch int32 | txnFirstOffset int64 (-1: none) | batchCount int8 |
//     [ firstSequence int32 | lastSequence int32 |
//       firstOffset int64 | lastOffset int64 ]* ]*
//
// Transactions (KIP-98): a transactional batch opens its producer's
// transaction at its first offset; a COMMIT or ABORT control batch (the
// coordinator's marker) closes it. The earliest open transaction's first
// offset bounds the last stable offset. An aborted transaction's range
// (first offset to the marker's offset, with the LSO after the marker) is
// handed to the partition (take_aborted), which writes it to the log's
// per-segment .txnindex (storage/txn_index.h), where read_committed fetches
// find it; nothing of it stays here.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "strata/common/kafka_error.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/log.h"

namespace strata::replication {

// An aborted transaction: Kafka's AbortedTxn (the .txnindex entry and,
// without its LSO, the fetch response's).
using aborted_txn = storage::aborted_txn;

// A control batch's one record: Kafka's EndTransactionMarker.
struct txn_marker {
    bool commit = false;
    int32_t coordinator_epoch = -1;
};
// Parses the control record of an uncompressed control batch's records
// section (`records`); nullopt for other control types or malformed bytes.
std::optional<txn_marker> parse_txn_marker(protocol::bytes_view records);
// The records section of a COMMIT or ABORT control batch (one record, key
// version 0 and type 1 or 0, value version 0 and the coordinator epoch).
std::vector<uint8_t> txn_marker_key(bool commit);
std::vector<uint8_t> txn_marker_value(int32_t coordinator_epoch);

// One producer as DescribeProducers shows it (KIP-664).
struct producer_info {
    int64_t producer_id = -1;
    int16_t epoch = -1;
    int32_t last_sequence = -1;
    int64_t last_timestamp = -1;
    int32_t coordinator_epoch = -1;
    int64_t txn_start_offset = -1;  // -1: no open transaction
};

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
    // `transactional`: the batch's attribute bit; it opens the producer's
    // transaction here if none is open.
    void record(int64_t producer_id, int16_t epoch, const producer_batch& batch, int64_t timestamp,
                bool transactional = false);

    // ---- transactions ------------------------------------------------------
    // Whether a COMMIT/ABORT marker from the coordinator may be written:
    // INVALID_PRODUCER_EPOCH for an epoch older than the producer's,
    // TRANSACTION_COORDINATOR_FENCED for a coordinator epoch older than the
    // last marker's (Kafka's ProducerAppendInfo.appendEndTxnMarker).
    kafka_error check_marker(int64_t producer_id, int16_t epoch, int32_t coordinator_epoch) const;
    // Applies the marker written at `marker_offset`: the producer takes its
    // epoch (sequence numbers start over), its open transaction (if any)
    // closes and, aborted, joins the aborted transactions to hand over.
    void end_transaction(int64_t producer_id, int16_t epoch, const txn_marker& marker, int64_t marker_offset,
                         int64_t timestamp);
    bool in_transaction(int64_t producer_id) const { return _ongoing.contains(producer_id); }
    // The first offset of the earliest open transaction; INT64_MAX: none.
    int64_t first_unstable_offset() const;
    // The transactions aborted since the last take_aborted (or rebuild),
    // in marker order, for the log's .txnindex.
    const std::vector<aborted_txn>& aborted() const { return _aborted; }
    std::vector<aborted_txn> take_aborted() { return std::exchange(_aborted, {}); }
    // Applies one v2 batch appended to the log (replay, followers): its
    // producer fields, its transaction bit, and for a control batch its marker.
    void apply(const protocol::record_batch_view& batch);
    // Forgets every producer whose last batch is `expiration_ms` or more older
    // than `now_ms` (Kafka's producer.id.expiration.ms), so that the state of
    // producers that came and went does not grow without bound. A retry from a
    // forgotten producer is accepted as new, as in Kafka. Returns how many.
    size_t expire(int64_t now_ms, int64_t expiration_ms);

    // Loads the log's producer snapshot, if it has a valid one, then replays
    // the producer fields of every batch after it (of every batch, from the
    // log start, without one). Reads only the 61-byte batch headers. When the
    // log's .txnindex must be rebuilt from some offset, a snapshot past it
    // is not used, so that aborted() then holds every abort from there on.
    storage::result<void> rebuild(const storage::partition_log& log);
    // The batches replayed by the last rebuild (tests, logs).
    size_t replayed_batches() const { return _replayed_batches; }

    // The snapshot bytes drawn above; decode rejects malformed input.
    std::string encode() const;
    bool decode(std::string_view bytes);

    // Every producer with its last batch, for the log's cleaner (Kafka's
    // lastRecordsOfActiveProducers): its last data batch's last offset in
    // its current epoch, else -1 (its last marker then holds the epoch).
    std::vector<storage::producer_last_batch> last_batches() const;

    size_t producers() const { return _producers.size(); }
    std::vector<producer_info> describe() const;

private:
    struct entry {
        int16_t epoch = -1;
        int32_t coordinator_epoch = -1;
        int64_t last_timestamp = -1;
        std::deque<producer_batch> batches;  // oldest first
    };
    std::unordered_map<int64_t, entry> _producers;
    std::map<int64_t, int64_t> _ongoing;  // producer id -> its open transaction's first offset
    std::vector<aborted_txn> _aborted;    // not yet taken, in marker order
    size_t _replayed_batches = 0;
};

}  // namespace strata::replication
