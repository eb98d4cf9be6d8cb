#include "group_ops.h"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "strata/protocol/messages/offset_commit_request.h"
#include "strata/protocol/messages/offset_commit_response.h"
#include "strata/protocol/messages/offset_fetch_request.h"
#include "strata/protocol/messages/offset_fetch_response.h"

namespace strata::cli {

namespace pm = protocol::messages;

std::map<std::string, std::map<int32_t, int64_t>> fetch_group_offsets(kafka_client& client, const std::string& group,
                                                                      const std::string& topic,
                                                                      const std::vector<int32_t>& partitions) {
    const int32_t coordinator = client.group_coordinator(group);
    const int16_t version = client.version_of<pm::offset_fetch_request>(coordinator);
    pm::offset_fetch_request request;
    if (version >= 8) {
        pm::offset_fetch_request::offset_fetch_request_group g;
        g.group_id = group;
        if (topic.empty()) {
            g.topics.reset();
        } else {
            g.topics.emplace();
            pm::offset_fetch_request::offset_fetch_request_topics t;
            t.name = topic;
            t.partition_indexes = partitions;
            g.topics->push_back(t);
        }
        request.groups.push_back(g);
    } else {
        request.group_id = group;
        if (topic.empty()) {
            if (version < 2) throw cli_error("the broker's OffsetFetch is too old to list every topic of a group");
            request.topics.reset();
        } else {
            request.topics.emplace();
            pm::offset_fetch_request::offset_fetch_request_topic t;
            t.name = topic;
            t.partition_indexes = partitions;
            request.topics->push_back(t);
        }
    }
    auto response = client.call<pm::offset_fetch_response>(coordinator, request);
    std::map<std::string, std::map<int32_t, int64_t>> out;
    auto check = [&](int16_t code, const std::string& what) {
        if (code != 0) throw_kafka_error(code, what);
    };
    if (version >= 8) {
        for (const auto& g : response.groups) {
            check(g.error_code, fmt::format("fetching the offsets of group '{}'", group));
            for (const auto& t : g.topics)
                for (const auto& p : t.partitions) {
                    check(p.error_code, fmt::format("fetching the offset of {}-{}", t.name, p.partition_index));
                    out[t.name][p.partition_index] = p.committed_offset;
                }
        }
    } else {
        check(response.error_code, fmt::format("fetching the offsets of group '{}'", group));
        for (const auto& t : response.topics)
            for (const auto& p : t.partitions) {
                check(p.error_code, fmt::format("fetching the offset of {}-{}", t.name, p.partition_index));
                out[t.name][p.partition_index] = p.committed_offset;
            }
    }
    return out;
}

std::map<int32_t, int64_t> fetch_committed_offsets(kafka_client& client, const std::string& group,
                                                   const std::string& topic, const std::vector<int32_t>& partitions) {
    auto all = fetch_group_offsets(client, group, topic, partitions);
    return all[topic];
}

void commit_offsets(kafka_client& client, const std::string& group, const std::string& topic,
                    const std::map<int32_t, int64_t>& offsets, int32_t generation, const std::string& member) {
    if (offsets.empty()) return;
    const int32_t coordinator = client.group_coordinator(group);
    pm::offset_commit_request request;
    request.group_id = group;
    request.generation_id_or_member_epoch = generation;
    request.member_id = member;
    request.retention_time_ms = -1;
    pm::offset_commit_request::offset_commit_request_topic t;
    t.name = topic;
    for (const auto& [partition, offset] : offsets) {
        pm::offset_commit_request::offset_commit_request_partition p;
        p.partition_index = partition;
        p.committed_offset = offset;
        p.commit_timestamp = now_ms();
        p.committed_metadata = "";
        t.partitions.push_back(p);
    }
    request.topics.push_back(t);
    auto response = client.call<pm::offset_commit_response>(coordinator, request);
    for (const auto& rt : response.topics)
        for (const auto& rp : rt.partitions)
            if (rp.error_code != 0)
                throw_kafka_error(rp.error_code, fmt::format("committing offset of {}-{} for group '{}'", rt.name,
                                                             rp.partition_index, group));
}

void retry_while_coordinator_busy(kafka_client& client, const std::string& group,
                                  const std::function<void()>& attempt) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(client.options().timeout_ms);
    for (;;) {
        try {
            attempt();
            return;
        } catch (const cli_error& e) {
            const bool moved = e.kafka_code == kafka_error_code(kafka_error::not_coordinator) ||
                               e.kafka_code == kafka_error_code(kafka_error::coordinator_not_available);
            const bool loading = e.kafka_code == kafka_error_code(kafka_error::coordinator_load_in_progress);
            if (!(moved || loading) || std::chrono::steady_clock::now() >= deadline) throw;
            if (moved && !group.empty()) client.forget_coordinator(group);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace strata::cli
