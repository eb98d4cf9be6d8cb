// The coordinator's machinery: its thread, the partitions of
// __transaction_state it leads (load on leadership, forget on loss), the
// records it writes, the markers it sends, the timeout of open transactions.
// The request handlers are in txn_requests.cc.
#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>

#include "coordinator_impl.h"
#include "strata/group/group_coordinator.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/log.h"

namespace strata::txn {

namespace msg = protocol::messages;
using boost::asio::awaitable;

int32_t partition_for_transactional_id(std::string_view transactional_id, int32_t partitions) {
    return group::partition_for_group(transactional_id, partitions);  // the same hash as Kafka's
}

namespace {

// Replays the whole log of a __transaction_state partition: the last record
// of each id wins, a tombstone removes it. Runs on the loader thread.
bool replay_log(const storage::partition_log& log, std::map<std::string, txn_metadata>& out, spdlog::logger& logger) {
    auto next = log.log_start_offset();
    const auto end = log.end_offset();
    std::vector<uint8_t> scratch;
    while (next < end) {
        storage::read_options options;
        options.start = next;
        options.max_bytes = 1 << 20;
        auto read = log.read(options);
        if (!read) return false;
        if (read.value().region.length == 0) break;
        auto bytes = storage::read_region(read.value().region);
        if (!bytes) return false;
        protocol::record_batch_sequence batches(bytes.value());
        bool progressed = false;
        for (;;) {
            auto batch = batches.next();
            if (!batch || !batch.value()) break;
            const auto& b = *batch.value();
            if (b.last_offset() < next.value()) continue;
            if (!b.is_control()) {
                auto r = protocol::for_each_record(b, size_t{64} << 20, scratch, [&](const protocol::record_view& rec) {
                    if (!rec.key) return;
                    try {
                        std::optional<std::span<const uint8_t>> value;
                        if (rec.value) value = *rec.value;
                        auto decoded = decode_record(*rec.key, value);
                        if (!decoded) return;
                        if (decoded->metadata)
                            out[decoded->transactional_id] = std::move(*decoded->metadata);
                        else
                            out.erase(decoded->transactional_id);
                    } catch (const std::exception& e) {
                        logger.warn("{}: skipping an undecodable record: {}", log.partition(), e.what());
                    }
                });
                if (!r) logger.warn("{}: skipping a malformed batch at {}", log.partition(), b.base_offset());
            }
            next = storage::offset(b.last_offset() + 1);
            progressed = true;
        }
        if (!progressed) break;
    }
    return true;
}

kafka_error write_error(kafka_error e) {
    switch (e) {
        case kafka_error::unknown_topic_or_partition:
        case kafka_error::not_enough_replicas:
        case kafka_error::not_enough_replicas_after_append:
        case kafka_error::request_timed_out:
            return kafka_error::coordinator_not_available;
        case kafka_error::not_leader_or_follower:
        case kafka_error::kafka_storage_error:
            return kafka_error::not_coordinator;
        case kafka_error::message_too_large:
        case kafka_error::record_list_too_large:
            return kafka_error::unknown_server_error;
        default:
            return e;
    }
}

// Marker errors after which the partition needs no marker from this
// coordinator: written, the topic is gone, or a newer producer epoch or
// coordinator has taken over (Kafka's TransactionMarkerRequestCompletionHandler).
bool marker_settled(kafka_error e) {
    return e == kafka_error::none || e == kafka_error::unknown_topic_or_partition ||
           e == kafka_error::invalid_producer_epoch || e == kafka_error::transaction_coordinator_fenced;
}

}  // namespace

// ---- impl --------------------------------------------------------------------

txn_coordinator::impl::impl(txn_config c, metadata::metadata_service& m, replication::partition_manager& p)
    : config(std::move(c)), metadata(m), partitions(p), logger(log::get("txn")) {}

int32_t txn_coordinator::impl::state_partition_count() const {
    auto image = partitions.image();
    if (image)
        if (const auto* t = image->topic(transaction_state_topic); t && !t->partitions.empty())
            return static_cast<int32_t>(t->partitions.size());
    return config.state_log_partitions;
}

int32_t txn_coordinator::impl::offsets_partition_count(bool* settled) const {
    auto image = partitions.image();
    const auto* t = image ? image->topic(group::offsets_topic_name) : nullptr;
    const size_t in_image = t ? t->partitions.size() : 0;
    const int32_t count = offsets_count(in_image);
    // Not made yet: the count it will be made with, as Kafka's.
    if (settled) *settled = in_image == 0 || offsets_count.settled();
    return count;
}

int64_t txn_coordinator::impl::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

kafka_error txn_coordinator::impl::shard_ready(int32_t p) {
    auto it = shards.find(p);
    if (it != shards.end() && it->second.partition->is_leader() &&
        it->second.partition->epoch().value() == it->second.epoch)
        return it->second.loaded ? kafka_error::none : kafka_error::coordinator_load_in_progress;
    auto found = partitions.find(transaction_state_topic, p);
    if (!found.leader) {
        if (it != shards.end()) unload(p);
        if (found.error != kafka_error::unknown_topic_or_partition) return kafka_error::not_coordinator;
        auto image = metadata.image();
        const auto* t = image ? image->topic(transaction_state_topic) : nullptr;
        if (t && static_cast<size_t>(p) < t->partitions.size() &&
            t->partitions[static_cast<size_t>(p)].leader == partitions.node_id())
            return kafka_error::coordinator_load_in_progress;
        // Not this broker's partition (as far as its image knows): Kafka's
        // TransactionStateManager answers NOT_COORDINATOR here.
        return kafka_error::not_coordinator;
    }
    if (!found.leader->is_leader()) return kafka_error::coordinator_load_in_progress;
    if (it != shards.end()) unload(p);
    start_load(p, found.leader);
    return kafka_error::coordinator_load_in_progress;
}

const txn_metadata* txn_coordinator::impl::find(const std::string& id) const {
    auto it = txns.find(id);
    return it == txns.end() || !it->second.meta ? nullptr : &*it->second.meta;
}

bool txn_coordinator::impl::pending(const std::string& id) const {
    auto it = txns.find(id);
    return it != txns.end() && it->second.pending;
}

uint64_t txn_coordinator::impl::load_id_of(const std::string& id) const {
    auto shard = shards.find(partition_of(id));
    return shard == shards.end() ? 0 : shard->second.load_id;
}

void txn_coordinator::impl::transition(txn_metadata next, std::function<void(kafka_error)> done) {
    std::vector<txn_metadata> chain;
    chain.push_back(std::move(next));
    transition(std::move(chain), std::move(done));
}

void txn_coordinator::impl::transition(std::vector<txn_metadata> chain, std::function<void(kafka_error)> done) {
    const std::string id = chain.front().transactional_id;
    const int32_t p = partition_of(id);
    auto shard = shards.find(p);
    if (shard == shards.end() || !shard->second.loaded) return done(kafka_error::not_coordinator);
    const uint64_t load_id = shard->second.load_id;
    auto& entry = txns[id];
    const txn_metadata* from = entry.meta ? &*entry.meta : nullptr;
    for (const auto& next : chain) {
        if (from && !valid_transition(from->state, next.state)) {
            logger->error("{}: refused transition {} -> {}", id, to_string(from->state), to_string(next.state));
            return done(kafka_error::invalid_txn_state);
        }
        from = &next;
    }
    entry.pending = true;
    protocol::record_batch_builder builder;
    const int64_t now = now_ms();
    for (const auto& next : chain) {
        auto record = encode_record(next);
        std::optional<protocol::bytes_view> value;
        if (record.value) value = protocol::bytes_view(*record.value);
        builder.append(now, protocol::bytes_view(record.key), value);
    }
    auto built = builder.build();
    auto finish = [self = shared_from_this(), id, load_id, next = std::move(chain.back()),
                   done = std::move(done)](kafka_error e) mutable {
        auto it = self->txns.find(id);
        if (self->load_id_of(id) != load_id || it == self->txns.end()) return done(kafka_error::not_coordinator);
        it->second.pending = false;
        // Held requests look again once this write's outcome is in place.
        auto waiters = std::exchange(it->second.completion_waiters, {});
        it->second.held_adds.clear();
        if (e != kafka_error::none) {
            if (!it->second.meta) self->txns.erase(it);
            done(write_error(e));
        } else {
            it->second.meta = std::move(next);
            done(kafka_error::none);
        }
        for (auto& w : waiters) w();
    };
    if (!built) return finish(kafka_error::unknown_server_error);
    auto batch = std::make_shared<const std::vector<uint8_t>>(std::move(built).value());
    auto ex = executor();
    shard->second.partition->produce(
        *batch, batch, replication::required_acks::all,
        [ex, finish = std::move(finish)](replication::produce_outcome outcome) mutable {
            boost::asio::post(ex, [finish = std::move(finish), e = outcome.error]() mutable { finish(e); });
        });
}

bool txn_coordinator::impl::completing(const std::string& id) const {
    auto it = txns.find(id);
    if (it == txns.end()) return false;
    if (it->second.pending) return true;
    const auto& m = it->second.meta;
    return m && (m->state == txn_state::prepare_commit || m->state == txn_state::prepare_abort);
}

void txn_coordinator::impl::wait_for_completion(const std::string& id, std::chrono::steady_clock::time_point deadline,
                                                std::function<void()> retry, std::optional<held_add> add) {
    auto fired = std::make_shared<bool>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(io, deadline);
    auto once = [fired, timer, retry = std::move(retry)] {
        if (std::exchange(*fired, true)) return;
        timer->cancel();
        retry();
    };
    auto& entry = txns[id];
    entry.completion_waiters.push_back(once);
    if (add) {
        add->fired = fired;
        entry.held_adds.push_back(std::move(*add));
    }
    timer->async_wait([once](boost::system::error_code ec) {
        if (!ec) once();
    });
}

std::optional<std::chrono::steady_clock::time_point> txn_coordinator::impl::held_adds_deadline(
    const std::string& id) const {
    auto it = txns.find(id);
    if (it == txns.end()) return std::nullopt;
    std::optional<std::chrono::steady_clock::time_point> latest;
    for (const auto& held : it->second.held_adds)
        if (held.fired && !*held.fired && (!latest || held.deadline > *latest)) latest = held.deadline;
    return latest;
}

// ---- markers -----------------------------------------------------------------------

void txn_coordinator::impl::send_markers(const std::string& id) {
    auto it = txns.find(id);
    if (it == txns.end() || !it->second.meta || it->second.sending_markers) return;
    const auto state = it->second.meta->state;
    if (state != txn_state::prepare_commit && state != txn_state::prepare_abort) return;
    it->second.sending_markers = true;
    marker_round(id, load_id_of(id), 0);
}

void txn_coordinator::impl::marker_round(const std::string& id, uint64_t load_id, int attempt) {
    auto it = txns.find(id);
    if (it == txns.end() || !it->second.meta || load_id_of(id) != load_id) return;
    const txn_metadata& m = *it->second.meta;
    auto shard = shards.find(partition_of(id));
    const int32_t coordinator_epoch = shard->second.epoch;
    auto image = partitions.image();
    // By leader: one WriteTxnMarkers each.
    std::map<int32_t, msg::write_txn_markers_request> requests;
    struct round_state {
        std::set<txn_partition> remaining;
        size_t outstanding = 0;
    };
    auto round = std::make_shared<round_state>();
    round->remaining = m.partitions;
    for (const auto& p : m.partitions) {
        const auto* topic = image ? image->topic(p.topic) : nullptr;
        if (!topic || p.partition < 0 || size_t(p.partition) >= topic->partitions.size()) {
            // A partition of __consumer_offsets (AddOffsetsToTxn, unchecked)
            // that this broker's image does not hold yet while the topic is
            // being made: retried until it is there or the topic has settled.
            if (topic && p.topic == group::offsets_topic_name && p.partition >= 0 &&
                p.partition < offsets_partition_count())
                continue;
            round->remaining.erase(p);  // deleted: nothing to mark
            continue;
        }
        const int32_t leader = topic->partitions[size_t(p.partition)].leader;
        if (leader < 0) continue;  // retried
        auto& request = requests[leader];
        if (request.markers.empty()) {
            auto& marker = request.markers.emplace_back();
            marker.producer_id = m.producer_id;
            marker.producer_epoch = m.producer_epoch;
            marker.transaction_result = m.state == txn_state::prepare_commit;
            marker.coordinator_epoch = coordinator_epoch;
        }
        auto& topics = request.markers.front().topics;
        if (topics.empty() || topics.back().name != p.topic) topics.emplace_back().name = p.topic;
        topics.back().partition_indexes.push_back(p.partition);
    }
    auto finish_round = [self = shared_from_this(), id, load_id, attempt, round] {
        if (self->stopping) return;
        auto it = self->txns.find(id);
        if (it == self->txns.end() || !it->second.meta || self->load_id_of(id) != load_id) return;
        if (round->remaining.empty()) {
            // Every partition has its marker: Complete*. The next
            // transaction's AddPartitionsToTxn / AddOffsetsToTxn held
            // meanwhile (a producer that began it right after EndTxn) has
            // its Ongoing record in the same batch: one fsync fewer between
            // two transactions. The batch is written whole or not at all;
            // the held requests then look again (wait_for_completion) and
            // find their partitions in the transaction (no second write),
            // or, if it failed, wait for the retried Complete*.
            const int64_t now = self->now_ms();
            std::vector<txn_metadata> chain{complete(*it->second.meta, now)};
            for (const auto& held : it->second.held_adds) {
                if (*held.fired) continue;
                auto next = decide_add_partitions(&chain.back(), held.producer_id, held.epoch, held.wanted, now);
                if (next.next) chain.push_back(std::move(*next.next));
            }
            self->transition(std::move(chain), [self, id](kafka_error e) {
                auto it = self->txns.find(id);
                if (it == self->txns.end()) return;
                it->second.sending_markers = false;
                if (e != kafka_error::none) {
                    self->logger->warn("{}: writing its completion failed ({}); retrying", id, static_cast<int>(e));
                    self->send_markers(id);
                }
            });
            return;
        }
        if (attempt % 50 == 49)
            self->logger->warn("{}: {} partitions still without their marker", id, round->remaining.size());
        auto timer = std::make_shared<boost::asio::steady_timer>(self->io, std::chrono::milliseconds(100));
        timer->async_wait([self, id, load_id, attempt, timer](boost::system::error_code ec) {
            if (!ec) self->marker_round(id, load_id, attempt + 1);
        });
    };
    if (requests.empty()) return finish_round();
    round->outstanding = requests.size();
    for (auto& [node, request] : requests) {
        send_marker_request(node, std::move(request),
                            [round, finish_round](std::optional<msg::write_txn_markers_response> response) {
                                if (response)
                                    for (const auto& marker : response->markers)
                                        for (const auto& t : marker.topics)
                                            for (const auto& p : t.partitions)
                                                if (marker_settled(static_cast<kafka_error>(p.error_code)))
                                                    round->remaining.erase(txn_partition{t.name, p.partition_index});
                                if (--round->outstanding == 0) finish_round();
                            });
    }
}

namespace {

awaitable<void> call_peer(std::shared_ptr<net::client_connection> connection, msg::write_txn_markers_request request,
                          std::function<void(std::optional<msg::write_txn_markers_response>)> done) {
    auto answer = co_await connection->call<msg::write_txn_markers_response>(std::move(request), 1,
                                                                             std::chrono::milliseconds(30000));
    if (answer)
        done(std::move(answer).value());
    else
        done(std::nullopt);
}

awaitable<void> verify_at_peer(std::shared_ptr<net::client_connection> connection,
                               msg::add_partitions_to_txn_request request, std::function<void(kafka_error)> done) {
    auto answer = co_await connection->call<msg::add_partitions_to_txn_response>(std::move(request), 4,
                                                                                 std::chrono::milliseconds(10000));
    if (!answer) co_return done(kafka_error::coordinator_not_available);
    const auto& r = answer.value();
    if (r.error_code != 0) co_return done(static_cast<kafka_error>(r.error_code));
    for (const auto& t : r.results_by_transaction)
        for (const auto& topic : t.topic_results)
            for (const auto& p : topic.results_by_partition)
                if (p.partition_error_code != 0) co_return done(static_cast<kafka_error>(p.partition_error_code));
    done(kafka_error::none);
}

}  // namespace

std::shared_ptr<net::client_connection> txn_coordinator::impl::peer(int32_t node) {
    auto image = partitions.image();
    const auto* broker = image ? image->broker(node) : nullptr;
    const auto* endpoint = broker ? broker->endpoint(config.inter_broker_listener) : nullptr;
    if (!endpoint) return nullptr;
    auto& p = peers[node];
    if (!p.connection || p.host != endpoint->host || p.port != endpoint->port) {
        if (p.connection) p.connection->close();
        net::client_options options;
        options.host = endpoint->host;
        options.port = static_cast<uint16_t>(endpoint->port);
        options.client_id = "strata-txn-coordinator";
        config.inter_broker_security.apply_to(options);
        p.host = endpoint->host;
        p.port = endpoint->port;
        p.connection = net::client_connection::create(io.get_executor(), options);
    }
    return p.connection;
}

void txn_coordinator::impl::send_marker_request(
    int32_t node, msg::write_txn_markers_request request,
    std::function<void(std::optional<msg::write_txn_markers_response>)> done) {
    if (node == config.node_id) {
        if (!config.write_local_markers) return done(std::nullopt);
        auto ex = executor();
        config.write_local_markers(std::move(request),
                                   [ex, done = std::move(done)](msg::write_txn_markers_response r) mutable {
                                       boost::asio::post(ex, [done = std::move(done), r = std::move(r)]() mutable {
                                           done(std::move(r));
                                       });
                                   });
        return;
    }
    // Stopping: stop() closes the gate next, which would drop `done` unrun.
    if (stopping) return done(std::nullopt);
    auto connection = peer(node);
    if (!connection) return done(std::nullopt);
    tasks.spawn(io, call_peer(connection, std::move(request), std::move(done)));
}

void txn_coordinator::impl::verify_remote(std::string id, int64_t producer_id, int16_t epoch, std::string topic,
                                          int32_t partition, std::function<void(kafka_error)> done) {
    auto image = partitions.image();
    const auto* t = image ? image->topic(transaction_state_topic) : nullptr;
    const int32_t p = partition_of(id);
    const int32_t leader = t && size_t(p) < t->partitions.size() ? t->partitions[size_t(p)].leader : -1;
    if (leader < 0 || leader == config.node_id) return done(kafka_error::coordinator_not_available);
    if (stopping) return done(kafka_error::coordinator_not_available);  // as in send_marker_request
    auto connection = peer(leader);
    if (!connection) return done(kafka_error::coordinator_not_available);
    msg::add_partitions_to_txn_request request;
    auto& txn = request.transactions.emplace_back();
    txn.transactional_id = std::move(id);
    txn.producer_id = producer_id;
    txn.producer_epoch = epoch;
    txn.verify_only = true;
    auto& tp = txn.topics.emplace_back();
    tp.name = std::move(topic);
    tp.partitions.push_back(partition);
    tasks.spawn(io, verify_at_peer(connection, std::move(request), std::move(done)));
}

// ---- leadership and load ----------------------------------------------------------

void txn_coordinator::impl::refresh_shards() {
    auto image = partitions.image();
    const auto* topic = image ? image->topic(transaction_state_topic) : nullptr;
    const int32_t count = topic ? static_cast<int32_t>(topic->partitions.size()) : 0;
    for (auto it = shards.begin(); it != shards.end();) {
        const int32_t p = it->first;
        ++it;
        auto found = p < count ? partitions.find(transaction_state_topic, p) : replication::partition_lookup{};
        auto& s = shards[p];
        if (!found.leader || found.leader != s.partition || !found.leader->is_leader() ||
            found.leader->epoch().value() != s.epoch)
            unload(p);
    }
    for (int32_t p = 0; p < count; ++p) {
        if (shards.contains(p)) continue;
        auto found = partitions.find(transaction_state_topic, p);
        if (found.leader && found.leader->is_leader()) start_load(p, found.leader);
    }
}

void txn_coordinator::impl::elected(int32_t p) {
    auto found = partitions.find(transaction_state_topic, p);
    if (!found.leader || !found.leader->is_leader()) return;
    auto it = shards.find(p);
    if (it != shards.end() && it->second.partition == found.leader && it->second.epoch == found.leader->epoch().value())
        return;  // loading or loaded at this epoch already
    if (it != shards.end()) unload(p);
    start_load(p, found.leader);
}

void txn_coordinator::impl::start_load(int32_t p, std::shared_ptr<replication::partition> partition) {
    auto& shard = shards[p];
    shard.loaded = false;
    shard.partition = partition;
    shard.epoch = partition->epoch().value();
    shard.load_id = next_load_id++;
    logger->info("loading {}-{} (leader epoch {})", transaction_state_topic, p, shard.epoch);
    boost::asio::post(loader, [self = shared_from_this(), p, id = shard.load_id, partition] {
        auto state = std::make_shared<std::map<std::string, txn_metadata>>();
        const bool ok = replay_log(*partition->log(), *state, *self->logger);
        boost::asio::post(self->io, [self, p, id, state, ok] { self->install(p, id, state, ok); });
    });
}

void txn_coordinator::impl::install(int32_t p, uint64_t load_id, std::shared_ptr<std::map<std::string, txn_metadata>> state,
                                    bool ok) {
    auto it = shards.find(p);
    if (it == shards.end() || it->second.load_id != load_id) return;
    if (!ok) {
        shards.erase(it);
        return;
    }
    std::vector<std::string> unfinished;
    for (auto& [id, m] : *state) {
        if (partition_of(id) != p) continue;
        if (m.state == txn_state::prepare_commit || m.state == txn_state::prepare_abort) unfinished.push_back(id);
        txns[id] = txn_entry{std::move(m), false, false, {}, {}};
    }
    it->second.loaded = true;
    logger->info("loaded {}-{}: {} transactional ids, {} transactions to finish", transaction_state_topic, p,
                 state->size(), unfinished.size());
    // A transaction the previous coordinator had decided but not finished:
    // its markers again (idempotent at the partitions), then Complete*.
    for (const auto& id : unfinished) send_markers(id);
}

void txn_coordinator::impl::unload(int32_t p) {
    shards.erase(p);
    size_t gone = std::erase_if(txns, [&](const auto& e) { return partition_of(e.first) == p; });
    if (gone > 0) logger->info("unloaded {}-{}: {} transactional ids", transaction_state_topic, p, gone);
}

// ---- timers --------------------------------------------------------------------------

void txn_coordinator::impl::schedule_tick() {
    if (stopping) return;
    timer.expires_after(std::chrono::milliseconds(50));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->stopping) return;
        self->tick();
        self->schedule_tick();
    });
}

