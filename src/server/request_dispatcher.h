// The request pipeline: every request of every listener passes through the
// same stages, whatever its API:
//
//   frame -> authenticate (SASL connections: only the SASL exchange until it
//         completes) -> header -> version check -> quota -> decode
//         -> handler (which authorizes what the decoded request touches)
//         -> encode -> metrics (count, errors, latency per API)
//
// Handlers register per API with register_api<Request>(handler): the version
// range comes from the generated schema, and the pipeline decodes the
// request and encodes the response, so a handler sees typed messages only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "strata/common/kafka_error.h"
#include "strata/metrics/registry.h"
#include "strata/net/request_handler.h"
#include "strata/protocol/api.h"
#include "strata/protocol/error_codes.h"
#include "strata/protocol/messages/request_header.h"
#include "strata/protocol/messages/response_header.h"
#include "strata/quota/client_quotas.h"
#include "strata/security/authorizer.h"

namespace strata::server {

// The quota stage (Kafka's ClientQuotaManager and ClientRequestQuotaManager):
// once the handler has answered, what the request cost its client (a
// Produce's bytes, a consumer Fetch's response bytes, the time it took) is
// recorded, and a client over a quota is throttled: the response carries
// throttle_time_ms and the connection is not read again for that long
// (KIP-219). Called concurrently from every network thread.
class quota_hook {
public:
    virtual ~quota_hook() = default;
    // The throttle time in ms (0: none).
    virtual int32_t throttle_ms(const quota::request_cost& cost) = 0;
};

// No quotas configured: nobody is throttled.
class no_quotas final : public quota_hook {
public:
    int32_t throttle_ms(const quota::request_cost&) override { return 0; }
};

// The broker's quota stage: the client quotas of the metadata image.
class client_quota_stage final : public quota_hook {
public:
    explicit client_quota_stage(quota::client_quota_manager& manager) : _manager(manager) {}
    int32_t throttle_ms(const quota::request_cost& cost) override { return _manager.record(cost); }

private:
    quota::client_quota_manager& _manager;
};

// One request as a handler sees it. Lives for the handler call.
struct request_context {
    const net::connection_info& connection;
    protocol::api_key api;
    int16_t version;
    protocol::messages::request_header header;
    // The frame the request came in; decoded records views point into it.
    std::shared_ptr<const std::vector<uint8_t>> frame;
    const security::authorizer& authorizer;
    quota_hook* quotas = nullptr;
    std::chrono::steady_clock::time_point started{};
    // From the frame's arrival to the request decoded.
    std::chrono::nanoseconds decode_time{0};
    // Set by the quota stage; the pipeline writes it into the response's
    // throttle_time_ms (when the handler set none larger).
    int32_t throttle_ms = 0;
    // Set by a handler: replication or quorum traffic (a follower's Fetch),
    // which client quotas do not count.
    bool inter_broker = false;
    // Set by a handler: send nothing back (Produce with acks=0); close the
    // connection after the response (if any).
    bool no_response = false;
    bool close_connection = false;
    // Set by a handler when it parks the request to wait on others (an
    // acks=all produce waiting for the ISR, a fetch in its long poll): the
    // rest of the call is Kafka's RemoteTimeMs, the part before LocalTimeMs.
    std::optional<std::chrono::steady_clock::time_point> remote_since;
    // Set by the pipeline when the handler returns.
    std::chrono::nanoseconds remote_time{0};
    void waiting_remotely(std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now()) {
        if (!remote_since) remote_since = since;
    }

    // The SASL identity once authenticated, else the transport's (TLS).
    const security::principal& principal() const { return connection.effective_principal(); }
    security::request_identity identity() const;
    // The authorize stage: may this request's principal perform `operation`
    // on the resource? Handlers call it for each resource the decoded request
    // touches and answer Kafka's *_AUTHORIZATION_FAILED error where not.
    bool authorized(security::acl_operation operation, security::resource_type type, std::string_view name) const;
    // The quota stage, run by the pipeline once the handler has answered
    // with a response of `response_bytes`: sets throttle_ms.
    void settle_quotas(size_t response_bytes);
};

struct supported_api {
    protocol::api_key key;
    int16_t min_version;
    int16_t max_version;
};

class sasl_authenticator;  // sasl_apis.h

// What the pipeline needs besides the handlers; each must outlive it.
struct pipeline_services {
    const security::authorizer* authorizer = nullptr;  // null: allow all
    quota_hook* quotas = nullptr;                      // null: no quotas
    metrics::registry* metrics = nullptr;              // null: a private registry (tests)
    // SASL listeners' mechanisms and users; null: no SASL (SaslHandshake
    // answers ILLEGAL_SASL_STATE).
    const sasl_authenticator* sasl = nullptr;
};

// Immutable after start-up (handlers are registered before the server starts),
// so `handle` runs concurrently on every network thread without locks.
class request_dispatcher final : public net::request_handler {
public:
    explicit request_dispatcher(pipeline_services services = {});
    // Handlers capture the dispatcher; it never moves.
    request_dispatcher(const request_dispatcher&) = delete;
    request_dispatcher& operator=(const request_dispatcher&) = delete;

    // Registers `handler` for Request's API at versions [min, max] (by
    // default every version the schema defines). The handler is called as
    //   awaitable<Response> handler(request_context&, Request&)
    // with the request decoded; its response is encoded by the pipeline.
    // Only registered APIs are advertised by ApiVersions.
    template <typename Request, typename Handler>
    void register_api(Handler handler, int16_t min_version = Request::lowest_supported_version,
                      int16_t max_version = Request::highest_supported_version);

