// strata group list | describe | delete | reset-offsets
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "group_ops.h"
#include "ops.h"
#include "strata/protocol/messages/consumer_group_describe_request.h"
#include "strata/protocol/messages/consumer_group_describe_response.h"
#include "strata/protocol/messages/consumer_protocol_assignment.h"
#include "strata/protocol/messages/delete_groups_request.h"
#include "strata/protocol/messages/delete_groups_response.h"
#include "strata/protocol/messages/describe_groups_request.h"
#include "strata/protocol/messages/describe_groups_response.h"
#include "strata/protocol/messages/list_groups_request.h"
#include "strata/protocol/messages/list_groups_response.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

void group_list(const global_options& g) {
    kafka_client client(g);
    client.metadata(std::vector<std::string>{});
    // Check on the bootstrap broker first, for a clear error when unsupported.
    client.version_of<pm::list_groups_request>(kafka_client::bootstrap_node);
    std::map<std::string, pm::list_groups_response::listed_group> groups;
    for (int32_t broker : client.broker_ids()) {
        retry_while_coordinator_busy(client, {}, [&] {
            pm::list_groups_request request;
            auto response = client.call<pm::list_groups_response>(broker, request);
            if (response.error_code != 0)
                throw_kafka_error(response.error_code, fmt::format("listing groups on broker {}", broker));
            for (const auto& group : response.groups) groups[group.group_id] = group;
        });
    }
    json doc = json::array();
    table t{{"GROUP", "STATE", "TYPE", "PROTOCOL-TYPE"}, {}};
    for (const auto& [id, group] : groups) {
        doc.push_back({{"group", id},
                       {"state", group.group_state},
                       {"type", group.group_type},
                       {"protocol_type", group.protocol_type}});
        t.rows.push_back({id, group.group_state.empty() ? "-" : group.group_state,
                          group.group_type.empty() ? "-" : group.group_type,
                          group.protocol_type.empty() ? "-" : group.protocol_type});
    }
    print_result(g, doc, t);
}

// A group as DescribeGroups shows it, for classic groups and (from
// ConsumerGroupDescribe) KIP-848 ones alike.
struct group_description {
    pm::describe_groups_response::described_group group;
    // Which member owns which partition: index into group.members.
    std::map<std::pair<std::string, int32_t>, size_t> owner;
};

// Owners from the members' consumer-protocol assignments (classic groups).
void decode_classic_owners(group_description& d) {
    if (d.group.protocol_type != "consumer") return;
    for (size_t i = 0; i < d.group.members.size(); ++i) {
        const auto& m = d.group.members[i];
        if (m.member_assignment.size() < 2) continue;
        try {
            protocol::reader r(m.member_assignment);
            int16_t version = r.read_int16();
            pm::consumer_protocol_assignment assignment;
            assignment.decode(r,
                              std::min<int16_t>(version, pm::consumer_protocol_assignment::highest_supported_version));
            for (const auto& tp : assignment.assigned_partitions)
                for (int32_t p : tp.partitions) d.owner[{tp.topic, p}] = i;
        } catch (const protocol::decode_error&) {
        }
    }
}

// A KIP-848 group (DescribeGroups calls it Dead, as Kafka does): its
// members and assignments from ConsumerGroupDescribe. False if the broker
// does not serve it or knows no such group.
bool describe_consumer_group(kafka_client& client, int32_t coordinator, const std::string& group,
                             group_description& d) {
    if (!client.supports(coordinator, protocol::api_key::consumer_group_describe)) return false;
    pm::consumer_group_describe_request request;
    request.group_ids = {group};
    auto response = client.call<pm::consumer_group_describe_response>(coordinator, request);
    if (response.groups.empty()) return false;
    const auto& g = response.groups.front();
    if (g.error_code == kafka_error_code(kafka_error::group_id_not_found)) return false;
    if (g.error_code != 0)
        throw_kafka_error(g.error_code, fmt::format("describing consumer group '{}'", group), g.error_message);
    d.group.group_state = g.group_state;
    d.group.protocol_type = "consumer";
    d.group.protocol_data = g.assignor_name;
    d.group.members.clear();
    d.owner.clear();
    for (const auto& m : g.members) {
        auto& out = d.group.members.emplace_back();
        out.member_id = m.member_id;
        out.group_instance_id = m.instance_id;
        out.client_id = m.client_id;
        out.client_host = m.client_host;
        for (const auto& tp : m.assignment.topic_partitions)
            for (int32_t p : tp.partitions) d.owner[{tp.topic_name, p}] = d.group.members.size() - 1;
    }
    return true;
}

