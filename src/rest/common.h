// What every REST handler shares: the error shape of Confluent's REST Proxy
// ({"error_code": ..., "message": ...}), JSON answers, base64, query
// strings, Kafka error codes mapped to HTTP, and the cluster's metadata.
#pragma once

#include <utility>  // Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kafka_call.h"
#include "peers.h"
#include "strata/http/server.h"
#include "strata/protocol/messages/metadata_response.h"

namespace strata::rest {

using json = nlohmann::json;
template <typename T>
using awaitable = boost::asio::awaitable<T>;

// Thrown by handlers, answered as {"error_code": code, "message": message}
// with HTTP `status`. Confluent's codes are the HTTP status, or the status
// times 100 plus a sub-code (40401 topic not found, 40403 consumer instance
// not found, 42201 record too large...).
struct rest_error : std::runtime_error {
    rest_error(unsigned status, int code, const std::string& message)
        : std::runtime_error(message), status(status), code(code) {}
    unsigned status;
    int code;
};

http::response json_response(unsigned status, const json& body, std::string content_type = "application/json");
http::response error_response(unsigned status, int code, std::string_view message);
http::response no_content();

// Kafka's error code as the REST answer Confluent gives for it; throws.
[[noreturn]] void throw_kafka(int16_t code, const std::optional<std::string>& message = std::nullopt);
void check_kafka(int16_t code, const std::optional<std::string>& message = std::nullopt);

std::string base64_encode(std::span<const uint8_t> bytes);
// nullopt when `text` is not base64.
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);
// The same, appended to `out`; false (and `out` as it was) when not base64.
bool base64_decode_append(std::string_view text, std::vector<uint8_t>& out);
// Kafka's partitioner: murmur2 of the key bytes, positive, mod partitions.
int32_t murmur2(std::span<const uint8_t> key);

// ?a=1&b=2 decoded (percent and '+').
std::map<std::string, std::string> parse_query(std::string_view query);
std::string url_decode(std::string_view text);

// Confluent's streaming produce: JSON objects concatenated (whitespace
// between them allowed), split at the ends of top-level values. Anything
// else comes back whole or as its own piece, for the JSON parser to refuse.
std::vector<std::string_view> split_concatenated(std::string_view body);

// The first byte in [p, end) that may end or escape a JSON string, or is not
// printable ASCII: '"', '\\', below 0x20 or 0x7f and above; `end` if none.
// Eight bytes at a time: the records' base64 strings are most of a body.
const char* skip_plain_string_bytes(const char* p, const char* end);

// The body as JSON; 400 with Confluent's shape when it is not.
json parse_body(const http::request& request);

// One REST request's view: the in-process Kafka calls, the links to the
// other brokers (group requests go to their coordinator: group_call.h) and
// the base URL answers link to (from the Host header, as Confluent builds
// "self" links).
struct context {
    kafka_call& kafka;
    std::string base;  // "http://host:port"
    int32_t node_id = -1;  // this broker's
    peer_links* peers = nullptr;  // null: every group is answered here

    // Metadata for `topics` (nullopt: all), never auto-creating.
    awaitable<protocol::messages::metadata_response> metadata(std::optional<std::vector<std::string>> topics);
    // The cluster id; 404 (Confluent: 40401 cluster not found) unless `id` is it.
    awaitable<protocol::messages::metadata_response> cluster(const std::string& id,
                                                             std::optional<std::vector<std::string>> topics = {});
    // The broker coordinating `group` (FindCoordinator, which also creates
    // __consumer_offsets on first use, as a client's would), waiting while
    // none is available until `deadline` (then Confluent's retriable error).
    awaitable<broker_address> find_coordinator(const std::string& group,
                                               std::chrono::steady_clock::time_point deadline);
    json self(const std::string& path) const;  // {"self": base + path, ...}
    json related(const std::string& path) const { return json{{"related", base + path}}; }
};

// Topic lists for metadata calls. (Built outside the coroutines: GCC 12
// miscompiles braced initializer lists in co_await arguments.)
std::optional<std::vector<std::string>> one_topic(const std::string& name);
std::optional<std::vector<std::string>> no_topics();

using path_params = std::vector<std::string>;
using rest_handler = std::function<awaitable<http::response>(context&, const http::request&, const path_params&)>;

// "/v3/clusters/{}/topics/{}" style patterns: `{}` matches one segment.
struct route {
    std::string method;
    std::string pattern;
    rest_handler handler;
};

void add_v3_cluster_routes(std::vector<route>& routes);
void add_v3_topic_routes(std::vector<route>& routes);
void add_v3_group_routes(std::vector<route>& routes);
void add_v3_produce_routes(std::vector<route>& routes);

}  // namespace strata::rest
