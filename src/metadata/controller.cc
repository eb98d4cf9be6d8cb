#include "strata/metadata/controller.h"

#include <algorithm>
#include <set>

#include "strata/common/kafka_error.h"
#include "strata/metadata/elections.h"
#include "strata/metadata/reassignment.h"

namespace strata::metadata {

namespace {

int16_t code(kafka_error e) { return static_cast<int16_t>(e); }

constexpr size_t max_topic_name_length = 249;

std::string normalize_for_collision(std::string_view name) {
    std::string out(name);
    std::replace(out.begin(), out.end(), '.', '_');
    return out;
}

// Brokers that can take new replicas: registered and not fenced, ordered so
// that consecutive entries alternate racks (Kafka's rack-aware placement
// interleaves racks so that a partition's replicas land on different ones).
std::vector<int32_t> placement_order(const metadata_image& image) {
    std::map<std::string, std::vector<int32_t>> by_rack;
    for (const auto& [id, b] : image.brokers())
        if (!b.fenced && !b.in_controlled_shutdown) by_rack[b.rack.value_or("")].push_back(id);
    std::vector<int32_t> order;
    for (size_t round = 0;; ++round) {
        bool any = false;
        for (auto& [rack, ids] : by_rack) {
            if (round < ids.size()) {
                order.push_back(ids[round]);
                any = true;
            }
        }
        if (!any) break;
    }
    return order;
}

records::partition_record new_partition(const protocol::uuid& topic_id, int32_t index, std::vector<int32_t> replicas) {
    records::partition_record p;
    p.topic_id = topic_id;
    p.partition_id = index;
    p.isr = replicas;
    p.leader = replicas.empty() ? no_leader : replicas.front();
    p.replicas = std::move(replicas);
    p.leader_epoch = 0;
    p.partition_epoch = 0;
    return p;
}

std::optional<std::string> invalid_assignment(const metadata_image& image, const std::vector<int32_t>& replicas) {
    if (replicas.empty()) return "a partition needs at least one replica";
    std::set<int32_t> seen;
    for (int32_t id : replicas) {
        if (!seen.insert(id).second) return "duplicate broker " + std::to_string(id) + " in a replica assignment";
        if (!image.broker(id)) return "broker " + std::to_string(id) + " is not registered";
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> invalid_topic_name(std::string_view name) {
    if (name.empty()) return "Topic name is illegal, it can't be empty";
    if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
    if (name.size() > max_topic_name_length)
        return "Topic name is illegal, it can't be longer than 249 characters";
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-';
        if (!ok)
            return "Topic name \"" + std::string(name) +
                   "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
    }
    return std::nullopt;
}

bool topic_names_collide(std::string_view a, std::string_view b) {
    return a != b && normalize_for_collision(a) == normalize_for_collision(b);
}

controller::controller(controller_options options, uuid_source new_uuid)
    : _options(std::move(options)), _new_uuid(std::move(new_uuid)) {}

std::optional<std::vector<std::vector<int32_t>>> controller::place_replicas(const metadata_image& image,
                                                                            int32_t partitions,
                                                                            int16_t replication_factor,
                                                                            int32_t first_partition,
                                                                            std::string& error) const {
    auto order = placement_order(image);
    if (replication_factor <= 0) {
        error = "Replication factor must be larger than 0.";
        return std::nullopt;
    }
    if (static_cast<size_t>(replication_factor) > order.size()) {
        error = "Unable to replicate the partition " + std::to_string(replication_factor) +
                " time(s): The target replication factor of " + std::to_string(replication_factor) +
                " cannot be reached because only " + std::to_string(order.size()) + " broker(s) are registered.";
        return std::nullopt;
    }
    std::vector<std::vector<int32_t>> out;
    const size_t n = order.size();
    for (int32_t p = 0; p < partitions; ++p) {
        std::vector<int32_t> replicas;
        const size_t first = (_placement_start + static_cast<size_t>(first_partition + p)) % n;
        for (int16_t r = 0; r < replication_factor; ++r) replicas.push_back(order[(first + static_cast<size_t>(r)) % n]);
        out.push_back(std::move(replicas));
    }
    return out;
}

std::vector<record> controller::create_topics(const metadata_image& image, const msg::create_topics_request& request,
                                              int16_t version, msg::create_topics_response& response) {
    std::vector<record> out;
    std::map<std::string, int> occurrences;
    for (const auto& t : request.topics) ++occurrences[t.name];
    std::vector<std::string> created_in_request;
    ++_placement_start;

    for (const auto& t : request.topics) {
        auto& result = response.topics.emplace_back();
        result.name = t.name;
        auto fail = [&](kafka_error e, std::string message) {
            result.error_code = code(e);
            result.error_message = std::move(message);
        };
        if (occurrences[t.name] > 1) {
            fail(kafka_error::invalid_request, "Duplicate topic name.");
            continue;
        }
        if (auto bad = invalid_topic_name(t.name)) {
            fail(kafka_error::invalid_topic_exception, *bad);
            continue;
        }
        if (image.topic(t.name)) {
            fail(kafka_error::topic_already_exists, "Topic '" + t.name + "' already exists.");
            continue;
        }
        const auto collides = [&](const std::string& other) { return topic_names_collide(t.name, other); };
        if (std::any_of(image.topics().begin(), image.topics().end(), [&](const auto& e) { return collides(e.first); }) ||
            std::any_of(created_in_request.begin(), created_in_request.end(), collides)) {
            fail(kafka_error::invalid_topic_exception,
                 "Topic '" + t.name + "' collides with an existing topic: names that differ only in '.' and '_' may not coexist.");
            continue;
        }
        std::vector<std::vector<int32_t>> assignment;
        if (!t.assignments.empty()) {
            if (t.num_partitions != -1 || t.replication_factor != -1) {
                fail(kafka_error::invalid_request,
                     "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.");
                continue;
            }
            std::optional<std::string> bad;
            for (size_t i = 0; i < t.assignments.size() && !bad; ++i) {
                if (t.assignments[i].partition_index != static_cast<int32_t>(i))
                    bad = "Partitions should be a consecutive 0-based integer sequence";
                else
                    bad = invalid_assignment(image, t.assignments[i].broker_ids);
                if (!bad) assignment.push_back(t.assignments[i].broker_ids);
            }
            if (bad) {
                fail(kafka_error::invalid_replica_assignment, *bad);
                continue;
            }
        } else {
            const int32_t partitions = t.num_partitions == -1 ? _options.default_num_partitions : t.num_partitions;
            const int16_t rf = t.replication_factor == -1 ? _options.default_replication_factor : t.replication_factor;
            if (partitions <= 0) {
                fail(kafka_error::invalid_partitions, "Number of partitions was set to an invalid non-positive value.");
                continue;
            }
            if (partitions > _options.max_partitions_per_request) {
                fail(kafka_error::policy_violation, "Too many partitions in one request.");
                continue;
            }
            std::string error;
            auto placed = place_replicas(image, partitions, rf, 0, error);
            if (!placed) {
                fail(kafka_error::invalid_replication_factor, error);
                continue;
            }
            assignment = std::move(*placed);
        }
        std::optional<std::string> bad_config;
        std::set<std::string> config_names;
        for (const auto& c : t.configs) {
            if (!config_names.insert(c.name).second) bad_config = "Duplicate config " + c.name;
            else if (!c.value) bad_config = "Null value not supported for topic configs: " + c.name;
            else if (_options.validate_topic_config) bad_config = _options.validate_topic_config(c.name, c.value);
            if (bad_config) break;
        }
        if (bad_config) {
            fail(kafka_error::invalid_config, *bad_config);
            continue;
        }

        result.topic_id = _new_uuid();
        result.num_partitions = static_cast<int32_t>(assignment.size());
        result.replication_factor = static_cast<int16_t>(assignment.front().size());
        if (version >= 5) {
            auto& configs = result.configs.emplace();
            for (const auto& c : t.configs) {
                auto& rc = configs.emplace_back();
                rc.name = c.name;
                rc.value = c.value;
                rc.config_source = 1;  // DYNAMIC_TOPIC_CONFIG
            }
        }
        created_in_request.push_back(t.name);
        if (request.validate_only) continue;
        records::topic_record topic;
        topic.name = t.name;
        topic.topic_id = result.topic_id;
        out.emplace_back(topic);
        for (const auto& c : t.configs) {
            records::config_record cr;
            cr.resource_type = static_cast<int8_t>(config_resource_type::topic);
            cr.resource_name = t.name;
            cr.name = c.name;
            cr.value = c.value;
            out.emplace_back(cr);
        }
        for (size_t i = 0; i < assignment.size(); ++i)
            out.emplace_back(new_partition(result.topic_id, static_cast<int32_t>(i), assignment[i]));
    }
    return out;
}

std::vector<record> controller::delete_topics(const metadata_image& image, const msg::delete_topics_request& request,
                                              int16_t version, msg::delete_topics_response& response) {
    std::vector<record> out;
    std::set<std::string> deleting;
    auto remove = [&](const topic_image* t, msg::delete_topics_response::deletable_topic_result& result) {
        if (!t) return;
        result.name = t->name;
        result.topic_id = t->id;
        if (!deleting.insert(t->name).second) return;  // named twice: one record
        records::remove_topic_record r;
        r.topic_id = t->id;
        out.emplace_back(r);
    };
    // v0-5 name topics in TopicNames; v6+ in Topics, by name or by id (KIP-516).
    for (const auto& name : request.topic_names) {
        auto& result = response.responses.emplace_back();
        result.name = name;
        const topic_image* t = image.topic(name);
        if (!t) {
            result.error_code = code(kafka_error::unknown_topic_or_partition);
            continue;
        }
        remove(t, result);
    }
    for (const auto& state : request.topics) {
        auto& result = response.responses.emplace_back();
        result.name = state.name;
        result.topic_id = state.topic_id;
        if (state.name && !state.topic_id.is_zero()) {
            result.error_code = code(kafka_error::invalid_request);
            result.error_message = "Both topic name and topic id were given.";
            continue;
        }
        const topic_image* t = state.name ? image.topic(*state.name) : image.topic(state.topic_id);
        if (!t) {
            result.error_code = code(state.name ? kafka_error::unknown_topic_or_partition : kafka_error::unknown_topic_id);
            continue;
        }
        remove(t, result);
    }
    return out;
}

std::vector<record> controller::create_partitions(const metadata_image& image,
                                                  const msg::create_partitions_request& request,
                                                  msg::create_partitions_response& response) {
    std::vector<record> out;
    std::map<std::string, int> occurrences;
    for (const auto& t : request.topics) ++occurrences[t.name];
    for (const auto& t : request.topics) {
        auto& result = response.results.emplace_back();
        result.name = t.name;
        auto fail = [&](kafka_error e, std::string message) {
            result.error_code = code(e);
            result.error_message = std::move(message);
        };
        if (occurrences[t.name] > 1) {
            fail(kafka_error::invalid_request, "Duplicate topic name.");
            continue;
        }
        const topic_image* topic = image.topic(t.name);
        if (!topic) {
            fail(kafka_error::unknown_topic_or_partition, "This server does not host this topic.");
            continue;
        }
        const auto current = static_cast<int32_t>(topic->partitions.size());
        if (t.count < current) {
            fail(kafka_error::invalid_partitions, "Topic currently has " + std::to_string(current) +
                                                      " partitions, which is higher than the requested " +
                                                      std::to_string(t.count) + ".");
            continue;
        }
        if (t.count == current) {
            fail(kafka_error::invalid_partitions, "Topic already has " + std::to_string(current) + " partitions.");
            continue;
        }
        const int32_t added = t.count - current;
        std::vector<std::vector<int32_t>> assignment;
        if (t.assignments) {
            if (static_cast<int32_t>(t.assignments->size()) != added) {
                fail(kafka_error::invalid_replica_assignment, "Attempted to add " + std::to_string(added) +
                                                                  " additional partition(s), but only " +
                                                                  std::to_string(t.assignments->size()) +
                                                                  " assignment(s) were specified.");
                continue;
            }
            std::optional<std::string> bad;
            for (const auto& a : *t.assignments)
                if (!bad) bad = invalid_assignment(image, a.broker_ids);
            if (bad) {
                fail(kafka_error::invalid_replica_assignment, *bad);
                continue;
            }
            for (const auto& a : *t.assignments) assignment.push_back(a.broker_ids);
        } else {
            std::string error;
            const auto rf = static_cast<int16_t>(topic->partitions.empty() ? 1 : topic->partitions[0].replicas.size());
            auto placed = place_replicas(image, added, rf, current, error);
            if (!placed) {
                fail(kafka_error::invalid_replication_factor, error);
                continue;
            }
            assignment = std::move(*placed);
        }
        if (request.validate_only) continue;
        for (int32_t i = 0; i < added; ++i)
            out.emplace_back(new_partition(topic->id, current + i, assignment[static_cast<size_t>(i)]));
    }
    return out;
}

std::vector<record> controller::register_broker(const metadata_image& image,
                                                const msg::broker_registration_request& request,
                                                int64_t next_broker_epoch, int64_t now_ms,
                                                msg::broker_registration_response& response, uint64_t connection) {
    const broker_registration* existing = image.broker(request.broker_id);
    // A broker whose previous incarnation is still within its session may not
    // register again under a different incarnation (Kafka's DUPLICATE_BROKER_REGISTRATION).
    // Only a session this controller has heard of counts: one it presumed
    // when it became active (the broker registered under an earlier
    // controller and has not heartbeated to this one) would otherwise hold
    // a restarted broker off for a whole session, e.g. a single node after
    // any restart, or a node killed with the controller it heartbeated to.
    if (existing && existing->incarnation_id != request.incarnation_id) {
        auto it = _sessions.find(request.broker_id);
        if (it != _sessions.end() && it->second.heard && now_ms < it->second.expires_ms && !existing->fenced) {
            response.error_code = code(kafka_error::duplicate_broker_registration);
            return {};
        }
    }
    // The previous incarnation's session ended without the controller
    // fencing it yet (the fencing loop had not run): its leaderships and ISR
    // places end here, as the fence would have ended them. Otherwise the
    // new incarnation, registered (fenced) with the image still naming it
    // leader at the old epoch, would lead with whatever its log kept, which
    // after an unclean stop may lack records the ISR has (and acknowledged).
    // A partition with no other replica keeps its leader and epoch: there is
    // no other log to diverge from, and a new epoch at every restart of a
    // single node cost KIP-848 consumers (librdkafka 2.12) their fetches
    // (test_consumer_groups_kip848: FENCED_LEADER_EPOCH answered for good,
    // not followed by an OffsetForLeaderEpoch).
    std::vector<record> out;
    if (existing && existing->incarnation_id != request.incarnation_id && !existing->fenced) {
        for (auto& change : move_leadership_off(image, request.broker_id)) {
            if (const auto* c = std::get_if<records::partition_change_record>(&change)) {
                const auto* topic = image.topic(c->topic_id);
                if (topic && static_cast<size_t>(c->partition_id) < topic->partitions.size() &&
                    topic->partitions[static_cast<size_t>(c->partition_id)].replicas.size() <= 1)
                    continue;
            }
            out.push_back(std::move(change));
        }
    }
    records::register_broker_record r;
    r.broker_id = request.broker_id;
    r.incarnation_id = request.incarnation_id;
    // Kafka's broker epoch: the registration record's own offset, after the
    // records above in the same batch.
    r.broker_epoch = next_broker_epoch + static_cast<int64_t>(out.size());
    r.rack = request.rack;
    r.fenced = true;  // unfenced by a heartbeat once the broker has caught up
    for (const auto& l : request.listeners) {
        auto& e = r.end_points.emplace_back();
        e.name = l.name;
        e.host = l.host;
        e.port = l.port;
        e.security_protocol = l.security_protocol;
    }
    for (const auto& f : request.features) {
        auto& rf = r.features.emplace_back();
        rf.name = f.name;
        rf.min_supported_version = f.min_supported_version;
        rf.max_supported_version = f.max_supported_version;
    }
    r.log_dirs = request.log_dirs;
    renew_session(request.broker_id, now_ms, connection);
    response.broker_epoch = r.broker_epoch;
    out.emplace_back(r);
    return out;
}

std::vector<record> controller::broker_heartbeat(const metadata_image& image,
                                                 const msg::broker_heartbeat_request& request, int64_t now_ms,
                                                 msg::broker_heartbeat_response& response, uint64_t connection) {
    const broker_registration* b = image.broker(request.broker_id);
    if (!b || b->epoch != request.broker_epoch) {
        response.error_code = code(b ? kafka_error::stale_broker_epoch : kafka_error::broker_id_not_registered);
        return {};
    }
    renew_session(request.broker_id, now_ms, connection);
    _metadata_offset[request.broker_id] = request.current_metadata_offset;
    response.is_caught_up = request.current_metadata_offset >= b->epoch;
    if (request.want_shut_down) return controlled_shutdown(image, *b, response);
    std::vector<record> out;
    bool fenced = b->fenced;
    if (request.want_fence && !b->fenced) {
        records::fence_broker_record f;
        f.id = b->id;
        f.epoch = b->epoch;
        out.emplace_back(f);
        fenced = true;
    } else if (!request.want_fence && b->fenced && response.is_caught_up) {
        records::unfence_broker_record u;
        u.id = b->id;
        u.epoch = b->epoch;
        out.emplace_back(u);
        auto elected = elect_leaders_after_unfence(image, b->id);
        out.insert(out.end(), elected.begin(), elected.end());
        fenced = false;
    }
    response.is_fenced = fenced;
    return out;
}

std::vector<record> controller::move_leadership_off(const metadata_image& image, int32_t broker_id) const {
    std::vector<record> out;
    auto usable = [&](int32_t id) {
        const broker_registration* b = image.broker(id);
        return id != broker_id && b && !b->fenced && !b->in_controlled_shutdown;
    };
    for (const auto& [name, topic] : image.topics()) {
        for (const auto& p : topic->partitions) {
            const bool in_isr = std::find(p.isr.begin(), p.isr.end(), broker_id) != p.isr.end();
            if (p.leader != broker_id && !in_isr) continue;
            records::partition_change_record change;
            change.topic_id = topic->id;
            change.partition_id = p.partition;
            std::vector<int32_t> isr;
            for (int32_t id : p.isr)
                if (id != broker_id) isr.push_back(id);
            // Never shrink the ISR to nothing: the last in-sync replica stays
            // in it, so that it can lead again when it returns (Kafka's rule
            // without unclean election).
            if (isr.empty()) isr = {broker_id};
            if (isr != p.isr) change.isr = isr;
            if (p.leader == broker_id) {
                auto next = std::find_if(p.replicas.begin(), p.replicas.end(), [&](int32_t id) {
                    return usable(id) && std::find(isr.begin(), isr.end(), id) != isr.end();
                });
                change.leader = next == p.replicas.end() ? no_leader : *next;
                // No in-sync replica left: a live one from outside the ISR
                // may lead where unclean.leader.election.enable allows it.
                if (change.leader == no_leader &&
                    unclean_election_enabled(image, name, _options.unclean_leader_election_enable)) {
                    if (auto unclean = unclean_election(image, *topic, p, broker_id)) {
                        out.emplace_back(*unclean);
                        continue;
                    }
                }
            }
            if (change.isr || change.leader != -2) out.emplace_back(change);
        }
    }
    return out;
}

std::vector<record> controller::elect_leaders_after_unfence(const metadata_image& image, int32_t broker_id) const {
    std::vector<record> out;
    auto usable = [&](int32_t id) {
        if (id == broker_id) return true;  // unfenced by the record before these
        const broker_registration* b = image.broker(id);
        return b && !b->fenced && !b->in_controlled_shutdown;
    };
    for (const auto& [name, topic] : image.topics()) {
        for (const auto& p : topic->partitions) {
            if (p.leader != no_leader) continue;
            if (std::find(p.isr.begin(), p.isr.end(), broker_id) == p.isr.end()) {
                // A leaderless partition whose ISR is still gone: the
                // returning replica may lead it uncleanly where allowed.
                const bool isr_alive = std::any_of(p.isr.begin(), p.isr.end(), [&](int32_t id) { return usable(id); });
                if (isr_alive || std::find(p.replicas.begin(), p.replicas.end(), broker_id) == p.replicas.end() ||
                    !unclean_election_enabled(image, name, _options.unclean_leader_election_enable))
                    continue;
                records::partition_change_record change;
                change.topic_id = topic->id;
                change.partition_id = p.partition;
                change.leader = broker_id;
                change.isr = std::vector<int32_t>{broker_id};
                change.leader_recovery_state = 1;  // RECOVERING
                out.emplace_back(change);
                continue;
            }
            // Kafka's clean election: the first replica, in assignment
            // order, that is in the ISR and usable.
            auto next = std::find_if(p.replicas.begin(), p.replicas.end(), [&](int32_t id) {
                return usable(id) && std::find(p.isr.begin(), p.isr.end(), id) != p.isr.end();
            });
            if (next == p.replicas.end()) continue;
            records::partition_change_record change;
            change.topic_id = topic->id;
            change.partition_id = p.partition;
            change.leader = *next;
            out.emplace_back(change);
        }
    }
    return out;
}

std::vector<record> controller::fence_expired_brokers(const metadata_image& image, int64_t now_ms) {
    std::vector<record> out;
    // Sessions of brokers that are gone or already fenced and silent wake
    // nobody (a fenced broker that heartbeats renews its session).
    std::erase_if(_sessions, [&](const auto& entry) {
        const broker_registration* b = image.broker(entry.first);
        return !b || (b->fenced && now_ms >= entry.second.expires_ms);
    });
    std::vector<std::pair<int32_t, decltype(broker_registration::epoch)>> expired;  // (id, epoch)
    for (const auto& [id, b] : image.brokers()) {
        if (b.fenced) continue;
        auto it = _sessions.find(id);
        if (it == _sessions.end()) {
            // A new active controller has not heard from this broker yet: its
            // session starts now.
            _sessions[id].expires_ms = now_ms + _options.broker_session_timeout_ms;
            continue;
        }
        if (now_ms >= it->second.expires_ms) expired.emplace_back(id, b.epoch);
    }
    // Each broker's moves are computed on the image with the previous ones'
    // records applied: computed on the same image, the moves off two brokers
    // that share a partition overwrite each other (the second's change keeps
    // the leader the first one chose and the ISR from before it, e.g. leader
    // 3 with ISR {2}, a state no AlterPartition can leave).
    std::shared_ptr<const metadata_image> current;
    for (const auto& [id, epoch] : expired) {
        const metadata_image& now_image = current ? *current : image;
        auto changes = move_leadership_off(now_image, id);
        records::fence_broker_record f;
        f.id = id;
        f.epoch = epoch;
        changes.emplace_back(f);
        if (expired.size() > 1) {
            metadata_delta delta(current ? current : std::make_shared<const metadata_image>(image));
            for (const auto& r : changes) delta.replay(r);
            current = delta.apply();
        }
        out.insert(out.end(), changes.begin(), changes.end());
    }
    return out;
}

void controller::renew_session(int32_t broker_id, int64_t now_ms, uint64_t connection) {
    auto& session = _sessions[broker_id];
    session.expires_ms = now_ms + _options.broker_session_timeout_ms;
    session.connection = connection;
    session.disconnected = false;
    session.heard = true;
}

std::vector<int32_t> controller::broker_connection_closed(uint64_t connection, int64_t now_ms) {
    std::vector<int32_t> brokers;
    if (connection == 0) return brokers;
    for (auto& [id, session] : _sessions) {
        if (session.connection != connection) continue;
        session.connection = 0;
        session.disconnected = true;
        session.expires_ms = std::min(session.expires_ms, now_ms + _options.broker_disconnect_grace_ms);
        brokers.push_back(id);
    }
    return brokers;
}

bool controller::session_ended(int32_t broker_id, int64_t now_ms) {
    auto it = _sessions.find(broker_id);
    if (it == _sessions.end() || !it->second.disconnected) return false;
    it->second.expires_ms = std::min(it->second.expires_ms, now_ms);
    return true;
}

void controller::became_active(std::optional<int32_t> previous_controller, int64_t now_ms) {
    _sessions.clear();
    if (previous_controller) {
        auto& session = _sessions[*previous_controller];
        session.expires_ms = now_ms + _options.broker_disconnect_grace_ms;
        session.disconnected = true;
    }
}

std::optional<int64_t> controller::next_session_expiry() const {
    std::optional<int64_t> earliest;
    for (const auto& [id, session] : _sessions)
        if (!earliest || session.expires_ms < *earliest) earliest = session.expires_ms;
    return earliest;
}

namespace {

// Kafka's LeaderRecoveryState values.
constexpr int8_t recovered = 0;
constexpr int8_t recovering = 1;

struct isr_member {
    int32_t id;
    int64_t broker_epoch;  // -1: not checked (requests before v3)
};

// Why an AlterPartition's partition entry cannot be applied to `p`, or NONE.
kafka_error invalid_alter_partition(const metadata_image& image, const partition_state& p, int32_t sender,
                                    const msg::alter_partition_request::partition_data& data,
                                    const std::vector<isr_member>& isr, int16_t version) {
    // Epochs ahead of ours: the sender heard from a newer controller, which
    // this node no longer is (or is not yet caught up as).
    if (data.leader_epoch > p.leader_epoch || data.partition_epoch > p.partition_epoch)
        return kafka_error::not_controller;
    if (data.leader_epoch < p.leader_epoch) return kafka_error::fenced_leader_epoch;
    // Kafka answers INVALID_REQUEST (not NOT_LEADER_OR_FOLLOWER) to a sender
    // that is not the leader at the current leader epoch.
    if (sender != p.leader) return kafka_error::invalid_request;
    if (data.partition_epoch < p.partition_epoch) return kafka_error::invalid_update_version;

    // The ISR: not empty, no duplicates or negative ids, replicas only, and
    // the leader among them.
    if (isr.empty()) return kafka_error::invalid_request;
    std::set<int32_t> seen;
    bool has_leader = false;
    for (const auto& m : isr) {
        if (m.id < 0 || !seen.insert(m.id).second) return kafka_error::invalid_request;
        if (std::find(p.replicas.begin(), p.replicas.end(), m.id) == p.replicas.end())
            return kafka_error::invalid_request;
        has_leader = has_leader || m.id == p.leader;
    }
    if (!has_leader) return kafka_error::invalid_request;

    // A leader elected uncleanly stays alone in the ISR until it has
    // recovered, and a recovered partition never goes back to recovering.
    if (data.leader_recovery_state == recovering && isr.size() > 1) return kafka_error::invalid_request;
    if (p.leader_recovery_state == recovered && data.leader_recovery_state == recovering)
        return kafka_error::invalid_request;
    if (data.leader_recovery_state != recovered && data.leader_recovery_state != recovering)
        return kafka_error::invalid_request;

    // Only brokers that can take part may join: registered, unfenced, not
    // shutting down, and (v3) of the broker epoch the leader saw.
    for (const auto& m : isr) {
        const broker_registration* b = image.broker(m.id);
        const bool eligible = b && !b->in_controlled_shutdown && !b->fenced &&
                              (m.broker_epoch == -1 || m.broker_epoch == b->epoch);
        if (!eligible) return version >= 2 ? kafka_error::ineligible_replica : kafka_error::operation_not_attempted;
    }
    return kafka_error::none;
}

}  // namespace

std::vector<record> controller::alter_partition(const metadata_image& image,
                                                const msg::alter_partition_request& request, int16_t version,
                                                msg::alter_partition_response& response) const {
    const broker_registration* sender = image.broker(request.broker_id);
    if (!sender || sender->epoch != request.broker_epoch) {
        // Kafka fails the whole request (ClusterControlManager.checkBrokerEpoch).
        response.error_code = code(kafka_error::stale_broker_epoch);
        return {};
    }
    std::vector<record> out;
    for (const auto& t : request.topics) {
        auto& topic_result = response.topics.emplace_back();
        topic_result.topic_name = t.topic_name;
        topic_result.topic_id = t.topic_id;
        const topic_image* topic = version >= 2 ? (t.topic_id.is_zero() ? nullptr : image.topic(t.topic_id))
                                                : image.topic(t.topic_name);
        for (const auto& data : t.partitions) {
            auto& result = topic_result.partitions.emplace_back();
            result.partition_index = data.partition_index;
            if (!topic) {
                result.error_code =
                    code(version >= 2 ? kafka_error::unknown_topic_id : kafka_error::unknown_topic_or_partition);
                continue;
            }
            if (data.partition_index < 0 || static_cast<size_t>(data.partition_index) >= topic->partitions.size()) {
                result.error_code = code(kafka_error::unknown_topic_or_partition);
                continue;
            }
            const partition_state& p = topic->partitions[static_cast<size_t>(data.partition_index)];
            std::vector<isr_member> isr;
            if (version >= 3) {
                for (const auto& m : data.new_isr_with_epochs) isr.push_back({m.broker_id, m.broker_epoch});
            } else {
                for (int32_t id : data.new_isr) isr.push_back({id, -1});
            }
            if (auto error = invalid_alter_partition(image, p, request.broker_id, data, isr, version);
                error != kafka_error::none) {
                result.error_code = code(error);
                continue;
            }

            // The change: the new ISR and recovery state, if they differ. The
            // leader stays (it is in the new ISR and eligible), so the leader
            // epoch stays too: since metadata.version 3.6 Kafka bumps only the
            // partition epoch when the ISR shrinks.
            std::vector<int32_t> new_isr;
            for (const auto& m : isr) new_isr.push_back(m.id);
            records::partition_change_record change;
            change.topic_id = topic->id;
            change.partition_id = p.partition;
            if (new_isr != p.isr) change.isr = new_isr;
            if (data.leader_recovery_state != p.leader_recovery_state)
                change.leader_recovery_state = data.leader_recovery_state;
            // An ISR that now holds every target replica of a reassignment
            // completes it in the same record (Kafka's PartitionChangeBuilder).
            complete_reassignment_if_needed(image, p, change);
            int32_t partition_epoch = p.partition_epoch;
            if (change.leader != -2) {
                // The reassignment removed the sender: it leads no more.
                out.emplace_back(change);
                result.error_code = code(kafka_error::new_leader_elected);
                continue;
            }
            if (change.isr || change.replicas || change.leader_recovery_state != -1) {
                out.emplace_back(change);
                ++partition_epoch;
            }
            result.leader_id = p.leader;
            result.leader_epoch = p.leader_epoch;
            // (A completed reassignment's ISR drops the removed replicas.)
            result.isr = change.isr ? *change.isr : p.isr;
            result.leader_recovery_state = data.leader_recovery_state;
            result.partition_epoch = partition_epoch;
        }
    }
    return out;
}

std::vector<record> controller::allocate_producer_ids(const metadata_image& image, int32_t broker_id,
                                                      int32_t block_size, int64_t& first_id) {
    first_id = image.next_producer_id();
    records::producer_ids_record r;
    r.broker_id = broker_id;
    r.next_producer_id = first_id + block_size;
    return {r};
}

}  // namespace strata::metadata
