#include "strata/metadata/metadata_service.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <thread>

#include "strata/common/log.h"
#include "strata/metadata/snapshot.h"
#include "strata/net/async_event.h"
#include "strata/net/task_gate.h"

namespace strata::metadata {

namespace asio = boost::asio;

namespace {

const auto& logger() {
    static const auto instance = log::get("metadata");
    return instance;
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Delegation tokens' timestamps are wall-clock time.
int64_t wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Whether a TCP connection to host:port is refused: the sign that no process
// listens there any more (a crashed broker's kernel closed its sockets). A
// connection that is accepted, times out or fails otherwise says nothing.
asio::awaitable<bool> connection_refused(asio::any_io_executor executor, std::string host, uint16_t port) {
    using asio::ip::tcp;
    boost::system::error_code ec;
    tcp::resolver resolver(executor);
    auto addresses = co_await resolver.async_resolve(host, std::to_string(port),
                                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec || addresses.empty()) co_return false;
    // The timer's handler can run after this coroutine has returned: when
    // the timer expires as the connect completes, cancel() no longer recalls
    // it. So it shares the socket and closes it without throwing (a
    // reference to a socket gone by then aborted stratad with "close: Bad
    // file descriptor" in a loaded three-node run).
    auto socket = std::make_shared<tcp::socket>(executor);
    asio::steady_timer timeout(executor);
    timeout.expires_after(std::chrono::milliseconds(50));
    timeout.async_wait([socket](boost::system::error_code e) {
        boost::system::error_code ignored;
        if (!e) socket->close(ignored);
    });
    co_await socket->async_connect(*addresses.begin(), asio::redirect_error(asio::use_awaitable, ec));
    timeout.cancel();
    co_return ec == asio::error::connection_refused;
}

}  // namespace

struct metadata_service::impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor executor, raft::node& node, metadata_service_options options)
        : strand(asio::make_strand(executor)),
          node(node),
          options(std::move(options)),
          ctl(this->options.controller, [] { return protocol::uuid::random(); }),
          progress(strand),
          idle(strand),
          fencing_timer(strand) {}

    asio::strand<asio::any_io_executor> strand;
    raft::node& node;
    metadata_service_options options;
    controller ctl;  // strand only
    // The coroutines the service starts and does not await (the fencing
    // loop, the bootstrap, broker probes, snapshot stores): stop() waits for
    // them, so none runs on after the service and the raft node are gone.
    net::task_gate tasks{"metadata service"};

    mutable std::mutex image_mutex;
    std::shared_ptr<const metadata_image> current = std::make_shared<metadata_image>();
    std::atomic<int32_t> leader{-1};
    // The last leader this node knew (never -1 once one was known): the
    // controller a new leader replaces.
    std::atomic<int32_t> last_known_leader{-1};
    // Connections that carried a broker's registration or heartbeat: only
    // their closing concerns the controller.
    std::mutex heartbeat_connections_mutex;
    std::set<uint64_t> heartbeat_connections;
    bool sessions_active = false;  // strand only: ctl's sessions are this term's

    void note_heartbeat_connection(uint64_t connection) {
        if (connection == 0) return;
        std::lock_guard lock(heartbeat_connections_mutex);
        heartbeat_connections.insert(connection);
    }
    std::vector<image_listener> listeners;

    net::detail::async_event progress;  // a new image was published
    net::detail::async_event idle;      // a controller operation finished
    bool busy = false;
    bool stopping = false;
    asio::steady_timer fencing_timer;
    bool fencing_running = false;

    // Snapshots (strand only, but for the thread handle): what was applied
    // since the last one, and the epoch of the last entry applied (the
    // snapshot id's).
    int64_t bytes_since_snapshot = 0;
    std::chrono::steady_clock::time_point last_snapshot = std::chrono::steady_clock::now();
    raft::epoch applied_epoch{0};
    bool snapshotting = false;
    // Serializes the image off the node's thread; joined before the service goes.
    std::mutex snapshot_thread_mutex;
    std::thread snapshot_thread;

    ~impl() {
        // The thread may hold the last reference itself.
        if (snapshot_thread.joinable()) {
            if (snapshot_thread.get_id() == std::this_thread::get_id())
                snapshot_thread.detach();
            else
                snapshot_thread.join();
        }
    }

    void join_snapshot_thread() {
        std::lock_guard lock(snapshot_thread_mutex);
        if (snapshot_thread.joinable()) snapshot_thread.join();
    }

