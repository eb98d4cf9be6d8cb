// The subset of OpenTelemetry's OTLP metrics protobuf (MetricsData, v1) that
// KIP-714 clients push in PushTelemetry: gauges and sums of numbers, with
// their resource and data point attributes. Decoded by hand from the
// protobuf wire format (a dozen fields): no generated code and no protobuf
// library for so small a subset. Histograms, exponential histograms and
// summaries are skipped and counted (the Java client and librdkafka push
// gauges and sums only).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace strata::telemetry {

using attributes = std::vector<std::pair<std::string, std::string>>;

struct otlp_point {
    std::string metric;       // the metric's name, e.g. org.apache.kafka.producer.record.queue.time.avg
    std::string description;  // the metric's description (may be empty)
    enum class kind { gauge, sum } type = kind::gauge;
    bool monotonic = false;  // sums: only goes up
    bool delta = false;      // sums: the change since the previous push (else cumulative)
    attributes labels;       // the resource's attributes, then the data point's
    double value = 0;
    uint64_t time_unix_nano = 0;
};

struct otlp_metrics {
    std::vector<otlp_point> points;
    size_t skipped = 0;  // data points of types not decoded (histograms, summaries)
};

// nullopt (with `error` set) when `data` is not a well-formed MetricsData.
std::optional<otlp_metrics> decode_otlp_metrics(std::span<const uint8_t> data, std::string* error = nullptr);

// Test support: protobuf encoding of the same subset (gauges and sums).
std::vector<uint8_t> encode_otlp_metrics(const std::vector<otlp_point>& points, const attributes& resource = {});

}  // namespace strata::telemetry
