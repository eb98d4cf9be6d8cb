// Broker and topic configs as Confluent's v3 answers them (KafkaTopicConfig,
// KafkaBrokerConfig), through DescribeConfigs and IncrementalAlterConfigs.
#pragma once

#include "common.h"

namespace strata::rest {

enum class config_resource : int8_t { topic = 2, broker = 4 };

struct config_target {
    config_resource type;
    std::string cluster_id;
    std::string name;  // topic name or broker id; "" with broker: the cluster-wide defaults
};

// Every config of the resource (or only `key`: 404 when it has none such).
awaitable<json> describe_configs(context& ctx, const config_target& target, std::optional<std::string> key);
// {"data":[{"name","value","operation":"SET"|"DELETE"}]} or one SET/DELETE.
struct config_change {
    std::string name;
    std::optional<std::string> value;  // nullopt: DELETE (back to the default)
};
awaitable<void> alter_configs(context& ctx, const config_target& target, const std::vector<config_change>& changes);

// Routes for ".../configs", ".../configs/{name}" and ".../configs:alter"
// under `prefix` (with `{}` for the cluster id and the resource name).
void add_config_routes(std::vector<route>& routes, const std::string& prefix, config_resource type);
// The same forms for `collection` ("/v3/clusters/{}/broker-configs": the
// cluster-wide broker defaults, a broker target named ""), whose target
// comes from the path parameters but the last (the config's name).
void add_config_routes(std::vector<route>& routes, const std::string& collection,
                       std::function<config_target(const path_params&)> target_of);

}  // namespace strata::rest
