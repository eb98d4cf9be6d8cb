// The coordinator's machinery: its thread, the partitions of
// __consumer_offsets it leads (load on leadership, forget on loss), the
// records it writes, offset expiry. The request handlers are in
// group_requests.cc.
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <future>

#include "coordinator_impl.h"
#include "strata/protocol/coordinator/group_metadata_key.h"
#include "strata/protocol/coordinator/offset_commit_key.h"
#include "strata/protocol/coordinator/offset_commit_value.h"
#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/record_batch.h"
#include "strata/replication/producer_state.h"
#include "strata/storage/log.h"

namespace strata::group {

namespace coord = protocol::coordinator;
namespace msg = protocol::messages;
using boost::asio::awaitable;

// ---- hashing ------------------------------------------------------------------

int32_t java_string_hash(std::string_view s) {
    uint32_t h = 0;
    auto add = [&h](uint32_t unit) { h = 31 * h + unit; };
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        uint32_t cp;
        size_t n;
        if (*p < 0x80)
            cp = *p, n = 1;
        else if ((*p & 0xE0) == 0xC0)
            cp = *p & 0x1F, n = 2;
        else if ((*p & 0xF0) == 0xE0)
            cp = *p & 0x0F, n = 3;
        else if ((*p & 0xF8) == 0xF0)
            cp = *p & 0x07, n = 4;
        else
            cp = 0xFFFD, n = 0;
        bool ok = n > 0 && static_cast<size_t>(end - p) >= n;
        for (size_t i = 1; ok && i < n; ++i) {
            if ((p[i] & 0xC0) != 0x80)
                ok = false;
            else
                cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (!ok) {
            add(0xFFFD);
            ++p;
            continue;
        }
        p += n;
        if (cp >= 0x10000) {  // a surrogate pair in UTF-16
            cp -= 0x10000;
            add(0xD800 + (cp >> 10));
            add(0xDC00 + (cp & 0x3FF));
        } else {
            add(cp);
        }
    }
    return static_cast<int32_t>(h);
}

int32_t partition_for_group(std::string_view group_id, int32_t partitions) {
    const int32_t h = java_string_hash(group_id);
    const int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);  // Kafka's Utils.abs
    return partitions > 0 ? abs % partitions : 0;
}

// ---- records --------------------------------------------------------------------

namespace {

// The value versions Kafka 3.9 writes: OffsetCommitValue 3 (leader epoch, no
// expire timestamp) or 1 (with one), GroupMetadataValue 3.
constexpr int16_t offset_key_version = 1;
constexpr int16_t group_key_version = 2;
constexpr int16_t group_value_version = 3;

}  // namespace

offsets_record offset_commit_record(const std::string& group, const std::string& topic, int32_t partition,
                                    const committed_offset* value) {
    coord::offset_commit_key key;
    key.group = group;
    key.topic = topic;
    key.partition = partition;
    offsets_record r{versioned(key, offset_key_version), std::nullopt};
    if (value) {
        coord::offset_commit_value v;
        v.offset = value->offset;
        v.leader_epoch = value->leader_epoch;
        v.metadata = value->metadata;
        v.commit_timestamp = value->commit_timestamp_ms;
        v.expire_timestamp = value->expire_timestamp_ms;
        r.value = versioned(v, value->expire_timestamp_ms >= 0 ? 1 : 3);
    }
    return r;
}

offsets_record group_metadata_record(const std::string& group, const coord::group_metadata_value* value) {
    coord::group_metadata_key key;
    key.group = group;
    offsets_record r{versioned(key, group_key_version), std::nullopt};
    if (value) r.value = versioned(*value, group_value_version);
    return r;
}

