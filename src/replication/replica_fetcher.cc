#include "strata/replication/replica_fetcher.h"

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "strata/common/log.h"
#include "strata/net/task_gate.h"
#include "strata/net/client_connection.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/list_offsets_request.h"
#include "strata/protocol/messages/list_offsets_response.h"
#include "strata/replication/throttle.h"

namespace strata::replication {

namespace {

namespace asio = boost::asio;
namespace pm = protocol::messages;
using clock_type = std::chrono::steady_clock;

const auto& logger() {
    static const auto instance = log::get("replication");
    return instance;
}

// Fetch v15: topic ids (v13), DivergingEpoch (v12) and the follower's broker
// epoch in ReplicaState (KIP-903).
constexpr int16_t fetch_version = 15;
constexpr int16_t list_offsets_version = 7;
constexpr int64_t latest_timestamp = -1;
constexpr int64_t earliest_timestamp = -2;
// UNKNOWN_LEADER_EPOCH or NOT_LEADER_OR_FOLLOWER: the leader has not applied
// the image that made it leader at our epoch yet; it will within
// milliseconds, and waiting replica.fetch.backoff.ms would hold its HW (and
// acks=all) back after a failover.
constexpr auto image_race_backoff = std::chrono::milliseconds(50);
// How soon a fetcher whose every partition was left out by the follower
// throttle looks again (the rate falls as its samples age; Kafka waits
// replica.fetch.backoff.ms, which makes the catch-up needlessly jerky).
constexpr auto throttled_backoff = std::chrono::milliseconds(50);
// How often at most a fetcher withdraws its parked fetch for partitions
// followed meanwhile (later ones wait for the next turn): each withdrawn
// fetch stays parked at the leader, on a closed connection, until its
// max_wait_ms, so an image per millisecond (topics created one by one)
// must not leave hundreds of them there. A controlled shutdown's images
// follow each other within a few milliseconds.
constexpr auto interrupt_interval = std::chrono::milliseconds(20);

// Whether the image has `node` in the ISR of `tp`.
bool in_isr(const metadata::metadata_image& image, const topic_partition& tp, int32_t node) {
    const auto* topic = image.topic(tp.topic);
    const auto index = size_t(tp.partition.value());
    if (!topic || index >= topic->partitions.size()) return false;
    const auto& isr = topic->partitions[index].isr;
    return std::find(isr.begin(), isr.end(), node) != isr.end();
}

// A partition as one fetcher fetches it.
struct fetch_target {
    std::shared_ptr<partition> p;
    leader_epoch epoch;
    clock_type::time_point not_before{};
};

// What one request asked for, to match the answer with.
struct sent_partition {
    topic_partition tp;
    leader_epoch epoch;
    offset fetch_offset;
};

// Strand operations started for one response, and their wake-up.
struct pending_ops {
    size_t remaining = 0;
    std::shared_ptr<async_signal> signal;
};

}  // namespace

struct fetcher {
    int32_t leader = -1;
    int index = 0;
    std::map<topic_partition, fetch_target> partitions;
    std::shared_ptr<net::client_connection> connection;
    std::string host;
    uint16_t port = 0;
    std::shared_ptr<async_signal> wake;
    bool stopped = false;
    // The partitions and epochs of the fetch on the wire, while one is: a
    // partition followed meanwhile that it does not carry interrupts it.
    std::optional<std::map<topic_partition, leader_epoch>> in_flight;
    bool missing = false;       // a partition was followed that the fetch on the wire lacks
    bool interrupted = false;   // its connection was closed for that
    bool interrupt_due = false; // a withdrawal waits for interrupt_interval
    clock_type::time_point last_interrupt{};
};

struct replica_fetcher_manager::impl : std::enable_shared_from_this<replica_fetcher_manager::impl> {
    explicit impl(replica_fetcher_options o)
        : options(std::move(o)),
          guard(context.get_executor()),
          throttles(replication_throttles::side::follower, options.node_id) {}

