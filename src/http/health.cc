#include "strata/http/health.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace strata::http {

namespace {

// One named check: ok or not, and in words why.
void check(nlohmann::json& checks, std::vector<std::string>& reasons, const char* name, bool ok,
           std::string detail) {
    checks[name] = {{"ok", ok}, {"detail", detail}};
    if (!ok) reasons.push_back(std::move(detail));
}

}  // namespace

verdict evaluate_readiness(const readiness_facts& f) {
    nlohmann::json checks = nlohmann::json::object();
    std::vector<std::string> reasons;
    check(checks, reasons, "controller", f.controller_id.has_value(),
          f.controller_id ? fmt::format("active controller is node {}", *f.controller_id)
                          : "no active controller known (the metadata quorum has no leader)");
    const bool caught_up = f.applied_offset >= f.high_watermark;
    check(checks, reasons, "metadata_caught_up", caught_up,
          caught_up ? fmt::format("metadata applied through offset {} (high watermark {})", f.applied_offset,
                                  f.high_watermark)
                    : fmt::format("metadata log behind: applied {} of {} ({} records)", f.applied_offset,
                                  f.high_watermark, f.high_watermark - f.applied_offset));
    if (f.broker_role) {
        check(checks, reasons, "registered", f.registered,
              f.registered ? "registered with the controller" : "not registered with the controller");
        const bool unfenced = f.registered && !f.fenced;
        check(checks, reasons, "unfenced", unfenced,
              unfenced ? "not fenced" : "fenced by the controller (no recent heartbeat, or not caught up yet)");
        const bool heard = f.heartbeat_age_ms && *f.heartbeat_age_ms <= f.session_timeout_ms;
        check(checks, reasons, "heartbeat", heard,
              !f.heartbeat_age_ms ? std::string("no heartbeat answered by the controller yet")
              : heard ? fmt::format("last heartbeat answered {} ms ago", *f.heartbeat_age_ms)
                      : fmt::format("no heartbeat answered for {} ms (broker.session.timeout.ms is {})",
                                    *f.heartbeat_age_ms, f.session_timeout_ms));
        if (f.in_controlled_shutdown)
            check(checks, reasons, "not_shutting_down", false, "in controlled shutdown");
        const bool leading = f.offline_partitions_to_lead == 0 && f.leaderships_pending == 0;
        std::string detail = "every partition this broker should lead has a leader";
        if (!leading) {
            detail = fmt::format("{} offline partitions this broker is in the ISR of, {} leaderships not taken yet",
                                 f.offline_partitions_to_lead, f.leaderships_pending);
            if (!f.examples.empty()) detail += fmt::format(" (e.g. {})", fmt::join(f.examples, ", "));
        }
        check(checks, reasons, "partitions", leading, std::move(detail));
    }
    verdict v;
    v.ok = reasons.empty();
    nlohmann::json body = {{"status", v.ok ? "ready" : "not_ready"},
                           {"node_id", f.node_id},
                           {"checks", checks},
                           {"reasons", reasons}};
    v.json = body.dump(2) + "\n";
    return v;
}

verdict liveness(int32_t node_id, double uptime_seconds) {
    verdict v;
    v.ok = true;
    v.json = nlohmann::json{{"status", "live"}, {"node_id", node_id}, {"uptime_seconds", uptime_seconds}}.dump(2) + "\n";
    return v;
}

}  // namespace strata::http
