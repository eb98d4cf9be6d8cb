// TxnOffsetCommit (KIP-98): offsets a transactional producer commits for a
// group ("send_offsets_to_transaction"). They are appended to the group's
// partition of __consumer_offsets as one transactional batch of the
// producer, and stay pending until the transaction coordinator's marker
// reaches that partition (WriteTxnMarkers, then complete_txn_offsets): COMMIT
// makes them the group's committed offsets, ABORT drops them. Meanwhile
// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for them.
// A load replays the same way: a transactional batch's offsets count from
// its COMMIT marker on; those without a marker yet are pending again.
#include <boost/asio/this_coro.hpp>

#include "coordinator_impl.h"
#include "strata/protocol/record_batch.h"

namespace strata::group {

namespace msg = protocol::messages;
using boost::asio::awaitable;

namespace {

msg::txn_offset_commit_response txn_commit_response(const msg::txn_offset_commit_request& request,
                                                    const std::map<topic_partition_key, kafka_error>& errors,
                                                    kafka_error all) {
    msg::txn_offset_commit_response out;
    for (const auto& t : request.topics) {
        auto& topic = out.topics.emplace_back();
        topic.name = t.name;
        for (const auto& p : t.partitions) {
            auto& r = topic.partitions.emplace_back();
            r.partition_index = p.partition_index;
            auto it = errors.find({t.name, p.partition_index});
            r.error_code = code(all != kafka_error::none ? all : it == errors.end() ? kafka_error::none : it->second);
        }
    }
    return out;
}

}  // namespace

void group_coordinator::impl::write_txn(int32_t p, std::vector<offsets_record> records, int64_t producer_id,
                                        int16_t epoch, std::function<void(kafka_error)> done) {
    auto found = partitions.find(offsets_topic_name, p);
    if (!found.leader) return done(kafka_error::not_coordinator);
    protocol::record_batch_options options;
    options.producer_id = producer_id;
    options.producer_epoch = epoch;
    options.base_sequence = 0;
    options.is_transactional = true;
    protocol::record_batch_builder builder(options);
    const int64_t now = now_ms();
    for (const auto& r : records) {
        std::optional<protocol::bytes_view> value;
        if (r.value) value = protocol::bytes_view(*r.value);
        builder.append(now, protocol::bytes_view(r.key), value);
    }
    auto built = builder.build();
    if (!built) return done(kafka_error::unknown_server_error);
    auto batch = std::make_shared<const std::vector<uint8_t>>(std::move(built).value());
    auto ex = executor();
    found.leader->append_coordinator_batch(*batch, batch,
                                           [ex, done = std::move(done)](replication::produce_outcome outcome) mutable {
                                               boost::asio::post(ex, [done = std::move(done), e = outcome.error] {
                                                   done(e == kafka_error::not_leader_or_follower
                                                            ? kafka_error::not_coordinator
                                                        : e == kafka_error::not_enough_replicas
                                                            ? kafka_error::coordinator_not_available
                                                            : e);
                                               });
                                           });
}

void group_coordinator::impl::add_txn_offset(int64_t producer_id, pending_txn_offset offset) {
    ++get_or_create_group(offset.group).pending_commits()[offset.tp];
    txn_offsets[producer_id].push_back(std::move(offset));
}

void group_coordinator::impl::end_txn_offsets(int64_t producer_id, bool commit, int32_t partition) {
    if (auto shard = shards.find(partition); shard == shards.end() || !shard->second.loaded)
        early_txn_markers[{partition, producer_id}] = commit;
    auto it = txn_offsets.find(producer_id);
    if (it == txn_offsets.end()) return;
    auto& offsets = it->second;
    for (auto o = offsets.begin(); o != offsets.end();) {
        if (partition_of(o->group) != partition) {
            ++o;
            continue;
        }
        if (auto* g = find_group(o->group)) {
            auto pending = g->pending_commits().find(o->tp);
            if (pending != g->pending_commits().end() && --pending->second <= 0) g->pending_commits().erase(pending);
            if (commit) g->offsets()[o->tp] = o->value;
        }
        o = offsets.erase(o);
    }
    if (offsets.empty()) txn_offsets.erase(it);
}

void group_coordinator::complete_txn_offsets(int64_t producer_id, bool commit, int32_t partition) {
    if (_impl->closed.load(std::memory_order_acquire)) return;
    boost::asio::post(_impl->executor(), [self = _impl, producer_id, commit, partition] {
        self->end_txn_offsets(producer_id, commit, partition);
    });
}

awaitable<msg::txn_offset_commit_response> group_coordinator::txn_offset_commit(msg::txn_offset_commit_request request,
                                                                                int16_t version) {
    auto fallback = txn_commit_response(request, {}, kafka_error::not_coordinator);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::txn_offset_commit_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request), version](responder<msg::txn_offset_commit_response> answer) mutable {
            if (request.group_id.empty()) return answer(txn_commit_response(request, {}, kafka_error::invalid_group_id));
            if (auto e = self->group_ready(request.group_id); e != kafka_error::none)
                return answer(txn_commit_response(request, {}, e));
            // KIP-447 (v3+): a member of a classic group commits at its generation.
            if (auto* g = self->find_group(request.group_id);
                g && version >= 3 && !request.member_id.empty() && request.generation_id >= 0 && !g->members().empty()) {
                if (auto e = g->validate_offset_commit(request.member_id, request.group_instance_id,
                                                       request.generation_id, self->now_ms());
                    e != kafka_error::none)
                    return answer(txn_commit_response(request, {}, e));
            }
            auto image = self->partitions.image();
            std::map<topic_partition_key, kafka_error> errors;
            auto values = std::make_shared<std::vector<pending_txn_offset>>();
            std::vector<offsets_record> records;
            const int64_t now = self->now_ms();
            for (const auto& t : request.topics) {
                const auto* topic = image ? image->topic(t.name) : nullptr;
                for (const auto& p : t.partitions) {
                    const topic_partition_key tp{t.name, p.partition_index};
                    if (!topic || p.partition_index < 0 ||
                        static_cast<size_t>(p.partition_index) >= topic->partitions.size()) {
                        errors[tp] = kafka_error::unknown_topic_or_partition;
                        continue;
                    }
                    const std::string metadata = p.committed_metadata.value_or("");
                    if (metadata.size() > static_cast<size_t>(self->config.offset_metadata_max_bytes)) {
                        errors[tp] = kafka_error::offset_metadata_too_large;
                        continue;
                    }
                    committed_offset c;
                    c.offset = p.committed_offset;
                    c.leader_epoch = version >= 2 ? p.committed_leader_epoch : -1;
                    c.metadata = metadata;
                    c.commit_timestamp_ms = now;
                    records.push_back(offset_commit_record(request.group_id, t.name, p.partition_index, &c));
                    values->push_back(pending_txn_offset{request.group_id, tp, std::move(c)});
                }
            }
            if (records.empty()) return answer(txn_commit_response(request, errors, kafka_error::none));
            // Read before the call: its last argument moves `request` away,
            // and the order in which arguments are evaluated is unspecified
            // (GCC goes right to left, which once wrote every transaction's
            // offsets to partition 0 as the group of "").
            const int64_t producer_id = request.producer_id;
            const int16_t producer_epoch = request.producer_epoch;
            const int32_t partition = self->partition_of(request.group_id);
            self->write_txn(partition, std::move(records), producer_id, producer_epoch,
                            [self, request = std::move(request), errors = std::move(errors), values, producer_id,
                             answer](kafka_error e) mutable {
                                if (e == kafka_error::none)
                                    for (auto& v : *values) self->add_txn_offset(producer_id, std::move(v));
                                if (e == kafka_error::message_too_large || e == kafka_error::record_list_too_large)
                                    e = kafka_error::invalid_commit_offset_size;
                                answer(txn_commit_response(request, errors, e));
                            });
        });
    co_return co_await reply.wait();
}

}  // namespace strata::group
