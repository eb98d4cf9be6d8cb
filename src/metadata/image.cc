#include "strata/metadata/image.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace strata::metadata {

size_t uuid_hash::operator()(const protocol::uuid& u) const noexcept {
    uint64_t a, b;
    std::memcpy(&a, u.bytes.data(), 8);
    std::memcpy(&b, u.bytes.data() + 8, 8);
    return std::hash<uint64_t>{}(a ^ (b * 0x9e3779b97f4a7c15ULL));
}

const broker_endpoint* broker_registration::endpoint(std::string_view listener) const {
    for (const auto& e : endpoints)
        if (e.listener == listener) return &e;
    return nullptr;
}

// ---- image ------------------------------------------------------------------

const topic_image* metadata_image::topic(std::string_view name) const {
    auto it = _topics.find(name);
    return it == _topics.end() ? nullptr : it->second.get();
}

const topic_image* metadata_image::topic(const protocol::uuid& id) const {
    auto it = _topic_names.find(id);
    return it == _topic_names.end() ? nullptr : topic(it->second);
}

const broker_registration* metadata_image::broker(int32_t id) const {
    auto it = _brokers.find(id);
    return it == _brokers.end() ? nullptr : &it->second;
}

const config_map& metadata_image::configs(const config_resource& resource) const {
    static const config_map empty;
    auto it = _configs.find(resource);
    return it == _configs.end() ? empty : it->second;
}

std::optional<int16_t> metadata_image::feature_level(std::string_view feature) const {
    auto it = _features.find(feature);
    if (it == _features.end()) return std::nullopt;
    return it->second;
}

bool metadata_image::same_contents(const metadata_image& other) const {
    if (_topics.size() != other._topics.size()) return false;
    for (auto a = _topics.begin(), b = other._topics.begin(); a != _topics.end(); ++a, ++b)
        if (a->first != b->first || *a->second != *b->second) return false;
    return _topic_names == other._topic_names && _brokers == other._brokers && _configs == other._configs &&
           _features == other._features && _next_producer_id == other._next_producer_id && _acls == other._acls &&
           _scram == other._scram && _tokens == other._tokens && _client_quotas == other._client_quotas;
}

// ---- delta ------------------------------------------------------------------

metadata_delta::metadata_delta(std::shared_ptr<const metadata_image> base)
    : _base(base ? std::move(base) : std::make_shared<const metadata_image>()) {}

void metadata_delta::replay(const record& r) {
    if (!_next) _next = std::make_shared<metadata_image>(*_base);
    std::visit([this](const auto& value) { replay_one(value); }, r);
}

topic_image& metadata_delta::mutable_topic(const protocol::uuid& id) {
    if (auto it = _changed_topics.find(id); it != _changed_topics.end()) return *it->second;
    const topic_image* current = _next->topic(id);
    if (!current) throw std::invalid_argument("metadata record names unknown topic id " + id.to_string());
    auto copy = std::make_shared<topic_image>(*current);
    _changed_topics.emplace(id, copy);
    _changes.changed_topics.push_back(id);
    return *copy;
}

void metadata_delta::replay_one(const records::register_broker_record& r) {
    broker_registration b;
    b.id = r.broker_id;
    b.epoch = r.broker_epoch;
    b.incarnation_id = r.incarnation_id;
    b.rack = r.rack;
    b.fenced = r.fenced;
    b.in_controlled_shutdown = r.in_controlled_shutdown;
    for (const auto& e : r.end_points) b.endpoints.push_back({e.name, e.host, e.port, e.security_protocol});
    _next->_brokers[r.broker_id] = std::move(b);
    _changes.brokers_changed = true;
}

void metadata_delta::replay_one(const records::unregister_broker_record& r) {
    auto it = _next->_brokers.find(r.broker_id);
    if (it != _next->_brokers.end() && it->second.epoch == r.broker_epoch) _next->_brokers.erase(it);
    _changes.brokers_changed = true;
}

