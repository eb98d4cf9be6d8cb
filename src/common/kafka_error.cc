#include "strata/common/kafka_error.h"

namespace strata {

std::optional<kafka_error> kafka_error_from_code(int16_t code) {
    // The codes are dense from -1 to the newest; keep this bound in step with
    // the last enumerator.
    if (code < kafka_error_code(kafka_error::unknown_server_error) ||
        code > kafka_error_code(kafka_error::share_session_limit_reached))
        return std::nullopt;
    return static_cast<kafka_error>(code);
}

std::string_view kafka_error_name(kafka_error e) {
    switch (e) {
        case kafka_error::unknown_server_error: return "UNKNOWN_SERVER_ERROR";
        case kafka_error::none: return "NONE";
        case kafka_error::offset_out_of_range: return "OFFSET_OUT_OF_RANGE";
        case kafka_error::corrupt_message: return "CORRUPT_MESSAGE";
        case kafka_error::unknown_topic_or_partition: return "UNKNOWN_TOPIC_OR_PARTITION";
        case kafka_error::invalid_fetch_size: return "INVALID_FETCH_SIZE";
        case kafka_error::leader_not_available: return "LEADER_NOT_AVAILABLE";
        case kafka_error::not_leader_or_follower: return "NOT_LEADER_OR_FOLLOWER";
        case kafka_error::request_timed_out: return "REQUEST_TIMED_OUT";
        case kafka_error::broker_not_available: return "BROKER_NOT_AVAILABLE";
        case kafka_error::replica_not_available: return "REPLICA_NOT_AVAILABLE";
        case kafka_error::message_too_large: return "MESSAGE_TOO_LARGE";
        case kafka_error::stale_controller_epoch: return "STALE_CONTROLLER_EPOCH";
        case kafka_error::offset_metadata_too_large: return "OFFSET_METADATA_TOO_LARGE";
        case kafka_error::network_exception: return "NETWORK_EXCEPTION";
        case kafka_error::coordinator_load_in_progress: return "COORDINATOR_LOAD_IN_PROGRESS";
        case kafka_error::coordinator_not_available: return "COORDINATOR_NOT_AVAILABLE";
        case kafka_error::not_coordinator: return "NOT_COORDINATOR";
        case kafka_error::invalid_topic_exception: return "INVALID_TOPIC_EXCEPTION";
        case kafka_error::record_list_too_large: return "RECORD_LIST_TOO_LARGE";
        case kafka_error::not_enough_replicas: return "NOT_ENOUGH_REPLICAS";
        case kafka_error::not_enough_replicas_after_append: return "NOT_ENOUGH_REPLICAS_AFTER_APPEND";
        case kafka_error::invalid_required_acks: return "INVALID_REQUIRED_ACKS";
        case kafka_error::illegal_generation: return "ILLEGAL_GENERATION";
        case kafka_error::inconsistent_group_protocol: return "INCONSISTENT_GROUP_PROTOCOL";
        case kafka_error::invalid_group_id: return "INVALID_GROUP_ID";
        case kafka_error::unknown_member_id: return "UNKNOWN_MEMBER_ID";
        case kafka_error::invalid_session_timeout: return "INVALID_SESSION_TIMEOUT";
        case kafka_error::rebalance_in_progress: return "REBALANCE_IN_PROGRESS";
        case kafka_error::invalid_commit_offset_size: return "INVALID_COMMIT_OFFSET_SIZE";
        case kafka_error::topic_authorization_failed: return "TOPIC_AUTHORIZATION_FAILED";
        case kafka_error::group_authorization_failed: return "GROUP_AUTHORIZATION_FAILED";
        case kafka_error::cluster_authorization_failed: return "CLUSTER_AUTHORIZATION_FAILED";
        case kafka_error::invalid_timestamp: return "INVALID_TIMESTAMP";
        case kafka_error::unsupported_sasl_mechanism: return "UNSUPPORTED_SASL_MECHANISM";
        case kafka_error::illegal_sasl_state: return "ILLEGAL_SASL_STATE";
        case kafka_error::unsupported_version: return "UNSUPPORTED_VERSION";
        case kafka_error::topic_already_exists: return "TOPIC_ALREADY_EXISTS";
        case kafka_error::invalid_partitions: return "INVALID_PARTITIONS";
        case kafka_error::invalid_replication_factor: return "INVALID_REPLICATION_FACTOR";
        case kafka_error::invalid_replica_assignment: return "INVALID_REPLICA_ASSIGNMENT";
        case kafka_error::invalid_config: return "INVALID_CONFIG";
        case kafka_error::not_controller: return "NOT_CONTROLLER";
        case kafka_error::invalid_request: return "INVALID_REQUEST";
        case kafka_error::unsupported_for_message_format: return "UNSUPPORTED_FOR_MESSAGE_FORMAT";
        case kafka_error::policy_violation: return "POLICY_VIOLATION";
        case kafka_error::out_of_order_sequence_number: return "OUT_OF_ORDER_SEQUENCE_NUMBER";
        case kafka_error::duplicate_sequence_number: return "DUPLICATE_SEQUENCE_NUMBER";
        case kafka_error::invalid_producer_epoch: return "INVALID_PRODUCER_EPOCH";
        case kafka_error::invalid_txn_state: return "INVALID_TXN_STATE";
        case kafka_error::invalid_producer_id_mapping: return "INVALID_PRODUCER_ID_MAPPING";
        case kafka_error::invalid_transaction_timeout: return "INVALID_TRANSACTION_TIMEOUT";
        case kafka_error::concurrent_transactions: return "CONCURRENT_TRANSACTIONS";
        case kafka_error::transaction_coordinator_fenced: return "TRANSACTION_COORDINATOR_FENCED";
        case kafka_error::transactional_id_authorization_failed: return "TRANSACTIONAL_ID_AUTHORIZATION_FAILED";
        case kafka_error::security_disabled: return "SECURITY_DISABLED";
        case kafka_error::operation_not_attempted: return "OPERATION_NOT_ATTEMPTED";
        case kafka_error::kafka_storage_error: return "KAFKA_STORAGE_ERROR";
        case kafka_error::log_dir_not_found: return "LOG_DIR_NOT_FOUND";
        case kafka_error::sasl_authentication_failed: return "SASL_AUTHENTICATION_FAILED";
        case kafka_error::unknown_producer_id: return "UNKNOWN_PRODUCER_ID";
        case kafka_error::reassignment_in_progress: return "REASSIGNMENT_IN_PROGRESS";
        case kafka_error::delegation_token_auth_disabled: return "DELEGATION_TOKEN_AUTH_DISABLED";
        case kafka_error::delegation_token_not_found: return "DELEGATION_TOKEN_NOT_FOUND";
        case kafka_error::delegation_token_owner_mismatch: return "DELEGATION_TOKEN_OWNER_MISMATCH";
        case kafka_error::delegation_token_request_not_allowed: return "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED";
        case kafka_error::delegation_token_authorization_failed: return "DELEGATION_TOKEN_AUTHORIZATION_FAILED";
        case kafka_error::delegation_token_expired: return "DELEGATION_TOKEN_EXPIRED";
        case kafka_error::invalid_principal_type: return "INVALID_PRINCIPAL_TYPE";
        case kafka_error::non_empty_group: return "NON_EMPTY_GROUP";
        case kafka_error::group_id_not_found: return "GROUP_ID_NOT_FOUND";
        case kafka_error::fetch_session_id_not_found: return "FETCH_SESSION_ID_NOT_FOUND";
        case kafka_error::invalid_fetch_session_epoch: return "INVALID_FETCH_SESSION_EPOCH";
        case kafka_error::listener_not_found: return "LISTENER_NOT_FOUND";
        case kafka_error::topic_deletion_disabled: return "TOPIC_DELETION_DISABLED";
        case kafka_error::fenced_leader_epoch: return "FENCED_LEADER_EPOCH";
        case kafka_error::unknown_leader_epoch: return "UNKNOWN_LEADER_EPOCH";
        case kafka_error::unsupported_compression_type: return "UNSUPPORTED_COMPRESSION_TYPE";
        case kafka_error::stale_broker_epoch: return "STALE_BROKER_EPOCH";
        case kafka_error::offset_not_available: return "OFFSET_NOT_AVAILABLE";
        case kafka_error::member_id_required: return "MEMBER_ID_REQUIRED";
        case kafka_error::preferred_leader_not_available: return "PREFERRED_LEADER_NOT_AVAILABLE";
        case kafka_error::group_max_size_reached: return "GROUP_MAX_SIZE_REACHED";
        case kafka_error::fenced_instance_id: return "FENCED_INSTANCE_ID";
        case kafka_error::eligible_leaders_not_available: return "ELIGIBLE_LEADERS_NOT_AVAILABLE";
        case kafka_error::election_not_needed: return "ELECTION_NOT_NEEDED";
        case kafka_error::no_reassignment_in_progress: return "NO_REASSIGNMENT_IN_PROGRESS";
        case kafka_error::group_subscribed_to_topic: return "GROUP_SUBSCRIBED_TO_TOPIC";
        case kafka_error::invalid_record: return "INVALID_RECORD";
        case kafka_error::unstable_offset_commit: return "UNSTABLE_OFFSET_COMMIT";
        case kafka_error::throttling_quota_exceeded: return "THROTTLING_QUOTA_EXCEEDED";
        case kafka_error::producer_fenced: return "PRODUCER_FENCED";
        case kafka_error::resource_not_found: return "RESOURCE_NOT_FOUND";
        case kafka_error::duplicate_resource: return "DUPLICATE_RESOURCE";
        case kafka_error::unacceptable_credential: return "UNACCEPTABLE_CREDENTIAL";
        case kafka_error::inconsistent_voter_set: return "INCONSISTENT_VOTER_SET";
        case kafka_error::invalid_update_version: return "INVALID_UPDATE_VERSION";
        case kafka_error::feature_update_failed: return "FEATURE_UPDATE_FAILED";
        case kafka_error::principal_deserialization_failure: return "PRINCIPAL_DESERIALIZATION_FAILURE";
        case kafka_error::snapshot_not_found: return "SNAPSHOT_NOT_FOUND";
        case kafka_error::position_out_of_range: return "POSITION_OUT_OF_RANGE";
        case kafka_error::unknown_topic_id: return "UNKNOWN_TOPIC_ID";
        case kafka_error::duplicate_broker_registration: return "DUPLICATE_BROKER_REGISTRATION";
        case kafka_error::broker_id_not_registered: return "BROKER_ID_NOT_REGISTERED";
        case kafka_error::inconsistent_topic_id: return "INCONSISTENT_TOPIC_ID";
        case kafka_error::inconsistent_cluster_id: return "INCONSISTENT_CLUSTER_ID";
        case kafka_error::transactional_id_not_found: return "TRANSACTIONAL_ID_NOT_FOUND";
        case kafka_error::fetch_session_topic_id_error: return "FETCH_SESSION_TOPIC_ID_ERROR";
        case kafka_error::ineligible_replica: return "INELIGIBLE_REPLICA";
        case kafka_error::new_leader_elected: return "NEW_LEADER_ELECTED";
        case kafka_error::offset_moved_to_tiered_storage: return "OFFSET_MOVED_TO_TIERED_STORAGE";
        case kafka_error::fenced_member_epoch: return "FENCED_MEMBER_EPOCH";
        case kafka_error::unreleased_instance_id: return "UNRELEASED_INSTANCE_ID";
        case kafka_error::unsupported_assignor: return "UNSUPPORTED_ASSIGNOR";
        case kafka_error::stale_member_epoch: return "STALE_MEMBER_EPOCH";
        case kafka_error::mismatched_endpoint_type: return "MISMATCHED_ENDPOINT_TYPE";
        case kafka_error::unsupported_endpoint_type: return "UNSUPPORTED_ENDPOINT_TYPE";
        case kafka_error::unknown_controller_id: return "UNKNOWN_CONTROLLER_ID";
        case kafka_error::unknown_subscription_id: return "UNKNOWN_SUBSCRIPTION_ID";
        case kafka_error::telemetry_too_large: return "TELEMETRY_TOO_LARGE";
        case kafka_error::invalid_registration: return "INVALID_REGISTRATION";
        case kafka_error::transaction_abortable: return "TRANSACTION_ABORTABLE";
        case kafka_error::invalid_record_state: return "INVALID_RECORD_STATE";
        case kafka_error::share_session_not_found: return "SHARE_SESSION_NOT_FOUND";
        case kafka_error::invalid_share_session_epoch: return "INVALID_SHARE_SESSION_EPOCH";
        case kafka_error::fenced_state_epoch: return "FENCED_STATE_EPOCH";
        case kafka_error::invalid_voter_key: return "INVALID_VOTER_KEY";
        case kafka_error::duplicate_voter: return "DUPLICATE_VOTER";
        case kafka_error::voter_not_found: return "VOTER_NOT_FOUND";
        case kafka_error::invalid_regular_expression: return "INVALID_REGULAR_EXPRESSION";
        case kafka_error::rebootstrap_required: return "REBOOTSTRAP_REQUIRED";
        case kafka_error::streams_invalid_topology: return "STREAMS_INVALID_TOPOLOGY";
        case kafka_error::streams_invalid_topology_epoch: return "STREAMS_INVALID_TOPOLOGY_EPOCH";
        case kafka_error::streams_topology_fenced: return "STREAMS_TOPOLOGY_FENCED";
        case kafka_error::share_session_limit_reached: return "SHARE_SESSION_LIMIT_REACHED";
    }
    return "UNKNOWN_ERROR_CODE";
}

bool is_retriable(kafka_error e) {
    switch (e) {
        case kafka_error::corrupt_message:
        case kafka_error::unknown_topic_or_partition:
        case kafka_error::leader_not_available:
        case kafka_error::not_leader_or_follower:
        case kafka_error::request_timed_out:
        case kafka_error::replica_not_available:
        case kafka_error::network_exception:
        case kafka_error::coordinator_load_in_progress:
        case kafka_error::coordinator_not_available:
        case kafka_error::not_coordinator:
        case kafka_error::not_enough_replicas:
        case kafka_error::not_enough_replicas_after_append:
        case kafka_error::not_controller:
        case kafka_error::concurrent_transactions:
        case kafka_error::kafka_storage_error:
        case kafka_error::fetch_session_id_not_found:
        case kafka_error::invalid_fetch_session_epoch:
        case kafka_error::listener_not_found:
        case kafka_error::fenced_leader_epoch:
        case kafka_error::unknown_leader_epoch:
        case kafka_error::offset_not_available:
        case kafka_error::preferred_leader_not_available:
        case kafka_error::eligible_leaders_not_available:
        case kafka_error::election_not_needed:
        case kafka_error::unstable_offset_commit:
        case kafka_error::throttling_quota_exceeded:
        case kafka_error::unknown_topic_id:
        case kafka_error::inconsistent_topic_id:
        case kafka_error::fetch_session_topic_id_error:
        case kafka_error::share_session_not_found:
        case kafka_error::invalid_share_session_epoch:
        case kafka_error::share_session_limit_reached:
            return true;
        case kafka_error::unknown_server_error:
        case kafka_error::none:
        case kafka_error::offset_out_of_range:
        case kafka_error::invalid_fetch_size:
        case kafka_error::broker_not_available:
        case kafka_error::message_too_large:
        case kafka_error::stale_controller_epoch:
        case kafka_error::offset_metadata_too_large:
        case kafka_error::invalid_topic_exception:
        case kafka_error::record_list_too_large:
        case kafka_error::invalid_required_acks:
        case kafka_error::illegal_generation:
        case kafka_error::inconsistent_group_protocol:
        case kafka_error::invalid_group_id:
        case kafka_error::unknown_member_id:
        case kafka_error::invalid_session_timeout:
        case kafka_error::rebalance_in_progress:
        case kafka_error::invalid_commit_offset_size:
        case kafka_error::topic_authorization_failed:
        case kafka_error::group_authorization_failed:
        case kafka_error::cluster_authorization_failed:
        case kafka_error::invalid_timestamp:
        case kafka_error::unsupported_sasl_mechanism:
        case kafka_error::illegal_sasl_state:
        case kafka_error::unsupported_version:
        case kafka_error::topic_already_exists:
        case kafka_error::invalid_partitions:
        case kafka_error::invalid_replication_factor:
        case kafka_error::invalid_replica_assignment:
        case kafka_error::invalid_config:
        case kafka_error::invalid_request:
        case kafka_error::unsupported_for_message_format:
        case kafka_error::policy_violation:
        case kafka_error::out_of_order_sequence_number:
        case kafka_error::duplicate_sequence_number:
        case kafka_error::invalid_producer_epoch:
        case kafka_error::invalid_txn_state:
        case kafka_error::invalid_producer_id_mapping:
        case kafka_error::invalid_transaction_timeout:
        case kafka_error::transaction_coordinator_fenced:
        case kafka_error::transactional_id_authorization_failed:
        case kafka_error::security_disabled:
        case kafka_error::operation_not_attempted:
        case kafka_error::log_dir_not_found:
        case kafka_error::sasl_authentication_failed:
        case kafka_error::unknown_producer_id:
        case kafka_error::reassignment_in_progress:
        case kafka_error::delegation_token_auth_disabled:
        case kafka_error::delegation_token_not_found:
        case kafka_error::delegation_token_owner_mismatch:
        case kafka_error::delegation_token_request_not_allowed:
        case kafka_error::delegation_token_authorization_failed:
        case kafka_error::delegation_token_expired:
        case kafka_error::invalid_principal_type:
        case kafka_error::non_empty_group:
        case kafka_error::group_id_not_found:
        case kafka_error::topic_deletion_disabled:
        case kafka_error::unsupported_compression_type:
        case kafka_error::stale_broker_epoch:
        case kafka_error::member_id_required:
        case kafka_error::group_max_size_reached:
        case kafka_error::fenced_instance_id:
        case kafka_error::no_reassignment_in_progress:
        case kafka_error::group_subscribed_to_topic:
        case kafka_error::invalid_record:
        case kafka_error::producer_fenced:
        case kafka_error::resource_not_found:
        case kafka_error::duplicate_resource:
        case kafka_error::unacceptable_credential:
        case kafka_error::inconsistent_voter_set:
        case kafka_error::invalid_update_version:
        case kafka_error::feature_update_failed:
        case kafka_error::principal_deserialization_failure:
        case kafka_error::snapshot_not_found:
        case kafka_error::position_out_of_range:
        case kafka_error::duplicate_broker_registration:
        case kafka_error::broker_id_not_registered:
        case kafka_error::inconsistent_cluster_id:
        case kafka_error::transactional_id_not_found:
        case kafka_error::ineligible_replica:
        case kafka_error::new_leader_elected:
        case kafka_error::offset_moved_to_tiered_storage:
        case kafka_error::fenced_member_epoch:
        case kafka_error::unreleased_instance_id:
        case kafka_error::unsupported_assignor:
        case kafka_error::stale_member_epoch:
        case kafka_error::mismatched_endpoint_type:
        case kafka_error::unsupported_endpoint_type:
        case kafka_error::unknown_controller_id:
        case kafka_error::unknown_subscription_id:
        case kafka_error::telemetry_too_large:
        case kafka_error::invalid_registration:
        case kafka_error::transaction_abortable:
        case kafka_error::invalid_record_state:
        case kafka_error::fenced_state_epoch:
        case kafka_error::invalid_voter_key:
        case kafka_error::duplicate_voter:
        case kafka_error::voter_not_found:
        case kafka_error::invalid_regular_expression:
        case kafka_error::rebootstrap_required:
        case kafka_error::streams_invalid_topology:
        case kafka_error::streams_invalid_topology_epoch:
        case kafka_error::streams_topology_fenced:
            return false;
    }
    return false;
}

}  // namespace strata
