// The group coordinator: consumer groups under Kafka's classic protocol and
// their committed offsets, kept in the internal topic `__consumer_offsets`.
//
// A group belongs to partition abs(javaHashCode(group_id)) % N of
// `__consumer_offsets`; the broker leading that partition coordinates it.
// When this broker becomes leader of such a partition, the coordinator
// replays the partition's log (Kafka's GroupMetadataKey/Value and
// OffsetCommitKey/Value records) before it answers for its groups
// (COORDINATOR_LOAD_IN_PROGRESS meanwhile); it forgets them when leadership
// moves (NOT_COORDINATOR). Every change a client is told about was first
// appended to that partition with acks=all.
//
// Threads. Owned by the request handler (stratad), which outlives nothing it
// depends on: the metadata service and the partition manager outlive it. All
// group state lives on one thread of the coordinator's own; the request
// methods may be awaited from any network thread and hop there and back. Log
// replay runs on a second, loader thread. Network threads never block on it.
#pragma once

#include <functional>

#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/messages/create_topics_response.h"

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "strata/common/kafka_error.h"
#include "strata/metadata/metadata_service.h"
#include "strata/protocol/messages/consumer_group_describe_request.h"
#include "strata/protocol/messages/consumer_group_describe_response.h"
#include "strata/protocol/messages/consumer_group_heartbeat_request.h"
#include "strata/protocol/messages/consumer_group_heartbeat_response.h"
#include "strata/protocol/messages/delete_groups_request.h"
#include "strata/protocol/messages/delete_groups_response.h"
#include "strata/protocol/messages/describe_groups_request.h"
#include "strata/protocol/messages/describe_groups_response.h"
#include "strata/protocol/messages/heartbeat_request.h"
#include "strata/protocol/messages/heartbeat_response.h"
#include "strata/protocol/messages/join_group_request.h"
#include "strata/protocol/messages/join_group_response.h"
#include "strata/protocol/messages/leave_group_request.h"
#include "strata/protocol/messages/leave_group_response.h"
#include "strata/protocol/messages/list_groups_request.h"
#include "strata/protocol/messages/list_groups_response.h"
#include "strata/protocol/messages/offset_commit_request.h"
#include "strata/protocol/messages/offset_commit_response.h"
#include "strata/protocol/messages/offset_delete_request.h"
#include "strata/protocol/messages/offset_delete_response.h"
#include "strata/protocol/messages/offset_fetch_request.h"
#include "strata/protocol/messages/offset_fetch_response.h"
#include "strata/protocol/messages/sync_group_request.h"
#include "strata/protocol/messages/sync_group_response.h"
#include "strata/protocol/messages/txn_offset_commit_request.h"
#include "strata/protocol/messages/txn_offset_commit_response.h"
#include "strata/replication/partition_manager.h"

namespace strata::group {

inline constexpr std::string_view offsets_topic_name = "__consumer_offsets";

// The broker settings the coordinator reads (Kafka's names in comments).
struct coordinator_config {
    int32_t offsets_topic_partitions = 50;                  // offsets.topic.num.partitions
    int16_t offsets_topic_replication_factor = 3;           // offsets.topic.replication.factor
    int32_t offsets_topic_segment_bytes = 104857600;        // offsets.topic.segment.bytes
    int32_t group_min_session_timeout_ms = 6000;            // group.min.session.timeout.ms
    int32_t group_max_session_timeout_ms = 1800000;         // group.max.session.timeout.ms
    int32_t group_max_size = INT32_MAX;                     // group.max.size
    int32_t group_initial_rebalance_delay_ms = 3000;        // group.initial.rebalance.delay.ms
    int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;  // offsets.retention.minutes
    int64_t offsets_retention_check_interval_ms = 600000;   // offsets.retention.check.interval.ms
    int32_t offset_metadata_max_bytes = 4096;               // offset.metadata.max.bytes
    int32_t consumer_session_timeout_ms = 45000;            // group.consumer.session.timeout.ms
    int32_t consumer_heartbeat_interval_ms = 5000;          // group.consumer.heartbeat.interval.ms
    // How __consumer_offsets is created when it does not exist yet: through
    // the active controller, wherever it is (the broker forwards). Unset: the
    // local metadata service, which must then be the active controller.
    std::function<boost::asio::awaitable<protocol::messages::create_topics_response>(
        protocol::messages::create_topics_request)>
        create_topics;
};

// Java's String.hashCode over the UTF-16 code units of `s` (UTF-8 in), as
// Kafka hashes group ids; invalid UTF-8 bytes count as U+FFFD.
int32_t java_string_hash(std::string_view s);
// Kafka's Utils.abs(hash) % partitions.
int32_t partition_for_group(std::string_view group_id, int32_t partitions);

class group_coordinator {
public:
    group_coordinator(coordinator_config config, metadata::metadata_service& metadata,
                      replication::partition_manager& partitions);
    ~group_coordinator();  // stop()
    group_coordinator(const group_coordinator&) = delete;
    group_coordinator& operator=(const group_coordinator&) = delete;

