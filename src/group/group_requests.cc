// The coordinator's request handlers: each hops to the coordinator thread,
// checks that this broker coordinates the group and has loaded it, drives
// the group's state machine or its offsets, and answers in the request's
// version.
#include <algorithm>
#include <cctype>

#include "coordinator_impl.h"

namespace strata::group {

namespace msg = protocol::messages;
using boost::asio::awaitable;

namespace {

using impl_ptr = std::shared_ptr<group_coordinator::impl>;

msg::join_group_response to_response(const join_result& r, int16_t version) {
    msg::join_group_response out;
    out.error_code = code(r.error);
    out.generation_id = r.generation;
    out.protocol_type = r.protocol_type;
    out.protocol_name = version >= 7 ? r.protocol_name : std::optional<std::string>(r.protocol_name.value_or(""));
    out.leader = r.leader_id;
    out.member_id = r.member_id;
    out.skip_assignment = r.skip_assignment;
    for (const auto& m : r.members) {
        auto& o = out.members.emplace_back();
        o.member_id = m.member_id;
        o.group_instance_id = m.group_instance_id;
        o.metadata = m.metadata;
    }
    return out;
}

msg::join_group_response join_error(kafka_error e, int16_t version, std::string member_id = {}) {
    join_result r;
    r.error = e;
    r.member_id = std::move(member_id);
    return to_response(r, version);
}

msg::sync_group_response sync_error(kafka_error e) {
    msg::sync_group_response out;
    out.error_code = code(e);
    return out;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

}  // namespace

// ---- JoinGroup, SyncGroup, Heartbeat, LeaveGroup ------------------------------------

awaitable<msg::join_group_response> group_coordinator::join_group(msg::join_group_request request, int16_t version,
                                                                  std::string client_id, std::string client_host) {
    auto fallback = join_error(kafka_error::not_coordinator, version, request.member_id);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::join_group_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request), version, client_id = std::move(client_id),
         client_host = std::move(client_host)](responder<msg::join_group_response> answer) mutable {
            if (request.group_id.empty()) return answer(join_error(kafka_error::invalid_group_id, version));
            if (auto e = self->group_ready(request.group_id); e != kafka_error::none)
                return answer(join_error(e, version, request.member_id));
            if (auto* cg = self->find_consumer_group(request.group_id); cg && !cg->members().empty())
                return answer(join_error(kafka_error::inconsistent_group_protocol, version, request.member_id));
            auto* group = self->find_group(request.group_id);
            if (!group) {
                if (!request.member_id.empty())
                    return answer(join_error(kafka_error::unknown_member_id, version, request.member_id));
                group = &self->get_or_create_group(request.group_id);
            }
            join_params p;
            p.member_id = std::move(request.member_id);
            p.group_instance_id = std::move(request.group_instance_id);
            p.client_id = std::move(client_id);
            p.client_host = std::move(client_host);
            p.session_timeout_ms = request.session_timeout_ms;
            p.rebalance_timeout_ms = version >= 1 ? request.rebalance_timeout_ms : -1;
            p.protocol_type = std::move(request.protocol_type);
            for (auto& proto : request.protocols)
                p.protocols.push_back({std::move(proto.name), std::move(proto.metadata)});
            p.require_known_member_id = version >= 4;
            p.supports_skip_assignment = version >= 9;
            group->join(std::move(p), self->now_ms(),
                        [answer, version](join_result r) { answer(to_response(r, version)); });
        });
    co_return co_await reply.wait();
}

