// One transactional id's state at the transaction coordinator, the rules
// that move it (Kafka's TransactionMetadata and TransactionCoordinator), and
// its record in `__transaction_state` (TransactionLogKey v0 /
// TransactionLogValue v0).
//
// Pure: no clock (time is passed in), no I/O. The coordinator calls a
// decide_* function for a request; what it returns is either an error for the
// client or the next metadata, which the coordinator writes to the log before
// it replaces the current one and answers.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "strata/common/kafka_error.h"

namespace strata::txn {

// Kafka's TransactionState ids, as stored in TransactionLogValue.
enum class txn_state : int8_t {
    empty = 0,
    ongoing = 1,
    prepare_commit = 2,
    prepare_abort = 3,
    complete_commit = 4,
    complete_abort = 5,
    dead = 6,
    prepare_epoch_fence = 7,
};
const char* to_string(txn_state s);
// Kafka's TransactionState.validPreviousStates.
bool valid_transition(txn_state from, txn_state to);

struct txn_partition {
    std::string topic;
    int32_t partition = 0;
    auto operator<=>(const txn_partition&) const = default;
};

struct txn_metadata {
    std::string transactional_id;
    int64_t producer_id = -1;
    int64_t last_producer_id = -1;  // before an epoch exhaustion moved it to a new id
    int16_t producer_epoch = -1;
    int16_t last_producer_epoch = -1;  // the epoch a retried InitProducerId may name (KIP-360)
    int32_t timeout_ms = 60000;
    txn_state state = txn_state::empty;
    std::set<txn_partition> partitions;
    int64_t start_ms = -1;  // when the open transaction began
    int64_t update_ms = -1;
    bool operator==(const txn_metadata&) const = default;
};

// A producer's epoch runs up to Short.MaxValue - 1; then a new producer id.
inline constexpr int16_t max_producer_epoch = INT16_MAX - 1;

// ---- InitProducerId -------------------------------------------------------------

struct init_decision {
    kafka_error error = kafka_error::none;
    // The metadata to write; with `needs_producer_id`, its producer id is to
    // be filled in with a freshly allocated one (epoch 0).
    std::optional<txn_metadata> next;
    bool needs_producer_id = false;
    // An open transaction must be aborted first (the producer is fenced):
    // `next` is the PrepareAbort at the bumped epoch; the client hears
    // CONCURRENT_TRANSACTIONS and retries.
    bool abort_open = false;
};
// `current`: null when the id is unknown. `expected_*`: the request's
// producer id and epoch (-1: none, KIP-360).
init_decision decide_init(const txn_metadata* current, const std::string& transactional_id, int32_t timeout_ms,
                          int32_t max_timeout_ms, int64_t expected_producer_id, int16_t expected_epoch,
                          int64_t now_ms);

// ---- AddPartitionsToTxn / AddOffsetsToTxn / EndTxn ----------------------------------

struct txn_decision {
    kafka_error error = kafka_error::none;
    std::optional<txn_metadata> next;  // nothing to write: answer `error` now
};
// The checks shared by the APIs that name (producer id, epoch).
kafka_error check_producer(const txn_metadata* current, int64_t producer_id, int16_t epoch);
txn_decision decide_add_partitions(const txn_metadata* current, int64_t producer_id, int16_t epoch,
                                   const std::vector<txn_partition>& partitions, int64_t now_ms);
// KIP-890 part 1: NONE when `p` is in the producer's open transaction.
kafka_error verify_partition(const txn_metadata* current, int64_t producer_id, int16_t epoch, const txn_partition& p);
// EndTxn: `next` is PrepareCommit / PrepareAbort (then markers, then
// complete()); no `next` and NONE: a retry of a transaction already ended.
txn_decision decide_end(const txn_metadata* current, int64_t producer_id, int16_t epoch, bool commit, int64_t now_ms);
// The transaction coordinator's own abort of a transaction past its timeout
// (Kafka bumps the epoch, so that the producer is fenced).
std::optional<txn_metadata> decide_timeout_abort(const txn_metadata& current, int64_t now_ms);
// PrepareCommit/PrepareAbort -> CompleteCommit/CompleteAbort, once every
// partition has its marker: no partitions, no open transaction.
txn_metadata complete(const txn_metadata& prepared, int64_t now_ms);
// transactional.id.expiration.ms (Kafka's TransactionStateManager
// shouldExpire): an id with no transaction open or ending (Empty,
// CompleteCommit, CompleteAbort) whose last update is at least
// `expiration_ms` old is removed (a tombstone in __transaction_state).
bool should_expire(const txn_metadata& current, int64_t now_ms, int64_t expiration_ms);

// ---- records ------------------------------------------------------------------------

struct txn_record {
    std::vector<uint8_t> key;
    std::optional<std::vector<uint8_t>> value;  // none: tombstone
};
txn_record encode_record(const txn_metadata& m);
// Decodes one record of __transaction_state: the id and its metadata (none
// for a tombstone). Throws protocol::decode_error on malformed bytes; nullopt
// for keys of versions this does not know.
struct decoded_txn_record {
    std::string transactional_id;
    std::optional<txn_metadata> metadata;
};
std::optional<decoded_txn_record> decode_record(std::span<const uint8_t> key,
                                                std::optional<std::span<const uint8_t>> value);

}  // namespace strata::txn
