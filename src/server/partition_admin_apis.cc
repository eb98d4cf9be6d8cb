// Operator requests about partition placement and leadership: ElectLeaders
// (43, KIP-460), preferred or unclean; AlterPartitionReassignments (45) and
// ListPartitionReassignments (46, KIP-455); UnregisterBroker (64, KIP-631).
// Forwarded to the active controller like the other admin requests; the
// decisions are metadata::elect_leaders and metadata/reassignment.h.
#include "admin_apis.h"
#include "strata/metadata/elections.h"
#include "strata/metadata/reassignment.h"
#include "strata/protocol/messages/elect_leaders_request.h"
#include "strata/protocol/messages/elect_leaders_response.h"
#include "strata/protocol/messages/unregister_broker_request.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

awaitable<msg::elect_leaders_response> elect_here(admin_context& admin, msg::elect_leaders_request request,
                                                  int16_t version) {
    msg::elect_leaders_response response;
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        response = {};
        return metadata::elect_leaders(image, request, version, response);
    });
    if (error != kafka_error::none) {
        // Nothing was committed: every partition answers the error (v0
        // has no top-level error code).
        response.error_code = static_cast<int16_t>(error);
        for (auto& topic : response.replica_election_results)
            for (auto& p : topic.partition_result) {
                p.error_code = static_cast<int16_t>(error);
                p.error_message = std::string(kafka_error_name(error));
            }
    }
    co_return response;
}

awaitable<msg::elect_leaders_response> handle_elect_leaders(admin_context& admin, request_context& ctx,
                                                            msg::elect_leaders_request& request) {
    // Kafka checks ALTER on the cluster.
    if (!authorized_or_forwarded(ctx, security::acl_operation::alter, security::resource_type::cluster,
                                 security::cluster_resource_name)) {
        msg::elect_leaders_response refused_all;
        refused_all.error_code = static_cast<int16_t>(kafka_error::cluster_authorization_failed);
        if (request.topic_partitions)
            for (const auto& tp : *request.topic_partitions) {
                auto& topic = refused_all.replica_election_results.emplace_back();
                topic.topic = tp.topic;
                for (int32_t p : tp.partitions) {
                    auto& r = topic.partition_result.emplace_back();
                    r.partition_id = p;
                    r.error_code = static_cast<int16_t>(kafka_error::cluster_authorization_failed);
                }
            }
        co_return refused_all;
    }
    const int16_t v = ctx.version;
    co_return co_await on_controller<msg::elect_leaders_response>(
        admin, &ctx, std::move(request), v,
        [&admin, v](msg::elect_leaders_request r) { return elect_here(admin, std::move(r), v); });
}

template <typename Response>
Response refused(kafka_error error) {
    Response response;
    response.error_code = static_cast<int16_t>(error);
    response.error_message = std::string(kafka_error_name(error));
    return response;
}

awaitable<msg::alter_partition_reassignments_response> reassign_here(admin_context& admin,
                                                                     msg::alter_partition_reassignments_request request) {
    msg::alter_partition_reassignments_response response;
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        response = {};
        return metadata::alter_partition_reassignments(image, request, response);
    });
    // Nothing was committed: the whole request failed (NOT_CONTROLLER, a
    // timeout), as Kafka's top-level error.
    if (error != kafka_error::none) {
        response = refused<msg::alter_partition_reassignments_response>(error);
        for (const auto& t : request.topics) {
            auto& topic = response.responses.emplace_back();
            topic.name = t.name;
            for (const auto& p : t.partitions) {
                auto& r = topic.partitions.emplace_back();
                r.partition_index = p.partition_index;
                r.error_code = static_cast<int16_t>(error);
                r.error_message = std::string(kafka_error_name(error));
            }
        }
    }
    co_return response;
}

awaitable<msg::alter_partition_reassignments_response> handle_reassign(
    admin_context& admin, request_context& ctx, msg::alter_partition_reassignments_request& request) {
    // Kafka checks ALTER on the cluster.
    if (!ctx.authorized(security::acl_operation::alter, security::resource_type::cluster,
                        security::cluster_resource_name))
        co_return refused<msg::alter_partition_reassignments_response>(kafka_error::cluster_authorization_failed);
    co_return co_await on_controller<msg::alter_partition_reassignments_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::alter_partition_reassignments_request r) { return reassign_here(admin, std::move(r)); });
}

awaitable<msg::list_partition_reassignments_response> handle_list_reassignments(
    admin_context& admin, request_context& ctx, msg::list_partition_reassignments_request& request) {
    // Kafka checks DESCRIBE on the cluster.
    if (!ctx.authorized(security::acl_operation::describe, security::resource_type::cluster,
                        security::cluster_resource_name))
        co_return refused<msg::list_partition_reassignments_response>(kafka_error::cluster_authorization_failed);
    // Answered from the active controller's image, the freshest.
    co_return co_await on_controller<msg::list_partition_reassignments_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::list_partition_reassignments_request r) -> awaitable<msg::list_partition_reassignments_response> {
            msg::list_partition_reassignments_response response;
            metadata::list_partition_reassignments(*admin.metadata.image(), r, response);
            co_return response;
        });
}

awaitable<msg::unregister_broker_response> handle_unregister_broker(admin_context& admin, request_context& ctx,
                                                                    msg::unregister_broker_request& request) {
    if (!ctx.authorized(security::acl_operation::alter, security::resource_type::cluster,
                        security::cluster_resource_name))
        co_return refused<msg::unregister_broker_response>(kafka_error::cluster_authorization_failed);
    co_return co_await on_controller<msg::unregister_broker_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::unregister_broker_request r) -> awaitable<msg::unregister_broker_response> {
            msg::unregister_broker_response response;
            const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
                response = {};
                return metadata::unregister_broker(image, r.broker_id, response);
            });
            if (error != kafka_error::none) response = refused<msg::unregister_broker_response>(error);
            co_return response;
        });
}

}  // namespace

void register_partition_admin_apis(request_dispatcher& dispatcher, admin_context& admin) {
    dispatcher.register_api<msg::elect_leaders_request>(
        [&admin](request_context& ctx, msg::elect_leaders_request& request) {
            return handle_elect_leaders(admin, ctx, request);
        },
        0, 2);
    dispatcher.register_api<msg::alter_partition_reassignments_request>(
        [&admin](request_context& ctx, msg::alter_partition_reassignments_request& request) {
            return handle_reassign(admin, ctx, request);
        },
        0, 0);
    dispatcher.register_api<msg::list_partition_reassignments_request>(
        [&admin](request_context& ctx, msg::list_partition_reassignments_request& request) {
            return handle_list_reassignments(admin, ctx, request);
        },
        0, 0);
    dispatcher.register_api<msg::unregister_broker_request>(
        [&admin](request_context& ctx, msg::unregister_broker_request& request) {
            return handle_unregister_broker(admin, ctx, request);
        },
        0, 0);
}

}  // namespace strata::server