group_description describe_group(kafka_client& client, const std::string& group) {
    group_description d;
    retry_while_coordinator_busy(client, group, [&] {
        const int32_t coordinator = client.group_coordinator(group);
        pm::describe_groups_request request;
        request.groups = {group};
        auto response = client.call<pm::describe_groups_response>(coordinator, request);
        if (response.groups.empty()) throw cli_error("DescribeGroups answered with no group");
        d = group_description{response.groups.front(), {}};
        if (d.group.error_code != 0)
            throw_kafka_error(d.group.error_code, fmt::format("describing group '{}'", group));
        if (d.group.group_state == "Dead") {
            describe_consumer_group(client, coordinator, group, d);
        } else {
            decode_classic_owners(d);
        }
    });
    return d;
}

bool is_empty_state(const std::string& state) {
    return state.empty() || state == "Empty" || state == "Dead" || state == "empty" || state == "dead";
}

std::map<std::string, std::map<int32_t, int64_t>> committed_offsets(kafka_client& client, const std::string& group) {
    std::map<std::string, std::map<int32_t, int64_t>> committed;
    retry_while_coordinator_busy(client, group, [&] { committed = fetch_group_offsets(client, group); });
    return committed;
}

void group_describe(const global_options& g, const std::string& group) {
    kafka_client client(g);
    auto description = describe_group(client, group);
    const auto& described = description.group;
    if (described.group_state == "Dead")
        throw_kafka_error(kafka_error_code(kafka_error::group_id_not_found),
                          fmt::format("group '{}' does not exist", group));
    // Which member owns which partition (consumer groups' assignments).
    std::map<std::pair<std::string, int32_t>, const pm::describe_groups_response::described_group_member*> owner;
    for (const auto& [key, index] : description.owner) owner[key] = &described.members[index];
    auto committed = committed_offsets(client, group);
    for (const auto& [key, member] : owner) committed[key.first].emplace(key.second, -1);
    json doc{{"group", group},
             {"state", described.group_state},
             {"protocol_type", described.protocol_type},
             {"protocol", described.protocol_data},
             {"members", json::array()},
             {"offsets", json::array()}};
    for (const auto& m : described.members)
        doc["members"].push_back({{"member_id", m.member_id}, {"client_id", m.client_id}, {"host", m.client_host}});
    table t{{"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"}, {}};
    int64_t total_lag = 0;
    for (const auto& [topic, partitions] : committed) {
        std::map<int32_t, listed_offset> ends;
        try {
            auto md = client.topic_metadata(topic);
            std::vector<int32_t> ids;
            for (const auto& [p, offset] : partitions) ids.push_back(p);
            ends = list_offsets(client, md, ids, latest_timestamp);
        } catch (const cli_error&) {
            // A deleted topic still has committed offsets: show them without lag.
        }
        for (const auto& [p, offset] : partitions) {
            const int64_t end = ends.count(p) ? ends[p].offset : -1;
            const int64_t lag = (end >= 0 && offset >= 0) ? std::max<int64_t>(0, end - offset) : -1;
            if (lag > 0) total_lag += lag;
            auto it = owner.find({topic, p});
            const auto* m = it == owner.end() ? nullptr : it->second;
            doc["offsets"].push_back({{"topic", topic},
                                      {"partition", p},
                                      {"current_offset", offset >= 0 ? json(offset) : json(nullptr)},
                                      {"log_end_offset", end >= 0 ? json(end) : json(nullptr)},
                                      {"lag", lag >= 0 ? json(lag) : json(nullptr)},
                                      {"member_id", m ? json(m->member_id) : json(nullptr)}});
            t.rows.push_back({topic, std::to_string(p), offset >= 0 ? std::to_string(offset) : "-",
                              end >= 0 ? std::to_string(end) : "-", lag >= 0 ? std::to_string(lag) : "-",
                              m ? m->member_id : "-", m ? m->client_host : "-", m ? m->client_id : "-"});
        }
    }
    doc["total_lag"] = total_lag;
    if (g.format() == output_format::table)
        std::cout << fmt::format("Group:     {}\nState:     {}\nProtocol:  {}\nMembers:   {}\nTotal lag: {}\n\n", group,
                                 described.group_state, described.protocol_data.empty() ? "-" : described.protocol_data,
                                 described.members.size(), total_lag);
    print_result(g, doc, t);
}

