// strata: the command-line admin tool of Strata (and of any Kafka-compatible
// cluster). See README.md in this folder and docs/cli.md.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "common.h"
#include "strata/common/log.h"

namespace strata::cli {
// `txn list|describe` and `producers describe` (txn.cc).
void add_txn_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
}  // namespace strata::cli

#ifndef STRATA_VERSION
#define STRATA_VERSION "dev"
#endif

int main(int argc, char** argv) {
    using namespace strata::cli;
    auto global = std::make_shared<global_options>();
    CLI::App app{"strata: administer, produce to and consume from Strata or any Kafka-compatible cluster", "strata"};
    app.footer(
        "Examples:\n"
        "  strata topic create orders -p 3\n"
        "  echo 'hello' | strata produce orders\n"
        "  strata consume orders --from beginning -n 10\n"
        "Environment: STRATA_BROKERS sets the default of --brokers.\n"
        "Exit codes: 0 ok, 1 failed, 2 usage.");
    app.set_version_flag("--version", "strata " STRATA_VERSION);
    app.require_subcommand(1);
    app.fallthrough();
    app.add_option("-b,--brokers", global->brokers, "Bootstrap brokers, host:port[,host:port...]")
        ->envname("STRATA_BROKERS")
        ->default_val("localhost:9092");
    app.add_option("-o,--output", global->output, "Output format")
        ->check(CLI::IsMember({"table", "json", "yaml"}))
        ->default_val("table");
    app.add_option("--timeout", global->timeout_ms, "Per-request timeout in milliseconds")
        ->check(CLI::Range(1, 3600000))
        ->default_val(10000);

    app.add_option("--command-config", global->command_config,
                   "Kafka client properties: security.protocol, sasl.mechanism, sasl.username/password or "
                   "sasl.jaas.config, ssl.ca.location... (docs/security.md)")
        ->envname("STRATA_COMMAND_CONFIG")
        ->check(CLI::ExistingFile);

    auto verbose = std::make_shared<bool>(false);
    app.add_flag("-v,--verbose", *verbose, "Log connection events to stderr");
    // The network library's warnings would repeat what the error says; -v shows them.
    app.parse_complete_callback(
        [verbose] { strata::log::set_level(*verbose ? spdlog::level::debug : spdlog::level::off); });
    strata::log::set_level(spdlog::level::off);

    add_cluster_commands(app, global);
    add_topic_commands(app, global);
    add_partition_commands(app, global);
    add_broker_commands(app, global);
    add_produce_command(app, global);
    add_consume_command(app, global);
    add_group_commands(app, global);
    add_config_commands(app, global);
    add_perf_commands(app, global);
    add_user_commands(app, global);
    add_acl_commands(app, global);
    add_token_commands(app, global);
    add_quota_commands(app, global);
    add_txn_commands(app, global);
    add_completion_command(app);

    // Subcommands' help shows only their own options: name the global ones.
    std::function<void(CLI::App*)> add_global_note = [&](CLI::App* command) {
        for (auto* sub : command->get_subcommands({})) {
            sub->footer(sub->get_footer() +
                        "\nGlobal options (anywhere on the line): -b/--brokers host:port (env STRATA_BROKERS), "
                        "-o/--output table|json|yaml, --timeout ms, --command-config FILE, -v/--verbose");
            add_global_note(sub);
        }
    };
    add_global_note(&app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // also --help, --help-all and --version (CallFor* derive from it)
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return exit_usage;
    } catch (const cli_error& e) {
        std::cout.flush();
        std::cerr << "error: " << e.what() << "\n";
        if (!e.hint.empty()) std::cerr << "hint: " << e.hint << "\n";
        return e.exit_code;
    } catch (const std::exception& e) {
        std::cout.flush();
        std::cerr << "error: " << e.what() << "\n";
        return exit_failed;
    }
    return exit_ok;
}
