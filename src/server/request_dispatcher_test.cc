#include "request_dispatcher.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/api_versions_request.h"
#include "strata/protocol/messages/api_versions_response.h"
#include "strata/protocol/messages/metadata_request.h"
#include "strata/protocol/messages/metadata_response.h"
#include "strata/protocol/messages/response_header.h"

namespace strata::server {
namespace {

using namespace strata::protocol;

std::shared_ptr<const std::vector<uint8_t>> frame_of(int16_t key, int16_t version, int32_t correlation,
                                                     const messages::api_versions_request* body) {
    messages::request_header h;
    h.request_api_key = key;
    h.request_api_version = version;
    h.correlation_id = correlation;
    h.client_id = "test";
    encoded_output out;
    writer w(out);
    h.encode(w, request_header_version(static_cast<api_key>(key), version));
    if (body) body->encode(w, version);
    return std::make_shared<std::vector<uint8_t>>(std::move(out.bytes));
}

net::handler_result call(request_dispatcher& d, std::shared_ptr<const std::vector<uint8_t>> frame) {
    boost::asio::io_context io;
    net::connection_info info;
    auto future = boost::asio::co_spawn(io, d.handle(info, std::move(frame)), boost::asio::use_future);
    io.run();
    return future.get();
}

struct decoded_api_versions {
    int32_t correlation_id;
    messages::api_versions_response body;
};

decoded_api_versions decode_api_versions(const net::handler_result& r, int16_t version) {
    EXPECT_TRUE(r.response.has_value());
    reader rd(r.response->bytes);
    messages::response_header h;
    h.decode(rd, 0);  // always v0 for ApiVersions
    decoded_api_versions out{h.correlation_id, {}};
    out.body.decode(rd, version);
    EXPECT_TRUE(rd.empty());
    return out;
}

TEST(request_dispatcher, api_versions_at_every_version) {
    request_dispatcher d;
    for (int16_t v = 0; v <= messages::api_versions_request::highest_supported_version; ++v) {
        messages::api_versions_request req;
        req.client_software_name = "librdkafka";
        req.client_software_version = "2.0.2";
        auto r = call(d, frame_of(18, v, 40 + v, &req));
        auto resp = decode_api_versions(r, v);
        EXPECT_EQ(resp.correlation_id, 40 + v);
        EXPECT_EQ(resp.body.error_code, 0);
        ASSERT_EQ(resp.body.api_keys.size(), 3u);  // with SaslHandshake and SaslAuthenticate
        EXPECT_EQ(resp.body.api_keys[1].api_key, 18);
        EXPECT_EQ(resp.body.api_keys[1].max_version, 4);
    }
}

// The connection stamps the frame's arrival, the answer and the write; the
// dispatcher records the split per API, each part once per request, parts
// adding up to the total.
TEST(request_dispatcher, request_time_split_per_api) {
    metrics::registry registry;
    request_dispatcher d(pipeline_services{nullptr, nullptr, &registry});
    messages::api_versions_request req;
    req.client_software_name = "librdkafka";
    req.client_software_version = "2.12.0";
    const auto received = std::chrono::steady_clock::now();
    auto r = call(d, frame_of(18, 3, 1, &req));
    ASSERT_EQ(r.timing.api_key, 18);
    EXPECT_EQ(r.timing.api_version, 3);
    EXPECT_GE(r.timing.dequeued, received);
    EXPECT_EQ(r.timing.remote.count(), 0);
    r.timing.received = received;
    r.timing.answered = r.timing.dequeued + std::chrono::milliseconds(2);
    r.timing.send_started = r.timing.answered + std::chrono::milliseconds(3);
    r.timing.sent = r.timing.send_started + std::chrono::milliseconds(4);
    d.request_completed(net::connection_info{}, r);
    const auto text = registry.render();
    auto sum_of = [&](const std::string& name) {
        const std::string key = name + "_sum{api=\"ApiVersions\"} ";
        const auto at = text.find(key);
        EXPECT_NE(at, std::string::npos) << name;
        return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
    };
    EXPECT_NEAR(sum_of("strata_request_local_time_seconds"), 0.002, 1e-6);
    EXPECT_NEAR(sum_of("strata_response_queue_time_seconds"), 0.003, 1e-6);
    EXPECT_NEAR(sum_of("strata_response_send_time_seconds"), 0.004, 1e-6);
    EXPECT_EQ(sum_of("strata_request_remote_time_seconds"), 0);
    EXPECT_EQ(sum_of("strata_request_throttle_time_seconds"), 0);
    const double queue = sum_of("strata_request_queue_time_seconds");
    EXPECT_GE(queue, 0);
    EXPECT_NEAR(sum_of("strata_request_total_time_seconds"), queue + 0.009, 1e-6);
    EXPECT_NE(text.find("strata_request_total_time_seconds_count{api=\"ApiVersions\"} 1\n"), std::string::npos);
    // APIs without a completed request have no series.
    EXPECT_EQ(text.find("strata_request_total_time_seconds_count{api=\"SaslHandshake\"}"), std::string::npos);
}

TEST(request_dispatcher, api_versions_too_new_gets_kip_511_fallback) {
    request_dispatcher d;
    // v9 does not exist: its body is unknown; the header is flexible (v2).
    auto frame = frame_of(18, 9, 77, nullptr);
    auto r = call(d, frame);
    ASSERT_FALSE(r.close_connection);
    auto resp = decode_api_versions(r, 0);
    EXPECT_EQ(resp.correlation_id, 77);
    EXPECT_EQ(resp.body.error_code, static_cast<int16_t>(kafka_error::unsupported_version));
    ASSERT_EQ(resp.body.api_keys.size(), d.supported_apis().size());
    EXPECT_EQ(resp.body.api_keys[1].max_version, 4);
}

TEST(request_dispatcher, invalid_client_software_name_gets_invalid_request) {
    request_dispatcher d;
    messages::api_versions_request req;
    req.client_software_name = "bad name!";
    req.client_software_version = "1.0";
    auto resp = decode_api_versions(call(d, frame_of(18, 3, 1, &req)), 3);
    EXPECT_EQ(resp.body.error_code, static_cast<int16_t>(kafka_error::invalid_request));
}

TEST(request_dispatcher, unserved_api_closes_the_connection) {
    request_dispatcher d;
    auto r = call(d, frame_of(0 /* Produce, not served yet */, 9, 1, nullptr));
    EXPECT_TRUE(r.close_connection);
    EXPECT_FALSE(r.response.has_value());
    auto unknown = call(d, frame_of(999, 0, 1, nullptr));
    EXPECT_TRUE(unknown.close_connection);
}

TEST(request_dispatcher, malformed_frames_throw_so_the_connection_closes) {
    request_dispatcher d;
    EXPECT_THROW(call(d, std::make_shared<std::vector<uint8_t>>(std::vector<uint8_t>{0, 18})), decode_error);
    // ApiVersions v3 with a truncated body.
    auto frame = std::make_shared<std::vector<uint8_t>>(*frame_of(18, 3, 1, nullptr));
    frame->push_back(10);  // a compact string of 9 bytes that is not there
    EXPECT_THROW(call(d, frame), decode_error);
}

TEST(request_dispatcher, advertises_only_registered_apis) {
    request_dispatcher d;
    // ApiVersions and, as Kafka advertises them on every listener, the SASL pair.
    auto apis = d.supported_apis();
    ASSERT_EQ(apis.size(), 3u);
    EXPECT_EQ(apis[0].key, api_key::sasl_handshake);
    EXPECT_EQ(apis[1].key, api_key::api_versions);
    EXPECT_EQ(apis[2].key, api_key::sasl_authenticate);
    auto handler = [](request_context&,
                      messages::metadata_request&) -> boost::asio::awaitable<messages::metadata_response> {
        co_return messages::metadata_response{};
    };
    EXPECT_THROW(d.register_api<messages::metadata_request>(handler, 0, 99), std::logic_error);
    EXPECT_THROW(d.register_api<messages::metadata_request>(handler, 5, 4), std::logic_error);
}

// The pipeline's stages around a handler: the principal and authorizer it
// sees, the quota's throttle written into the response, and the metrics.
struct deny_topic_authorizer final : security::authorizer {
    std::vector<bool> authorize(const security::request_identity& who,
                                std::span<const security::action> actions) const override {
        std::vector<bool> out;
        for (const auto& a : actions) {
            seen_principal = who.principal.to_string();
            out.push_back(!(a.type == security::resource_type::topic && a.name == "secret"));
        }
        return out;
    }
    mutable std::string seen_principal;
};

struct fixed_quota final : quota_hook {
    int32_t throttle_ms(const quota::request_cost& cost) override {
        last_client = cost.client_id;
        last_user = cost.user;
        timed = cost.request_time.has_value();
        return 250;
    }
    std::string last_client;
    std::string last_user;
    bool timed = false;
};

std::shared_ptr<const std::vector<uint8_t>> metadata_frame(int16_t version, std::vector<std::string> topics) {
    messages::request_header h;
    h.request_api_key = 3;
    h.request_api_version = version;
    h.correlation_id = 5;
    h.client_id = "test";
    messages::metadata_request req;
    req.topics.emplace();
    for (auto& t : topics) req.topics->emplace_back().name = t;
    encoded_output out;
    writer w(out);
    h.encode(w, request_header_version(api_key::metadata, version));
    req.encode(w, version);
    return std::make_shared<std::vector<uint8_t>>(std::move(out.bytes));
}

messages::metadata_response decode_metadata(const net::handler_result& r, int16_t version) {
    EXPECT_TRUE(r.response.has_value());
    reader rd(r.response->bytes);
    messages::response_header h;
    h.decode(rd, response_header_version(api_key::metadata, version));
    messages::metadata_response body;
    body.decode(rd, version);
    return body;
}

TEST(request_pipeline, handlers_see_the_authorizer_quota_and_record_metrics) {
    deny_topic_authorizer authorizer;
    fixed_quota quota;
    metrics::registry registry;
    request_dispatcher d(pipeline_services{&authorizer, &quota, &registry});
    d.register_api<messages::metadata_request>(
        [](request_context& ctx,
           messages::metadata_request& request) -> boost::asio::awaitable<messages::metadata_response> {
            messages::metadata_response response;
            for (const auto& t : *request.topics) {
                auto& out = response.topics.emplace_back();
                out.name = t.name;
                if (!ctx.authorized(security::acl_operation::describe, security::resource_type::topic, *t.name))
                    out.error_code = static_cast<int16_t>(kafka_error::topic_authorization_failed);
            }
            co_return response;
        },
        0, 12);
    auto frame = metadata_frame(12, {"open", "secret"});
    const auto result = call(d, frame);
    EXPECT_EQ(result.throttle_ms, 250);  // the connection mutes for it (KIP-219)
    auto response = decode_metadata(result, 12);
    ASSERT_EQ(response.topics.size(), 2u);
    EXPECT_EQ(response.topics[0].error_code, 0);
    EXPECT_EQ(response.topics[1].error_code, static_cast<int16_t>(kafka_error::topic_authorization_failed));
    EXPECT_EQ(authorizer.seen_principal, "User:ANONYMOUS");
    EXPECT_EQ(response.throttle_time_ms, 250);
    EXPECT_EQ(quota.last_client, "test");
    EXPECT_EQ(quota.last_user, "ANONYMOUS");
    EXPECT_TRUE(quota.timed);  // Metadata counts against request_percentage

    call(d, metadata_frame(9, {"open"}));
    const auto text = registry.render();
    EXPECT_NE(text.find("strata_requests_total{api=\"Metadata\",version=\"12\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("strata_requests_total{api=\"Metadata\",version=\"9\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("strata_request_errors_total{api=\"Metadata\",error=\"TOPIC_AUTHORIZATION_FAILED\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("strata_request_latency_seconds_count{api=\"Metadata\"} 2\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("error=\"NONE\""), std::string::npos) << "only errors are counted";
}

TEST(request_pipeline, a_handler_may_answer_nothing_or_close) {
    request_dispatcher d;
    d.register_api<messages::metadata_request>(
        [](request_context& ctx, messages::metadata_request&) -> boost::asio::awaitable<messages::metadata_response> {
            ctx.no_response = true;
            ctx.close_connection = true;
            co_return messages::metadata_response{};
        },
        0, 12);
    auto r = call(d, metadata_frame(12, {"a"}));
    EXPECT_FALSE(r.response.has_value());
    EXPECT_TRUE(r.close_connection);
}

}  // namespace
}  // namespace strata::server