    std::shared_ptr<const metadata_image> image() const {
        std::lock_guard lock(image_mutex);
        return current;
    }

    bool is_leader() const { return leader.load() == options.node_id; }

    // On the strand: committed entries, in order.
    void apply(const std::vector<raft::log_entry>& entries) {
        if (entries.empty()) return;
        metadata_delta delta(image());
        for (const auto& entry : entries) {
            bytes_since_snapshot += static_cast<int64_t>(entry.data.size());
            if (entry.kind != raft::entry_kind::data) continue;
            try {
                auto bytes = std::span(reinterpret_cast<const uint8_t*>(entry.data.data()), entry.data.size());
                delta.replay(decode_record(bytes).value);
            } catch (const std::exception& e) {
                // The committed log is the truth; a record we cannot apply
                // means corruption or a bug, and every node would diverge.
                logger()->critical("cannot apply metadata record at offset {}: {}", entry.off.value(), e.what());
                std::abort();
            }
        }
        delta.set_end_offset(entries.back().off.value() + 1);
        applied_epoch = entries.back().ep;
        logger()->debug("applying {} entries through offset {}", entries.size(), entries.back().off.value());
        auto next = delta.apply();
        {
            std::lock_guard lock(image_mutex);
            current = next;
        }
        for (const auto& l : listeners) l(next, delta.changes());
        progress.notify_all();
        maybe_snapshot(next);
    }

    // On the strand: replaces the image with a snapshot's (at start-up, the
    // latest local one; later, one fetched from the leader).
    void load_snapshot(const raft::snapshot_id& id, const std::string& data) {
        const auto started = std::chrono::steady_clock::now();
        std::shared_ptr<const metadata_image> next;
        try {
            next = read_snapshot(data, id.end_offset.value());
        } catch (const std::exception& e) {
            // Raft hands over only snapshots it has stored or checked as
            // whole; one we cannot read leaves no state to go on from.
            logger()->critical("cannot load the metadata snapshot {}: {}", id, e.what());
            std::abort();
        }
        auto changes = diff_images(*image(), *next);
        changes.from_snapshot = true;
        {
            std::lock_guard lock(image_mutex);
            current = next;
        }
        applied_epoch = id.ep;
        bytes_since_snapshot = 0;
        last_snapshot = std::chrono::steady_clock::now();
        logger()->info("loaded the metadata snapshot {} ({} bytes, {} topics) in {} ms", id, data.size(),
                       next->topics().size(),
                       std::chrono::duration_cast<std::chrono::milliseconds>(last_snapshot - started).count());
        for (const auto& l : listeners) l(next, changes);
        progress.notify_all();
    }

    // On the strand, after an image is published: starts a snapshot of it
    // when enough was applied since the last one. The image is immutable, so
    // a thread of its own serializes it while the node goes on; the node then
    // stores it and truncates its log behind it.
    void maybe_snapshot(const std::shared_ptr<const metadata_image>& img) {
        if (snapshotting || stopping || bytes_since_snapshot == 0) return;
        const auto now = std::chrono::steady_clock::now();
        const bool by_bytes = bytes_since_snapshot >= options.snapshot_max_record_bytes;
        const bool by_time = options.snapshot_interval.count() > 0 && now - last_snapshot >= options.snapshot_interval;
        if (!by_bytes && !by_time) return;
        snapshotting = true;
        bytes_since_snapshot = 0;
        last_snapshot = now;
        const raft::snapshot_id id{raft::offset{img->end_offset()}, applied_epoch};
        join_snapshot_thread();  // the previous one has finished its work
        std::lock_guard lock(snapshot_thread_mutex);
        snapshot_thread = std::thread([weak = weak_from_this(), img, id] {
            const auto started = std::chrono::steady_clock::now();
            const auto wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
            std::string data = write_snapshot(*img, id.ep.value(), wall_ms);
            const auto took =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
            if (auto self = weak.lock())
                self->tasks.spawn(self->strand, store_snapshot(self, id, std::move(data), took));
        });
    }

    static asio::awaitable<void> store_snapshot(std::shared_ptr<impl> self, raft::snapshot_id id, std::string data,
                                                std::chrono::milliseconds took) {
        // Once stop() has run the node may be gone (it must outlive only the
        // service object, not this coroutine).
        if (self->stopping) co_return;
        const size_t size = data.size();
        auto stored = co_await self->node.create_snapshot(id, std::move(data));
        if (stored)
            logger()->info("wrote the metadata snapshot {} ({} bytes, serialized in {} ms)", id, size, took.count());
        else
            logger()->warn("the metadata snapshot {} was not stored: {}", id, stored.error());
        self->snapshotting = false;
    }

