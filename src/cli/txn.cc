// strata txn list | describe, strata producers describe: the views of
// Kafka's kafka-transactions.sh (list, describe, describe-producers) over
// ListTransactions (every broker: each answers for the transactional ids it
// coordinates), DescribeTransactions (at the id's transaction coordinator)
// and DescribeProducers (at each partition's leader, or a chosen broker).
#include <chrono>
#include <iostream>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "group_ops.h"
#include "ops.h"
#include "strata/protocol/messages/describe_producers_request.h"
#include "strata/protocol/messages/describe_producers_response.h"
#include "strata/protocol/messages/describe_transactions_request.h"
#include "strata/protocol/messages/describe_transactions_response.h"
#include "strata/protocol/messages/find_coordinator_request.h"
#include "strata/protocol/messages/find_coordinator_response.h"
#include "strata/protocol/messages/list_transactions_request.h"
#include "strata/protocol/messages/list_transactions_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

// The transaction coordinator of `id` (FindCoordinator, key type TRANSACTION),
// asked of the bootstrap broker until it names one or --timeout passes (the
// first lookup creates __transaction_state). The node must be in the broker
// map: metadata() is called first.
int32_t transaction_coordinator(kafka_client& client, const std::string& id) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(client.options().timeout_ms);
    for (;;) {
        pm::find_coordinator_request request;
        const int16_t version = client.version_of<pm::find_coordinator_request>(kafka_client::bootstrap_node);
        if (version < 1) throw cli_error("the broker's FindCoordinator v0 cannot look up transaction coordinators");
        request.key_type = 1;  // TRANSACTION
        if (version >= 4) {
            request.coordinator_keys = {id};
        } else {
            request.key = id;
        }
        auto response = client.call<pm::find_coordinator_response>(kafka_client::bootstrap_node, request);
        int16_t error = response.error_code;
        std::optional<std::string> message = response.error_message;
        int32_t node = response.node_id;
        if (version >= 4) {
            if (response.coordinators.empty()) throw cli_error("FindCoordinator answered with no coordinator");
            error = response.coordinators.front().error_code;
            message = response.coordinators.front().error_message;
            node = response.coordinators.front().node_id;
        }
        if (error == 0) return node;
        const bool retriable = error == kafka_error_code(kafka_error::coordinator_not_available) ||
                               error == kafka_error_code(kafka_error::coordinator_load_in_progress) ||
                               error == kafka_error_code(kafka_error::not_coordinator);
        if (!retriable || std::chrono::steady_clock::now() >= deadline)
            throw_kafka_error(error, fmt::format("finding the coordinator of transactional id '{}'", id), message);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

// TransactionState.java's names, which ListTransactions filters by.
const std::vector<std::string> transaction_states{"Empty",          "Ongoing",       "PrepareCommit",
                                                  "PrepareAbort",   "CompleteCommit", "CompleteAbort",
                                                  "PrepareEpochFence", "Dead"};

struct list_args {
    std::vector<std::string> states;
    std::vector<int64_t> producer_ids;
    std::string duration;  // ms, or an ISO 8601 duration
};

int64_t parse_duration_filter(const std::string& text) {
    if (text.empty()) return -1;
    if (text.find_first_not_of("0123456789") == std::string::npos) {
        try {
            return std::stoll(text);
        } catch (const std::out_of_range&) {
            throw_usage(fmt::format("--duration-filter {} is too large", text));
        }
    }
    const int64_t ms = parse_duration_ms(text);
    if (ms < 0) throw_usage(fmt::format("--duration-filter {} is negative", text));
    return ms;
}

void txn_list(const global_options& g, const list_args& a) {
    const int64_t duration = parse_duration_filter(a.duration);
    kafka_client client(g);
    client.metadata(std::vector<std::string>{});
    client.version_of<pm::list_transactions_request>(kafka_client::bootstrap_node);  // a clear error if unserved
    struct listed {
        int32_t coordinator;
        pm::list_transactions_response::transaction_state_type state;
    };
    std::map<std::string, listed> found;
    for (int32_t broker : client.broker_ids()) {
        if (duration >= 0 && client.version_of<pm::list_transactions_request>(broker) < 1)
            throw cli_error(fmt::format("broker {} serves ListTransactions v0 only, which has no duration filter", broker),
                            "drop --duration-filter");
        // A broker still loading __transaction_state answers COORDINATOR_LOAD_IN_PROGRESS: ask again.
        retry_while_coordinator_busy(client, {}, [&] {
            pm::list_transactions_request request;
            request.state_filters = a.states;
            request.producer_id_filters = a.producer_ids;
            request.duration_filter = duration;
            auto response = client.call<pm::list_transactions_response>(broker, request);
            if (!response.unknown_state_filters.empty()) {
                std::string names;
                for (const auto& s : response.unknown_state_filters) names += (names.empty() ? "" : ", ") + s;
                std::string known;
                for (const auto& s : transaction_states) known += (known.empty() ? "" : ", ") + s;
                throw_usage(fmt::format("unknown transaction state: {}", names), "states are " + known);
            }
            if (response.error_code != 0)
                throw_kafka_error(response.error_code, fmt::format("listing transactions on broker {}", broker));
            for (const auto& t : response.transaction_states) found[t.transactional_id] = listed{broker, t};
        });
    }
    json doc = json::array();
    table t{{"TRANSACTIONAL-ID", "COORDINATOR", "PRODUCER-ID", "STATE"}, {}};
    for (const auto& [id, l] : found) {
        doc.push_back({{"transactional_id", id},
                       {"coordinator", l.coordinator},
                       {"producer_id", l.state.producer_id},
                       {"state", l.state.transaction_state}});
        t.rows.push_back(
            {id, std::to_string(l.coordinator), std::to_string(l.state.producer_id), l.state.transaction_state});
    }
    print_result(g, doc, t);
}

void txn_describe(const global_options& g, const std::string& id) {
    kafka_client client(g);
    pm::describe_transactions_response::transaction_state_type state;
    int32_t coordinator = -1;
    client.metadata(std::vector<std::string>{});  // every broker's address, the coordinator's among them
    retry_while_coordinator_busy(client, {}, [&] {
        coordinator = transaction_coordinator(client, id);  // again after NOT_COORDINATOR: it moved
        pm::describe_transactions_request request;
        request.transactional_ids = {id};
        auto response = client.call<pm::describe_transactions_response>(coordinator, request);
        if (response.transaction_states.size() != 1)
            throw cli_error(fmt::format("DescribeTransactions answered {} transactional ids for one",
                                        response.transaction_states.size()));
        state = response.transaction_states.front();
        if (state.error_code != 0)
            throw_kafka_error(state.error_code, fmt::format("describing transactional id '{}'", id));
    });
    // As kafka-transactions.sh: the duration of the open transaction, if one is.
    const bool open = state.transaction_start_time_ms >= 0;
    const int64_t duration = open ? std::max<int64_t>(0, now_ms() - state.transaction_start_time_ms) : -1;
    json partitions = json::array();
    std::string partition_text;
    for (const auto& topic : state.topics)
        for (int32_t p : topic.partitions) {
            partitions.push_back({{"topic", topic.topic}, {"partition", p}});
            partition_text += (partition_text.empty() ? "" : ",") + fmt::format("{}-{}", topic.topic, p);
        }
    json doc{{"transactional_id", id},
             {"coordinator", coordinator},
             {"producer_id", state.producer_id},
             {"producer_epoch", state.producer_epoch},
             {"state", state.transaction_state},
             {"transaction_timeout_ms", state.transaction_timeout_ms},
             {"transaction_start_time_ms", open ? json(state.transaction_start_time_ms) : json(nullptr)},
             {"transaction_duration_ms", open ? json(duration) : json(nullptr)},
             {"partitions", partitions}};
    table t{{"FIELD", "VALUE"},
            {{"TransactionalId", id},
             {"Coordinator", std::to_string(coordinator)},
             {"ProducerId", std::to_string(state.producer_id)},
             {"ProducerEpoch", std::to_string(state.producer_epoch)},
             {"TransactionState", state.transaction_state},
             {"TransactionTimeoutMs", std::to_string(state.transaction_timeout_ms)},
             {"CurrentTransactionStartTime", open ? format_timestamp(state.transaction_start_time_ms) : "-"},
             {"TransactionDurationMs", open ? std::to_string(duration) : "-"},
             {"TopicPartitions", partition_text.empty() ? "-" : partition_text}}};
    print_result(g, doc, t);
}

struct producers_args {
    std::string topic;
    std::vector<int32_t> partitions;
    std::optional<int32_t> broker;
};

void producers_describe(const global_options& g, const producers_args& a) {
    kafka_client client(g);
    auto md = client.topic_metadata(a.topic);
    const auto partitions = a.partitions.empty() ? partition_ids(md) : a.partitions;
    // Each partition's leader holds its producer state (Kafka's --broker-id asks a chosen replica).
    std::map<int32_t, std::vector<int32_t>> by_broker;
    for (int32_t p : partitions) {
        const int32_t leader = leader_of(md, p);  // also checks that the partition exists
        by_broker[a.broker ? *a.broker : leader].push_back(p);
    }
    json doc = json::array();
    table t{{"TOPIC", "PARTITION", "PRODUCER-ID", "EPOCH", "COORDINATOR-EPOCH", "LAST-SEQUENCE", "LAST-TIMESTAMP",
             "TXN-START-OFFSET"},
            {}};
    std::map<int32_t, pm::describe_producers_response::partition_response> answers;
    for (const auto& [broker, parts] : by_broker) {
        pm::describe_producers_request request;
        auto& topic = request.topics.emplace_back();
        topic.name = a.topic;
        topic.partition_indexes = parts;
        auto response = client.call<pm::describe_producers_response>(broker, request);
        for (const auto& rt : response.topics)
            for (const auto& rp : rt.partitions) {
                if (rp.error_code != 0)
                    throw_kafka_error(rp.error_code,
                                      fmt::format("describing the producers of {}-{} on broker {}", a.topic,
                                                  rp.partition_index, broker),
                                      rp.error_message);
                answers[rp.partition_index] = rp;
            }
    }
    for (int32_t p : partitions) {
        auto it = answers.find(p);
        if (it == answers.end()) throw cli_error(fmt::format("DescribeProducers did not answer for {}-{}", a.topic, p));
        for (const auto& s : it->second.active_producers) {
            const bool open = s.current_txn_start_offset >= 0;
            doc.push_back({{"topic", a.topic},
                           {"partition", p},
                           {"producer_id", s.producer_id},
                           {"producer_epoch", s.producer_epoch},
                           {"coordinator_epoch", s.coordinator_epoch},
                           {"last_sequence", s.last_sequence},
                           {"last_timestamp", s.last_timestamp >= 0 ? json(s.last_timestamp) : json(nullptr)},
                           {"current_txn_start_offset", open ? json(s.current_txn_start_offset) : json(nullptr)}});
            t.rows.push_back({a.topic, std::to_string(p), std::to_string(s.producer_id),
                              std::to_string(s.producer_epoch), std::to_string(s.coordinator_epoch),
                              std::to_string(s.last_sequence),
                              s.last_timestamp >= 0 ? format_timestamp(s.last_timestamp) : "-",
                              open ? std::to_string(s.current_txn_start_offset) : "-"});
        }
    }
    print_result(g, doc, t);
}

}  // namespace