    // What ApiVersions advertises, ordered by API key.
    std::vector<supported_api> supported_apis() const;

    // Called with every connection that closes (on its network thread), as
    // handlers are registered: before the server starts.
    using close_listener = std::function<void(const net::connection_info&)>;
    void on_connection_closed(close_listener listener) { _close_listeners.push_back(std::move(listener)); }
    void connection_closed(const net::connection_info& connection) override;
    // Records the request's time split (queue, local, remote, throttle,
    // response queue, send, total) into its API's histograms.
    void request_completed(const net::connection_info& connection, const net::handler_result& result) override;

    boost::asio::awaitable<net::handler_result> handle(const net::connection_info& connection,
                                                       std::shared_ptr<const std::vector<uint8_t>> frame) override;

    metrics::registry& metrics() { return *_metrics; }

private:
    // Decodes from the body reader, calls the handler, encodes; appends the
    // response's error codes to the vector.
    using invoker = std::function<boost::asio::awaitable<std::optional<protocol::encoded_output>>(
        request_context&, protocol::reader& body, std::vector<int16_t>& errors)>;

    // An API's series, created at registration so that the hot path only
    // touches atomics.
    struct api_metrics {
        std::vector<metrics::counter*> requests_by_version;  // index: version - min
        metrics::histogram* latency = nullptr;
        // By Kafka error code (0..max_counted_error); created at first use.
        static constexpr int16_t max_counted_error = 159;
        std::unique_ptr<std::array<std::atomic<metrics::counter*>, max_counted_error + 1>> errors;
        // Kafka's RequestMetrics time split, one histogram per part; created
        // at the API's first completed request, so that the APIs nobody calls
        // add no series to a scrape.
        enum part { queue, local, remote, throttle, response_queue, response_send, total, parts };
        std::unique_ptr<std::array<std::atomic<metrics::histogram*>, parts>> times;
    };

    struct entry {
        supported_api versions;
        invoker call;
        api_metrics metrics;
    };

    void add(protocol::api_key key, int16_t min_version, int16_t max_version, invoker call);
    void count_errors(entry& api, const std::vector<int16_t>& errors);
    std::array<metrics::histogram*, api_metrics::parts> time_series(entry& api);

    std::unique_ptr<metrics::registry> _own_metrics;
    metrics::registry* _metrics;
    const security::authorizer* _authorizer;
    quota_hook* _quotas;
    const sasl_authenticator* _sasl;
    std::map<int16_t, entry> _apis;
    std::vector<close_listener> _close_listeners;
};

// Encodes `response` with its response header for the request in `ctx`.
template <typename Response>
protocol::encoded_output encode_response(const request_context& ctx, const Response& response) {
    protocol::messages::response_header header;
    header.correlation_id = ctx.header.correlation_id;
    const int16_t header_version = protocol::response_header_version(ctx.api, ctx.version);
    protocol::encoded_output out;
    out.bytes.reserve(header.size(header_version) + response.size(ctx.version));
    protocol::writer w(out);
    header.encode(w, header_version);
    response.encode(w, ctx.version);
    return out;
}

template <typename Request, typename Handler>
void request_dispatcher::register_api(Handler handler, int16_t min_version, int16_t max_version) {
    using awaitable_response = std::invoke_result_t<Handler&, request_context&, Request&>;
    using Response = typename awaitable_response::value_type;
    static_assert(Response::api_key == Request::api_key, "a handler answers its request's API");
    add(static_cast<protocol::api_key>(Request::api_key), min_version, max_version,
        [handler = std::move(handler)](request_context& ctx, protocol::reader& body, std::vector<int16_t>& errors)
            -> boost::asio::awaitable<std::optional<protocol::encoded_output>> {
            Request request;
            request.decode(body, ctx.version);
            ctx.decode_time = std::chrono::steady_clock::now() - ctx.started;
            Response response = co_await handler(ctx, request);
            if (ctx.remote_since) ctx.remote_time = std::chrono::steady_clock::now() - *ctx.remote_since;
            // Only a Fetch's response size counts (consumer_byte_rate).
            ctx.settle_quotas(ctx.api == protocol::api_key::fetch && !ctx.no_response ? response.size(ctx.version) : 0);
            if (ctx.no_response) co_return std::nullopt;
            if constexpr (requires { response.throttle_time_ms; }) {
                if (ctx.throttle_ms > response.throttle_time_ms) response.throttle_time_ms = ctx.throttle_ms;
            }
            protocol::collect_error_codes(response, errors);
            co_return encode_response(ctx, response);
        });
}

// Kafka's answer to a request its principal may not make at all (the
// controller's and the quorum's RPCs without CLUSTER_ACTION): the response
// with only its top-level error code set.
template <typename Response>
Response refused(kafka_error error) {
    Response response;
    response.error_code = static_cast<int16_t>(error);
    return response;
}

// Whether the request's principal may act as a member of the cluster (a
// broker or controller): CLUSTER_ACTION on the cluster resource.
inline bool cluster_action_allowed(const request_context& ctx) {
    return ctx.authorized(security::acl_operation::cluster_action, security::resource_type::cluster,
                          security::cluster_resource_name);
}

// Registers ApiVersions (api_versions.cc).
void register_api_versions(request_dispatcher& dispatcher);

}  // namespace strata::server
