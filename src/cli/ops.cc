#include "ops.h"

#include <fmt/format.h>

#include "strata/protocol/messages/incremental_alter_configs_request.h"
#include "strata/protocol/messages/incremental_alter_configs_response.h"
#include "strata/protocol/messages/list_offsets_request.h"
#include "strata/protocol/messages/list_offsets_response.h"

namespace strata::cli {

namespace pm = protocol::messages;

std::vector<int32_t> partition_ids(const topic_metadata_t& topic) {
    std::vector<int32_t> ids;
    for (const auto& p : topic.partitions) ids.push_back(p.partition_index);
    std::sort(ids.begin(), ids.end());
    return ids;
}

int32_t leader_of(const topic_metadata_t& topic, int32_t partition) {
    for (const auto& p : topic.partitions)
        if (p.partition_index == partition) {
            if (p.leader_id < 0)
                throw_kafka_error(kafka_error_code(kafka_error::leader_not_available),
                                  fmt::format("partition {}-{} has no leader", topic.name.value_or(""), partition));
            return p.leader_id;
        }
    throw_kafka_error(kafka_error_code(kafka_error::unknown_topic_or_partition),
                      fmt::format("topic '{}' has no partition {}", topic.name.value_or(""), partition),
                      fmt::format("it has {} partitions", topic.partitions.size()));
}

std::map<int32_t, listed_offset> list_offsets(kafka_client& client, const topic_metadata_t& topic,
                                              const std::map<int32_t, int64_t>& timestamps) {
    std::map<int32_t, std::vector<std::pair<int32_t, int64_t>>> by_leader;
    for (const auto& [partition, timestamp] : timestamps)
        by_leader[leader_of(topic, partition)].emplace_back(partition, timestamp);
    std::map<int32_t, listed_offset> out;
    for (const auto& [leader, partitions] : by_leader) {
        pm::list_offsets_request request;
        request.replica_id = -1;
        request.isolation_level = 0;
        request.timeout_ms = client.options().timeout_ms;
        pm::list_offsets_request::list_offsets_topic t;
        t.name = topic.name.value_or("");
        for (const auto& [partition, timestamp] : partitions) {
            pm::list_offsets_request::list_offsets_partition p;
            p.partition_index = partition;
            p.timestamp = timestamp;
            p.max_num_offsets = 1;
            t.partitions.push_back(p);
        }
        request.topics.push_back(std::move(t));
        const int16_t version = client.version_of<pm::list_offsets_request>(leader);
        auto response = client.call<pm::list_offsets_response>(leader, request);
        for (const auto& rt : response.topics)
            for (const auto& rp : rt.partitions) {
                if (rp.error_code != 0)
                    throw_kafka_error(rp.error_code,
                                      fmt::format("listing offsets of {}-{}", rt.name, rp.partition_index));
                listed_offset o;
                if (version == 0) {
                    o.offset = rp.old_style_offsets.empty() ? -1 : rp.old_style_offsets.front();
                } else {
                    o.offset = rp.offset;
                    o.timestamp = rp.timestamp;
                }
                out[rp.partition_index] = o;
            }
    }
    return out;
}

std::map<int32_t, listed_offset> list_offsets(kafka_client& client, const topic_metadata_t& topic,
                                              const std::vector<int32_t>& partitions, int64_t timestamp) {
    std::map<int32_t, int64_t> timestamps;
    for (int32_t p : partitions) timestamps[p] = timestamp;
    return list_offsets(client, topic, timestamps);
}

void alter_configs(kafka_client& client, int8_t resource_type, const std::string& resource_name,
                   const std::vector<std::pair<std::string, std::string>>& set,
                   const std::vector<std::string>& remove) {
    pm::incremental_alter_configs_request request;
    pm::incremental_alter_configs_request::alter_configs_resource resource;
    resource.resource_type = resource_type;
    resource.resource_name = resource_name;
    for (const auto& [key, value] : set) {
        pm::incremental_alter_configs_request::alterable_config c;
        c.name = key;
        c.config_operation = 0;  // SET
        c.value = value;
        resource.configs.push_back(c);
    }
    for (const auto& key : remove) {
        pm::incremental_alter_configs_request::alterable_config c;
        c.name = key;
        c.config_operation = 1;  // DELETE
        c.value.reset();
        resource.configs.push_back(c);
    }
    request.resources.push_back(std::move(resource));
    // Broker configs go to that broker; topic configs to any broker (it forwards to the controller).
    int32_t target = kafka_client::bootstrap_node;
    if (resource_type == resource_broker && !resource_name.empty()) {
        try {
            target = std::stoi(resource_name);
        } catch (const std::exception&) {
            throw_usage(fmt::format("broker id '{}' is not a number", resource_name));
        }
    }
    auto response = client.call_retrying<pm::incremental_alter_configs_response>(target, request);
    for (const auto& r : response.responses)
        if (r.error_code != 0)
            throw_kafka_error(r.error_code,
                              fmt::format("altering the config of {} '{}'",
                                          resource_type == resource_topic ? "topic" : "broker", r.resource_name),
                              r.error_message);
}

}  // namespace strata::cli
