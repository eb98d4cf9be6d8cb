#include "strata/server/data_plane.h"

#include <boost/asio/thread_pool.hpp>

#include <stdexcept>

#include "data_path.h"
#include "strata/common/log.h"
#include "topic_configs.h"

namespace strata::server {

struct data_plane::impl {
    // Partition strands do page-cache writes and bookkeeping only (fsync is
    // on storage's flusher thread), so two threads serve them on the
    // project's 2-core machines.
    boost::asio::thread_pool strands{2};
    std::unique_ptr<storage::log_manager> logs;
    std::unique_ptr<replication::partition_manager> partitions;
    bool stopped = false;
};

data_plane::data_plane(const broker_config& config, metadata::metadata_service& metadata)
    : _impl(std::make_unique<impl>()) {
    if (config.log_dirs.empty()) throw std::runtime_error("log.dirs is empty");
    storage::log_manager_config log_config;
    log_config.data_dir = config.log_dirs.front();
    auto opened = storage::log_manager::open(log_config);
    if (!opened) throw std::runtime_error("cannot open the logs in " + log_config.data_dir + ": " + storage::to_string(opened.error()));
    _impl->logs = std::move(opened).value();

    replication::partition_manager_options options;
    options.node_id = config.node_id;
    options.defaults = partition_defaults(config);
    // Dynamic broker configs (kafka-configs.sh --entity-type brokers) become
    // the defaults of every topic without its own override.
    options.dynamic_defaults = [config](const metadata::metadata_image& image) {
        return dynamic_topic_defaults(dynamic_configs_of(image, config.node_id), config);
    };
    _impl->partitions =
        std::make_unique<replication::partition_manager>(options, *_impl->logs, _impl->strands.get_executor());
    auto* partitions = _impl->partitions.get();
    metadata.on_image([partitions](const std::shared_ptr<const metadata::metadata_image>& image,
                                   const metadata::image_changes& changes) {
        partitions->apply(image, changes, changes.from_snapshot);
    });
}

data_plane::~data_plane() { stop(); }

replication::partition_manager& data_plane::partitions() { return *_impl->partitions; }

void data_plane::stop() {
    if (_impl->stopped) return;
    _impl->stopped = true;
    _impl->partitions->stop_all();
    _impl->strands.join();
    if (auto r = _impl->logs->shutdown(); !r)
        log::get("server")->error("log shutdown failed: {}", storage::to_string(r.error()));
}

}  // namespace strata::server
