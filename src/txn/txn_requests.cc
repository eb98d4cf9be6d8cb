// The transaction coordinator's request handlers: each hops to the
// coordinator thread, checks that the id's partition of __transaction_state
// is led and loaded here, applies txn_state's rules and, when they change
// the state, answers after the new state is written.
#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "coordinator_impl.h"
#include "strata/group/group_coordinator.h"

namespace strata::txn {

namespace msg = protocol::messages;
using boost::asio::awaitable;

namespace {

// KIP-588: clients before these versions know INVALID_PRODUCER_EPOCH only.
kafka_error for_version(kafka_error e, int16_t version, int16_t fenced_from) {
    return e == kafka_error::producer_fenced && version < fenced_from ? kafka_error::invalid_producer_epoch : e;
}

struct init_result {
    kafka_error error = kafka_error::none;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    bool needs_producer_id = false;
};

}  // namespace

awaitable<msg::init_producer_id_response> txn_coordinator::init_producer_id(msg::init_producer_id_request request,
                                                                             int16_t version) {
    auto& self = *_impl;
    const std::string id = request.transactional_id.value_or("");
    std::optional<int64_t> allocated;
    init_result result;
    // (The executor is fetched before the call: GCC 12 mishandles a capturing
    // lambda passed in the same call as a co_await.)
    auto requester = co_await boost::asio::this_coro::executor;
    for (int attempt = 0; attempt < 3; ++attempt) {
        auto reply = post_to_coordinator<init_result>(
            self, requester, init_result{kafka_error::not_coordinator},
            [&self, id, request, allocated](responder<init_result> answer) {
                if (auto e = self.id_ready(id); e != kafka_error::none) return answer({e});
                if (self.pending(id)) return answer({kafka_error::concurrent_transactions});
                auto decision = decide_init(self.find(id), id, request.transaction_timeout_ms, self.config.max_timeout_ms,
                                            request.producer_id, request.producer_epoch, self.now_ms());
                if (decision.abort_open) {
                    // The old producer is fenced and its transaction aborted;
                    // the client retries (CONCURRENT_TRANSACTIONS) meanwhile.
                    self.logger->info("{}: fencing producer {} and aborting its open transaction", id,
                                      decision.next->producer_id);
                    self.transition(std::move(*decision.next), [&self, id](kafka_error e) {
                        if (e == kafka_error::none) self.send_markers(id);
                    });
                    return answer({kafka_error::concurrent_transactions});
                }
                if (decision.error != kafka_error::none) return answer({decision.error});
                if (decision.needs_producer_id) {
                    if (!allocated) return answer({kafka_error::none, -1, -1, true});
                    decision.next->producer_id = *allocated;
                }
                auto next = std::move(*decision.next);
                const int64_t pid = next.producer_id;
                const int16_t epoch = next.producer_epoch;
                self.transition(std::move(next), [answer, pid, epoch](kafka_error e) {
                    answer({e, e == kafka_error::none ? pid : -1, e == kafka_error::none ? epoch : int16_t(-1)});
                });
            });
        result = co_await reply.wait();
        if (!result.needs_producer_id) break;
        if (!self.config.allocate_producer_id) {
            result = {kafka_error::coordinator_not_available};
            break;
        }
        auto [error, pid] = co_await self.config.allocate_producer_id();
        if (error != kafka_error::none) {
            result = {error};
            break;
        }
        allocated = pid;
        result = {kafka_error::coordinator_load_in_progress};
    }
    msg::init_producer_id_response response;
    response.error_code = code(for_version(result.error, version, 4));
    response.producer_id = result.producer_id;
    response.producer_epoch = result.producer_epoch;
    co_return response;
}

namespace {

// One transaction's part of AddPartitionsToTxn: the error per partition.
using partition_errors = std::vector<std::pair<txn_partition, kafka_error>>;

// How long AddPartitionsToTxn / AddOffsetsToTxn wait on the coordinator for
// the previous transaction to complete before answering
// CONCURRENT_TRANSACTIONS. Markers normally take milliseconds; the bound
// covers a partition leader that is down (markers retried every 100 ms).
constexpr auto completion_hold = std::chrono::milliseconds(500);

// One try at adding (or, KIP-890, verifying) partitions, on the coordinator
// thread; copied into the waiters when it has to wait.
struct add_attempt {
    txn_coordinator::impl& self;
    std::string id;
    int64_t producer_id;
    int16_t epoch;
    std::vector<txn_partition> wanted;
    bool verify_only;
    responder<partition_errors> answer;
    std::chrono::steady_clock::time_point deadline;
    void operator()() const;
};

awaitable<partition_errors> add_or_verify(txn_coordinator::impl& self, std::string id, int64_t producer_id,
                                          int16_t epoch, std::vector<txn_partition> wanted, bool verify_only,
                                          bool check_topics = true) {
    // Topics that do not exist fail alone; the others are then not attempted.
    auto image = self.partitions.image();
    partition_errors unknown;
    for (const auto& p : wanted) {
        if (!check_topics) break;
        const auto* t = image ? image->topic(p.topic) : nullptr;
        if (!t || p.partition < 0 || size_t(p.partition) >= t->partitions.size())
            unknown.emplace_back(p, kafka_error::unknown_topic_or_partition);
    }
    if (!unknown.empty()) {
        for (const auto& p : wanted)
            if (std::find_if(unknown.begin(), unknown.end(), [&](const auto& u) { return u.first == p; }) ==
                unknown.end())
                unknown.emplace_back(p, kafka_error::operation_not_attempted);
        co_return unknown;
    }
    auto fallback = partition_errors{};
    for (const auto& p : wanted) fallback.emplace_back(p, kafka_error::not_coordinator);
    auto requester = co_await boost::asio::this_coro::executor;
    const auto deadline = std::chrono::steady_clock::now() + completion_hold;
    auto reply = post_to_coordinator<partition_errors>(
        self, requester, fallback,
        [&self, id, producer_id, epoch, wanted, verify_only, deadline](responder<partition_errors> answer) {
            add_attempt{self, id, producer_id, epoch, wanted, verify_only, std::move(answer), deadline}();
        });
    co_return co_await reply.wait();
}

void add_attempt::operator()() const {
    auto all = [wanted = wanted](kafka_error e) {
        partition_errors out;
        for (const auto& p : wanted) out.emplace_back(p, e);
        return out;
    };
    if (auto e = self.id_ready(id); e != kafka_error::none) return answer(all(e));
    // The previous transaction's markers (or a state write) are in
    // flight: hold the request until they are done rather than
    // answer CONCURRENT_TRANSACTIONS, which librdkafka and the Java
    // client retry only after a backoff (20 ms or more), once per
    // back-to-back transaction. Past the deadline, Kafka's answer.
    if (!verify_only && self.completing(id) && std::chrono::steady_clock::now() < deadline)
        return self.wait_for_completion(id, deadline, *this, held_add{producer_id, epoch, wanted, nullptr, deadline});
    if (self.pending(id)) return answer(all(kafka_error::concurrent_transactions));
    const auto* current = self.find(id);
    if (verify_only) {
        partition_errors out;
        for (const auto& p : wanted) out.emplace_back(p, verify_partition(current, producer_id, epoch, p));
        return answer(std::move(out));
    }
    auto decision = decide_add_partitions(current, producer_id, epoch, wanted, self.now_ms());
    if (!decision.next) return answer(all(decision.error));
    self.transition(std::move(*decision.next), [answer = answer, all](kafka_error e) { answer(all(e)); });
}

}  // namespace

awaitable<msg::add_partitions_to_txn_response> txn_coordinator::add_partitions_to_txn(
    msg::add_partitions_to_txn_request request, int16_t version) {
    msg::add_partitions_to_txn_response response;
    auto fill = [version](std::vector<msg::add_partitions_to_txn_response::add_partitions_to_txn_topic_result>& out,
                          const partition_errors& errors) {
        for (const auto& [p, e] : errors) {
            if (out.empty() || out.back().name != p.topic) out.emplace_back().name = p.topic;
            auto& r = out.back().results_by_partition.emplace_back();
            r.partition_index = p.partition;
            r.partition_error_code = code(for_version(e, version, 2));
        }
    };
    auto wanted_of = [](const std::vector<msg::add_partitions_to_txn_request::add_partitions_to_txn_topic>& topics) {
        std::vector<txn_partition> out;
        for (const auto& t : topics)
            for (int32_t p : t.partitions) out.push_back(txn_partition{t.name, p});
        return out;
    };
    if (version < 4) {
        auto errors = co_await add_or_verify(*_impl, request.v3_and_below_transactional_id,
                                             request.v3_and_below_producer_id, request.v3_and_below_producer_epoch,
                                             wanted_of(request.v3_and_below_topics), false);
        fill(response.results_by_topic_v3_and_below, errors);
        co_return response;
    }
    // v4+ (KIP-890): brokers only, batched by transaction, and verify-only.
    for (const auto& txn : request.transactions) {
        auto errors = co_await add_or_verify(*_impl, txn.transactional_id, txn.producer_id, txn.producer_epoch,
                                             wanted_of(txn.topics), txn.verify_only);
        auto& r = response.results_by_transaction.emplace_back();
        r.transactional_id = txn.transactional_id;
        fill(r.topic_results, errors);
    }
    co_return response;
}

awaitable<msg::add_offsets_to_txn_response> txn_coordinator::add_offsets_to_txn(msg::add_offsets_to_txn_request request,
                                                                                int16_t version) {
    // The group's partition of __consumer_offsets joins the transaction, so
    // that its TxnOffsetCommit records get the transaction's marker. Hashed
    // as the group coordinator hashes the group once FindCoordinator has seen
    // the topic whole: over the configured count before the topic exists (as
    // Kafka), else over its count once that is not a part still reaching the
    // image. A group hashed over 2 of 5 partitions had its ABORT marker
    // written to the wrong one and its offsets left pending for good. The
    // wait is milliseconds while the topic is made, and up to 2 s once per
    // broker for a topic made with fewer partitions than configured.
    msg::add_offsets_to_txn_response response;
    bool settled = false;
    int32_t count = _impl->offsets_partition_count(&settled);
    if (!settled) {
        boost::asio::steady_timer wait(co_await boost::asio::this_coro::executor);
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!settled && std::chrono::steady_clock::now() < give_up) {
            wait.expires_after(std::chrono::milliseconds(10));
            co_await wait.async_wait(boost::asio::use_awaitable);
            count = _impl->offsets_partition_count(&settled);
        }
    }
    std::vector<txn_partition> wanted{txn_partition{std::string(group::offsets_topic_name),
                                                    group::partition_for_group(request.group_id, count)}};
    auto errors = co_await add_or_verify(*_impl, request.transactional_id, request.producer_id, request.producer_epoch,
                                         wanted, false, false);
    response.error_code = code(for_version(errors.front().second, version, 2));
    co_return response;
}

