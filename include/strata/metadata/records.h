// Kafka's metadata-log records (../shared/kafka-protocol/metadata/), as they
// are framed in the `__cluster_metadata` log: every record value is
//
//   +-------------------------+--------------------+-------------------+---------+
//   | frame version (uvarint) | api key (uvarint)  | version (uvarint) | message |
//   |            = 1          | = the record type  |                   |         |
//   +-------------------------+--------------------+-------------------+---------+
//
// (Kafka's AbstractApiMessageSerde), so that Kafka's own tools can read a
// Strata metadata log.
#pragma once

#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "strata/protocol/metadata/access_control_entry_record.h"
#include "strata/protocol/metadata/broker_registration_change_record.h"
#include "strata/protocol/metadata/client_quota_record.h"
#include "strata/protocol/metadata/config_record.h"
#include "strata/protocol/metadata/delegation_token_record.h"
#include "strata/protocol/metadata/feature_level_record.h"
#include "strata/protocol/metadata/fence_broker_record.h"
#include "strata/protocol/metadata/no_op_record.h"
#include "strata/protocol/metadata/partition_change_record.h"
#include "strata/protocol/metadata/partition_record.h"
#include "strata/protocol/metadata/producer_ids_record.h"
#include "strata/protocol/metadata/register_broker_record.h"
#include "strata/protocol/metadata/register_controller_record.h"
#include "strata/protocol/metadata/remove_access_control_entry_record.h"
#include "strata/protocol/metadata/remove_delegation_token_record.h"
#include "strata/protocol/metadata/remove_topic_record.h"
#include "strata/protocol/metadata/remove_user_scram_credential_record.h"
#include "strata/protocol/metadata/topic_record.h"
#include "strata/protocol/metadata/unfence_broker_record.h"
#include "strata/protocol/metadata/unregister_broker_record.h"
#include "strata/protocol/metadata/user_scram_credential_record.h"

namespace strata::metadata {

namespace records = protocol::metadata;

// The record types Strata writes and applies. A log written by Kafka may hold
// others (ZK migration, KIP-853's voter records); decode_record reports them
// as unsupported rather than guessing.
using record = std::variant<records::register_broker_record, records::unregister_broker_record,
                            records::topic_record, records::partition_record, records::config_record,
                            records::partition_change_record, records::fence_broker_record,
                            records::unfence_broker_record, records::remove_topic_record,
                            records::feature_level_record, records::client_quota_record,
                            records::producer_ids_record, records::broker_registration_change_record,
                            records::access_control_entry_record, records::remove_access_control_entry_record,
                            records::no_op_record, records::register_controller_record,
                            records::user_scram_credential_record,
                            records::remove_user_scram_credential_record,
                            records::delegation_token_record, records::remove_delegation_token_record>;

struct versioned_record {
    record value;
    int16_t version = 0;
};

// Encodes at the record type's newest version unless told otherwise.
std::vector<uint8_t> encode_record(const record& r);
std::vector<uint8_t> encode_record(const record& r, int16_t version);

// Throws protocol::decode_error for a bad frame, an unknown or unsupported
// record type, a version the schema does not define, or trailing bytes.
versioned_record decode_record(std::span<const uint8_t> bytes);

// The record type's api key (Kafka's MetadataRecordType id).
int16_t record_type(const record& r);

}  // namespace strata::metadata
