#include "strata/protocol/legacy_records.h"

#include <gtest/gtest.h>

#include <string>

#include <zlib.h>

#include "record_bytes.h"

namespace strata::protocol {
namespace {

using detail::append_be;

bytes_view bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string text_of(const std::optional<bytes_view>& b) {
    return b ? std::string(reinterpret_cast<const char*>(b->data()), b->size()) : std::string("<null>");
}

void append_legacy_bytes(std::vector<uint8_t>& out, const std::optional<bytes_view>& b) {
    if (!b) {
        append_be<int32_t>(out, -1);
        return;
    }
    append_be<int32_t>(out, static_cast<int32_t>(b->size()));
    out.insert(out.end(), b->begin(), b->end());
}

// One message set entry, written from the format description.
void append_message(std::vector<uint8_t>& set, int64_t offset, int8_t magic, int8_t attributes, int64_t timestamp,
                    std::optional<bytes_view> key, std::optional<bytes_view> value) {
    std::vector<uint8_t> m = {0, 0, 0, 0, static_cast<uint8_t>(magic), static_cast<uint8_t>(attributes)};
    if (magic == 1) append_be<int64_t>(m, timestamp);
    append_legacy_bytes(m, key);
    append_legacy_bytes(m, value);
    detail::store_be<uint32_t>(m.data(), static_cast<uint32_t>(crc32(0, m.data() + 4, static_cast<uInt>(m.size() - 4))));
    append_be<int64_t>(set, offset);
    append_be<int32_t>(set, static_cast<int32_t>(m.size()));
    set.insert(set.end(), m.begin(), m.end());
}

std::vector<uint8_t> plain_set(int8_t magic, int n) {
    std::vector<uint8_t> set;
    for (int i = 0; i < n; ++i) {
        std::string key = "key-" + std::to_string(i);
        std::string value = "value-" + std::to_string(i);
        append_message(set, i, magic, 0, 1000 + i, bytes_of(key), i == 1 ? std::nullopt : std::optional(bytes_of(value)));
    }
    return set;
}

std::vector<uint8_t> wrapped_set(int8_t magic, compression_codec codec, int n, bool log_append_time = false) {
    auto inner = plain_set(magic, n);
    std::vector<uint8_t> packed;
    EXPECT_TRUE(compress(codec, inner, packed));
    std::vector<uint8_t> set;
    auto attributes = static_cast<int8_t>(static_cast<int>(codec) | (log_append_time ? 0x08 : 0));
    append_message(set, n - 1, magic, attributes, 9999, std::nullopt, bytes_view(packed));
    return set;
}

TEST(legacy_records, decodes_plain_sets_of_both_magics) {
    for (int8_t magic : {0, 1}) {
        auto set = plain_set(magic, 3);
        auto decoded = decode_legacy_message_set(set, 1 << 20);
        ASSERT_TRUE(decoded) << record_error_message(decoded.error());
        const auto& d = decoded.value();
        EXPECT_EQ(d.magic, magic);
        EXPECT_EQ(d.compression, compression_codec::none);
        ASSERT_EQ(d.messages.size(), 3u);
        EXPECT_EQ(text_of(d.messages[0].key), "key-0");
        EXPECT_EQ(text_of(d.messages[1].value), "<null>");
        EXPECT_EQ(text_of(d.messages[2].value), "value-2");
        EXPECT_EQ(d.messages[2].offset, 2);
        EXPECT_EQ(d.messages[2].timestamp, magic == 1 ? 1002 : -1);
    }
}

TEST(legacy_records, unwraps_every_codec) {
    for (auto codec : {compression_codec::gzip, compression_codec::snappy, compression_codec::lz4}) {
        for (int8_t magic : {0, 1}) {
            SCOPED_TRACE(std::string(compression_codec_name(codec)) + " magic " + std::to_string(magic));
            auto set = wrapped_set(magic, codec, 5);
            auto decoded = decode_legacy_message_set(set, 1 << 20);
            ASSERT_TRUE(decoded) << record_error_message(decoded.error());
            EXPECT_EQ(decoded.value().compression, codec);
            ASSERT_EQ(decoded.value().messages.size(), 5u);
            EXPECT_EQ(text_of(decoded.value().messages[4].key), "key-4");
            EXPECT_EQ(decoded.value().messages[4].offset, 4);  // relative, as sent
        }
    }
}

TEST(legacy_records, log_append_time_wrapper_overrides_inner_timestamps) {
    auto set = wrapped_set(1, compression_codec::gzip, 3, true);
    auto decoded = decode_legacy_message_set(set, 1 << 20);
    ASSERT_TRUE(decoded);
    for (const auto& m : decoded.value().messages) {
        EXPECT_EQ(m.timestamp, 9999);
        EXPECT_EQ(m.timestamp_kind, timestamp_type::log_append_time);
    }
    auto converted = convert_legacy_to_v2(set);
    ASSERT_TRUE(converted);
    auto batch = record_batch_view::from(converted.value()).value();
    EXPECT_EQ(batch.timestamp_kind(), timestamp_type::log_append_time);
    EXPECT_EQ(batch.max_timestamp(), 9999);
}

TEST(legacy_records, converts_to_one_valid_v2_batch) {
    struct shape {
        int8_t magic;
        std::optional<compression_codec> codec;
    };
    for (auto s : {shape{0, std::nullopt}, shape{1, std::nullopt}, shape{0, compression_codec::gzip},
                   shape{1, compression_codec::snappy}, shape{1, compression_codec::lz4}}) {
        auto set = s.codec ? wrapped_set(s.magic, *s.codec, 4) : plain_set(s.magic, 4);
        auto converted = convert_legacy_to_v2(set);
        ASSERT_TRUE(converted) << record_error_message(converted.error());
        auto batch = record_batch_view::from(converted.value());
        ASSERT_TRUE(batch);
        EXPECT_EQ(batch.value().compression(), s.codec.value_or(compression_codec::none));
        EXPECT_EQ(batch.value().record_count(), 4);
        EXPECT_EQ(batch.value().producer_id(), -1);
        batch_validation_options strict;
        strict.verify_records = true;
        ASSERT_TRUE(validate_batch(batch.value(), strict));
        auto records = decode_records(batch.value(), 1 << 20).value();
        for (int i = 0; i < 4; ++i) {
            const auto& r = records.records[static_cast<size_t>(i)];
            EXPECT_EQ(r.offset_delta, i);
            EXPECT_EQ(text_of(r.key), "key-" + std::to_string(i));
            EXPECT_EQ(text_of(r.value), i == 1 ? "<null>" : "value-" + std::to_string(i));
            EXPECT_EQ(batch.value().base_timestamp() + r.timestamp_delta, s.magic == 1 ? 1000 + i : -1);
        }
    }
    // The codec can be chosen.
    legacy_conversion_options options;
    options.compression = compression_codec::zstd;
    auto zstd = convert_legacy_to_v2(wrapped_set(1, compression_codec::gzip, 2), options);
    ASSERT_TRUE(zstd);
    EXPECT_EQ(record_batch_view::from(zstd.value()).value().compression(), compression_codec::zstd);
}

record_error error_of(const std::vector<uint8_t>& set, size_t max = 1 << 20) {
    auto r = decode_legacy_message_set(set, max);
    EXPECT_FALSE(r);
    return r ? record_error::no_batches : r.error();
}

TEST(legacy_records, rejects_bad_sets) {
    auto good = plain_set(1, 2);

    auto bad = good;
    bad[30] ^= 1;  // inside the first message's key
    EXPECT_EQ(error_of(bad), record_error::crc_mismatch);

    bad = good;
    bad.pop_back();
    EXPECT_EQ(error_of(bad), record_error::truncated);
    bad.resize(5);
    EXPECT_EQ(error_of(bad), record_error::truncated);

    bad = good;
    detail::store_be<int32_t>(bad.data() + 8, 13);
    EXPECT_EQ(error_of(bad), record_error::batch_too_small);

    std::vector<uint8_t> mixed = plain_set(0, 1);
    auto v1 = plain_set(1, 1);
    mixed.insert(mixed.end(), v1.begin(), v1.end());
    EXPECT_EQ(error_of(mixed), record_error::mixed_magic);

    std::vector<uint8_t> zstd;
    append_message(zstd, 0, 1, 4, 0, std::nullopt, bytes_of("x"));
    EXPECT_EQ(error_of(zstd), record_error::unknown_compression);

    std::vector<uint8_t> null_wrapper;
    append_message(null_wrapper, 0, 1, 1, 0, std::nullopt, std::nullopt);
    EXPECT_EQ(error_of(null_wrapper), record_error::malformed_message);

    std::vector<uint8_t> empty_inner, empty_wrapper;
    EXPECT_TRUE(compress(compression_codec::gzip, empty_inner, empty_inner));
    append_message(empty_wrapper, 0, 1, 1, 0, std::nullopt, bytes_view(empty_inner));
    EXPECT_EQ(error_of(empty_wrapper), record_error::no_batches);

    auto inner_wrapper = wrapped_set(1, compression_codec::gzip, 2);
    std::vector<uint8_t> packed, nested;
    EXPECT_TRUE(compress(compression_codec::gzip, inner_wrapper, packed));
    append_message(nested, 0, 1, 1, 0, std::nullopt, bytes_view(packed));
    EXPECT_EQ(error_of(nested), record_error::nested_compression);

    std::vector<uint8_t> garbage;
    append_message(garbage, 0, 0, 2, 0, std::nullopt, bytes_of("not snappy at all"));
    EXPECT_EQ(error_of(garbage), record_error::decompression_failed);

    // A key length running past the message, under a valid CRC.
    std::vector<uint8_t> liar;
    append_message(liar, 0, 0, 0, 0, bytes_of("k"), bytes_of("v"));
    detail::store_be<int32_t>(liar.data() + 12 + 6, 1000);
    detail::store_be<uint32_t>(liar.data() + 12,
                               static_cast<uint32_t>(crc32(0, liar.data() + 16, static_cast<uInt>(liar.size() - 16))));
    EXPECT_EQ(error_of(liar), record_error::malformed_message);

    EXPECT_EQ(convert_legacy_to_v2({}).error(), record_error::no_batches);
}

TEST(legacy_records, decompression_is_bounded_across_wrappers) {
    std::vector<uint8_t> set;
    for (int w = 0; w < 3; ++w) {
        auto one = wrapped_set(1, compression_codec::gzip, 50);
        set.insert(set.end(), one.begin(), one.end());
    }
    size_t inner_size = plain_set(1, 50).size();
    EXPECT_TRUE(decode_legacy_message_set(set, 3 * inner_size));
    EXPECT_EQ(error_of(set, 3 * inner_size - 1), record_error::decompressed_too_large);
}

}  // namespace
}  // namespace strata::protocol
