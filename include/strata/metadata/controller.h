// The controller's decisions: admin and broker-lifecycle requests checked
// against the current metadata image and turned into metadata records, with
// Kafka's validation and error codes. Pure logic: no I/O, no clock (time is
// passed in), no Raft. The quorum shell runs it on the active controller,
// appends the records it returns to the metadata log, and answers the
// request once they are committed (or at once when nothing is to be written:
// validate_only, or every item failed).
//
// Owned by the active controller's single executor; not thread-safe. The only
// state it keeps outside the log is volatile (broker heartbeat times), which
// a new active controller rebuilds from heartbeats, as Kafka's does.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/protocol/messages/alter_partition_request.h"
#include "strata/protocol/messages/alter_partition_response.h"
#include "strata/protocol/messages/broker_heartbeat_request.h"
#include "strata/protocol/messages/broker_heartbeat_response.h"
#include "strata/protocol/messages/broker_registration_request.h"
#include "strata/protocol/messages/broker_registration_response.h"
#include "strata/protocol/messages/create_partitions_request.h"
#include "strata/protocol/messages/create_partitions_response.h"
#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/messages/create_topics_response.h"
#include "strata/protocol/messages/delete_topics_request.h"
#include "strata/protocol/messages/delete_topics_response.h"

namespace strata::metadata {

namespace msg = protocol::messages;

struct controller_options {
    int32_t default_num_partitions = 1;         // num.partitions
    int16_t default_replication_factor = 1;     // default.replication.factor
    int64_t broker_session_timeout_ms = 9000;   // broker.session.timeout.ms
    int64_t broker_heartbeat_interval_ms = 2000;  // broker.heartbeat.interval.ms
    // How long a broker whose heartbeat connection closed (or the previous
    // active controller, just replaced by an election) has to heartbeat
    // again before it is fenced. A live broker re-heartbeats at once on a new
    // connection; a crashed one's sockets are closed by its kernel, so its
    // partitions move within this instead of the whole session timeout.
    int64_t broker_disconnect_grace_ms = 250;
    // min.insync.replicas for topics that do not set it: a broker in
    // controlled shutdown leaves an ISR only if as many remain.
    int32_t default_min_insync_replicas = 1;
    // Preferred-leader election (Kafka's auto.leader.rebalance.enable,
    // leader.imbalance.check.interval.seconds in ms,
    // leader.imbalance.per.broker.percentage).
    bool auto_leader_rebalance_enable = true;
    int64_t leader_imbalance_check_interval_ms = 300000;
    int32_t leader_imbalance_per_broker_percentage = 10;
    int32_t max_partitions_per_request = 10000;
    bool unclean_leader_election_enable = false;  // the static default; topics and the cluster may override
    // delegation.token.expiry.check.interval.ms: how often expired
    // delegation tokens are removed.
    int64_t delegation_token_expiry_check_interval_ms = 3600000;
    // Checks one topic config (name, value); returns an error message, or
    // nullopt when valid. Supplied by the layer that knows topic configs.
    std::function<std::optional<std::string>(const std::string&, const std::optional<std::string>&)> validate_topic_config;
};

// Makes topic ids and incarnation-independent randomness injectable, so that
// tests are deterministic.
using uuid_source = std::function<protocol::uuid()>;

class controller {
public:
    explicit controller(controller_options options, uuid_source new_uuid);

    std::vector<record> create_topics(const metadata_image& image, const msg::create_topics_request& request,
                                      int16_t version, msg::create_topics_response& response);
    std::vector<record> delete_topics(const metadata_image& image, const msg::delete_topics_request& request,
                                      int16_t version, msg::delete_topics_response& response);
    std::vector<record> create_partitions(const metadata_image& image, const msg::create_partitions_request& request,
                                          msg::create_partitions_response& response);

    // Broker lifecycle (KIP-631). `next_broker_epoch` is the offset the
    // registration record will get, Kafka's choice of broker epoch.
    // `connection` identifies the network connection the request came on
    // (0: in-process, from this node's own broker).
    std::vector<record> register_broker(const metadata_image& image, const msg::broker_registration_request& request,
                                        int64_t next_broker_epoch, int64_t now_ms,
                                        msg::broker_registration_response& response, uint64_t connection = 0);
    std::vector<record> broker_heartbeat(const metadata_image& image, const msg::broker_heartbeat_request& request,
                                         int64_t now_ms, msg::broker_heartbeat_response& response,
                                         uint64_t connection = 0);
    // Fences brokers whose session expired and moves leadership of their
    // partitions to another in-sync replica (or none).
    std::vector<record> fence_expired_brokers(const metadata_image& image, int64_t now_ms);
    // auto.leader.rebalance.enable: at most once per
    // leader.imbalance.check.interval, for each broker that is the preferred
    // replica (the first of the assignment) of more partitions it does not
    // lead than leader.imbalance.per.broker.percentage allows, gives those
    // partitions back to it where it is in the ISR (so caught up), unfenced
    // and not shutting down. Kafka's ZooKeeper controller's rule.
    std::vector<record> rebalance_leaders(const metadata_image& image, int64_t now_ms);
    // KIP-48 (Kafka's sweepExpiredDelegationTokens): at most once per
    // delegation.token.expiry.check.interval (the first interval counted from
    // the first call), a RemoveDelegationTokenRecord for every token past its
    // expiry or its maximum lifetime. `now_ms` is wall-clock time, the
    // tokens' timestamps being so.
    std::vector<record> remove_expired_delegation_tokens(const metadata_image& image, int64_t now_ms);

