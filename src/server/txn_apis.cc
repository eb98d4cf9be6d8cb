// The transaction APIs: DescribeProducers (61) from this broker's partition
// leaders; AddPartitionsToTxn (24), AddOffsetsToTxn (25),
// EndTxn (26), DescribeTransactions (65) and ListTransactions (66) handed to
// the transaction coordinator (src/txn/);
// TxnOffsetCommit (28) to the group coordinator; WriteTxnMarkers (27), which
// the coordinators send to partition leaders, answered here by the
// partitions this broker leads.
#include "txn_apis.h"

#include <mutex>

#include "strata/protocol/messages/describe_producers_request.h"
#include "strata/protocol/messages/describe_producers_response.h"
#include "strata/protocol/messages/txn_offset_commit_request.h"
#include "strata/protocol/messages/txn_offset_commit_response.h"
#include "strata/server/cluster_security.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

// The answers of one WriteTxnMarkers, filled in by the partitions' strands.
struct marker_wait {
    std::mutex mutex;
    msg::write_txn_markers_response response;
    size_t remaining = 0;
    std::function<void(msg::write_txn_markers_response)> done;

    void set(size_t marker, size_t topic, size_t partition, kafka_error e) {
        std::unique_lock lock(mutex);
        response.markers[marker].topics[topic].partitions[partition].error_code = static_cast<int16_t>(e);
        if (--remaining > 0) return;
        auto answer = std::move(response);
        auto callback = std::move(done);
        lock.unlock();
        callback(std::move(answer));
    }
};

awaitable<msg::write_txn_markers_response> handle_write_txn_markers(txn_context& txns, request_context& ctx,
                                                                    msg::write_txn_markers_request& request) {
    // Only brokers (transaction coordinators) write markers: CLUSTER_ACTION,
    // else every partition CLUSTER_AUTHORIZATION_FAILED, as Kafka.
    if (!cluster_action_allowed(ctx)) {
        msg::write_txn_markers_response refused;
        for (const auto& marker : request.markers) {
            auto& out = refused.markers.emplace_back();
            out.producer_id = marker.producer_id;
            for (const auto& t : marker.topics) {
                auto& topic = out.topics.emplace_back();
                topic.name = t.name;
                for (const int32_t index : t.partition_indexes) {
                    auto& p = topic.partitions.emplace_back();
                    p.partition_index = index;
                    p.error_code = static_cast<int16_t>(kafka_error::cluster_authorization_failed);
                }
            }
        }
        co_return refused;
    }
    auto signal = replication::async_signal::make(co_await boost::asio::this_coro::executor);
    auto result = std::make_shared<std::optional<msg::write_txn_markers_response>>();
    auto mutex = std::make_shared<std::mutex>();
    write_markers_here(txns, std::move(request), [signal, result, mutex](msg::write_txn_markers_response r) {
        {
            std::lock_guard lock(*mutex);
            *result = std::move(r);
        }
        signal->notify();
    });
    co_await signal->wait_until(std::chrono::steady_clock::time_point::max());
    std::lock_guard lock(*mutex);
    co_return std::move(**result);
}

// DescribeProducers (KIP-664): the producer state of partitions led here.
awaitable<msg::describe_producers_response> handle_describe_producers(txn_context& txns, request_context& ctx,
                                                                      msg::describe_producers_request& request) {
    struct wait_state {
        std::mutex mutex;
        msg::describe_producers_response response;
        size_t remaining = 0;
    };
    auto signal = replication::async_signal::make(co_await boost::asio::this_coro::executor);
    auto wait = std::make_shared<wait_state>();
    std::vector<std::tuple<size_t, size_t, std::shared_ptr<replication::partition>>> asks;
    {
        std::lock_guard lock(wait->mutex);
        for (const auto& t : request.topics) {
            auto& topic = wait->response.topics.emplace_back();
            topic.name = t.name;
            const bool may = ctx.authorized(security::acl_operation::read, security::resource_type::topic, t.name);
            for (int32_t index : t.partition_indexes) {
                auto& p = topic.partitions.emplace_back();
                p.partition_index = index;
                if (!may) {
                    p.error_code = static_cast<int16_t>(kafka_error::topic_authorization_failed);
                    continue;
                }
                auto found = txns.partitions.find(t.name, index);
                if (!found.leader) {
                    p.error_code = static_cast<int16_t>(found.error);
                    continue;
                }
                asks.emplace_back(wait->response.topics.size() - 1, topic.partitions.size() - 1, found.leader);
            }
        }
        wait->remaining = asks.size();
    }
    if (asks.empty()) co_return std::move(wait->response);
    for (auto& [t, p, leader] : asks) {
        leader->describe_producers(
            [wait, signal, t = t, p = p](kafka_error e, std::vector<replication::producer_info> producers) {
                std::lock_guard lock(wait->mutex);
                auto& out = wait->response.topics[t].partitions[p];
                out.error_code = static_cast<int16_t>(e);
                for (const auto& info : producers) {
                    auto& a = out.active_producers.emplace_back();
                    a.producer_id = info.producer_id;
                    a.producer_epoch = info.epoch;
                    a.last_sequence = info.last_sequence;
                    a.last_timestamp = info.last_timestamp;
                    a.coordinator_epoch = info.coordinator_epoch;
                    a.current_txn_start_offset = info.txn_start_offset;
                }
                if (--wait->remaining == 0) signal->notify();
            });
    }
    co_await signal->wait_until(std::chrono::steady_clock::time_point::max());
    std::lock_guard lock(wait->mutex);
    co_return std::move(wait->response);
}

}  // namespace

