#include "strata/telemetry/client_metrics.h"

#include <gtest/gtest.h>

#include "strata/metadata/records.h"
#include "strata/protocol/compression.h"

namespace strata::telemetry {
namespace {

std::shared_ptr<const metadata::metadata_image> image_with(
    const std::vector<std::tuple<std::string, std::string, std::string>>& configs) {
    metadata::metadata_delta d(nullptr);
    for (const auto& [resource, name, value] : configs) {
        metadata::records::config_record c;
        c.resource_type = client_metrics_resource_type;
        c.resource_name = resource;
        c.name = name;
        c.value = value;
        d.replay(c);
    }
    return d.apply();
}

otlp_point gauge(std::string name, double v, attributes labels = {}) {
    otlp_point p;
    p.metric = std::move(name);
    p.value = v;
    p.labels = std::move(labels);
    return p;
}

TEST(otlp, gauges_and_sums_round_trip_with_their_attributes) {
    auto sum = gauge("org.apache.kafka.producer.connection.creation.total", 3, {{"node_id", "1"}});
    sum.type = otlp_point::kind::sum;
    sum.monotonic = true;
    const auto bytes = encode_otlp_metrics({gauge("org.apache.kafka.producer.record.queue.time.avg", 1.5), sum},
                                           {{"service.name", "app"}});
    std::string error;
    auto decoded = decode_otlp_metrics(bytes, &error);
    ASSERT_TRUE(decoded) << error;
    ASSERT_EQ(decoded->points.size(), 2u);
    EXPECT_EQ(decoded->points[0].metric, "org.apache.kafka.producer.record.queue.time.avg");
    EXPECT_EQ(decoded->points[0].value, 1.5);
    EXPECT_EQ(decoded->points[0].type, otlp_point::kind::gauge);
    EXPECT_EQ(decoded->points[0].labels, (attributes{{"service.name", "app"}}));
    EXPECT_EQ(decoded->points[1].type, otlp_point::kind::sum);
    EXPECT_TRUE(decoded->points[1].monotonic);
    EXPECT_FALSE(decoded->points[1].delta);
    EXPECT_EQ(decoded->points[1].value, 3);
    EXPECT_EQ(decoded->points[1].labels, (attributes{{"service.name", "app"}, {"node_id", "1"}}));
}

TEST(otlp, malformed_input_is_an_error_not_a_crash) {
    auto bytes = encode_otlp_metrics({gauge("m", 1)});
    std::string error;
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
        std::vector<uint8_t> part(bytes.begin(), bytes.begin() + cut);
        auto decoded = decode_otlp_metrics(part, &error);  // truncated: refused (or, cut at a boundary, fewer points)
        if (decoded) EXPECT_LE(decoded->points.size(), 1u);
    }
    EXPECT_FALSE(decode_otlp_metrics(std::vector<uint8_t>{0x0a, 0x05, 0x01}, &error));
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(decode_otlp_metrics(std::vector<uint8_t>{0x0f}, &error));  // wire type 7
}

TEST(client_metrics_config, checks_as_kafka) {
    EXPECT_FALSE(check_client_metrics_config("metrics", "org.apache.kafka.producer."));
    EXPECT_FALSE(check_client_metrics_config("interval.ms", "1000"));
    EXPECT_EQ(check_client_metrics_config("interval.ms", "99")->error, kafka_error::invalid_request);
    EXPECT_EQ(check_client_metrics_config("interval.ms", "x")->error, kafka_error::invalid_request);
    EXPECT_FALSE(check_client_metrics_config("match", "client_id=app.*,client_software_name=librdkafka"));
    EXPECT_EQ(check_client_metrics_config("match", "colour=red")->error, kafka_error::invalid_config);
    EXPECT_EQ(check_client_metrics_config("match", "client_id=(")->error, kafka_error::invalid_config);
    EXPECT_EQ(check_client_metrics_config("retention.ms", "1")->error, kafka_error::invalid_request);
}

TEST(client_metrics_subscription, union_of_matching_resources_at_the_shortest_interval) {
    auto image = image_with({{"producers", "metrics", "org.apache.kafka.producer."},
                             {"producers", "interval.ms", "5000"},
                             {"producers", "match", "client_id=app-.*"},
                             {"everyone", "metrics", "org.apache.kafka.client."},
                             {"everyone", "interval.ms", "60000"},
                             {"others", "metrics", "*"},
                             {"others", "match", "client_software_name=java"}});
    client_identity app{.client_id = "app-1", .software_name = "librdkafka"};
    auto s = resolve_subscription(*image, protocol::uuid::random(), app);
    EXPECT_EQ(s.metrics, (std::vector<std::string>{"org.apache.kafka.client.", "org.apache.kafka.producer."}));
    EXPECT_EQ(s.push_interval_ms, 5000);
    client_identity other{.client_id = "batch", .software_name = "java"};
    auto all = resolve_subscription(*image, protocol::uuid::random(), other);
    EXPECT_EQ(all.metrics, (std::vector<std::string>{""}));
    EXPECT_NE(all.id, s.id);
    auto none = resolve_subscription(*image_with({}), protocol::uuid::random(), app);
    EXPECT_TRUE(none.metrics.empty());
    EXPECT_EQ(none.push_interval_ms, default_interval_ms);
}

TEST(client_metrics_manager, pushed_metrics_are_exported_with_the_clients_labels) {
    metrics::registry registry;
    auto image = image_with({{"all", "metrics", "*"}, {"all", "interval.ms", "100"}});
    client_metrics_manager manager(registry, [image] { return image; });
    client_identity client{.client_id = "app",
                           .software_name = "librdkafka",
                           .software_version = "2.12.0",
                           .source_address = "127.0.0.1",
                           .source_port = "5000",
                           .principal = "User:ANONYMOUS"};
    auto got = manager.get_subscriptions({}, client);
    EXPECT_FALSE(got.instance.is_zero());
    EXPECT_EQ(got.what.push_interval_ms, 100);

    auto sum = gauge("org.apache.kafka.producer.connection.creation.total", 2);
    sum.type = otlp_point::kind::sum;
    sum.monotonic = true;
    const auto payload =
        encode_otlp_metrics({gauge("org.apache.kafka.producer.record.queue.time.avg", 7.5, {{"node.id", "1"}}), sum});
    std::vector<uint8_t> zstd;
    ASSERT_TRUE(protocol::compress(protocol::compression_codec::zstd, payload, zstd).has_value());

    EXPECT_EQ(manager.push(got.instance, got.what.id + 1, false, 0, payload, client).error,
              kafka_error::unknown_subscription_id);
    EXPECT_EQ(manager.push(got.instance, got.what.id, false, 4, zstd, client).error, kafka_error::none);
    // Sooner than the interval allows (a terminating push is not held to it).
    EXPECT_EQ(manager.push(got.instance, got.what.id, false, 0, payload, client).error,
              kafka_error::throttling_quota_exceeded);
    EXPECT_EQ(manager.push(got.instance, got.what.id, true, 9, payload, client).error,
              kafka_error::unsupported_compression_type);

    const auto text = registry.render();
    const std::string labels = "client_instance_id=\"" + got.instance.to_string() +
                               "\",client_id=\"app\",client_software_name=\"librdkafka\","
                               "client_software_version=\"2.12.0\",client_source_address=\"127.0.0.1\","
                               "principal=\"User:ANONYMOUS\"";
    EXPECT_NE(text.find("strata_client_producer_record_queue_time_avg{" + labels + ",node_id=\"1\"} 7.5"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("# TYPE strata_client_producer_connection_creation_total counter"), std::string::npos);
    EXPECT_NE(text.find("strata_client_producer_connection_creation_total{" + labels + "} 2"), std::string::npos);
    EXPECT_NE(text.find("strata_client_telemetry_clients 1"), std::string::npos);

    // The terminating push: the client's series go.
    EXPECT_EQ(manager.push(got.instance, got.what.id, true, 0, payload, client).error, kafka_error::none);
    const auto after = registry.render();
    EXPECT_EQ(after.find("strata_client_producer_record_queue_time_avg{"), std::string::npos) << after;
    EXPECT_NE(after.find("strata_client_telemetry_clients 0"), std::string::npos);
}

TEST(client_metrics, exported_names) {
    EXPECT_EQ(exported_name("org.apache.kafka.producer.record.queue.time.avg", false),
              "strata_client_producer_record_queue_time_avg");
    EXPECT_EQ(exported_name("org.apache.kafka.consumer.poll.idle.ratio.avg", false),
              "strata_client_consumer_poll_idle_ratio_avg");
    EXPECT_EQ(exported_name("custom.bytes", true), "strata_client_custom_bytes_total");
    EXPECT_EQ(exported_name("x.total", true), "strata_client_x_total");
}

}  // namespace
}  // namespace strata::telemetry