namespace {

// One try at EndTxn, on the coordinator thread; copied into a waiter when it
// has to wait behind a held AddPartitionsToTxn / AddOffsetsToTxn.
struct end_attempt {
    txn_coordinator::impl& self;
    std::string id;
    msg::end_txn_request request;
    responder<kafka_error> answer;
    void operator()() const;
};

void end_attempt::operator()() const {
    if (auto e = self.id_ready(id); e != kafka_error::none) return answer(e);
    // Kafka handles a connection's requests one at a time, so an
    // AddPartitionsToTxn sent before this EndTxn has been decided (and
    // answered) before it. Here a connection's requests run concurrently
    // and an AddPartitionsToTxn may be held while the previous transaction
    // completes: decided first, EndTxn(ABORT) met the previous PrepareCommit
    // (INVALID_TXN_STATE, fatal for the client) and the held request then
    // opened a transaction the client had abandoned (chaos seed 524: a
    // librdkafka producer aborting right after a commit whose markers were
    // slow). So the EndTxn waits behind the id's held requests, and is
    // decided once they are (the deadline is theirs, plus a little, so that
    // their timers run first).
    if (auto until = self.held_adds_deadline(id))
        return self.wait_for_completion(id, *until + std::chrono::milliseconds(1), *this);
    if (self.pending(id)) return answer(kafka_error::concurrent_transactions);
    auto decision =
        decide_end(self.find(id), request.producer_id, request.producer_epoch, request.committed, self.now_ms());
    if (!decision.next) return answer(decision.error);
    // Answered once PrepareCommit/PrepareAbort is written: from then
    // on the outcome is decided; the markers follow.
    self.transition(std::move(*decision.next), [&self = self, id = id, answer = answer](kafka_error e) {
        answer(e);
        if (e == kafka_error::none) self.send_markers(id);
    });
}

}  // namespace

