// Liveness and readiness as load balancers and Kubernetes probes ask for
// them: a verdict and a JSON body saying why. The broker gathers the facts
// (src/broker/broker_http.cc); this decides, so that the rules are tested
// without a cluster and `strata cluster health` can share them later.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata::http {

// What a node knows about itself at one moment.
struct readiness_facts {
    int32_t node_id = 0;
    bool broker_role = true;
    std::optional<int32_t> controller_id;  // the active controller as this node knows it
    // The metadata log: what the image reflects (exclusive end) and the
    // quorum's high watermark as this node last learned it.
    int64_t applied_offset = 0;
    int64_t high_watermark = 0;
    // The image's registration of this broker (broker role only).
    bool registered = false;
    bool fenced = true;
    bool in_controlled_shutdown = false;
    // Since the controller last answered a heartbeat (nullopt: never), and
    // broker.session.timeout.ms: a broker that has not been heard for that
    // long is fenced, or about to be, whatever its image still says.
    std::optional<int64_t> heartbeat_age_ms;
    int64_t session_timeout_ms = 9000;
    // Partitions without a leader that this broker is in the ISR of (it
    // would lead them if it could), and partitions the image says it leads
    // that it does not lead yet; up to a few names of each, for the body.
    size_t offline_partitions_to_lead = 0;
    size_t leaderships_pending = 0;
    std::vector<std::string> examples;
};

struct verdict {
    bool ok = false;
    std::string json;  // {"status": "ready"|"not_ready", "checks": {...}, "reasons": [...]}
    unsigned status() const { return ok ? 200 : 503; }
};

verdict evaluate_readiness(const readiness_facts& facts);
// The process is serving: always ok when anyone can ask.
verdict liveness(int32_t node_id, double uptime_seconds);

}  // namespace strata::http