awaitable<msg::sync_group_response> group_coordinator::sync_group(msg::sync_group_request request, int16_t version) {
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::sync_group_response>(
        *_impl, requester, sync_error(kafka_error::not_coordinator),
        [self = _impl, request = std::move(request), version](responder<msg::sync_group_response> answer) mutable {
            if (request.group_id.empty()) return answer(sync_error(kafka_error::invalid_group_id));
            if (auto e = self->group_ready(request.group_id); e != kafka_error::none) return answer(sync_error(e));
            auto* group = self->find_group(request.group_id);
            if (!group) return answer(sync_error(kafka_error::unknown_member_id));
            sync_params p;
            p.member_id = std::move(request.member_id);
            p.group_instance_id = std::move(request.group_instance_id);
            p.generation = request.generation_id;
            if (version >= 5) {
                p.protocol_type = std::move(request.protocol_type);
                p.protocol_name = std::move(request.protocol_name);
            }
            for (auto& a : request.assignments)
                p.assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
            group->sync(std::move(p), self->now_ms(), [answer](sync_result r) {
                msg::sync_group_response out;
                out.error_code = code(r.error);
                out.protocol_type = std::move(r.protocol_type);
                out.protocol_name = std::move(r.protocol_name);
                out.assignment = std::move(r.assignment);
                answer(std::move(out));
            });
        });
    co_return co_await reply.wait();
}

