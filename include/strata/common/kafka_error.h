// Kafka's protocol error codes: one enum with Kafka's numbers and its current
// names (org.apache.kafka.common.protocol.Errors), in snake_case. Every error
// that reaches a client is one of these; subsystems translate their own error
// values to it at the edge, with a switch the compiler checks for completeness.
//
// STRATA_KAFKA_ERRORS below is the only place a code is written: the enum,
// kafka_error_from_code, kafka_error_name, is_retriable and
// kafka_error_message all expand it, so a new code is one entry. Columns: the
// enumerator (Kafka's name in snake_case; its UPPER_CASE form is the name
// clients print), Kafka's number, whether Kafka's exception for it is a
// RetriableException (the "Retriable" column of Kafka's protocol guide), and
// one sentence saying what it means, for logs, the CLI and REST errors.
//
// The list runs through SHARE_SESSION_LIMIT_REACHED (133), the newest code in
// Apache Kafka at the time of writing (4.1). Codes are never reused or
// renumbered; a newer peer may send codes beyond the list, which is why
// kafka_error_from_code() exists and why the formatter prints unknown values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/core.h>

// X(enumerator, code, retriable, description). Dense from -1 upwards, in order.
#define STRATA_KAFKA_ERRORS(X) \
    X(unknown_server_error, -1, false, "The server hit an unexpected error while handling the request.") \
    X(none, 0, false, "") \
    X(offset_out_of_range, 1, false, \
      "The requested offset is outside the range of offsets this server keeps for the partition.") \
    X(corrupt_message, 2, true, \
      "The message failed its CRC check, has an invalid size, lacks a key on a compacted topic, or is " \
      "otherwise corrupt.") \
    X(unknown_topic_or_partition, 3, true, "This server does not host this topic-partition.") \
    X(invalid_fetch_size, 4, false, "The requested fetch size is invalid.") \
    X(leader_not_available, 5, true, "The topic-partition has no leader at the moment (an election is under way).") \
    X(not_leader_or_follower, 6, true, \
      "This broker is not the leader of the partition (or, for requests any replica may serve, not a " \
      "replica of it).") \
    X(request_timed_out, 7, true, "The request timed out.") \
    X(broker_not_available, 8, false, "The broker is not available.") \
    X(replica_not_available, 9, true, "The replica is not available for the requested topic-partition.") \
    X(message_too_large, 10, false, \
      "The request included a message larger than the largest message the server accepts.") \
    X(stale_controller_epoch, 11, false, "The controller moved to another broker.") \
    X(offset_metadata_too_large, 12, false, "The metadata of the offset commit is too large.") \
    X(network_exception, 13, true, "The server disconnected before a response was received.") \
    X(coordinator_load_in_progress, 14, true, \
      "The coordinator is still loading its state and cannot serve requests yet.") \
    X(coordinator_not_available, 15, true, "The coordinator is not available.") \
    X(not_coordinator, 16, true, "This broker is not the coordinator for this group or transactional id.") \
    X(invalid_topic_exception, 17, false, "The request names an invalid topic.") \
    X(record_list_too_large, 18, false, \
      "The request included a batch larger than the segment size configured on the server.") \
    X(not_enough_replicas, 19, true, \
      "Messages are rejected because fewer replicas are in sync than min.insync.replicas requires.") \
    X(not_enough_replicas_after_append, 20, true, \
      "Messages were written to the log, but to fewer in-sync replicas than required.") \
    X(invalid_required_acks, 21, false, "The produce request asked for an invalid number of acks.") \
    X(illegal_generation, 22, false, "The group generation id is not valid.") \
    X(inconsistent_group_protocol, 23, false, \
      "The member's protocols are incompatible with those of the group's other members.") \
    X(invalid_group_id, 24, false, "The group id is invalid.") \
    X(unknown_member_id, 25, false, "The coordinator does not know this member.") \
    X(invalid_session_timeout, 26, false, \
      "The session timeout is outside the range the broker allows (group.min.session.timeout.ms to " \
      "group.max.session.timeout.ms).") \
    X(rebalance_in_progress, 27, false, "The group is rebalancing, so the member must rejoin.") \
    X(invalid_commit_offset_size, 28, false, "The size of the committed offset data is invalid.") \
    X(topic_authorization_failed, 29, false, "Not authorized to access the topic.") \
    X(group_authorization_failed, 30, false, "Not authorized to access the group.") \
    X(cluster_authorization_failed, 31, false, "Not authorized to perform this operation on the cluster.") \
    X(invalid_timestamp, 32, false, "The message's timestamp is outside the accepted range.") \
    X(unsupported_sasl_mechanism, 33, false, "The broker does not support the requested SASL mechanism.") \
    X(illegal_sasl_state, 34, false, "The request is not valid in the current SASL state.") \
    X(unsupported_version, 35, false, "The broker does not support this version of the API.") \
    X(topic_already_exists, 36, false, "A topic with this name already exists.") \
    X(invalid_partitions, 37, false, "The number of partitions is invalid.") \
    X(invalid_replication_factor, 38, false, "The replication factor is invalid.") \
    X(invalid_replica_assignment, 39, false, "The replica assignment is invalid.") \
    X(invalid_config, 40, false, "The configuration is invalid.") \
    X(not_controller, 41, true, "This broker is not the active controller.") \
    X(invalid_request, 42, false, \
      "The request is malformed or not valid for this broker; the broker's log says more.") \
    X(unsupported_for_message_format, 43, false, "The message format on the broker does not support this request.") \
    X(policy_violation, 44, false, "The request violates a policy configured on the broker.") \
    X(out_of_order_sequence_number, 45, false, \
      "The broker received a sequence number out of order for this producer.") \
    X(duplicate_sequence_number, 46, false, "The broker received a duplicate sequence number for this producer.") \
    X(invalid_producer_epoch, 47, false, \
      "The producer's epoch is older than the current one (another producer with the same transactional id " \
      "took over).") \
    X(invalid_txn_state, 48, false, \
      "The producer attempted an operation that its transaction's state does not allow.") \
    X(invalid_producer_id_mapping, 49, false, \
      "The producer id is not the one currently assigned to its transactional id.") \
    X(invalid_transaction_timeout, 50, false, "The transaction timeout is larger than transaction.max.timeout.ms.") \
    X(concurrent_transactions, 51, true, "The producer's previous transaction is still being completed.") \
    X(transaction_coordinator_fenced, 52, false, "This transaction coordinator has been replaced by a newer one.") \
    X(transactional_id_authorization_failed, 53, false, "Not authorized to use the transactional id.") \
    X(security_disabled, 54, false, "Security features are disabled.") \
    X(operation_not_attempted, 55, false, \
      "The broker did not attempt this operation because another part of the request failed.") \
    X(kafka_storage_error, 56, true, "The log directory holding the replica is offline or failed.") \
    X(log_dir_not_found, 57, false, "The log directory does not exist in the broker's configuration.") \
    X(sasl_authentication_failed, 58, false, "SASL authentication failed.") \
    X(unknown_producer_id, 59, false, "The broker no longer has any state for this producer id.") \
    X(reassignment_in_progress, 60, false, "A reassignment of the partition is in progress.") \
    X(delegation_token_auth_disabled, 61, false, "Delegation token authentication is disabled.") \
    X(delegation_token_not_found, 62, false, "The delegation token was not found on the server.") \
    X(delegation_token_owner_mismatch, 63, false, "The principal does not own the delegation token.") \
    X(delegation_token_request_not_allowed, 64, false, \
      "Delegation token requests are not allowed on plaintext channels or over " \
      "delegation-token-authenticated channels.") \
    X(delegation_token_authorization_failed, 65, false, "Not authorized for the delegation token request.") \
    X(delegation_token_expired, 66, false, "The delegation token has expired.") \
    X(invalid_principal_type, 67, false, "The principal type is not supported.") \
    X(non_empty_group, 68, false, "The group is not empty.") \
    X(group_id_not_found, 69, false, "The group id does not exist.") \
    X(fetch_session_id_not_found, 70, true, "The fetch session id was not found.") \
    X(invalid_fetch_session_epoch, 71, true, "The fetch session epoch is invalid.") \
    X(listener_not_found, 72, true, "The leader has no endpoint on the listener the request came in on.") \
    X(topic_deletion_disabled, 73, false, "Topic deletion is disabled.") \
    X(fenced_leader_epoch, 74, true, "The request's leader epoch is older than the broker's.") \
    X(unknown_leader_epoch, 75, true, "The request's leader epoch is newer than the broker's.") \
    X(unsupported_compression_type, 76, false, "The requesting client does not support the topic's compression type.") \
    X(stale_broker_epoch, 77, false, "The broker epoch has changed.") \
    X(offset_not_available, 78, true, \
      "The leader's high watermark has not caught up with a recent leader election, so the offset cannot be " \
      "served yet.") \
    X(member_id_required, 79, false, "The group member must rejoin with the member id the coordinator assigned it.") \
    X(preferred_leader_not_available, 80, true, "The preferred leader is not available.") \
    X(group_max_size_reached, 81, false, "The group has reached its maximum size.") \
    X(fenced_instance_id, 82, false, \
      "The coordinator fenced this static member: another member with the same group.instance.id joined.") \
    X(eligible_leaders_not_available, 83, true, "No replica eligible to lead the partition is available.") \
    X(election_not_needed, 84, true, "The leader election is not needed for the topic-partition.") \
    X(no_reassignment_in_progress, 85, false, "No reassignment of the partition is in progress.") \
    X(group_subscribed_to_topic, 86, false, \
      "The group still subscribes to the topic, so its offsets cannot be deleted.") \
    X(invalid_record, 87, false, "The record failed the broker's validation and was not appended.") \
    X(unstable_offset_commit, 88, true, "The group has pending offset commits from an unfinished transaction.") \
    X(throttling_quota_exceeded, 89, true, "The throttling quota was exceeded.") \
    X(producer_fenced, 90, false, "Another producer with the same transactional id fenced this one.") \
    X(resource_not_found, 91, false, "The resource does not exist.") \
    X(duplicate_resource, 92, false, "The request names the same resource more than once.") \
    X(unacceptable_credential, 93, false, "The requested credential does not meet the criteria for acceptability.") \
    X(inconsistent_voter_set, 94, false, "The requesting voter's voter set is not consistent with this node's.") \
    X(invalid_update_version, 95, false, "The given update version is invalid.") \
    X(feature_update_failed, 96, false, "The feature update failed because of an error on the controller.") \
    X(principal_deserialization_failure, 97, false, "The forwarded request's principal could not be deserialized.") \
    X(snapshot_not_found, 98, false, "The requested snapshot was not found.") \
    X(position_out_of_range, 99, false, \
      "The requested position is not greater than or equal to zero and less than the snapshot's size.") \
    X(unknown_topic_id, 100, true, "This server does not host a topic with this id.") \
    X(duplicate_broker_registration, 101, false, "This broker id is already registered by another broker.") \
    X(broker_id_not_registered, 102, false, "The broker id is not registered.") \
    X(inconsistent_topic_id, 103, true, \
      "The topic id in the request differs from the one the broker has for the topic.") \
    X(inconsistent_cluster_id, 104, false, "The cluster id in the request differs from this node's.") \
    X(transactional_id_not_found, 105, false, "The transactional id was not found.") \
    X(fetch_session_topic_id_error, 106, true, \
      "The fetch session saw a topic id change or topics with and without ids.") \
    X(ineligible_replica, 107, false, "The new ISR contains at least one replica that is not eligible.") \
    X(new_leader_elected, 108, false, \
      "The AlterPartition request changed the leader, so it was rejected; the new leader is elected.") \
    X(offset_moved_to_tiered_storage, 109, false, "The requested offset was moved to tiered storage.") \
    X(fenced_member_epoch, 110, false, \
      "The member epoch is fenced by the group coordinator; the member must rejoin with epoch 0.") \
    X(unreleased_instance_id, 111, false, \
      "The group.instance.id is still in use by a member that has not left the group.") \
    X(unsupported_assignor, 112, false, "The assignor or its version range is not supported by the group.") \
    X(stale_member_epoch, 113, false, "The member epoch is stale; the member must retry with its current epoch.") \
    X(mismatched_endpoint_type, 114, false, "The request was sent to an endpoint of the wrong type.") \
    X(unsupported_endpoint_type, 115, false, "This endpoint type does not support this request.") \
    X(unknown_controller_id, 116, false, "This controller id is not known.") \
    X(unknown_subscription_id, 117, false, \
      "The client sent a push telemetry request with an unknown or expired subscription id.") \
    X(telemetry_too_large, 118, false, "The client sent a push telemetry request larger than the broker accepts.") \
    X(invalid_registration, 119, false, "The controller rejected the broker's registration as invalid.") \
    X(transaction_abortable, 120, false, \
      "The server hit an error the transaction can recover from by aborting; the producer must abort it.") \
    X(invalid_record_state, 121, false, "The record state is invalid; the acknowledgement of a record failed.") \
    X(share_session_not_found, 122, true, "The share session was not found.") \
    X(invalid_share_session_epoch, 123, true, "The share session epoch is invalid.") \
    X(fenced_state_epoch, 124, false, "The share coordinator rejected the request: the state epoch did not match.") \
    X(invalid_voter_key, 125, false, "The voter key does not match the receiving replica's key.") \
    X(duplicate_voter, 126, false, "The voter is already part of the voter set.") \
    X(voter_not_found, 127, false, "The voter is not part of the voter set.") \
    X(invalid_regular_expression, 128, false, "The regular expression is not valid.") \
    X(rebootstrap_required, 129, false, "The client's metadata is out of date; it must rebootstrap.") \
    X(streams_invalid_topology, 130, false, "The supplied Streams topology is invalid.") \
    X(streams_invalid_topology_epoch, 131, false, "The supplied Streams topology epoch is invalid.") \
    X(streams_topology_fenced, 132, false, "The supplied Streams topology is older than the one the broker has.") \
    X(share_session_limit_reached, 133, true, \
      "No new share session can be opened: the broker's limit of share sessions has been reached.")

