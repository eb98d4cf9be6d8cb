// The Asio shell around raft_core; see include/strata/raft/node.h for what
// it guarantees and src/raft/README.md for how it fits.
#include "strata/raft/node.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <future>
#include <list>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "strata/common/log.h"
#include "strata/net/client_connection.h"
#include "strata/raft/file_log.h"
#include "strata/raft/kafka_wire.h"

namespace strata::raft {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

namespace {

const auto& logger() {
    static const auto instance = log::get("raft");
    return instance;
}

millis now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now().time_since_epoch()).count();
}

clock_type::time_point to_time_point(millis at) {
    return clock_type::time_point(std::chrono::milliseconds(at));
}

// A one-shot wake-up for a coroutine on the node's executor: a timer that
// expires at a deadline (or never) and is cancelled to wake it early.
struct signal {
    explicit signal(const asio::any_io_executor& executor, clock_type::time_point deadline = clock_type::time_point::max())
        : timer(executor, deadline) {}
    asio::steady_timer timer;
    bool fired = false;
    void fire() {
        fired = true;
        timer.cancel();
    }
    asio::awaitable<void> wait() {
        if (fired) co_return;
        boost::system::error_code ignored;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
};

// A broken invariant or a failed write of durable state: the node cannot go
// on safely.
[[noreturn]] void fatal(const char* where, const std::exception& e) {
    logger()->critical("raft {}: {}; aborting", where, e.what());
    std::abort();
}

// The answer to a request that arrives while the node stops.
raft::response stopping_response(const raft::request& request) {
    constexpr auto error = kafka_error::broker_not_available;
    return std::visit(
        [](const auto& r) -> raft::response {
            using R = std::decay_t<decltype(r)>;
            if constexpr (std::is_same_v<R, vote_request>) return vote_response{error, std::nullopt, epoch{}, false};
            else if constexpr (std::is_same_v<R, begin_quorum_epoch_request>)
                return begin_quorum_epoch_response{error, std::nullopt, epoch{}};
            else if constexpr (std::is_same_v<R, end_quorum_epoch_request>)
                return end_quorum_epoch_response{error, std::nullopt, epoch{}};
            else if constexpr (std::is_same_v<R, fetch_request>) { fetch_response f; f.error = error; return f; }
            else if constexpr (std::is_same_v<R, fetch_snapshot_request>) { fetch_snapshot_response f; f.error = error; return f; }
            else { describe_quorum_response d; d.error = error; return d; }
        },
        request);
}

template <typename Response>
struct kafka_response_of;
template <>
struct kafka_response_of<vote_response> { using type = protocol::messages::vote_response; };
template <>
struct kafka_response_of<begin_quorum_epoch_response> { using type = protocol::messages::begin_quorum_epoch_response; };
template <>
struct kafka_response_of<end_quorum_epoch_response> { using type = protocol::messages::end_quorum_epoch_response; };
template <>
struct kafka_response_of<fetch_response> { using type = protocol::messages::fetch_response; };
template <>
struct kafka_response_of<fetch_snapshot_response> { using type = protocol::messages::fetch_snapshot_response; };
template <>
struct kafka_response_of<describe_quorum_response> { using type = protocol::messages::describe_quorum_response; };

// Runs `task` on `executor` and resumes the caller on its own executor with
// the result. (Boost 1.74's co_spawn needs a default-constructible result,
// which outcome's result is not: it travels in an optional.)
template <typename T>
asio::awaitable<T> run_on(const asio::any_io_executor& executor, asio::awaitable<T> task) {
    auto wrapped = [](asio::awaitable<T> inner) -> asio::awaitable<std::optional<T>> { co_return co_await std::move(inner); };
    auto result = co_await asio::co_spawn(executor, wrapped(std::move(task)), asio::use_awaitable);
    co_return std::move(*result);
}

}  // namespace