void txn_coordinator::impl::tick() {
    refresh_shards();
    const int64_t now = now_ms();
    if (now >= next_timeout_check_ms) {
        next_timeout_check_ms = now + config.abort_timed_out_interval_ms;
        abort_timed_out(now);
    }
    if (now >= next_expiry_check_ms) {
        next_expiry_check_ms = now + config.remove_expired_interval_ms;
        remove_expired(now);
    }
}

// Kafka's abortTimedOutTransactions: an open transaction older than its
// timeout is aborted at a bumped epoch, which fences its producer.
void txn_coordinator::impl::abort_timed_out(int64_t now) {
    std::vector<txn_metadata> expired;
    for (const auto& [id, e] : txns) {
        if (e.pending || !e.meta) continue;
        auto shard = shards.find(partition_of(id));
        if (shard == shards.end() || !shard->second.loaded) continue;
        if (auto next = decide_timeout_abort(*e.meta, now)) expired.push_back(std::move(*next));
    }
    for (auto& next : expired) {
        const std::string id = next.transactional_id;
        logger->info("{}: aborting its transaction of producer {} (older than its timeout of {} ms)", id,
                     next.producer_id, next.timeout_ms);
        transition(std::move(next), [self = shared_from_this(), id](kafka_error e) {
            if (e == kafka_error::none) self->send_markers(id);
        });
    }
}

