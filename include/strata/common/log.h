// Logging: one named spdlog logger per subsystem ("net", "server", "storage",
// ...), all writing to one shared stderr sink with one pattern and one level.
//
//     static const auto logger = strata::log::get("net");
//     logger->info("listening on {}", endpoint);
//
// Loggers are created on first use and live until exit; `get` and
// `set_level` may be called from any thread. Logs go to stderr so that stdout
// stays free for the output of commands.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include <spdlog/spdlog.h>

namespace strata::log {

// The logger of `subsystem`, created on first use at the current level.
std::shared_ptr<spdlog::logger> get(std::string_view subsystem);

// Sets the level of every logger, present and future.
void set_level(spdlog::level::level_enum level);
spdlog::level::level_enum level();

// A level as written in configuration and on the command line: trace, debug,
// info, warn, error, critical, off (case-insensitive; "warning" and "err"
// are accepted too). nullopt for anything else.
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

}  // namespace strata::log
