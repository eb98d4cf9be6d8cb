// ApiVersions' answer (api_versions.cc), for a module that wraps the handler
// to learn what the client said of itself (KIP-511's software name and
// version: telemetry_apis.cc keeps them for KIP-714's labels).
#pragma once

#include "request_dispatcher.h"
#include "strata/protocol/messages/api_versions_request.h"
#include "strata/protocol/messages/api_versions_response.h"

namespace strata::server {

// Whether a KIP-511 software name or version is well-formed.
bool valid_client_software_field(const std::string& value);

// The response to `request`: the APIs `dispatcher` serves, or
// INVALID_REQUEST for a malformed software name or version (v3+).
protocol::messages::api_versions_response answer_api_versions(const request_dispatcher& dispatcher,
                                                              const request_context& ctx,
                                                              const protocol::messages::api_versions_request& request);

}  // namespace strata::server