struct node::impl : std::enable_shared_from_this<node::impl> {
    // Something to do once the actions queued before it are carried out.
    using reply = std::function<void()>;
    using work = std::variant<action, reply>;

    struct proposal {
        offset last;
        epoch ep;
        std::shared_ptr<signal> done;
        std::optional<node_result<offset>> result;
    };

    impl(asio::any_io_executor ex, node_config cfg) : executor(ex), config(std::move(cfg)), timer(ex) {}

    asio::any_io_executor executor;
    node_config config;

    std::unique_ptr<file_log> log;
    std::unique_ptr<quorum_state_file> state_file;
    std::unique_ptr<raft_core> core;
    std::map<node_id, std::shared_ptr<net::client_connection>> peers;

    std::function<void(const std::vector<log_entry>&)> commit_listener;
    std::function<void(const snapshot_id&, const std::string&)> snapshot_listener;
    std::function<void(epoch, std::optional<node_id>)> leader_listener;

    // Actions and replies waiting for the next flush.
    std::deque<work> queue;
    bool flush_posted = false;
    std::optional<quorum_state> unwritten_state;
    bool log_dirty = false;

    asio::steady_timer timer;
    std::list<std::shared_ptr<signal>> fetch_waiters;
    std::list<std::shared_ptr<proposal>> proposals;
    offset notified_end{-1};
    offset notified_hw{-1};
    epoch notified_epoch{-1};
    // The HW last answered to each replica: a Fetch is held only when its
    // replica already knows the HW it would be answered (see should_hold).
    std::map<node_id, offset> hw_answered;

    size_t tasks = 0;
    std::shared_ptr<signal> tasks_done;
    bool started = false;
    bool stopping = false;
    std::atomic<bool> stopped = false;  // read by stop() from another thread

    epoch leader_start_epoch{-1};
    offset leader_start{-1};
    mutable std::mutex status_mutex;
    node_status published;

    // ---- tasks ------------------------------------------------------------------

