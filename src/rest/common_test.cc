#include "common.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::rest {
namespace {

std::span<const uint8_t> bytes_of(std::string_view text) {
    return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

TEST(rest_common, base64_round_trips_every_tail_length) {
    EXPECT_EQ(base64_encode(bytes_of("")), "");
    EXPECT_EQ(base64_encode(bytes_of("f")), "Zg==");
    EXPECT_EQ(base64_encode(bytes_of("fo")), "Zm8=");
    EXPECT_EQ(base64_encode(bytes_of("foo")), "Zm9v");
    EXPECT_EQ(base64_encode(bytes_of("foobar")), "Zm9vYmFy");
    std::vector<uint8_t> all;
    for (int i = 0; i < 256; ++i) all.push_back(uint8_t(i));
    for (size_t n = 0; n <= all.size(); n += 37) {
        const std::span<const uint8_t> part(all.data(), n);
        auto back = base64_decode(base64_encode(part));
        ASSERT_TRUE(back);
        EXPECT_EQ(*back, std::vector<uint8_t>(part.begin(), part.end()));
    }
    // The URL-safe alphabet and unpadded text are accepted too.
    EXPECT_EQ(base64_decode("_-8"), (std::vector<uint8_t>{0xff, 0xef}));
    EXPECT_FALSE(base64_decode("***"));
    EXPECT_FALSE(base64_decode("A"));
}

// Kafka's own vectors (clients/src/test/.../UtilsTest.java, testMurmur2),
// made positive as its default partitioner does (toPositive).
TEST(rest_common, murmur2_matches_kafka) {
    const std::pair<const char*, int32_t> cases[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (const auto& [key, expected] : cases) EXPECT_EQ(murmur2(bytes_of(key)), expected & 0x7fffffff) << key;
}

TEST(rest_common, splits_concatenated_objects) {
    auto pieces = split_concatenated(R"( {"a":"}{"} {"b":[1,{"c":2}]}
{"d":"\"}"})");
    ASSERT_EQ(pieces.size(), 3u);
    EXPECT_EQ(pieces[0], R"({"a":"}{"})");
    EXPECT_EQ(pieces[1], R"({"b":[1,{"c":2}]})");
    EXPECT_EQ(pieces[2], R"({"d":"\"}"})");
    EXPECT_TRUE(split_concatenated("  \n ").empty());
    // Garbage and cut-off objects come back as pieces for the parser to refuse.
    pieces = split_concatenated(R"({"a":1} xyz {"b":2})");
    ASSERT_EQ(pieces.size(), 2u);
    EXPECT_EQ(pieces[1], R"(xyz {"b":2})");
    pieces = split_concatenated(R"({"a":1}{"b":)");
    ASSERT_EQ(pieces.size(), 2u);
    EXPECT_EQ(pieces[1], R"({"b":)");
    pieces = split_concatenated("}{");
    ASSERT_EQ(pieces.size(), 1u);
    EXPECT_EQ(pieces[0], "}{");
}

// The word-at-a-time skip lands where a byte-by-byte scan does, wherever
// the byte sits relative to an 8-byte word.
TEST(rest_common, skip_plain_string_bytes_finds_every_special_byte) {
    for (const int special : {int('"'), int('\\'), 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xff}) {
        for (size_t length = 0; length < 40; ++length) {
            for (size_t at = 0; at <= length; ++at) {
                std::string text(length, 'A');
                for (size_t k = 0; k < length; ++k) text[k] = char(" ~!Az09+/="[k % 10]);
                if (at < length) text[at] = char(special);
                const char* got = skip_plain_string_bytes(text.data(), text.data() + text.size());
                EXPECT_EQ(size_t(got - text.data()), at) << special << " " << length << " " << at;
            }
        }
    }
    // A splitter over long strings with escapes at every offset.
    for (size_t at = 0; at < 24; ++at) {
        std::string s(40, 'x');
        s.insert(at, "\\\"}{");
        const std::string body = "{\"a\":\"" + s + "\"} {\"b\":1}";
        const auto pieces = split_concatenated(body);
        ASSERT_EQ(pieces.size(), 2u) << body;
        EXPECT_EQ(pieces[1], "{\"b\":1}");
    }
}

TEST(rest_common, query_strings_are_decoded) {
    auto q = parse_query("offset=12&name=a%20b+c&flag");
    EXPECT_EQ(q["offset"], "12");
    EXPECT_EQ(q["name"], "a b c");
    EXPECT_EQ(q.count("flag"), 1u);
    EXPECT_THROW(parse_query("x=%zz"), rest_error);
}

TEST(rest_common, kafka_errors_map_to_confluent_codes) {
    auto code_of = [](int16_t kafka) {
        try {
            throw_kafka(kafka);
        } catch (const rest_error& e) {
            return std::pair<unsigned, int>(e.status, e.code);
        }
        return std::pair<unsigned, int>(0, 0);
    };
    EXPECT_EQ(code_of(3), (std::pair<unsigned, int>(404, 40403)));   // unknown_topic_or_partition
    EXPECT_EQ(code_of(36), (std::pair<unsigned, int>(400, 40002)));  // topic_already_exists
    EXPECT_EQ(code_of(17), (std::pair<unsigned, int>(400, 400)));    // invalid_topic_exception
    EXPECT_EQ(code_of(10), (std::pair<unsigned, int>(413, 413)));    // message_too_large
    EXPECT_EQ(code_of(29), (std::pair<unsigned, int>(403, 40301)));  // topic_authorization_failed
    EXPECT_EQ(code_of(-1), (std::pair<unsigned, int>(500, 50002)));  // unknown_server_error
    EXPECT_NO_THROW(check_kafka(0));
}

TEST(rest_common, a_kafka_error_without_a_message_says_what_the_code_means) {
    auto text_of = [](int16_t kafka, std::optional<std::string> message) {
        try {
            throw_kafka(kafka, message);
        } catch (const rest_error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    EXPECT_EQ(text_of(36, std::nullopt), "TOPIC_ALREADY_EXISTS: A topic with this name already exists.");
    EXPECT_EQ(text_of(36, "Topic 'x' already exists."), "TOPIC_ALREADY_EXISTS: Topic 'x' already exists.");
    EXPECT_EQ(text_of(3, std::nullopt), "This server does not host this topic-partition.");
}

}  // namespace
}  // namespace strata::rest
