// The metadata layer running on top of the Raft quorum: applies committed
// metadata records to the image and publishes each new image, and, on the
// active controller (the Raft leader), runs the controller's decisions and
// proposes their records. Brokers read the image; admin requests call the
// controller operations, which complete once their records are committed
// and applied, so a client that creates a topic sees it in the next
// Metadata response.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "strata/metadata/controller.h"
#include "strata/metadata/image.h"
#include "strata/raft/node.h"

namespace strata::metadata {

struct metadata_service_options {
    int32_t node_id = 1;
    controller_options controller;
    // How long a controller operation waits for its records to commit.
    std::chrono::milliseconds commit_timeout{5000};
    // How often the active controller looks for expired broker sessions.
    std::chrono::milliseconds fencing_interval{500};
    // metadata.version written when a new cluster's first leader finds none
    // (Kafka 3.9's 3.9-IV0).
    int16_t bootstrap_metadata_version = 21;
    // A snapshot of the applied image is written (and the log truncated
    // behind it) once this many bytes of records were applied since the
    // last one, or once `snapshot_interval` has passed with any applied
    // (0: no time trigger). Kafka's metadata.log.max.record.bytes.between.
    // snapshots and metadata.log.max.snapshot.interval.ms.
    int64_t snapshot_max_record_bytes = 20971520;
    std::chrono::milliseconds snapshot_interval{3600000};
};

using image_listener = std::function<void(const std::shared_ptr<const metadata_image>&, const image_changes&)>;

// Lives on a strand of the executor it is given; the raft::node must outlive
// it. image() is thread-safe; the controller operations may be awaited from
// any executor and run one at a time on the service's strand, so each
// decision sees the records of the one before it.
class metadata_service {
public:
    metadata_service(boost::asio::any_io_executor executor, raft::node& node, metadata_service_options options);
    ~metadata_service();

    // Registers the raft listeners; call before node.start().
    void attach();
    // Starts the fencing timer; stop() ends it and waits.
    void start();
    void stop();

    std::shared_ptr<const metadata_image> image() const;
    // Called on the service's strand after each new image; must not block.
    // An image loaded from a snapshot comes with changes computed against
    // the previous image (image_changes::from_snapshot set): listeners
    // should reconcile everything.
    void on_image(image_listener listener);

    // The active controller's id as this node knows it.
    std::optional<int32_t> controller_id() const;

    boost::asio::awaitable<msg::create_topics_response> create_topics(msg::create_topics_request request,
                                                                      int16_t version);
    boost::asio::awaitable<msg::delete_topics_response> delete_topics(msg::delete_topics_request request,
                                                                      int16_t version);
    boost::asio::awaitable<msg::create_partitions_response> create_partitions(
        msg::create_partitions_request request);
    // `connection`: the id of the network connection the request came on
    // (0: in-process). The controller watches that connection: when it
    // closes, connection_closed() shortens the broker's session.
    boost::asio::awaitable<msg::broker_registration_response> register_broker(
        msg::broker_registration_request request, uint64_t connection = 0);
    boost::asio::awaitable<msg::broker_heartbeat_response> broker_heartbeat(msg::broker_heartbeat_request request,
                                                                            uint64_t connection = 0);
    // A network connection closed (any thread; cheap for connections that
    // never carried a broker's heartbeat).
    void connection_closed(uint64_t connection);
    // AlterPartition from a partition leader (controller::alter_partition).
    // When the change cannot be committed (not the active controller, a
    // commit timeout) the response carries only a top-level error, as
    // Kafka's error response does.
    boost::asio::awaitable<msg::alter_partition_response> alter_partition(msg::alter_partition_request request,
                                                                          int16_t version);
    // A controller decision the metadata layer does not model itself
    // (AlterConfigs): `decide` runs like the operations above (one at a
    // time, on the caught-up active controller, with the current image) and
    // returns the records to commit. Answers NOT_CONTROLLER or
    // REQUEST_TIMED_OUT when they were not committed, else NONE.
    using decision = std::function<std::vector<record>(const metadata_image&)>;
    boost::asio::awaitable<kafka_error> decide(decision decide);
    // The first id of a block of `block_size`, or the error.
    boost::asio::awaitable<std::pair<kafka_error, int64_t>> allocate_producer_ids(int32_t broker_id,
                                                                                  int32_t block_size);

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::metadata
