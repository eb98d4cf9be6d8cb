// Record batches and legacy message sets captured from real clients
// (tests/golden/batches/*.bin, produced by tests/golden/capture/), checked
// against the field-by-field decoding stored beside each capture (*.json).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "strata/protocol/legacy_records.h"
#include "strata/protocol/record_batch.h"

namespace strata::protocol {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path golden_dir() { return fs::path(STRATA_SOURCE_DIR) / "tests" / "golden" / "batches"; }

std::vector<uint8_t> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string hex(bytes_view b) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (uint8_t c : b) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// The JSON form of a nullable byte field: null or {"hex": ...}.
std::string expected_hex(const json& field) { return field.is_null() ? "<null>" : field.at("hex").get<std::string>(); }
std::string actual_hex(const std::optional<bytes_view>& b) { return b ? hex(*b) : "<null>"; }

struct golden_case {
    std::string name;
    std::vector<uint8_t> bytes;
    json expected;
};

std::vector<golden_case> golden_cases() {
    std::vector<golden_case> cases;
    if (!fs::is_directory(golden_dir())) return cases;
    for (const auto& entry : fs::directory_iterator(golden_dir())) {
        if (entry.path().extension() != ".json") continue;
        auto bin = entry.path();
        bin.replace_extension(".bin");
        std::ifstream in(entry.path());
        cases.push_back({entry.path().stem().string(), read_file(bin), json::parse(in)});
    }
    std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return cases;
}

void check_v2(const golden_case& c) {
    record_batch_sequence batches(c.bytes);
    for (const auto& e : c.expected.at("entries")) {
        auto next = batches.next();
        ASSERT_TRUE(next && next.value()) << "missing batch";
        const auto& b = *next.value();
        EXPECT_EQ(b.base_offset(), e.at("base_offset").get<int64_t>());
        EXPECT_EQ(b.batch_length(), e.at("batch_length").get<int32_t>());
        EXPECT_EQ(b.partition_leader_epoch(), e.at("partition_leader_epoch").get<int32_t>());
        EXPECT_EQ(b.crc(), e.at("crc").get<uint32_t>());
        EXPECT_EQ(b.attributes(), e.at("attributes").get<int16_t>());
        EXPECT_EQ(compression_codec_name(b.compression()), e.at("compression").get<std::string>());
        EXPECT_EQ(b.is_transactional(), e.at("is_transactional").get<bool>());
        EXPECT_EQ(b.is_control(), e.at("is_control").get<bool>());
        EXPECT_EQ(b.last_offset_delta(), e.at("last_offset_delta").get<int32_t>());
        EXPECT_EQ(b.base_timestamp(), e.at("base_timestamp").get<int64_t>());
        EXPECT_EQ(b.max_timestamp(), e.at("max_timestamp").get<int64_t>());
        EXPECT_EQ(b.producer_id(), e.at("producer_id").get<int64_t>());
        EXPECT_EQ(b.producer_epoch(), e.at("producer_epoch").get<int16_t>());
        EXPECT_EQ(b.base_sequence(), e.at("base_sequence").get<int32_t>());
        EXPECT_EQ(b.record_count(), e.at("record_count").get<int32_t>());

        batch_validation_options strict;
        strict.verify_records = true;
        strict.require_keys = true;
        auto valid = validate_batch(b, strict);
        ASSERT_TRUE(valid) << record_error_message(valid.error());

        auto decoded = decode_records(b, 1 << 20);
        ASSERT_TRUE(decoded) << record_error_message(decoded.error());
        const auto& expected_records = e.at("records");
        ASSERT_EQ(decoded.value().records.size(), expected_records.size());
        for (size_t i = 0; i < expected_records.size(); ++i) {
            const auto& want = expected_records[i];
            const auto& got = decoded.value().records[i];
            EXPECT_EQ(got.attributes, want.at("attributes").get<int8_t>());
            EXPECT_EQ(got.timestamp_delta, want.at("timestamp_delta").get<int64_t>());
            EXPECT_EQ(got.offset_delta, want.at("offset_delta").get<int32_t>());
            EXPECT_EQ(actual_hex(got.key), expected_hex(want.at("key")));
            EXPECT_EQ(actual_hex(got.value), expected_hex(want.at("value")));
            const auto& headers = want.at("headers");
            ASSERT_EQ(got.headers.size(), headers.size());
            for (size_t h = 0; h < headers.size(); ++h) {
                EXPECT_EQ(got.headers[h].key, headers[h].at("key").get<std::string>());
                EXPECT_EQ(actual_hex(got.headers[h].value), expected_hex(headers[h].at("value")));
            }
        }
    }
    auto end = batches.next();
    ASSERT_TRUE(end);
    EXPECT_FALSE(end.value().has_value());

    produce_validation_options produce;
    produce.verify_records = true;
    EXPECT_TRUE(validate_produce_records(c.bytes, produce));
}

void check_legacy(const golden_case& c) {
    // The flattened messages the capture shows: wrappers replaced by their inner messages.
    std::vector<json> expected;
    for (const auto& e : c.expected.at("entries")) {
        if (e.contains("inner")) {
            for (const auto& inner : e.at("inner")) expected.push_back(inner);
        } else {
            expected.push_back(e);
        }
    }
    auto decoded = decode_legacy_message_set(c.bytes, 1 << 20);
    ASSERT_TRUE(decoded) << record_error_message(decoded.error());
    const auto& messages = decoded.value().messages;
    ASSERT_EQ(messages.size(), expected.size());
    for (size_t i = 0; i < messages.size(); ++i) {
        EXPECT_EQ(messages[i].magic, expected[i].at("magic").get<int8_t>());
        EXPECT_EQ(messages[i].offset, expected[i].at("offset").get<int64_t>());
        EXPECT_EQ(actual_hex(messages[i].key), expected_hex(expected[i].at("key")));
        EXPECT_EQ(actual_hex(messages[i].value), expected_hex(expected[i].at("value")));
        if (expected[i].contains("timestamp")) {
            EXPECT_EQ(messages[i].timestamp, expected[i].at("timestamp").get<int64_t>());
        }
    }

    auto converted = convert_legacy_to_v2(c.bytes);
    ASSERT_TRUE(converted) << record_error_message(converted.error());
    produce_validation_options produce;
    produce.verify_records = true;
    auto summary = validate_produce_records(converted.value(), produce);
    ASSERT_TRUE(summary) << record_error_message(summary.error());
    EXPECT_EQ(summary.value().record_count, static_cast<int64_t>(expected.size()));
    auto records = decode_records(record_batch_view::from(converted.value()).value(), 1 << 20).value();
    for (size_t i = 0; i < messages.size(); ++i) {
        EXPECT_EQ(actual_hex(records.records[i].value), expected_hex(expected[i].at("value")));
    }
}

TEST(record_batch_golden, real_client_captures) {
    auto cases = golden_cases();
    if (cases.empty()) GTEST_SKIP() << "no captures in " << golden_dir();
    size_t checked = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        ASSERT_EQ(c.bytes.size(), c.expected.at("size").get<size_t>());
        const auto& first = c.expected.at("entries").at(0);
        if (first.at("format") == "record_batch") {
            check_v2(c);
        } else if (first.at("magic") == 0 && first.at("compression") == "lz4") {
            // kafka-python with api_version < 0.10 frames LZ4 with the
            // pre-KIP-57 header checksum, which this broker does not accept.
            auto decoded = decode_legacy_message_set(c.bytes, 1 << 20);
            ASSERT_FALSE(decoded);
            EXPECT_EQ(decoded.error(), record_error::decompression_failed);
        } else {
            check_legacy(c);
        }
        ++checked;
    }
    EXPECT_GE(checked, 30u);
}

}  // namespace
}  // namespace strata::protocol
