#include "request_dispatcher.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "strata/common/kafka_error.h"
#include "strata/common/log.h"
#include "sasl_apis.h"
#include "strata/protocol/messages/api_versions_response.h"

namespace strata::server {

namespace {

namespace asio = boost::asio;

const auto& dispatcher_log() {
    static const auto instance = log::get("server");
    return instance;
}

// No answer, and the connection closed (Kafka's answer to an API or version
// it does not serve).
net::handler_result closing() {
    net::handler_result result;
    result.close_connection = true;
    return result;
}

const security::allow_all_authorizer allow_all;
no_quotas no_quota;

// KIP-511: a client that sends ApiVersions at a version newer than ours gets
// a v0 response carrying UNSUPPORTED_VERSION and our ranges, then retries at
// the highest version both sides know.
protocol::encoded_output unsupported_api_versions_response(int32_t correlation_id,
                                                           const std::vector<supported_api>& apis) {
    protocol::messages::response_header header;
    header.correlation_id = correlation_id;
    protocol::messages::api_versions_response response;
    response.error_code = static_cast<int16_t>(kafka_error::unsupported_version);
    for (const auto& api : apis) {
        auto& entry = response.api_keys.emplace_back();
        entry.api_key = static_cast<int16_t>(api.key);
        entry.min_version = api.min_version;
        entry.max_version = api.max_version;
    }
    protocol::encoded_output out;
    protocol::writer w(out);
    header.encode(w, 0);
    response.encode(w, 0);
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

security::request_identity request_context::identity() const {
    return security::request_identity{connection.effective_principal(), connection.remote, connection.listener,
                                      static_cast<int16_t>(api), header.client_id ? *header.client_id : ""};
}

bool request_context::authorized(security::acl_operation operation, security::resource_type type,
                                 std::string_view name) const {
    return authorizer.authorize_one(identity(), security::action{operation, type, name});
}

namespace {

// Requests whose handlers wait on purpose (for records, for replication,
// for a rebalance): their time is not work done for the client, so the
// request quota counts only their decoding.
bool waits_by_design(protocol::api_key api) {
    using protocol::api_key;
    switch (api) {
        case api_key::produce:
        case api_key::fetch:
        case api_key::join_group:
        case api_key::sync_group:
        case api_key::consumer_group_heartbeat:
        case api_key::offset_commit:
        case api_key::txn_offset_commit:
        case api_key::end_txn:
        case api_key::add_partitions_to_txn:
        case api_key::init_producer_id:
        case api_key::create_topics:
        case api_key::delete_topics:
        case api_key::create_partitions:
        case api_key::incremental_alter_configs:
        case api_key::alter_configs:
        case api_key::alter_client_quotas:
        case api_key::alter_user_scram_credentials: return true;
        default: return false;
    }
}

// The KRaft and inter-broker RPCs: exempt from the request quota, as
// Kafka exempts cluster actions.
bool inter_broker_api(protocol::api_key api) {
    using protocol::api_key;
    switch (api) {
        case api_key::vote:
        case api_key::begin_quorum_epoch:
        case api_key::end_quorum_epoch:
        case api_key::fetch_snapshot:
        case api_key::describe_quorum:
        case api_key::broker_registration:
        case api_key::broker_heartbeat:
        case api_key::alter_partition:
        case api_key::allocate_producer_ids:
        case api_key::write_txn_markers:
        case api_key::api_versions:
        case api_key::sasl_handshake:
        case api_key::sasl_authenticate: return true;
        default: return false;
    }
}

}  // namespace

void request_context::settle_quotas(size_t response_bytes) {
    if (!quotas || inter_broker) return;
    quota::request_cost cost;
    cost.user = principal().name;
    cost.client_id = header.client_id ? std::string_view(*header.client_id) : std::string_view();
    if (api == protocol::api_key::produce) cost.produce_bytes = frame->size();
    if (api == protocol::api_key::fetch) cost.fetch_bytes = response_bytes;
    if (!inter_broker_api(api)) {
        const auto elapsed = std::chrono::steady_clock::now() - started;
        cost.request_time = waits_by_design(api) ? std::min<std::chrono::nanoseconds>(elapsed, decode_time) : elapsed;
    }
    throttle_ms = std::max(throttle_ms, quotas->throttle_ms(cost));
}

request_dispatcher::request_dispatcher(pipeline_services services)
    : _own_metrics(services.metrics ? nullptr : std::make_unique<metrics::registry>()),
      _metrics(services.metrics ? services.metrics : _own_metrics.get()),
      _authorizer(services.authorizer ? services.authorizer : &allow_all),
      _quotas(services.quotas ? services.quotas : &no_quota),
      _sasl(services.sasl) {
    register_api_versions(*this);
    register_sasl_apis(*this, _sasl);
}

void request_dispatcher::add(protocol::api_key key, int16_t min_version, int16_t max_version, invoker call) {
    const auto* schema = protocol::find_api_schema(static_cast<int16_t>(key));
    if (!schema || min_version < schema->min_version || max_version > schema->max_version || min_version > max_version)
        throw std::logic_error("register_api: versions outside what the codec knows");
    entry e{supported_api{key, min_version, max_version}, std::move(call), {}};
    // Kafka's RequestMetrics: RequestsPerSec by request and version,
    // TotalTimeMs by request, ErrorsPerSec by request and error.
    const std::string api_name(schema->name);
    for (int16_t v = min_version; v <= max_version; ++v) {
        e.metrics.requests_by_version.push_back(&_metrics->counter(
            "strata_requests_total", "Requests received, by API and version (Kafka: RequestMetrics RequestsPerSec).",
            {{"api", api_name}, {"version", std::to_string(v)}}));
    }
    e.metrics.latency = &_metrics->histogram(
        "strata_request_latency_seconds",
        "Time from a request's frame being read to its response being ready (Kafka: RequestMetrics TotalTimeMs).",
        metrics::latency_buckets_seconds(), {{"api", api_name}});
    e.metrics.errors =
        std::make_unique<std::array<std::atomic<metrics::counter*>, api_metrics::max_counted_error + 1>>();
    for (auto& slot : *e.metrics.errors) slot.store(nullptr, std::memory_order_relaxed);
    e.metrics.times = std::make_unique<std::array<std::atomic<metrics::histogram*>, api_metrics::parts>>();
    for (auto& slot : *e.metrics.times) slot.store(nullptr, std::memory_order_relaxed);
    _apis.insert_or_assign(static_cast<int16_t>(key), std::move(e));
}

std::vector<supported_api> request_dispatcher::supported_apis() const {
    std::vector<supported_api> out;
    out.reserve(_apis.size());
    for (const auto& [key, e] : _apis) out.push_back(e.versions);
    return out;
}

void request_dispatcher::count_errors(entry& api, const std::vector<int16_t>& errors) {
    const std::string_view api_name = protocol::find_api_schema(static_cast<int16_t>(api.versions.key))->name;
    for (const int16_t code : errors) {
        // Codes outside the table (a newer peer's, or -1) share one series.
        const bool in_table = code > 0 && code <= api_metrics::max_counted_error;
        auto* cached = in_table ? (*api.metrics.errors)[code].load(std::memory_order_acquire) : nullptr;
        if (!cached) {
            const auto error = kafka_error_from_code(code);
            const std::string name = error ? std::string(kafka_error_name(*error)) : fmt::format("CODE_{}", code);
            cached =
                &_metrics->counter("strata_request_errors_total",
                                   "Error codes in responses, by API and error (Kafka: RequestMetrics ErrorsPerSec).",
                                   {{"api", std::string(api_name)}, {"error", name}});
            if (in_table) (*api.metrics.errors)[code].store(cached, std::memory_order_release);
        }
        cached->inc();
    }
}

asio::awaitable<net::handler_result> request_dispatcher::handle(const net::connection_info& connection,
                                                                std::shared_ptr<const std::vector<uint8_t>> frame) {
    const auto started = std::chrono::steady_clock::now();
    // Authenticate: a SASL connection that has not completed its exchange
    // may only take part in it; anything else is refused unparsed.
    if (!connection.authenticated()) {
        if (auto answer = before_authentication(_sasl, connection, frame)) co_return co_await std::move(*answer);
    } else if (auto closing = after_session_end(connection, frame)) {
        co_return co_await std::move(*closing);
    }
    protocol::reader peek(*frame);
    const int16_t key = peek.read_int16();
    const int16_t version = peek.read_int16();

    auto found = _apis.find(key);
    if (found == _apis.end()) {
        // Kafka closes the connection on an API key it does not serve.
        dispatcher_log()->info("connection {} from {}: unsupported API key {} (version {}); closing", connection.id,
                       connection.remote, key, version);
        co_return closing();
    }
    entry& api = found->second;
    const auto key_enum = static_cast<protocol::api_key>(key);
    const supported_api& range = api.versions;

    protocol::reader body(*frame, frame);
    request_context ctx{connection, key_enum, version, {}, frame, *_authorizer};
    ctx.header.decode(body, protocol::request_header_version(key_enum, version));

    if (version < range.min_version || version > range.max_version) {
        if (key_enum == protocol::api_key::api_versions) {
            net::handler_result answer;
            answer.response = unsupported_api_versions_response(ctx.header.correlation_id, supported_apis());
            co_return answer;
        }
        dispatcher_log()->info("connection {} from {}: {} v{} is not supported (v{}-v{}); closing", connection.id,
                       connection.remote, protocol::find_api_schema(key)->name, version, range.min_version,
                       range.max_version);
        co_return closing();
    }
    api.metrics.requests_by_version[version - range.min_version]->inc();

    // The quota stage runs when the handler has answered (settle_quotas).
    ctx.quotas = _quotas;
    ctx.started = started;

    // Empty (and unallocated) unless the response carries an error.
    std::vector<int16_t> errors;
    auto response = co_await api.call(ctx, body, errors);
    if (!errors.empty()) count_errors(api, errors);
    api.metrics.latency->observe(seconds_since(started));
    net::handler_result result;
    result.response = std::move(response);
    result.close_connection = ctx.close_connection;
    result.throttle_ms = ctx.throttle_ms;
    result.timing.api_key = key;
    result.timing.api_version = version;
    result.timing.dequeued = started;
    result.timing.remote = ctx.remote_time;
    co_return result;
}

std::array<metrics::histogram*, request_dispatcher::api_metrics::parts> request_dispatcher::time_series(entry& api) {
    std::array<metrics::histogram*, api_metrics::parts> out{};
    auto& slots = *api.metrics.times;
    bool complete = true;
    for (size_t i = 0; i < out.size(); ++i) complete &= (out[i] = slots[i].load(std::memory_order_acquire)) != nullptr;
    if (complete) return out;
    // First use: the registry gives every thread the same series, so racing
    // here only stores the same pointers twice.
    struct part_metric {
        const char* name;
        const char* help;
    };
    static constexpr std::array<part_metric, api_metrics::parts> names{{
        {"strata_request_queue_time_seconds",
         "Time from a request's frame being read to its handler starting (Kafka: RequestMetrics RequestQueueTimeMs)."},
        {"strata_request_local_time_seconds",
         "Time the handler worked on a request, its remote wait excluded; includes decoding and encoding (Kafka: "
         "RequestMetrics LocalTimeMs)."},
        {"strata_request_remote_time_seconds",
         "Time a request waited on others: an acks=all produce for the in-sync replicas, a fetch in its long poll "
         "(Kafka: RequestMetrics RemoteTimeMs)."},
        {"strata_request_throttle_time_seconds",
         "Quota throttle time given to the client with the response (Kafka: RequestMetrics ThrottleTimeMs)."},
        {"strata_response_queue_time_seconds",
         "Time from a response being ready to its write starting (waits for earlier responses of the connection) "
         "(Kafka: RequestMetrics ResponseQueueTimeMs)."},
        {"strata_response_send_time_seconds",
         "Time to write a response to the socket (Kafka: RequestMetrics ResponseSendTimeMs)."},
        {"strata_request_total_time_seconds",
         "Time from a request's frame being read to its response written (Kafka: RequestMetrics TotalTimeMs)."},
    }};
    const std::string api_name(protocol::find_api_schema(static_cast<int16_t>(api.versions.key))->name);
    for (size_t i = 0; i < out.size(); ++i) {
        out[i] =
            &_metrics->histogram(names[i].name, names[i].help, metrics::latency_buckets_seconds(), {{"api", api_name}});
        slots[i].store(out[i], std::memory_order_release);
    }
    return out;
}

void request_dispatcher::request_completed(const net::connection_info&, const net::handler_result& result) {
    const auto& t = result.timing;
    auto found = _apis.find(t.api_key);
    if (found == _apis.end()) return;
    const auto series = time_series(found->second);
    using seconds = std::chrono::duration<double>;
    auto span = [](auto from, auto to) { return std::max(0.0, seconds(to - from).count()); };
    const double handler = span(t.dequeued, t.answered);
    const double remote = std::min(handler, seconds(t.remote).count());
    series[api_metrics::queue]->observe(span(t.received, t.dequeued));
    series[api_metrics::local]->observe(handler - remote);
    series[api_metrics::remote]->observe(remote);
    series[api_metrics::throttle]->observe(result.throttle_ms / 1000.0);
    series[api_metrics::response_queue]->observe(span(t.answered, t.send_started));
    series[api_metrics::response_send]->observe(span(t.send_started, t.sent));
    series[api_metrics::total]->observe(span(t.received, t.sent));
}

void request_dispatcher::connection_closed(const net::connection_info& connection) {
    for (const auto& listener : _close_listeners) listener(connection);
}

}  // namespace strata::server
