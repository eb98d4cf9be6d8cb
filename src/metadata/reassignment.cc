#include "strata/metadata/reassignment.h"

#include <algorithm>
#include <set>
#include <string>

#include "strata/common/kafka_error.h"
#include "strata/metadata/elections.h"

namespace strata::metadata {

namespace msg = protocol::messages;

namespace {

int16_t code(kafka_error e) { return static_cast<int16_t>(e); }

bool contains(const std::vector<int32_t>& ids, int32_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::vector<int32_t> without(const std::vector<int32_t>& from, const std::vector<int32_t>& gone) {
    std::vector<int32_t> out;
    for (int32_t id : from)
        if (!contains(gone, id)) out.push_back(id);
    return out;
}

bool reassigning(const partition_state& p) { return !p.adding_replicas.empty() || !p.removing_replicas.empty(); }

records::partition_change_record change_for(const protocol::uuid& topic_id, const partition_state& p) {
    records::partition_change_record change;
    change.topic_id = topic_id;
    change.partition_id = p.partition;
    return change;
}

// The first of `replicas` in `isr` that may lead, else no_leader.
int32_t first_leader(const metadata_image& image, const std::vector<int32_t>& replicas,
                     const std::vector<int32_t>& isr) {
    for (int32_t id : replicas)
        if (contains(isr, id) && may_lead(image, id)) return id;
    return no_leader;
}

struct outcome {
    kafka_error error = kafka_error::none;
    std::string message;
};

// Kafka's validateManualPartitionAssignment.
outcome invalid_target(const metadata_image& image, const std::vector<int32_t>& target) {
    if (target.empty()) return {kafka_error::invalid_replica_assignment, "The manual partition assignment includes an empty replica list."};
    std::set<int32_t> seen;
    for (int32_t id : target) {
        if (id < 0)
            return {kafka_error::invalid_replica_assignment,
                    "The manual partition assignment includes an invalid broker id " + std::to_string(id) + "."};
        if (!seen.insert(id).second)
            return {kafka_error::invalid_replica_assignment,
                    "The manual partition assignment includes the broker " + std::to_string(id) + " more than once."};
        if (!image.broker(id))
            return {kafka_error::invalid_replica_assignment, "The manual partition assignment includes broker " +
                                                                 std::to_string(id) + ", but no such broker is registered."};
    }
    return {};
}

// Kafka's PartitionReassignmentRevert: back to the replicas before the
// reassignment (the current ones minus those being added).
records::partition_change_record cancel(const metadata_image& image, const protocol::uuid& topic_id,
                                        const partition_state& p) {
    auto change = change_for(topic_id, p);
    const auto original = without(p.replicas, p.adding_replicas);
    auto isr = without(p.isr, p.adding_replicas);
    // Only adding replicas were in sync: an unclean revert, as Kafka's.
    if (isr.empty()) isr = original;
    change.replicas = original;
    change.adding_replicas = std::vector<int32_t>{};
    change.removing_replicas = std::vector<int32_t>{};
    if (isr != p.isr) change.isr = isr;
    if (!contains(isr, p.leader)) change.leader = first_leader(image, original, isr);
    return change;
}

// Kafka's PartitionReassignmentReplicas over PartitionReassignmentRevert:
// a move is planned from the original replicas (the current ones minus any
// still being added by a move under way, which a new target replaces); the
// replicas while moving are the target followed by the original ones that
// leave. Replicas of a replaced move that the new target drops leave the ISR.
records::partition_change_record start(const metadata_image& image, const protocol::uuid& topic_id,
                                       const partition_state& p, const std::vector<int32_t>& target) {
    auto change = change_for(topic_id, p);
    const auto original = without(p.replicas, p.adding_replicas);
    std::vector<int32_t> replicas = target;
    std::vector<int32_t> removing;
    for (int32_t id : original)
        if (!contains(target, id)) {
            replicas.push_back(id);
            removing.push_back(id);
        }
    std::vector<int32_t> adding = without(target, original);
    std::vector<int32_t> isr;
    for (int32_t id : p.isr)
        if (contains(replicas, id)) isr.push_back(id);
    // (An empty ISR is refused before: see in_sync_after.)
    if (replicas != p.replicas) change.replicas = replicas;
    if (removing != p.removing_replicas) change.removing_replicas = removing;
    if (adding != p.adding_replicas) change.adding_replicas = adding;
    if (isr != p.isr) change.isr = isr;
    if (!contains(replicas, p.leader)) change.leader = first_leader(image, replicas, isr);
    // The ISR may already hold every target replica (a replica dropped, an
    // order changed): then the reassignment completes in this record.
    partition_state moving = p;
    moving.replicas = replicas;
    moving.removing_replicas = removing;
    moving.adding_replicas = adding;
    complete_reassignment_if_needed(image, moving, change);
    return change;
}

// Whether a move of `p` to `target` keeps an in-sync replica: not so when
// only replicas of a move under way, which the new target drops, are in sync.
bool in_sync_after(const partition_state& p, const std::vector<int32_t>& target) {
    const auto original = without(p.replicas, p.adding_replicas);
    for (int32_t id : p.isr)
        if (contains(original, id) || contains(target, id)) return true;
    return false;
}

bool changes_anything(const records::partition_change_record& c) {
    return c.replicas || c.isr || c.adding_replicas || c.removing_replicas || c.leader != -2;
}

}  // namespace

bool complete_reassignment_if_needed(const metadata_image& image, const partition_state& p,
                                     records::partition_change_record& change) {
    if (!reassigning(p)) return false;
    const auto isr = change.isr ? *change.isr : p.isr;
    const auto target = without(p.replicas, p.removing_replicas);
    for (int32_t id : target)
        if (!contains(isr, id)) return false;
    const auto new_isr = without(isr, p.removing_replicas);
    if (new_isr.empty()) return false;
    change.replicas = target;
    change.isr = new_isr;
    change.adding_replicas = std::vector<int32_t>{};
    change.removing_replicas = std::vector<int32_t>{};
    const int32_t leader = change.leader != -2 ? change.leader : p.leader;
    if (!contains(target, leader)) change.leader = first_leader(image, target, new_isr);
    return true;
}

std::vector<record> alter_partition_reassignments(const metadata_image& image,
                                                  const msg::alter_partition_reassignments_request& request,
                                                  msg::alter_partition_reassignments_response& response) {
    std::vector<record> out;
    response.error_message.reset();
    for (const auto& t : request.topics) {
        auto& topic_result = response.responses.emplace_back();
        topic_result.name = t.name;
        const topic_image* topic = image.topic(t.name);
        for (const auto& rp : t.partitions) {
            auto& result = topic_result.partitions.emplace_back();
            result.partition_index = rp.partition_index;
            result.error_message.reset();
            auto fail = [&result](kafka_error e, std::string message) {
                result.error_code = code(e);
                result.error_message = message.empty() ? std::string(kafka_error_name(e)) : std::move(message);
            };
            if (!topic || rp.partition_index < 0 ||
                static_cast<size_t>(rp.partition_index) >= topic->partitions.size()) {
                fail(kafka_error::unknown_topic_or_partition, "");
                continue;
            }
            const partition_state& p = topic->partitions[static_cast<size_t>(rp.partition_index)];
            if (!rp.replicas) {
                if (!reassigning(p)) {
                    fail(kafka_error::no_reassignment_in_progress, "");
                    continue;
                }
                out.emplace_back(cancel(image, topic->id, p));
                continue;
            }
            if (auto bad = invalid_target(image, *rp.replicas); bad.error != kafka_error::none) {
                fail(bad.error, bad.message);
                continue;
            }
            if (!in_sync_after(p, *rp.replicas)) {
                fail(kafka_error::invalid_replica_assignment,
                     "No replica of the partition would be in sync after this reassignment.");
                continue;
            }
            auto change = start(image, topic->id, p, *rp.replicas);
            if (changes_anything(change)) out.emplace_back(change);
        }
    }
    return out;
}

void list_partition_reassignments(const metadata_image& image, const msg::list_partition_reassignments_request& request,
                                  msg::list_partition_reassignments_response& response) {
    response.error_message.reset();
    auto add = [&response](const std::string& name, const partition_state& p) {
        if (!reassigning(p)) return;
        if (response.topics.empty() || response.topics.back().name != name) response.topics.emplace_back().name = name;
        auto& r = response.topics.back().partitions.emplace_back();
        r.partition_index = p.partition;
        r.replicas = p.replicas;
        r.adding_replicas = p.adding_replicas;
        r.removing_replicas = p.removing_replicas;
    };
    if (!request.topics) {
        for (const auto& [name, topic] : image.topics())
            for (const auto& p : topic->partitions) add(name, p);
        return;
    }
    for (const auto& t : *request.topics) {
        const topic_image* topic = image.topic(t.name);
        if (!topic) continue;
        for (int32_t index : t.partition_indexes)
            if (index >= 0 && static_cast<size_t>(index) < topic->partitions.size())
                add(t.name, topic->partitions[static_cast<size_t>(index)]);
    }
}

std::vector<record> unregister_broker(const metadata_image& image, int32_t broker_id,
                                      msg::unregister_broker_response& response) {
    response.error_message.reset();
    const broker_registration* b = image.broker(broker_id);
    if (!b) {
        response.error_code = code(kafka_error::broker_id_not_registered);
        response.error_message = "Broker ID " + std::to_string(broker_id) + " is not currently registered";
        return {};
    }
    std::vector<record> out;
    for (const auto& [name, topic] : image.topics()) {
        for (const auto& p : topic->partitions) {
            if (p.leader != broker_id && !contains(p.isr, broker_id)) continue;
            auto change = change_for(topic->id, p);
            auto isr = without(p.isr, {broker_id});
            // The last in-sync replica stays, so that the partition can lead
            // again should it come back (Kafka's rule without unclean election).
            if (isr.empty()) isr = {broker_id};
            if (isr != p.isr) change.isr = isr;
            if (p.leader == broker_id) {
                int32_t next = no_leader;
                for (int32_t id : p.replicas)
                    if (contains(isr, id) && may_lead(image, id, broker_id)) {
                        next = id;
                        break;
                    }
                change.leader = next;
            }
            if (changes_anything(change)) out.emplace_back(change);
        }
    }
    records::unregister_broker_record r;
    r.broker_id = broker_id;
    r.broker_epoch = b->epoch;
    out.emplace_back(r);
    return out;
}

}  // namespace strata::metadata
