// Who a request comes from and what it may do: the principal a connection
// authenticated as, and the authorizer the request pipeline asks before a
// handler touches a resource (Kafka's org.apache.kafka.server.authorizer).
//
// The values of resource_type and acl_operation are Kafka's wire codes
// (CreateAcls, DescribeAcls, and the authorized-operations bit fields of
// Metadata and DescribeGroups use them).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "strata/security/principal.h"

namespace strata::security {

enum class resource_type : int8_t {
    unknown = 0,
    any = 1,
    topic = 2,
    group = 3,
    cluster = 4,
    transactional_id = 5,
    delegation_token = 6,
    user = 7,
};

enum class acl_operation : int8_t {
    unknown = 0,
    any = 1,
    all = 2,
    read = 3,
    write = 4,
    create = 5,
    remove = 6,  // Kafka's DELETE
    alter = 7,
    describe = 8,
    cluster_action = 9,
    describe_configs = 10,
    alter_configs = 11,
    idempotent_write = 12,
    create_tokens = 13,
    describe_tokens = 14,
};

// The one cluster resource's name, as Kafka's ("kafka-cluster").
inline constexpr std::string_view cluster_resource_name = "kafka-cluster";

// One thing a request wants to do.
struct action {
    acl_operation operation = acl_operation::unknown;
    resource_type type = resource_type::unknown;
    std::string_view name;  // topic, group, transactional id...; cluster_resource_name for the cluster
};

// What an authorizer may know about the request (Kafka's
// AuthorizableRequestContext).
struct request_identity {
    const security::principal& principal;
    std::string_view client_address;  // "127.0.0.1:53412"
    std::string_view listener;        // "PLAINTEXT"
    int16_t api_key = -1;
    std::string_view client_id;
};

// Decides actions. One instance serves every network thread: authorize() is
// called concurrently and must be thread-safe; the broker owns the instance
// and it outlives the request pipeline.
class authorizer {
public:
    virtual ~authorizer() = default;
    // One decision per action, in order: true allows it.
    virtual std::vector<bool> authorize(const request_identity& who, std::span<const action> actions) const = 0;
    // One action: what handlers ask on the produce and fetch paths, so an
    // authorizer may answer it without building a vector.
    virtual bool authorize_one(const request_identity& who, const action& wanted) const {
        const auto decisions = authorize(who, std::span<const action>(&wanted, 1));
        return !decisions.empty() && decisions.front();
    }
    // Whether the principal may perform `operation` on at least one resource
    // of `type` (Kafka's Authorizer.authorizeByResourceType, KIP-679): what
    // an idempotent producer without IDEMPOTENT_WRITE on the cluster needs
    // (WRITE on some topic) for InitProducerId. An authorizer that cannot
    // tell refuses.
    virtual bool authorize_by_resource_type(const request_identity&, acl_operation, resource_type) const {
        return false;
    }
};

// Allows everything: what a broker with no authorizer configured does
// (Kafka's default, authorizer.class.name empty).
class allow_all_authorizer final : public authorizer {
public:
    std::vector<bool> authorize(const request_identity&, std::span<const action> actions) const override {
        return std::vector<bool>(actions.size(), true);
    }
    bool authorize_one(const request_identity&, const action&) const override { return true; }
    bool authorize_by_resource_type(const request_identity&, acl_operation, resource_type) const override {
        return true;
    }
};

}  // namespace strata::security