    // Waits until the image reflects everything before `end_offset`.
    asio::awaitable<void> wait_applied(int64_t end_offset) {
        logger()->debug("waiting for the image to reach offset {} (at {})", end_offset, image()->end_offset());
        while (image()->end_offset() < end_offset && !stopping) co_await progress.wait();
    }

    // A new leader decides only on an image that holds everything committed
    // before its election. Its HW lags until its leader-change record
    // commits, and the entries of earlier epochs below it (say a TopicRecord
    // the old leader appended before it died) commit with it: deciding
    // before they are applied would decide twice (a second TopicRecord for
    // the same topic).
    asio::awaitable<void> wait_caught_up() {
        const auto status = node.status();
        co_await wait_applied(std::max(status.high_watermark, status.leader_start_offset).value());
    }

    asio::awaitable<void> lock() {
        while (busy) co_await idle.wait();
        busy = true;
    }
    void unlock() {
        busy = false;
        idle.notify_all();
    }

    // Proposes `records` and waits until they are applied. NOT_CONTROLLER /
    // REQUEST_TIMED_OUT come back from the node.
    asio::awaitable<kafka_error> commit(const std::vector<record>& records) {
        if (records.empty()) co_return kafka_error::none;
        std::vector<std::string> encoded;
        encoded.reserve(records.size());
        for (const auto& r : records) {
            auto bytes = encode_record(r);
            encoded.emplace_back(bytes.begin(), bytes.end());
        }
        auto result = co_await node.propose(std::move(encoded), options.commit_timeout);
        if (!result) co_return result.error();
        co_await wait_applied(result.value().value() + 1);
        co_return kafka_error::none;
    }

    // Runs one controller decision: serialized, on a caught-up leader;
    // `decide` fills the response and returns records; `fail` sets every
    // item of the response to an error.
    template <typename Response, typename Decide, typename Fail>
    asio::awaitable<Response> run(Decide decide, Fail fail) {
        Response response;
        co_await lock();
        try {
            if (!is_leader()) {
                fail(response, kafka_error::not_controller);
            } else {
                co_await wait_caught_up();
                auto records = decide(*image(), response);
                auto error = co_await commit(records);
                // Items that passed validation did not take effect: they
                // carry the commit's error (NOT_CONTROLLER, REQUEST_TIMED_OUT)
                // so that the client retries.
                if (error != kafka_error::none) fail(response, error);
            }
        } catch (...) {
            unlock();
            throw;
        }
        unlock();
        co_return response;
    }

    // Coroutines below take `self` by value: the frame keeps the service
    // alive, and nothing they use lives in a lambda's captures (a coroutine
    // lambda's captures die with the lambda object, before the coroutine).
    static asio::awaitable<void> bootstrap(std::shared_ptr<impl> self) { co_await self->bootstrap_once(); }
    static asio::awaitable<void> fencing(std::shared_ptr<impl> self) { co_await self->fence_loop(); }

    asio::awaitable<void> bootstrap_once() {
        co_await lock();
        if (is_leader()) {
            co_await wait_caught_up();
            if (!image()->feature_level("metadata.version")) {
                records::feature_level_record mv;
                mv.name = "metadata.version";
                mv.feature_level = options.bootstrap_metadata_version;
                std::vector<record> records;  // (a braced list here trips GCC 12's coroutines)
                records.emplace_back(mv);
                for (const auto& r : options.bootstrap_records) records.push_back(r);
                auto error = co_await commit(records);
                if (error != kafka_error::none) logger()->warn("bootstrap of metadata.version failed: {}", error);
            }
        }
        unlock();
    }

    static asio::awaitable<msg::create_topics_response> do_create_topics(std::shared_ptr<impl> self,
                                                                         msg::create_topics_request request,
                                                                         int16_t version) {
        co_return co_await self->run<msg::create_topics_response>(
            [&](const metadata_image& img, msg::create_topics_response& r) {
                return self->ctl.create_topics(img, request, version, r);
            },
            [&](msg::create_topics_response& r, kafka_error e) {
                if (r.topics.empty())
                    for (const auto& t : request.topics) r.topics.emplace_back().name = t.name;
                for (auto& t : r.topics)
                    if (t.error_code == 0) t.error_code = static_cast<int16_t>(e);
            });
    }

