// InitProducerId (22): for idempotent producers a fresh producer id at epoch
// 0, from a block the controller hands this broker (AllocateProducerIds'
// ProducerIdsRecord in the metadata log, so ids are never reused across
// restarts or brokers); with a transactional id, the transaction coordinator
// answers (src/txn/), taking its new ids from the same blocks.
#include <mutex>

#include "admin_apis.h"
#include "strata/txn/txn_coordinator.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/init_producer_id_request.h"
#include "strata/protocol/messages/init_producer_id_response.h"
#include "strata/protocol/messages/allocate_producer_ids_request.h"
#include "strata/protocol/messages/allocate_producer_ids_response.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;

// Kafka's block size.
constexpr int32_t block_size = 1000;

}  // namespace

struct producer_id_allocator {
    producer_id_allocator(admin_context& a, int32_t n) : admin(a), node_id(n) {}
    admin_context& admin;
    const int32_t node_id;
    std::mutex mutex;
    int64_t next = 0;
    int64_t end = 0;  // exclusive; next == end: none left
};

namespace {

boost::asio::awaitable<msg::allocate_producer_ids_response> allocate_here(admin_context& admin, int32_t node_id) {
    auto [error, first] = co_await admin.metadata.allocate_producer_ids(node_id, block_size);
    msg::allocate_producer_ids_response response;
    response.error_code = static_cast<int16_t>(error);
    response.producer_id_start = first;
    response.producer_id_len = block_size;
    co_return response;
}

}  // namespace

boost::asio::awaitable<std::pair<kafka_error, int64_t>> allocate_producer_id(
    std::shared_ptr<producer_id_allocator> blocks) {
    auto& admin = blocks->admin;
    const int32_t node_id = blocks->node_id;
    for (int attempt = 0; attempt < 2; ++attempt) {
        {
            std::lock_guard lock(blocks->mutex);
            if (blocks->next < blocks->end) co_return std::pair{kafka_error::none, blocks->next++};
        }
        msg::allocate_producer_ids_request allocate;
        allocate.broker_id = node_id;
        allocate.broker_epoch = -1;
        auto allocated = co_await on_controller<msg::allocate_producer_ids_response>(
            admin, nullptr, allocate, 0, [&admin, node_id](msg::allocate_producer_ids_request) {
                return allocate_here(admin, node_id);
            });
        const auto error = static_cast<kafka_error>(allocated.error_code);
        const int64_t first = allocated.producer_id_start;
        if (error != kafka_error::none) {
            // NOT_CONTROLLER and timeouts are retriable for the client.
            co_return std::pair{error == kafka_error::not_controller ? kafka_error::coordinator_load_in_progress : error,
                                int64_t{-1}};
        }
        std::lock_guard lock(blocks->mutex);
        if (blocks->next >= blocks->end) {
            blocks->next = first;
            blocks->end = first + block_size;
        }
    }
    co_return std::pair{kafka_error::coordinator_load_in_progress, int64_t{-1}};
}

std::shared_ptr<producer_id_allocator> make_producer_id_allocator(admin_context& admin, int32_t node_id) {
    return std::make_shared<producer_id_allocator>(admin, node_id);
}

namespace {

boost::asio::awaitable<msg::init_producer_id_response> handle_init_producer_id(
    std::shared_ptr<producer_id_allocator> blocks, txn::txn_coordinator* transactions, request_context& ctx,
    msg::init_producer_id_request& request) {
    const bool transactional = request.transactional_id && !request.transactional_id->empty();
    // The authorize stage, as Kafka's KafkaApis: a transactional producer
    // needs WRITE on its id; an idempotent one IDEMPOTENT_WRITE on the
    // cluster or, since KIP-679, WRITE on some topic.
    const auto refuse = [](kafka_error error) {
        msg::init_producer_id_response response;
        response.producer_id = -1;
        response.producer_epoch = -1;
        response.error_code = static_cast<int16_t>(error);
        return response;
    };
    if (transactional && !ctx.authorized(security::acl_operation::write, security::resource_type::transactional_id,
                                         *request.transactional_id))
        co_return refuse(kafka_error::transactional_id_authorization_failed);
    if (!transactional &&
        !ctx.authorized(security::acl_operation::idempotent_write, security::resource_type::cluster,
                        security::cluster_resource_name) &&
        !ctx.authorizer.authorize_by_resource_type(ctx.identity(), security::acl_operation::write,
                                                   security::resource_type::topic))
        co_return refuse(kafka_error::cluster_authorization_failed);
    if (transactional) {
        if (transactions) co_return co_await transactions->init_producer_id(std::move(request), ctx.version);
        msg::init_producer_id_response response;
        response.producer_id = -1;
        response.producer_epoch = -1;
        response.error_code = static_cast<int16_t>(kafka_error::coordinator_not_available);
        co_return response;
    }
    msg::init_producer_id_response response;
    auto [error, id] = co_await allocate_producer_id(blocks);
    response.error_code = static_cast<int16_t>(error);
    response.producer_id = id;
    response.producer_epoch = error == kafka_error::none ? 0 : -1;
    co_return response;
}

}  // namespace

void register_init_producer_id(request_dispatcher& dispatcher, std::shared_ptr<producer_id_allocator> blocks,
                               txn::txn_coordinator* transactions) {
    dispatcher.register_api<msg::init_producer_id_request>(
        [blocks, transactions](request_context& ctx, msg::init_producer_id_request& request) {
            return handle_init_producer_id(blocks, transactions, ctx, request);
        },
        0, 5);
}

}  // namespace strata::server
