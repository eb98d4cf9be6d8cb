#include "common.h"

#include "group_call.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cctype>
#include <cstring>
#include <chrono>

#include <fmt/format.h>

#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/find_coordinator_request.h"
#include "strata/protocol/messages/find_coordinator_response.h"
#include "strata/protocol/messages/metadata_request.h"

namespace strata::rest {

namespace pm = protocol::messages;

http::response json_response(unsigned status, const json& body, std::string content_type) {
    http::response out;
    out.status = status;
    out.content_type = std::move(content_type);
    // Messages may quote the client's bytes (a JSON parse error does), which
    // need not be UTF-8: replaced rather than failing the answer.
    out.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    return out;
}

http::response error_response(unsigned status, int code, std::string_view message) {
    return json_response(status, json{{"error_code", code}, {"message", message}});
}

http::response no_content() {
    http::response out;
    out.status = 204;
    out.content_type = "application/json";
    return out;
}

void throw_kafka(int16_t code, const std::optional<std::string>& message) {
    const auto error = kafka_error_from_code(code);
    const std::string name = error ? std::string(kafka_error_name(*error)) : fmt::format("error {}", code);
    // Without a message of the broker's own, Kafka's description of the code.
    const std::string text = message && !message->empty() ? fmt::format("{}: {}", name, *message)
                             : error                      ? fmt::format("{}: {}", name, kafka_error_message(*error))
                                                          : name;
    if (!error) throw rest_error(500, 50002, text);
    switch (*error) {
        case kafka_error::unknown_topic_or_partition:
            throw rest_error(404, 40403, message ? text : std::string(kafka_error_message(*error)));
        case kafka_error::topic_already_exists:
        case kafka_error::group_id_not_found:
            throw rest_error(*error == kafka_error::topic_already_exists ? 400 : 404,
                             *error == kafka_error::topic_already_exists ? 40002 : 404, text);
        case kafka_error::invalid_topic_exception:
        case kafka_error::invalid_partitions:
        case kafka_error::invalid_replication_factor:
        case kafka_error::invalid_replica_assignment:
        case kafka_error::invalid_config:
        case kafka_error::invalid_request:
        case kafka_error::policy_violation:
        case kafka_error::invalid_record:
        case kafka_error::corrupt_message:
        case kafka_error::unsupported_version:
            throw rest_error(400, 400, text);
        case kafka_error::message_too_large:
        case kafka_error::record_list_too_large:
            throw rest_error(413, 413, text);
        case kafka_error::non_empty_group:
            throw rest_error(409, 409, text);
        case kafka_error::topic_authorization_failed:
        case kafka_error::group_authorization_failed:
        case kafka_error::cluster_authorization_failed:
            throw rest_error(403, 40301, text);
        case kafka_error::throttling_quota_exceeded:
            throw rest_error(429, 429, text);
        default:
            throw rest_error(500, 50002, text);
    }
}

void check_kafka(int16_t code, const std::optional<std::string>& message) {
    if (code != 0) throw_kafka(code, message);
}

std::string base64_encode(std::span<const uint8_t> bytes) {
    static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        const uint32_t v = uint32_t(bytes[i]) << 16 | uint32_t(bytes[i + 1]) << 8 | bytes[i + 2];
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i < bytes.size()) {
        uint32_t v = uint32_t(bytes[i]) << 16;
        if (i + 1 < bytes.size()) v |= uint32_t(bytes[i + 1]) << 8;
        out += table[v >> 18];
        out += table[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

namespace {

// Sextet of each base64 character (both alphabets, as Confluent's decoder
// accepts either), 0xff for anything else.
constexpr std::array<uint8_t, 256> base64_table = [] {
    std::array<uint8_t, 256> t{};
    for (auto& v : t) v = 0xff;
    for (int i = 0; i < 26; ++i) {
        t[size_t('A' + i)] = uint8_t(i);
        t[size_t('a' + i)] = uint8_t(26 + i);
    }
    for (int i = 0; i < 10; ++i) t[size_t('0' + i)] = uint8_t(52 + i);
    t[size_t('+')] = t[size_t('-')] = 62;
    t[size_t('/')] = t[size_t('_')] = 63;
    return t;
}();

}  // namespace

bool base64_decode_append(std::string_view text, std::vector<uint8_t>& out) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (text.size() % 4 == 1) return false;
    const size_t start = out.size();
    out.resize(start + text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1));
    uint8_t* to = out.data() + start;
    const auto* from = reinterpret_cast<const uint8_t*>(text.data());
    const size_t whole = text.size() / 4;
    // Four characters to three bytes at a time; any invalid character sets
    // the high bits of `bad` (the table's 0xff).
    uint32_t bad = 0;
    for (size_t i = 0; i < whole; ++i, from += 4, to += 3) {
        const uint32_t a = base64_table[from[0]], b = base64_table[from[1]], c = base64_table[from[2]],
                       d = base64_table[from[3]];
        bad |= a | b | c | d;
        const uint32_t v = a << 18 | b << 12 | c << 6 | d;
        to[0] = uint8_t(v >> 16);
        to[1] = uint8_t(v >> 8);
        to[2] = uint8_t(v);
    }
    // A tail of 2 or 3 characters: 1 or 2 bytes (the leftover bits are
    // dropped, as a bit-at-a-time decoder drops them).
    const size_t tail = text.size() % 4;
    if (tail >= 2) {
        uint32_t v = 0;
        for (size_t k = 0; k < tail; ++k) {
            const uint32_t s = base64_table[from[k]];
            bad |= s;
            v |= (s & 63) << (18 - 6 * k);
        }
        to[0] = uint8_t(v >> 16);
        if (tail == 3) to[1] = uint8_t(v >> 8);
    }
    if (bad & 0x80) {
        out.resize(start);
        return false;
    }
    return true;
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
    std::vector<uint8_t> out;
    if (!base64_decode_append(text, out)) return std::nullopt;
    return out;
}

int32_t murmur2(std::span<const uint8_t> data) {
    const uint32_t m = 0x5bd1e995;
    const int r = 24;
    const auto length = uint32_t(data.size());
    uint32_t h = 0x9747b28c ^ length;
    const size_t blocks = data.size() / 4;
    for (size_t i = 0; i < blocks; ++i) {
        uint32_t k = uint32_t(data[i * 4]) | uint32_t(data[i * 4 + 1]) << 8 | uint32_t(data[i * 4 + 2]) << 16 |
                     uint32_t(data[i * 4 + 3]) << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const size_t tail = blocks * 4;
    switch (data.size() % 4) {
        case 3: h ^= uint32_t(data[tail + 2]) << 16; [[fallthrough]];
        case 2: h ^= uint32_t(data[tail + 1]) << 8; [[fallthrough]];
        case 1: h ^= data[tail]; h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return int32_t(h & 0x7fffffff);
}

std::string url_decode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] == '%' && i + 2 < text.size()) {
            out += char(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
    std::map<std::string, std::string> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        const auto eq = part.find('=');
        try {
            if (eq == std::string_view::npos) out[url_decode(part)] = "";
            else out[url_decode(part.substr(0, eq))] = url_decode(part.substr(eq + 1));
        } catch (const std::exception&) {
            throw rest_error(400, 400, "malformed query string");
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

const char* skip_plain_string_bytes(const char* p, const char* end) {
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    // Some byte of `x` is zero (nonzero exactly then; which bits are set
    // does not matter: the byte loop below finds the byte).
    auto zero_byte = [](uint64_t x) { return (x - ones) & ~x & highs; };
    while (end - p >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        const uint64_t special = zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\')) |
                                 zero_byte(w ^ (ones * 0x7f)) | (w & highs) |  // 0x7f, and 0x80 and above
                                 ((w - ones * 0x20) & ~w & highs);              // below 0x20
        if (special) break;
        p += 8;
    }
    for (; p < end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) return p;
    }
    return end;
}

std::vector<std::string_view> split_concatenated(std::string_view body) {
    std::vector<std::string_view> out;
    size_t start = 0;
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < body.size(); ++i) {
        if (in_string && !escaped) {
            // Straight to the next byte that matters inside a string.
            i = size_t(skip_plain_string_bytes(body.data() + i, body.data() + body.size()) - body.data());
            if (i >= body.size()) break;
        }
        const char c = body[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (depth == 0 && std::isspace(static_cast<unsigned char>(c))) continue;
        if (depth == 0) start = i;
        if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) out.push_back(body.substr(start, i + 1 - start));
        }
        if (depth <= 0 && c != '}' && c != ']') {
            // Not an object or array at the top level: the rest is one piece
            // (the parser names what is wrong with it).
            out.push_back(body.substr(i));
            return out;
        }
        if (depth < 0) {
            out.push_back(body.substr(i));
            return out;
        }
    }
    if (depth > 0 || in_string) out.push_back(body.substr(start));  // cut off: the parser refuses it
    return out;
}

json parse_body(const http::request& request) {
    if (request.body.empty()) throw rest_error(400, 400, "Request body is empty; a JSON object is expected");
    try {
        return json::parse(request.body);
    } catch (const json::parse_error& e) {
        throw rest_error(400, 400, fmt::format("Malformed JSON: {}", e.what()));
    }
}

awaitable<pm::metadata_response> context::metadata(std::optional<std::vector<std::string>> topics) {
    pm::metadata_request request;
    request.allow_auto_topic_creation = false;
    if (topics) {
        request.topics.emplace();
        for (auto& name : *topics) {
            pm::metadata_request::metadata_request_topic topic;
            topic.name = std::move(name);
            request.topics->push_back(std::move(topic));
        }
    } else {
        request.topics.reset();
    }
    // v12: topic ids, null for every topic, no auto-creation flag games.
    co_return co_await kafka.call<pm::metadata_response>(request, 12);
}

awaitable<pm::metadata_response> context::cluster(const std::string& id,
                                                  std::optional<std::vector<std::string>> topics) {
    auto response = co_await metadata(std::move(topics));
    if (response.cluster_id.value_or("") != id) throw rest_error(404, 404, fmt::format("Cluster {} not found", id));
    co_return response;
}

std::optional<std::vector<std::string>> one_topic(const std::string& name) {
    return std::vector<std::string>{name};
}

std::optional<std::vector<std::string>> no_topics() {
    return std::vector<std::string>();
}

awaitable<broker_address> context::find_coordinator(const std::string& group,
                                                    std::chrono::steady_clock::time_point deadline) {
    pm::find_coordinator_request request;
    request.key = group;
    request.key_type = 0;  // a group
    // COORDINATOR_NOT_AVAILABLE while __consumer_offsets is being created,
    // loaded or its leader elected: retried, as clients do.
    for (int attempt = 0;; ++attempt) {
        auto response = co_await kafka.call<pm::find_coordinator_response>(request, 3);
        if (response.error_code == 0) {
            broker_address found{response.node_id, response.host, response.port};
            co_return found;
        }
        if (!coordinator_error(response.error_code)) throw_kafka(response.error_code, response.error_message);
        if (std::chrono::steady_clock::now() >= deadline)
            throw_retriable(group, fmt::format("FindCoordinator answered {}{}{}",
                                               kafka_error_name(static_cast<kafka_error>(response.error_code)),
                                               response.error_message.value_or("").empty() ? "" : ": ",
                                               response.error_message.value_or("")));
        co_await backoff(attempt + 1);
    }
}

void throw_retriable(const std::string& group, const std::string& why) {
    throw rest_error(500, 50003,
                     fmt::format("Retriable Kafka error: no coordinator of consumer group {} answered within {} ms "
                                 "({}); retry the request",
                                 group, coordinator_wait.count(), why));
}

awaitable<void> backoff(int attempt) {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(std::min(50 * attempt, 500)));
    co_await timer.async_wait(boost::asio::use_awaitable);
}

json context::self(const std::string& path) const {
    return json{{"self", base + path}};
}

}  // namespace strata::rest