void group_delete(const global_options& g, const std::vector<std::string>& groups) {
    kafka_client client(g);
    json doc = json::array();
    std::string text;
    for (const auto& group : groups) {
        retry_while_coordinator_busy(client, group, [&] {
            const int32_t coordinator = client.group_coordinator(group);
            pm::delete_groups_request request;
            request.groups_names = {group};
            auto response = client.call<pm::delete_groups_response>(coordinator, request);
            for (const auto& r : response.results)
                if (r.error_code != 0) throw_kafka_error(r.error_code, fmt::format("deleting group '{}'", r.group_id));
        });
        doc.push_back({{"group", group}, {"deleted", true}});
        text += fmt::format("Deleted group '{}'.\n", group);
    }
    if (g.format() == output_format::table) {
        std::cout << text;
    } else {
        print_result(g, doc, {});
    }
}

struct reset_args {
    std::string group;
    std::vector<std::string> topics;  // name or name:p1,p2
    bool all_topics = false;
    bool to_earliest = false;
    bool to_latest = false;
    std::optional<int64_t> to_offset;
    std::string to_datetime;
    std::string by_duration;  // ISO 8601, e.g. PT1H: the first offset at or after now minus it
    std::optional<int64_t> shift_by;
    bool dry_run = false;
};

void group_reset_offsets(const global_options& g, const reset_args& a) {
    const int strategies = a.to_earliest + a.to_latest + a.to_offset.has_value() + !a.to_datetime.empty() +
                           !a.by_duration.empty() + a.shift_by.has_value();
    if (strategies != 1)
        throw_usage(
            "give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --by-duration, --shift-by");
    if (a.topics.empty() && !a.all_topics) throw_usage("name the topics with --topic, or pass --all-topics");
    // Times are read before connecting: a bad one is a usage error.
    std::optional<int64_t> to_time;
    if (!a.to_datetime.empty()) to_time = parse_timestamp(a.to_datetime);
    // A duration reaching before the epoch means "from the start".
    if (!a.by_duration.empty()) to_time = std::max<int64_t>(0, now_ms() - parse_duration_ms(a.by_duration));
    kafka_client client(g);
    const auto described = describe_group(client, a.group).group;
    if (!is_empty_state(described.group_state))
        throw_kafka_error(kafka_error_code(kafka_error::non_empty_group),
                          fmt::format("group '{}' is {} with {} member(s)", a.group, described.group_state,
                                      described.members.size()));
    auto committed = committed_offsets(client, a.group);
    std::map<std::string, std::vector<int32_t>> targets;
    if (a.all_topics) {
        for (const auto& [topic, partitions] : committed)
            for (const auto& [p, offset] : partitions) targets[topic].push_back(p);
    }
    for (const auto& spec : a.topics) {
        auto colon = spec.find(':');
        std::string topic = spec.substr(0, colon);
        if (colon == std::string::npos) {
            targets[topic];  // every partition, filled below
        } else {
            std::string list = spec.substr(colon + 1);
            size_t start = 0;
            while (start < list.size()) {
                size_t comma = list.find(',', start);
                if (comma == std::string::npos) comma = list.size();
                try {
                    targets[topic].push_back(std::stoi(list.substr(start, comma - start)));
                } catch (const std::exception&) {
                    throw_usage(fmt::format("bad partition list in --topic '{}'", spec), "use topic or topic:0,1,2");
                }
                start = comma + 1;
            }
        }
    }
    json doc{{"group", a.group}, {"dry_run", a.dry_run}, {"offsets", json::array()}};
    table t{{"TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"}, {}};
    std::map<std::string, std::map<int32_t, int64_t>> plan;
    for (auto& [topic, partitions] : targets) {
        auto md = client.topic_metadata(topic);
        if (partitions.empty()) partitions = partition_ids(md);
        auto earliest = list_offsets(client, md, partitions, earliest_timestamp);
        auto latest = list_offsets(client, md, partitions, latest_timestamp);
        std::map<int32_t, listed_offset> by_time;
        if (to_time) by_time = list_offsets(client, md, partitions, *to_time);
        for (int32_t p : partitions) {
            const int64_t current = committed[topic].count(p) ? committed[topic][p] : -1;
            int64_t target = 0;
            if (a.to_earliest)
                target = earliest[p].offset;
            else if (a.to_latest)
                target = latest[p].offset;
            else if (a.to_offset)
                target = *a.to_offset;
            else if (to_time)  // no record that late: the end, as Kafka's tool does
                target = by_time[p].offset >= 0 ? by_time[p].offset : latest[p].offset;
            else if (current >= 0)
                target = current + *a.shift_by;
            else  // Kafka's tool refuses too: there is nothing to shift
                throw cli_error(fmt::format("cannot shift the offset of {}-{}: group '{}' has no committed offset there",
                                            topic, p, a.group),
                                "set one first with --to-earliest, --to-latest, --to-offset or --to-datetime");
            // Like Kafka's tool: clamp into the log's range.
            target = std::clamp(target, earliest[p].offset, latest[p].offset);
            plan[topic][p] = target;
            doc["offsets"].push_back({{"topic", topic},
                                      {"partition", p},
                                      {"current_offset", current >= 0 ? json(current) : json(nullptr)},
                                      {"new_offset", target}});
            t.rows.push_back(
                {topic, std::to_string(p), current >= 0 ? std::to_string(current) : "-", std::to_string(target)});
        }
    }
    if (!a.dry_run)
        for (const auto& [topic, offsets] : plan)
            retry_while_coordinator_busy(client, a.group, [&] { commit_offsets(client, a.group, topic, offsets); });
    print_result(g, doc, t);
    if (g.format() == output_format::table)
        std::cout << (a.dry_run ? "\nDry run: nothing was changed (drop --dry-run to apply).\n"
                                : "\nOffsets committed.\n");
}

}  // namespace

