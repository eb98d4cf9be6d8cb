// Kafka's authorized-operations bit fields, from one authorize() call per
// resource (KafkaApis' AuthHelper.authorizedOperations).
#include <array>

#include "strata/security/authorized_operations.h"

namespace strata::security {

namespace {

// Kafka's AclEntry.supportedOperations, per resource type.
std::span<const acl_operation> supported_operations(resource_type type) {
    using op = acl_operation;
    static constexpr std::array topic{op::read,     op::write,           op::create,         op::describe,
                                      op::remove,   op::alter,           op::describe_configs, op::alter_configs};
    static constexpr std::array group{op::read, op::describe, op::remove};
    static constexpr std::array cluster{op::create,       op::cluster_action, op::describe_configs, op::alter_configs,
                                        op::idempotent_write, op::alter,      op::describe};
    static constexpr std::array transactional_id{op::describe, op::write};
    static constexpr std::array delegation_token{op::describe};
    static constexpr std::array user{op::create_tokens, op::describe_tokens};
    switch (type) {
        case resource_type::topic: return topic;
        case resource_type::group: return group;
        case resource_type::cluster: return cluster;
        case resource_type::transactional_id: return transactional_id;
        case resource_type::delegation_token: return delegation_token;
        case resource_type::user: return user;
        default: return {};
    }
}

}  // namespace

int32_t authorized_operations(const authorizer& decider, const request_identity& who, resource_type type,
                              std::string_view name) {
    const auto operations = supported_operations(type);
    std::vector<action> actions;
    actions.reserve(operations.size());
    for (auto operation : operations) actions.push_back(action{operation, type, name});
    const auto decisions = decider.authorize(who, actions);
    int32_t bits = 0;
    for (size_t i = 0; i < operations.size() && i < decisions.size(); ++i)
        if (decisions[i]) bits |= int32_t{1} << static_cast<int>(operations[i]);
    return bits;
}

}  // namespace strata::security
