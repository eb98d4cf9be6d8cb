// libFuzzer target: the schemas Kafka stores as record keys and values
// rather than sends as requests: KRaft metadata records
// (__cluster_metadata), group and transaction coordinator records
// (__consumer_offsets, __transaction_state) and the data types other
// messages carry as bytes (ConsumerProtocolSubscription, VotersRecord, ...).
// Like Kafka stores them, a body follows its int16 version; one byte in
// front picks the schema:
//
//   schema uint8 (index into data_schemas, modulo their count) |
//   version int16 | body
//
// Each is decoded, re-encoded and checked (message_checks.h). Seeds:
// corpus/records/, one per schema and version.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "data_schemas_table.h"
#include "message_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    const auto& schema = strata::fuzz::data_schemas[data[0] % strata::fuzz::data_schema_count];
    int16_t version = strata::fuzz::load_int16(data + 1);
    if (version < schema.lowest_version || version > schema.highest_version) return 0;
    std::string what = std::string(schema.name) + " v" + std::to_string(version);
    strata::fuzz::check_body(what, std::span<const uint8_t>(data + 3, size - 3),
                             [&](std::span<const uint8_t> body) { return schema.reencode(version, body); });
    return 0;
}