namespace {

// Applies one record of __consumer_offsets to what a load has found so far.
// Records of other kinds (share groups, transactions) and undecodable ones
// are skipped, as Kafka skips unknown versions.
void replay_record(const protocol::record_view& record, loaded_partition& loaded) {
    if (!record.key || record.key->size() < 2) return;
    protocol::reader key(*record.key);
    const int16_t key_version = key.read_int16();
    auto& out = loaded.groups;
    if (key_version >= consumer_record_key::group_metadata &&
        key_version <= consumer_record_key::current_member_assignment) {
        replay_consumer_group_record(key_version, key, record.value, loaded.consumer_groups);
    } else if (key_version == 0 || key_version == 1) {
        coord::offset_commit_key k;
        k.decode(key, key_version);
        auto& group = out[k.group];
        const topic_partition_key tp{k.topic, k.partition};
        if (!record.value) {
            group.offsets.erase(tp);
            return;
        }
        protocol::reader value(*record.value);
        const int16_t value_version = value.read_int16();
        if (value_version < 0 || value_version > coord::offset_commit_value::highest_supported_version) return;
        coord::offset_commit_value v;
        v.decode(value, value_version);
        committed_offset c;
        c.offset = v.offset;
        c.leader_epoch = value_version >= 3 ? v.leader_epoch : -1;
        c.metadata = v.metadata;
        c.commit_timestamp_ms = v.commit_timestamp;
        c.expire_timestamp_ms = value_version == 1 ? v.expire_timestamp : -1;
        group.offsets[tp] = std::move(c);
    } else if (key_version == 2) {
        coord::group_metadata_key k;
        k.decode(key, key_version);
        if (!record.value) {
            // A deleted group: its offsets were deleted before it.
            out.erase(k.group);
            return;
        }
        protocol::reader value(*record.value);
        const int16_t value_version = value.read_int16();
        if (value_version < 0 || value_version > coord::group_metadata_value::highest_supported_version) return;
        coord::group_metadata_value v;
        v.decode(value, value_version);
        out[k.group].metadata = std::move(v);
    }
}

// Replays the whole log of a __consumer_offsets partition. Runs on the
// loader thread: the log is readable from any thread.
bool replay_log(const storage::partition_log& log, loaded_partition& out, spdlog::logger& logger) {
    auto next = log.log_start_offset();
    const auto end = log.end_offset();
    std::vector<uint8_t> scratch;
    std::map<int64_t, loaded_partition> transactional;  // open transactions' offsets, by producer id
    while (next < end) {
        storage::read_options options;
        options.start = next;
        options.max_bytes = 1 << 20;
        auto read = log.read(options);
        if (!read) {
            logger.error("{}: reading {} at {} failed: {}", offsets_topic_name, log.partition(), next.value(),
                         storage::to_string(read.error()));
            return false;
        }
        if (read.value().region.length == 0) break;
        auto bytes = storage::read_region(read.value().region);
        if (!bytes) return false;
        protocol::record_batch_sequence batches(bytes.value());
        bool progressed = false;
        for (;;) {
            auto batch = batches.next();
            if (!batch || !batch.value()) break;  // the end, or a batch cut off by max_bytes
            const auto& b = *batch.value();
            if (b.last_offset() < next.value()) continue;
            if (b.is_control()) {
                // A transaction's marker: its offsets count, or are dropped.
                auto marker = b.has_producer_id() ? replication::parse_txn_marker(b.records_data()) : std::nullopt;
                auto open = marker ? transactional.find(b.producer_id()) : transactional.end();
                if (open != transactional.end()) {
                    if (marker->commit)
                        for (auto& [group, loaded] : open->second.groups)
                            for (auto& [tp, c] : loaded.offsets) out.groups[group].offsets[tp] = c;
                    transactional.erase(open);
                }
            } else {
                // TxnOffsetCommit's records wait for their transaction's marker.
                auto& target = b.is_transactional() && b.has_producer_id() ? transactional[b.producer_id()] : out;
                auto r = protocol::for_each_record(b, size_t{64} << 20, scratch, [&](const protocol::record_view& rec) {
                    try {
                        replay_record(rec, target);
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
    for (auto& [producer_id, loaded] : transactional)
        for (auto& [group, g] : loaded.groups)
            for (auto& [tp, c] : g.offsets) out.open_txn_offsets[producer_id].push_back(pending_txn_offset{group, tp, c});
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
        default:
            return e;
    }
}

}  // namespace

// ---- impl --------------------------------------------------------------------

group_coordinator::impl::impl(coordinator_config c, metadata::metadata_service& m, replication::partition_manager& p)
    : config(c), metadata(m), partitions(p), logger(log::get("group")) {
    limits.min_session_timeout_ms = c.group_min_session_timeout_ms;
    limits.max_session_timeout_ms = c.group_max_session_timeout_ms;
    limits.max_size = c.group_max_size;
    limits.initial_rebalance_delay_ms = c.group_initial_rebalance_delay_ms;
}

int32_t group_coordinator::impl::offsets_partition_count() const {
    auto image = partitions.image();
    if (image)
        if (const auto* t = image->topic(offsets_topic_name); t && !t->partitions.empty())
            return static_cast<int32_t>(t->partitions.size());
    return config.offsets_topic_partitions;
}

int64_t group_coordinator::impl::now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string group_coordinator::impl::new_member_id(const std::string& client_id) {
    const uint64_t a = random(), b = random();
    return fmt::format("{}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", client_id, a >> 32, (a >> 16) & 0xFFFF,
                       (a & 0x0FFF) | 0x4000, ((b >> 48) & 0x3FFF) | 0x8000, b & 0xFFFFFFFFFFFFULL);
}

kafka_error group_coordinator::impl::shard_ready(int32_t p) {
    auto it = shards.find(p);
    if (it != shards.end() && it->second.partition->is_leader() &&
        it->second.partition->epoch().value() == it->second.epoch)
        return it->second.loaded ? kafka_error::none : kafka_error::coordinator_load_in_progress;
    auto found = partitions.find(offsets_topic_name, p);
    if (!found.leader) {
        if (it != shards.end()) unload(p);
        if (found.error != kafka_error::unknown_topic_or_partition) return kafka_error::not_coordinator;
        // The topic may be committed (FindCoordinator named this broker) but
        // not yet opened here: worth a retry, not a new FindCoordinator.
        auto image = metadata.image();
        const auto* t = image ? image->topic(offsets_topic_name) : nullptr;
        if (t && static_cast<size_t>(p) < t->partitions.size() &&
            t->partitions[static_cast<size_t>(p)].leader == partitions.node_id())
            return kafka_error::coordinator_load_in_progress;
        // Neither leading nor about to (as far as this broker's image knows):
        // Kafka's GroupCoordinator answers NOT_COORDINATOR, which sends the
        // client back to FindCoordinator. COORDINATOR_NOT_AVAILABLE is only for
        // a coordinator that is not running (starting or shutting down).
        return kafka_error::not_coordinator;
    }
    if (!found.leader->is_leader()) return kafka_error::coordinator_load_in_progress;  // becoming leader
    if (it != shards.end()) unload(p);
    start_load(p, found.leader);
    return kafka_error::coordinator_load_in_progress;
}

classic_group* group_coordinator::impl::find_group(const std::string& id) {
    auto it = groups.find(id);
    return it == groups.end() ? nullptr : it->second.get();
}

classic_group* group_coordinator::impl::find_group_as_of_now(const std::string& id) {
    auto* group = find_group(id);
    if (group) group->tick(now_ms());
    return group;
}

classic_group& group_coordinator::impl::get_or_create_group(const std::string& id) {
    auto& slot = groups[id];
    if (!slot) slot = std::make_unique<classic_group>(id, limits, *this);
    return *slot;
}

consumer_group* group_coordinator::impl::find_consumer_group(const std::string& id) {
    auto it = consumer_groups.find(id);
    return it == consumer_groups.end() ? nullptr : it->second.get();
}

consumer_group& group_coordinator::impl::create_consumer_group(const std::string& id) {
    consumer_group_limits l;
    l.session_timeout_ms = config.consumer_session_timeout_ms;
    l.heartbeat_interval_ms = config.consumer_heartbeat_interval_ms;
    l.max_size = config.group_max_size;
    auto& slot = consumer_groups[id];
    slot = std::make_unique<consumer_group>(id, l);
    return *slot;
}

void group_coordinator::impl::persist_consumer_group(const std::string& id, const consumer_group_state& before,
                                                     const consumer_group_state& after, const topic_catalog& topics,
                                                     std::function<void(kafka_error)> done) {
    auto records = consumer_group_records(id, before, after, topics);
    if (records.empty()) {
        auto pending = consumer_writes_in_flight.find(id);
        if (pending == consumer_writes_in_flight.end()) return done(kafka_error::none);
        pending->second.waiting.push_back(std::move(done));
        return;
    }
    const int32_t p = partition_of(id);
    auto shard = shards.find(p);
    const uint64_t load_id = shard == shards.end() ? 0 : shard->second.load_id;
    ++consumer_writes_in_flight[id].in_flight;
    write(p, std::move(records), [self = shared_from_this(), p, load_id, id, done = std::move(done)](kafka_error e) {
        if (e != kafka_error::none) {
            // Posted: `done` may run inside a walk over the groups (tick).
            boost::asio::post(self->io, [self, p, load_id, id, e] {
                auto it = self->shards.find(p);
                if (it == self->shards.end() || it->second.load_id != load_id) return;
                self->logger->warn("group {}: writing its KIP-848 records failed ({}); reloading {}-{}", id,
                                   static_cast<int>(e), offsets_topic_name, p);
                self->unload(p);
            });
            // Kafka's mapping for group writes: sizes are the server's problem.
            if (e == kafka_error::message_too_large || e == kafka_error::record_list_too_large ||
                e == kafka_error::invalid_fetch_size)
                e = kafka_error::unknown_server_error;
        }
        done(e);
        // Writes to one partition complete in order: once the last is done,
        // what the waiting heartbeats saw is durable (or failed).
        auto pending = self->consumer_writes_in_flight.find(id);
        if (pending == self->consumer_writes_in_flight.end()) return;
        if (pending->second.failed == kafka_error::none) pending->second.failed = e;
        if (--pending->second.in_flight > 0) return;
        auto waiting = std::move(pending->second.waiting);
        const auto failed = pending->second.failed;
        self->consumer_writes_in_flight.erase(pending);
        for (auto& w : waiting) w(failed);
    });
}

topic_catalog group_coordinator::impl::catalog() const {
    topic_catalog out;
    if (auto image = partitions.image())
        for (const auto& [name, t] : image->topics())
            out[name] = topic_info{t->id, static_cast<int32_t>(t->partitions.size())};
    return out;
}

void group_coordinator::impl::forget_group(const std::string& id, kafka_error error) {
    consumer_groups.erase(id);
    auto it = groups.find(id);
    if (it == groups.end()) return;
    auto group = std::move(it->second);
    groups.erase(it);
    group->mark_dead(error);
}

void group_coordinator::impl::write(int32_t p, std::vector<offsets_record> records,
                                    std::function<void(kafka_error)> done) {
    auto found = partitions.find(offsets_topic_name, p);
    if (!found.leader) return done(write_error(found.error));
    protocol::record_batch_builder builder;
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
    found.leader->produce(*batch, batch, replication::required_acks::all,
                          [ex, done = std::move(done)](replication::produce_outcome outcome) mutable {
                              boost::asio::post(ex,
                                                [done = std::move(done), e = write_error(outcome.error)] { done(e); });
                          });
}

void group_coordinator::impl::store_group(classic_group& group, coord::group_metadata_value value,
                                          std::function<void(kafka_error)> done) {
    std::vector<offsets_record> records;
    records.push_back(group_metadata_record(group.id(), &value));
    write(partition_of(group.id()), std::move(records), [done = std::move(done)](kafka_error e) {
        // Kafka's mapping for group writes: sizes are the server's problem.
        if (e == kafka_error::message_too_large || e == kafka_error::record_list_too_large ||
            e == kafka_error::invalid_fetch_size)
            e = kafka_error::unknown_server_error;
        done(e);
    });
}

// ---- leadership and load ----------------------------------------------------------

void group_coordinator::impl::refresh_shards() {
    auto image = partitions.image();
    const auto* topic = image ? image->topic(offsets_topic_name) : nullptr;
    const int32_t count = topic ? static_cast<int32_t>(topic->partitions.size()) : 0;
    for (auto it = shards.begin(); it != shards.end();) {
        const int32_t p = it->first;
        ++it;
        auto found = p < count ? partitions.find(offsets_topic_name, p) : replication::partition_lookup{};
        auto& s = shards[p];
        if (!found.leader || found.leader != s.partition || !found.leader->is_leader() ||
            found.leader->epoch().value() != s.epoch)
            unload(p);
    }
    for (int32_t p = 0; p < count; ++p) {
        if (shards.contains(p)) continue;
        auto found = partitions.find(offsets_topic_name, p);
        if (found.leader && found.leader->is_leader()) start_load(p, found.leader);
    }
    // Markers kept for a partition with no load running (its leadership lost
    // before the load began): any later load replays them from the log.
    for (auto m = early_txn_markers.begin(); m != early_txn_markers.end();)
        m = shards.contains(m->first.first) ? std::next(m) : early_txn_markers.erase(m);
}

void group_coordinator::impl::drop_early_txn_markers(int32_t p) {
    early_txn_markers.erase(early_txn_markers.lower_bound({p, INT64_MIN}),
                            early_txn_markers.lower_bound({p + 1, INT64_MIN}));
}

void group_coordinator::impl::elected(int32_t p) {
    auto found = partitions.find(offsets_topic_name, p);
    if (!found.leader || !found.leader->is_leader()) return;
    auto it = shards.find(p);
    if (it != shards.end() && it->second.partition == found.leader && it->second.epoch == found.leader->epoch().value())
        return;  // loading or loaded at this epoch already
    if (it != shards.end()) unload(p);
    start_load(p, found.leader);
}

void group_coordinator::impl::start_load(int32_t p, std::shared_ptr<replication::partition> partition) {
    auto& shard = shards[p];
    shard.loaded = false;
    shard.partition = partition;
    shard.epoch = partition->epoch().value();
    shard.load_id = next_load_id++;
    logger->info("loading {}-{} (leader epoch {})", offsets_topic_name, p, shard.epoch);
    boost::asio::post(loader, [self = shared_from_this(), p, id = shard.load_id, partition] {
        auto state = std::make_shared<loaded_partition>();
        const bool ok = replay_log(*partition->log(), *state, *self->logger);
        boost::asio::post(self->io, [self, p, id, state, ok] { self->install(p, id, state, ok); });
    });
}

void group_coordinator::impl::install(int32_t p, uint64_t load_id, std::shared_ptr<loaded_partition> state, bool ok) {
    auto it = shards.find(p);
    if (it == shards.end() || it->second.load_id != load_id) return;  // leadership moved meanwhile
    if (!ok) {
        shards.erase(it);  // the next request or tick tries again
        return;
    }
    const int64_t now = now_ms();
    size_t offsets = 0;
    for (auto& [id, loaded] : state->groups) {
        if (partition_of(id) != p) continue;
        auto& group = get_or_create_group(id);
        if (loaded.metadata) group.load(*loaded.metadata, now);
        offsets += loaded.offsets.size();
        group.offsets() = std::move(loaded.offsets);
    }
    // KIP-848 groups come back with their epochs and assignments; every
    // member's session starts now, as Kafka's does after a load.
    size_t consumer = 0;
    for (const auto& [id, loaded] : state->consumer_groups) {
        if (partition_of(id) != p) continue;
        auto restored = restored_state(loaded);
        if (!restored) continue;
        create_consumer_group(id).restore(std::move(*restored), now);
        ++consumer;
    }
    for (auto& [producer_id, offsets] : state->open_txn_offsets)
        for (auto& o : offsets)
            if (partition_of(o.group) == p) add_txn_offset(producer_id, std::move(o));
    it->second.loaded = true;
    for (auto m = early_txn_markers.lower_bound({p, INT64_MIN}); m != early_txn_markers.end() && m->first.first == p;) {
        end_txn_offsets(m->first.second, m->second, p);
        m = early_txn_markers.erase(m);
    }
    logger->info("loaded {}-{}: {} groups ({} of the consumer protocol), {} offsets", offsets_topic_name, p,
                 state->groups.size() + consumer, consumer, offsets);
}

void group_coordinator::impl::unload(int32_t p) {
    shards.erase(p);
    // Markers kept for the load that was running: a later load replays a log
    // that has them (a marker is reported once appended), while a kept one
    // applied then could end a later transaction of the same producer.
    drop_early_txn_markers(p);
    for (auto& [producer_id, offsets] : txn_offsets)
        std::erase_if(offsets, [&](const pending_txn_offset& o) { return partition_of(o.group) == p; });
    std::vector<std::string> gone;
    for (const auto& [id, g] : groups)
        if (partition_of(id) == p) gone.push_back(id);
    for (const auto& [id, g] : consumer_groups)
        if (partition_of(id) == p && !groups.contains(id)) gone.push_back(id);
    for (const auto& id : gone) forget_group(id, kafka_error::not_coordinator);
    if (!gone.empty()) logger->info("unloaded {}-{}: {} groups", offsets_topic_name, p, gone.size());
}

// ---- timers --------------------------------------------------------------------------

void group_coordinator::impl::schedule_tick() {
    if (stopping) return;
    timer.expires_after(std::chrono::milliseconds(50));
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->stopping) return;
        self->tick();
        self->schedule_tick();
    });
}

void group_coordinator::impl::tick() {
    refresh_shards();
    const int64_t now = now_ms();
    std::vector<std::string> forgettable;
    for (auto& [id, g] : groups) {
        g->tick(now);
        if (g->can_forget() && g->generation() == 0 && !consumer_groups.contains(id)) forgettable.push_back(id);
    }
    for (const auto& id : forgettable) forget_group(id, kafka_error::not_coordinator);
    std::optional<topic_catalog> topics;
    for (auto it = consumer_groups.begin(); it != consumer_groups.end();) {
        auto shard = shards.find(partition_of(it->first));
        if (shard == shards.end() || !shard->second.loaded) {
            ++it;
            continue;
        }
        auto before = it->second->persisted_state();
        // Expired members: their records go (all of the group's with the last
        // one). Patterns new to the group are resolved here, after the
        // heartbeat that brought them, as Kafka resolves them off its path.
        const bool expired = it->second->tick(now);
        if (it->second->has_unresolved_regexes() && !topics) topics = catalog();
        const bool resolved = it->second->has_unresolved_regexes() && it->second->resolve_regexes(*topics);
        if (expired || resolved) {
            if (!topics) topics = catalog();
            persist_consumer_group(it->first, before, it->second->persisted_state(), *topics, [](kafka_error) {});
        }
        if (it->second->members().empty() && !find_group(it->first)) {
            // An empty group without offsets is forgotten, here and in the log.
            write(partition_of(it->first), consumer_group_tombstones(it->first, it->second->persisted_state()),
                  [](kafka_error) {});
            it = consumer_groups.erase(it);
        } else {
            ++it;
        }
    }
    if (now >= next_expiry_check_ms) {
        next_expiry_check_ms = now + config.offsets_retention_check_interval_ms;
        expire_offsets(now);
    }
}

// Kafka 2.1+ (KIP-211): a group's offsets expire once the group has been
// Empty for the retention period; a group without a protocol type (offsets
// committed by assign()-only consumers) has each offset expire on its own,
// retention after its commit. An explicit expire timestamp (OffsetCommit
// v2-4) wins.
void group_coordinator::impl::expire_offsets(int64_t now) {
    for (auto& [id, g] : groups) {
        auto shard = shards.find(partition_of(id));
        if (shard == shards.end() || !shard->second.loaded) continue;
        if (g->state() != group_state::empty) continue;
        auto* members848 = find_consumer_group(id);
        const bool consumer_group = g->protocol_type().has_value();
        const bool group_expired = consumer_group && g->state_timestamp_ms() + config.offsets_retention_ms <= now;
        std::vector<offsets_record> records;
        std::vector<topic_partition_key> expired;
        for (const auto& [tp, c] : g->offsets()) {
            bool expire = c.expire_timestamp_ms >= 0 ? c.expire_timestamp_ms <= now
                          : consumer_group           ? group_expired
                                                     : c.commit_timestamp_ms + config.offsets_retention_ms <= now;
            if (expire && !g->pending_commits().contains(tp)) {
                expired.push_back(tp);
                records.push_back(offset_commit_record(id, tp.first, tp.second, nullptr));
            }
        }
        if (expired.empty()) continue;
        // A KIP-848 group with members stays, offsets or not.
        const bool drop_group = expired.size() == g->offsets().size() && (!members848 || members848->members().empty());
        if (drop_group) records.push_back(group_metadata_record(id, nullptr));
        if (drop_group && members848) {
            auto tombstones = consumer_group_tombstones(id, members848->persisted_state());
            records.insert(records.end(), tombstones.begin(), tombstones.end());
        }
        logger->info("group {}: expiring {} offsets{}", id, expired.size(), drop_group ? " and the group" : "");
        write(partition_of(id), std::move(records),
              [self = shared_from_this(), id = id, expired, drop_group](kafka_error e) {
                  if (e != kafka_error::none) return;
                  auto* g = self->find_group(id);
                  if (!g) return;
                  for (const auto& tp : expired) g->offsets().erase(tp);
                  // (A KIP-848 member that joined meanwhile wrote its group's records again.)
                  auto* cg = self->find_consumer_group(id);
                  if (drop_group && g->state() == group_state::empty && g->offsets().empty() &&
                      (!cg || cg->members().empty()))
                      self->forget_group(id, kafka_error::coordinator_not_available);
              });
    }
}

// ---- the public face -------------------------------------------------------------------

group_coordinator::group_coordinator(coordinator_config config, metadata::metadata_service& metadata,
                                     replication::partition_manager& partitions)
    : _impl(std::make_shared<impl>(config, metadata, partitions)) {}

group_coordinator::~group_coordinator() {
    stop();
    _impl->groups.clear();  // any left from work queued during stop(): answered by their guards
}

const coordinator_config& group_coordinator::config() const {
    return _impl->config;
}

int32_t group_coordinator::partition_for(std::string_view group_id) const {
    return _impl->partition_of(group_id);
}

void group_coordinator::start() {
    if (_impl->started) return;
    _impl->started = true;
    _impl->work.emplace(_impl->io.get_executor());
    _impl->next_expiry_check_ms = _impl->now_ms() + _impl->config.offsets_retention_check_interval_ms;
    boost::asio::post(_impl->io, [self = _impl] { self->schedule_tick(); });
    // Loads start when this broker is elected, not up to a tick later.
    _impl->partitions.on_leadership(std::string(offsets_topic_name), [weak = std::weak_ptr(_impl)](int32_t p) {
        if (auto self = weak.lock())
            boost::asio::post(self->io, [self, p] {
                if (!self->stopping) self->elected(p);
            });
    });
    _impl->thread = std::thread([self = _impl] { self->io.run(); });
}

void group_coordinator::stop() {
    if (!_impl->started || _impl->closed.exchange(true)) return;
    // On the coordinator thread: every group goes, and the requests waiting
    // on one (JoinGroup, SyncGroup) are answered NOT_COORDINATOR, so that the
    // network server's shutdown need not wait for them.
    std::promise<void> drained;
    boost::asio::post(_impl->io, [self = _impl, &drained] {
        self->stopping = true;
        self->timer.cancel();
        std::vector<std::string> ids;
        for (const auto& [id, g] : self->groups) ids.push_back(id);
        for (const auto& id : ids) self->forget_group(id, kafka_error::not_coordinator);
        self->consumer_groups.clear();
        self->shards.clear();
        drained.set_value();
    });
    drained.get_future().wait();
    _impl->loader.join();
    _impl->work.reset();  // the thread ends once what is queued has run
    if (_impl->thread.joinable()) _impl->thread.join();
}

namespace {

// The image once __consumer_offsets has `wanted` partitions in it. A new
// topic's partitions can reach the image in more than one step, and a group
// hashed over a part of them would be coordinated on the wrong partition
// (Kafka fixes the count once, at start-up). A topic made elsewhere with
// fewer partitions is taken as it is after a while, once.
awaitable<std::shared_ptr<const metadata::metadata_image>> whole_offsets_topic(group_coordinator::impl& impl,
                                                                                size_t wanted) {
    boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
    for (int i = 0; i < 100; ++i) {
        auto image = impl.partitions.image();
        const auto* topic = image ? image->topic(offsets_topic_name) : nullptr;
        if (topic && topic->partitions.size() >= wanted) {
            impl.offsets_topic_whole = true;
            co_return image;
        }
        wait.expires_after(std::chrono::milliseconds(20));
        co_await wait.async_wait(boost::asio::use_awaitable);
    }
    auto image = impl.partitions.image();
    if (image && image->topic(offsets_topic_name)) impl.offsets_topic_whole = true;
    co_return image;
}

}  // namespace

awaitable<std::pair<kafka_error, int32_t>> group_coordinator::find_coordinator(std::string group_id) {
    auto image = _impl->partitions.image();
    const auto* existing = image ? image->topic(offsets_topic_name) : nullptr;
    const auto wanted = static_cast<size_t>(_impl->config.offsets_topic_partitions);
    if (!existing || (!_impl->offsets_topic_whole && existing->partitions.size() < wanted)) {
        msg::create_topics_request create;
        auto& t = create.topics.emplace_back();
        t.name = std::string(offsets_topic_name);
        t.num_partitions = _impl->config.offsets_topic_partitions;
        t.replication_factor = _impl->config.offsets_topic_replication_factor;
        auto& cleanup = t.configs.emplace_back();
        cleanup.name = "cleanup.policy";
        cleanup.value = "compact";
        auto& segment = t.configs.emplace_back();
        segment.name = "segment.bytes";
        segment.value = std::to_string(_impl->config.offsets_topic_segment_bytes);
        auto& compression = t.configs.emplace_back();
        compression.name = "compression.type";
        compression.value = "producer";
        // (Two co_awaits in one conditional expression double-destroy the
        // result with GCC 12: hence the if.)
        msg::create_topics_response created;
        if (_impl->config.create_topics)
            created = co_await _impl->config.create_topics(std::move(create));
        else
            created = co_await _impl->metadata.create_topics(std::move(create), 7);
        bool made = !created.topics.empty();
        for (const auto& r : created.topics)
            if (r.error_code != 0 && r.error_code != code(kafka_error::topic_already_exists)) {
                _impl->logger->warn("cannot create {}: {} {}", offsets_topic_name, r.error_code,
                                    r.error_message.value_or(""));
                made = false;
            }
        if (made)
            image = co_await whole_offsets_topic(*_impl, wanted);
        else
            image = _impl->metadata.image();
    }
    const auto* topic = image ? image->topic(offsets_topic_name) : nullptr;
    if (!topic || topic->partitions.empty()) co_return std::pair{kafka_error::coordinator_not_available, -1};
    const int32_t p = partition_for_group(group_id, static_cast<int32_t>(topic->partitions.size()));
    const int32_t leader = topic->partitions[static_cast<size_t>(p)].leader;
    if (leader < 0) co_return std::pair{kafka_error::coordinator_not_available, -1};
    if (leader == _impl->partitions.node_id()) {
        // Just created: give this broker a moment to open the partition, so
        // that the client's first JoinGroup does not bounce.
        boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
        for (int i = 0; i < 40 && !_impl->partitions.find(offsets_topic_name, p).leader; ++i) {
            wait.expires_after(std::chrono::milliseconds(50));
            co_await wait.async_wait(boost::asio::use_awaitable);
        }
    }
    co_return std::pair{kafka_error::none, leader};
}

}  // namespace strata::group
