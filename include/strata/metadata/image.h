// The metadata image: the cluster's metadata (brokers, topics, partitions,
// configs, features, producer-id blocks, ACLs) as of one offset of the
// `__cluster_metadata` log. Immutable once built, shared by pointer: request
// handlers on any thread read the image they took, while the metadata layer
// builds the next one with a metadata_delta and publishes it (Kafka's
// MetadataImage / MetadataDelta split).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "strata/metadata/records.h"
#include "strata/protocol/wire.h"

namespace strata::metadata {

inline constexpr int32_t no_leader = -1;

struct uuid_hash {
    size_t operator()(const protocol::uuid& u) const noexcept;
};

struct partition_state {
    int32_t partition = 0;
    std::vector<int32_t> replicas;
    std::vector<int32_t> isr;
    std::vector<int32_t> removing_replicas;
    std::vector<int32_t> adding_replicas;
    std::vector<int32_t> eligible_leader_replicas;
    std::vector<int32_t> last_known_elr;
    int32_t leader = no_leader;
    int8_t leader_recovery_state = 0;
    int32_t leader_epoch = 0;
    int32_t partition_epoch = 0;

    bool operator==(const partition_state&) const = default;
};

struct topic_image {
    std::string name;
    protocol::uuid id;
    // Indexed by partition id: Kafka's partitions are numbered 0..n-1.
    std::vector<partition_state> partitions;

    bool operator==(const topic_image&) const = default;
};

struct broker_endpoint {
    std::string listener;
    std::string host;
    uint16_t port = 0;
    int16_t security_protocol = 0;
    bool operator==(const broker_endpoint&) const = default;
};

struct broker_registration {
    int32_t id = 0;
    int64_t epoch = 0;
    protocol::uuid incarnation_id;
    std::vector<broker_endpoint> endpoints;
    std::optional<std::string> rack;
    bool fenced = true;
    bool in_controlled_shutdown = false;

    const broker_endpoint* endpoint(std::string_view listener) const;
    bool operator==(const broker_registration&) const = default;
};

// Kafka's ConfigResource.Type numbers.
enum class config_resource_type : int8_t { unknown = 0, topic = 2, broker = 4, broker_logger = 8, group = 32 };

struct config_resource {
    config_resource_type type = config_resource_type::unknown;
    std::string name;  // topic name, broker id as text, or "" for cluster-wide broker defaults
    auto operator<=>(const config_resource&) const = default;
};

using config_map = std::map<std::string, std::string, std::less<>>;

// A client quota entity (ClientQuotaRecord's entity): entity type ("user",
// "client-id", "ip") to name, nullopt for the type's default (Kafka's
// <default>). Ordered by type, so one entity has one spelling.
using client_quota_entity = std::map<std::string, std::optional<std::string>, std::less<>>;
// An entity's quota values by key (producer_byte_rate, consumer_byte_rate,
// request_percentage, controller_mutation_rate, connection_creation_rate).
using client_quota_values = std::map<std::string, double, std::less<>>;

class metadata_image {
public:
    // The log offset (exclusive end) whose records this image reflects.
    int64_t end_offset() const { return _end_offset; }

    const topic_image* topic(std::string_view name) const;
    const topic_image* topic(const protocol::uuid& id) const;
    const std::map<std::string, std::shared_ptr<const topic_image>, std::less<>>& topics() const { return _topics; }

    const broker_registration* broker(int32_t id) const;
    const std::map<int32_t, broker_registration>& brokers() const { return _brokers; }

    // Explicitly set configs of a resource (empty when none).
    const config_map& configs(const config_resource& resource) const;
    const std::map<config_resource, config_map>& all_configs() const { return _configs; }

    std::optional<int16_t> feature_level(std::string_view feature) const;
    const std::map<std::string, int16_t, std::less<>>& features() const { return _features; }
    // The first producer id not yet handed out (ProducerIdsRecord).
    int64_t next_producer_id() const { return _next_producer_id; }
    size_t acl_count() const { return _acls.size(); }
    const std::unordered_map<protocol::uuid, records::access_control_entry_record, uuid_hash>& acls() const {
        return _acls;
    }

    // SCRAM credentials (UserScramCredentialRecord), by user, then by
    // Kafka's mechanism code (1: SCRAM-SHA-256, 2: SCRAM-SHA-512).
    using scram_credentials = std::map<std::string, std::map<int8_t, records::user_scram_credential_record>, std::less<>>;
    const scram_credentials& scram() const { return _scram; }
    const records::user_scram_credential_record* scram_credential(std::string_view user, int8_t mechanism) const;

