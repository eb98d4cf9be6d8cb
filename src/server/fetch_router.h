// Fetch is one API with two audiences: the metadata quorum (KRaft's
// replication, topic __cluster_metadata) and the broker's partitions
// (consumers and follower replicas). The router decodes the request once and
// hands it to whichever serves it, so each side registers its handler here
// instead of with the dispatcher.
#pragma once

#include <functional>

#include "request_dispatcher.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"

namespace strata::server {

using fetch_handler = std::function<boost::asio::awaitable<protocol::messages::fetch_response>(
    request_context& ctx, protocol::messages::fetch_request& request)>;

// Built and filled before the server starts; immutable afterwards.
class fetch_router {
public:
    // Fetches of __cluster_metadata (by name, or by its topic id in v13+).
    void set_metadata_handler(fetch_handler handler) { _metadata = std::move(handler); }
    // Every other Fetch. Until one is set, each partition asked for is
    // answered UNKNOWN_TOPIC_OR_PARTITION (UNKNOWN_TOPIC_ID by id).
    void set_partition_handler(fetch_handler handler) { _partitions = std::move(handler); }

    // Registers Fetch (the versions Kafka 4.0 serves, 4-17) with the dispatcher.
    void register_with(request_dispatcher& dispatcher);

private:
    boost::asio::awaitable<protocol::messages::fetch_response> route(request_context& ctx,
                                                                     protocol::messages::fetch_request& request);

    fetch_handler _metadata;
    fetch_handler _partitions;
};

}  // namespace strata::server