    // Runs `task` on the executor as one of the node's tasks (stop() waits
    // for them); an exception from it is fatal.
    void spawn(asio::awaitable<void> task, const char* what) {
        ++tasks;
        asio::co_spawn(executor, std::move(task), [self = shared_from_this(), what](std::exception_ptr error) {
            if (error) {
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    fatal(what, e);
                }
            }
            if (--self->tasks == 0 && self->tasks_done) self->tasks_done->fire();
        });
    }

    // ---- after every input --------------------------------------------------------

    void after_input() {
        for (auto& a : core->take_actions()) {
            if (auto* p = std::get_if<persist_quorum_state>(&a)) {
                unwritten_state = p->state;
            } else if (std::holds_alternative<persist_log>(a)) {
                log_dirty = true;
            } else {
                queue.emplace_back(std::move(a));
            }
        }
        post_flush();
        publish_status();
        wake_fetch_waiters_if_moved();
        rearm_timer();
    }

    void post_flush() {
        if (flush_posted) return;
        flush_posted = true;
        // Posted, so that inputs already waiting on the executor are handled
        // first and their actions share this flush's fsync.
        asio::post(executor, [self = shared_from_this()] {
            self->flush_posted = false;
            self->flush();
        });
    }

    void flush() {
        try {
            if (unwritten_state) {
                state_file->write(*unwritten_state);
                unwritten_state.reset();
            }
            if (log_dirty) {
                log->persist();
                log_dirty = false;
            }
        } catch (const std::exception& e) {
            fatal("persist", e);
        }
        // Everything queued now depends only on what was just made durable;
        // work queued by what runs below waits for the next flush.
        auto batch = std::move(queue);
        queue.clear();
        for (auto& item : batch) {
            if (auto* r = std::get_if<reply>(&item)) {
                (*r)();
            } else {
                carry_out(std::get<action>(std::move(item)));
            }
        }
    }

    void carry_out(action a) {
        std::visit(
            [&](auto&& act) {
                using A = std::decay_t<decltype(act)>;
                if constexpr (std::is_same_v<A, send_request>) {
                    send(act.to, std::move(act.message));
                } else if constexpr (std::is_same_v<A, apply_entries>) {
                    if (!act.entries.empty()) complete_proposals(act.entries.back().off);
                    if (commit_listener) commit_listener(act.entries);
                } else if constexpr (std::is_same_v<A, apply_snapshot>) {
                    if (snapshot_listener) snapshot_listener(act.id, act.data);
                } else if constexpr (std::is_same_v<A, leader_changed>) {
                    logger()->info("node {}: epoch {}: leader {}", config.raft.self, act.ep,
                                   act.leader ? fmt::format("{}", *act.leader) : std::string("unknown"));
                    fail_proposals_of_other_epochs(act);
                    if (leader_listener) leader_listener(act.ep, act.leader);
                }
            },
            std::move(a));
    }

    // Runs `fn` once every action queued so far is carried out (so after the
    // fsync that covers them).
    asio::awaitable<void> after_flush() {
        auto done = std::make_shared<signal>(executor);
        queue.emplace_back(reply([done] { done->fire(); }));
        post_flush();
        co_await done->wait();
    }

    void publish_status() {
        // The input that made this node leader appended its leader-change
        // record and nothing after it: the log end is the leader's start.
        if (core->role() != raft_role::leader) {
            leader_start = offset{-1};
        } else if (leader_start_epoch != core->current_epoch() || leader_start < offset{0}) {
            leader_start_epoch = core->current_epoch();
            leader_start = core->log().end_offset();
        }
        std::lock_guard lock(status_mutex);
        published = node_status{core->role(), core->current_epoch(), core->leader(), core->high_watermark(),
                                core->log().end_offset(), leader_start};
    }

    // ---- time -------------------------------------------------------------------

    void rearm_timer() {
        const auto deadline = to_time_point(core->next_deadline());
        if (deadline < timer.expiry()) timer.cancel();  // the timer loop re-reads the deadline
    }

    asio::awaitable<void> timer_loop() {
        while (!stopping) {
            timer.expires_at(to_time_point(core->next_deadline()));
            boost::system::error_code ec;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (stopping) break;
            if (!ec) {
                core->tick(now_ms());
                after_input();
            }
        }
    }

    // ---- outbound requests ------------------------------------------------------------

    template <typename Response, typename Request>
    asio::awaitable<void> call(node_id to, Request request) {
        auto found = peers.find(to);
        if (found == peers.end()) co_return;
        auto client = found->second;
        auto kafka = [&] {
            if constexpr (std::is_same_v<Request, describe_quorum_request>) return wire::to_kafka(request);
            else return wire::to_kafka(request, config.cluster_id);
        }();
        using kafka_response = typename kafka_response_of<Response>::type;
        auto timeout = std::chrono::milliseconds(config.raft.request_timeout);
        int16_t version = 0;
        if constexpr (std::is_same_v<Request, vote_request>) version = wire::vote_version;
        else if constexpr (std::is_same_v<Request, begin_quorum_epoch_request>) version = wire::begin_quorum_epoch_version;
        else if constexpr (std::is_same_v<Request, end_quorum_epoch_request>) version = wire::end_quorum_epoch_version;
        else if constexpr (std::is_same_v<Request, fetch_snapshot_request>) version = wire::fetch_snapshot_version;
        else if constexpr (std::is_same_v<Request, describe_quorum_request>) version = wire::describe_quorum_version;
        if constexpr (std::is_same_v<Request, fetch_request>) {
            version = wire::fetch_version;
            timeout += std::chrono::milliseconds(request.max_wait_ms);  // the leader may hold it that long
        }
        auto answer = co_await client->template call<kafka_response>(kafka, version, timeout);
        if (stopping) co_return;
        if (!answer) {
            logger()->trace("node {}: request to {} failed: {}", config.raft.self, to, net::to_string(answer.error()));
            if constexpr (std::is_same_v<Request, fetch_request>) {
                if (answer.error() == net::client_error::disconnected) {
                    core->leader_unreachable(to, now_ms());
                    after_input();
                }
            }
            co_return;  // the core asks again after its request timeout
        }
        auto translated = wire::from_kafka(answer.value());
        if (!translated) {
            logger()->warn("node {}: {} answered with error {}", config.raft.self, to, translated.error());
            co_return;
        }
        core->handle_response(to, raft::request(std::move(request)), raft::response(std::move(translated).value()),
                              now_ms());
        after_input();
    }

    void send(node_id to, raft::request message) {
        if (stopping) return;
        std::visit(
            [&](auto&& request) {
                using R = std::decay_t<decltype(request)>;
                if constexpr (std::is_same_v<R, vote_request>) spawn(call<vote_response>(to, std::move(request)), "vote");
                else if constexpr (std::is_same_v<R, begin_quorum_epoch_request>)
                    spawn(call<begin_quorum_epoch_response>(to, std::move(request)), "begin quorum epoch");
                else if constexpr (std::is_same_v<R, end_quorum_epoch_request>)
                    spawn(call<end_quorum_epoch_response>(to, std::move(request)), "end quorum epoch");
                else if constexpr (std::is_same_v<R, fetch_request>)
                    spawn(call<fetch_response>(to, std::move(request)), "fetch");
                else if constexpr (std::is_same_v<R, fetch_snapshot_request>)
                    spawn(call<fetch_snapshot_response>(to, std::move(request)), "fetch snapshot");
                else
                    spawn(call<describe_quorum_response>(to, std::move(request)), "describe quorum");
            },
            std::move(message));
    }

    // ---- inbound requests ---------------------------------------------------------

    // A caught-up follower's Fetch that found nothing new: held until
    // something changes or its MaxWaitMs passes. Nothing new includes the
    // HW: a replica that has not been answered the current HW gets it at
    // once. Otherwise the second follower to acknowledge an entry, whose
    // Fetch arrives just after the first one moved the HW, would learn of
    // the commit only at its next wake-up (up to MaxWaitMs later), and a
    // metadata change would reach that broker hundreds of milliseconds late
    // (what KIP-1166 fixes in Kafka by sending the follower's HW).
    bool should_hold(node_id from, const fetch_request& request, const fetch_response& response,
                     offset hw_before) const {
        const auto answered = hw_answered.find(from);
        const bool knows_hw = answered != hw_answered.end() && answered->second >= response.high_watermark;
        return !stopping && request.max_wait_ms > 0 && core->role() == raft_role::leader &&
               response.error == kafka_error::none && response.records.empty() && !response.diverging_epoch &&
               !response.snapshot && response.high_watermark == hw_before && knows_hw &&
               request.fetch_offset >= core->log().end_offset();
    }

    void wake_fetch_waiters_if_moved() {
        const offset end = core->log().end_offset();
        const offset hw = core->high_watermark();
        const epoch ep = core->current_epoch();
        if (end == notified_end && hw == notified_hw && ep == notified_epoch) return;
        notified_end = end;
        notified_hw = hw;
        notified_epoch = ep;
        wake_fetch_waiters();
    }

    void wake_fetch_waiters() {
        auto waiters = std::move(fetch_waiters);
        fetch_waiters.clear();
        for (auto& w : waiters) w->fire();
    }

    asio::awaitable<raft::response> handle_fetch(node_id from, const fetch_request& request) {
        const auto deadline = clock_type::now() + std::chrono::milliseconds(request.max_wait_ms);
        for (;;) {
            const offset hw_before = core->high_watermark();
            auto response = core->handle_request(from, request, now_ms());
            after_input();
            auto& fetched = std::get<fetch_response>(response);
            if (!should_hold(from, request, fetched, hw_before) || clock_type::now() >= deadline) {
                if (fetched.error == kafka_error::none) hw_answered[from] = fetched.high_watermark;
                co_return response;
            }
            auto waiter = std::make_shared<signal>(executor, deadline);
            fetch_waiters.push_back(waiter);
            co_await waiter->wait();
            fetch_waiters.remove(waiter);
            if (stopping) co_return response;  // an empty answer at the HW this replica knows
        }
    }

    asio::awaitable<raft::response> handle(node_id from, raft::request request) {
        if (stopping || !started) co_return stopping_response(request);
        ++tasks;
        raft::response response;
        try {
            if (auto* fetch = std::get_if<fetch_request>(&request)) {
                response = co_await handle_fetch(from, *fetch);
            } else {
                response = core->handle_request(from, request, now_ms());
                after_input();
            }
            // The answer may promise what the core just decided (a vote, an
            // acknowledged offset): it leaves only once that is durable.
            co_await after_flush();
        } catch (const std::exception& e) {
            fatal("request", e);
        }
        if (--tasks == 0 && tasks_done) tasks_done->fire();
        co_return response;
    }

    // ---- proposals --------------------------------------------------------------

    void complete_proposals(offset committed_through) {
        for (auto it = proposals.begin(); it != proposals.end();) {
            if ((*it)->last <= committed_through) {
                (*it)->result = (*it)->last;
                (*it)->done->fire();
                it = proposals.erase(it);
            } else {
                ++it;
            }
        }
    }

    void fail_proposals_of_other_epochs(const leader_changed& change) {
        for (auto it = proposals.begin(); it != proposals.end();) {
            if ((*it)->ep != change.ep || change.leader != config.raft.self) {
                (*it)->result = kafka_error::not_controller;
                (*it)->done->fire();
                it = proposals.erase(it);
            } else {
                ++it;
            }
        }
    }

    asio::awaitable<node_result<offset>> propose(std::vector<std::string> records, std::chrono::milliseconds timeout) {
        if (records.empty()) co_return kafka_error::invalid_request;
        if (stopping || !started || core->role() != raft_role::leader) co_return kafka_error::not_controller;
        offset last{-1};
        for (auto& record : records) {
            auto appended = core->propose(std::move(record), now_ms());
            if (!appended) co_return to_kafka_error(appended.error());
            last = appended.value();
        }
        auto p = std::make_shared<proposal>(
            proposal{last, core->current_epoch(), std::make_shared<signal>(executor, clock_type::now() + timeout), {}});
        proposals.push_back(p);
        after_input();
        co_await p->done->wait();
        if (p->result) co_return *p->result;
        proposals.remove(p);
        co_return kafka_error::request_timed_out;
    }

    // ---- life cycle ---------------------------------------------------------------

    void start_on_executor(quorum_state persisted) {
        core = std::make_unique<raft_core>(config.raft, *log, persisted, now_ms());
        started = true;
        after_input();
        spawn(timer_loop(), "timer");
    }

    asio::awaitable<void> stop_on_executor() {
        stopping = true;
        timer.cancel();
        wake_fetch_waiters();
        for (auto& p : proposals) {
            p->result = kafka_error::not_controller;
            p->done->fire();
        }
        proposals.clear();
        for (auto& [id, client] : peers) client->close();
        for (auto& [id, client] : peers) co_await client->stopped();
        if (tasks > 0) {
            tasks_done = std::make_shared<signal>(executor);
            co_await tasks_done->wait();
        }
        // What the core decided last is made durable before the node goes.
        if (core) flush();
        stopped = true;
    }
};

