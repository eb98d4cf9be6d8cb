// Produce (key 0): validates each partition's batches and appends them on the
// partition's strand; answers after the append (acks=1), after the fsync and
// the ISR (acks=all), or not at all (acks=0).
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <mutex>

#include "current_leader.h"
#include "data_path.h"
#include "topic_metrics.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/legacy_records.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/produce_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::server {

namespace {

namespace pm = protocol::messages;
using replication::produce_outcome;
using replication::required_acks;

// The outcomes of one request's partitions, filled in by their strands.
struct produce_wait {
    explicit produce_wait(boost::asio::any_io_executor executor, size_t partitions)
        : signal(replication::async_signal::make(std::move(executor))), outcomes(partitions), done(partitions) {}

    void complete(size_t index, produce_outcome outcome) {
        std::lock_guard lock(mutex);
        outcomes[index] = std::move(outcome);
        done[index] = true;
        if (--remaining == 0) signal->notify();
    }

    std::shared_ptr<replication::async_signal> signal;
    std::mutex mutex;
    std::vector<produce_outcome> outcomes;
    std::vector<bool> done;
    size_t remaining = 0;  // partitions handed to a strand and not yet answered
};

produce_outcome error_outcome(kafka_error error, std::string message = {}) {
    produce_outcome out;
    out.error = error;
    out.message = std::move(message);
    return out;
}

// The bytes to append, or the error that refuses them before any partition
// sees them: what depends on the request's version rather than on the log.
struct prepared_records {
    protocol::bytes_view bytes;
    std::shared_ptr<const void> owner;
    std::optional<produce_outcome> refused;
};

prepared_records prepare(const std::optional<protocol::records>& records, int16_t version,
                         const std::shared_ptr<const std::vector<uint8_t>>& frame) {
    prepared_records out;
    if (records) out.bytes = records->bytes();
    out.owner = frame;
    auto magic = protocol::peek_magic(out.bytes);
    if (version < 3 && magic && *magic < 2) {
        // Old clients' message sets become one v2 batch (legacy_records.h).
        auto converted = protocol::convert_legacy_to_v2(out.bytes);
        if (!converted) {
            out.refused = error_outcome(protocol::to_kafka_error(converted.error()),
                                        std::string(protocol::record_error_message(converted.error())));
            return out;
        }
        auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(converted).value());
        out.bytes = *owned;
        out.owner = owned;
        return out;
    }
    auto first = protocol::record_batch_view::from(out.bytes);
    if (!first) return out;  // the log's validation names the framing error
    if (version >= 3 && first.value().size() < out.bytes.size()) {
        out.refused = error_outcome(kafka_error::invalid_record, "produce v3+ carries exactly one record batch");
        return out;
    }
    return out;
}

// Records in the (already framed) batches of `bytes`, for MessagesInPerSec:
// the batch headers' counts, without decoding a record.
int64_t count_records(protocol::bytes_view bytes) {
    int64_t count = 0;
    while (!bytes.empty()) {
        auto batch = protocol::record_batch_view::from(bytes);
        if (!batch) break;
        count += std::max(batch.value().record_count(), 0);
        bytes = bytes.subspan(batch.value().size());
    }
    return count;
}

// KIP-890 part 1: a transactional batch's partition must be in its
// producer's transaction; the partition asks (once per transaction) through
// this. The coordinator's answers become errors a producer knows how to
// handle, as Kafka's ReplicaManager maps them.
replication::partition::txn_verifier verifier_for(const produce_txn_verifier& verifier,
                                                  const std::optional<std::string>& transactional_id,
                                                  protocol::bytes_view bytes, const std::string& topic,
                                                  int32_t partition) {
    if (!verifier || !transactional_id) return {};
    auto batch = protocol::record_batch_view::from(bytes);
    if (!batch || !batch.value().is_transactional()) return {};
    return [verifier, id = *transactional_id, pid = batch.value().producer_id(),
            epoch = batch.value().producer_epoch(), topic, partition](std::function<void(kafka_error)> done) {
        verifier(id, pid, epoch, topic, partition, [done = std::move(done)](kafka_error e) {
            switch (e) {
                case kafka_error::coordinator_not_available:
                case kafka_error::not_coordinator:
                case kafka_error::coordinator_load_in_progress:
                case kafka_error::concurrent_transactions:
                    return done(kafka_error::not_enough_replicas);  // retriable for every producer
                case kafka_error::producer_fenced:
                    return done(kafka_error::invalid_producer_epoch);
                case kafka_error::invalid_producer_id_mapping:
                    return done(kafka_error::invalid_txn_state);
                default:
                    return done(e);
            }
        });
    };
}

