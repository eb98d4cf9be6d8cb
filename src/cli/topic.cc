// strata topic create | list | describe | delete | alter-config | add-partitions
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "ops.h"
#include "strata/protocol/messages/create_partitions_request.h"
#include "strata/protocol/messages/create_partitions_response.h"
#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/messages/create_topics_response.h"
#include "strata/protocol/messages/delete_topics_request.h"
#include "strata/protocol/messages/delete_topics_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

void print_message(const global_options& g, const json& doc, const std::string& text) {
    if (g.format() == output_format::table) {
        std::cout << text << "\n";
    } else {
        print_result(g, doc, {});
    }
}

// Metadata reaches brokers a little after the controller commits a change:
// wait (bounded) until the topic is visible with leaders, so that the next
// command sees it.
void wait_for_topic(kafka_client& client, const std::string& name, bool present, int expected_partitions = -1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(client.options().timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        auto md = client.metadata(std::vector<std::string>{name});
        bool ready = !present;
        for (const auto& t : md.topics) {
            if (t.name != name) continue;
            const bool exists = t.error_code != kafka_error_code(kafka_error::unknown_topic_or_partition);
            if (!present) {
                ready = !exists;
            } else {
                bool leaders = t.error_code == 0 && !t.partitions.empty();
                for (const auto& p : t.partitions) leaders &= p.leader_id >= 0;
                ready = leaders &&
                        (expected_partitions < 0 || static_cast<int>(t.partitions.size()) >= expected_partitions);
            }
        }
        if (ready) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

struct create_args {
    std::string name;
    int partitions = -1;
    int replication = -1;
    std::vector<std::string> configs;
    bool if_not_exists = false;
};

void topic_create(const global_options& g, const create_args& a) {
    kafka_client client(g);
    pm::create_topics_request request;
    const int16_t version = client.version_of<pm::create_topics_request>(kafka_client::bootstrap_node);
    pm::create_topics_request::creatable_topic topic;
    topic.name = a.name;
    // Before v4 the broker's defaults cannot be asked for with -1.
    topic.num_partitions = a.partitions > 0 ? a.partitions : (version >= 4 ? -1 : 1);
    topic.replication_factor = static_cast<int16_t>(a.replication > 0 ? a.replication : (version >= 4 ? -1 : 1));
    for (const auto& c : a.configs) {
        auto [key, value] = parse_key_value(c, "--config");
        pm::create_topics_request::creatable_topic_config config;
        config.name = key;
        config.value = value;
        topic.configs.push_back(config);
    }
    request.topics.push_back(topic);
    request.timeout_ms = g.timeout_ms;
    // A retriable error (NOT_CONTROLLER while the quorum elects,
    // REQUEST_TIMED_OUT) is asked again until --timeout runs out.
    const auto response = client.call_retrying<pm::create_topics_response>(kafka_client::bootstrap_node, request);
    if (response.topics.empty()) throw cli_error("CreateTopics answered with no result");
    const auto& r = response.topics.front();
    if (r.error_code == kafka_error_code(kafka_error::topic_already_exists) && a.if_not_exists) {
        print_message(g, json{{"name", a.name}, {"created", false}}, fmt::format("Topic '{}' already exists.", a.name));
        return;
    }
    if (r.error_code != 0) throw_kafka_error(r.error_code, fmt::format("creating topic '{}'", a.name), r.error_message);
    const int partitions = r.num_partitions > 0 ? r.num_partitions : topic.num_partitions;
    wait_for_topic(client, a.name, true, partitions);
    json doc{{"name", a.name},
             {"created", true},
             {"topic_id", r.topic_id.is_zero() ? json(nullptr) : json(r.topic_id.to_string())},
             {"partitions", partitions},
             {"replication_factor", r.replication_factor > 0 ? r.replication_factor : topic.replication_factor}};
    print_message(g, doc,
                  fmt::format("Created topic '{}' with {} partition{}, replication factor {}.", a.name, partitions,
                              partitions == 1 ? "" : "s", doc["replication_factor"].get<int>()));
}

void topic_list(const global_options& g, bool internal) {
    kafka_client client(g);
    auto md = client.metadata(std::nullopt);
    std::vector<const topic_metadata_t*> topics;
    for (const auto& t : md.topics)
        if (internal || !t.is_internal) topics.push_back(&t);
    std::sort(topics.begin(), topics.end(), [](auto* a, auto* b) { return a->name < b->name; });
    json doc = json::array();
    table tab{{"TOPIC", "PARTITIONS", "REPLICATION", "INTERNAL"}, {}};
    for (const auto* t : topics) {
        const size_t rf = t->partitions.empty() ? 0 : t->partitions.front().replica_nodes.size();
        doc.push_back({{"name", t->name.value_or("")},
                       {"partitions", t->partitions.size()},
                       {"replication_factor", rf},
                       {"internal", t->is_internal}});
        tab.rows.push_back({t->name.value_or(""), std::to_string(t->partitions.size()), std::to_string(rf),
                            t->is_internal ? "yes" : "no"});
    }
    print_result(g, doc, tab);
}

void topic_describe(const global_options& g, const std::vector<std::string>& names) {
    kafka_client client(g);
    json docs = json::array();
    std::string text;
    for (const auto& name : names) {
        auto t = client.topic_metadata(name);
        auto ids = partition_ids(t);
        auto earliest = list_offsets(client, t, ids, earliest_timestamp);
        auto latest = list_offsets(client, t, ids, latest_timestamp);
        std::sort(t.partitions.begin(), t.partitions.end(),
                  [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
        const size_t rf = t.partitions.empty() ? 0 : t.partitions.front().replica_nodes.size();
        json doc{{"name", name},
                 {"topic_id", t.topic_id.is_zero() ? json(nullptr) : json(t.topic_id.to_string())},
                 {"internal", t.is_internal},
                 {"replication_factor", rf},
                 {"partitions", json::array()}};
        table tab{{"PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "START-OFFSET", "END-OFFSET"}, {}};
        int64_t total = 0;
        for (const auto& p : t.partitions) {
            const int64_t start = earliest[p.partition_index].offset;
            const int64_t end = latest[p.partition_index].offset;
            total += std::max<int64_t>(0, end - start);
            doc["partitions"].push_back({{"partition", p.partition_index},
                                         {"leader", p.leader_id},
                                         {"leader_epoch", p.leader_epoch},
                                         {"replicas", p.replica_nodes},
                                         {"isr", p.isr_nodes},
                                         {"offline_replicas", p.offline_replicas},
                                         {"start_offset", start},
                                         {"end_offset", end}});
            tab.rows.push_back({std::to_string(p.partition_index), std::to_string(p.leader_id),
                                std::to_string(p.leader_epoch), join_ints(p.replica_nodes), join_ints(p.isr_nodes),
                                std::to_string(start), std::to_string(end)});
        }
        doc["messages"] = total;
        docs.push_back(doc);
        if (!text.empty()) text += "\n";
        text += fmt::format("Topic:       {}\nTopic ID:    {}\nPartitions:  {}\nReplication: {}\nMessages:    {}\n\n",
                            name, t.topic_id.is_zero() ? "-" : t.topic_id.to_string(), t.partitions.size(), rf, total);
        text += render_table(tab);
    }
    if (g.format() == output_format::table) {
        std::cout << text;
    } else {
        print_result(g, names.size() == 1 ? docs.front() : docs, {});
    }
}

void topic_delete(const global_options& g, const std::vector<std::string>& names, bool if_exists) {
    kafka_client client(g);
    pm::delete_topics_request request;
    const int16_t version = client.version_of<pm::delete_topics_request>(kafka_client::bootstrap_node);
    for (const auto& name : names) {
        if (version >= 6) {
            pm::delete_topics_request::delete_topic_state state;
            state.name = name;
            request.topics.push_back(state);
        } else {
            request.topic_names.push_back(name);
        }
    }
    request.timeout_ms = g.timeout_ms;
    auto response = client.call_retrying<pm::delete_topics_response>(kafka_client::bootstrap_node, request);
    json doc = json::array();
    std::string text;
    std::optional<cli_error> failure;
    for (const auto& r : response.responses) {
        const std::string name = r.name.value_or("");
        const bool missing = r.error_code == kafka_error_code(kafka_error::unknown_topic_or_partition);
        if (r.error_code != 0 && !(missing && if_exists)) {
            try {
                throw_kafka_error(r.error_code, fmt::format("deleting topic '{}'", name), r.error_message);
            } catch (const cli_error& e) {
                if (!failure) failure = e;
            }
            continue;
        }
        if (r.error_code == 0) wait_for_topic(client, name, false);
        doc.push_back({{"name", name}, {"deleted", r.error_code == 0}});
        text += r.error_code == 0 ? fmt::format("Deleted topic '{}'.\n", name)
                                  : fmt::format("Topic '{}' does not exist.\n", name);
    }
    if (g.format() == output_format::table) {
        std::cout << text;
    } else if (!doc.empty() || !failure) {
        print_result(g, doc, {});
    }
    if (failure) throw *failure;
}

void topic_add_partitions(const global_options& g, const std::string& name, int total) {
    kafka_client client(g);
    pm::create_partitions_request request;
    pm::create_partitions_request::create_partitions_topic topic;
    topic.name = name;
    topic.count = total;
    topic.assignments.reset();
    request.topics.push_back(topic);
    request.timeout_ms = g.timeout_ms;
    auto response = client.call_retrying<pm::create_partitions_response>(kafka_client::bootstrap_node, request);
    for (const auto& r : response.results)
        if (r.error_code != 0)
            throw_kafka_error(r.error_code, fmt::format("adding partitions to '{}'", name), r.error_message);
    wait_for_topic(client, name, true, total);
    print_message(g, json{{"name", name}, {"partitions", total}},
                  fmt::format("Topic '{}' now has {} partitions.", name, total));
}

void topic_alter_config(const global_options& g, const std::string& name, const std::vector<std::string>& set,
                        const std::vector<std::string>& remove) {
    if (set.empty() && remove.empty()) throw_usage("nothing to change", "pass --set key=value and/or --delete key");
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& s : set) pairs.push_back(parse_key_value(s, "--set"));
    kafka_client client(g);
    alter_configs(client, resource_topic, name, pairs, remove);
    json changes = json::object();
    for (const auto& [k, v] : pairs) changes[k] = v;
    for (const auto& k : remove) changes[k] = nullptr;
    print_message(g, json{{"topic", name}, {"changed", changes}},
                  fmt::format("Updated the config of topic '{}' ({} change{}).", name, pairs.size() + remove.size(),
                              pairs.size() + remove.size() == 1 ? "" : "s"));
}

}  // namespace

void add_topic_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* topic = app.add_subcommand("topic", "Create, list, describe, alter and delete topics");
    topic->require_subcommand(1);
    topic->footer("Example:\n  strata topic create orders -p 6 -r 3 -c retention.ms=86400000");

    auto create = std::make_shared<create_args>();
    auto* c = topic->add_subcommand("create", "Create a topic");
    c->add_option("name", create->name, "Topic name")->required();
    c->add_option("-p,--partitions", create->partitions, "Partition count (default: the broker's num.partitions)")
        ->check(CLI::Range(1, 1000000));
    c->add_option("-r,--replication-factor", create->replication,
                  "Replication factor (default: the broker's default.replication.factor)")
        ->check(CLI::Range(1, 32767));
    c->add_option("-c,--config", create->configs, "Topic config key=value (repeatable)");
    c->add_flag("--if-not-exists", create->if_not_exists, "Succeed if the topic already exists");
    c->footer("Example:\n  strata topic create orders -p 3 -r 1 -c cleanup.policy=compact");
    c->callback([global, create] { topic_create(*global, *create); });

    auto internal = std::make_shared<bool>(false);
    auto* l = topic->add_subcommand("list", "List topics");
    l->add_flag("-a,--all", *internal, "Include internal topics (__consumer_offsets, ...)");
    l->footer("Example:\n  strata topic list -o json");
    l->callback([global, internal] { topic_list(*global, *internal); });

    auto names = std::make_shared<std::vector<std::string>>();
    auto* d = topic->add_subcommand("describe", "Show partitions, leaders, replicas, ISR and offsets of topics");
    d->add_option("names", *names, "Topic names")->required();
    d->footer("Example:\n  strata topic describe orders");
    d->callback([global, names] { topic_describe(*global, *names); });

    auto delete_names = std::make_shared<std::vector<std::string>>();
    auto if_exists = std::make_shared<bool>(false);
    auto* del = topic->add_subcommand("delete", "Delete topics");
    del->add_option("names", *delete_names, "Topic names")->required();
    del->add_flag("--if-exists", *if_exists, "Succeed for topics that do not exist");
    del->footer("Example:\n  strata topic delete orders payments");
    del->callback([global, delete_names, if_exists] { topic_delete(*global, *delete_names, *if_exists); });

    auto ap_name = std::make_shared<std::string>();
    auto ap_total = std::make_shared<int>(0);
    auto* ap = topic->add_subcommand("add-partitions", "Raise a topic's partition count");
    ap->add_option("name", *ap_name, "Topic name")->required();
    ap->add_option("-p,--partitions", *ap_total, "The new total partition count")
        ->required()
        ->check(CLI::Range(1, 1000000));
    ap->footer("Example:\n  strata topic add-partitions orders -p 12");
    ap->callback([global, ap_name, ap_total] { topic_add_partitions(*global, *ap_name, *ap_total); });

    auto ac_name = std::make_shared<std::string>();
    auto ac_set = std::make_shared<std::vector<std::string>>();
    auto ac_delete = std::make_shared<std::vector<std::string>>();
    auto* ac = topic->add_subcommand("alter-config", "Set or delete topic config keys (IncrementalAlterConfigs)");
    ac->add_option("name", *ac_name, "Topic name")->required();
    ac->add_option("-s,--set", *ac_set, "key=value to set (repeatable)");
    ac->add_option("-d,--delete", *ac_delete, "Key to reset to its default (repeatable)");
    ac->footer("Example:\n  strata topic alter-config orders --set retention.ms=3600000 --delete cleanup.policy");
    ac->callback([global, ac_name, ac_set, ac_delete] { topic_alter_config(*global, *ac_name, *ac_set, *ac_delete); });
}

}  // namespace strata::cli
