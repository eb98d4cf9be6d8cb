#include "strata/metrics/registry.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace strata::metrics {
namespace {

TEST(metrics_registry, renders_counters_gauges_and_histograms_in_prometheus_text_format) {
    registry r;
    r.counter("strata_requests_total", "Requests received.", {{"api", "Produce"}}).inc(3);
    r.counter("strata_requests_total", "Requests received.", {{"api", "Fetch"}}).inc();
    r.gauge("strata_connections", "Open connections.").set(7);
    auto& h = r.histogram("strata_latency_seconds", "Latency.", {0.001, 0.01}, {{"api", "Produce"}});
    h.observe(0.0005);
    h.observe(0.001);  // on a bound: counted in that bucket (le)
    h.observe(0.5);
    EXPECT_EQ(r.render(),
              "# HELP strata_connections Open connections.\n"
              "# TYPE strata_connections gauge\n"
              "strata_connections 7\n"
              "# HELP strata_latency_seconds Latency.\n"
              "# TYPE strata_latency_seconds histogram\n"
              "strata_latency_seconds_bucket{api=\"Produce\",le=\"0.001\"} 2\n"
              "strata_latency_seconds_bucket{api=\"Produce\",le=\"0.01\"} 2\n"
              "strata_latency_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 3\n"
              "strata_latency_seconds_sum{api=\"Produce\"} 0.5015\n"
              "strata_latency_seconds_count{api=\"Produce\"} 3\n"
              "# HELP strata_requests_total Requests received.\n"
              "# TYPE strata_requests_total counter\n"
              "strata_requests_total{api=\"Produce\"} 3\n"
              "strata_requests_total{api=\"Fetch\"} 1\n");
}

TEST(metrics_registry, the_same_series_is_the_same_object) {
    registry r;
    auto& a = r.counter("x_total", "X.", {{"k", "v"}});
    auto& b = r.counter("x_total", "X.", {{"k", "v"}});
    EXPECT_EQ(&a, &b);
    // Addresses stay put as more series are added.
    for (int i = 0; i < 1000; ++i) r.counter("x_total", "X.", {{"k", std::to_string(i)}});
    EXPECT_EQ(&a, &r.counter("x_total", "X.", {{"k", "v"}}));
}

TEST(metrics_registry, refuses_conflicting_or_invalid_registrations) {
    registry r;
    r.counter("x_total", "X.", {{"k", "v"}});
    EXPECT_THROW(r.gauge("x_total", "X."), std::logic_error);                      // another type
    EXPECT_THROW(r.counter("x_total", "X.", {{"other", "v"}}), std::logic_error);  // other label names
    EXPECT_THROW(r.counter("x_total", "Y."), std::logic_error);                    // other help
    EXPECT_THROW(r.counter("1x", "X."), std::logic_error);
    EXPECT_THROW(r.counter("x-y", "X."), std::logic_error);
    EXPECT_THROW(r.counter("y_total", "Y.", {{"__reserved", "v"}}), std::logic_error);
    EXPECT_THROW(r.histogram("h", "H.", {0.1}, {{"le", "1"}}), std::logic_error);
    EXPECT_THROW(r.histogram("h", "H.", {0.2, 0.1}), std::logic_error);
    EXPECT_THROW(r.add_collector("x_total", "X.", metric_type::counter, [] { return std::vector<sample>{}; }),
                 std::logic_error);
}

TEST(metrics_registry, escapes_label_values_and_help) {
    registry r;
    r.gauge("g", "Back\\slash and\nnewline.", {{"topic", "a\"b\\c\nd"}}).set(1.5);
    EXPECT_EQ(r.render(),
              "# HELP g Back\\\\slash and\\nnewline.\n"
              "# TYPE g gauge\n"
              "g{topic=\"a\\\"b\\\\c\\nd\"} 1.5\n");
}

TEST(metrics_registry, collectors_are_asked_at_each_render) {
    registry r;
    int calls = 0;
    r.add_collector("strata_open_things", "Things open now.", metric_type::gauge, [&calls] {
        ++calls;
        return std::vector<sample>{{{{"listener", "PLAINTEXT"}}, double(calls)}};
    });
    EXPECT_NE(r.render().find("strata_open_things{listener=\"PLAINTEXT\"} 1\n"), std::string::npos);
    EXPECT_NE(r.render().find("strata_open_things{listener=\"PLAINTEXT\"} 2\n"), std::string::npos);
    r.remove_collector("strata_open_things");
    EXPECT_EQ(r.render(), "");
}

TEST(metrics_registry, concurrent_updates_are_all_counted) {
    registry r;
    auto& c = r.counter("c_total", "C.");
    auto& h = r.histogram("h_seconds", "H.", latency_buckets_seconds());
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) {
                c.inc();
                h.observe(0.002);
            }
        });
    std::string rendered;
    for (int i = 0; i < 20; ++i) rendered = r.render();  // while they run: must not crash or tear
    for (auto& t : threads) t.join();
    EXPECT_EQ(c.value(), 400000u);
    EXPECT_EQ(h.count(), 400000u);
    EXPECT_NE(r.render().find("h_seconds_count 400000\n"), std::string::npos);
}