// Kafka's removeExpiredTransactionalIds: an idle id (no transaction open or
// ending) not used for transactional.id.expiration.ms gets a tombstone in
// __transaction_state, then is forgotten; its next InitProducerId starts it
// afresh with a new producer id. While the tombstone is written the id is
// pending, so a request for it meanwhile gets CONCURRENT_TRANSACTIONS.
void txn_coordinator::impl::remove_expired(int64_t now) {
    std::vector<std::string> expired;
    for (const auto& [id, e] : txns) {
        if (e.pending || e.sending_markers || !e.meta) continue;
        auto shard = shards.find(partition_of(id));
        if (shard == shards.end() || !shard->second.loaded) continue;
        if (should_expire(*e.meta, now, config.id_expiration_ms)) expired.push_back(id);
    }
    for (const auto& id : expired) {
        auto shard = shards.find(partition_of(id));
        auto& entry = txns[id];
        entry.pending = true;
        const uint64_t load_id = shard->second.load_id;
        protocol::record_batch_builder builder;
        builder.append(now_ms(), protocol::bytes_view(encode_record(*entry.meta).key), std::nullopt);
        auto built = builder.build();
        auto finish = [self = shared_from_this(), id, load_id](kafka_error e) {
            auto it = self->txns.find(id);
            if (it == self->txns.end() || self->load_id_of(id) != load_id) return;
            if (e != kafka_error::none) {
                it->second.pending = false;  // tried again at the next check
                return;
            }
            self->logger->info("{}: transactional id expired (producer {}, idle since {})", id,
                               it->second.meta ? it->second.meta->producer_id : -1,
                               it->second.meta ? it->second.meta->update_ms : -1);
            self->txns.erase(it);
        };
        if (!built) {
            finish(kafka_error::unknown_server_error);
            continue;
        }
        auto batch = std::make_shared<const std::vector<uint8_t>>(std::move(built).value());
        auto ex = executor();
        shard->second.partition->produce(
            *batch, batch, replication::required_acks::all,
            [ex, finish = std::move(finish)](replication::produce_outcome outcome) mutable {
                boost::asio::post(ex, [finish = std::move(finish), e = outcome.error]() mutable { finish(e); });
            });
    }
}

