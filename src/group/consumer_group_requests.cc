// The KIP-848 handlers: ConsumerGroupHeartbeat and ConsumerGroupDescribe,
// driving consumer_group on the coordinator thread.
#include "coordinator_impl.h"

namespace strata::group {

namespace msg = protocol::messages;
using boost::asio::awaitable;

// ---- KIP-848: ConsumerGroupHeartbeat, ConsumerGroupDescribe ----------------------------------

namespace {

std::vector<msg::consumer_group_heartbeat_response::topic_partitions_type> to_wire(const partition_assignment& a) {
    std::vector<msg::consumer_group_heartbeat_response::topic_partitions_type> out;
    for (const auto& [topic, parts] : a) {
        if (parts.empty()) continue;
        auto& t = out.emplace_back();
        t.topic_id = topic;
        t.partitions.assign(parts.begin(), parts.end());
    }
    return out;
}

msg::consumer_group_heartbeat_response heartbeat_error(kafka_error e, std::string message = {}) {
    msg::consumer_group_heartbeat_response out;
    out.error_code = code(e);
    if (!message.empty()) out.error_message = std::move(message);
    return out;
}

}  // namespace

awaitable<msg::consumer_group_heartbeat_response> group_coordinator::consumer_group_heartbeat(
    msg::consumer_group_heartbeat_request request, int16_t, std::string client_id, std::string client_host) {
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::consumer_group_heartbeat_response>(
        *_impl, requester, heartbeat_error(kafka_error::not_coordinator),
        [self = _impl, request = std::move(request), client_id = std::move(client_id),
         client_host = std::move(client_host)](responder<msg::consumer_group_heartbeat_response> answer) mutable {
            if (request.group_id.empty()) return answer(heartbeat_error(kafka_error::invalid_group_id));
            if (auto e = self->group_ready(request.group_id); e != kafka_error::none) return answer(heartbeat_error(e));
            auto* cg = self->find_consumer_group(request.group_id);
            if (!cg) {
                if (auto* classic = self->find_group(request.group_id); classic && !classic->members().empty())
                    return answer(
                        heartbeat_error(kafka_error::group_id_not_found, "the group uses the classic protocol"));
                cg = &self->create_consumer_group(request.group_id);
            }
            consumer_heartbeat h;
            h.member_id = std::move(request.member_id);
            h.member_epoch = request.member_epoch;
            h.instance_id = std::move(request.instance_id);
            h.rack_id = std::move(request.rack_id);
            h.rebalance_timeout_ms = request.rebalance_timeout_ms;
            h.subscribed_topic_names = std::move(request.subscribed_topic_names);
            h.subscribed_topic_regex = std::move(request.subscribed_topic_regex);
            h.server_assignor = std::move(request.server_assignor);
            if (request.topic_partitions) {
                h.owned.emplace();
                for (const auto& t : *request.topic_partitions)
                    (*h.owned)[t.topic_id].insert(t.partitions.begin(), t.partitions.end());
            }
            h.client_id = std::move(client_id);
            h.client_host = std::move(client_host);
            auto new_id = protocol::uuid::random().to_string();
            const auto topics = self->catalog();
            auto before = cg->persisted_state();
            auto r = cg->heartbeat(std::move(h), topics, self->now_ms(), new_id);
            msg::consumer_group_heartbeat_response out;
            out.error_code = code(r.error);
            if (!r.error_message.empty()) out.error_message = r.error_message;
            out.member_id = r.member_id;
            out.member_epoch = r.member_epoch;
            out.heartbeat_interval_ms = cg->limits().heartbeat_interval_ms;
            if (r.assignment) {
                out.assignment.emplace();
                out.assignment->topic_partitions = to_wire(*r.assignment);
            }
            // Durable before acknowledged: the member hears of a new epoch or
            // assignment only once the records saying so are written.
            self->persist_consumer_group(request.group_id, before, cg->persisted_state(), topics,
                                         [out = std::move(out), answer](kafka_error e) mutable {
                                             if (e != kafka_error::none) return answer(heartbeat_error(e));
                                             answer(std::move(out));
                                         });
        });
    co_return co_await reply.wait();
}

awaitable<msg::consumer_group_describe_response> group_coordinator::consumer_group_describe(
    msg::consumer_group_describe_request request, int16_t) {
    msg::consumer_group_describe_response fallback;
    for (const auto& id : request.group_ids) {
        auto& g = fallback.groups.emplace_back();
        g.group_id = id;
        g.error_code = code(kafka_error::not_coordinator);
    }
    auto requester = co_await boost::asio::this_coro::executor;
    auto reply = post_to_coordinator<msg::consumer_group_describe_response>(
        *_impl, requester, std::move(fallback),
        [self = _impl, request = std::move(request)](responder<msg::consumer_group_describe_response> answer) {
            msg::consumer_group_describe_response out;
            auto image = self->partitions.image();
            auto described = [&](const partition_assignment& a) {
                msg::consumer_group_describe_response::assignment_type out_a;
                for (const auto& [topic, parts] : a) {
                    if (parts.empty()) continue;
                    auto& t = out_a.topic_partitions.emplace_back();
                    t.topic_id = topic;
                    const auto* ti = image ? image->topic(topic) : nullptr;
                    t.topic_name = ti ? ti->name : "";
                    t.partitions.assign(parts.begin(), parts.end());
                }
                return out_a;
            };
            for (const auto& id : request.group_ids) {
                auto& g = out.groups.emplace_back();
                g.group_id = id;
                auto e = id.empty() ? kafka_error::invalid_group_id : self->group_ready(id);
                auto* cg = e == kafka_error::none ? self->find_consumer_group(id) : nullptr;
                if (e == kafka_error::none && !cg) e = kafka_error::group_id_not_found;
                if (e != kafka_error::none) {
                    g.error_code = code(e);
                    continue;
                }
                g.group_state = cg->state();
                g.group_epoch = cg->group_epoch();
                g.assignment_epoch = cg->assignment_epoch();
                g.assignor_name = cg->assignor();
                for (const auto& [member_id, m] : cg->members()) {
                    auto& om = g.members.emplace_back();
                    om.member_id = member_id;
                    om.instance_id = m.instance_id;
                    om.rack_id = m.rack_id;
                    om.member_epoch = m.epoch;
                    om.client_id = m.client_id;
                    om.client_host = m.client_host;
                    om.subscribed_topic_names = m.subscribed_topics;
                    if (!m.subscribed_topic_regex.empty()) om.subscribed_topic_regex = m.subscribed_topic_regex;
                    om.assignment = described(m.assigned);
                    om.target_assignment = described(cg->target_of(member_id));
                }
            }
            answer(std::move(out));
        });
    co_return co_await reply.wait();
}

}  // namespace strata::group
