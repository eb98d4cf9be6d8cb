// The authorize stage of the group APIs, as Kafka's KafkaApis: what each
// request needs on its group (and on the topics it names) before the group
// coordinator sees it, and Kafka's answers where the principal lacks it
// (GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED). Parts of a
// request that are allowed go on to the coordinator; refused parts are
// answered here and merged into its response.
#include <set>

#include "group_apis.h"
#include "strata/security/authorized_operations.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;
using security::acl_operation;
using security::resource_type;

constexpr int16_t group_refused = static_cast<int16_t>(kafka_error::group_authorization_failed);
constexpr int16_t topic_refused = static_cast<int16_t>(kafka_error::topic_authorization_failed);

bool may_group(const request_context& ctx, acl_operation op, const std::string& group) {
    return ctx.authorized(op, resource_type::group, group);
}

bool may_topic(const request_context& ctx, acl_operation op, const std::string& topic) {
    return ctx.authorized(op, resource_type::topic, topic);
}

// SyncGroup, Heartbeat, LeaveGroup: READ on the group, else a response that
// carries only the error (JoinGroup's refusal has more fields to fill).
template <typename Response, typename Request, typename Call>
awaitable<Response> with_group_read(request_context& ctx, Request request, Call call) {
    if (!may_group(ctx, acl_operation::read, request.group_id)) {
        Response response;
        response.error_code = group_refused;
        co_return response;
    }
    co_return co_await call(std::move(request));
}

}  // namespace

awaitable<msg::join_group_response> authorized_join_group(group::group_coordinator& gc, request_context& ctx,
                                                          msg::join_group_request request, std::string client_id,
                                                          std::string client_host) {
    if (!may_group(ctx, acl_operation::read, request.group_id)) {
        msg::join_group_response response;
        response.error_code = group_refused;
        response.member_id = request.member_id;
        if (ctx.version >= 7) response.protocol_name.reset();
        co_return response;
    }
    co_return co_await gc.join_group(std::move(request), ctx.version, std::move(client_id), std::move(client_host));
}

awaitable<msg::sync_group_response> authorized_sync_group(group::group_coordinator& gc, request_context& ctx,
                                                          msg::sync_group_request request) {
    return with_group_read<msg::sync_group_response>(ctx, std::move(request),
                                 [&gc, version = ctx.version](msg::sync_group_request r) {
                                     return gc.sync_group(std::move(r), version);
                                 });
}

awaitable<msg::heartbeat_response> authorized_heartbeat(group::group_coordinator& gc, request_context& ctx,
                                                        msg::heartbeat_request request) {
    return with_group_read<msg::heartbeat_response>(ctx, std::move(request),
                                 [&gc, version = ctx.version](msg::heartbeat_request r) {
                                     return gc.heartbeat(std::move(r), version);
                                 });
}

awaitable<msg::leave_group_response> authorized_leave_group(group::group_coordinator& gc, request_context& ctx,
                                                            msg::leave_group_request request) {
    return with_group_read<msg::leave_group_response>(ctx, std::move(request),
                                 [&gc, version = ctx.version](msg::leave_group_request r) {
                                     return gc.leave_group(std::move(r), version);
                                 });
}

// READ on the group, then READ on each topic.
awaitable<msg::offset_commit_response> authorized_offset_commit(group::group_coordinator& gc, request_context& ctx,
                                                                msg::offset_commit_request request) {
    const bool group_allowed = may_group(ctx, acl_operation::read, request.group_id);
    std::vector<msg::offset_commit_response::offset_commit_response_topic> refused;
    std::erase_if(request.topics, [&](const msg::offset_commit_request::offset_commit_request_topic& t) {
        if (group_allowed && may_topic(ctx, acl_operation::read, t.name)) return false;
        auto& out = refused.emplace_back();
        out.name = t.name;
        for (const auto& p : t.partitions) {
            auto& part = out.partitions.emplace_back();
            part.partition_index = p.partition_index;
            part.error_code = group_allowed ? topic_refused : group_refused;
        }
        return true;
    });
    msg::offset_commit_response response;
    // A request with no topics still goes on (it checks the member).
    if (!request.topics.empty() || (group_allowed && refused.empty()))
        response = co_await gc.offset_commit(std::move(request), ctx.version);
    for (auto& t : refused) response.topics.push_back(std::move(t));
    co_return response;
}