// ---- the public face -------------------------------------------------------------------

txn_coordinator::txn_coordinator(txn_config config, metadata::metadata_service& metadata,
                                 replication::partition_manager& partitions)
    : _impl(std::make_shared<impl>(std::move(config), metadata, partitions)) {}

txn_coordinator::~txn_coordinator() {
    stop();
}

void txn_coordinator::start() {
    if (_impl->started) return;
    _impl->started = true;
    _impl->work.emplace(_impl->io.get_executor());
    _impl->next_timeout_check_ms = _impl->now_ms() + _impl->config.abort_timed_out_interval_ms;
    _impl->next_expiry_check_ms = _impl->now_ms() + _impl->config.remove_expired_interval_ms;
    boost::asio::post(_impl->io, [self = _impl] { self->schedule_tick(); });
    // Loads start when this broker is elected, not up to a tick later.
    _impl->partitions.on_leadership(std::string(transaction_state_topic), [weak = std::weak_ptr(_impl)](int32_t p) {
        if (auto self = weak.lock())
            boost::asio::post(self->io, [self, p] {
                if (!self->stopping) self->elected(p);
            });
    });
    _impl->thread = std::thread([self = _impl] { self->io.run(); });
}

void txn_coordinator::stop() {
    if (!_impl->started || _impl->closed.exchange(true)) return;
    std::promise<void> drained;
    boost::asio::post(_impl->io, [self = _impl, &drained] {
        self->stopping = true;
        self->timer.cancel();
        for (auto& [node, p] : self->peers)
            if (p.connection) p.connection->close();
        self->txns.clear();
        self->shards.clear();
        drained.set_value();
    });
    drained.get_future().wait();
    // Peer calls fail on their closed connections and end.
    _impl->tasks.close_and_wait();
    _impl->loader.join();
    // The thread ends once what is queued has run: marker retries find no
    // ids left, peer calls fail on their closed connections, and requests
    // whose work is dropped are answered by their guards.
    _impl->work.reset();
    if (_impl->thread.joinable()) _impl->thread.join();
}

