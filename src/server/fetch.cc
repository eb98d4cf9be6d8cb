// Fetch (key 1), v4-17: reads of the partitions this broker leads, as file
// regions (sendfile) where the connection allows; long polling on min_bytes
// and max_wait_ms; KIP-74 limits; KIP-227 incremental fetch sessions. Fetches of `__cluster_metadata` never get
// here: the fetch_router sends them to the quorum.
//
// KIP-392 (v11+): a consumer's fetch may be served by any replica hosted
// here, a follower reading to its own HW; the leader, with
// `replica.selector.class` set to the rack-aware selector, answers a consumer
// whose rack_id (`client.rack`) names another replica's rack with that
// replica in preferred_read_replica and no records, and the consumer moves
// there. A follower whose log does not hold the offset answers
// OFFSET_OUT_OF_RANGE, on which clients return to the leader.
//
// A fetch with a replica id (ReplicaState in v15+) is a follower's: it reads
// to the log end rather than the HW, reports the follower's log end offset
// to the partition (its fetch offset: the HW and the ISR follow from it),
// gets DivergingEpoch (v12+) when its last fetched epoch ends before its
// fetch offset here, and its long poll also ends on the next append or
// when the HW moves. A follower that asks for a partition at a leader epoch
// newer than this broker knows (it applied the image electing this broker
// first) is held, not answered NOT_LEADER_OR_FOLLOWER, until the leadership
// reaches the partition here. A replica named in leader.replication.throttled.replicas
// and outside the ISR gets no records while leader.replication.throttled.rate
// is exceeded (KIP-73; src/replication/throttle.h).
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <optional>

#include "current_leader.h"
#include "data_path.h"
#include "fetch_sessions.h"
#include "topic_metrics.h"
#include "strata/common/kafka_error.h"
#include "strata/metrics/purgatory.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/replication/throttle.h"
#include "strata/replication/replica_selector.h"

