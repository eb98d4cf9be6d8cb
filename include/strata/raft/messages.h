// The KRaft RPCs as the Raft core sees them: one small struct per request and
// response, holding exactly the fields the core reads or writes. Each field
// names the Kafka schema field it maps to (../shared/kafka-protocol/message/),
// so that the translation layer to the generated codecs
// (strata/protocol/messages/*.h) is a field-by-field copy:
//
//   - every RPC is for the single partition __cluster_metadata-0: the
//     translation fills TopicName/PartitionIndex (Fetch: TopicId) and rejects
//     anything else before it reaches the core;
//   - ClusterId is checked by the translation layer, never by the core;
//   - node ids use -1 on the wire for "none" (std::nullopt here);
//   - error codes are Kafka's (strata::kafka_error), partition-level errors
//     unless noted;
//   - a response is always handed back to the core with the request it
//     answers (the shell pairs them by correlation id), so responses carry
//     no copy of the request's fields.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/raft/types.h"

namespace strata::raft {

// VoteRequest (api key 52). KIP-996 pre-vote is VoteRequest v2's PreVote
// field; the vendored schema stops at v1, so until it is regenerated the
// translation can only send pre_vote = false (and must then never send a
// pre-vote: the core's config has pre_vote on by default).
struct vote_request {
    epoch candidate_epoch;         // PartitionData.CandidateEpoch (v2: ReplicaEpoch). For a
                                   // pre-vote: the epoch the sender would campaign in.
    node_id candidate_id;          // PartitionData.CandidateId (v2: ReplicaId)
    std::optional<node_id> voter_id;  // VoterId (v1+): the receiver
    epoch last_offset_epoch;       // PartitionData.LastOffsetEpoch
    offset last_offset;            // PartitionData.LastOffset: the sender's log end offset
    bool pre_vote = false;         // PartitionData.PreVote (v2+, KIP-996)
    bool operator==(const vote_request&) const = default;
};

struct vote_response {
    kafka_error error = kafka_error::none;   // PartitionData.ErrorCode
    std::optional<node_id> leader_id;        // PartitionData.LeaderId
    epoch leader_epoch;                      // PartitionData.LeaderEpoch
    bool vote_granted = false;               // PartitionData.VoteGranted
    bool operator==(const vote_response&) const = default;
};

// BeginQuorumEpochRequest (api key 53): a new leader announces itself.
struct begin_quorum_epoch_request {
    std::optional<node_id> voter_id;  // VoterId (v1+)
    node_id leader_id;                // PartitionData.LeaderId
    epoch leader_epoch;               // PartitionData.LeaderEpoch
    bool operator==(const begin_quorum_epoch_request&) const = default;
};

struct begin_quorum_epoch_response {
    kafka_error error = kafka_error::none;   // PartitionData.ErrorCode
    std::optional<node_id> leader_id;        // PartitionData.LeaderId
    epoch leader_epoch;                      // PartitionData.LeaderEpoch
    bool operator==(const begin_quorum_epoch_response&) const = default;
};

// EndQuorumEpochRequest (api key 54): a leader resigns gracefully.
struct end_quorum_epoch_request {
    node_id leader_id;                          // PartitionData.LeaderId
    epoch leader_epoch;                         // PartitionData.LeaderEpoch
    std::vector<node_id> preferred_candidates;  // PreferredSuccessors (v0) / PreferredCandidates.CandidateId (v1+)
    bool operator==(const end_quorum_epoch_request&) const = default;
};

struct end_quorum_epoch_response {
    kafka_error error = kafka_error::none;   // PartitionData.ErrorCode
    std::optional<node_id> leader_id;        // PartitionData.LeaderId
    epoch leader_epoch;                      // PartitionData.LeaderEpoch
    bool operator==(const end_quorum_epoch_response&) const = default;
};

// FetchRequest (api key 1) on __cluster_metadata: KRaft's pull replication.
struct fetch_request {
    node_id replica_id;        // ReplicaState.ReplicaId (v15+) / ReplicaId (v0-14)
    epoch current_leader_epoch;  // FetchPartition.CurrentLeaderEpoch
    offset fetch_offset;       // FetchPartition.FetchOffset: the follower's log end offset
    epoch last_fetched_epoch;  // FetchPartition.LastFetchedEpoch: epoch of the entry at fetch_offset - 1
    int32_t max_bytes = 0;     // FetchPartition.PartitionMaxBytes
    int32_t max_wait_ms = 0;   // MaxWaitMs: the shell may hold an empty answer this long
    bool operator==(const fetch_request&) const = default;
};

struct leader_id_and_epoch {
    std::optional<node_id> leader_id;  // LeaderIdAndEpoch.LeaderId
    epoch leader_epoch;                // LeaderIdAndEpoch.LeaderEpoch
    bool operator==(const leader_id_and_epoch&) const = default;
};

struct fetch_response {
    kafka_error error = kafka_error::none;     // PartitionData.ErrorCode
    offset high_watermark{-1};                 // PartitionData.HighWatermark
    offset log_start_offset{-1};               // PartitionData.LogStartOffset
    std::optional<epoch_end_offset> diverging_epoch;  // PartitionData.DivergingEpoch (tagged): Epoch, EndOffset
    leader_id_and_epoch current_leader;        // PartitionData.CurrentLeader (tagged)
    std::optional<snapshot_id> snapshot;       // PartitionData.SnapshotId (tagged)
    std::vector<log_entry> records;            // PartitionData.Records, as record batches
    bool operator==(const fetch_response&) const = default;
};

// FetchSnapshotRequest (api key 59, KIP-630).
struct fetch_snapshot_request {
    node_id replica_id;           // ReplicaId
    epoch current_leader_epoch;   // PartitionSnapshot.CurrentLeaderEpoch
    snapshot_id snapshot;         // PartitionSnapshot.SnapshotId
    int64_t position = 0;         // PartitionSnapshot.Position
    int32_t max_bytes = 0;        // MaxBytes
    bool operator==(const fetch_snapshot_request&) const = default;
};

struct fetch_snapshot_response {
    kafka_error error = kafka_error::none;  // PartitionSnapshot.ErrorCode
    snapshot_id snapshot;                   // PartitionSnapshot.SnapshotId
    leader_id_and_epoch current_leader;     // PartitionSnapshot.CurrentLeader (tagged)
    int64_t size = 0;                       // PartitionSnapshot.Size
    int64_t position = 0;                   // PartitionSnapshot.Position
    std::string bytes;                      // PartitionSnapshot.UnalignedRecords
    bool operator==(const fetch_snapshot_response&) const = default;
};

// DescribeQuorumRequest (api key 55) has nothing but the partition.
struct describe_quorum_request {
    bool operator==(const describe_quorum_request&) const = default;
};

struct replica_state {
    node_id replica_id;           // ReplicaState.ReplicaId
    offset log_end_offset{-1};    // ReplicaState.LogEndOffset
    millis last_fetch_timestamp = -1;      // ReplicaState.LastFetchTimestamp (v1+)
    millis last_caught_up_timestamp = -1;  // ReplicaState.LastCaughtUpTimestamp (v1+)
    bool operator==(const replica_state&) const = default;
};

struct describe_quorum_response {
    kafka_error error = kafka_error::none;  // PartitionData.ErrorCode
    std::optional<node_id> leader_id;       // PartitionData.LeaderId
    epoch leader_epoch;                     // PartitionData.LeaderEpoch
    offset high_watermark{-1};              // PartitionData.HighWatermark
    std::vector<replica_state> current_voters;  // PartitionData.CurrentVoters
    std::vector<replica_state> observers;       // PartitionData.Observers
    bool operator==(const describe_quorum_response&) const = default;
};

using request = std::variant<vote_request, begin_quorum_epoch_request, end_quorum_epoch_request,
                             fetch_request, fetch_snapshot_request, describe_quorum_request>;
using response = std::variant<vote_response, begin_quorum_epoch_response, end_quorum_epoch_response,
                              fetch_response, fetch_snapshot_response, describe_quorum_response>;

}  // namespace strata::raft
