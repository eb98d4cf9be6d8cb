// Operator requests about partition leadership: ElectLeaders (43, KIP-460),
// preferred or unclean. Forwarded to the active controller like the other
// admin requests; the decision is metadata::elect_leaders.
#include "admin_apis.h"
#include "strata/metadata/elections.h"
#include "strata/protocol/messages/elect_leaders_request.h"
#include "strata/protocol/messages/elect_leaders_response.h"

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

}  // namespace

void register_partition_admin_apis(request_dispatcher& dispatcher, admin_context& admin) {
    dispatcher.register_api<msg::elect_leaders_request>(
        [&admin](request_context& ctx, msg::elect_leaders_request& request) {
            return handle_elect_leaders(admin, ctx, request);
        },
        0, 2);
}

}  // namespace strata::server
