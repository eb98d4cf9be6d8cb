#include "produce_records.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "records.h"

namespace strata::rest {
namespace {

// What a parse gave, comparable: the record's fields, or the error.
struct outcome {
    bool failed = false;
    int code = 0;
    unsigned status = 0;
    std::string message;
    int32_t partition = 0;
    int64_t timestamp = 0;
    data_type key_type{}, value_type{};
    std::optional<std::vector<uint8_t>> key, value;
    std::vector<std::pair<std::string, std::optional<std::vector<uint8_t>>>> headers;
    bool operator==(const outcome&) const = default;
};

std::optional<std::vector<uint8_t>> copy(const std::optional<protocol::bytes_view>& b) {
    if (!b) return std::nullopt;
    return std::vector<uint8_t>(b->begin(), b->end());
}

template <typename Parse>
outcome run(Parse&& parse) {
    outcome o;
    try {
        const parsed_record& r = parse();
        o.partition = r.partition;
        o.timestamp = r.timestamp;
        // The type is only reported with data.
        if (r.key) o.key_type = r.key_type;
        if (r.value) o.value_type = r.value_type;
        o.key = copy(r.key);
        o.value = copy(r.value);
        for (const auto& h : r.headers) o.headers.emplace_back(std::string(h.key), copy(h.value));
    } catch (const rest_error& e) {
        o.failed = true;
        o.code = e.code;
        o.status = e.status;
        o.message = e.what();
    } catch (const json::exception& e) {
        // The DOM path alone lets these through; parse() words them as the
        // proxy words them for a whole request.
        o.failed = true;
        o.code = 400;
        o.status = 400;
        o.message = std::string("Invalid request: ") + e.what();
    }
    return o;
}

// parse() (scanner first) and parse_dom() agree on `text`; returns whether
// the scanner answered.
bool agrees(const std::string& text) {
    record_parser fast, dom;
    const auto a = run([&]() -> const parsed_record& { return fast.parse(text, 1234); });
    const auto b = run([&]() -> const parsed_record& { return dom.parse_dom(text, 1234); });
    EXPECT_EQ(a, b) << text << "\nfast: " << a.message << "\ndom: " << b.message;
    return fast.last_was_fast();
}

TEST(produce_records, scanner_takes_the_plain_shapes) {
    const char* plain[] = {
        R"({"value": {"type": "BINARY", "data": "AAECAw=="}})",
        R"({"partition_id": 2, "timestamp": 1700000000000, "key": {"type": "STRING", "data": "user-7"},
            "value": {"type": "binary", "data": "/+8_-w"}, "headers": [{"name": "trace", "value": "YWJj"},
            {"name": "empty", "value": null}, {"value": "", "name": "e2"}]})",
        R"({"key": null, "value": null})",
        R"({})",
        R"( { "value" : { "data" : "eA==" , "type" : "Binary" } , "partition_id" : null , "headers" : [ ] } )",
        R"({"value": {"type": "STRING"}, "key": {}, "headers": null})",
        R"({"partition_id": -1, "timestamp": -5, "value": {"type": "STRING", "data": ""}})",
    };
    for (const char* text : plain) EXPECT_TRUE(agrees(text)) << text;
}

TEST(produce_records, everything_else_goes_to_the_dom_path_with_the_same_answer) {
    const char* other[] = {
        // JSON data, escapes, non-ASCII, unknown members, duplicates.
        R"({"value": {"type": "JSON", "data": {"amount": 12, "ok": true}}})",
        R"({"value": {"data": "no type is JSON"}})",
        R"({"value": {"type": "STRING", "data": "tab\there \"quoted\" \u00e9"}})",
        "{\"value\": {\"type\": \"STRING\", \"data\": \"caf\xc3\xa9\"}}",
        R"({"value": {"type": "STRING", "data": "a"}, "extra": [1, {"x": null}]})",
        R"({"partition_id": 1, "partition_id": 2})",
        R"({"value": {"type": "STRING", "data": "a", "data": "b"}})",
        R"({"headers": [{"name": "n", "value": "YQ==", "other": 1}]})",
        // Numbers that are not plain integers.
        R"({"partition_id": 1.0})",
        R"({"partition_id": 99999999999})",
        R"({"partition_id": "3"})",
        R"({"timestamp": 1.5e12})",
        R"({"timestamp": null, "value": null})",
        R"({"timestamp": 123456789012345678901})",
        R"({"partition_id": 01})",
        // Errors: each must be worded as before.
        R"({"value": {"type": "BINARY", "data": "!!not base64!!"}})",
        R"({"value": {"type": "BINARY", "data": "A"}})",
        R"({"value": {"type": "BINARY", "data": 5}})",
        R"({"value": {"type": "STRING", "data": 5}})",
        R"({"value": {"type": "AVRO", "data": "x"}})",
        R"({"value": {"type": "AVRO"}})",
        R"({"value": {"type": 5, "data": "x"}})",
        R"({"value": {"type": null, "data": "x"}})",
        R"({"value": "plain"})",
        R"({"headers": {"name": "x"}})",
        R"({"headers": [{"value": "YQ=="}]})",
        R"({"headers": [{}]})",
        R"({"headers": [{"name": 5}]})",
        R"({"headers": [{"name": "n", "value": 5}]})",
        R"({"headers": [{"name": "n", "value": "***"}]})",
        R"([1, 2])",
        R"("text")",
        R"({"value": {"type": "JSON", "data": }})",
        R"({"value": nul})",
        R"({"value": null)",
        R"({"value": null} x)",
        R"({"value": null,})",
        R"({,})",
        "",
    };
    for (const char* text : other) EXPECT_FALSE(agrees(text)) << text;
}

