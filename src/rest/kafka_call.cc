#include "kafka_call.h"

#include <fmt/format.h>

#include "strata/protocol/messages/api_versions_request.h"
#include "strata/protocol/messages/api_versions_response.h"
#include "strata/protocol/messages/request_header.h"
#include "strata/protocol/messages/response_header.h"

namespace strata::rest {

namespace asio = boost::asio;
namespace pm = protocol::messages;

namespace {
// Far above the network server's ids (which count up from 1), so the
// dispatcher's per-connection state never mixes the proxy with a client.
std::atomic<uint64_t> next_connection_id{uint64_t(1) << 62};
}  // namespace

kafka_call::kafka_call(net::request_handler& handler, std::string listener, security::principal who)
    : _handler(handler) {
    _info.id = next_connection_id++;
    _info.remote = "rest-proxy";
    _info.listener = std::move(listener);
    _info.principal = std::move(who);
    // Fetch answers come back as bytes, not file regions to sendfile.
    _info.zero_copy_allowed = false;
    for (auto& v : _versions) v = {0, -1};
}

void kafka_call::close() {
    _handler.connection_closed(_info);
}

void kafka_call::write_header(protocol::writer& w, protocol::api_key key, int16_t version) {
    pm::request_header header;
    header.request_api_key = static_cast<int16_t>(key);
    header.request_api_version = version;
    header.correlation_id = _correlation++;
    header.client_id = "strata-rest-proxy";
    header.encode(w, protocol::request_header_version(key, version));
}

void kafka_call::skip_response_header(protocol::reader& r, protocol::api_key key, int16_t version) {
    pm::response_header header;
    header.decode(r, protocol::response_header_version(key, version));
}

asio::awaitable<std::shared_ptr<const std::vector<uint8_t>>> kafka_call::raw(std::vector<uint8_t> frame) {
    auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(frame));
    auto result = co_await _handler.handle(_info, shared);
    if (!result.response) throw kafka_call_error("the broker did not answer the request");
    if (!result.response->file_inserts.empty()) throw kafka_call_error("unexpected file region in an answer");
    co_return std::make_shared<const std::vector<uint8_t>>(std::move(result.response->bytes));
}

asio::awaitable<int16_t> kafka_call::version_for(protocol::api_key key, int16_t cap) {
    if (!_negotiated.load(std::memory_order_acquire)) {
        // ApiVersions v0 is served by every broker; its answer lists them all.
        pm::api_versions_request request;
        protocol::encoded_output out;
        protocol::writer w(out);
        write_header(w, protocol::api_key::api_versions, 0);
        request.encode(w, 0);
        auto answer = co_await raw(std::move(out.bytes));
        protocol::reader r(*answer, answer);
        skip_response_header(r, protocol::api_key::api_versions, 0);
        pm::api_versions_response response;
        response.decode(r, 0);
        for (const auto& api : response.api_keys)
            if (api.api_key >= 0 && size_t(api.api_key) < _versions.size())
                _versions[size_t(api.api_key)] = {api.min_version, api.max_version};
        // Written before the flag; concurrent first calls fill the same values.
        _negotiated.store(true, std::memory_order_release);
    }
    const auto index = size_t(static_cast<int16_t>(key));
    const auto [low, high] = index < _versions.size() ? _versions[index] : std::pair<int16_t, int16_t>{0, -1};
    const int16_t version = std::min(cap, high);
    if (version < low || version < 0)
        throw kafka_call_error(fmt::format("the broker does not serve API key {} at a version up to {}", int(index), cap));
    co_return version;
}

}  // namespace strata::rest
