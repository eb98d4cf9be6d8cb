// stratad: the Strata broker. Loads the configuration, starts the network
// server on every listener, and runs until SIGTERM or SIGINT.
//
//   stratad [-c node.yaml]                          run a node
//   stratad format -t <cluster id> [-c node.yaml]   write the node's identity
//                                                   (meta.properties) into its
//                                                   log and metadata directories
//   stratad random-uuid                             a new cluster id
//   stratad check-config node.yaml                  validate a configuration
//                                                   and exit (0 valid, 1 not)
//   stratad --version                               version, commit, build type
#include <malloc.h>

#include <csignal>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>
#include <optional>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "strata/common/log.h"
#include "strata/net/server.h"
#include "strata/net/stop_signals.h"
#include "strata/server/broker_config.h"
#include "strata/server/data_plane.h"
#include "strata/server/metadata_quorum.h"
#include "strata/server/request_handler_factory.h"
#include "build_info.h"
#include "systemd_notify.h"

namespace {

using namespace strata;

struct options {
    std::optional<std::string> config_file;
    std::optional<std::string> log_level;
    std::string cluster_id;         // format
    bool ignore_formatted = false;  // format
    std::string check_file;         // check-config
};

std::string version_text() {
    return fmt::format("stratad {} (commit {}, {} build)", STRATA_BUILD_VERSION, STRATA_BUILD_COMMIT,
                       STRATA_BUILD_TYPE);
}

std::optional<server::broker_config> load_config(const options& opts) {
    try {
        return opts.config_file ? server::load_broker_config_file(*opts.config_file, server::process_environment())
                                : server::load_embedded_default_config(server::process_environment());
    } catch (const server::config_error& e) {
        fmt::print(stderr, "stratad: {}\n", e.what());
        return std::nullopt;
    }
}

// The directories a node keeps its identity in: every log dir and the
// metadata log's.
std::vector<std::string> identity_directories(const server::broker_config& config) {
    auto directories = config.log_dirs;
    const auto metadata = config.effective_metadata_log_dir();
    if (std::find(directories.begin(), directories.end(), metadata) == directories.end())
        directories.push_back(metadata);
    return directories;
}

std::optional<int32_t> read_node_id(const std::filesystem::path& directory) {
    std::ifstream in(directory / "meta.properties");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("node.id=")) return std::atoi(line.c_str() + 8);
    return std::nullopt;
}

// Kafka's kafka-storage.sh format: every directory gets meta.properties with
// the cluster id and this node's id. Refuses directories formatted before
// (unless --ignore-formatted and the same cluster).
int format(const options& opts) {
    auto config = load_config(opts);
    if (!config) return 1;
    if (!protocol::uuid::from_string(opts.cluster_id)) {
        fmt::print(stderr, "stratad format: '{}' is not a cluster id (22 characters of URL-safe base64, as "
                           "`stratad random-uuid` prints)\n", opts.cluster_id);
        return 2;
    }
    for (const auto& directory : identity_directories(*config)) {
        if (auto existing = server::read_cluster_id(directory)) {
            if (opts.ignore_formatted && *existing == opts.cluster_id) {
                fmt::print("{} is already formatted for cluster {}\n", directory, *existing);
                continue;
            }
            fmt::print(stderr, "stratad format: {} is already formatted (cluster {}); use --ignore-formatted to "
                               "leave formatted directories of this cluster alone\n", directory, *existing);
            return 1;
        }
        try {
            server::write_meta_properties(directory, config->node_id, opts.cluster_id);
        } catch (const std::exception& e) {
            fmt::print(stderr, "stratad format: {}\n", e.what());
            return 1;
        }
        fmt::print("formatted {} for node {} of cluster {}\n", directory, config->node_id, opts.cluster_id);
    }
    return 0;
}

