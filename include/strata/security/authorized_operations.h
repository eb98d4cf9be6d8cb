// Kafka's authorized-operations bit fields (KIP-430).
#pragma once

#include <cstdint>
#include <string_view>

#include "strata/security/authorizer.h"

namespace strata::security {

// The bit field Metadata, DescribeCluster, DescribeGroups,
// ConsumerGroupDescribe and DescribeTopicPartitions answer: bit n is set
// when the principal may perform the operation whose wire code is n, for
// each operation Kafka supports on the resource type (AclEntry's
// supportedOperations). With the allow-all authorizer every supported bit is
// set, as Kafka does with no authorizer configured.
int32_t authorized_operations(const authorizer& decider, const request_identity& who, resource_type type,
                              std::string_view name);

}  // namespace strata::security
