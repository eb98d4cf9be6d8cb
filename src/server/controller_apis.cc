// The controller's own RPCs, sent by brokers (KIP-631, KIP-730):
// BrokerRegistration (62), BrokerHeartbeat (63), AllocateProducerIds (67),
// and AlterPartition (56), by which a partition leader changes its ISR.
// Answered by the metadata layer, which says NOT_CONTROLLER unless this node
// is the active controller.
#include "admin_apis.h"
#include "strata/protocol/messages/allocate_producer_ids_request.h"
#include "strata/protocol/messages/allocate_producer_ids_response.h"
#include "strata/protocol/messages/alter_partition_request.h"
#include "strata/protocol/messages/alter_partition_response.h"
#include "strata/protocol/messages/broker_heartbeat_request.h"
#include "strata/protocol/messages/broker_heartbeat_response.h"
#include "strata/protocol/messages/broker_registration_request.h"
#include "strata/protocol/messages/broker_registration_response.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

constexpr int32_t producer_id_block = 1000;

awaitable<msg::broker_registration_response> handle_broker_registration(admin_context& admin, request_context& ctx,
                                                                        msg::broker_registration_request& request) {
    auto response = co_await admin.metadata.register_broker(std::move(request), ctx.connection.id);
    co_return response;
}

awaitable<msg::broker_heartbeat_response> handle_broker_heartbeat(admin_context& admin, request_context& ctx,
                                                                  msg::broker_heartbeat_request& request) {
    auto response = co_await admin.metadata.broker_heartbeat(std::move(request), ctx.connection.id);
    co_return response;
}

awaitable<msg::allocate_producer_ids_response> handle_allocate_producer_ids(
    admin_context& admin, request_context& ctx, msg::allocate_producer_ids_request& request) {
    auto [error, first] = co_await admin.metadata.allocate_producer_ids(request.broker_id, producer_id_block);
    msg::allocate_producer_ids_response response;
    response.error_code = static_cast<int16_t>(error);
    response.producer_id_start = error == kafka_error::none ? first : -1;
    response.producer_id_len = error == kafka_error::none ? producer_id_block : 0;
    co_return response;
}

awaitable<msg::alter_partition_response> handle_alter_partition(admin_context& admin, request_context& ctx,
                                                                msg::alter_partition_request& request) {
    auto response = co_await admin.metadata.alter_partition(std::move(request), ctx.version);
    co_return response;
}

}  // namespace

void register_controller_apis(request_dispatcher& dispatcher, admin_context& admin) {
    // Only the cluster's own members may call these (CLUSTER_ACTION), as
    // Kafka's ControllerApis checks.
    auto bind = [&admin](auto fn) {
        return [&admin, fn](request_context& ctx, auto& request) -> decltype(fn(admin, ctx, request)) {
            using response = typename decltype(fn(admin, ctx, request))::value_type;
            if (!cluster_action_allowed(ctx)) co_return refused<response>(kafka_error::cluster_authorization_failed);
            co_return co_await fn(admin, ctx, request);
        };
    };
    // A broker's heartbeat connection closing is the first sign of its
    // death: the controller fences it after a short grace, not a session.
    dispatcher.on_connection_closed(
        [&admin](const net::connection_info& connection) { admin.metadata.connection_closed(connection.id); });
    dispatcher.register_api<msg::broker_registration_request>(bind(handle_broker_registration), 0, 4);
    dispatcher.register_api<msg::broker_heartbeat_request>(bind(handle_broker_heartbeat), 0, 1);
    dispatcher.register_api<msg::allocate_producer_ids_request>(bind(handle_allocate_producer_ids), 0, 0);
    dispatcher.register_api<msg::alter_partition_request>(bind(handle_alter_partition), 0, 3);
}

}  // namespace strata::server
