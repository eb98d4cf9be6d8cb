#include "strata/metadata/elections.h"

#include <algorithm>
#include <optional>
#include <string>

#include "strata/common/kafka_error.h"

namespace strata::metadata {

namespace msg = protocol::messages;

namespace {

constexpr int8_t recovering = 1;  // Kafka's LeaderRecoveryState

int16_t code(kafka_error e) { return static_cast<int16_t>(e); }

bool contains(const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::optional<bool> parse_bool(const config_map& configs, std::string_view key) {
    auto it = configs.find(key);
    if (it == configs.end()) return std::nullopt;
    return it->second == "true";
}

struct outcome {
    kafka_error error = kafka_error::none;
    std::optional<records::partition_change_record> change;
};

records::partition_change_record change_for(const topic_image& topic, const partition_state& p) {
    records::partition_change_record change;
    change.topic_id = topic.id;
    change.partition_id = p.partition;
    return change;
}

outcome elect_one(const metadata_image& image, const topic_image& topic, const partition_state& p,
                  election_type type) {
    if (type == election_type::preferred) {
        const int32_t preferred = p.replicas.empty() ? no_leader : p.replicas.front();
        if (p.leader == preferred) return {kafka_error::election_not_needed, {}};
        if (!contains(p.isr, preferred) || !may_lead(image, preferred))
            return {kafka_error::preferred_leader_not_available, {}};
        auto change = change_for(topic, p);
        change.leader = preferred;
        return {kafka_error::none, change};
    }
    if (p.leader != no_leader) return {kafka_error::election_not_needed, {}};
    for (int32_t id : p.replicas) {
        if (contains(p.isr, id) && may_lead(image, id)) {
            auto change = change_for(topic, p);
            change.leader = id;
            return {kafka_error::none, change};
        }
    }
    if (auto change = unclean_election(image, topic, p)) return {kafka_error::none, change};
    return {kafka_error::eligible_leaders_not_available, {}};
}

}  // namespace

bool unclean_election_enabled(const metadata_image& image, std::string_view topic, bool static_default) {
    constexpr std::string_view key = "unclean.leader.election.enable";
    if (auto v = parse_bool(image.configs({config_resource_type::topic, std::string(topic)}), key)) return *v;
    if (auto v = parse_bool(image.configs({config_resource_type::broker, ""}), key)) return *v;
    return static_default;
}

bool may_lead(const metadata_image& image, int32_t broker_id, int32_t excluded) {
    if (broker_id == excluded) return false;
    const broker_registration* b = image.broker(broker_id);
    return b && !b->fenced && !b->in_controlled_shutdown;
}

std::optional<records::partition_change_record> unclean_election(const metadata_image& image,
                                                                  const topic_image& topic, const partition_state& p,
                                                                  int32_t excluded) {
    for (int32_t id : p.replicas) {
        if (!may_lead(image, id, excluded)) continue;
        auto change = change_for(topic, p);
        change.leader = id;
        change.isr = std::vector<int32_t>{id};
        change.leader_recovery_state = recovering;
        return change;
    }
    return std::nullopt;
}

std::vector<record> elect_leaders(const metadata_image& image, const msg::elect_leaders_request& request,
                                  int16_t version, msg::elect_leaders_response& response) {
    const auto type = version >= 1 ? static_cast<election_type>(request.election_type) : election_type::preferred;
    std::vector<record> out;
    if (type != election_type::preferred && type != election_type::unclean) {
        response.error_code = code(kafka_error::invalid_request);
        return out;
    }
    auto result_for = [&response](const std::string& topic) -> msg::elect_leaders_response::replica_election_result& {
        for (auto& r : response.replica_election_results)
            if (r.topic == topic) return r;
        auto& r = response.replica_election_results.emplace_back();
        r.topic = topic;
        return r;
    };
    auto record_outcome = [&](const std::string& topic, int32_t partition, const outcome& o, bool quiet_if_not_needed) {
        if (o.change) out.emplace_back(*o.change);
        if (quiet_if_not_needed && o.error == kafka_error::election_not_needed) return;
        auto& r = result_for(topic).partition_result.emplace_back();
        r.partition_id = partition;
        r.error_code = code(o.error);
        if (o.error != kafka_error::none) r.error_message = std::string(kafka_error_name(o.error));
    };
    if (!request.topic_partitions) {
        for (const auto& [name, topic] : image.topics())
            for (const auto& p : topic->partitions) record_outcome(name, p.partition, elect_one(image, *topic, p, type), true);
        return out;
    }
    for (const auto& tp : *request.topic_partitions) {
        const topic_image* topic = image.topic(tp.topic);
        for (int32_t partition : tp.partitions) {
            if (!topic || partition < 0 || partition >= static_cast<int32_t>(topic->partitions.size())) {
                record_outcome(tp.topic, partition, {kafka_error::unknown_topic_or_partition, {}}, false);
                continue;
            }
            record_outcome(tp.topic, partition, elect_one(image, *topic, topic->partitions[partition], type), false);
        }
    }
    return out;
}

}  // namespace strata::metadata