// Prometheus's own linter (Debian's prometheus package, installed by
// scripts/install-deps.sh --test) reads the output as a scraper would.
TEST(metrics_registry, promtool_accepts_the_output) {
    const char* promtool = "/usr/bin/promtool";
    ASSERT_EQ(access(promtool, X_OK), 0) << "promtool missing: run scripts/install-deps.sh --test";
    registry r;
    r.counter("strata_requests_total", "Requests received.", {{"api", "Produce"}, {"version", "9"}}).inc(3);
    r.gauge("strata_connections", "Open connections.", {{"listener", "PLAINTEXT"}}).set(2);
    auto& h = r.histogram("strata_request_latency_seconds", "Request latency.", latency_buckets_seconds(),
                          {{"api", "Fetch"}});
    for (int i = 1; i <= 100; ++i) h.observe(i * 0.0003);
    r.add_collector("strata_partitions", "Partitions on this broker.", metric_type::gauge,
                    [] { return std::vector<sample>{{{}, 12}}; });
    r.gauge("strata_label_escape", "Escaping.", {{"topic", "we\"ird\\name\n"}}).set(0.25);

    const std::string path = ::testing::TempDir() + "metrics.prom";
    {
        std::ofstream out(path);
        out << r.render();
    }
    const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    char buffer[512];
    while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
    const int status = pclose(pipe);
    EXPECT_EQ(status, 0) << output << "\n---\n" << r.render();
    EXPECT_EQ(output, "");
}

TEST(metrics_registry, renders_openmetrics_on_request) {
    registry r;
    r.counter("strata_bytes_in_total", "Bytes \"in\".", {{"topic", "t"}}).inc(5);
    r.gauge("strata_connections", "Open connections.").set(2);
    r.histogram("h_seconds", "H.", {0.5}).observe(0.1);
    const auto text = r.render(exposition::openmetrics);
    // A counter family is named without _total; its samples keep it.
    EXPECT_NE(text.find("# TYPE strata_bytes_in counter\n# HELP strata_bytes_in Bytes \\\"in\\\".\n"
                        "strata_bytes_in_total{topic=\"t\"} 5\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("# TYPE strata_connections gauge\n"), std::string::npos);
    EXPECT_NE(text.find("h_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos);
    EXPECT_TRUE(text.ends_with("# EOF\n")) << text;
    // The default stays Prometheus's 0.0.4 text.
    const auto plain = r.render();
    EXPECT_NE(plain.find("# TYPE strata_bytes_in_total counter\n"), std::string::npos);
    EXPECT_EQ(plain.find("# EOF"), std::string::npos);
}

TEST(metrics_registry, promtool_check_fails_on_a_broken_exposition) {
    // The check above must be able to fail: a counter without _total, and a
    // histogram with no +Inf bucket, are refused.
    const std::string path = ::testing::TempDir() + "broken.prom";
    {
        std::ofstream out(path);
        out << "# HELP bad_counter A counter.\n# TYPE bad_counter counter\nbad_counter 1\n";
    }
    const std::string command = "/usr/bin/promtool check metrics < " + path + " >/dev/null 2>&1";
    EXPECT_NE(std::system(command.c_str()), 0);
}

}  // namespace
}  // namespace strata::metrics