    // Delegation tokens (DelegationTokenRecord, KIP-48) by token id. The
    // record holds no secret: each broker derives a token's HMAC from its
    // own delegation.token.secret.key, as Kafka's do.
    using delegation_tokens = std::map<std::string, records::delegation_token_record, std::less<>>;
    const delegation_tokens& tokens() const { return _tokens; }
    const records::delegation_token_record* delegation_token(std::string_view token_id) const;

    // Client quotas (ClientQuotaRecord): only entities with at least one value.
    const std::map<client_quota_entity, client_quota_values>& client_quotas() const { return _client_quotas; }

    // Same metadata (everything but the end offset), comparing topics by
    // contents rather than by pointer: for tests and snapshot checks.
    bool same_contents(const metadata_image& other) const;

private:
    friend class metadata_delta;

    int64_t _end_offset = 0;
    std::map<std::string, std::shared_ptr<const topic_image>, std::less<>> _topics;
    std::unordered_map<protocol::uuid, std::string, uuid_hash> _topic_names;
    std::map<int32_t, broker_registration> _brokers;
    std::map<config_resource, config_map> _configs;
    std::map<std::string, int16_t, std::less<>> _features;
    int64_t _next_producer_id = 0;
    std::unordered_map<protocol::uuid, records::access_control_entry_record, uuid_hash> _acls;
    scram_credentials _scram;
    delegation_tokens _tokens;
    std::map<client_quota_entity, client_quota_values> _client_quotas;
};

// What changed between two images, for the layers that react to it (become
// leader, become follower, delete a replica).
struct image_changes {
    std::vector<protocol::uuid> created_topics;
    std::vector<std::pair<protocol::uuid, std::string>> deleted_topics;  // id, name
    // Topics some of whose partitions were added or changed.
    std::vector<protocol::uuid> changed_topics;
    bool brokers_changed = false;
    bool configs_changed = false;
    bool client_quotas_changed = false;
    // The image replaced the previous one wholesale (a snapshot loaded at
    // start-up or sent by the leader): the lists above are a diff of the
    // two images, and a listener should reconcile all it holds.
    bool from_snapshot = false;
};

// Accumulates records on top of a base image; apply() builds the next image
// in one pass, copying only the topics that changed (so a batch of records
// costs O(changed partitions + number of topics), not O(all partitions)).
// Owned by one thread at a time.
class metadata_delta {
public:
    explicit metadata_delta(std::shared_ptr<const metadata_image> base);

    // Throws std::invalid_argument for a record inconsistent with the image
    // (a partition of an unknown topic, say): the log is the truth, so such a
    // record means a bug or corruption, never a user error.
    void replay(const record& r);
    void set_end_offset(int64_t end_offset) { _end_offset = end_offset; }

    std::shared_ptr<const metadata_image> apply();
    const image_changes& changes() const { return _changes; }

private:
    topic_image& mutable_topic(const protocol::uuid& id);
    void replay_one(const records::register_broker_record& r);
    void replay_one(const records::unregister_broker_record& r);
    void replay_one(const records::topic_record& r);
    void replay_one(const records::partition_record& r);
    void replay_one(const records::partition_change_record& r);
    void replay_one(const records::remove_topic_record& r);
    void replay_one(const records::config_record& r);
    void replay_one(const records::fence_broker_record& r);
    void replay_one(const records::unfence_broker_record& r);
    void replay_one(const records::broker_registration_change_record& r);
    void replay_one(const records::feature_level_record& r);
    void replay_one(const records::producer_ids_record& r);
    void replay_one(const records::access_control_entry_record& r);
    void replay_one(const records::remove_access_control_entry_record& r);
    void replay_one(const records::user_scram_credential_record& r);
    void replay_one(const records::remove_user_scram_credential_record& r);
    void replay_one(const records::client_quota_record& r);
    void replay_one(const records::delegation_token_record& r);
    void replay_one(const records::remove_delegation_token_record& r);
    void replay_one(const records::no_op_record&) {}
    void replay_one(const records::register_controller_record&) {}

    std::shared_ptr<const metadata_image> _base;
    std::shared_ptr<metadata_image> _next;  // copy of the base made on first change
    std::unordered_map<protocol::uuid, std::shared_ptr<topic_image>, uuid_hash> _changed_topics;
    int64_t _end_offset = -1;
    image_changes _changes;
};

}  // namespace strata::metadata
