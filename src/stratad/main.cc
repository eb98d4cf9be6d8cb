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
#include <mutex>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>
#include <optional>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "strata/broker/broker.h"
#include "strata/common/log.h"
#include "strata/net/server.h"
#include "strata/net/stop_signals.h"
#include "strata/server/bootstrap_records.h"
#include "strata/server/broker_config.h"
#include "strata/server/metadata_quorum.h"
#include "build_info.h"
#include "systemd_notify.h"

namespace {

using namespace strata;

struct options {
    std::optional<std::string> config_file;
    std::optional<std::string> log_level;
    std::string cluster_id;         // format
    bool ignore_formatted = false;  // format
    std::vector<std::string> add_scram;  // format
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
    std::vector<metadata::record> bootstrap;
    for (const auto& argument : opts.add_scram) {
        std::string error;
        auto record = server::parse_add_scram(argument, error);
        if (!record) {
            fmt::print(stderr, "stratad format: --add-scram: {}\n", error);
            return 2;
        }
        bootstrap.emplace_back(std::move(*record));
    }
    for (const auto& directory : broker::identity_directories(*config)) {
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
            if (!bootstrap.empty() && directory == config->effective_metadata_log_dir())
                server::write_bootstrap_records(directory, bootstrap);
        } catch (const std::exception& e) {
            fmt::print(stderr, "stratad format: {}\n", e.what());
            return 1;
        }
        fmt::print("formatted {} for node {} of cluster {}\n", directory, config->node_id, opts.cluster_id);
    }
    return 0;
}

std::string join_roles(const server::broker_config& config) {
    std::string roles;
    for (const auto& role : config.process_roles) roles += (roles.empty() ? "" : ",") + role;
    return roles;
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

    broker::broker node(std::move(config));
    // A failed log directory stops the node (Kafka halts when no log dir is
    // left); main does the stopping, as for SIGTERM.
    std::mutex fatal_mutex;
    std::string fatal_reason;
    node.on_fatal([&](const std::string& reason) {
        {
            std::lock_guard lock(fatal_mutex);
            if (fatal_reason.empty()) fatal_reason = reason;
        }
        stop_signals.request_stop();
    });
    try {
        node.start();
    } catch (const std::exception& e) {
        logger->critical("{}", e.what());
        return 1;
    }
    std::string addresses;
    for (const auto& bound : node.endpoints()) {
        addresses += fmt::format("{}{}://{}", addresses.empty() ? "" : ", ", bound.listener,
                                 net::format_endpoint(bound.endpoint));
    }
    logger->info("stratad listening on {}", addresses);
    // Under systemd (Type=notify): the unit is started once clients can connect.
    stratad::notify_systemd("READY=1");

    const int signal = stop_signals.wait();
    if (signal == 0) {
        std::string reason;
        {
            std::lock_guard lock(fatal_mutex);
            reason = fatal_reason;
        }
        logger->critical("shutting down: {}", reason);
        stratad::notify_systemd("STOPPING=1");
        node.stop();
        logger->critical("stopped after a fatal error: {}", reason);
        return 1;
    }
    logger->info("received {}; shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
    stratad::notify_systemd("STOPPING=1");
    node.stop();
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
    format_command->add_option("-S,--add-scram", opts.add_scram,
                               "A SCRAM credential the cluster starts with, as Kafka's: "
                               "'SCRAM-SHA-512=[name=alice,password=alice-secret]' (repeatable)");
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
