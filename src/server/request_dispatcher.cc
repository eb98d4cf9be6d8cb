#include "request_dispatcher.h"

#include <stdexcept>

#include "strata/common/kafka_error.h"
#include "strata/common/log.h"
#include "strata/protocol/messages/api_versions_response.h"

namespace strata::server {

namespace {

const auto& logger() {
    static const auto instance = log::get("server");
    return instance;
}

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

}  // namespace

request_dispatcher::request_dispatcher() { register_api_versions(*this); }

void request_dispatcher::register_api(protocol::api_key key, int16_t min_version, int16_t max_version,
                                      api_handler handler) {
    const auto* schema = protocol::find_api_schema(static_cast<int16_t>(key));
    if (!schema || min_version < schema->min_version || max_version > schema->max_version || min_version > max_version)
        throw std::logic_error("register_api: versions outside what the codec knows");
    _apis[static_cast<int16_t>(key)] = entry{supported_api{key, min_version, max_version}, std::move(handler)};
}

std::vector<supported_api> request_dispatcher::supported_apis() const {
    std::vector<supported_api> out;
    out.reserve(_apis.size());
    for (const auto& [key, e] : _apis) out.push_back(e.versions);
    return out;
}

boost::asio::awaitable<net::handler_result> request_dispatcher::handle(
    const net::connection_info& connection, std::shared_ptr<const std::vector<uint8_t>> frame) {
    protocol::reader peek(*frame);
    const int16_t key = peek.read_int16();
    const int16_t version = peek.read_int16();

    auto found = _apis.find(key);
    if (found == _apis.end()) {
        // Kafka closes the connection on an API key it does not serve.
        logger()->info("connection {} from {}: unsupported API key {} (version {}); closing", connection.id,
                       connection.remote, key, version);
        co_return net::handler_result{std::nullopt, true};
    }
    const auto api = static_cast<protocol::api_key>(key);
    const supported_api& range = found->second.versions;

    protocol::reader body(*frame, frame);
    request_context ctx{connection, api, version, {}, frame};
    ctx.header.decode(body, protocol::request_header_version(api, version));

    if (version < range.min_version || version > range.max_version) {
        if (api == protocol::api_key::api_versions) {
            co_return net::handler_result{unsupported_api_versions_response(ctx.header.correlation_id, supported_apis()),
                                          false};
        }
        logger()->info("connection {} from {}: {} v{} is not supported (v{}-v{}); closing", connection.id,
                       connection.remote, protocol::find_api_schema(key)->name, version, range.min_version,
                       range.max_version);
        co_return net::handler_result{std::nullopt, true};
    }
    co_return co_await found->second.handler(ctx, body);
}

}  // namespace strata::server
