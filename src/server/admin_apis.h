// The APIs answered from the metadata image or through the controller:
// Metadata, CreateTopics, DeleteTopics, CreatePartitions, DescribeCluster.
#pragma once

#include <string>

#include "request_dispatcher.h"
#include "strata/metadata/metadata_service.h"

namespace strata::server {

// What these handlers need; outlives the dispatcher.
struct broker_config;

struct admin_context {
    metadata::metadata_service& metadata;
    const broker_config* broker = nullptr;  // this node's configuration (DescribeConfigs)
    std::string cluster_id;
    bool auto_create_topics = false;  // auto.create.topics.enable
};

void register_admin_apis(request_dispatcher& dispatcher, admin_context& admin);
// InitProducerId for idempotent producers (producer_ids.cc).
void register_init_producer_id(request_dispatcher& dispatcher, admin_context& admin, int32_t node_id);
// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs (config_apis.cc).
void register_config_apis(request_dispatcher& dispatcher, admin_context& admin);

}  // namespace strata::server