    static asio::awaitable<msg::delete_topics_response> do_delete_topics(std::shared_ptr<impl> self,
                                                                         msg::delete_topics_request request,
                                                                         int16_t version) {
        co_return co_await self->run<msg::delete_topics_response>(
            [&](const metadata_image& img, msg::delete_topics_response& r) {
                return self->ctl.delete_topics(img, request, version, r);
            },
            [&](msg::delete_topics_response& r, kafka_error e) {
                if (r.responses.empty()) {
                    for (const auto& n : request.topic_names) r.responses.emplace_back().name = n;
                    for (const auto& t : request.topics) {
                        auto& out = r.responses.emplace_back();
                        out.name = t.name;
                        out.topic_id = t.topic_id;
                    }
                }
                for (auto& t : r.responses)
                    if (t.error_code == 0) t.error_code = static_cast<int16_t>(e);
            });
    }

    static asio::awaitable<kafka_error> do_decide(std::shared_ptr<impl> self, decision decide) {
        kafka_error outcome = kafka_error::none;
        co_await self->run<int>([&](const metadata_image& img, int&) { return decide(img); },
                                [&](int&, kafka_error e) { outcome = e; });
        co_return outcome;
    }

    static asio::awaitable<msg::create_partitions_response> do_create_partitions(
        std::shared_ptr<impl> self, msg::create_partitions_request request) {
        co_return co_await self->run<msg::create_partitions_response>(
            [&](const metadata_image& img, msg::create_partitions_response& r) {
                return self->ctl.create_partitions(img, request, r);
            },
            [&](msg::create_partitions_response& r, kafka_error e) {
                if (r.results.empty())
                    for (const auto& t : request.topics) r.results.emplace_back().name = t.name;
                for (auto& t : r.results)
                    if (t.error_code == 0) t.error_code = static_cast<int16_t>(e);
            });
    }

    static asio::awaitable<msg::broker_registration_response> do_register_broker(
        std::shared_ptr<impl> self, msg::broker_registration_request request, uint64_t connection) {
        co_return co_await self->run<msg::broker_registration_response>(
            [&](const metadata_image& img, msg::broker_registration_response& r) {
                // Kafka's broker epoch is the offset of the registration record.
                const int64_t next_offset = self->node.status().log_end_offset.value();
                return self->ctl.register_broker(img, request, next_offset, now_ms(), r, connection);
            },
            [](msg::broker_registration_response& r, kafka_error e) { r.error_code = static_cast<int16_t>(e); });
    }

    static asio::awaitable<msg::broker_heartbeat_response> do_broker_heartbeat(std::shared_ptr<impl> self,
                                                                               msg::broker_heartbeat_request request,
                                                                               uint64_t connection) {
        co_return co_await self->run<msg::broker_heartbeat_response>(
            [&](const metadata_image& img, msg::broker_heartbeat_response& r) {
                return self->ctl.broker_heartbeat(img, request, now_ms(), r, connection);
            },
            [](msg::broker_heartbeat_response& r, kafka_error e) { r.error_code = static_cast<int16_t>(e); });
    }

    static asio::awaitable<msg::alter_partition_response> do_alter_partition(std::shared_ptr<impl> self,
                                                                             msg::alter_partition_request request,
                                                                             int16_t version) {
        co_return co_await self->run<msg::alter_partition_response>(
            [&](const metadata_image& img, msg::alter_partition_response& r) {
                return self->ctl.alter_partition(img, request, version, r);
            },
            [](msg::alter_partition_response& r, kafka_error e) {
                r.topics.clear();
                r.error_code = static_cast<int16_t>(e);
            });
    }

    static asio::awaitable<std::pair<kafka_error, int64_t>> do_allocate_producer_ids(std::shared_ptr<impl> self,
                                                                                     int32_t broker_id,
                                                                                     int32_t block_size) {
        co_return co_await self->run<std::pair<kafka_error, int64_t>>(
            [&](const metadata_image& img, std::pair<kafka_error, int64_t>& r) {
                r.first = kafka_error::none;
                return self->ctl.allocate_producer_ids(img, broker_id, block_size, r.second);
            },
            [](std::pair<kafka_error, int64_t>& r, kafka_error e) { r.first = e; });
    }