node::node(asio::any_io_executor executor, node_config config)
    : _impl(std::make_shared<impl>(std::move(executor), std::move(config))) {}

node::~node() { stop(); }

void node::on_commit(std::function<void(const std::vector<log_entry>&)> listener) {
    _impl->commit_listener = std::move(listener);
}
void node::on_snapshot(std::function<void(const snapshot_id&, const std::string&)> listener) {
    _impl->snapshot_listener = std::move(listener);
}
void node::on_leader_change(std::function<void(epoch, std::optional<node_id>)> listener) {
    _impl->leader_listener = std::move(listener);
}

void node::start() {
    auto& s = *_impl;
    s.log = std::make_unique<file_log>(s.config.directory);
    s.state_file = std::make_unique<quorum_state_file>(s.config.directory);
    const quorum_state persisted = s.state_file->read();
    for (const auto& peer : s.config.peers) {
        if (peer.id == s.config.raft.self) continue;
        net::client_options options;
        options.host = peer.host;
        options.port = peer.port;
        options.client_id = fmt::format("strata-raft-{}", s.config.raft.self);
        s.config.security.apply_to(options);
        options.connect_timeout = std::chrono::milliseconds(s.config.raft.request_timeout);
        options.reconnect_backoff = std::chrono::milliseconds(10);
        options.reconnect_backoff_max = std::chrono::milliseconds(std::max<millis>(10, s.config.raft.request_timeout));
        s.peers[peer.id] = net::client_connection::create(s.executor, options);
    }
    logger()->info("node {}: starting raft: voters {}, epoch {}, voted for {}, leader {}", s.config.raft.self,
                   fmt::join(s.config.raft.voters, ","), persisted.current_epoch,
                   persisted.voted_for.value_or(node_id{-1}), persisted.leader.value_or(node_id{-1}));
    asio::post(s.executor, [self = _impl, persisted] {
        try {
            self->start_on_executor(persisted);
        } catch (const std::exception& e) {
            fatal("start", e);
        }
    });
}