namespace strata::server {

namespace {

namespace pm = protocol::messages;

constexpr int8_t read_committed = 1;

struct fetch_build {
    pm::fetch_response response;
    size_t bytes = 0;
    bool has_error = false;     // or anything else to answer at once (a divergence)
    // A follower asked for a partition at a leader epoch newer than this
    // broker knows (the image that makes it the leader is still on its way):
    // the error is held with the long poll, which the leadership wakes.
    bool image_behind = false;
    std::vector<int64_t> hws;   // each partition's HW as read, in request order
    // Bytes of records read per topic (BytesOutPerSec), in read order.
    std::vector<std::pair<std::string, size_t>> bytes_by_topic;
    // A follower's fetch: bytes of the replicas leader.replication.throttled.
    // replicas names, which the leader's throttle counts (in the ISR or not).
    size_t throttled_bytes = 0;
    // A partition was answered empty because the leader's throttle was over.
    bool throttled_out = false;
    // KIP-951: the endpoints of the leaders the partitions' CurrentLeader name.
    leader_endpoints leaders;
};

// How long a follower's fetch that the leader's throttle left empty is held
// at most: the rate falls below the bound within a fraction of a second, and
// holding it for all of replica.fetch.wait.max.ms (as Kafka's DelayedFetch
// does) left the catch-up 14% below the throttle.
constexpr auto throttled_fetch_hold = std::chrono::milliseconds(100);

int32_t replica_of(const request_context& ctx, const pm::fetch_request& request) {
    return ctx.version >= 15 ? request.replica_state.replica_id : request.replica_id;
}

// KIP-392: a consumer's fetch of v11+ may read from a follower (Kafka's
// fetchOnlyFromLeader is false for it); older consumers' and followers' only
// from the leader.
bool any_replica_serves(const request_context& ctx, const pm::fetch_request& request) {
    return ctx.version >= 11 && replica_of(ctx, request) < 0;
}

// The leader's choice of read replica for a consumer's fetch at
// `fetch_offset` (its own id when it serves the fetch itself): the
// selector over the in-sync followers that hold the offset and whose brokers
// the consumer can reach (registered, unfenced, on its listener).
int32_t preferred_read_replica(const request_context& ctx, const pm::fetch_request& request,
                               replication::replica_selector selector, const replication::partition_manager& partitions,
                               const replication::partition& p, int64_t fetch_offset) {
    const int32_t self = partitions.node_id();
    if (selector != replication::replica_selector::rack_aware || request.rack_id.empty() || !p.is_leader())
        return self;
    const auto image = partitions.image();
    if (!image) return self;
    auto reachable = [&](int32_t id) -> const metadata::broker_registration* {
        const auto* b = image->broker(id);
        return b && !b->fenced && b->endpoint(ctx.connection.listener) ? b : nullptr;
    };
    replication::replica_view leader{self, std::nullopt, p.log_end_offset().value(), 0};
    if (const auto* b = image->broker(self)) leader.rack = b->rack;
    std::vector<replication::replica_view> followers;
    for (const auto& c : p.read_candidates(storage::offset(fetch_offset)))
        if (const auto* b = reachable(c.id)) followers.push_back({c.id, b->rack, c.log_end_offset, c.time_since_caught_up_ms});
    return replication::select_read_replica(selector, request.rack_id, leader, followers);
}

void set_error(pm::fetch_response::partition_data& out, kafka_error error) {
    out.error_code = static_cast<int16_t>(error);
    out.high_watermark = -1;
    out.last_stable_offset = -1;
    out.log_start_offset = -1;
    out.records = protocol::records{};
}

// A follower's fetch names `in` at a leader epoch newer than any this broker
// knows for the partition it hosts (`hosted`: its replica, or null): the
// follower applied the image that elected this broker first. Within
// milliseconds this broker applies it too; answering NOT_LEADER_OR_FOLLOWER
// or UNKNOWN_LEADER_EPOCH at once made the follower back off the partition
// and left the new leader's HW (acks=all) waiting for it.
bool image_behind(const pm::fetch_request::fetch_partition& in, const replication::partition* hosted,
                  const replication::partition_manager& partitions, const protocol::uuid& topic_id) {
    if (!hosted || in.current_leader_epoch < 0) return false;
    const auto image = partitions.image();
    const auto* topic = image ? image->topic(topic_id) : nullptr;
    const auto known = current_leader_of(image.get(), topic, in.partition, hosted);
    return in.current_leader_epoch > std::max(known.leader_epoch, hosted->epoch().value());
}

// One partition's answer. `budget` is what is left of the response's
// max_bytes; the first partition with data may exceed it (KIP-74).
// `recorded` (by partition, in request order) says whose follower fetch
// offset the partition has been told already: once per request, at the
// first read that finds this broker leading at the follower's epoch.
void read_partition(const request_context& ctx, const pm::fetch_request& request, const pm::fetch_request::fetch_partition& in,
                    const replication::partition_lookup& found, const std::shared_ptr<replication::async_signal>& waiter,
                    std::vector<char>& recorded, replication::replication_throttles* throttles,
                    replication::replica_selector selector, const replication::partition_manager& partitions,
                    fetch_build& build, pm::fetch_response::partition_data& out) {
    out.partition_index = in.partition;
    const size_t index = build.hws.size();
    build.hws.push_back(-1);
    if (recorded.size() <= index) recorded.resize(index + 1, 0);
    const int32_t replica_id = replica_of(ctx, request);
    const bool follower = replica_id >= 0;
    if (!found.leader) {
        set_error(out, found.error);
        std::shared_ptr<replication::partition> hosted;
        if (follower && ctx.version >= 9 && found.error == kafka_error::not_leader_or_follower)
            hosted = partitions.find_replica(found.topic_id, in.partition).leader;
        // The waiter first, then the epochs: a leadership applied in between
        // either shows in them or wakes the waiter.
        if (hosted && waiter) hosted->add_waiter(waiter, true);
        if (hosted && image_behind(in, hosted.get(), partitions, found.topic_id)) {
            build.image_behind = true;  // its leadership (a new epoch) wakes the waiter
            return;
        }
        build.has_error = true;
        return;
    }
    auto& p = *found.leader;
    if (waiter) p.add_waiter(waiter, follower);
    const int32_t epoch = p.epoch().value();
    if (ctx.version >= 9 && in.current_leader_epoch >= 0 && in.current_leader_epoch != epoch) {
        // KIP-320: the client's view of the leadership is older or newer.
        set_error(out, in.current_leader_epoch < epoch ? kafka_error::fenced_leader_epoch
                                                       : kafka_error::unknown_leader_epoch);
        // A follower ahead of this leader's epoch: the image is being applied
        // here (the partition's strand takes the new epoch next), which wakes
        // the waiter.
        if (follower && in.current_leader_epoch > epoch) build.image_behind = true;
        else build.has_error = true;
        return;
    }
    const auto hw = p.high_watermark();
    const auto lso = p.last_stable_offset();
    build.hws.back() = hw.value();
    out.high_watermark = hw.value();
    out.last_stable_offset = lso.value();
    out.log_start_offset = p.log_start_offset().value();
    out.records = protocol::records{};
    if (!follower && ctx.version >= 11) {
        // KIP-392: the consumer reads elsewhere; this answer carries the
        // offsets and no records, at once (Kafka's preferred-replica read).
        const int32_t preferred = preferred_read_replica(ctx, request, selector, partitions, p, in.fetch_offset);
        if (preferred != partitions.node_id()) {
            out.preferred_read_replica = preferred;
            build.has_error = true;
            return;
        }
    }
    if (request.isolation_level == read_committed) {
        // KIP-98: the aborted transactions the consumer must filter out of
        // what it reads here (up to the LSO).
        auto aborted = p.aborted_transactions(in.fetch_offset, lso.value());
        if (!aborted) {  // a consumer must never get aborted records unmarked
            set_error(out, storage::to_kafka_error(aborted.error()));
            build.has_error = true;
            return;
        }
        auto& list = out.aborted_transactions.emplace();
        for (const auto& a : aborted.value()) {
            auto& e = list.emplace_back();
            e.producer_id = a.producer_id;
            e.first_offset = a.first_offset;
        }
    }

    if (follower && ctx.version >= 12 && in.last_fetched_epoch >= 0) {
        // KIP-320 (Kafka 2.7's Fetch v12): the follower truncates to where
        // its last fetched epoch ends here (partition::diverging_epoch).
        if (auto diverging = p.diverging_epoch(storage::leader_epoch(in.last_fetched_epoch),
                                               storage::offset(in.fetch_offset))) {
            if (diverging->epoch.value() < 0 || diverging->end_offset.value() < 0) {
                // This log has no answer for the follower's epoch (newer than
                // any batch here: a leader elected without the records the
                // previous one appended after it, and nothing appended since).
                // Kafka answers OFFSET_OUT_OF_RANGE ("Could not determine the
                // end offset of the last fetched epoch"), and the follower,
                // past this log's end, truncates to it. An undefined diverging
                // epoch instead reads as "no divergence" to the follower,
                // which then fetched past this log's end for ever (a chaos run
                // left a partition with an ISR of one so).
                set_error(out, kafka_error::offset_out_of_range);
                build.has_error = true;
                return;
            }
            out.diverging_epoch.epoch = diverging->epoch.value();
            out.diverging_epoch.end_offset = diverging->end_offset.value();
            build.has_error = true;
            return;
        }
    }
    const auto leo = p.log_end_offset();
    // The follower has everything below its fetch offset: its log end, which
    // moves the HW and decides its ISR membership. Once per request, not on
    // every re-read of a long poll; for a partition held for this broker's
    // leadership (image_behind), at the read that finds it.
    if (follower && !recorded[index] && in.fetch_offset >= p.log_start_offset().value() &&
        in.fetch_offset <= leo.value()) {
        recorded[index] = 1;
        p.record_follower_fetch(replica_id, request.replica_state.replica_epoch, storage::offset(in.fetch_offset),
                                storage::offset(in.log_start_offset));
    }

    // KIP-73 (Kafka's ReplicaManager.shouldLeaderThrottle): a follower
    // outside the ISR catching up a throttled replica gets no records while
    // the leader's throttle is over its rate; its long poll counts nothing
    // for the partition and ends at max_wait_ms (or re-reads on an append).
    const bool throttled = follower && throttles && throttles->throttled(p.id().topic, p.id().partition.value());
    if (throttled && throttles->throttle().exceeded()) {
        const auto isr = p.isr();
        if (std::find(isr.begin(), isr.end(), replica_id) == isr.end()) {
            build.throttled_out = true;
            return;
        }
    }

    // Consumers read to the HW (read_committed: the LSO); a follower reads to
    // the log end.
    storage::read_options options;
    options.start = storage::offset(in.fetch_offset);
    options.max_offset = follower ? leo : (request.isolation_level == read_committed ? lso : hw);
    const size_t max_bytes = size_t(std::max(request.max_bytes, 0));
    const size_t budget = build.bytes >= max_bytes ? 0 : max_bytes - build.bytes;
    options.max_bytes = std::min(size_t(std::max(in.partition_max_bytes, 0)), budget);
    options.min_one_batch = build.bytes == 0;
    if (options.max_bytes == 0 && !options.min_one_batch) {
        // Out of budget: only the offsets are checked.
        if (options.start < p.log_start_offset() || options.start > p.log_end_offset()) {
            set_error(out, kafka_error::offset_out_of_range);
            build.has_error = true;
        }
        return;
    }
    auto read = p.read(options);
    if (!read) {
        set_error(out, storage::to_kafka_error(read.error()));
        build.has_error = true;
        return;
    }
    const auto& region = read.value().region;
    if (region.length == 0) return;
    if (ctx.connection.zero_copy_allowed) {
        out.records = protocol::records::from_file(region);
    } else {
        auto copied = storage::read_region(region);
        if (!copied) {
            set_error(out, storage::to_kafka_error(copied.error()));
            build.has_error = true;
            return;
        }
        auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(copied).value());
        out.records = protocol::records::from_memory(*owned, owned);
    }
    build.bytes += region.length;
    build.bytes_by_topic.emplace_back(p.id().topic, region.length);
    if (throttled) build.throttled_bytes += region.length;
}

// The authorize stage, once per request (not at every read of a long poll):
// whether each topic of `topics` may be read. A follower's fetch needs
// CLUSTER_ACTION on the cluster (a forged replica id from a client must not
// read past the HW: CVE-2018-1288's lesson), a consumer's READ on the topic.
std::vector<bool> authorize_topics(const request_context& ctx, const pm::fetch_request& request,
                                   const std::vector<pm::fetch_request::fetch_topic>& topics,
                                   replication::partition_manager& partitions) {
    using security::acl_operation;
    using security::resource_type;
    if (replica_of(ctx, request) >= 0) {
        const bool cluster =
            ctx.authorized(acl_operation::cluster_action, resource_type::cluster, security::cluster_resource_name);
        return std::vector<bool>(topics.size(), cluster);
    }
    std::vector<bool> allowed;
    allowed.reserve(topics.size());
    for (const auto& topic : topics) {
        std::string name = topic.topic;
        if (ctx.version >= 13) {
            // By id (v13+): the name is the partition's; an unknown id is
            // answered UNKNOWN_TOPIC_ID whatever the ACLs say.
            // (The name comes from the image, whoever leads: a follower
            // serving a consumer authorizes it as the leader would.)
            name.clear();
            for (const auto& in : topic.partitions) {
                if (auto found = partitions.find(topic.topic_id, in.partition); !found.topic_name.empty()) {
                    name = found.topic_name;
                    break;
                }
            }
            if (name.empty()) {
                allowed.push_back(true);
                continue;
            }
        }
        allowed.push_back(ctx.authorized(acl_operation::read, resource_type::topic, name));
    }
    return allowed;
}

fetch_build build_response(const request_context& ctx, const pm::fetch_request& request,
                           const std::vector<pm::fetch_request::fetch_topic>& topics, const std::vector<bool>& allowed,
                           replication::partition_manager& partitions, replication::replication_throttles* throttles,
                           replication::replica_selector selector,
                           const std::shared_ptr<replication::async_signal>& waiter, std::vector<char>& recorded) {
    fetch_build build;
    const bool any_replica = any_replica_serves(ctx, request);
    // KIP-951 (v16+): a partition answered NOT_LEADER_OR_FOLLOWER or
    // FENCED_LEADER_EPOCH names its current leader and epoch
    // (current_leader.h). A consumer's response also carries that leader's
    // endpoint on this request's listener; a follower's does not (it learns
    // endpoints from the metadata log), as in Kafka's KafkaApis.
    const bool name_leaders = ctx.version >= 16;
    const bool send_endpoints = replica_of(ctx, request) < 0;
    const auto image = name_leaders ? partitions.image() : nullptr;
    for (size_t t = 0; t < topics.size(); ++t) {
        const auto& topic = topics[t];
        auto& topic_out = build.response.responses.emplace_back();
        topic_out.topic = topic.topic;
        topic_out.topic_id = topic.topic_id;
        const metadata::topic_image* topic_image =
            !image ? nullptr : ctx.version >= 13 ? image->topic(topic.topic_id) : image->topic(topic.topic);
        for (const auto& in : topic.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            if (!allowed[t]) {
                out.partition_index = in.partition;
                build.hws.push_back(-1);
                set_error(out, kafka_error::topic_authorization_failed);
                build.has_error = true;
                continue;
            }
            auto found = any_replica ? (ctx.version >= 13 ? partitions.find_replica(topic.topic_id, in.partition)
                                                          : partitions.find_replica(topic.topic, in.partition))
                                     : (ctx.version >= 13 ? partitions.find(topic.topic_id, in.partition)
                                                          : partitions.find(topic.topic, in.partition));
            read_partition(ctx, request, in, found, waiter, recorded, throttles, selector, partitions, build, out);
            if (name_leaders && (out.error_code == int16_t(kafka_error::not_leader_or_follower) ||
                                 out.error_code == int16_t(kafka_error::fenced_leader_epoch))) {
                const auto hosted = (ctx.version >= 13 ? partitions.find_replica(topic.topic_id, in.partition)
                                                       : partitions.find_replica(topic.topic, in.partition)).leader;
                const auto current = current_leader_of(image.get(), topic_image, in.partition, hosted.get());
                out.current_leader.leader_id = current.leader_id;
                out.current_leader.leader_epoch = current.leader_epoch;
                if (send_endpoints) build.leaders.add(image.get(), current.leader_id, ctx.connection.listener);
            }
        }
    }
    return build;
}

boost::asio::awaitable<pm::fetch_response> handle_fetch(request_context& ctx, const pm::fetch_request& request,
                                                        replication::partition_manager& partitions,
                                                        fetch_session_cache& sessions, topic_metrics& traffic,
                                                        replication::replication_throttles& throttles,
                                                        replication::replica_selector selector) {
    // KIP-227: the session decides which partitions this request reads (v7+;
    // older requests decode as sessionless full fetches).
    const bool by_id = ctx.version >= 13;
    const auto plan = sessions.plan(request, by_id);
    if (plan.error != kafka_error::none) {
        pm::fetch_response response;
        response.error_code = static_cast<int16_t>(plan.error);
        co_return response;
    }
    const auto allowed = authorize_topics(ctx, request, plan.topics, partitions);
    const auto executor = co_await boost::asio::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(request.max_wait_ms, 0));
    const size_t min_bytes = size_t(std::max(request.min_bytes, 1));
    auto answer = [&](fetch_build& build) {
        // What is sent is counted: the last read of a long poll.
        if (replica_of(ctx, request) >= 0) {
            traffic.replication_bytes_out().inc(build.bytes);
            // What is sent of throttled replicas is measured against
            // leader.replication.throttled.rate (Kafka records it likewise,
            // once the response is built).
            if (build.throttled_bytes > 0) throttles.throttle().record(build.throttled_bytes);
        } else {
            for (const auto& [topic, bytes] : build.bytes_by_topic) traffic.of(topic)->bytes_out.inc(bytes);
        }
        build.response.session_id = plan.session_id;
        build.leaders.fill(build.response.node_endpoints);
        sessions.finish(plan, build.response, by_id);
        return std::move(build.response);
    };
    // A follower's long poll also ends when a HW moved, so that the
    // follower's HW (and its readiness to lead) keeps up with the leader's.
    const bool follower = replica_of(ctx, request) >= 0;
    // The leader's replication throttle, as of the image being served.
    if (follower) throttles.follow(partitions.image());
    replication::replication_throttles* const throttle = follower ? &throttles : nullptr;
    std::vector<int64_t> first_hws;
    std::vector<char> recorded;  // whose follower fetch offset was recorded
    std::optional<metrics::purgatory_entry> parked;  // counted in /metrics' fetch purgatory while it waits
    for (bool first = true;; first = false) {
        // The waiter is registered while the partitions are read, so that an
        // HW move between the read and the wait is not missed.
        auto waiter = request.max_wait_ms > 0 ? replication::async_signal::make(executor) : nullptr;
        auto build = build_response(ctx, request, plan.topics, allowed, partitions, throttle, selector, waiter, recorded);
        if (first) first_hws = build.hws;
        const bool hw_moved = follower && build.hws != first_hws;
        if (build.bytes >= min_bytes || build.has_error || hw_moved || !waiter ||
            std::chrono::steady_clock::now() >= deadline) {
            co_return answer(build);
        }
        if (!parked) {
            parked.emplace(metrics::fetch_purgatory());
            ctx.waiting_remotely();  // the long poll: Kafka's RemoteTimeMs
        }
        const auto until = build.throttled_out
                               ? std::min(deadline, std::chrono::steady_clock::now() + throttled_fetch_hold)
                               : deadline;
        const bool woken = co_await waiter->wait_until(until);
        if (!woken) {
            auto last = build_response(ctx, request, plan.topics, allowed, partitions, throttle, selector, nullptr, recorded);
            co_return answer(last);
        }
    }
}

}  // namespace

void register_partition_fetch(fetch_router& router, replication::partition_manager& partitions,
                              std::shared_ptr<topic_metrics> traffic, replication::replica_selector selector) {
    auto sessions = std::make_shared<fetch_session_cache>();
    // leader.replication.throttled.rate (KIP-73), shared by every network thread.
    auto throttles = std::make_shared<replication::replication_throttles>(replication::replication_throttles::side::leader,
                                                                           partitions.node_id());
    router.set_partition_handler(
        [&partitions, sessions, traffic, throttles, selector](request_context& ctx, pm::fetch_request& request) {
            return handle_fetch(ctx, request, partitions, *sessions, *traffic, *throttles, selector);
        });
}

}  // namespace strata::server
