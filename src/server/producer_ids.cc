// InitProducerId (22) for idempotent producers: a fresh producer id at epoch
// 0, from a block the controller hands this broker (AllocateProducerIds'
// ProducerIdsRecord in the metadata log, so ids are never reused across
// restarts or brokers). Transactional ids need the transaction coordinator,
// which Strata does not have yet.
#include <mutex>

#include "admin_apis.h"
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

struct producer_id_blocks {
    std::mutex mutex;
    int64_t next = 0;
    int64_t end = 0;  // exclusive; next == end: none left
};

boost::asio::awaitable<msg::allocate_producer_ids_response> allocate_here(admin_context& admin, int32_t node_id) {
    auto [error, first] = co_await admin.metadata.allocate_producer_ids(node_id, block_size);
    msg::allocate_producer_ids_response response;
    response.error_code = static_cast<int16_t>(error);
    response.producer_id_start = first;
    response.producer_id_len = block_size;
    co_return response;
}

boost::asio::awaitable<msg::init_producer_id_response> handle_init_producer_id(
    admin_context& admin, std::shared_ptr<producer_id_blocks> blocks, int32_t node_id, request_context& ctx,
    msg::init_producer_id_request& request) {
    msg::init_producer_id_response response;
    response.producer_id = -1;
    response.producer_epoch = -1;
    if (request.transactional_id && !request.transactional_id->empty()) {
        // Only the transaction coordinator answers for a transactional id;
        // FindCoordinator(TRANSACTION) finds none here.
        response.error_code = static_cast<int16_t>(kafka_error::coordinator_not_available);
        co_return response;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
        {
            std::lock_guard lock(blocks->mutex);
            if (blocks->next < blocks->end) {
                response.producer_id = blocks->next++;
                response.producer_epoch = 0;
                co_return response;
            }
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
            response.error_code = static_cast<int16_t>(
                error == kafka_error::not_controller ? kafka_error::coordinator_load_in_progress : error);
            co_return response;
        }
        std::lock_guard lock(blocks->mutex);
        if (blocks->next >= blocks->end) {
            blocks->next = first;
            blocks->end = first + block_size;
        }
    }
    response.error_code = static_cast<int16_t>(kafka_error::coordinator_load_in_progress);
    co_return response;
}

}  // namespace

void register_init_producer_id(request_dispatcher& dispatcher, admin_context& admin, int32_t node_id) {
    auto blocks = std::make_shared<producer_id_blocks>();
    dispatcher.register_api<msg::init_producer_id_request>(
        [&admin, blocks, node_id](request_context& ctx, msg::init_producer_id_request& request) {
            return handle_init_producer_id(admin, blocks, node_id, ctx, request);
        },
        0, 5);
}

}  // namespace strata::server