namespace {

// The topics of one group's OffsetFetch: those the principal may not
// DESCRIBE are answered TOPIC_AUTHORIZATION_FAILED when named, left out of
// "every topic" answers.
template <typename RequestTopics, typename ResponseTopics>
void refuse_undescribable(const request_context& ctx, std::optional<std::vector<RequestTopics>>& topics,
                          std::vector<ResponseTopics>& refused) {
    if (!topics) return;
    std::erase_if(*topics, [&](const RequestTopics& t) {
        if (may_topic(ctx, acl_operation::describe, t.name)) return false;
        auto& out = refused.emplace_back();
        out.name = t.name;
        for (const int32_t index : t.partition_indexes) {
            auto& part = out.partitions.emplace_back();
            part.partition_index = index;
            part.committed_offset = -1;
            part.error_code = topic_refused;
        }
        return true;
    });
}

template <typename ResponseTopics>
void drop_undescribable(const request_context& ctx, std::vector<ResponseTopics>& topics) {
    std::erase_if(topics, [&](const ResponseTopics& t) { return !may_topic(ctx, acl_operation::describe, t.name); });
}

}  // namespace

// DESCRIBE on the group (each group from v8), DESCRIBE on each topic.
awaitable<msg::offset_fetch_response> authorized_offset_fetch(group::group_coordinator& gc, request_context& ctx,
                                                              msg::offset_fetch_request request) {
    if (ctx.version < 8) {
        msg::offset_fetch_response response;
        if (!may_group(ctx, acl_operation::describe, request.group_id)) {
            response.error_code = group_refused;
            // v0-1 have no top-level error: each named partition carries it.
            if (request.topics)
                for (const auto& t : *request.topics) {
                    auto& out = response.topics.emplace_back();
                    out.name = t.name;
                    for (const int32_t index : t.partition_indexes) {
                        auto& part = out.partitions.emplace_back();
                        part.partition_index = index;
                        part.committed_offset = -1;
                        part.error_code = group_refused;
                    }
                }
            co_return response;
        }
        const bool every_topic = !request.topics.has_value();
        std::vector<msg::offset_fetch_response::offset_fetch_response_topic> refused;
        refuse_undescribable(ctx, request.topics, refused);
        if (every_topic || !request.topics->empty())
            response = co_await gc.offset_fetch(std::move(request), ctx.version);
        if (every_topic) drop_undescribable(ctx, response.topics);
        for (auto& t : refused) response.topics.push_back(std::move(t));
        co_return response;
    }
    // v8+: several groups, each authorized on its own.
    std::vector<msg::offset_fetch_response::offset_fetch_response_group> answered_here(request.groups.size());
    std::vector<bool> here(request.groups.size(), false);
    std::vector<bool> every_topic(request.groups.size(), false);
    msg::offset_fetch_request passed = request;
    passed.groups.clear();
    for (size_t i = 0; i < request.groups.size(); ++i) {
        auto& g = request.groups[i];
        answered_here[i].group_id = g.group_id;
        if (!may_group(ctx, acl_operation::describe, g.group_id)) {
            answered_here[i].error_code = group_refused;
            here[i] = true;
            continue;
        }
        every_topic[i] = !g.topics.has_value();
        refuse_undescribable(ctx, g.topics, answered_here[i].topics);
        if (!every_topic[i] && g.topics->empty()) {
            here[i] = true;  // every named topic refused
            continue;
        }
        passed.groups.push_back(g);
    }
    msg::offset_fetch_response from_coordinator;
    if (!passed.groups.empty()) from_coordinator = co_await gc.offset_fetch(std::move(passed), ctx.version);
    msg::offset_fetch_response response = from_coordinator;
    response.groups.clear();
    size_t next = 0;
    for (size_t i = 0; i < request.groups.size(); ++i) {
        if (here[i] || next >= from_coordinator.groups.size()) {
            response.groups.push_back(std::move(answered_here[i]));
            continue;
        }
        auto g = std::move(from_coordinator.groups[next++]);
        if (every_topic[i]) drop_undescribable(ctx, g.topics);
        for (auto& t : answered_here[i].topics) g.topics.push_back(std::move(t));
        response.groups.push_back(std::move(g));
    }
    co_return response;
}

// DESCRIBE on each group.
awaitable<msg::describe_groups_response> authorized_describe_groups(group::group_coordinator& gc,
                                                                    request_context& ctx,
                                                                    msg::describe_groups_request request) {
    std::set<std::string> refused;
    msg::describe_groups_request passed = request;
    passed.groups.clear();
    for (const auto& g : request.groups) {
        if (may_group(ctx, acl_operation::describe, g)) passed.groups.push_back(g);
        else refused.insert(g);
    }
    const bool with_operations = request.include_authorized_operations;
    msg::describe_groups_response response;
    if (!passed.groups.empty()) response = co_await gc.describe_groups(std::move(passed), ctx.version);
    // Each described group's operations for this principal, when asked (v3+).
    if (with_operations)
        for (auto& g : response.groups)
            g.authorized_operations =
                security::authorized_operations(ctx.authorizer, ctx.identity(), resource_type::group, g.group_id);
    for (const auto& g : refused) {
        auto& out = response.groups.emplace_back();
        out.group_id = g;
        out.error_code = group_refused;
    }
    co_return response;
}