    replica_fetcher_options options;
    // The fetch loops and the ISR check; stop() waits for them here.
    net::task_gate tasks{"replica fetcher"};
    asio::io_context context{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard;
    std::thread thread;
    std::atomic<bool> stopping{false};
    std::atomic<bool> finished{false};  // the thread's run() returned

    // The context's thread only.
    bool stopped = false;
    std::map<std::pair<int32_t, int>, std::shared_ptr<fetcher>> fetchers;  // by (leader, index)
    std::map<topic_partition, std::pair<int32_t, int>> assignment;           // which fetcher has a partition
    std::shared_ptr<async_signal> isr_wake;
    // follower.replication.throttled.rate (KIP-73), as of the image the
    // fetchers last worked from.
    replication_throttles throttles;

    asio::any_io_executor executor() { return context.get_executor(); }
    void maybe_interrupt(const std::shared_ptr<fetcher>& f);
    void do_follow(const std::shared_ptr<partition>& p, int32_t leader, leader_epoch epoch);
    void do_stop();
};

namespace {

using impl_ptr = std::shared_ptr<replica_fetcher_manager::impl>;

// Waits until `deadline` or the fetcher's wake-up (a partition added, stop).
asio::awaitable<void> pause(impl_ptr m, std::shared_ptr<fetcher> f, clock_type::time_point deadline) {
    auto wake = f->wake;
    co_await wake->wait_until(deadline);
    if (wake->fired() && f->wake == wake) f->wake = async_signal::make(m->executor());
}

// Where a follower whose log diverges from the leader's truncates to, given
// the leader's (epoch, end offset) for the follower's last fetched epoch
// (Kafka's AbstractFetcherThread.getOffsetTruncationState).
offset truncation_point(const partition& p, const pm::fetch_response::epoch_end_offset& leader) {
    const offset leo = p.log_end_offset();
    // The leader knows no such epoch: back to what is known committed.
    if (leader.epoch < 0 || leader.end_offset < 0) return std::min(p.high_watermark(), leo);
    auto mine = p.log()->end_offset_for_epoch(leader_epoch(leader.epoch));
    if (!mine) return std::min(offset(leader.end_offset), leo);
    // The follower does not have the leader's epoch: truncate to the end of
    // its own largest epoch below it; the next fetch carries on from there.
    if (mine->epoch.value() != leader.epoch) return std::min(mine->end_offset, leo);
    return std::min({mine->end_offset, offset(leader.end_offset), leo});
}

void start_op(const impl_ptr& m, const std::shared_ptr<fetcher>& f, const std::shared_ptr<pending_ops>& ops,
              const topic_partition& tp, leader_epoch epoch,
              const std::function<void(partition::done_callback)>& start) {
    ++ops->remaining;
    start([m, f, ops, tp, epoch](kafka_error error) {
        asio::post(m->context, [m, f, ops, tp, epoch, error] {
            if (error != kafka_error::none) {
                auto it = f->partitions.find(tp);
                if (it != f->partitions.end() && it->second.epoch == epoch)
                    it->second.not_before = clock_type::now() + m->options.backoff;
            }
            if (--ops->remaining == 0) ops->signal->notify();
        });
    });
}

asio::awaitable<void> wait_ops(std::shared_ptr<pending_ops> ops) {
    if (ops->remaining == 0) co_return;
    co_await ops->signal->wait_until(clock_type::now() + std::chrono::seconds(60));
}

// The leader's log end (latest) or start (earliest) for a replica, by
// ListOffsets; nullopt on any error.
asio::awaitable<std::optional<offset>> leader_offset(impl_ptr m, std::shared_ptr<fetcher> f, topic_partition tp,
                                                     leader_epoch epoch, int64_t timestamp) {
    pm::list_offsets_request request;
    request.replica_id = m->options.node_id;
    auto& topic = request.topics.emplace_back();
    topic.name = tp.topic;
    auto& part = topic.partitions.emplace_back();
    part.partition_index = tp.partition.value();
    part.current_leader_epoch = epoch.value();
    part.timestamp = timestamp;
    auto connection = f->connection;
    auto answer = co_await connection->call<pm::list_offsets_response>(std::move(request), list_offsets_version,
                                                                        m->options.request_timeout);
    if (!answer) co_return std::nullopt;
    for (const auto& t : answer.value().topics)
        for (const auto& p : t.partitions)
            if (p.partition_index == tp.partition.value() && p.error_code == 0 && p.offset >= 0)
                co_return offset(p.offset);
    co_return std::nullopt;
}

// OFFSET_OUT_OF_RANGE (Kafka's handleOutOfRangeError): past the leader's log
// end, truncate to it; below its log start, restart the log there.
asio::awaitable<void> handle_out_of_range(impl_ptr m, std::shared_ptr<fetcher> f, sent_partition sent) {
    auto it = f->partitions.find(sent.tp);
    if (it == f->partitions.end() || it->second.epoch != sent.epoch) co_return;
    auto p = it->second.p;
    auto ops = std::make_shared<pending_ops>();
    ops->signal = async_signal::make(m->executor());
    auto leader_end = co_await leader_offset(m, f, sent.tp, sent.epoch, latest_timestamp);
    if (leader_end && sent.fetch_offset > *leader_end) {
        const offset to = *leader_end;
        logger()->info("{}: fetch offset {} is past leader {}'s log end {}; truncating", sent.tp, sent.fetch_offset,
                       f->leader, to);
        start_op(m, f, ops, sent.tp, sent.epoch,
                 [p, epoch = sent.epoch, to](partition::done_callback done) {
                     p->truncate_as_follower(epoch, to, false, std::move(done));
                 });
    } else {
        auto leader_start = co_await leader_offset(m, f, sent.tp, sent.epoch, earliest_timestamp);
        if (leader_start && sent.fetch_offset < *leader_start) {
            const offset to = *leader_start;
            logger()->info("{}: fetch offset {} is below leader {}'s log start {}; restarting the log there",
                           sent.tp, sent.fetch_offset, f->leader, to);
            start_op(m, f, ops, sent.tp, sent.epoch,
                     [p, epoch = sent.epoch, to](partition::done_callback done) {
                         p->truncate_as_follower(epoch, to, true, std::move(done));
                     });
        } else {
            auto again = f->partitions.find(sent.tp);
            if (again != f->partitions.end() && again->second.epoch == sent.epoch)
                again->second.not_before = clock_type::now() + m->options.backoff;
        }
    }
    co_await wait_ops(ops);
}

// Hands each partition's answer to its strand and waits for all of them.
asio::awaitable<void> handle_response(impl_ptr m, std::shared_ptr<fetcher> f,
                                      std::shared_ptr<const pm::fetch_response> response,
                                      std::shared_ptr<std::map<std::pair<std::array<uint8_t, 16>, int32_t>, sent_partition>> sent) {
    auto ops = std::make_shared<pending_ops>();
    ops->signal = async_signal::make(m->executor());
    std::vector<sent_partition> out_of_range;
    const auto now = clock_type::now();
    for (const auto& topic : response->responses) {
        for (const auto& pd : topic.partitions) {
            auto s = sent->find({topic.topic_id.bytes, pd.partition_index});
            if (s == sent->end()) continue;
            const auto& asked = s->second;
            auto it = f->partitions.find(asked.tp);
            if (it == f->partitions.end() || it->second.epoch != asked.epoch) continue;  // followed anew meanwhile
            auto p = it->second.p;
            const auto error = static_cast<kafka_error>(pd.error_code);
            const leader_epoch epoch = asked.epoch;
            if (error == kafka_error::none) {
                const offset hw(pd.high_watermark);
                if (pd.diverging_epoch.epoch >= 0 || pd.diverging_epoch.end_offset >= 0) {
                    const offset to = truncation_point(*p, pd.diverging_epoch);
                    logger()->info("{}: leader {} reports divergence at epoch {} end offset {}; truncating to {}",
                                   asked.tp, f->leader, pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset, to);
                    start_op(m, f, ops, asked.tp, epoch, [p, epoch, to](partition::done_callback done) {
                        p->truncate_as_follower(epoch, to, false, std::move(done));
                    });
                } else if (pd.records && pd.records->size() > 0) {
                    const auto bytes = pd.records->bytes();
                    // Kafka records every throttled replica's bytes, in the ISR or not.
                    if (m->throttles.throttled(asked.tp.topic, asked.tp.partition.value()))
                        m->throttles.throttle().record(pd.records->size());
                    const offset log_start(pd.log_start_offset);
                    start_op(m, f, ops, asked.tp, epoch,
                             [p, epoch, bytes, response, hw, log_start](partition::done_callback done) {
                                 p->append_from_leader(epoch, bytes, response, hw, log_start, std::move(done));
                             });
                } else {
                    start_op(m, f, ops, asked.tp, epoch, [p, epoch, hw](partition::done_callback done) {
                        p->update_follower_hw(epoch, hw, std::move(done));
                    });
                }
                continue;
            }
            if (error == kafka_error::offset_out_of_range) {
                out_of_range.push_back(asked);
                continue;
            }
            // NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_TOPIC_ID...:
            // one of the two images is behind; the newer one will tell.
            logger()->debug("{}: fetch from leader {} at epoch {} answered {}", asked.tp, f->leader, epoch,
                            kafka_error_name(error));
            const bool image_race =
                error == kafka_error::unknown_leader_epoch || error == kafka_error::not_leader_or_follower;
            it->second.not_before = now + (image_race ? image_race_backoff : m->options.backoff);
        }
    }
    co_await wait_ops(ops);
    for (const auto& s : out_of_range) co_await handle_out_of_range(m, f, s);
}

asio::awaitable<void> run_fetcher(impl_ptr m, std::shared_ptr<fetcher> f) {
    logger()->info("replica fetcher {} for leader {} started", f->index, f->leader);
    bool reported_unreachable = false;
    while (!f->stopped && !m->stopped) {
        if (f->partitions.empty()) {
            // Nothing follows this leader now: let the connection go until
            // something does again.
            if (f->connection) {
                f->connection->close();
                f->connection.reset();
            }
            co_await pause(m, f, clock_type::now() + std::chrono::seconds(1));
            continue;
        }
        auto image = m->options.image ? m->options.image() : nullptr;
        const metadata::broker_registration* leader = image ? image->broker(f->leader) : nullptr;
        const metadata::broker_endpoint* endpoint = leader ? leader->endpoint(m->options.listener) : nullptr;
        if (!endpoint) {
            co_await pause(m, f, clock_type::now() + m->options.backoff);
            continue;
        }
        if (!f->connection || f->host != endpoint->host || f->port != endpoint->port) {
            if (f->connection) f->connection->close();
            net::client_options options;
            options.host = endpoint->host;
            options.port = endpoint->port;
            options.client_id = "strata-replica-fetcher-" + std::to_string(m->options.node_id);
            m->options.security.apply_to(options);
            options.connect_timeout = std::chrono::milliseconds(1000);
            f->connection = net::client_connection::create(m->executor(), options);
            f->host = endpoint->host;
            f->port = endpoint->port;
        }
        const metadata::broker_registration* self = image->broker(m->options.node_id);

        pm::fetch_request request;
        request.replica_state.replica_id = m->options.node_id;
        request.replica_state.replica_epoch = self ? self->epoch : -1;
        request.max_wait_ms = m->options.fetch_wait_max_ms;
        request.min_bytes = m->options.fetch_min_bytes;
        request.max_bytes = m->options.fetch_response_max_bytes;
        request.isolation_level = 0;
        request.session_id = 0;
        request.session_epoch = -1;  // no fetch session: every fetch is full
        auto sent = std::make_shared<std::map<std::pair<std::array<uint8_t, 16>, int32_t>, sent_partition>>();
        const auto now = clock_type::now();
        auto next_ready = clock_type::time_point::max();
        auto backoff_ends = clock_type::time_point::max();  // the first partition left out for an error
        m->throttles.follow(image);
        for (auto& [tp, target] : f->partitions) {
            if (target.not_before > now) {
                next_ready = std::min(next_ready, target.not_before);
                backoff_ends = std::min(backoff_ends, target.not_before);
                continue;
            }
            // KIP-73 (Kafka's ReplicaFetcherThread.shouldFollowerThrottle): a
            // throttled replica outside the ISR is left out of the fetch
            // while the follower throttle is over its rate.
            if (m->throttles.throttled(tp.topic, tp.partition.value()) && !in_isr(*image, tp, m->options.node_id) &&
                m->throttles.throttle().exceeded()) {
                next_ready = std::min(next_ready, now + throttled_backoff);
                continue;
            }
            const auto& p = *target.p;
            auto topic = std::find_if(request.topics.begin(), request.topics.end(),
                                      [&](const auto& t) { return t.topic_id == p.topic_id(); });
            if (topic == request.topics.end()) {
                topic = request.topics.emplace(request.topics.end());
                topic->topic = tp.topic;
                topic->topic_id = p.topic_id();
            }
            auto& part = topic->partitions.emplace_back();
            part.partition = tp.partition.value();
            part.current_leader_epoch = target.epoch.value();
            part.fetch_offset = p.log_end_offset().value();
            const auto last_epoch = p.log()->latest_epoch();
            part.last_fetched_epoch = last_epoch ? last_epoch->value() : -1;
            part.log_start_offset = p.log_start_offset().value();
            part.partition_max_bytes = m->options.fetch_max_bytes;
            (*sent)[{p.topic_id().bytes, part.partition}] = sent_partition{tp, target.epoch, p.log_end_offset()};
        }
        if (sent->empty()) {
            co_await pause(m, f, next_ready);
            continue;
        }
        // A partition backing off after an error (50 ms after an image race)
        // is fetched when its backoff ends, not when the leader's long poll
        // on the others does.
        if (backoff_ends != clock_type::time_point::max()) {
            const auto until = std::chrono::ceil<std::chrono::milliseconds>(backoff_ends - now).count();
            request.max_wait_ms = int32_t(std::min<int64_t>(request.max_wait_ms, std::max<int64_t>(until, 1)));
        }
        auto connection = f->connection;
        const auto timeout = std::chrono::milliseconds(request.max_wait_ms) + m->options.request_timeout;
        f->missing = false;
        f->in_flight.emplace();
        for (const auto& [key, s] : *sent) f->in_flight->emplace(s.tp, s.epoch);
        auto answer = co_await connection->call<pm::fetch_response>(std::move(request), fetch_version, timeout);
        f->in_flight.reset();
        if (f->stopped || m->stopped) break;
        if (std::exchange(f->interrupted, false) && !answer) {
            // do_follow closed the connection under this fetch for a
            // partition it did not carry: a new connection fetches at once.
            logger()->debug("replica fetcher {}: fetch from leader {} interrupted for a partition followed meanwhile",
                            f->index, f->leader);
            continue;
        }
        if (!answer) {
            if (m->options.unreachable && m->options.image) {
                if (const auto* b = m->options.image()->broker(f->leader)) m->options.unreachable->mark(f->leader, b->epoch);
            }
            if (!reported_unreachable)
                logger()->warn("replica fetcher {}: fetch from leader {} at {}:{} failed: {}", f->index, f->leader,
                               f->host, f->port, net::to_string(answer.error()));
            reported_unreachable = true;
            co_await pause(m, f, clock_type::now() + m->options.backoff);
            continue;
        }
        if (reported_unreachable) {
            logger()->info("replica fetcher {}: leader {} answers again", f->index, f->leader);
            if (m->options.unreachable) m->options.unreachable->clear(f->leader);
        }
        reported_unreachable = false;
        auto response = std::make_shared<const pm::fetch_response>(std::move(answer).value());
        if (response->error_code != 0) {
            logger()->warn("replica fetcher {}: leader {} answered {}", f->index, f->leader,
                           kafka_error_name(static_cast<kafka_error>(response->error_code)));
            co_await pause(m, f, clock_type::now() + m->options.backoff);
            continue;
        }
        co_await handle_response(m, f, std::move(response), std::move(sent));
    }
    logger()->info("replica fetcher {} for leader {} stopped", f->index, f->leader);
}

// Kafka's isr-expiration task: every leader looks for followers that fell
// behind.
asio::awaitable<void> run_isr_checks(impl_ptr m) {
    const auto interval = m->options.isr_check_interval;
    while (!m->stopped) {
        m->isr_wake = async_signal::make(m->executor());
        co_await m->isr_wake->wait_until(clock_type::now() + interval);
        if (m->stopped) break;
        if (!m->options.leaders) continue;
        for (const auto& p : m->options.leaders()) p->check_isr();
    }
}

}  // namespace

void replica_fetcher_manager::impl::do_follow(const std::shared_ptr<partition>& p, int32_t leader, leader_epoch epoch) {
    if (stopped) return;
    const auto& tp = p->id();
    if (auto a = assignment.find(tp); a != assignment.end()) {
        auto& current = fetchers.at(a->second);
        auto t = current->partitions.find(tp);
        if (leader == current->leader && t != current->partitions.end() && t->second.epoch == epoch &&
            t->second.p == p)
            return;  // unchanged
        current->partitions.erase(tp);
        assignment.erase(a);
    }
    if (leader < 0) return;
    const int count = std::max(options.num_fetchers, 1);
    const auto key = std::make_pair(leader, int(std::hash<topic_partition>{}(tp) % size_t(count)));
    auto& f = fetchers[key];
    if (!f) {
        f = std::make_shared<fetcher>();
        f->leader = leader;
        f->index = key.second;
        f->wake = async_signal::make(executor());
        tasks.spawn(context, run_fetcher(shared_from_this(), f));  // refused once stopping
    }
    f->partitions[tp] = fetch_target{p, epoch, {}};
    assignment[tp] = key;
    f->wake->notify();
    // The fetcher's fetch may be parked at the leader for up to
    // replica.fetch.wait.max.ms without this partition, which the leader's
    // HW (acks=all) now waits for: after a leadership move, the new leader's
    // followers must fetch at once. Kafka adds it to the next fetch (after
    // the parked one returns); a fetch cannot be withdrawn, so the
    // connection is closed and the loop fetches again on a new one. There
    // are no fetch sessions between brokers (every fetch is a full one), so
    // nothing else depends on that fetch.
    if (f->in_flight) {
        auto sent = f->in_flight->find(tp);
        if (sent == f->in_flight->end() || sent->second != epoch) {
            f->missing = true;
            maybe_interrupt(f);
        }
    }
}

void replica_fetcher_manager::impl::maybe_interrupt(const std::shared_ptr<fetcher>& f) {
    if (stopped || f->stopped || !f->missing || !f->in_flight || !f->connection) return;
    const auto now = clock_type::now();
    const auto turn = f->last_interrupt + interrupt_interval;
    if (now < turn) {
        if (std::exchange(f->interrupt_due, true)) return;
        tasks.spawn(context, [](impl_ptr m, std::shared_ptr<fetcher> f, clock_type::time_point at) -> asio::awaitable<void> {
            asio::steady_timer timer(m->context, at);
            boost::system::error_code ignored;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
            f->interrupt_due = false;
            m->maybe_interrupt(f);
        }(shared_from_this(), f, turn));
        return;
    }
    f->last_interrupt = now;
    f->missing = false;
    f->in_flight.reset();
    f->interrupted = true;
    f->connection->close();
    f->connection.reset();
}

void replica_fetcher_manager::impl::do_stop() {
    if (stopped) return;
    stopped = true;
    for (auto& [key, f] : fetchers) {
        f->stopped = true;
        if (f->connection) f->connection->close();
        f->wake->notify();
    }
    if (isr_wake) isr_wake->notify();
}

replica_fetcher_manager::replica_fetcher_manager(replica_fetcher_options options)
    : _impl(std::make_shared<impl>(std::move(options))) {}

replica_fetcher_manager::~replica_fetcher_manager() { stop(); }

void replica_fetcher_manager::start() {
    auto m = _impl;
    if (m->options.isr_check_interval.count() > 0) m->tasks.spawn(m->context, run_isr_checks(m));
    m->thread = std::thread([m] {
        m->context.run();
        m->finished.store(true, std::memory_order_release);
    });
}

void replica_fetcher_manager::follow(const std::shared_ptr<partition>& p, int32_t leader, leader_epoch epoch) {
    if (_impl->stopping.load(std::memory_order_acquire)) return;
    asio::post(_impl->context, [m = _impl, p, leader, epoch] { m->do_follow(p, leader, epoch); });
}

void replica_fetcher_manager::stop() {
    if (_impl->stopping.exchange(true)) return;
    auto m = _impl;
    asio::post(m->context, [m] { m->do_stop(); });
    m->guard.reset();
    if (!m->thread.joinable()) return;
    // The loops end on their own once their connections are closed and their
    // pauses woken (a strand operation in progress finishes first); whatever
    // is still waiting after a grace period is abandoned with the context
    // (its frames destroyed with it, unrun).
    // Then the connections' own read loops end (closed by do_stop or by
    // their fetch loop), and with them the context's run().
    const bool ended = m->tasks.close_and_wait(std::chrono::seconds(2));
    for (int i = 0; ended && i < 50 && !m->finished.load(std::memory_order_acquire); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!m->finished.load(std::memory_order_acquire)) m->context.stop();
    m->thread.join();
}

}  // namespace strata::replication