awaitable<msg::end_txn_response> txn_coordinator::end_txn(msg::end_txn_request request, int16_t version) {
    auto& self = *_impl;
    const std::string id = request.transactional_id;
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<kafka_error>(self, requester, kafka_error::not_coordinator,
                                                  [&self, id, request](responder<kafka_error> answer) {
                                                      end_attempt{self, id, request, std::move(answer)}();
                                                  });
    const auto error = co_await reply.wait();
    msg::end_txn_response response;
    response.error_code = code(for_version(error, version, 2));
    response.producer_id = request.producer_id;
    response.producer_epoch = request.producer_epoch;
    co_return response;
}

awaitable<msg::describe_transactions_response> txn_coordinator::describe_transactions(
    msg::describe_transactions_request request, int16_t version) {
    auto& self = *_impl;
    msg::describe_transactions_response fallback;
    for (const auto& id : request.transactional_ids) {
        auto& s = fallback.transaction_states.emplace_back();
        s.transactional_id = id;
        s.error_code = code(kafka_error::not_coordinator);
    }
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::describe_transactions_response>(
        self, requester, fallback, [&self, request](responder<msg::describe_transactions_response> answer) {
            msg::describe_transactions_response out;
            for (const auto& id : request.transactional_ids) {
                auto& s = out.transaction_states.emplace_back();
                s.transactional_id = id;
                s.producer_id = -1;
                s.producer_epoch = -1;
                s.transaction_start_time_ms = -1;
                auto e = id.empty() ? kafka_error::transactional_id_not_found : self.id_ready(id);
                const auto* m = e == kafka_error::none ? self.find(id) : nullptr;
                if (e == kafka_error::none && !m) e = kafka_error::transactional_id_not_found;
                s.error_code = code(e);
                if (!m) continue;
                s.transaction_state = to_string(m->state);
                s.transaction_timeout_ms = m->timeout_ms;
                s.transaction_start_time_ms = m->start_ms;
                s.producer_id = m->producer_id;
                s.producer_epoch = m->producer_epoch;
                for (const auto& p : m->partitions) {
                    if (s.topics.empty() || s.topics.back().topic != p.topic) s.topics.emplace_back().topic = p.topic;
                    s.topics.back().partitions.push_back(p.partition);
                }
            }
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

awaitable<msg::list_transactions_response> txn_coordinator::list_transactions(msg::list_transactions_request request,
                                                                              int16_t version) {
    auto& self = *_impl;
    msg::list_transactions_response fallback;
    fallback.error_code = code(kafka_error::coordinator_not_available);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::list_transactions_response>(
        self, requester, fallback, [&self, request, version](responder<msg::list_transactions_response> answer) {
            msg::list_transactions_response out;
            std::set<txn_state> states;
            for (const auto& name : request.state_filters) {
                bool known = false;
                for (int8_t i = 0; i <= 7; ++i)
                    if (name == to_string(static_cast<txn_state>(i))) {
                        states.insert(static_cast<txn_state>(i));
                        known = true;
                    }
                if (!known) out.unknown_state_filters.push_back(name);
            }
            // Kafka: an unknown state filter matches nothing.
            const bool match_none = !request.state_filters.empty() && states.empty();
            const std::set<int64_t> producers(request.producer_id_filters.begin(), request.producer_id_filters.end());
            const int64_t now = self.now_ms();
            for (const auto& [p, shard] : self.shards)
                if (!shard.loaded) out.error_code = code(kafka_error::coordinator_load_in_progress);
            for (const auto& [id, e] : self.txns) {
                if (!e.meta || match_none) continue;
                const auto& m = *e.meta;
                if (!states.empty() && !states.contains(m.state)) continue;
                if (!producers.empty() && !producers.contains(m.producer_id)) continue;
                // v1 (KIP-994): only transactions running at least this long.
                if (version >= 1 && request.duration_filter >= 0 &&
                    (m.state != txn_state::ongoing || now - m.start_ms < request.duration_filter))
                    continue;
                auto& s = out.transaction_states.emplace_back();
                s.transactional_id = id;
                s.producer_id = m.producer_id;
                s.transaction_state = to_string(m.state);
            }
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

void txn_coordinator::verify_partition(std::string transactional_id, int64_t producer_id, int16_t epoch,
                                       std::string topic, int32_t partition, std::function<void(kafka_error)> done) {
    auto self = _impl;
    if (self->closed.load(std::memory_order_acquire)) return done(kafka_error::coordinator_not_available);
    // Answered exactly once, even if the coordinator stops with the work queued.
    struct once {
        explicit once(std::function<void(kafka_error)> f) : fn(std::move(f)) {}
        ~once() {
            if (fn) fn(kafka_error::coordinator_not_available);
        }
        void operator()(kafka_error e) {
            if (auto f = std::exchange(fn, nullptr)) f(e);
        }
        std::function<void(kafka_error)> fn;
    };
    auto guard = std::make_shared<once>(std::move(done));
    done = [guard](kafka_error e) { (*guard)(e); };
    boost::asio::post(self->io, [self, id = std::move(transactional_id), producer_id, epoch, topic = std::move(topic),
                                 partition, done = std::move(done)]() mutable {
        const auto ready = self->id_ready(id);
        if (ready == kafka_error::not_coordinator || ready == kafka_error::coordinator_not_available)
            return self->verify_remote(std::move(id), producer_id, epoch, std::move(topic), partition, std::move(done));
        if (ready != kafka_error::none) return done(ready);
        if (self->pending(id)) return done(kafka_error::concurrent_transactions);
        done(txn::verify_partition(self->find(id), producer_id, epoch, txn_partition{std::move(topic), partition}));
    });
}

}  // namespace strata::txn