awaitable<msg::heartbeat_response> group_coordinator::heartbeat(msg::heartbeat_request request, int16_t) {
    msg::heartbeat_response fallback;
    fallback.error_code = code(kafka_error::not_coordinator);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::heartbeat_response>(
        *_impl, requester, fallback,
        [self = _impl, request = std::move(request)](responder<msg::heartbeat_response> answer) {
            msg::heartbeat_response out;
            kafka_error e =
                request.group_id.empty() ? kafka_error::invalid_group_id : self->group_ready(request.group_id);
            if (e == kafka_error::none) {
                auto* group = self->find_group(request.group_id);
                e = group ? group->heartbeat(request.member_id, request.group_instance_id, request.generation_id,
                                             self->now_ms())
                          : kafka_error::unknown_member_id;
            }
            out.error_code = code(e);
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

awaitable<msg::leave_group_response> group_coordinator::leave_group(msg::leave_group_request request, int16_t version) {
    msg::leave_group_response fallback;
    fallback.error_code = code(kafka_error::not_coordinator);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::leave_group_response>(
        *_impl, requester, fallback,
        [self = _impl, request = std::move(request), version](responder<msg::leave_group_response> answer) mutable {
            msg::leave_group_response out;
            if (version < 3) {
                auto& m = request.members.emplace_back();
                m.member_id = request.member_id;
            }
            kafka_error e =
                request.group_id.empty() ? kafka_error::invalid_group_id : self->group_ready(request.group_id);
            if (e != kafka_error::none) {
                out.error_code = code(e);
                return answer(std::move(out));
            }
            auto* group = self->find_group(request.group_id);
            const int64_t now = self->now_ms();
            for (const auto& m : request.members) {
                auto& r = out.members.emplace_back();
                r.member_id = m.member_id;
                r.group_instance_id = m.group_instance_id;
                r.error_code =
                    code(group ? group->leave(m.member_id, m.group_instance_id, now) : kafka_error::unknown_member_id);
                if (group) self->logger->debug("group {}: member {} left", request.group_id, m.member_id);
            }
            if (version < 3) {
                out.error_code = out.members.front().error_code;
                out.members.clear();
            }
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

// ---- OffsetCommit -------------------------------------------------------------------

namespace {

msg::offset_commit_response commit_response(const msg::offset_commit_request& request,
                                            const std::function<kafka_error(const std::string&, int32_t)>& error_of) {
    msg::offset_commit_response out;
    for (const auto& t : request.topics) {
        auto& ot = out.topics.emplace_back();
        ot.name = t.name;
        for (const auto& p : t.partitions) {
            auto& op = ot.partitions.emplace_back();
            op.partition_index = p.partition_index;
            op.error_code = code(error_of(t.name, p.partition_index));
        }
    }
    return out;
}

}  // namespace

awaitable<msg::offset_commit_response> group_coordinator::offset_commit(msg::offset_commit_request request,
                                                                        int16_t version) {
    auto fallback = commit_response(request, [](auto&, int32_t) { return kafka_error::not_coordinator; });
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::offset_commit_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request), version](responder<msg::offset_commit_response> answer) mutable {
            auto all = [&](kafka_error e) { answer(commit_response(request, [e](auto&, int32_t) { return e; })); };
            if (request.group_id.empty()) return all(kafka_error::invalid_group_id);
            if (auto e = self->group_ready(request.group_id); e != kafka_error::none) return all(e);
            const int32_t generation = version >= 1 ? request.generation_id_or_member_epoch : -1;
            const int64_t now = self->now_ms();
            if (auto* cg = self->find_consumer_group(request.group_id)) {
                // KIP-848: a member commits at its current epoch; an admin
                // client (no member, epoch -1) only while nobody is in the group.
                kafka_error e = kafka_error::none;
                if (generation >= 0 || !request.member_id.empty())
                    e = cg->validate_member_epoch(request.member_id, generation);
                else if (!cg->members().empty())
                    e = kafka_error::unknown_member_id;
                if (e != kafka_error::none) return all(e);
                self->get_or_create_group(request.group_id);
            }
            auto* group = self->find_group(request.group_id);
            if (!group) {
                // Kafka: a commit with a generation to a group that does not
                // exist is from a member of a generation that is gone.
                if (generation >= 0) return all(kafka_error::illegal_generation);
                group = &self->get_or_create_group(request.group_id);
            }
            if (!self->find_consumer_group(request.group_id))
                if (auto e =
                        group->validate_offset_commit(request.member_id, request.group_instance_id, generation, now);
                    e != kafka_error::none)
                    return all(e);

            auto image = self->partitions.image();
            auto errors = std::make_shared<std::map<topic_partition_key, kafka_error>>();
            auto values = std::make_shared<std::map<topic_partition_key, committed_offset>>();
            std::vector<offsets_record> records;
            for (const auto& t : request.topics) {
                const auto* topic = image ? image->topic(t.name) : nullptr;
                for (const auto& p : t.partitions) {
                    const topic_partition_key tp{t.name, p.partition_index};
                    if (!topic || p.partition_index < 0 ||
                        static_cast<size_t>(p.partition_index) >= topic->partitions.size()) {
                        (*errors)[tp] = kafka_error::unknown_topic_or_partition;
                        continue;
                    }
                    const std::string metadata = p.committed_metadata.value_or("");
                    if (metadata.size() > static_cast<size_t>(self->config.offset_metadata_max_bytes)) {
                        (*errors)[tp] = kafka_error::offset_metadata_too_large;
                        continue;
                    }
                    committed_offset c;
                    c.offset = p.committed_offset;
                    c.leader_epoch = version >= 6 ? p.committed_leader_epoch : -1;
                    c.metadata = metadata;
                    c.commit_timestamp_ms = version == 1 && p.commit_timestamp >= 0 ? p.commit_timestamp : now;
                    if (version >= 2 && version <= 4 && request.retention_time_ms >= 0)
                        c.expire_timestamp_ms = c.commit_timestamp_ms + request.retention_time_ms;
                    records.push_back(offset_commit_record(request.group_id, t.name, p.partition_index, &c));
                    (*values)[tp] = std::move(c);
                    ++group->pending_commits()[tp];
                }
            }
            auto finish = [request = std::move(request), errors, answer]() {
                answer(commit_response(request, [&](const std::string& topic, int32_t partition) {
                    auto it = errors->find({topic, partition});
                    return it == errors->end() ? kafka_error::none : it->second;
                }));
            };
            if (records.empty()) return finish();
            const std::string group_id = group->id();
            self->write(self->partition_of(group_id), std::move(records),
                        [self, group_id, errors, values, finish = std::move(finish)](kafka_error e) {
                            if (e == kafka_error::message_too_large || e == kafka_error::record_list_too_large ||
                                e == kafka_error::invalid_fetch_size)
                                e = kafka_error::invalid_commit_offset_size;
                            auto* g = self->find_group(group_id);
                            for (auto& [tp, c] : *values) {
                                if (g) {
                                    auto pending = g->pending_commits().find(tp);
                                    if (pending != g->pending_commits().end() && --pending->second <= 0)
                                        g->pending_commits().erase(pending);
                                    if (e == kafka_error::none) g->offsets()[tp] = c;
                                }
                                if (e != kafka_error::none)
                                    (*errors)[tp] = e;
                                else if (!g)
                                    (*errors)[tp] = kafka_error::not_coordinator;
                            }
                            finish();
                        });
        });
    co_return co_await reply.wait();
}

// ---- OffsetFetch ----------------------------------------------------------------------

namespace {

struct fetched_partition {
    int32_t partition = 0;
    committed_offset value;
    kafka_error error = kafka_error::none;
};
struct fetched_group {
    kafka_error error = kafka_error::none;
    std::vector<std::pair<std::string, std::vector<fetched_partition>>> topics;
};
using wanted_topics = std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>;

fetched_group fetch_group(group_coordinator::impl& self, const std::string& group_id, const wanted_topics& wanted,
                          bool require_stable) {
    fetched_group out;
    out.error = self.group_ready(group_id);
    auto* group = out.error == kafka_error::none ? self.find_group(group_id) : nullptr;
    auto lookup = [&](const std::string& topic, int32_t partition) {
        fetched_partition p;
        p.partition = partition;
        p.value.offset = -1;
        if (!group) return p;
        const topic_partition_key tp{topic, partition};
        if (require_stable && group->pending_commits().contains(tp)) {
            p.error = kafka_error::unstable_offset_commit;
            return p;
        }
        if (auto it = group->offsets().find(tp); it != group->offsets().end()) p.value = it->second;
        return p;
    };
    if (wanted) {
        for (const auto& [topic, partitions] : *wanted) {
            auto& t = out.topics.emplace_back(topic, std::vector<fetched_partition>{});
            for (int32_t p : partitions) t.second.push_back(lookup(topic, p));
        }
    } else if (group) {
        for (const auto& [tp, c] : group->offsets()) {
            if (out.topics.empty() || out.topics.back().first != tp.first)
                out.topics.emplace_back(tp.first, std::vector<fetched_partition>{});
            out.topics.back().second.push_back(lookup(tp.first, tp.second));
        }
    }
    return out;
}

msg::offset_fetch_response fetch_response(std::vector<std::pair<std::string, fetched_group>> groups, int16_t version) {
    msg::offset_fetch_response out;
    if (version >= 8) {
        for (auto& [id, g] : groups) {
            auto& og = out.groups.emplace_back();
            og.group_id = id;
            og.error_code = code(g.error);
            for (auto& [topic, partitions] : g.topics) {
                auto& ot = og.topics.emplace_back();
                ot.name = topic;
                for (auto& p : partitions) {
                    auto& op = ot.partitions.emplace_back();
                    op.partition_index = p.partition;
                    op.committed_offset = p.value.offset;
                    op.committed_leader_epoch = p.value.leader_epoch;
                    op.metadata = p.value.metadata;
                    op.error_code = code(p.error);
                }
            }
        }
        return out;
    }
    auto& g = groups.front().second;
    if (version >= 2) out.error_code = code(g.error);
    for (auto& [topic, partitions] : g.topics) {
        auto& ot = out.topics.emplace_back();
        ot.name = topic;
        for (auto& p : partitions) {
            auto& op = ot.partitions.emplace_back();
            op.partition_index = p.partition;
            op.committed_offset = p.value.offset;
            op.committed_leader_epoch = p.value.leader_epoch;
            op.metadata = p.value.metadata;
            // v0-1 have no top-level error: each partition carries it.
            op.error_code = code(version < 2 && g.error != kafka_error::none ? g.error : p.error);
        }
    }
    return out;
}

}  // namespace

awaitable<msg::offset_fetch_response> group_coordinator::offset_fetch(msg::offset_fetch_request request,
                                                                      int16_t version) {
    // The groups asked for, in one shape for every version.
    std::vector<std::pair<std::string, wanted_topics>> asked;
    std::vector<std::pair<std::optional<std::string>, int32_t>> members;  // KIP-848 (v9): who asks
    if (version >= 8) {
        for (auto& g : request.groups) {
            members.emplace_back(g.member_id, g.member_epoch);
            wanted_topics w;
            if (g.topics) {
                w.emplace();
                for (auto& t : *g.topics) w->emplace_back(std::move(t.name), std::move(t.partition_indexes));
            }
            asked.emplace_back(std::move(g.group_id), std::move(w));
        }
    } else {
        wanted_topics w;
        if (request.topics) {
            w.emplace();
            for (auto& t : *request.topics) w->emplace_back(std::move(t.name), std::move(t.partition_indexes));
        }
        asked.emplace_back(std::move(request.group_id), std::move(w));
    }
    std::vector<std::pair<std::string, fetched_group>> failed;
    for (const auto& [id, w] : asked) {
        fetched_group g;
        g.error = kafka_error::not_coordinator;
        if (w)
            for (const auto& [topic, partitions] : *w) {
                auto& t = g.topics.emplace_back(topic, std::vector<fetched_partition>{});
                for (int32_t p : partitions) t.second.push_back({p, committed_offset{}, kafka_error::not_coordinator});
            }
        failed.emplace_back(id, std::move(g));
    }
    const bool require_stable = version >= 7 && request.require_stable;
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::offset_fetch_response>(
        *_impl, requester, fetch_response(std::move(failed), version),
        [self = _impl, asked = std::move(asked), members = std::move(members), version,
         require_stable](responder<msg::offset_fetch_response> answer) {
            std::vector<std::pair<std::string, fetched_group>> groups;
            for (size_t i = 0; i < asked.size(); ++i) {
                const auto& [id, w] = asked[i];
                auto g = id.empty() && version >= 8 ? fetched_group{kafka_error::invalid_group_id, {}}
                                                    : fetch_group(*self, id, w, require_stable);
                if (g.error == kafka_error::none && version >= 9 && members[i].first && !members[i].first->empty())
                    if (auto* cg = self->find_consumer_group(id))
                        if (auto e = cg->validate_member_epoch(*members[i].first, members[i].second);
                            e != kafka_error::none)
                            g = fetched_group{e, {}};
                groups.emplace_back(id, std::move(g));
            }
            answer(fetch_response(std::move(groups), version));
        });
    co_return co_await reply.wait();
}

// ---- DescribeGroups, ListGroups -----------------------------------------------------------

awaitable<msg::describe_groups_response> group_coordinator::describe_groups(msg::describe_groups_request request,
                                                                            int16_t) {
    msg::describe_groups_response fallback;
    for (const auto& id : request.groups) {
        auto& g = fallback.groups.emplace_back();
        g.group_id = id;
        g.error_code = code(kafka_error::not_coordinator);
    }
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::describe_groups_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request)](responder<msg::describe_groups_response> answer) {
            msg::describe_groups_response out;
            for (const auto& id : request.groups) {
                auto& g = out.groups.emplace_back();
                g.group_id = id;
                auto e = id.empty() ? kafka_error::invalid_group_id : self->group_ready(id);
                if (e != kafka_error::none) {
                    g.error_code = code(e);
                    continue;
                }
                auto* group = self->find_group_as_of_now(id);
                if (!group || self->find_consumer_group(id)) {
                    // Unknown, or a KIP-848 group (ConsumerGroupDescribe describes those): Kafka says Dead.
                    g.group_state = "Dead";
                    continue;
                }
                g.group_state = std::string(state_name(group->state()));
                g.protocol_type = group->protocol_type().value_or("");
                g.protocol_data = group->protocol_name().value_or("");
                const bool stable = group->state() == group_state::stable;
                for (const auto& [member_id, m] : group->members()) {
                    auto& om = g.members.emplace_back();
                    om.member_id = member_id;
                    om.group_instance_id = m.group_instance_id;
                    om.client_id = m.client_id;
                    om.client_host = m.client_host;
                    if (stable && group->protocol_name()) {
                        if (const auto* metadata = m.metadata_for(*group->protocol_name()))
                            om.member_metadata = *metadata;
                        om.member_assignment = m.assignment;
                    }
                }
            }
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

awaitable<msg::list_groups_response> group_coordinator::list_groups(msg::list_groups_request request, int16_t) {
    msg::list_groups_response fallback;
    fallback.error_code = code(kafka_error::coordinator_not_available);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::list_groups_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request)](responder<msg::list_groups_response> answer) {
            msg::list_groups_response out;
            for (const auto& [p, shard] : self->shards)
                if (!shard.loaded) out.error_code = code(kafka_error::coordinator_load_in_progress);
            bool classic_wanted = request.types_filter.empty(), consumer_wanted = request.types_filter.empty();
            for (const auto& t : request.types_filter) {
                classic_wanted |= equals_ignore_case(t, "classic");
                consumer_wanted |= equals_ignore_case(t, "consumer");
            }
            auto state_wanted = [&](std::string_view state) {
                return request.states_filter.empty() ||
                       std::any_of(request.states_filter.begin(), request.states_filter.end(),
                                   [&](const std::string& s) { return equals_ignore_case(s, state); });
            };
            for (const auto& [id, cg] : self->consumer_groups) {
                const auto state = cg->state();
                if (!consumer_wanted || !state_wanted(state)) continue;
                auto& o = out.groups.emplace_back();
                o.group_id = id;
                o.protocol_type = "consumer";
                o.group_state = state;
                o.group_type = "consumer";
            }
            if (!classic_wanted) return answer(std::move(out));
            std::vector<std::string> ids;
            for (const auto& [id, g] : self->groups)
                if (!self->consumer_groups.contains(id)) ids.push_back(id);
            std::sort(ids.begin(), ids.end());
            for (const auto& id : ids) {
                auto* g = self->find_group(id);
                auto shard = self->shards.find(self->partition_of(id));
                if (shard == self->shards.end() || !shard->second.loaded) continue;
                const auto state = state_name(g->state());
                if (!state_wanted(state)) continue;
                auto& o = out.groups.emplace_back();
                o.group_id = id;
                o.protocol_type = g->protocol_type().value_or("");
                o.group_state = std::string(state);
                o.group_type = "classic";
            }
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

// ---- DeleteGroups, OffsetDelete ----------------------------------------------------------

awaitable<msg::delete_groups_response> group_coordinator::delete_groups(msg::delete_groups_request request, int16_t) {
    msg::delete_groups_response fallback;
    for (const auto& id : request.groups_names) {
        auto& r = fallback.results.emplace_back();
        r.group_id = id;
        r.error_code = code(kafka_error::not_coordinator);
    }
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::delete_groups_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request)](responder<msg::delete_groups_response> answer) {
            struct state {
                msg::delete_groups_response response;
                size_t waiting = 1;
                responder<msg::delete_groups_response> answer;
                void done() {
                    if (--waiting == 0) answer(std::move(response));
                }
            };
            auto st = std::make_shared<state>(state{{}, 1, answer});
            for (size_t i = 0; i < request.groups_names.size(); ++i) {
                const auto& id = request.groups_names[i];
                auto& r = st->response.results.emplace_back();
                r.group_id = id;
                auto e = id.empty() ? kafka_error::invalid_group_id : self->group_ready(id);
                auto* group = e == kafka_error::none ? self->find_group_as_of_now(id) : nullptr;
                auto* cg = e == kafka_error::none ? self->find_consumer_group(id) : nullptr;
                if (cg && !cg->members().empty()) e = kafka_error::non_empty_group;
                if (e == kafka_error::none && !group && cg) group = &self->get_or_create_group(id);
                if (e == kafka_error::none && !group) e = kafka_error::group_id_not_found;
                if (e == kafka_error::none && group->state() != group_state::empty) e = kafka_error::non_empty_group;
                if (e != kafka_error::none) {
                    r.error_code = code(e);
                    continue;
                }
                std::vector<offsets_record> records;
                for (const auto& [tp, c] : group->offsets())
                    records.push_back(offset_commit_record(id, tp.first, tp.second, nullptr));
                records.push_back(group_metadata_record(id, nullptr));
                if (cg) {
                    // An empty KIP-848 group: its own records (normally gone with its last member).
                    auto consumer = consumer_group_tombstones(id, cg->persisted_state());
                    records.insert(records.end(), consumer.begin(), consumer.end());
                }
                ++st->waiting;
                self->write(self->partition_of(id), std::move(records), [self, st, i, id](kafka_error e) {
                    st->response.results[i].error_code = code(e);
                    if (e == kafka_error::none) self->forget_group(id, kafka_error::coordinator_not_available);
                    st->done();
                });
            }
            st->done();
        });
    co_return co_await reply.wait();
}

