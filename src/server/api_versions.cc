// ApiVersions (key 18): the first request of every client. Advertises exactly
// the APIs this broker has handlers for.
#include "api_versions.h"

#include <regex>

#include "strata/common/kafka_error.h"

namespace strata::server {

namespace pm = protocol::messages;

// KIP-511: client software name and version must match this pattern.
bool valid_client_software_field(const std::string& value) {
    static const std::regex pattern("[a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])?");
    return std::regex_match(value, pattern);
}

pm::api_versions_response answer_api_versions(const request_dispatcher& dispatcher, const request_context& ctx,
                                              const pm::api_versions_request& request) {
    pm::api_versions_response response;
    if (ctx.version >= 3 && !(valid_client_software_field(request.client_software_name) &&
                              valid_client_software_field(request.client_software_version))) {
        response.error_code = static_cast<int16_t>(kafka_error::invalid_request);
        return response;
    }
    for (const auto& api : dispatcher.supported_apis()) {
        auto& entry = response.api_keys.emplace_back();
        entry.api_key = static_cast<int16_t>(api.key);
        entry.min_version = api.min_version;
        entry.max_version = api.max_version;
    }
    return response;
}

void register_api_versions(request_dispatcher& dispatcher) {
    dispatcher.register_api<pm::api_versions_request>(
        [&dispatcher](request_context& ctx,
                      pm::api_versions_request& request) -> boost::asio::awaitable<pm::api_versions_response> {
            co_return answer_api_versions(dispatcher, ctx, request);
        });
}

}  // namespace strata::server