void add_txn_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* txn = app.add_subcommand("txn", "List and describe transactions (kafka-transactions.sh list/describe)");
    txn->require_subcommand(1);
    txn->footer("Example:\n  strata txn list --state Ongoing --duration-filter PT1M");

    auto la = std::make_shared<list_args>();
    auto* l = txn->add_subcommand("list", "List transactional ids on every broker (ListTransactions)");
    l->add_option("--state", la->states, "Only ids in these states (repeatable): Ongoing, PrepareCommit, ...");
    l->add_option("--producer-id", la->producer_ids, "Only these producer ids (repeatable)");
    l->add_option("--duration-filter", la->duration,
                  "Only transactions open longer than this: ms, or ISO 8601 (PT1M)");
    l->footer(
        "Examples:\n"
        "  strata txn list\n"
        "  strata txn list --state Ongoing --duration-filter 60000 -o json");
    l->callback([global, la] { txn_list(*global, *la); });

    auto id = std::make_shared<std::string>();
    auto* d = txn->add_subcommand("describe", "Show a transactional id's producer, state and partitions");
    d->add_option("transactional-id", *id, "Transactional id")->required();
    d->footer("Example:\n  strata txn describe payments-tx-1");
    d->callback([global, id] { txn_describe(*global, *id); });

    auto* producers = app.add_subcommand(
        "producers", "Show a partition's active producers (kafka-transactions.sh describe-producers)");
    producers->require_subcommand(1);
    producers->footer("Example:\n  strata producers describe orders -p 0 -o json");
    auto pa = std::make_shared<producers_args>();
    auto* pd = producers->add_subcommand("describe", "Active producers of a topic's partitions (DescribeProducers)");
    pd->add_option("topic", pa->topic, "Topic")->required();
    pd->add_option("-p,--partition", pa->partitions, "Only these partitions (repeatable; default all)");
    pd->add_option("--broker-id", pa->broker, "Ask this broker instead of each partition's leader");
    pd->footer("Example:\n  strata producers describe orders -p 0");
    pd->callback([global, pa] { producers_describe(*global, *pa); });
}

}  // namespace strata::cli
