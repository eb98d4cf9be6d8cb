#include "strata/http/health.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace strata::http {
namespace {

readiness_facts healthy() {
    readiness_facts f;
    f.node_id = 2;
    f.controller_id = 1;
    f.applied_offset = f.high_watermark = 42;
    f.registered = true;
    f.fenced = false;
    f.heartbeat_age_ms = 100;
    f.session_timeout_ms = 9000;
    return f;
}

TEST(readiness, a_registered_unfenced_caught_up_broker_is_ready) {
    auto v = evaluate_readiness(healthy());
    EXPECT_TRUE(v.ok);
    EXPECT_EQ(v.status(), 200u);
    auto body = nlohmann::json::parse(v.json);
    EXPECT_EQ(body["status"], "ready");
    EXPECT_TRUE(body["reasons"].empty());
    EXPECT_TRUE(body["checks"]["unfenced"]["ok"]);
}

TEST(readiness, each_failed_check_makes_it_unready_and_says_why) {
    struct case_ {
        const char* check;
        void (*spoil)(readiness_facts&);
    };
    const case_ cases[] = {
        {"controller", [](readiness_facts& f) { f.controller_id.reset(); }},
        {"metadata_caught_up", [](readiness_facts& f) { f.high_watermark = 50; }},
        {"registered", [](readiness_facts& f) { f.registered = false; }},
        {"unfenced", [](readiness_facts& f) { f.fenced = true; }},
        {"heartbeat", [](readiness_facts& f) { f.heartbeat_age_ms = 9001; }},
        {"heartbeat", [](readiness_facts& f) { f.heartbeat_age_ms.reset(); }},
        {"not_shutting_down", [](readiness_facts& f) { f.in_controlled_shutdown = true; }},
        {"partitions", [](readiness_facts& f) {
             f.offline_partitions_to_lead = 1;
             f.examples = {"orders-3"};
         }},
        {"partitions", [](readiness_facts& f) { f.leaderships_pending = 2; }},
    };
    for (const auto& c : cases) {
        auto f = healthy();
        c.spoil(f);
        auto v = evaluate_readiness(f);
        EXPECT_FALSE(v.ok) << c.check;
        EXPECT_EQ(v.status(), 503u);
        auto body = nlohmann::json::parse(v.json);
        EXPECT_EQ(body["status"], "not_ready");
        EXPECT_FALSE(body["checks"][c.check]["ok"]) << c.check << ": " << v.json;
        // Unregistered is also unfenced's failure; every other one is alone.
        EXPECT_EQ(body["reasons"].size(), std::string(c.check) == "registered" ? 2u : 1u) << v.json;
    }
    auto f = healthy();
    f.offline_partitions_to_lead = 1;
    f.examples = {"orders-3"};
    EXPECT_NE(evaluate_readiness(f).json.find("orders-3"), std::string::npos);
}

TEST(readiness, a_controller_only_node_needs_no_registration) {
    readiness_facts f;
    f.broker_role = false;
    f.controller_id = 1;
    f.applied_offset = f.high_watermark = 7;
    EXPECT_TRUE(evaluate_readiness(f).ok);
}

TEST(liveness, is_always_live) {
    auto v = liveness(3, 1.5);
    EXPECT_TRUE(v.ok);
    EXPECT_EQ(nlohmann::json::parse(v.json)["node_id"], 3);
}

}  // namespace
}  // namespace strata::http
