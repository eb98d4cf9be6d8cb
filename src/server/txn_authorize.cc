// The authorize stage of the transaction APIs, as Kafka's KafkaApis: WRITE
// on the transactional id for what a transactional producer does, READ on
// the group and topics whose offsets it commits, CLUSTER_ACTION for what only
// brokers send (WriteTxnMarkers, AddPartitionsToTxn v4+ verification), and
// DESCRIBE on the ids DescribeTransactions and ListTransactions show.
#include "strata/protocol/messages/txn_offset_commit_request.h"
#include "strata/protocol/messages/txn_offset_commit_response.h"
#include "txn_apis.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;
using security::acl_operation;
using security::resource_type;

bool may_write_txn(const request_context& ctx, const std::string& id) {
    return ctx.authorized(acl_operation::write, resource_type::transactional_id, id);
}

}  // namespace

awaitable<msg::add_partitions_to_txn_response> authorized_add_partitions_to_txn(
    txn::txn_coordinator& tc, request_context& ctx, msg::add_partitions_to_txn_request request) {
    if (ctx.version >= 4) {
        // v4+ is what brokers send to verify a transaction (KIP-890).
        if (!cluster_action_allowed(ctx)) {
            msg::add_partitions_to_txn_response response;
            response.error_code = kafka_error_code(kafka_error::cluster_authorization_failed);
            co_return response;
        }
        co_return co_await tc.add_partitions_to_txn(std::move(request), ctx.version);
    }
    // The transactional id first, then WRITE on every topic; if any topic is
    // refused, nothing is added (the others: OPERATION_NOT_ATTEMPTED).
    const bool txn_allowed = may_write_txn(ctx, request.v3_and_below_transactional_id);
    bool any_topic_refused = false;
    std::vector<bool> topic_allowed;
    for (const auto& t : request.v3_and_below_topics) {
        topic_allowed.push_back(txn_allowed && ctx.authorized(acl_operation::write, resource_type::topic, t.name));
        any_topic_refused = any_topic_refused || !topic_allowed.back();
    }
    if (txn_allowed && !any_topic_refused) co_return co_await tc.add_partitions_to_txn(std::move(request), ctx.version);
    msg::add_partitions_to_txn_response response;
    for (size_t i = 0; i < request.v3_and_below_topics.size(); ++i) {
        const auto& t = request.v3_and_below_topics[i];
        auto& out = response.results_by_topic_v3_and_below.emplace_back();
        out.name = t.name;
        const auto error = !txn_allowed        ? kafka_error::transactional_id_authorization_failed
                           : !topic_allowed[i] ? kafka_error::topic_authorization_failed
                                               : kafka_error::operation_not_attempted;
        for (const int32_t p : t.partitions) {
            auto& r = out.results_by_partition.emplace_back();
            r.partition_index = p;
            r.partition_error_code = kafka_error_code(error);
        }
    }
    co_return response;
}

awaitable<msg::add_offsets_to_txn_response> authorized_add_offsets_to_txn(txn::txn_coordinator& tc,
                                                                          request_context& ctx,
                                                                          msg::add_offsets_to_txn_request request) {
    msg::add_offsets_to_txn_response response;
    if (!may_write_txn(ctx, request.transactional_id)) {
        response.error_code = kafka_error_code(kafka_error::transactional_id_authorization_failed);
        co_return response;
    }
    if (!ctx.authorized(acl_operation::read, resource_type::group, request.group_id)) {
        response.error_code = kafka_error_code(kafka_error::group_authorization_failed);
        co_return response;
    }
    co_return co_await tc.add_offsets_to_txn(std::move(request), ctx.version);
}

awaitable<msg::end_txn_response> authorized_end_txn(txn::txn_coordinator& tc, request_context& ctx,
                                                    msg::end_txn_request request) {
    if (!may_write_txn(ctx, request.transactional_id)) {
        msg::end_txn_response response;
        response.error_code = kafka_error_code(kafka_error::transactional_id_authorization_failed);
        co_return response;
    }
    co_return co_await tc.end_txn(std::move(request), ctx.version);
}

// WRITE on the transactional id, READ on the group, READ on each topic.
awaitable<msg::txn_offset_commit_response> authorized_txn_offset_commit(group::group_coordinator& gc,
                                                                        request_context& ctx,
                                                                        msg::txn_offset_commit_request request) {
    kafka_error everything = kafka_error::none;
    if (!may_write_txn(ctx, request.transactional_id))
        everything = kafka_error::transactional_id_authorization_failed;
    else if (!ctx.authorized(acl_operation::read, resource_type::group, request.group_id))
        everything = kafka_error::group_authorization_failed;
    std::vector<msg::txn_offset_commit_response::txn_offset_commit_response_topic> refused;
    std::erase_if(request.topics, [&](const msg::txn_offset_commit_request::txn_offset_commit_request_topic& t) {
        kafka_error error = everything;
        if (error == kafka_error::none && !ctx.authorized(acl_operation::read, resource_type::topic, t.name))
            error = kafka_error::topic_authorization_failed;
        if (error == kafka_error::none) return false;
        auto& out = refused.emplace_back();
        out.name = t.name;
        for (const auto& p : t.partitions) {
            auto& r = out.partitions.emplace_back();
            r.partition_index = p.partition_index;
            r.error_code = kafka_error_code(error);
        }
        return true;
    });
    msg::txn_offset_commit_response response;
    if (!request.topics.empty()) response = co_await gc.txn_offset_commit(std::move(request), ctx.version);
    for (auto& t : refused) response.topics.push_back(std::move(t));
    co_return response;
}

// DESCRIBE on each transactional id.
awaitable<msg::describe_transactions_response> authorized_describe_transactions(
    txn::txn_coordinator& tc, request_context& ctx, msg::describe_transactions_request request) {
    std::vector<std::string> refused;
    std::erase_if(request.transactional_ids, [&](const std::string& id) {
        if (ctx.authorized(acl_operation::describe, resource_type::transactional_id, id)) return false;
        refused.push_back(id);
        return true;
    });
    msg::describe_transactions_response response;
    if (!request.transactional_ids.empty())
        response = co_await tc.describe_transactions(std::move(request), ctx.version);
    // The topics of a described transaction are shown if DESCRIBE-able.
    for (auto& state : response.transaction_states)
        std::erase_if(state.topics, [&](const msg::describe_transactions_response::topic_data& t) {
            return !ctx.authorized(acl_operation::describe, resource_type::topic, t.topic);
        });
    for (const auto& id : refused) {
        auto& out = response.transaction_states.emplace_back();
        out.transactional_id = id;
        out.error_code = kafka_error_code(kafka_error::transactional_id_authorization_failed);
    }
    co_return response;
}

// Only the transactional ids the principal may DESCRIBE are listed.
awaitable<msg::list_transactions_response> authorized_list_transactions(txn::txn_coordinator& tc,
                                                                        request_context& ctx,
                                                                        msg::list_transactions_request request) {
    auto response = co_await tc.list_transactions(std::move(request), ctx.version);
    std::erase_if(response.transaction_states, [&](const msg::list_transactions_response::transaction_state_type& t) {
        return !ctx.authorized(acl_operation::describe, resource_type::transactional_id, t.transactional_id);
    });
    co_return response;
}

}  // namespace strata::server
