// The Raft core's messages (messages.h) on Kafka's wire: translation to and
// from the generated KRaft codecs, for the single partition
// __cluster_metadata-0. The core never sees a codec; this is its edge.
//
// Conventions of the translation (each is the KRaft one unless said):
//   - requests name topic __cluster_metadata, partition 0 (Fetch v13+: the
//     fixed topic id AAAAAAAAAAAAAAAAAAAAAQ, Kafka's METADATA_TOPIC_ID);
//     anything else is refused before the core sees it (INVALID_REQUEST for
//     a malformed shape, UNKNOWN_TOPIC_OR_PARTITION for another partition);
//   - ClusterId is checked here: a request naming another cluster gets
//     INCONSISTENT_CLUSTER_ID; a null ClusterId is accepted (older peers);
//   - node id -1 on the wire is std::nullopt;
//   - log entries travel as record batches, one batch per run of entries
//     of one epoch and kind (baseOffset = the first entry's offset,
//     partitionLeaderEpoch = the epoch); data entries are records with a
//     null key and the entry as value; a leader-change entry is a control
//     batch holding Kafka's LeaderChangeMessage (control type 2), whose
//     contents the core does not keep (it decodes to an empty entry);
//   - KIP-996's PreVote flag is VoteRequest v2's field, but the vendored
//     schemas stop at v1: Strata carries it as a tagged field of v1's
//     PartitionData with tag `pre_vote_tag`, far above Kafka's own tags. A
//     Kafka voter would ignore it and count a pre-vote as a real vote
//     request, so mixed Kafka/Strata quorums are not supported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/outcome/basic_result.hpp>
#include <boost/outcome/policy/terminate.hpp>

#include "strata/common/kafka_error.h"
#include "strata/protocol/api.h"
#include "strata/protocol/messages/begin_quorum_epoch_request.h"
#include "strata/protocol/messages/begin_quorum_epoch_response.h"
#include "strata/protocol/messages/describe_quorum_request.h"
#include "strata/protocol/messages/describe_quorum_response.h"
#include "strata/protocol/messages/end_quorum_epoch_request.h"
#include "strata/protocol/messages/end_quorum_epoch_response.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/fetch_snapshot_request.h"
#include "strata/protocol/messages/fetch_snapshot_response.h"
#include "strata/protocol/messages/vote_request.h"
#include "strata/protocol/messages/vote_response.h"
#include "strata/protocol/wire.h"
#include "strata/raft/messages.h"