// A node joins only the cluster its directories were formatted for, as the
// node id they were formatted with; a node of a multi-node quorum must have
// been formatted (the single-node default formats itself).
std::optional<std::string> identity_problem(const server::broker_config& config) {
    std::optional<std::string> cluster;
    for (const auto& directory : identity_directories(config)) {
        auto id = server::read_cluster_id(directory);
        if (!id) continue;
        if (cluster && *cluster != *id)
            return fmt::format("{} belongs to cluster {}, another directory to cluster {}", directory, *id, *cluster);
        cluster = id;
        if (auto node = read_node_id(directory); node && *node != config.node_id)
            return fmt::format("{} was formatted for node {}, but node.id is {}", directory, *node, config.node_id);
    }
    if (!server::read_cluster_id(config.effective_metadata_log_dir()))
        return fmt::format("{} is not formatted: run `stratad format -t $(stratad random-uuid) -c <config>` once per "
                           "cluster id, on every node, with the same id",
                           config.effective_metadata_log_dir());
    return std::nullopt;
}

std::string join_roles(const server::broker_config& config) {
    std::string roles;
    for (const auto& role : config.process_roles) roles += (roles.empty() ? "" : ",") + role;
    return roles;
}

bool create_data_directories(const server::broker_config& config, spdlog::logger& logger) {
    auto directories = config.log_dirs;
    directories.push_back(config.effective_metadata_log_dir());
    for (const auto& directory : directories) {
        std::error_code ec;
        std::filesystem::create_directories(directory, ec);
        if (ec) {
            logger.critical("cannot create data directory {}: {}", directory, ec.message());
            return false;
        }
    }
    return true;
}

// Loads `file` as a node would (environment overrides included) and says
// what is wrong with it, without touching a directory or a port.
int check_config(const options& opts) {
    try {
        const auto config = server::load_broker_config_file(opts.check_file, server::process_environment());
        fmt::print("{}: valid (node {}, roles {})\n", opts.check_file, config.node_id,
                   join_roles(config));
        return 0;
    } catch (const server::config_error& e) {
        fmt::print(stderr, "stratad: {}\n", e.what());
        return 1;
    }
}

