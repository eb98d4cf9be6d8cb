#include "telemetry_apis.h"

#include <mutex>
#include <tuple>
#include <unordered_map>

#include "api_versions.h"

#include "strata/common/log.h"
#include "strata/protocol/messages/get_telemetry_subscriptions_request.h"
#include "strata/protocol/messages/get_telemetry_subscriptions_response.h"
#include "strata/protocol/messages/list_client_metrics_resources_request.h"
#include "strata/protocol/messages/list_client_metrics_resources_response.h"
#include "strata/protocol/messages/push_telemetry_request.h"
#include "strata/protocol/messages/push_telemetry_response.h"
#include "strata/telemetry/client_metrics.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

const auto& telemetry_log() {
    static const auto instance = log::get("telemetry");
    return instance;
}

// What each connection's ApiVersions (v3+, KIP-511) said of the client
// software, until the connection closes.
class client_software {
public:
    void set(uint64_t connection, std::string name, std::string version) {
        std::lock_guard lock(_mutex);
        _by_connection[connection] = {std::move(name), std::move(version)};
    }
    std::pair<std::string, std::string> of(uint64_t connection) const {
        std::lock_guard lock(_mutex);
        auto found = _by_connection.find(connection);
        return found == _by_connection.end() ? std::pair<std::string, std::string>{} : found->second;
    }
    void forget(uint64_t connection) {
        std::lock_guard lock(_mutex);
        _by_connection.erase(connection);
    }

private:
    mutable std::mutex _mutex;
    std::unordered_map<uint64_t, std::pair<std::string, std::string>> _by_connection;
};

// The client as KIP-714's selectors and labels see it.
telemetry::client_identity identity_of(const request_context& ctx, const client_software& software) {
    telemetry::client_identity c;
    c.client_id = ctx.header.client_id.value_or("");
    std::tie(c.software_name, c.software_version) = software.of(ctx.connection.id);
    // "127.0.0.1:53412" or "[::1]:53412".
    const auto& remote = ctx.connection.remote;
    const auto colon = remote.rfind(':');
    c.source_address = remote.substr(0, colon);
    if (c.source_address.size() >= 2 && c.source_address.front() == '[')
        c.source_address = c.source_address.substr(1, c.source_address.size() - 2);
    c.source_port = colon == std::string::npos ? "" : remote.substr(colon + 1);
    c.principal = ctx.principal().to_string();
    return c;
}

}  // namespace

void register_telemetry_apis(request_dispatcher& dispatcher, metadata::metadata_service& metadata) {
    auto manager = std::make_shared<telemetry::client_metrics_manager>(dispatcher.metrics(),
                                                                       [&metadata] { return metadata.image(); });
    // ApiVersions answers as always, and first notes the client software.
    auto software = std::make_shared<client_software>();
    dispatcher.register_api<msg::api_versions_request>(
        [software, &dispatcher](request_context& ctx,
                                msg::api_versions_request& request) -> awaitable<msg::api_versions_response> {
            if (ctx.version >= 3 && valid_client_software_field(request.client_software_name) &&
                valid_client_software_field(request.client_software_version))
                software->set(ctx.connection.id, request.client_software_name, request.client_software_version);
            co_return answer_api_versions(dispatcher, ctx, request);
        });
    dispatcher.on_connection_closed([software](const net::connection_info& c) { software->forget(c.id); });
    dispatcher.register_api<msg::get_telemetry_subscriptions_request>(
        [manager, software](
            request_context& ctx,
            msg::get_telemetry_subscriptions_request& request) -> awaitable<msg::get_telemetry_subscriptions_response> {
            auto answer = manager->get_subscriptions(request.client_instance_id, identity_of(ctx, *software));
            msg::get_telemetry_subscriptions_response response;
            // The id is returned only when the client had none (the schema's rule).
            if (request.client_instance_id.is_zero()) response.client_instance_id = answer.instance;
            response.subscription_id = answer.what.id;
            response.accepted_compression_types = telemetry::client_metrics_manager::accepted_compression_types();
            response.push_interval_ms = answer.what.push_interval_ms;
            response.telemetry_max_bytes = telemetry::telemetry_max_bytes;
            // Cumulative sums: what Prometheus counters are (Kafka asks for
            // deltas, which its plugins aggregate).
            response.delta_temporality = false;
            response.requested_metrics = answer.what.metrics;
            co_return response;
        });
    dispatcher.register_api<msg::push_telemetry_request>(
        [manager, software](request_context& ctx,
                            msg::push_telemetry_request& request) -> awaitable<msg::push_telemetry_response> {
            auto answer = manager->push(request.client_instance_id, request.subscription_id, request.terminating,
                                        request.compression_type, request.metrics, identity_of(ctx, *software));
            if (answer.error != kafka_error::none)
                telemetry_log()->debug("PushTelemetry from {} ({}): {}: {}", ctx.connection.remote,
                                request.client_instance_id.to_string(), kafka_error_name(answer.error), answer.message);
            msg::push_telemetry_response response;
            response.error_code = static_cast<int16_t>(answer.error);
            co_return response;
        });
    dispatcher.register_api<msg::list_client_metrics_resources_request>(
        [&metadata](
            request_context& ctx,
            msg::list_client_metrics_resources_request&) -> awaitable<msg::list_client_metrics_resources_response> {
            msg::list_client_metrics_resources_response response;
            // Kafka: DESCRIBE_CONFIGS on the cluster.
            if (!ctx.authorized(security::acl_operation::describe_configs, security::resource_type::cluster,
                                security::cluster_resource_name)) {
                response.error_code = static_cast<int16_t>(kafka_error::cluster_authorization_failed);
                co_return response;
            }
            auto image = metadata.image();
            for (const auto& [resource, configs] : image->all_configs())
                if (resource.type == telemetry::client_metrics_resource)
                    response.client_metrics_resources.emplace_back().name = resource.name;
            co_return response;
        });
}

}  // namespace strata::server