awaitable<std::pair<kafka_error, int32_t>> txn_coordinator::find_coordinator(std::string transactional_id) {
    auto image = _impl->partitions.image();
    if (!image || !image->topic(transaction_state_topic)) {
        msg::create_topics_request create;
        auto& t = create.topics.emplace_back();
        t.name = std::string(transaction_state_topic);
        t.num_partitions = _impl->config.state_log_partitions;
        t.replication_factor = _impl->config.state_log_replication_factor;
        auto add = [&t](std::string name, std::string value) {
            auto& c = t.configs.emplace_back();
            c.name = std::move(name);
            c.value = std::move(value);
        };
        add("cleanup.policy", "compact");
        add("min.insync.replicas", std::to_string(_impl->config.state_log_min_isr));
        add("segment.bytes", std::to_string(_impl->config.state_log_segment_bytes));
        add("compression.type", "producer");
        msg::create_topics_response created;
        if (_impl->config.create_topics)
            created = co_await _impl->config.create_topics(std::move(create));
        else
            created = co_await _impl->metadata.create_topics(std::move(create), 7);
        for (const auto& r : created.topics)
            if (r.error_code != 0 && r.error_code != code(kafka_error::topic_already_exists))
                _impl->logger->warn("cannot create {}: {} {}", transaction_state_topic, r.error_code,
                                    r.error_message.value_or(""));
        image = _impl->metadata.image();
    }
    const auto* topic = image ? image->topic(transaction_state_topic) : nullptr;
    if (!topic || topic->partitions.empty()) co_return std::pair{kafka_error::coordinator_not_available, -1};
    const int32_t p = partition_for_transactional_id(transactional_id, static_cast<int32_t>(topic->partitions.size()));
    const int32_t leader = topic->partitions[static_cast<size_t>(p)].leader;
    if (leader < 0) co_return std::pair{kafka_error::coordinator_not_available, -1};
    if (leader == _impl->partitions.node_id()) {
        boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
        for (int i = 0; i < 40 && !_impl->partitions.find(transaction_state_topic, p).leader; ++i) {
            wait.expires_after(std::chrono::milliseconds(50));
            co_await wait.async_wait(boost::asio::use_awaitable);
        }
    }
    co_return std::pair{kafka_error::none, leader};
}

}  // namespace strata::txn
