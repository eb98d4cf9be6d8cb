// The broker's partitions and their storage: the log manager over log.dirs,
// the partition manager that leads what the metadata image says, and the
// threads its partition strands run on. Made and stopped by stratad's main
// thread; fed by the metadata service's image listener.
#pragma once

#include <memory>

#include "strata/metadata/metadata_service.h"
#include "strata/replication/partition_manager.h"
#include "strata/server/broker_config.h"

namespace strata::server {

class data_plane {
public:
    // Opens (recovering if needed) the log directory and subscribes to
    // `metadata`'s images; call before the metadata quorum starts, so that
    // no image is missed. Throws std::runtime_error if the logs cannot be
    // opened.
    data_plane(const broker_config& config, metadata::metadata_service& metadata);
    ~data_plane();  // stop()

    replication::partition_manager& partitions();

    // After the network server and the metadata quorum have stopped: stops
    // every partition, drains their strands, flushes and closes the logs
    // (writing the clean-shutdown marker). Idempotent.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> _impl;
};

}  // namespace strata::server
