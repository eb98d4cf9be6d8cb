// The broker's partitions and their storage: the log manager over log.dirs,
// the partition manager that leads and follows what the metadata image says,
// the replica fetchers that copy the leaders' logs to this broker's
// followers, and the threads they run on. Made and stopped by stratad's main
// thread; fed by the metadata service's image listener; ISR changes go to
// the controller through the controller channel.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "strata/metadata/metadata_service.h"
#include "strata/replication/partition_manager.h"
#include "strata/server/broker_config.h"
#include "strata/storage/log_manager.h"

namespace strata::metrics {
class registry;
}

namespace strata::server {

class controller_channel;

class data_plane {
public:
    // Opens (recovering if needed) the log directory and subscribes to
    // `metadata`'s images; call before the metadata quorum starts, so that
    // no image is missed. Throws std::runtime_error if the logs cannot be
    // opened. `controller` (outliving the data plane's partitions, or null:
    // no ISR changes) carries the leaders' AlterPartition requests.
    // `registry` (or null) gets the storage metrics (fsync latency).
    // `incarnation` is this process's broker registration (zero: stray logs
    // are never deleted; see partition_manager_options::incarnation_id).
    // `on_log_dir_failure` (or empty) is called once, on a storage thread,
    // with the directory and the error when an I/O error takes the log
    // directory offline (storage::log_manager_config::on_dir_failure); its
    // partitions then answer KAFKA_STORAGE_ERROR. Must not block.
    data_plane(const broker_config& config, metadata::metadata_service& metadata,
               controller_channel* controller = nullptr, metrics::registry* registry = nullptr,
               protocol::uuid incarnation = {},
               std::function<void(const std::string& dir, const std::string& cause)> on_log_dir_failure = {});
    ~data_plane();  // stop()

    replication::partition_manager& partitions();
    const storage::log_manager& logs() const;

    // After the network server and the metadata quorum have stopped: stops
    // the replica fetchers and every partition, drains their strands,
    // flushes and closes the logs (writing the clean-shutdown marker).
    // Idempotent.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::server
