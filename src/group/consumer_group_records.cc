#include "consumer_group_records.h"

#include <algorithm>

#include "strata/protocol/coordinator/consumer_group_current_member_assignment_key.h"
#include "strata/protocol/coordinator/consumer_group_current_member_assignment_value.h"
#include "strata/protocol/coordinator/consumer_group_member_metadata_key.h"
#include "strata/protocol/coordinator/consumer_group_member_metadata_value.h"
#include "strata/protocol/coordinator/consumer_group_metadata_key.h"
#include "strata/protocol/coordinator/consumer_group_metadata_value.h"
#include "strata/protocol/coordinator/consumer_group_partition_metadata_key.h"
#include "strata/protocol/coordinator/consumer_group_partition_metadata_value.h"
#include "strata/protocol/coordinator/consumer_group_target_assignment_member_key.h"
#include "strata/protocol/coordinator/consumer_group_target_assignment_member_value.h"
#include "strata/protocol/coordinator/consumer_group_target_assignment_metadata_key.h"
#include "strata/protocol/coordinator/consumer_group_target_assignment_metadata_value.h"

namespace strata::group {

namespace coord = protocol::coordinator;

namespace {

// Every value of these records is at version 0 (flexible).
constexpr int16_t value_version = 0;

template <typename Key>
Key group_key(const std::string& group_id) {
    Key k;
    k.group_id = group_id;
    return k;
}

template <typename Key>
Key member_key(const std::string& group_id, const std::string& member_id) {
    Key k;
    k.group_id = group_id;
    k.member_id = member_id;
    return k;
}

// The wire form of an assignment: topics in id order, partitions ascending.
template <typename TopicPartitions>
std::vector<TopicPartitions> to_records(const partition_assignment& a) {
    std::vector<TopicPartitions> out;
    for (const auto& [topic, parts] : a) {
        if (parts.empty()) continue;
        auto& t = out.emplace_back();
        t.topic_id = topic;
        t.partitions.assign(parts.begin(), parts.end());
    }
    return out;
}

template <typename TopicPartitions>
partition_assignment from_records(const std::vector<TopicPartitions>& topics) {
    partition_assignment out;
    for (const auto& t : topics)
        if (!t.partitions.empty()) out[t.topic_id].insert(t.partitions.begin(), t.partitions.end());
    return out;
}

bool same_subscription(const consumer_member& a, const consumer_member& b) {
    return a.instance_id == b.instance_id && a.rack_id == b.rack_id && a.client_id == b.client_id &&
           a.client_host == b.client_host && a.subscribed_topics == b.subscribed_topics &&
           a.subscribed_topic_regex == b.subscribed_topic_regex &&
           a.rebalance_timeout_ms == b.rebalance_timeout_ms && a.server_assignor == b.server_assignor;
}

const partition_assignment& target_in(const consumer_group_state& s, const std::string& member_id) {
    static const partition_assignment none;
    auto it = s.target.find(member_id);
    return it == s.target.end() ? none : it->second;
}

bool same_current(const consumer_group_state& sa, const consumer_member& a, const consumer_group_state& sb,
                  const consumer_member& b) {
    return a.epoch == b.epoch && a.previous_epoch == b.previous_epoch && a.assigned == b.assigned &&
           a.pending_revocation == b.pending_revocation &&
           reconciliation_state(a, target_in(sa, a.member_id)) == reconciliation_state(b, target_in(sb, b.member_id));
}

// ---- records of one kind ------------------------------------------------------------

offsets_record group_epoch_record(const std::string& group_id, const consumer_group_state* s) {
    offsets_record r{
        versioned(group_key<coord::consumer_group_metadata_key>(group_id), consumer_record_key::group_metadata),
        std::nullopt};
    if (s) {
        coord::consumer_group_metadata_value v;
        v.epoch = s->group_epoch;
        r.value = versioned(v, value_version);
    }
    return r;
}

offsets_record partition_metadata_record(const std::string& group_id, const consumer_group_state* s,
                                         const topic_catalog& topics) {
    offsets_record r{versioned(group_key<coord::consumer_group_partition_metadata_key>(group_id),
                               consumer_record_key::partition_metadata),
                     std::nullopt};
    if (s) {
        coord::consumer_group_partition_metadata_value v;
        for (const auto& [name, count] : s->subscribed_metadata) {
            auto& t = v.topics.emplace_back();
            if (auto it = topics.find(name); it != topics.end()) t.topic_id = it->second.id;
            t.topic_name = name;
            t.num_partitions = count;
        }
        r.value = versioned(v, value_version);
    }
    return r;
}

offsets_record member_metadata_record(const std::string& group_id, const std::string& member_id,
                                      const consumer_member* m) {
    offsets_record r{versioned(member_key<coord::consumer_group_member_metadata_key>(group_id, member_id),
                               consumer_record_key::member_metadata),
                     std::nullopt};
    if (m) {
        coord::consumer_group_member_metadata_value v;
        v.instance_id = m->instance_id;
        v.rack_id = m->rack_id;
        v.client_id = m->client_id;
        v.client_host = m->client_host;
        v.subscribed_topic_names = m->subscribed_topics;
        // Null without a regex, as Kafka writes it for a member that has none.
        v.subscribed_topic_regex = m->subscribed_topic_regex.empty() ? std::nullopt
                                                                     : std::optional(m->subscribed_topic_regex);
        v.rebalance_timeout_ms = m->rebalance_timeout_ms;
        v.server_assignor = m->server_assignor;
        r.value = versioned(v, value_version);
    }
    return r;
}

offsets_record target_epoch_record(const std::string& group_id, const consumer_group_state* s) {
    offsets_record r{versioned(group_key<coord::consumer_group_target_assignment_metadata_key>(group_id),
                               consumer_record_key::target_assignment_metadata),
                     std::nullopt};
    if (s) {
        coord::consumer_group_target_assignment_metadata_value v;
        v.assignment_epoch = s->assignment_epoch;
        r.value = versioned(v, value_version);
    }
    return r;
}

offsets_record target_member_record(const std::string& group_id, const std::string& member_id,
                                    const partition_assignment* target) {
    offsets_record r{versioned(member_key<coord::consumer_group_target_assignment_member_key>(group_id, member_id),
                               consumer_record_key::target_assignment_member),
                     std::nullopt};
    if (target) {
        coord::consumer_group_target_assignment_member_value v;
        v.topic_partitions = to_records<coord::consumer_group_target_assignment_member_value::topic_partition>(*target);
        r.value = versioned(v, value_version);
    }
    return r;
}

offsets_record current_assignment_record(const std::string& group_id, const std::string& member_id,
                                         const consumer_group_state* s, const consumer_member* m) {
    offsets_record r{versioned(member_key<coord::consumer_group_current_member_assignment_key>(group_id, member_id),
                               consumer_record_key::current_member_assignment),
                     std::nullopt};
    if (s && m) {
        using topic_partitions = coord::consumer_group_current_member_assignment_value::topic_partitions;
        coord::consumer_group_current_member_assignment_value v;
        v.member_epoch = m->epoch;
        v.previous_member_epoch = m->previous_epoch;
        v.state = static_cast<int8_t>(reconciliation_state(*m, target_in(*s, member_id)));
        v.assigned_partitions = to_records<topic_partitions>(m->assigned);
        v.partitions_pending_revocation = to_records<topic_partitions>(m->pending_revocation);
        r.value = versioned(v, value_version);
    }
    return r;
}

}  // namespace

std::vector<offsets_record> consumer_group_tombstones(const std::string& group_id, const consumer_group_state& state) {
    std::vector<offsets_record> out;
    for (const auto& [id, m] : state.members) {
        out.push_back(current_assignment_record(group_id, id, nullptr, nullptr));
        out.push_back(target_member_record(group_id, id, nullptr));
        out.push_back(member_metadata_record(group_id, id, nullptr));
    }
    out.push_back(target_epoch_record(group_id, nullptr));
    out.push_back(partition_metadata_record(group_id, nullptr, {}));
    out.push_back(group_epoch_record(group_id, nullptr));
    return out;
}

std::vector<offsets_record> consumer_group_records(const std::string& group_id, const consumer_group_state& before,
                                                   const consumer_group_state& after, const topic_catalog& topics) {
    std::vector<offsets_record> out;
    // Members that left: their assignment, target and subscription go.
    for (const auto& [id, m] : before.members) {
        if (after.members.contains(id)) continue;
        out.push_back(current_assignment_record(group_id, id, nullptr, nullptr));
        out.push_back(target_member_record(group_id, id, nullptr));
        out.push_back(member_metadata_record(group_id, id, nullptr));
    }
    if (after.members.empty() && before.members.empty()) return out;  // nothing persisted changes
    for (const auto& [id, m] : after.members) {
        auto it = before.members.find(id);
        if (it == before.members.end() || !same_subscription(it->second, m))
            out.push_back(member_metadata_record(group_id, id, &m));
    }
    if (before.subscribed_metadata != after.subscribed_metadata || before.members.empty())
        out.push_back(partition_metadata_record(group_id, &after, topics));
    if (before.group_epoch != after.group_epoch || before.members.empty())
        out.push_back(group_epoch_record(group_id, &after));
    for (const auto& [id, target] : after.target) {
        if (!after.members.contains(id)) continue;
        auto it = before.target.find(id);
        if (it == before.target.end() || it->second != target)
            out.push_back(target_member_record(group_id, id, &target));
    }
    if (before.assignment_epoch != after.assignment_epoch || before.members.empty())
        out.push_back(target_epoch_record(group_id, &after));
    for (const auto& [id, m] : after.members) {
        auto it = before.members.find(id);
        if (it == before.members.end() || !same_current(before, it->second, after, m))
            out.push_back(current_assignment_record(group_id, id, &after, &m));
    }
    return out;
}

std::optional<consumer_group_state> restored_state(const loaded_consumer_group& loaded) {
    if (!loaded.seen_epoch) return std::nullopt;
    consumer_group_state s = loaded.state;
    for (auto& [id, m] : s.members) {
        m.member_id = id;
        if (auto it = loaded.current.find(id); it != loaded.current.end()) {
            m.epoch = it->second.epoch;
            m.previous_epoch = it->second.previous_epoch;
            m.assigned = it->second.assigned;
            m.pending_revocation = it->second.pending_revocation;
        }
    }
    for (auto it = s.target.begin(); it != s.target.end();)
        it = s.members.contains(it->first) ? std::next(it) : s.target.erase(it);
    return s;
}

void replay_consumer_group_record(int16_t key_version, protocol::reader& key,
                                  const std::optional<std::span<const uint8_t>>& value, loaded_consumer_groups& out) {
    // The value, if it is one this build reads (version 0); none for a tombstone.
    auto decoded = [&]<typename Value>(Value& v) {
        if (!value) return false;
        protocol::reader r(*value);
        const int16_t version = r.read_int16();
        if (version < Value::lowest_supported_version || version > Value::highest_supported_version) return false;
        v.decode(r, version);
        return true;
    };
    switch (key_version) {
        case consumer_record_key::group_metadata: {
            coord::consumer_group_metadata_key k;
            k.decode(key, key_version);
            coord::consumer_group_metadata_value v;
            if (!value) {
                out.erase(k.group_id);  // written last when a group goes
            } else if (decoded(v)) {
                auto& g = out[k.group_id];
                g.seen_epoch = true;
                g.state.group_epoch = v.epoch;
            }
            break;
        }
        case consumer_record_key::partition_metadata: {
            coord::consumer_group_partition_metadata_key k;
            k.decode(key, key_version);
            coord::consumer_group_partition_metadata_value v;
            if (!value) {
                if (auto it = out.find(k.group_id); it != out.end()) it->second.state.subscribed_metadata.clear();
            } else if (decoded(v)) {
                auto& metadata = out[k.group_id].state.subscribed_metadata;
                metadata.clear();
                for (const auto& t : v.topics) metadata[t.topic_name] = t.num_partitions;
            }
            break;
        }
        case consumer_record_key::member_metadata: {
            coord::consumer_group_member_metadata_key k;
            k.decode(key, key_version);
            coord::consumer_group_member_metadata_value v;
            if (!value) {
                if (auto it = out.find(k.group_id); it != out.end()) it->second.state.members.erase(k.member_id);
            } else if (decoded(v)) {
                auto& m = out[k.group_id].state.members[k.member_id];
                m.member_id = k.member_id;
                m.instance_id = v.instance_id;
                m.rack_id = v.rack_id;
                m.client_id = v.client_id;
                m.client_host = v.client_host;
                m.subscribed_topics = v.subscribed_topic_names;
                std::sort(m.subscribed_topics.begin(), m.subscribed_topics.end());
                m.subscribed_topic_regex = v.subscribed_topic_regex.value_or("");
                if (v.rebalance_timeout_ms >= 0) m.rebalance_timeout_ms = v.rebalance_timeout_ms;
                m.server_assignor = v.server_assignor;
            }
            break;
        }
        case consumer_record_key::target_assignment_metadata: {
            coord::consumer_group_target_assignment_metadata_key k;
            k.decode(key, key_version);
            coord::consumer_group_target_assignment_metadata_value v;
            if (!value) {
                if (auto it = out.find(k.group_id); it != out.end()) it->second.state.assignment_epoch = 0;
            } else if (decoded(v)) {
                out[k.group_id].state.assignment_epoch = v.assignment_epoch;
            }
            break;
        }
        case consumer_record_key::target_assignment_member: {
            coord::consumer_group_target_assignment_member_key k;
            k.decode(key, key_version);
            coord::consumer_group_target_assignment_member_value v;
            if (!value) {
                if (auto it = out.find(k.group_id); it != out.end()) it->second.state.target.erase(k.member_id);
            } else if (decoded(v)) {
                out[k.group_id].state.target[k.member_id] = from_records(v.topic_partitions);
            }
            break;
        }
        case consumer_record_key::current_member_assignment: {
            coord::consumer_group_current_member_assignment_key k;
            k.decode(key, key_version);
            coord::consumer_group_current_member_assignment_value v;
            if (!value) {
                if (auto it = out.find(k.group_id); it != out.end()) it->second.current.erase(k.member_id);
            } else if (decoded(v)) {
                auto& c = out[k.group_id].current[k.member_id];
                c.epoch = v.member_epoch;
                c.previous_epoch = v.previous_member_epoch;
                c.assigned = from_records(v.assigned_partitions);
                c.pending_revocation = from_records(v.partitions_pending_revocation);
            }
            break;
        }
        default:
            break;
    }
}

}  // namespace strata::group