void metadata_delta::replay_one(const records::topic_record& r) {
    if (_next->topic(r.name) || _next->topic(r.topic_id))
        throw std::invalid_argument("TopicRecord for a topic that exists: " + r.name);
    auto t = std::make_shared<topic_image>();
    t->name = r.name;
    t->id = r.topic_id;
    _next->_topics[r.name] = t;
    _next->_topic_names[r.topic_id] = r.name;
    _changed_topics.emplace(r.topic_id, t);
    _changes.created_topics.push_back(r.topic_id);
}

void metadata_delta::replay_one(const records::partition_record& r) {
    if (r.partition_id < 0) throw std::invalid_argument("PartitionRecord with a negative partition id");
    topic_image& t = mutable_topic(r.topic_id);
    if (t.partitions.size() <= static_cast<size_t>(r.partition_id))
        t.partitions.resize(static_cast<size_t>(r.partition_id) + 1);
    partition_state& p = t.partitions[static_cast<size_t>(r.partition_id)];
    p.partition = r.partition_id;
    p.replicas = r.replicas;
    p.isr = r.isr;
    p.removing_replicas = r.removing_replicas;
    p.adding_replicas = r.adding_replicas;
    p.eligible_leader_replicas = r.eligible_leader_replicas.value_or(std::vector<int32_t>{});
    p.last_known_elr = r.last_known_elr.value_or(std::vector<int32_t>{});
    p.leader = r.leader;
    p.leader_recovery_state = r.leader_recovery_state;
    p.leader_epoch = r.leader_epoch;
    p.partition_epoch = r.partition_epoch;
}

void metadata_delta::replay_one(const records::partition_change_record& r) {
    topic_image& t = mutable_topic(r.topic_id);
    if (r.partition_id < 0 || static_cast<size_t>(r.partition_id) >= t.partitions.size())
        throw std::invalid_argument("PartitionChangeRecord for an unknown partition of " + t.name);
    partition_state& p = t.partitions[static_cast<size_t>(r.partition_id)];
    if (r.isr) p.isr = *r.isr;
    if (r.replicas) p.replicas = *r.replicas;
    if (r.removing_replicas) p.removing_replicas = *r.removing_replicas;
    if (r.adding_replicas) p.adding_replicas = *r.adding_replicas;
    if (r.eligible_leader_replicas) p.eligible_leader_replicas = *r.eligible_leader_replicas;
    if (r.last_known_elr) p.last_known_elr = *r.last_known_elr;
    // Leader -2 means "no change"; any explicit leader (even the same one)
    // starts a new leader epoch, as in Kafka's PartitionRegistration.merge.
    if (r.leader != -2) {
        p.leader = r.leader;
        ++p.leader_epoch;
    }
    if (r.leader_recovery_state != -1) p.leader_recovery_state = r.leader_recovery_state;
    ++p.partition_epoch;
}

void metadata_delta::replay_one(const records::remove_topic_record& r) {
    const topic_image* t = _next->topic(r.topic_id);
    if (!t) throw std::invalid_argument("RemoveTopicRecord for unknown topic id " + r.topic_id.to_string());
    const std::string name = t->name;
    _next->_topics.erase(name);
    _next->_topic_names.erase(r.topic_id);
    _next->_configs.erase(config_resource{config_resource_type::topic, name});
    _changed_topics.erase(r.topic_id);
    std::erase(_changes.changed_topics, r.topic_id);
    if (std::erase(_changes.created_topics, r.topic_id) == 0) _changes.deleted_topics.emplace_back(r.topic_id, name);
    _changes.configs_changed = true;
}

void metadata_delta::replay_one(const records::config_record& r) {
    config_resource key{static_cast<config_resource_type>(r.resource_type), r.resource_name};
    auto& configs = _next->_configs[key];
    if (r.value)
        configs[r.name] = *r.value;
    else
        configs.erase(r.name);
    if (configs.empty()) _next->_configs.erase(key);
    _changes.configs_changed = true;
}