boost::asio::awaitable<pm::produce_response> handle_produce(request_context& ctx, pm::produce_request& request,
                                                            replication::partition_manager& partitions,
                                                            topic_metrics& traffic, const produce_txn_verifier& verifier) {
    auto executor = co_await boost::asio::this_coro::executor;

    size_t count = 0;
    for (const auto& topic : request.topic_data) count += topic.partition_data.size();
    auto wait = std::make_shared<produce_wait>(executor, count);

    std::optional<produce_outcome> refuse_all;
    if (request.acks != 0 && request.acks != 1 && request.acks != -1)
        refuse_all = error_outcome(kafka_error::invalid_required_acks);
    // A transactional producer's batches need WRITE on its transactional id.
    if (!refuse_all && request.transactional_id &&
        !ctx.authorized(security::acl_operation::write, security::resource_type::transactional_id,
                        *request.transactional_id))
        refuse_all = error_outcome(kafka_error::transactional_id_authorization_failed);
    const auto acks = static_cast<required_acks>(request.acks);

    // Everything is handed to the strands here, before the first suspension,
    // so that produce order per partition follows arrival order on this
    // connection (net::request_handler's contract).
    size_t index = 0;
    {
        std::lock_guard lock(wait->mutex);
        for (const auto& topic : request.topic_data) {
            // The authorize stage: WRITE on the topic, as Kafka's KafkaApis.
            const bool may_write = refuse_all || ctx.authorized(security::acl_operation::write,
                                                                security::resource_type::topic, topic.name);
            for (const auto& data : topic.partition_data) {
                const size_t i = index++;
                auto done_now = [&](produce_outcome o) {
                    wait->outcomes[i] = std::move(o);
                    wait->done[i] = true;
                };
                if (refuse_all) {
                    done_now(*refuse_all);
                    continue;
                }
                if (!may_write) {
                    done_now(error_outcome(kafka_error::topic_authorization_failed));
                    continue;
                }
                auto found = partitions.find(topic.name, data.index);
                if (!found.leader) {
                    done_now(error_outcome(found.error));
                    continue;
                }
                auto prepared = prepare(data.records, ctx.version, ctx.frame);
                if (prepared.refused) {
                    prepared.refused->log_start_offset = found.leader->log_start_offset();
                    done_now(std::move(*prepared.refused));
                    continue;
                }
                ++wait->remaining;
                // Counted once appended, as Kafka counts BytesIn/MessagesIn.
                auto append_done = [wait, i, series = traffic.of(topic.name), bytes = prepared.bytes.size(),
                                    records = count_records(prepared.bytes)](produce_outcome o) {
                    if (o.error == kafka_error::none) {
                        series->bytes_in.inc(bytes);
                        series->messages_in.inc(static_cast<uint64_t>(records));
                    }
                    wait->complete(i, std::move(o));
                };
                auto verify = verifier_for(verifier, request.transactional_id, prepared.bytes, topic.name, data.index);
                found.leader->produce(prepared.bytes, std::move(prepared.owner), acks, std::move(append_done),
                                      std::move(verify));
            }
        }
        if (wait->remaining == 0) wait->signal->notify();
    }

    // acks=0 and 1 wait for the append only (and so bound how much a
    // connection can queue on the strands); acks=all for at most timeout_ms.
    auto deadline = std::chrono::steady_clock::time_point::max();
    if (acks == required_acks::all)
        deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(request.timeout_ms, 0));
    const auto waiting_since = std::chrono::steady_clock::now();
    co_await wait->signal->wait_until(deadline);
    if (acks == required_acks::all) {
        // Kafka's RemoteTimeMs: an acks=all produce waits for the in-sync
        // replicas and the flush. The appends run on the partitions'
        // strands, not here, so the whole wait counts (Kafka counts the
        // leader's append as local time: here it is a few microseconds of it).
        ctx.waiting_remotely(waiting_since);
    }
    if (acks == required_acks::none) {
        // No response to carry an error: Kafka closes the connection instead,
        // so that the producer notices and refreshes its metadata.
        std::lock_guard lock(wait->mutex);
        bool failed = false;
        for (size_t i = 0; i < count; ++i) failed |= wait->done[i] && wait->outcomes[i].error != kafka_error::none;
        ctx.no_response = true;
        ctx.close_connection = failed;
        co_return pm::produce_response{};
    }

    pm::produce_response response;
    std::lock_guard lock(wait->mutex);
    // KIP-951 (v10+): a partition answered NOT_LEADER_OR_FOLLOWER names its
    // current leader (as of now, after the wait: current_leader.h) and the
    // response that leader's endpoint on this request's listener. Kafka fills
    // them for this error only.
    const bool name_leaders = ctx.version >= 10;
    const auto image = name_leaders ? partitions.image() : nullptr;
    leader_endpoints leaders;
    index = 0;
    for (const auto& topic : request.topic_data) {
        auto& topic_response = response.responses.emplace_back();
        topic_response.name = topic.name;
        const metadata::topic_image* topic_image = image ? image->topic(topic.name) : nullptr;
        for (const auto& data : topic.partition_data) {
            const size_t i = index++;
            auto& p = topic_response.partition_responses.emplace_back();
            p.index = data.index;
            if (!wait->done[i]) {
                p.error_code = static_cast<int16_t>(kafka_error::request_timed_out);
                p.base_offset = -1;
                continue;
            }
            const auto& o = wait->outcomes[i];
            p.error_code = static_cast<int16_t>(o.error);
            if (name_leaders && o.error == kafka_error::not_leader_or_follower) {
                const auto hosted = partitions.find_replica(topic.name, data.index).leader;
                const auto current = current_leader_of(image.get(), topic_image, data.index, hosted.get());
                p.current_leader.leader_id = current.leader_id;
                p.current_leader.leader_epoch = current.leader_epoch;
                leaders.add(image.get(), current.leader_id, ctx.connection.listener);
            }
            p.base_offset = o.error == kafka_error::none ? o.base_offset.value() : -1;
            p.log_append_time_ms = o.log_append_time;
            p.log_start_offset = o.log_start_offset.value();
            if (!o.message.empty()) p.error_message = o.message;
            // KIP-467: which records failed, so that the client fails only
            // those (encoded from v8 on; older versions carry the error alone).
            for (const auto& failure : o.record_errors) {
                auto& e = p.record_errors.emplace_back();
                e.batch_index = failure.batch_index;
                e.batch_index_error_message = failure.message;
            }
        }
    }
    leaders.fill(response.node_endpoints);
    co_return response;
}

}  // namespace

void register_produce(request_dispatcher& dispatcher, replication::partition_manager& partitions,
                      std::shared_ptr<topic_metrics> traffic, produce_txn_verifier verifier) {
    if (!traffic)
        traffic = std::make_shared<topic_metrics>(dispatcher.metrics(), [&partitions] { return partitions.image(); });
    dispatcher.register_api<pm::produce_request>(
        [&partitions, traffic, verifier = std::move(verifier)](request_context& ctx, pm::produce_request& request) {
            return handle_produce(ctx, request, partitions, *traffic, verifier);
        },
        0, pm::produce_request::highest_supported_version);
}

}  // namespace strata::server