// Random edits of plain records: wherever the scanner answers, the DOM path
// answers the same; the rest it leaves to the DOM path.
TEST(produce_records, random_edits_agree) {
    const std::string seeds[] = {
        R"({"partition_id": 2, "timestamp": 1700000000000, "key": {"type": "STRING", "data": "k"},
            "value": {"type": "BINARY", "data": "AAECAwQ="}, "headers": [{"name": "h", "value": "YQ=="}]})",
        R"({"value": {"type": "STRING", "data": "v"}, "key": null, "headers": [{"name": "x", "value": null}]})",
    };
    const std::string alphabet = "{}[]\":,. 0123456789-eE+/=_anulltrueAZaz\\\t\x01\xc3";
    std::mt19937 rng(17);
    int fast = 0;
    for (int round = 0; round < 10000; ++round) {
        std::string text = seeds[size_t(round) % 2];
        const int edits = 1 + int(rng() % 3);
        for (int e = 0; e < edits; ++e) {
            const size_t at = rng() % (text.size() + 1);
            switch (rng() % 3) {
                case 0:
                    if (at < text.size()) text.erase(at, 1);
                    break;
                case 1: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
                default:
                    if (at < text.size()) text[at] = alphabet[rng() % alphabet.size()];
            }
        }
        fast += agrees(text) ? 1 : 0;
        if (HasFailure()) return;
    }
    EXPECT_GT(fast, 300);  // many edits leave the text plain (inside strings, spaces)
}

// The reports are nlohmann's dump of the objects the proxy built before,
// byte for byte.
TEST(produce_records, reports_match_nlohmann) {
    auto reference = [](const std::string& cluster, const std::string& topic, const delivery& d) {
        if (d.error) return json{{"error_code", d.error->code}, {"message", d.error->what()}}.dump();
        auto field = [](data_type t, int64_t size) {
            return size < 0 ? json(nullptr) : json{{"type", std::string(data_type_name(t))}, {"size", size_t(size)}};
        };
        return json{{"error_code", 200},
                    {"cluster_id", cluster},
                    {"topic_name", topic},
                    {"partition_id", d.partition},
                    {"offset", d.offset},
                    {"timestamp", iso_time(d.log_append_time >= 0 ? d.log_append_time : d.timestamp)},
                    {"key", field(d.key_type, d.key_size)},
                    {"value", field(d.value_type, d.value_size)}}
            .dump();
    };
    std::vector<delivery> cases(5);
    cases[0] = {std::nullopt, 3, 1700000000123, data_type::string, data_type::binary, 6, 1024, 42, -1};
    cases[1] = {std::nullopt, 0, 1700000000123, data_type::json, data_type::json, -1, 0, 0, 1700000001999};
    cases[2] = {rest_error(400, 400, "value: data is not valid base64"), -1, 0, {}, {}, -1, -1, -1, -1};
    cases[3] = {rest_error(413, 413, "MESSAGE_TOO_LARGE: \"quoted\" \xff"), 1, 5, {}, {}, 1, 1, -1, -1};
    cases[4] = {std::nullopt, 7, 5, data_type::binary, data_type::string, 0, -1, 9000000000, -1};
    for (const auto& [cluster, topic] : {std::pair<std::string, std::string>{"AbC-12_x", "t.1"}, {"c\"q", "topic"}}) {
        report_writer writer(cluster, topic);
        for (const auto& d : cases) {
            std::string out;
            writer.write(out, d);
            std::string want;
            if (d.error)
                want = json{{"error_code", d.error->code}, {"message", d.error->what()}}.dump(
                    -1, ' ', false, json::error_handler_t::replace);
            else
                want = reference(cluster, topic, d);
            EXPECT_EQ(out, want);
        }
    }
}

TEST(produce_records, base64_append_keeps_the_buffer_on_failure) {
    std::vector<uint8_t> out{1, 2};
    EXPECT_TRUE(base64_decode_append("AAE=", out));
    EXPECT_EQ(out, (std::vector<uint8_t>{1, 2, 0, 1}));
    EXPECT_FALSE(base64_decode_append("AAE*AAAA", out));
    EXPECT_FALSE(base64_decode_append("A", out));
    EXPECT_FALSE(base64_decode_append("AA=A", out));
    EXPECT_EQ(out, (std::vector<uint8_t>{1, 2, 0, 1}));
}

}  // namespace
}  // namespace strata::rest
