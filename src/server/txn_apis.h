// The transaction APIs (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// WriteTxnMarkers, TxnOffsetCommit), served by the transaction coordinator
// (src/txn/), the group coordinator and this broker's partition leaders.
#pragma once

#include <functional>

#include "request_dispatcher.h"
#include "strata/group/group_coordinator.h"
#include "strata/replication/partition_manager.h"
#include "strata/server/broker_config.h"
#include "strata/txn/txn_coordinator.h"

namespace strata::server {

// What these handlers need; outlives the dispatcher.
struct txn_context {
    txn::txn_coordinator& coordinator;
    replication::partition_manager& partitions;
    group::group_coordinator* groups = nullptr;
};

void register_txn_apis(request_dispatcher& dispatcher, txn_context& txns);

// The authorize stage of the transaction APIs (txn_authorize.cc): each
// checks what Kafka's KafkaApis checks, then hands what is allowed on.
boost::asio::awaitable<protocol::messages::add_partitions_to_txn_response> authorized_add_partitions_to_txn(
    txn::txn_coordinator& tc, request_context& ctx, protocol::messages::add_partitions_to_txn_request request);
boost::asio::awaitable<protocol::messages::add_offsets_to_txn_response> authorized_add_offsets_to_txn(
    txn::txn_coordinator& tc, request_context& ctx, protocol::messages::add_offsets_to_txn_request request);
boost::asio::awaitable<protocol::messages::end_txn_response> authorized_end_txn(
    txn::txn_coordinator& tc, request_context& ctx, protocol::messages::end_txn_request request);
boost::asio::awaitable<protocol::messages::txn_offset_commit_response> authorized_txn_offset_commit(
    group::group_coordinator& gc, request_context& ctx, protocol::messages::txn_offset_commit_request request);
boost::asio::awaitable<protocol::messages::describe_transactions_response> authorized_describe_transactions(
    txn::txn_coordinator& tc, request_context& ctx, protocol::messages::describe_transactions_request request);
boost::asio::awaitable<protocol::messages::list_transactions_response> authorized_list_transactions(
    txn::txn_coordinator& tc, request_context& ctx, protocol::messages::list_transactions_request request);

// WriteTxnMarkers' work: each marker appended by the partition this broker
// leads (NOT_LEADER_OR_FOLLOWER for the others), and for __consumer_offsets
// the group coordinator told; `done` runs once on any thread. The
// coordinator calls it directly for the partitions led here.
void write_markers_here(txn_context& txns, protocol::messages::write_txn_markers_request request,
                        std::function<void(protocol::messages::write_txn_markers_response)> done);

// The coordinator's settings from the broker's (transaction.*).
txn::txn_config txn_config_from(const broker_config& config);

}  // namespace strata::server
