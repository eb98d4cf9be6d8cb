// stratad: the Strata broker. Loads the configuration, starts the network
// server on every listener, and runs until SIGTERM or SIGINT.
#include <csignal>
#include <cstring>
#include <filesystem>
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

namespace {

using namespace strata;

struct options {
    std::optional<std::string> config_file;
    std::optional<std::string> log_level;
};

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

int run(const options& opts) {
    // Before any thread exists, so that no signal is lost or kills us mid-way.
    net::stop_signal_waiter stop_signals;

    server::broker_config config;
    try {
        config = opts.config_file ? server::load_broker_config_file(*opts.config_file, server::process_environment())
                                  : server::load_embedded_default_config(server::process_environment());
    } catch (const server::config_error& e) {
        fmt::print(stderr, "stratad: {}\n", e.what());
        return 1;
    }
    log::set_level(*log::parse_level(opts.log_level.value_or(config.log_level)));
    const auto logger = log::get("stratad");
    logger->info("stratad {} starting: node {}, roles {}, configuration {}", STRATA_VERSION, config.node_id,
                 join_roles(config), opts.config_file.value_or("built-in (single node)"));

    if (!create_data_directories(config, *logger)) return 1;

    // Every node runs the metadata quorum's raft node: a voter with the
    // controller role, an observer (a broker following the log) without.
    std::optional<server::metadata_quorum> quorum_holder;
    // A broker's partitions; made before the quorum starts so that it sees
    // every metadata image.
    std::unique_ptr<server::data_plane> data;
    try {
        quorum_holder.emplace(config);
        if (config.has_role("broker")) data = std::make_unique<server::data_plane>(config, quorum_holder->metadata());
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

    const int signal = stop_signals.wait();
    logger->info("received {}; shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
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
    app.set_version_flag("--version", std::string("stratad ") + STRATA_VERSION);
    CLI11_PARSE(app, argc, argv);
    return run(opts);
}