    // Starts the coordinator thread and its timer; stop() ends and joins them.
    void start();
    void stop();

    const coordinator_config& config() const;
    int32_t partition_for(std::string_view group_id) const;

    // FindCoordinator's part: creates `__consumer_offsets` through the
    // metadata quorum if it does not exist yet (as Kafka does on the first
    // FindCoordinator), then names the leader of the group's partition.
    // COORDINATOR_NOT_AVAILABLE while there is none.
    boost::asio::awaitable<std::pair<kafka_error, int32_t>> find_coordinator(std::string group_id);

    // The request handlers proper; `client_host` is Kafka's "/1.2.3.4".
    boost::asio::awaitable<protocol::messages::join_group_response> join_group(
        protocol::messages::join_group_request request, int16_t version, std::string client_id,
        std::string client_host);
    boost::asio::awaitable<protocol::messages::sync_group_response> sync_group(
        protocol::messages::sync_group_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::heartbeat_response> heartbeat(
        protocol::messages::heartbeat_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::leave_group_response> leave_group(
        protocol::messages::leave_group_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::offset_commit_response> offset_commit(
        protocol::messages::offset_commit_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::offset_fetch_response> offset_fetch(
        protocol::messages::offset_fetch_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::describe_groups_response> describe_groups(
        protocol::messages::describe_groups_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::list_groups_response> list_groups(
        protocol::messages::list_groups_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::delete_groups_response> delete_groups(
        protocol::messages::delete_groups_request request, int16_t version);
    boost::asio::awaitable<protocol::messages::offset_delete_response> offset_delete(
        protocol::messages::offset_delete_request request, int16_t version);
    // KIP-848, the consumer protocol (in memory; see src/group/README.md).
    boost::asio::awaitable<protocol::messages::consumer_group_heartbeat_response> consumer_group_heartbeat(
        protocol::messages::consumer_group_heartbeat_request request, int16_t version, std::string client_id,
        std::string client_host);
    boost::asio::awaitable<protocol::messages::consumer_group_describe_response> consumer_group_describe(
        protocol::messages::consumer_group_describe_request request, int16_t version);
    // TxnOffsetCommit (KIP-98, txn_offsets.cc): the offsets are written to
    // the group's partition in the producer's transaction and stay pending
    // (OffsetFetch with require_stable: UNSTABLE_OFFSET_COMMIT) until the
    // transaction's marker reaches that partition: complete_txn_offsets
    // (any thread) commits or drops them.
    boost::asio::awaitable<protocol::messages::txn_offset_commit_response> txn_offset_commit(
        protocol::messages::txn_offset_commit_request request, int16_t version);
    void complete_txn_offsets(int64_t producer_id, bool commit, int32_t partition);

    // What /metrics shows of the groups this broker coordinates (loaded
    // shards only): each group's state and type, and its committed offsets.
    struct metrics_snapshot {
        struct group_state {
            std::string group, state, type;
        };
        struct committed {
            std::string group, topic;
            int32_t partition;
            int64_t offset;
        };
        std::vector<group_state> groups;
        std::vector<committed> offsets;
    };
    // Asks the coordinator thread and waits up to `timeout` (for a scrape);
    // nothing if it did not answer in time or is stopped.
    std::optional<metrics_snapshot> snapshot_for_metrics(std::chrono::milliseconds timeout) const;

    struct impl;

private:
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::group