void add_group_commands(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto* group = app.add_subcommand("group", "List, describe (with lag), delete consumer groups and reset offsets");
    group->require_subcommand(1);
    group->footer("Example:\n  strata group describe my-service");

    auto* l = group->add_subcommand("list", "List consumer groups on every broker");
    l->footer("Example:\n  strata group list -o json");
    l->callback([global] { group_list(*global); });

    auto name = std::make_shared<std::string>();
    auto* d = group->add_subcommand("describe", "Show a group's state, members, committed offsets and lag");
    d->add_option("group", *name, "Group id")->required();
    d->footer("Example:\n  strata group describe my-service");
    d->callback([global, name] { group_describe(*global, *name); });

    auto names = std::make_shared<std::vector<std::string>>();
    auto* del = group->add_subcommand("delete", "Delete groups (they must have no active members)");
    del->add_option("groups", *names, "Group ids")->required();
    del->footer("Example:\n  strata group delete old-service");
    del->callback([global, names] { group_delete(*global, *names); });

    auto a = std::make_shared<reset_args>();
    auto* r = group->add_subcommand("reset-offsets", "Move a group's committed offsets (the group must be empty)");
    r->add_option("group", a->group, "Group id")->required();
    r->add_option("-t,--topic", a->topics, "Topic, or topic:0,1,2 for some partitions (repeatable)");
    r->add_flag("--all-topics", a->all_topics, "Every topic the group has offsets for");
    r->add_flag("--to-earliest", a->to_earliest, "To each partition's first offset");
    r->add_flag("--to-latest", a->to_latest, "To each partition's end");
    r->add_option("--to-offset", a->to_offset, "To this offset");
    r->add_option("--to-datetime", a->to_datetime, "To the first offset at or after this time (ISO 8601 or ms)");
    r->add_option("--by-duration", a->by_duration,
                  "To the first offset at or after now minus this ISO 8601 duration (PT1H, P1DT12H)");
    r->add_option("--shift-by", a->shift_by, "Move the current offsets by N (negative: back)");
    r->add_flag("--dry-run", a->dry_run, "Show the plan without committing it");
    r->footer(
        "Examples:\n"
        "  strata group reset-offsets my-service -t orders --to-earliest --dry-run\n"
        "  strata group reset-offsets my-service -t orders:0,1 --shift-by -100\n"
        "  strata group reset-offsets my-service --all-topics --to-datetime 2024-05-01T00:00:00Z\n"
        "  strata group reset-offsets my-service -t orders --by-duration PT1H");
    r->callback([global, a] { group_reset_offsets(*global, *a); });
}

}  // namespace strata::cli