namespace strata::raft::wire {

inline constexpr std::string_view metadata_topic = "__cluster_metadata";
inline constexpr int32_t metadata_partition = 0;
// Kafka's Uuid.METADATA_TOPIC_ID: 0...01.
protocol::uuid metadata_topic_id();
// The tag of the pre-vote flag in VoteRequest v1 PartitionData (see above).
inline constexpr uint32_t pre_vote_tag = 1000;

// The versions Strata sends; what it serves is wider (the registered ranges).
inline constexpr int16_t vote_version = 1;
inline constexpr int16_t begin_quorum_epoch_version = 1;
inline constexpr int16_t end_quorum_epoch_version = 1;
inline constexpr int16_t fetch_version = 17;
inline constexpr int16_t fetch_snapshot_version = 1;
inline constexpr int16_t describe_quorum_version = 2;

template <typename T>
using wire_result = boost::outcome_v2::basic_result<T, kafka_error, boost::outcome_v2::policy::terminate>;

// A raft request decoded from Kafka's, with the node it comes from (the
// candidate, the leader, the fetching replica; -1 for DescribeQuorum).
template <typename Request>
struct inbound {
    node_id from;
    Request request;
};

// ---- records ------------------------------------------------------------------

// Encodes entries (consecutive offsets) as record batches.
std::vector<uint8_t> encode_entries(const std::vector<log_entry>& entries, int64_t timestamp_ms);
// Decodes record batches into entries; a partial batch at the end (a fetch
// cut by max bytes) is dropped, anything else malformed is an error.
wire_result<std::vector<log_entry>> decode_entries(std::span<const uint8_t> batches);

// ---- requests (sender: raft -> Kafka; receiver: Kafka -> raft) -------------------

protocol::messages::vote_request to_kafka(const vote_request& request, const std::optional<std::string>& cluster_id);
protocol::messages::begin_quorum_epoch_request to_kafka(const begin_quorum_epoch_request& request,
                                                         const std::optional<std::string>& cluster_id);
protocol::messages::end_quorum_epoch_request to_kafka(const end_quorum_epoch_request& request,
                                                       const std::optional<std::string>& cluster_id);
protocol::messages::fetch_request to_kafka(const fetch_request& request, const std::optional<std::string>& cluster_id);
protocol::messages::fetch_snapshot_request to_kafka(const fetch_snapshot_request& request,
                                                     const std::optional<std::string>& cluster_id);
protocol::messages::describe_quorum_request to_kafka(const describe_quorum_request& request);

// `cluster_id`: ours (nullopt: not checked). `version`: the request's.
wire_result<inbound<vote_request>> from_kafka(const protocol::messages::vote_request& request,
                                              const std::optional<std::string>& cluster_id);
wire_result<inbound<begin_quorum_epoch_request>> from_kafka(const protocol::messages::begin_quorum_epoch_request& request,
                                                            const std::optional<std::string>& cluster_id);
wire_result<inbound<end_quorum_epoch_request>> from_kafka(const protocol::messages::end_quorum_epoch_request& request,
                                                          const std::optional<std::string>& cluster_id);
wire_result<inbound<fetch_request>> from_kafka(const protocol::messages::fetch_request& request, int16_t version,
                                               const std::optional<std::string>& cluster_id);
wire_result<inbound<fetch_snapshot_request>> from_kafka(const protocol::messages::fetch_snapshot_request& request,
                                                        const std::optional<std::string>& cluster_id);
wire_result<inbound<describe_quorum_request>> from_kafka(const protocol::messages::describe_quorum_request& request);

// Whether a Fetch is for the metadata log (and so for the quorum rather than
// the broker's partitions): its one topic is __cluster_metadata by name
// (v0-12) or id (v13+).
bool is_metadata_fetch(const protocol::messages::fetch_request& request, int16_t version);

// ---- responses (receiver of the request: raft -> Kafka; sender: Kafka -> raft) ----

protocol::messages::vote_response to_kafka(const vote_response& response);
protocol::messages::begin_quorum_epoch_response to_kafka(const begin_quorum_epoch_response& response);
protocol::messages::end_quorum_epoch_response to_kafka(const end_quorum_epoch_response& response);
protocol::messages::fetch_response to_kafka(const fetch_response& response, int16_t version, int64_t timestamp_ms);
protocol::messages::fetch_snapshot_response to_kafka(const fetch_snapshot_response& response);
protocol::messages::describe_quorum_response to_kafka(const describe_quorum_response& response);

// An answer that refuses the request as a whole (top-level ErrorCode; Fetch
// and FetchSnapshot carry it too), for errors found by from_kafka.
template <typename KafkaResponse>
KafkaResponse error_response(kafka_error error) {
    KafkaResponse response;
    response.error_code = static_cast<int16_t>(error);
    return response;
}

// A top-level error is an error; so is a response without the one partition.
wire_result<vote_response> from_kafka(const protocol::messages::vote_response& response);
wire_result<begin_quorum_epoch_response> from_kafka(const protocol::messages::begin_quorum_epoch_response& response);
wire_result<end_quorum_epoch_response> from_kafka(const protocol::messages::end_quorum_epoch_response& response);
wire_result<fetch_response> from_kafka(const protocol::messages::fetch_response& response);
wire_result<fetch_snapshot_response> from_kafka(const protocol::messages::fetch_snapshot_response& response);
wire_result<describe_quorum_response> from_kafka(const protocol::messages::describe_quorum_response& response);

}  // namespace strata::raft::wire