namespace strata {

enum class kafka_error : int16_t {
#define STRATA_KAFKA_ERROR_ENUMERATOR(name, code, retriable, message) name = code,
    STRATA_KAFKA_ERRORS(STRATA_KAFKA_ERROR_ENUMERATOR)
#undef STRATA_KAFKA_ERROR_ENUMERATOR
};

inline constexpr int16_t kafka_error_code(kafka_error e) { return static_cast<int16_t>(e); }

// The enumerator for a code received from a peer; nullopt for codes this build
// does not know.
std::optional<kafka_error> kafka_error_from_code(int16_t code);

// Kafka's UPPER_CASE name ("NOT_LEADER_OR_FOLLOWER"); "UNKNOWN_ERROR_CODE" for
// a value outside the enum.
std::string_view kafka_error_name(kafka_error e);

// Whether Kafka's exception for the code is a RetriableException (the
// "Retriable" column of Kafka's protocol guide): clients retry these after
// refreshing metadata or backing off.
bool is_retriable(kafka_error e);

// One sentence saying what the code means ("This server does not host this
// topic-partition."); empty for none, "Unknown error code." outside the enum.
std::string_view kafka_error_message(kafka_error e);

}  // namespace strata

// Prints "NOT_LEADER_OR_FOLLOWER(6)".
template <>
struct fmt::formatter<strata::kafka_error> : fmt::formatter<std::string_view> {
    template <typename FormatContext>
    auto format(strata::kafka_error e, FormatContext& ctx) const -> decltype(ctx.out()) {
        return fmt::format_to(ctx.out(), "{}({})", strata::kafka_error_name(e), strata::kafka_error_code(e));
    }
};