void write_markers_here(txn_context& txns, msg::write_txn_markers_request request,
                        std::function<void(msg::write_txn_markers_response)> done) {
    auto wait = std::make_shared<marker_wait>();
    wait->done = std::move(done);
    struct job {
        size_t marker, topic, partition;
        std::shared_ptr<replication::partition> leader;
        kafka_error error;
    };
    std::vector<job> jobs;
    for (size_t m = 0; m < request.markers.size(); ++m) {
        const auto& marker = request.markers[m];
        auto& out = wait->response.markers.emplace_back();
        out.producer_id = marker.producer_id;
        for (size_t t = 0; t < marker.topics.size(); ++t) {
            auto& topic_out = out.topics.emplace_back();
            topic_out.name = marker.topics[t].name;
            for (size_t p = 0; p < marker.topics[t].partition_indexes.size(); ++p) {
                const int32_t index = marker.topics[t].partition_indexes[p];
                topic_out.partitions.emplace_back().partition_index = index;
                auto found = txns.partitions.find(marker.topics[t].name, index);
                jobs.push_back(job{m, t, p, found.leader, found.leader ? kafka_error::none : found.error});
            }
        }
    }
    wait->remaining = jobs.size();
    if (jobs.empty()) return wait->done(std::move(wait->response));
    for (auto& j : jobs) {
        if (!j.leader) {
            wait->set(j.marker, j.topic, j.partition, j.error);
            continue;
        }
        const auto& marker = request.markers[j.marker];
        const bool commit = marker.transaction_result;
        const int64_t producer_id = marker.producer_id;
        const bool offsets = marker.topics[j.topic].name == group::offsets_topic_name;
        const int32_t index = marker.topics[j.topic].partition_indexes[j.partition];
        auto* groups = txns.groups;
        j.leader->write_txn_marker(
            producer_id, marker.producer_epoch, marker.coordinator_epoch, commit,
            [wait, j, groups, offsets, producer_id, commit, index](kafka_error e) {
                // Offsets committed in the transaction become visible (or are
                // dropped) once the marker is in __consumer_offsets.
                if (e == kafka_error::none && offsets && groups)
                    groups->complete_txn_offsets(producer_id, commit, index);
                wait->set(j.marker, j.topic, j.partition, e);
            });
    }
}

void register_txn_apis(request_dispatcher& dispatcher, txn_context& txns) {
    auto& tc = txns.coordinator;
    dispatcher.register_api<msg::add_partitions_to_txn_request>(
        [&tc](request_context& ctx, msg::add_partitions_to_txn_request& r) {
            return authorized_add_partitions_to_txn(tc, ctx, std::move(r));
        },
        0, 5);
    dispatcher.register_api<msg::add_offsets_to_txn_request>(
        [&tc](request_context& ctx, msg::add_offsets_to_txn_request& r) {
            return authorized_add_offsets_to_txn(tc, ctx, std::move(r));
        },
        0, 4);
    dispatcher.register_api<msg::end_txn_request>(
        [&tc](request_context& ctx, msg::end_txn_request& r) { return authorized_end_txn(tc, ctx, std::move(r)); }, 0,
        5);
    dispatcher.register_api<msg::write_txn_markers_request>(
        [&txns](request_context& ctx, msg::write_txn_markers_request& r) {
            return handle_write_txn_markers(txns, ctx, r);
        },
        0, 1);
    dispatcher.register_api<msg::describe_producers_request>(
        [&txns](request_context& ctx, msg::describe_producers_request& r) {
            return handle_describe_producers(txns, ctx, r);
        },
        0, 0);
    dispatcher.register_api<msg::describe_transactions_request>(
        [&tc](request_context& ctx, msg::describe_transactions_request& r) {
            return authorized_describe_transactions(tc, ctx, std::move(r));
        },
        0, 0);
    dispatcher.register_api<msg::list_transactions_request>(
        [&tc](request_context& ctx, msg::list_transactions_request& r) {
            return authorized_list_transactions(tc, ctx, std::move(r));
        },
        0, 1);
    if (txns.groups) {
        auto* gc = txns.groups;
        dispatcher.register_api<msg::txn_offset_commit_request>(
            [gc](request_context& ctx, msg::txn_offset_commit_request& r) {
                return authorized_txn_offset_commit(*gc, ctx, std::move(r));
            },
            0, 4);
    }
}

txn::txn_config txn_config_from(const broker_config& config) {
    txn::txn_config c;
    c.node_id = config.node_id;
    c.state_log_partitions = config.transaction_state_log_num_partitions;
    c.state_log_replication_factor = static_cast<int16_t>(config.transaction_state_log_replication_factor);
    c.state_log_min_isr = config.transaction_state_log_min_isr;
    c.state_log_segment_bytes = config.transaction_state_log_segment_bytes;
    c.max_timeout_ms = config.transaction_max_timeout_ms;
    c.abort_timed_out_interval_ms = config.transaction_abort_timed_out_transaction_cleanup_interval_ms;
    c.id_expiration_ms = config.transactional_id_expiration_ms;
    c.remove_expired_interval_ms = config.transaction_remove_expired_transaction_cleanup_interval_ms;
    c.offsets_topic_partitions = config.offsets_topic_num_partitions;
    c.inter_broker_listener = config.inter_broker_listener_name;
    c.inter_broker_security = cluster_client_security(config, config.inter_broker_listener_name);
    return c;
}

}  // namespace strata::server