awaitable<msg::offset_delete_response> group_coordinator::offset_delete(msg::offset_delete_request request, int16_t) {
    msg::offset_delete_response fallback;
    fallback.error_code = code(kafka_error::not_coordinator);
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::offset_delete_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request)](responder<msg::offset_delete_response> answer) {
            msg::offset_delete_response out;
            auto e = request.group_id.empty() ? kafka_error::invalid_group_id : self->group_ready(request.group_id);
            auto* group = e == kafka_error::none ? self->find_group(request.group_id) : nullptr;
            if (e == kafka_error::none && !group) e = kafka_error::group_id_not_found;
            if (e != kafka_error::none) {
                out.error_code = code(e);
                return answer(std::move(out));
            }
            // Offsets of topics the members consume stay (Kafka: GROUP_SUBSCRIBED_TO_TOPIC).
            auto subscribed =
                group->state() == group_state::empty ? std::set<std::string>{} : group->subscribed_topics();
            if (auto* cg = self->find_consumer_group(request.group_id)) {
                for (const auto& [member_id, m] : cg->members())
                    subscribed.insert(m.subscribed_topics.begin(), m.subscribed_topics.end());
                // And the topics the members' regexes matched.
                subscribed.merge(cg->subscribed_topic_names());
            }
            const bool not_consumer = group->state() != group_state::empty && group->protocol_type() != "consumer";
            std::vector<offsets_record> records;
            std::vector<topic_partition_key> deleted;
            for (const auto& t : request.topics) {
                auto& ot = out.topics.emplace_back();
                ot.name = t.name;
                for (const auto& p : t.partitions) {
                    auto& op = ot.partitions.emplace_back();
                    op.partition_index = p.partition_index;
                    if (not_consumer || subscribed.contains(t.name)) {
                        op.error_code = code(kafka_error::group_subscribed_to_topic);
                        continue;
                    }
                    const topic_partition_key tp{t.name, p.partition_index};
                    if (group->offsets().contains(tp)) {
                        records.push_back(offset_commit_record(request.group_id, t.name, p.partition_index, nullptr));
                        deleted.push_back(tp);
                    }
                }
            }
            if (records.empty()) return answer(std::move(out));
            const std::string id = group->id();
            self->write(self->partition_of(id), std::move(records),
                        [self, id, deleted, out = std::move(out), answer](kafka_error e) mutable {
                            if (e != kafka_error::none) {
                                out.error_code = code(e);
                                out.topics.clear();
                            } else if (auto* g = self->find_group(id)) {
                                for (const auto& tp : deleted) g->offsets().erase(tp);
                            }
                            answer(std::move(out));
                        });
        });
    co_return co_await reply.wait();
}

}  // namespace strata::group