    // A broker whose heartbeat connection closed (or the controller just
    // replaced) is fenced after a short grace unless it heartbeats again;
    // sooner if it is found dead: its listener refusing connections means
    // its process is gone. Probed every 20 ms within the grace.
    static asio::awaitable<void> probe_broker(std::shared_ptr<impl> self, int32_t broker_id) {
        const auto until = std::chrono::steady_clock::now() +
                           std::chrono::milliseconds(self->options.controller.broker_disconnect_grace_ms);
        asio::steady_timer pause(self->strand);
        while (!self->stopping && self->sessions_active && std::chrono::steady_clock::now() < until) {
            auto img = self->image();
            const broker_registration* b = img->broker(broker_id);
            if (!b || b->fenced || b->endpoints.empty()) co_return;
            const bool gone = co_await connection_refused(self->strand, b->endpoints.front().host,
                                                          b->endpoints.front().port);
            if (gone) {
                if (self->sessions_active && self->ctl.session_ended(broker_id, now_ms())) {
                    logger()->info("broker {}: its listener refuses connections; ending its session", broker_id);
                    self->fencing_timer.cancel();
                }
                co_return;
            }
            pause.expires_after(std::chrono::milliseconds(20));
            boost::system::error_code ec;
            co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    asio::awaitable<void> fence_loop() {
        fencing_running = true;
        while (!stopping) {
            // Wake at the earliest session end (a broker that disconnected
            // has a short one), at most fencing_interval from now.
            auto wait = options.fencing_interval;
            if (auto expiry = sessions_active ? ctl.next_session_expiry() : std::nullopt)
                wait = std::clamp(std::chrono::milliseconds(*expiry - now_ms() + 1), std::chrono::milliseconds(10),
                                  options.fencing_interval);
            fencing_timer.expires_after(wait);
            boost::system::error_code ec;
            co_await fencing_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (stopping) break;
            if (!is_leader() || !sessions_active) continue;
            struct none {};
            co_await run<none>(
                [&](const metadata_image& img, none&) {
                    auto out = ctl.fence_expired_brokers(img, now_ms());
                    for (const auto& r : out)
                        if (const auto* f = std::get_if<records::fence_broker_record>(&r))
                            logger()->info("fencing broker {}: its session ended", f->id);
                    // Preferred leaders only on an image with no fencing pending.
                    if (out.empty()) out = ctl.rebalance_leaders(img, now_ms());
                    for (auto& r : ctl.remove_expired_delegation_tokens(img, wall_clock_ms())) {
                        logger()->info("delegation token {} expired; removing it",
                                       std::get<records::remove_delegation_token_record>(r).token_id);
                        out.push_back(std::move(r));
                    }
                    return out;
                },
                [](none&, kafka_error) {});
        }
        fencing_running = false;
        idle.notify_all();
    }
};

metadata_service::metadata_service(asio::any_io_executor executor, raft::node& node, metadata_service_options options)
    : _impl(std::make_shared<impl>(std::move(executor), node, std::move(options))) {}

metadata_service::~metadata_service() {
    stop();
    _impl->join_snapshot_thread();
}

void metadata_service::attach() {
    std::weak_ptr<impl> weak = _impl;
    _impl->node.on_commit([weak](const std::vector<raft::log_entry>& entries) {
        if (auto self = weak.lock()) asio::post(self->strand, [self, entries] { self->apply(entries); });
    });
    _impl->node.on_snapshot([weak](const raft::snapshot_id& id, const std::string& data) {
        if (auto self = weak.lock()) asio::post(self->strand, [self, id, data] { self->load_snapshot(id, data); });
    });
    _impl->node.on_leader_change([weak](raft::epoch epoch, std::optional<raft::node_id> leader) {
        auto self = weak.lock();
        if (!self) return;
        self->leader = leader ? leader->value() : -1;
        logger()->info("metadata leader is now {} (epoch {})", leader ? leader->value() : -1, epoch.value());
        const bool active = self->is_leader();
        const int32_t previous = leader ? self->last_known_leader.exchange(leader->value()) : -1;
        // Broker sessions belong to one term of this node as the active
        // controller: started afresh when it becomes active, dropped when not.
        asio::post(self->strand, [self, active, previous] {
            self->sessions_active = active;
            if (!active) return;
            std::optional<int32_t> replaced;
            if (previous >= 0 && previous != self->options.node_id) replaced = previous;
            self->ctl.became_active(replaced, now_ms());
            if (replaced) self->tasks.spawn(self->strand, impl::probe_broker(self, *replaced));
            self->fencing_timer.cancel();  // re-arm for the new sessions
        });
        if (active) self->tasks.spawn(self->strand, impl::bootstrap(self));
    });
}

void metadata_service::start() {
    auto self = _impl;
    self->tasks.spawn(self->strand, impl::fencing(self));
}

void metadata_service::stop() {
    auto self = _impl;
    asio::post(self->strand, [self] {
        self->stopping = true;
        self->fencing_timer.cancel();
        self->progress.notify_all();
    });
    // Told to end above, each task ends within a probe or a timer's wake-up
    // (tens of milliseconds); one still running after the grace is abandoned
    // with the executor (its frame destroyed unrun), as before the gate.
    constexpr auto grace = std::chrono::seconds(2);
    if (!self->tasks.close_and_wait(grace))
        logger()->warn("{} metadata service task(s) still running {} s after stop; abandoned", self->tasks.running(),
                       grace.count());
}

std::shared_ptr<const metadata_image> metadata_service::image() const {
    return _impl->image();
}

void metadata_service::on_image(image_listener listener) {
    _impl->listeners.push_back(std::move(listener));
}

std::optional<int32_t> metadata_service::controller_id() const {
    int32_t id = _impl->leader.load();
    if (id < 0) return std::nullopt;
    return id;
}

asio::awaitable<msg::create_topics_response> metadata_service::create_topics(msg::create_topics_request request,
                                                                             int16_t version) {
    co_return co_await asio::co_spawn(_impl->strand, impl::do_create_topics(_impl, std::move(request), version),
                                      asio::use_awaitable);
}

asio::awaitable<msg::delete_topics_response> metadata_service::delete_topics(msg::delete_topics_request request,
                                                                             int16_t version) {
    co_return co_await asio::co_spawn(_impl->strand, impl::do_delete_topics(_impl, std::move(request), version),
                                      asio::use_awaitable);
}

asio::awaitable<msg::create_partitions_response> metadata_service::create_partitions(
    msg::create_partitions_request request) {
    co_return co_await asio::co_spawn(_impl->strand, impl::do_create_partitions(_impl, std::move(request)),
                                      asio::use_awaitable);
}

asio::awaitable<kafka_error> metadata_service::decide(decision decide) {
    co_return co_await asio::co_spawn(_impl->strand, impl::do_decide(_impl, std::move(decide)), asio::use_awaitable);
}

asio::awaitable<msg::broker_registration_response> metadata_service::register_broker(
    msg::broker_registration_request request, uint64_t connection) {
    _impl->note_heartbeat_connection(connection);
    co_return co_await asio::co_spawn(_impl->strand, impl::do_register_broker(_impl, std::move(request), connection),
                                      asio::use_awaitable);
}

void metadata_service::connection_closed(uint64_t connection) {
    {
        std::lock_guard lock(_impl->heartbeat_connections_mutex);
        if (_impl->heartbeat_connections.erase(connection) == 0) return;
    }
    auto self = _impl;
    asio::post(self->strand, [self, connection] {
        for (int32_t broker : self->ctl.broker_connection_closed(connection, now_ms())) {
            logger()->debug("broker {}: its heartbeat connection {} closed", broker, connection);
            self->tasks.spawn(self->strand, impl::probe_broker(self, broker));
        }
        self->fencing_timer.cancel();  // re-arm for the shortened session
    });
}

asio::awaitable<msg::broker_heartbeat_response> metadata_service::broker_heartbeat(
    msg::broker_heartbeat_request request, uint64_t connection) {
    _impl->note_heartbeat_connection(connection);
    co_return co_await asio::co_spawn(_impl->strand, impl::do_broker_heartbeat(_impl, std::move(request), connection),
                                      asio::use_awaitable);
}

asio::awaitable<msg::alter_partition_response> metadata_service::alter_partition(
    msg::alter_partition_request request, int16_t version) {
    co_return co_await asio::co_spawn(_impl->strand, impl::do_alter_partition(_impl, std::move(request), version),
                                      asio::use_awaitable);
}

asio::awaitable<std::pair<kafka_error, int64_t>> metadata_service::allocate_producer_ids(int32_t broker_id,
                                                                                         int32_t block_size) {
    co_return co_await asio::co_spawn(_impl->strand, impl::do_allocate_producer_ids(_impl, broker_id, block_size),
                                      asio::use_awaitable);
}

}  // namespace strata::metadata
