// The APIs answered from the metadata image or through the controller:
// Metadata, CreateTopics, DeleteTopics, CreatePartitions, DescribeCluster.
#pragma once

#include <string>

#include "request_dispatcher.h"
#include "strata/metadata/metadata_service.h"
#include "strata/quota/controller_mutation.h"
#include "strata/replication/unreachable_brokers.h"

namespace strata::txn {
class txn_coordinator;
}

namespace strata::server {

// What these handlers need; outlives the dispatcher.
struct broker_config;
class controller_channel;

struct admin_context {
    metadata::metadata_service& metadata;
    // Where controller decisions go when this node is not the active
    // controller (null: always in-process, as in unit tests).
    controller_channel* controller = nullptr;
    const broker_config* broker = nullptr;  // this node's configuration (DescribeConfigs)
    std::string cluster_id;
    bool auto_create_topics = false;  // auto.create.topics.enable
    // Brokers this broker just found unreachable: Metadata shows the
    // partitions they lead as LEADER_NOT_AVAILABLE (null: none tracked).
    const replication::unreachable_brokers* unreachable = nullptr;
    // KIP-599's controller mutation quotas (null: none enforced).
    quota::controller_mutation_quotas* mutation_quotas = nullptr;
};

// A request another broker forwarded to this node (the active controller)
// on a client's behalf: client id `forwarded_client_id`.
bool forwarded(const request_context& ctx);
// The authorize stage for requests the controller decides. A forwarded
// request was authorized for its client by the broker that forwarded it;
// here its sender must hold CLUSTER_ACTION (Kafka's rule for Envelope), so
// that a client cannot pass its own request off as forwarded to skip the
// checks (CVE-2018-1288's lesson). Any other request: its principal's ACLs.
bool authorized_or_forwarded(const request_context& ctx, security::acl_operation operation,
                             security::resource_type type, std::string_view name);

void register_admin_apis(request_dispatcher& dispatcher, admin_context& admin);
// ElectLeaders (partition_admin_apis.cc).
void register_partition_admin_apis(request_dispatcher& dispatcher, admin_context& admin);
// BrokerRegistration, BrokerHeartbeat, AllocateProducerIds: what brokers
// ask the active controller (controller_apis.cc).
void register_controller_apis(request_dispatcher& dispatcher, admin_context& admin);

// Runs a controller operation: in-process when this node is the active
// controller (or the request was forwarded to it already, which then
// answers NOT_CONTROLLER itself if it is not), else forwarded to the
// active controller at `version`. While no controller takes it (none
// elected yet, this broker not yet unfenced, the controller unreachable or
// answering NOT_CONTROLLER) the request is held and retried against the
// controller the quorum names, until the request's TimeoutMs (or 30 s);
// then NOT_CONTROLLER becomes REQUEST_TIMED_OUT, as Kafka's
// ForwardingManager answers.
template <typename Response, typename Request, typename Local>
boost::asio::awaitable<Response> on_controller(admin_context& admin, const request_context* ctx, Request request,
                                               int16_t version, Local local);

// Producer ids from the blocks the controller allocates this broker
// (AllocateProducerIds), for idempotent and transactional producers alike
// (producer_ids.cc).
struct producer_id_allocator;
std::shared_ptr<producer_id_allocator> make_producer_id_allocator(admin_context& admin, int32_t node_id);
boost::asio::awaitable<std::pair<kafka_error, int64_t>> allocate_producer_id(
    std::shared_ptr<producer_id_allocator> blocks);
// InitProducerId: idempotent producers here, transactional ids handed to
// `transactions` (COORDINATOR_NOT_AVAILABLE without one).
void register_init_producer_id(request_dispatcher& dispatcher, std::shared_ptr<producer_id_allocator> blocks,
                               txn::txn_coordinator* transactions);
// DescribeUserScramCredentials, AlterUserScramCredentials (scram_apis.cc).
void register_scram_apis(request_dispatcher& dispatcher, admin_context& admin);
// DescribeAcls, CreateAcls, DeleteAcls (acl_apis.cc).
void register_acl_apis(request_dispatcher& dispatcher, admin_context& admin);
// DescribeClientQuotas, AlterClientQuotas (client_quota_apis.cc).
void register_client_quota_apis(request_dispatcher& dispatcher, admin_context& admin);
// CreateDelegationToken, RenewDelegationToken, ExpireDelegationToken,
// DescribeDelegationToken (delegation_token_apis.cc).
void register_delegation_token_apis(request_dispatcher& dispatcher, admin_context& admin);
// DescribeConfigs, AlterConfigs, IncrementalAlterConfigs (config_apis.cc).
void register_config_apis(request_dispatcher& dispatcher, admin_context& admin);

}  // namespace strata::server

#include "admin_apis_forwarding.h"