    // Broker sessions beyond heartbeats (volatile controller state):
    // - the connection a broker heartbeats on closed: its session ends
    //   `broker_disconnect_grace_ms` from now unless it heartbeats again;
    //   returns the brokers concerned (the caller may probe whether they
    //   are gone: see session_ended);
    std::vector<int32_t> broker_connection_closed(uint64_t connection, int64_t now_ms);
    // - a broker that has not heartbeated again since its connection closed
    //   was found gone (its listener refuses connections: its process is
    //   dead): its session ends now. False if it heartbeated meanwhile.
    bool session_ended(int32_t broker_id, int64_t now_ms);
    // - this node just became the active controller: sessions start afresh
    //   (a previous term's heartbeat times say nothing now), and the
    //   previous active controller, whose silence the election was about,
    //   gets the short grace instead of a whole session;
    void became_active(std::optional<int32_t> previous_controller, int64_t now_ms);
    // When the earliest session ends (nullopt: no session), for the timer
    // that calls fence_expired_brokers.
    std::optional<int64_t> next_session_expiry() const;

    // AlterPartition (KIP-497, KIP-704, KIP-841, KIP-903), sent by a
    // partition's leader to change its ISR (and leader recovery state), at
    // request `version` 0-3: topics by name in v0-1, by id from v2. Kafka
    // 3.9's checks, in its order: the sender's broker epoch (top-level
    // STALE_BROKER_EPOCH), the topic (UNKNOWN_TOPIC_OR_PARTITION v0-1,
    // UNKNOWN_TOPIC_ID v2+) and partition, epochs ahead of this image
    // (NOT_CONTROLLER: the sender saw a newer controller), an older leader
    // epoch (FENCED_LEADER_EPOCH), a sender that is not the leader
    // (INVALID_REQUEST), an older partition epoch (INVALID_UPDATE_VERSION),
    // an ISR that is empty, has duplicates or non-replicas, or lacks the
    // leader (INVALID_REQUEST), recovery-state rules (INVALID_REQUEST), and
    // ISR members that are unregistered, fenced, shutting down or of another
    // broker epoch (INELIGIBLE_REPLICA v2+, OPERATION_NOT_ATTEMPTED before).
    // A valid request yields one PartitionChangeRecord per partition that
    // changes (none when it asks for the current state); the response holds
    // the state after those records.
    std::vector<record> alter_partition(const metadata_image& image, const msg::alter_partition_request& request,
                                        int16_t version, msg::alter_partition_response& response) const;

    // A block of producer ids for `broker_id` (AllocateProducerIds).
    std::vector<record> allocate_producer_ids(const metadata_image& image, int32_t broker_id, int32_t block_size,
                                              int64_t& first_id);

private:
    std::optional<std::vector<std::vector<int32_t>>> place_replicas(const metadata_image& image, int32_t partitions,
                                                                    int16_t replication_factor, int32_t first_partition,
                                                                    std::string& error) const;
    std::vector<record> move_leadership_off(const metadata_image& image, int32_t broker_id) const;
    // A heartbeat with WantShutDown (controlled shutdown, KIP-631): marks the
    // broker in controlled shutdown, moves every partition it leads to
    // another usable ISR member and takes it out of the ISRs that keep
    // min.insync.replicas without it; answers ShouldShutDown (and fences it)
    // once nothing is left to move and every active broker has applied the
    // metadata that moved it (Kafka's controlled-shutdown offset).
    std::vector<record> controlled_shutdown(const metadata_image& image, const broker_registration& broker,
                                            msg::broker_heartbeat_response& response);
    std::vector<record> move_leadership_for_shutdown(const metadata_image& image, int32_t broker_id) const;
    bool every_active_broker_reached(const metadata_image& image, int64_t offset) const;
    int32_t min_insync_replicas(const metadata_image& image, const std::string& topic) const;
    // Leaders for the leaderless partitions whose ISR holds `broker_id`,
    // which is being unfenced (Kafka's handleBrokerUnfenced): a partition
    // whose last in-sync replica came back is online again.
    std::vector<record> elect_leaders_after_unfence(const metadata_image& image, int32_t broker_id) const;

    controller_options _options;
    uuid_source _new_uuid;
    struct broker_session {
        int64_t expires_ms = 0;
        uint64_t connection = 0;  // its last heartbeat's; 0: in-process or none
        bool disconnected = false;  // not heard from since that connection closed
        // This controller has heard from the broker (a registration or a
        // heartbeat). A session it only presumed, for a broker registered
        // before it became active, does not hold off a new incarnation.
        bool heard = false;
    };
    void renew_session(int32_t broker_id, int64_t now_ms, uint64_t connection);

    std::map<int32_t, broker_session> _sessions;
    // Each broker's metadata offset as its last heartbeat reported it.
    std::map<int32_t, int64_t> _metadata_offset;
    // Brokers in controlled shutdown with nothing left to move: (broker
    // epoch, image end offset the others must reach before it may go).
    std::map<int32_t, std::pair<int64_t, int64_t>> _controlled_shutdown_offset;
    int64_t _last_rebalance_ms = -1;
    int64_t _last_token_sweep_ms = -1;
    uint32_t _placement_start = 0;
};

// Kafka's rules for a topic name (Topic.validate): 1-249 characters of
// [a-zA-Z0-9._-], not "." or "..". Returns an error message or nullopt.
std::optional<std::string> invalid_topic_name(std::string_view name);

// Kafka refuses a topic whose name differs from an existing one only in '.'
// versus '_' (their metric names would collide).
bool topic_names_collide(std::string_view a, std::string_view b);

}  // namespace strata::metadata