// DESCRIBE on the cluster lists every group; otherwise those the principal
// may DESCRIBE (Kafka's ListGroups).
awaitable<msg::list_groups_response> authorized_list_groups(group::group_coordinator& gc, request_context& ctx,
                                                            msg::list_groups_request request) {
    auto response = co_await gc.list_groups(std::move(request), ctx.version);
    if (ctx.authorized(acl_operation::describe, resource_type::cluster, security::cluster_resource_name))
        co_return response;
    std::erase_if(response.groups, [&](const msg::list_groups_response::listed_group& g) {
        return !may_group(ctx, acl_operation::describe, g.group_id);
    });
    co_return response;
}

// DELETE on each group.
awaitable<msg::delete_groups_response> authorized_delete_groups(group::group_coordinator& gc, request_context& ctx,
                                                                msg::delete_groups_request request) {
    std::vector<std::string> refused;
    std::erase_if(request.groups_names, [&](const std::string& g) {
        if (may_group(ctx, acl_operation::remove, g)) return false;
        refused.push_back(g);
        return true;
    });
    msg::delete_groups_response response;
    if (!request.groups_names.empty()) response = co_await gc.delete_groups(std::move(request), ctx.version);
    for (const auto& g : refused) {
        auto& out = response.results.emplace_back();
        out.group_id = g;
        out.error_code = group_refused;
    }
    co_return response;
}

// DELETE on the group, READ on each topic.
awaitable<msg::offset_delete_response> authorized_offset_delete(group::group_coordinator& gc, request_context& ctx,
                                                                msg::offset_delete_request request) {
    if (!may_group(ctx, acl_operation::remove, request.group_id)) {
        msg::offset_delete_response response;
        response.error_code = group_refused;
        co_return response;
    }
    std::vector<msg::offset_delete_response::offset_delete_response_topic> refused;
    std::erase_if(request.topics, [&](const msg::offset_delete_request::offset_delete_request_topic& t) {
        if (may_topic(ctx, acl_operation::read, t.name)) return false;
        auto& out = refused.emplace_back();
        out.name = t.name;
        for (const auto& p : t.partitions) {
            auto& part = out.partitions.emplace_back();
            part.partition_index = p.partition_index;
            part.error_code = topic_refused;
        }
        return true;
    });
    msg::offset_delete_response response;
    if (!request.topics.empty() || refused.empty())
        response = co_await gc.offset_delete(std::move(request), ctx.version);
    for (auto& t : refused) response.topics.push_back(std::move(t));
    co_return response;
}

// KIP-848: READ on the group.
awaitable<msg::consumer_group_heartbeat_response> authorized_consumer_group_heartbeat(
    group::group_coordinator& gc, request_context& ctx, msg::consumer_group_heartbeat_request request,
    std::string client_id, std::string client_host) {
    if (!may_group(ctx, acl_operation::read, request.group_id)) {
        msg::consumer_group_heartbeat_response response;
        response.error_code = group_refused;
        response.error_message.reset();
        response.member_id.reset();
        co_return response;
    }
    // DESCRIBE on every topic the subscription names, as Kafka's KafkaApis:
    // one refused topic refuses the whole heartbeat, naming none, so a
    // member is never assigned (nor told of) a topic it may not see.
    if (request.subscribed_topic_names) {
        for (const auto& topic : *request.subscribed_topic_names) {
            if (may_topic(ctx, acl_operation::describe, topic)) continue;
            msg::consumer_group_heartbeat_response response;
            response.error_code = topic_refused;
            response.error_message.reset();
            response.member_id.reset();
            co_return response;
        }
    }
    co_return co_await gc.consumer_group_heartbeat(std::move(request), ctx.version, std::move(client_id),
                                                   std::move(client_host));
}

// DESCRIBE on each group.
awaitable<msg::consumer_group_describe_response> authorized_consumer_group_describe(
    group::group_coordinator& gc, request_context& ctx, msg::consumer_group_describe_request request) {
    std::vector<std::string> refused;
    std::erase_if(request.group_ids, [&](const std::string& g) {
        if (may_group(ctx, acl_operation::describe, g)) return false;
        refused.push_back(g);
        return true;
    });
    const bool with_operations = request.include_authorized_operations;
    msg::consumer_group_describe_response response;
    if (!request.group_ids.empty()) response = co_await gc.consumer_group_describe(std::move(request), ctx.version);
    // The operations of each group described without error, when asked (Kafka's KafkaApis).
    if (with_operations)
        for (auto& g : response.groups)
            if (g.error_code == 0)
                g.authorized_operations =
                    security::authorized_operations(ctx.authorizer, ctx.identity(), resource_type::group, g.group_id);
    for (const auto& g : refused) {
        auto& out = response.groups.emplace_back();
        out.group_id = g;
        out.error_code = group_refused;
        out.error_message.reset();
    }
    co_return response;
}

}  // namespace strata::server