void metadata_delta::replay_one(const records::fence_broker_record& r) {
    auto it = _next->_brokers.find(r.id);
    if (it != _next->_brokers.end() && it->second.epoch == r.epoch) it->second.fenced = true;
    _changes.brokers_changed = true;
}

void metadata_delta::replay_one(const records::unfence_broker_record& r) {
    auto it = _next->_brokers.find(r.id);
    if (it != _next->_brokers.end() && it->second.epoch == r.epoch) it->second.fenced = false;
    _changes.brokers_changed = true;
}

void metadata_delta::replay_one(const records::broker_registration_change_record& r) {
    auto it = _next->_brokers.find(r.broker_id);
    if (it == _next->_brokers.end() || it->second.epoch != r.broker_epoch) return;
    // Kafka's BrokerRegistrationFencingChange: 1 fence, 0 no change, -1 unfence.
    if (r.fenced == 1) it->second.fenced = true;
    if (r.fenced == -1) it->second.fenced = false;
    // BrokerRegistrationInControlledShutdownChange: 1 entering, 0 no change.
    if (r.in_controlled_shutdown == 1) it->second.in_controlled_shutdown = true;
    _changes.brokers_changed = true;
}

void metadata_delta::replay_one(const records::feature_level_record& r) {
    // Level 0 removes a finalized feature (Kafka's FeaturesDelta).
    if (r.feature_level == 0)
        _next->_features.erase(r.name);
    else
        _next->_features[r.name] = r.feature_level;
}

void metadata_delta::replay_one(const records::producer_ids_record& r) { _next->_next_producer_id = r.next_producer_id; }

void metadata_delta::replay_one(const records::access_control_entry_record& r) { _next->_acls[r.id] = r; }

void metadata_delta::replay_one(const records::remove_access_control_entry_record& r) { _next->_acls.erase(r.id); }

void metadata_delta::replay_one(const records::user_scram_credential_record& r) {
    _next->_scram[r.name][r.mechanism] = r;
}

void metadata_delta::replay_one(const records::remove_user_scram_credential_record& r) {
    auto user = _next->_scram.find(r.name);
    if (user == _next->_scram.end()) return;
    user->second.erase(r.mechanism);
    if (user->second.empty()) _next->_scram.erase(user);
}

void metadata_delta::replay_one(const records::client_quota_record& r) {
    client_quota_entity entity;
    for (const auto& e : r.entity) entity[e.entity_type] = e.entity_name;
    _changes.client_quotas_changed = true;
    if (!r.remove) {
        _next->_client_quotas[entity][r.key] = r.value;
        return;
    }
    auto found = _next->_client_quotas.find(entity);
    if (found == _next->_client_quotas.end()) return;
    found->second.erase(r.key);
    if (found->second.empty()) _next->_client_quotas.erase(found);
}

void metadata_delta::replay_one(const records::delegation_token_record& r) { _next->_tokens[r.token_id] = r; }

void metadata_delta::replay_one(const records::remove_delegation_token_record& r) {
    auto found = _next->_tokens.find(r.token_id);
    if (found != _next->_tokens.end()) _next->_tokens.erase(found);
}

const records::delegation_token_record* metadata_image::delegation_token(std::string_view token_id) const {
    auto found = _tokens.find(token_id);
    return found == _tokens.end() ? nullptr : &found->second;
}

const records::user_scram_credential_record* metadata_image::scram_credential(std::string_view user,
                                                                              int8_t mechanism) const {
    auto found = _scram.find(user);
    if (found == _scram.end()) return nullptr;
    auto m = found->second.find(mechanism);
    return m == found->second.end() ? nullptr : &m->second;
}

std::shared_ptr<const metadata_image> metadata_delta::apply() {
    if (!_next) _next = std::make_shared<metadata_image>(*_base);
    for (auto& [id, topic] : _changed_topics) _next->_topics[topic->name] = std::move(topic);
    _changed_topics.clear();
    if (_end_offset >= 0) _next->_end_offset = _end_offset;
    std::shared_ptr<const metadata_image> result = std::move(_next);
    _base = result;
    return result;
}

}  // namespace strata::metadata
