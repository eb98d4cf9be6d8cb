// Kafka's default partitioner for keyed records: murmur2 of the key, like the
// Java client, so that records keyed by strata land where Java producers'
// would.
#pragma once

#include <cstdint>
#include <span>

namespace strata::cli {

int32_t murmur2(std::span<const uint8_t> data);
inline int32_t partition_for_key(std::span<const uint8_t> key, int32_t partitions) {
    return static_cast<int32_t>((murmur2(key) & 0x7fffffff) % partitions);
}

}  // namespace strata::cli
