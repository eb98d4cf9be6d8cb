// The transaction coordinator (KIP-98): transactional ids, their producer
// ids and epochs, and their transactions, kept in the internal topic
// `__transaction_state` in Kafka's TransactionLogKey/Value records.
//
// A transactional id belongs to partition abs(javaHashCode(id)) % N of
// `__transaction_state`; the broker leading that partition coordinates it,
// with that partition's leader epoch as its coordinator epoch. When this
// broker becomes leader of such a partition, the coordinator replays its log
// before it answers for its ids (COORDINATOR_LOAD_IN_PROGRESS meanwhile),
// and finishes the transactions it finds half-ended (PrepareCommit /
// PrepareAbort: markers again, then Complete*). Every state a client is told
// about was first appended to that partition with acks=all.
//
// Threads. Owned by the request handler (stratad); the metadata service and
// the partition manager outlive it. All state lives on one thread of its
// own, which also owns its connections to other brokers (WriteTxnMarkers,
// and the KIP-890 verification of other brokers' produces); log replay runs
// on a loader thread. The request methods may be awaited from any network
// thread.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "strata/common/kafka_error.h"
#include "strata/metadata/metadata_service.h"
#include "strata/net/client_security.h"
#include "strata/protocol/messages/add_offsets_to_txn_request.h"
#include "strata/protocol/messages/add_offsets_to_txn_response.h"
#include "strata/protocol/messages/add_partitions_to_txn_request.h"
#include "strata/protocol/messages/add_partitions_to_txn_response.h"
#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/messages/create_topics_response.h"
#include "strata/protocol/messages/describe_transactions_request.h"
#include "strata/protocol/messages/describe_transactions_response.h"
#include "strata/protocol/messages/end_txn_request.h"
#include "strata/protocol/messages/end_txn_response.h"
#include "strata/protocol/messages/init_producer_id_request.h"
#include "strata/protocol/messages/init_producer_id_response.h"
#include "strata/protocol/messages/list_transactions_request.h"
#include "strata/protocol/messages/list_transactions_response.h"
#include "strata/protocol/messages/write_txn_markers_request.h"
#include "strata/protocol/messages/write_txn_markers_response.h"
#include "strata/replication/partition_manager.h"

namespace strata::txn {

inline constexpr std::string_view transaction_state_topic = "__transaction_state";

// The broker settings the coordinator reads (Kafka's names in comments).
struct txn_config {
    int32_t node_id = 0;
    int32_t state_log_partitions = 50;                // transaction.state.log.num.partitions
    int16_t state_log_replication_factor = 3;         // transaction.state.log.replication.factor
    int32_t state_log_min_isr = 2;                    // transaction.state.log.min.isr
    int32_t state_log_segment_bytes = 104857600;      // transaction.state.log.segment.bytes
    int32_t max_timeout_ms = 900000;                  // transaction.max.timeout.ms
    int64_t abort_timed_out_interval_ms = 10000;      // transaction.abort.timed.out.transaction.cleanup.interval.ms
    int64_t id_expiration_ms = 604800000;             // transactional.id.expiration.ms
    int64_t remove_expired_interval_ms = 3600000;     // transaction.remove.expired.transaction.cleanup.interval.ms
    int32_t offsets_topic_partitions = 50;            // offsets.topic.num.partitions (AddOffsetsToTxn)
    std::string inter_broker_listener;                // inter.broker.listener.name: how markers reach leaders
    net::client_security inter_broker_security;       // and that listener's security protocol
    // How __transaction_state is created (through the active controller).
    std::function<boost::asio::awaitable<protocol::messages::create_topics_response>(
        protocol::messages::create_topics_request)>
        create_topics;
    // A fresh producer id (the broker's blocks from AllocateProducerIds).
    std::function<boost::asio::awaitable<std::pair<kafka_error, int64_t>>()> allocate_producer_id;
    // WriteTxnMarkers for partitions this broker leads (the handler's local
    // half): called on the coordinator thread, answers on any thread.
    std::function<void(protocol::messages::write_txn_markers_request,
                       std::function<void(protocol::messages::write_txn_markers_response)>)>
        write_local_markers;
};

// Java's String.hashCode-based placement, as Kafka's.
int32_t partition_for_transactional_id(std::string_view transactional_id, int32_t partitions);

class txn_coordinator {
public:
    txn_coordinator(txn_config config, metadata::metadata_service& metadata,
                    replication::partition_manager& partitions);
    ~txn_coordinator();  // stop()
    txn_coordinator(const txn_coordinator&) = delete;
    txn_coordinator& operator=(const txn_coordinator&) = delete;

    void start();
    void stop();

    // FindCoordinator(TRANSACTION): creates `__transaction_state` on first
    // use, then names the leader of the id's partition.
    boost::asio::awaitable<std::pair<kafka_error, int32_t>> find_coordinator(std::string transactional_id);

    boost::asio::awaitable<protocol::messages::init_producer_id_response> init_producer_id(
        protocol::messages::init_producer_id_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::add_partitions_to_txn_response> add_partitions_to_txn(
        protocol::messages::add_partitions_to_txn_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::add_offsets_to_txn_response> add_offsets_to_txn(
        protocol::messages::add_offsets_to_txn_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::end_txn_response> end_txn(protocol::messages::end_txn_request request,
                                                                         int16_t version);

    // KIP-664: what `kafka-transactions.sh describe` and `list` show.
    boost::asio::awaitable<protocol::messages::describe_transactions_response> describe_transactions(
        protocol::messages::describe_transactions_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::list_transactions_response> list_transactions(
        protocol::messages::list_transactions_request request, int16_t version);

    // KIP-890 part 1, for this broker's partition leaders: is `topic`-
    // `partition` in the open transaction of (id, producer id, epoch)? Asks
    // this coordinator, or the broker that coordinates the id
    // (AddPartitionsToTxn v4 verify-only). `done` runs on any thread.
    void verify_partition(std::string transactional_id, int64_t producer_id, int16_t epoch, std::string topic,
                          int32_t partition, std::function<void(kafka_error)> done);

    struct impl;

private:
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::txn