int run(const options& opts) {
    // Before any thread exists, so that no signal is lost or kills us mid-way.
    net::stop_signal_waiter stop_signals;

    auto loaded = load_config(opts);
    if (!loaded) return 1;
    server::broker_config config = std::move(*loaded);
    log::set_level(*log::parse_level(opts.log_level.value_or(config.log_level)));
    const auto logger = log::get("stratad");
    logger->info("{} starting: node {}, roles {}, configuration {}", version_text(), config.node_id,
                 join_roles(config), opts.config_file.value_or("built-in (single node)"));

    if (!create_data_directories(config, *logger)) return 1;
    try {
        server::format_if_single_node(config);
    } catch (const std::exception& e) {
        logger->critical("cannot format {}: {}", config.effective_metadata_log_dir(), e.what());
        return 1;
    }
    if (auto problem = identity_problem(config)) {
        logger->critical("{}", *problem);
        return 1;
    }

    // Every node runs the metadata quorum's raft node: a voter with the
    // controller role, an observer (a broker following the log) without.
    std::optional<server::metadata_quorum> quorum_holder;
    // A broker's partitions; made before the quorum starts so that it sees
    // every metadata image.
    std::unique_ptr<server::data_plane> data;
    try {
        quorum_holder.emplace(config);
        if (config.has_role("broker"))
            data = std::make_unique<server::data_plane>(config, quorum_holder->metadata(), &quorum_holder->controller());
        quorum_holder->start();
    } catch (const std::exception& e) {
        logger->critical("cannot start the metadata quorum: {}", e.what());
        return 1;
    }
    server::metadata_quorum& quorum = *quorum_holder;
    const auto handler = server::make_request_handler(config, quorum, data ? &data->partitions() : nullptr);
    net::server network(server::to_server_options(config), *handler);
    try {
        network.start();
    } catch (const std::exception& e) {
        logger->critical("cannot start: {}", e.what());
        return 1;
    }
    std::string addresses;
    for (const auto& bound : network.endpoints()) {
        addresses += fmt::format("{}{}://{}", addresses.empty() ? "" : ", ", bound.listener,
                                 net::format_endpoint(bound.endpoint));
    }
    logger->info("stratad listening on {}", addresses);
    // Under systemd (Type=notify): the unit is started once clients can connect.
    stratad::notify_systemd("READY=1");

    const int signal = stop_signals.wait();
    logger->info("received {}; shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    stratad::notify_systemd("STOPPING=1");
    network.stop();  // first: its handlers call into the quorum and the partitions
    quorum.stop();   // then no new metadata reaches the partitions
    if (data) data->stop();
    logger->info("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"stratad: a Kafka-compatible log broker", "stratad"};
    options opts;
    app.add_option("-c,--config", opts.config_file,
                   "YAML configuration file (Kafka property names as keys); without it, a single local node")
        ->check(CLI::ExistingFile);
    app.add_option("--log-level", opts.log_level, "trace, debug, info, warn, error, critical or off; overrides log.level")
        ->check([](const std::string& value) {
            return strata::log::parse_level(value) ? std::string() : "not a log level: " + value;
        });
    app.set_version_flag("-V,--version", version_text(), "Print the version, git commit and build type, then exit");
    app.footer("Examples:\n"
               "  stratad                                   a single local node (localhost:9092, data in ./data)\n"
               "  stratad -c config/cluster-node-1.yaml     a node of the three-node example cluster\n"
               "  stratad check-config /etc/strata/strata.yaml\n"
               "Every configuration key can be overridden from the environment: STRATA_ + the key in upper\n"
               "case, dots as underscores (STRATA_LOG_DIRS=/var/lib/strata). Keys: docs/configuration.md.");

    auto* format_command = app.add_subcommand("format", "Write this node's identity (cluster id, node id) into its "
                                                        "log and metadata directories, before its first start");
    format_command->add_option("-t,--cluster-id", opts.cluster_id, "The cluster id (`stratad random-uuid`)")->required();
    format_command->add_option("-c,--config", opts.config_file, "The node's YAML configuration file")
        ->check(CLI::ExistingFile);
    format_command->add_flag("-g,--ignore-formatted", opts.ignore_formatted,
                             "Leave directories already formatted for this cluster as they are");
    format_command->footer("Example: stratad format -t $(stratad random-uuid) -c config/cluster-node-1.yaml");
    auto* uuid_command = app.add_subcommand("random-uuid", "Print a new cluster id");
    auto* check_command = app.add_subcommand("check-config", "Validate a configuration file (with the STRATA_* "
                                                             "environment overrides) and exit: 0 valid, 1 not");
    check_command->add_option("file", opts.check_file, "The YAML configuration file")->required();
    CLI11_PARSE(app, argc, argv);
    if (*check_command) return check_config(opts);
    if (*uuid_command) {
        fmt::print("{}\n", protocol::uuid::random().to_string());
        return 0;
    }
    if (*format_command) return format(opts);
    // sendfile(2) has no MSG_NOSIGNAL: writing a file region to a connection
    // the client has reset raises SIGPIPE, whose default action ends the
    // process. Ignored, the call fails with EPIPE and only that connection closes.
    std::signal(SIGPIPE, SIG_IGN);
    // Request frames of up to a few MiB are allocated and freed at the
    // produce rate. Frames served by mmap, or heap given back to the kernel
    // on free, make every request pay page faults again: acks=all produce of
    // 1 GB in 16 KB records took the broker 1.1-1.2 s of CPU with glibc's
    // adaptive thresholds, 8.9 s with a fixed 128 KiB mmap threshold, and
    // 0.9 s with these (docs/benchmarks.md). Up to 64 MiB of freed heap is
    // kept for reuse.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    return run(opts);
}
