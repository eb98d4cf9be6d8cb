// A broker's line to the active controller, wherever it is. When this node
// is the active controller the operation runs in-process (metadata_service);
// otherwise the request goes over the controller listener
// (controller.quorum.voters) to the node the quorum names as leader, as
// Kafka's brokers send BrokerRegistration and BrokerHeartbeat, and forward
// the admin requests that only the controller may decide (CreateTopics,
// DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
// AllocateProducerIds).
//
// A forwarded request carries the client id `forwarded_client_id`; a node
// that receives one and is not the active controller answers
// NOT_CONTROLLER instead of forwarding again, so a stale view of the
// leadership cannot make requests circle.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "strata/metadata/metadata_service.h"
#include "strata/net/client_connection.h"
#include "strata/protocol/messages/alter_partition_request.h"
#include "strata/protocol/messages/alter_partition_response.h"
#include "strata/server/broker_config.h"

namespace strata::server {

inline constexpr std::string_view forwarded_client_id = "strata-controller-forward";

class controller_channel {
public:
    // `executor` must be single-threaded (the metadata quorum's); the
    // connections live there.
    controller_channel(boost::asio::any_io_executor executor, metadata::metadata_service& metadata,
                       const broker_config& config);
    ~controller_channel();

    int32_t node_id() const { return _node_id; }
    // The single-threaded executor the connections live on (the metadata
    // quorum's).
    const boost::asio::any_io_executor& executor() const { return _executor; }
    // True when this node is the active controller as it knows it.
    bool local() const;
    // The active controller's id, if known.
    std::optional<int32_t> controller_id() const { return _metadata.controller_id(); }

    // Sends `request` at `version` to the remote active controller and
    // decodes its answer. `disconnected` when no controller is known or
    // reachable. May be awaited from any executor.
    template <typename Response, typename Request>
    boost::asio::awaitable<net::client_result<Response>> call(Request request, int16_t version,
                                                              std::chrono::milliseconds timeout) {
        auto connection = co_await connection_to_controller();
        if (!connection) co_return net::client_error::disconnected;
        // (co_spawn needs a default-constructible result: hence the optional.)
        auto answer = co_await boost::asio::co_spawn(
            _executor, call_on<Response>(std::move(connection), std::move(request), version, timeout),
            boost::asio::use_awaitable);
        co_return std::move(*answer);
    }

    // AlterPartition (v3) from this broker as the leader of the request's
    // partitions: the replication layer's ISR changes. Runs in-process when this node is the active
    // controller, else over the controller listener. Failing to reach a
    // controller comes back as a top-level NOT_CONTROLLER (no controller
    // known or reachable) or REQUEST_TIMED_OUT, for the caller to retry, as
    // Kafka's AlterPartitionManager does. May be awaited from any executor.
    boost::asio::awaitable<protocol::messages::alter_partition_response> alter_partition(
        protocol::messages::alter_partition_request request, std::chrono::milliseconds timeout);

    // Closes the connections (shutdown).
    void close();

private:
    template <typename Response, typename Request>
    static boost::asio::awaitable<std::optional<net::client_result<Response>>> call_on(
        std::shared_ptr<net::client_connection> c, Request request, int16_t version,
        std::chrono::milliseconds timeout) {
        co_return co_await c->template call<Response>(std::move(request), version, timeout);
    }
    boost::asio::awaitable<std::shared_ptr<net::client_connection>> connection_to_controller();

    boost::asio::any_io_executor _executor;
    metadata::metadata_service& _metadata;
    const int32_t _node_id;
    std::map<int32_t, quorum_voter> _voters;
    struct state;
    std::shared_ptr<state> _state;  // the connections, on _executor
};

}  // namespace strata::server
