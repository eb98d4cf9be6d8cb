#include "txn_state.h"

#include <map>

#include "strata/protocol/coordinator/transaction_log_key.h"
#include "strata/protocol/coordinator/transaction_log_value.h"
#include "strata/protocol/wire.h"

namespace strata::txn {

namespace coord = protocol::coordinator;

const char* to_string(txn_state s) {
    switch (s) {
        case txn_state::empty: return "Empty";
        case txn_state::ongoing: return "Ongoing";
        case txn_state::prepare_commit: return "PrepareCommit";
        case txn_state::prepare_abort: return "PrepareAbort";
        case txn_state::complete_commit: return "CompleteCommit";
        case txn_state::complete_abort: return "CompleteAbort";
        case txn_state::dead: return "Dead";
        case txn_state::prepare_epoch_fence: return "PrepareEpochFence";
    }
    return "Unknown";
}

bool valid_transition(txn_state from, txn_state to) {
    using enum txn_state;
    switch (to) {
        case empty: return from == empty || from == complete_commit || from == complete_abort;
        case ongoing: return from == ongoing || from == empty || from == complete_commit || from == complete_abort;
        case prepare_commit: return from == ongoing;
        case prepare_abort: return from == ongoing || from == prepare_epoch_fence;
        case complete_commit: return from == prepare_commit;
        case complete_abort: return from == prepare_abort;
        case dead: return from == empty || from == complete_commit || from == complete_abort;
        case prepare_epoch_fence: return from == ongoing;
    }
    return false;
}

namespace {

bool epoch_exhausted(int16_t epoch) {
    return epoch >= max_producer_epoch;
}

// Kafka's isValidProducerId: a KIP-360 InitProducerId naming a producer id
// fences unless it is this one, the metadata is new, or it is the previous id
// whose epoch ran out (a retry of the rotation).
bool valid_expected_producer(const txn_metadata& m, int64_t expected_id, int16_t expected_epoch) {
    if (expected_id < 0) return true;
    return m.producer_epoch < 0 || expected_id == m.producer_id ||
           (expected_id == m.last_producer_id && epoch_exhausted(expected_epoch));
}

txn_metadata fence_and_abort(const txn_metadata& m, int64_t now_ms) {
    txn_metadata next = m;
    // Kafka's prepareFenceProducerEpoch then the abort at that epoch; an
    // exhausted epoch stays (the next InitProducerId rotates the id).
    if (!epoch_exhausted(m.producer_epoch)) next.producer_epoch = int16_t(m.producer_epoch + 1);
    next.last_producer_epoch = m.producer_epoch;
    next.state = txn_state::prepare_abort;
    next.update_ms = now_ms;
    return next;
}

}  // namespace

init_decision decide_init(const txn_metadata* current, const std::string& transactional_id, int32_t timeout_ms,
                          int32_t max_timeout_ms, int64_t expected_producer_id, int16_t expected_epoch,
                          int64_t now_ms) {
    init_decision out;
    if (transactional_id.empty()) {
        out.error = kafka_error::invalid_request;
        return out;
    }
    if (timeout_ms <= 0 || timeout_ms > max_timeout_ms) {
        out.error = kafka_error::invalid_transaction_timeout;
        return out;
    }
    if (!current) {
        txn_metadata fresh;
        fresh.transactional_id = transactional_id;
        fresh.producer_epoch = 0;
        fresh.timeout_ms = timeout_ms;
        fresh.state = txn_state::empty;
        fresh.update_ms = now_ms;
        out.next = fresh;
        out.needs_producer_id = true;
        return out;
    }
    const txn_metadata& m = *current;
    if (!valid_expected_producer(m, expected_producer_id, expected_epoch)) {
        out.error = kafka_error::producer_fenced;
        return out;
    }
    switch (m.state) {
        case txn_state::prepare_abort:
        case txn_state::prepare_commit:
        case txn_state::prepare_epoch_fence:
        case txn_state::dead:
            out.error = kafka_error::concurrent_transactions;
            return out;
        case txn_state::ongoing:
            // The open transaction is aborted at a bumped epoch first (the
            // old producer is fenced); the client retries and gets the epoch
            // after that.
            out.next = fence_and_abort(m, now_ms);
            out.next->timeout_ms = m.timeout_ms;
            out.abort_open = true;
            out.error = kafka_error::concurrent_transactions;
            return out;
        case txn_state::empty:
        case txn_state::complete_commit:
        case txn_state::complete_abort:
            break;
    }
    txn_metadata next = m;
    next.state = txn_state::empty;
    next.partitions.clear();
    next.timeout_ms = timeout_ms;
    next.start_ms = -1;
    next.update_ms = now_ms;
    if (epoch_exhausted(m.producer_epoch) && (expected_epoch < 0 || expected_epoch == m.producer_epoch)) {
        // A new producer id at epoch 0 (Kafka's producer id rotation).
        next.last_producer_id = m.producer_id;
        next.last_producer_epoch = -1;
        next.producer_epoch = 0;
        out.needs_producer_id = true;
        out.next = next;
        return out;
    }
    if (expected_epoch < 0 || m.producer_epoch < 0 || expected_epoch == m.producer_epoch) {
        next.last_producer_epoch = m.producer_epoch;
        next.producer_epoch = int16_t(m.producer_epoch + 1);
    } else if (expected_epoch == m.last_producer_epoch) {
        // A retry of the bump whose answer was lost: the same epoch again.
    } else {
        out.error = kafka_error::producer_fenced;
        return out;
    }
    out.next = next;
    return out;
}

kafka_error check_producer(const txn_metadata* current, int64_t producer_id, int16_t epoch) {
    if (!current || current->producer_id != producer_id) return kafka_error::invalid_producer_id_mapping;
    if (current->producer_epoch != epoch) return kafka_error::producer_fenced;
    return kafka_error::none;
}

txn_decision decide_add_partitions(const txn_metadata* current, int64_t producer_id, int16_t epoch,
                                   const std::vector<txn_partition>& partitions, int64_t now_ms) {
    txn_decision out;
    if (auto e = check_producer(current, producer_id, epoch); e != kafka_error::none) {
        out.error = e;
        return out;
    }
    const txn_metadata& m = *current;
    switch (m.state) {
        case txn_state::prepare_commit:
        case txn_state::prepare_abort:
        case txn_state::prepare_epoch_fence:
            out.error = kafka_error::concurrent_transactions;
            return out;
        case txn_state::dead:
            out.error = kafka_error::invalid_txn_state;
            return out;
        default:
            break;
    }
    bool all_in = m.state == txn_state::ongoing;
    for (const auto& p : partitions) all_in = all_in && m.partitions.contains(p);
    if (all_in) return out;  // nothing new: no write
    txn_metadata next = m;
    if (m.state != txn_state::ongoing) next.start_ms = now_ms;
    next.state = txn_state::ongoing;
    next.partitions.insert(partitions.begin(), partitions.end());
    next.update_ms = now_ms;
    out.next = next;
    return out;
}

kafka_error verify_partition(const txn_metadata* current, int64_t producer_id, int16_t epoch, const txn_partition& p) {
    if (auto e = check_producer(current, producer_id, epoch); e != kafka_error::none) return e;
    if (current->state == txn_state::prepare_commit || current->state == txn_state::prepare_abort)
        return kafka_error::concurrent_transactions;
    if (current->state != txn_state::ongoing || !current->partitions.contains(p)) return kafka_error::invalid_txn_state;
    return kafka_error::none;
}

txn_decision decide_end(const txn_metadata* current, int64_t producer_id, int16_t epoch, bool commit, int64_t now_ms) {
    txn_decision out;
    if (auto e = check_producer(current, producer_id, epoch); e != kafka_error::none) {
        out.error = e;
        return out;
    }
    const txn_metadata& m = *current;
    switch (m.state) {
        case txn_state::ongoing: {
            txn_metadata next = m;
            next.state = commit ? txn_state::prepare_commit : txn_state::prepare_abort;
            next.update_ms = now_ms;
            out.next = next;
            return out;
        }
        case txn_state::complete_commit:
            out.error = commit ? kafka_error::none : kafka_error::invalid_txn_state;
            return out;
        case txn_state::complete_abort:
            out.error = commit ? kafka_error::invalid_txn_state : kafka_error::none;
            return out;
        case txn_state::prepare_commit:
            out.error = commit ? kafka_error::concurrent_transactions : kafka_error::invalid_txn_state;
            return out;
        case txn_state::prepare_abort:
            out.error = commit ? kafka_error::invalid_txn_state : kafka_error::concurrent_transactions;
            return out;
        case txn_state::empty:
        case txn_state::dead:
        case txn_state::prepare_epoch_fence:
            out.error = kafka_error::invalid_txn_state;
            return out;
    }
    out.error = kafka_error::invalid_txn_state;
    return out;
}

std::optional<txn_metadata> decide_timeout_abort(const txn_metadata& current, int64_t now_ms) {
    if (current.state != txn_state::ongoing || current.start_ms < 0) return std::nullopt;
    if (current.start_ms + current.timeout_ms >= now_ms) return std::nullopt;
    return fence_and_abort(current, now_ms);
}

txn_metadata complete(const txn_metadata& prepared, int64_t now_ms) {
    txn_metadata next = prepared;
    next.state = prepared.state == txn_state::prepare_commit ? txn_state::complete_commit : txn_state::complete_abort;
    next.partitions.clear();
    next.update_ms = now_ms;
    return next;
}

bool should_expire(const txn_metadata& current, int64_t now_ms, int64_t expiration_ms) {
    const bool allowed = current.state == txn_state::empty || current.state == txn_state::complete_commit ||
                         current.state == txn_state::complete_abort;
    return allowed && current.update_ms <= now_ms - expiration_ms;
}

// ---- records ------------------------------------------------------------------------

namespace {

// Kafka 3.9 writes key and value version 0.
constexpr int16_t key_version = 0;
constexpr int16_t value_version = 0;

template <typename Message>
std::vector<uint8_t> versioned(const Message& m, int16_t version) {
    protocol::encoded_output out;
    protocol::writer w(out);
    w.write_int16(version);
    m.encode(w, version);
    return std::move(out.bytes);
}

}  // namespace

txn_record encode_record(const txn_metadata& m) {
    coord::transaction_log_key key;
    key.transactional_id = m.transactional_id;
    txn_record out{versioned(key, key_version), std::nullopt};
    if (m.state == txn_state::dead) return out;
    coord::transaction_log_value v;
    v.producer_id = m.producer_id;
    v.producer_epoch = m.producer_epoch;
    v.transaction_timeout_ms = m.timeout_ms;
    v.transaction_status = static_cast<int8_t>(m.state);
    v.transaction_last_update_timestamp_ms = m.update_ms;
    v.transaction_start_timestamp_ms = m.start_ms;
    // Kafka writes no partitions (null) for Empty.
    if (m.state == txn_state::empty) {
        v.transaction_partitions.reset();
    } else {
        std::map<std::string, std::vector<int32_t>> by_topic;
        for (const auto& p : m.partitions) by_topic[p.topic].push_back(p.partition);
        for (auto& [topic, ids] : by_topic) {
            auto& t = v.transaction_partitions->emplace_back();
            t.topic = topic;
            t.partition_ids = std::move(ids);
        }
    }
    out.value = versioned(v, value_version);
    return out;
}

std::optional<decoded_txn_record> decode_record(std::span<const uint8_t> key,
                                                std::optional<std::span<const uint8_t>> value) {
    protocol::reader kr(key);
    const int16_t kv = kr.read_int16();
    if (kv != 0) return std::nullopt;
    coord::transaction_log_key k;
    k.decode(kr, kv);
    decoded_txn_record out;
    out.transactional_id = k.transactional_id;
    if (!value) return out;
    protocol::reader vr(*value);
    const int16_t vv = vr.read_int16();
    if (vv < 0 || vv > coord::transaction_log_value::highest_supported_version) return std::nullopt;
    coord::transaction_log_value v;
    v.decode(vr, vv);
    txn_metadata m;
    m.transactional_id = k.transactional_id;
    m.producer_id = v.producer_id;
    m.last_producer_id = v.previous_producer_id;
    m.producer_epoch = v.producer_epoch;
    m.timeout_ms = v.transaction_timeout_ms;
    if (v.transaction_status < 0 || v.transaction_status > 7) return std::nullopt;
    m.state = static_cast<txn_state>(v.transaction_status);
    if (v.transaction_partitions)
        for (const auto& t : *v.transaction_partitions)
            for (int32_t id : t.partition_ids) m.partitions.insert(txn_partition{t.topic, id});
    m.update_ms = v.transaction_last_update_timestamp_ms;
    m.start_ms = v.transaction_start_timestamp_ms;
    out.metadata = std::move(m);
    return out;
}

}  // namespace strata::txn
