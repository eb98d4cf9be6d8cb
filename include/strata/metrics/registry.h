// The broker's metrics: counters, gauges and histograms that any subsystem
// registers into, rendered in Prometheus's text exposition format (0.0.4).
//
// Ownership and threads: the broker owns one registry and hands references
// to the subsystems it starts. Registering (counter(), gauge(), histogram(),
// add_collector()) takes a mutex and is meant for start-up or the first use
// of a label set; the returned metric lives as long as the registry, at a
// stable address, so hot paths keep a reference and update it with relaxed
// atomics only. render() may run on any thread at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::metrics {

// Label name/value pairs of one time series, in the order they are rendered.
using labels = std::vector<std::pair<std::string, std::string>>;

// Only goes up (Prometheus "counter"; its name ends in _total).
class counter {
public:
    void inc(uint64_t n = 1) { _value.fetch_add(n, std::memory_order_relaxed); }
    uint64_t value() const { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> _value{0};
};

// A value that goes up and down.
class gauge {
public:
    void set(double v) { _value.store(v, std::memory_order_relaxed); }
    void add(double v) { _value.fetch_add(v, std::memory_order_relaxed); }
    double value() const { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> _value{0};
};

// Observations counted into buckets with fixed upper bounds (Prometheus
// "histogram": cumulative _bucket{le=...}, _sum and _count when rendered).
class histogram {
public:
    // `bounds`: strictly increasing upper bounds; +Inf is implied.
    explicit histogram(std::vector<double> bounds);
    void observe(double v);
    uint64_t count() const { return _count.load(std::memory_order_relaxed); }
    double sum() const { return _sum.load(std::memory_order_relaxed); }
    std::span<const double> bounds() const { return _bounds; }
    // Observations in bucket i alone (not cumulative); i == bounds().size() is +Inf.
    uint64_t bucket(size_t i) const { return _buckets[i].load(std::memory_order_relaxed); }

private:
    std::vector<double> _bounds;
    std::unique_ptr<std::atomic<uint64_t>[]> _buckets;
    std::atomic<uint64_t> _count{0};
    std::atomic<double> _sum{0};
};

// Bucket bounds for request and I/O latencies, in seconds: 0.1 ms to 30 s.
std::vector<double> latency_buckets_seconds();

enum class metric_type { counter, gauge, histogram };

enum class exposition { prometheus, openmetrics };
// The Content-Type of each format.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr const char* openmetrics_content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";

// One sample of a metric computed when the registry renders (a collector's
// output): the value of `labels` at this moment.
struct sample {
    metrics::labels labels;
    double value = 0;
};

class registry {
public:
    registry();
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    // The series `name{labels}`, created at the first call. Every call for one
    // name must give the same type, help and label names (std::logic_error
    // otherwise); names and label names must be valid Prometheus names.
    metrics::counter& counter(std::string_view name, std::string_view help, const labels& labels = {});
    metrics::gauge& gauge(std::string_view name, std::string_view help, const labels& labels = {});
    metrics::histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& bounds,
                                  const labels& labels = {});

    // A counter or gauge family whose samples `collect` computes at each
    // render (connection counts, partition states: values that another
    // subsystem already keeps). `collect` runs on the rendering thread and
    // must be thread-safe; it must stay valid for the registry's life, or
    // until remove_collector(name).
    void add_collector(std::string_view name, std::string_view help, metric_type type,
                       std::function<std::vector<sample>()> collect);
    void remove_collector(std::string_view name);

    // Every family in name order, in Prometheus's text format (0.0.4), or
    // in OpenMetrics 1.0 (counter families named without their _total,
    // help texts escaping '"', and a closing "# EOF").
    std::string render(exposition format = exposition::prometheus) const;

private:
    struct family;
    family& find_or_add(std::string_view name, std::string_view help, metric_type type, const labels& labels);

    mutable std::mutex _mutex;
    std::map<std::string, std::unique_ptr<family>, std::less<>> _families;
};

// Prometheus's escaping: label values escape backslash, double quote and
// newline; help texts escape backslash and newline.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace strata::metrics