void node::stop() {
    auto self = _impl;
    // Never started, or stopped already (its executor may not run any more).
    if (!self->log || self->stopped) return;
    std::promise<void> done;
    auto finished = done.get_future();
    asio::co_spawn(
        self->executor,
        [self]() -> asio::awaitable<void> {
            if (!self->stopping) co_await self->stop_on_executor();
        },
        [&done](std::exception_ptr) { done.set_value(); });
    finished.wait();
}

asio::awaitable<raft::response> node::handle(node_id from, raft::request request) {
    auto self = _impl;
    co_return co_await asio::co_spawn(self->executor, self->handle(from, std::move(request)), asio::use_awaitable);
}

asio::awaitable<node_result<offset>> node::propose(std::vector<std::string> records, std::chrono::milliseconds timeout) {
    auto self = _impl;
    co_return co_await run_on(self->executor, self->propose(std::move(records), timeout));
}

asio::awaitable<node_result<void>> node::create_snapshot(snapshot_id id, std::string data) {
    auto self = _impl;
    auto task = [](std::shared_ptr<impl> self, snapshot_id id, std::string data) -> asio::awaitable<node_result<void>> {
        if (self->stopping || !self->started) co_return kafka_error::broker_not_available;
        auto created = self->core->snapshot_created(id, std::move(data));
        self->after_input();
        if (!created) co_return to_kafka_error(created.error());
        co_await self->after_flush();
        co_return boost::outcome_v2::success();
    };
    co_return co_await run_on(self->executor, task(self, id, std::move(data)));
}

asio::awaitable<void> node::resign() {
    auto self = _impl;
    co_await asio::co_spawn(
        self->executor,
        [self]() -> asio::awaitable<void> {
            if (self->stopping || !self->started) co_return;
            self->core->resign(now_ms());
            self->after_input();
            co_await self->after_flush();
        },
        asio::use_awaitable);
}

asio::awaitable<describe_quorum_response> node::describe_quorum() {
    auto answer = co_await handle(node_id{-1}, describe_quorum_request{});
    co_return std::get<describe_quorum_response>(answer);
}

node_status node::status() const {
    std::lock_guard lock(_impl->status_mutex);
    return _impl->published;
}

const std::optional<std::string>& node::cluster_id() const { return _impl->config.cluster_id; }
node_id node::id() const { return _impl->config.raft.self; }

}  // namespace strata::raft
