// ApiVersions (key 18): the first request of every client. Advertises exactly
// the APIs this broker has handlers for.
#include <regex>

#include "request_dispatcher.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/api_versions_request.h"
#include "strata/protocol/messages/api_versions_response.h"

namespace strata::server {

namespace {

// KIP-511: client software name and version must match this pattern.
bool valid_software_field(const std::string& value) {
    static const std::regex pattern("[a-zA-Z0-9](?:[a-zA-Z0-9\\-.]*[a-zA-Z0-9])?");
    return std::regex_match(value, pattern);
}

}  // namespace

void register_api_versions(request_dispatcher& dispatcher) {
    namespace pm = protocol::messages;
    dispatcher.register_api<pm::api_versions_request>(
        [&dispatcher](request_context& ctx,
                      pm::api_versions_request& request) -> boost::asio::awaitable<pm::api_versions_response> {
            pm::api_versions_response response;
            if (ctx.version >= 3 &&
                !(valid_software_field(request.client_software_name) &&
                  valid_software_field(request.client_software_version))) {
                response.error_code = static_cast<int16_t>(kafka_error::invalid_request);
                co_return response;
            }
            for (const auto& api : dispatcher.supported_apis()) {
                auto& entry = response.api_keys.emplace_back();
                entry.api_key = static_cast<int16_t>(api.key);
                entry.min_version = api.min_version;
                entry.max_version = api.max_version;
            }
            co_return response;
        });
}

}  // namespace strata::server
