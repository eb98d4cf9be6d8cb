#include "strata/common/log.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace strata::log {
namespace {

// The registry is ours rather than spdlog's global one, so that no other code
// (a library calling spdlog::drop_all, a test) can unregister a subsystem's
// logger while another thread holds it.
struct registry {
    std::mutex mutex;
    std::shared_ptr<spdlog::sinks::sink> sink;
    spdlog::level::level_enum level = spdlog::level::info;
    std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;

    registry() : sink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()) {
        sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%n] %v");
    }
};

registry& the_registry() {
    // Leaked on purpose: loggers are used from threads and static destructors
    // that may run after this function's statics would have been destroyed.
    static registry* r = new registry();
    return *r;
}

}  // namespace

std::shared_ptr<spdlog::logger> get(std::string_view subsystem) {
    auto& r = the_registry();
    std::lock_guard lock(r.mutex);
    if (auto it = r.loggers.find(subsystem); it != r.loggers.end()) return it->second;
    auto logger = std::make_shared<spdlog::logger>(std::string(subsystem), r.sink);
    logger->set_level(r.level);
    // Warnings and errors reach the terminal even if the sink ever buffers.
    logger->flush_on(spdlog::level::warn);
    r.loggers.emplace(std::string(subsystem), logger);
    return logger;
}

void set_level(spdlog::level::level_enum level) {
    auto& r = the_registry();
    std::lock_guard lock(r.mutex);
    r.level = level;
    for (auto& [name, logger] : r.loggers) logger->set_level(level);
}

spdlog::level::level_enum level() {
    auto& r = the_registry();
    std::lock_guard lock(r.mutex);
    return r.level;
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    using spdlog::level::level_enum;
    static const std::pair<std::string_view, level_enum> names[] = {
        {"trace", level_enum::trace}, {"debug", level_enum::debug},
        {"info", level_enum::info},   {"warn", level_enum::warn},
        {"warning", level_enum::warn}, {"error", level_enum::err},
        {"err", level_enum::err},     {"critical", level_enum::critical},
        {"off", level_enum::off},
    };
    for (const auto& [n, l] : names) {
        if (n == lower) return l;
    }
    return std::nullopt;
}

}  // namespace strata::log
