#include "strata/protocol/record_batch.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>

#include "record_bytes.h"
#include "strata/protocol/crc32c.h"

namespace strata::protocol {
namespace {

bytes_view bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

std::string text_of(const std::optional<bytes_view>& b) {
    return b ? std::string(reinterpret_cast<const char*>(b->data()), b->size()) : std::string("<null>");
}

// Recomputes the CRC after a test edits covered bytes on purpose.
void fix_crc(std::vector<uint8_t>& batch) {
    detail::store_be(batch.data() + record_batch_view::crc_offset,
                     crc32c(bytes_view(batch).subspan(record_batch_view::attributes_offset)));
}

struct sample_record {
    int64_t timestamp;
    std::optional<std::string> key;
    std::optional<std::string> value;
    std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::vector<sample_record> sample_records() {
    return {
        {1700000000000, "key-0", "value-0", {}},
        {1700000000005, std::nullopt, "value without key", {{"trace", "abc"}, {"empty", std::nullopt}}},
        {1699999999990, "", std::nullopt, {{"", ""}}},  // earlier timestamp: negative delta
        {1700000000100, "key-3", std::string(3000, 'x'), {}},
    };
}

std::vector<uint8_t> build(const std::vector<sample_record>& records, record_batch_options options = {}) {
    record_batch_builder builder(options);
    for (const auto& r : records) {
        std::vector<record_header_view> headers;
        for (const auto& [k, v] : r.headers)
            headers.push_back({k, v ? std::optional<bytes_view>(bytes_of(*v)) : std::nullopt});
        builder.append(r.timestamp, r.key ? std::optional<bytes_view>(bytes_of(*r.key)) : std::nullopt,
                       r.value ? std::optional<bytes_view>(bytes_of(*r.value)) : std::nullopt, headers);
    }
    auto built = builder.build();
    EXPECT_TRUE(built.has_value());
    return built.value();
}

record_batch_view view_of(const std::vector<uint8_t>& batch) {
    auto view = record_batch_view::from(batch);
    EXPECT_TRUE(view.has_value());
    return view.value();
}

record_batch_options with_codec(compression_codec codec) {
    record_batch_options options;
    options.compression = codec;
    return options;
}

batch_validation_options verify_all() {
    batch_validation_options o;
    o.verify_records = true;
    return o;
}

constexpr compression_codec codecs[] = {compression_codec::none, compression_codec::gzip, compression_codec::snappy,
                                        compression_codec::lz4, compression_codec::zstd};

TEST(record_batch, builder_round_trips_every_codec) {
    auto records = sample_records();
    for (auto codec : codecs) {
        SCOPED_TRACE(compression_codec_name(codec));
        record_batch_options options;
        options.compression = codec;
        options.base_offset = 1000;
        options.partition_leader_epoch = 7;
        options.producer_id = 4242;
        options.producer_epoch = 3;
        options.base_sequence = 17;
        options.is_transactional = true;
        auto bytes = build(records, options);
        auto batch = view_of(bytes);

        EXPECT_EQ(batch.size(), bytes.size());
        EXPECT_EQ(batch.base_offset(), 1000);
        EXPECT_EQ(batch.batch_length(), static_cast<int32_t>(bytes.size() - 12));
        EXPECT_EQ(batch.partition_leader_epoch(), 7);
        EXPECT_EQ(batch.magic(), 2);
        EXPECT_EQ(batch.compression(), codec);
        EXPECT_EQ(batch.timestamp_kind(), timestamp_type::create_time);
        EXPECT_TRUE(batch.is_transactional());
        EXPECT_FALSE(batch.is_control());
        EXPECT_FALSE(batch.delete_horizon_ms().has_value());
        EXPECT_EQ(batch.last_offset_delta(), 3);
        EXPECT_EQ(batch.last_offset(), 1003);
        EXPECT_EQ(batch.base_timestamp(), 1700000000000);
        EXPECT_EQ(batch.max_timestamp(), 1700000000100);
        EXPECT_EQ(batch.producer_id(), 4242);
        EXPECT_EQ(batch.producer_epoch(), 3);
        EXPECT_EQ(batch.base_sequence(), 17);
        EXPECT_EQ(batch.record_count(), 4);
        EXPECT_TRUE(batch.crc_ok());
        if (codec != compression_codec::none) {
            EXPECT_LT(bytes.size(), 2000u);  // the 3000 x's shrink
        }

        ASSERT_TRUE(validate_batch(batch, verify_all()));
        auto decoded = decode_records(batch, 1 << 20);
        ASSERT_TRUE(decoded) << record_error_message(decoded.error());
        ASSERT_EQ(decoded.value().records.size(), records.size());
        for (size_t i = 0; i < records.size(); ++i) {
            const auto& got = decoded.value().records[i];
            EXPECT_EQ(got.offset_delta, static_cast<int32_t>(i));
            EXPECT_EQ(batch.base_timestamp() + got.timestamp_delta, records[i].timestamp);
            EXPECT_EQ(text_of(got.key), records[i].key.value_or("<null>"));
            EXPECT_EQ(text_of(got.value), records[i].value.value_or("<null>"));
            ASSERT_EQ(got.headers.size(), records[i].headers.size());
            for (size_t h = 0; h < got.headers.size(); ++h) {
                EXPECT_EQ(got.headers[h].key, records[i].headers[h].first);
                EXPECT_EQ(text_of(got.headers[h].value), records[i].headers[h].second.value_or("<null>"));
            }
        }
        // Moving the decoded records keeps them valid (they point into storage).
        decoded_records moved = std::move(decoded).value();
        EXPECT_EQ(text_of(moved.records[3].key), "key-3");

        std::vector<uint8_t> scratch;
        size_t seen = 0;
        ASSERT_TRUE(for_each_record(batch, 1 << 20, scratch, [&](const record_view& r) {
            EXPECT_EQ(r.offset_delta, static_cast<int32_t>(seen++));
        }));
        EXPECT_EQ(seen, records.size());
    }
}

// The layout of a one-record batch, written out byte by byte from the format
// description rather than by the code under test.
TEST(record_batch, encodes_the_documented_layout) {
    record_batch_options options;
    options.base_offset = 5;
    options.partition_leader_epoch = 2;
    record_batch_builder builder(options);
    builder.append(1000, bytes_of("k"), bytes_of("v"));
    auto built = builder.build();
    ASSERT_TRUE(built);
    std::vector<uint8_t> expected = {
        0, 0, 0, 0, 0, 0, 0, 5,              // baseOffset
        0, 0, 0, 58,                         // batchLength: 49 header bytes after it + 9 record bytes
        0, 0, 0, 2,                          // partitionLeaderEpoch
        2,                                   // magic
        0, 0, 0, 0,                          // crc, filled below
        0, 0,                                // attributes
        0, 0, 0, 0,                          // lastOffsetDelta
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,        // baseTimestamp 1000
        0, 0, 0, 0, 0, 0, 0x03, 0xe8,        // maxTimestamp 1000
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId -1
        0xff, 0xff,                          // producerEpoch -1
        0xff, 0xff, 0xff, 0xff,              // baseSequence -1
        0, 0, 0, 1,                          // recordCount
        0x10,                                // record length 8 (zig-zag 16)
        0,                                   // attributes
        0,                                   // timestampDelta 0
        0,                                   // offsetDelta 0
        0x02, 'k',                           // key length 1, key
        0x02, 'v',                           // value length 1, value
        0,                                   // no headers
    };
    fix_crc(expected);
    EXPECT_EQ(built.value(), expected);
}

TEST(record_batch, delete_horizon_and_explicit_offsets) {
    record_batch_options options;
    options.delete_horizon_ms = 5000;
    options.last_offset_delta = 9;  // the cleaner dropped offsets 8 and 9
    record_batch_builder builder(options);
    builder.append_at(0, 6000, bytes_of("a"), bytes_of("1"));
    builder.append_at(4, 6500, bytes_of("b"), std::nullopt);
    builder.append_at(7, 7000, bytes_of("c"), bytes_of("3"));
    EXPECT_THROW(builder.append_at(7, 7000, bytes_of("d"), bytes_of("4")), std::invalid_argument);
    auto bytes = builder.build().value();
    auto batch = view_of(bytes);
    EXPECT_TRUE(batch.has_delete_horizon());
    EXPECT_EQ(batch.delete_horizon_ms(), 5000);
    EXPECT_EQ(batch.base_timestamp(), 5000);
    EXPECT_EQ(batch.last_offset_delta(), 9);
    EXPECT_EQ(batch.record_count(), 3);

    // A client may not send this (count != lastOffsetDelta + 1) ...
    auto client = validate_batch(batch, verify_all());
    ASSERT_FALSE(client);
    EXPECT_EQ(client.error(), record_error::invalid_record_count);
    // ... but replication and recovery accept it.
    auto replica = verify_all();
    replica.from_client = false;
    EXPECT_TRUE(validate_batch(batch, replica));
    auto decoded = decode_records(batch, 1 << 20).value();
    EXPECT_EQ(decoded.records[1].offset_delta, 4);
    EXPECT_EQ(decoded.records[1].timestamp_delta, 1500);
}

TEST(record_batch, empty_and_control_batches_only_from_replication) {
    record_batch_options options;
    options.is_control = true;
    options.producer_id = 1;
    options.producer_epoch = 0;
    options.base_sequence = 0;
    auto control = build({{100, std::string("\0\0\0\1", 4), std::string("\0\0\0\0\0\0", 6), {}}}, options);
    auto empty_options = record_batch_options{};
    empty_options.last_offset_delta = 4;
    auto empty = build({}, empty_options);
    EXPECT_EQ(view_of(empty).record_count(), 0);
    EXPECT_EQ(view_of(empty).last_offset_delta(), 4);
    EXPECT_EQ(view_of(empty).size(), record_batch_view::header_size);

    auto c = validate_batch(view_of(control), verify_all());
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), record_error::control_batch_not_allowed);
    auto e = validate_batch(view_of(empty), verify_all());
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error(), record_error::invalid_record_count);

    auto replica = verify_all();
    replica.from_client = false;
    EXPECT_TRUE(validate_batch(view_of(control), replica));
    EXPECT_TRUE(validate_batch(view_of(empty), replica));
}

TEST(record_batch, client_header_checks) {
    auto bytes = build(sample_records());
    // A producer id without a base sequence.
    auto bad = bytes;
    detail::store_be<int64_t>(bad.data() + 43, 99);
    fix_crc(bad);
    auto r = validate_batch(view_of(bad), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::invalid_sequence);
    // lastOffsetDelta disagreeing with recordCount.
    bad = bytes;
    detail::store_be<int32_t>(bad.data() + 23, 7);
    fix_crc(bad);
    r = validate_batch(view_of(bad), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::invalid_record_count);
    // Offset deltas that skip, in a client batch.
    record_batch_builder skipping;
    skipping.append_at(0, 1, bytes_of("a"), bytes_of("b"));
    skipping.append_at(2, 1, bytes_of("a"), bytes_of("b"));
    auto skipped = skipping.build().value();
    detail::store_be<int32_t>(skipped.data() + 23, 1);  // make the header consistent
    fix_crc(skipped);
    r = validate_batch(view_of(skipped), verify_all());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::invalid_offset_delta);
    EXPECT_TRUE(validate_batch(view_of(skipped), {}));  // only seen when records are walked
}

TEST(record_batch, require_keys) {
    auto bytes = build(sample_records());  // record 1 has a null key
    batch_validation_options options;
    options.require_keys = true;
    auto r = validate_batch(view_of(bytes), options);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::missing_key);
    EXPECT_EQ(to_kafka_error(r.error()), kafka_error::invalid_record);
}

TEST(record_batch, every_single_byte_flip_is_caught_unless_outside_the_crc) {
    for (auto codec : {compression_codec::none, compression_codec::lz4}) {
        record_batch_options options;
        options.compression = codec;
        auto bytes = build(sample_records(), options);
        for (size_t i = 0; i < bytes.size(); ++i) {
            auto bad = bytes;
            bad[i] ^= 0x01;
            auto view = record_batch_view::from(bad);
            bool ok = view && validate_batch(view.value(), verify_all());
            bool outside_crc = i < 8 || (i >= 12 && i < 16);  // baseOffset, partitionLeaderEpoch
            EXPECT_EQ(ok, outside_crc) << compression_codec_name(codec) << " byte " << i;
        }
    }
}

TEST(record_batch, every_truncation_is_caught) {
    auto bytes = build(sample_records());
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
        auto view = record_batch_view::from(bytes_view(bytes).first(cut));
        ASSERT_FALSE(view) << cut;
        EXPECT_EQ(to_kafka_error(view.error()), kafka_error::corrupt_message) << cut;
    }
}

TEST(record_batch, framing_errors) {
    auto bytes = build(sample_records());
    auto bad = bytes;
    detail::store_be<int32_t>(bad.data() + 8, 10);  // shorter than the header
    EXPECT_EQ(record_batch_view::from(bad).error(), record_error::batch_too_small);
    detail::store_be<int32_t>(bad.data() + 8, -5);
    EXPECT_EQ(record_batch_view::from(bad).error(), record_error::batch_too_small);
    bad = bytes;
    bad[16] = 3;
    EXPECT_EQ(record_batch_view::from(bad).error(), record_error::unknown_magic);
    bad[16] = 1;
    EXPECT_EQ(record_batch_view::from(bad).error(), record_error::legacy_magic);
    bad = bytes;
    bad[22] |= 0x05;  // codec 5
    EXPECT_EQ(record_batch_view::from(bad).error(), record_error::unknown_compression);
    EXPECT_EQ(peek_magic(bytes), 2);
    EXPECT_FALSE(peek_magic(bytes_view(bytes).first(16)));
}

TEST(record_batch, record_level_errors_need_the_crc_to_pass_first) {
    auto bytes = build({{1, "k", "v", {}}, {2, "k", "v", {}}});
    // Record 0's key length claims 100 bytes.
    auto bad = bytes;
    ASSERT_EQ(bad[61 + 4], 0x02);
    bad[61 + 4] = 200;  // zig-zag 100
    fix_crc(bad);
    EXPECT_TRUE(validate_batch(view_of(bad), {}));  // header-only validation does not look
    auto r = validate_batch(view_of(bad), verify_all());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::malformed_record);
    EXPECT_EQ(to_kafka_error(r.error()), kafka_error::invalid_record);

    // More records claimed than present, and fewer.
    for (int32_t count : {3, 1}) {
        bad = bytes;
        detail::store_be<int32_t>(bad.data() + 57, count);
        detail::store_be<int32_t>(bad.data() + 23, count - 1);
        fix_crc(bad);
        r = validate_batch(view_of(bad), verify_all());
        ASSERT_FALSE(r) << count;
        EXPECT_EQ(r.error(), record_error::record_count_mismatch) << count;
    }
}

TEST(record_batch, hostile_counts_fail_before_allocating) {
    auto bytes = build({{1, "k", "v", {}}});
    auto bad = bytes;
    detail::store_be<int32_t>(bad.data() + 57, 0x7fffffff);
    detail::store_be<int32_t>(bad.data() + 23, 0x7ffffffe);
    fix_crc(bad);
    auto r = validate_batch(view_of(bad), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::record_count_mismatch);
    auto d = decode_records(view_of(bad), 1 << 20);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error(), record_error::record_count_mismatch);

    // A compressed batch claiming more records than the bound could hold.
    record_batch_options zstd;
    zstd.compression = compression_codec::zstd;
    auto compressed = build({{1, "k", "v", {}}}, zstd);
    detail::store_be<int32_t>(compressed.data() + 57, 0x7fffffff);
    detail::store_be<int32_t>(compressed.data() + 23, 0x7ffffffe);
    fix_crc(compressed);
    r = validate_batch(view_of(compressed), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::decompressed_too_large);

    // A record announcing a billion headers.
    record_batch_builder builder;
    builder.append(1, std::nullopt, std::nullopt);
    auto headers = builder.build().value();
    ASSERT_EQ(headers.back(), 0);  // header count
    headers.pop_back();
    detail::append_varint(headers, 1000000000);
    headers[61] = static_cast<uint8_t>(headers[61] + 8);  // record length: +4 bytes of varint (zig-zag)
    detail::store_be<int32_t>(headers.data() + 8, static_cast<int32_t>(headers.size() - 12));
    fix_crc(headers);
    r = validate_batch(view_of(headers), verify_all());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::malformed_record);
}

TEST(record_batch, decompression_is_bounded) {
    record_batch_options options;
    options.compression = compression_codec::zstd;
    std::string big(8 << 20, 'z');
    auto bytes = build({{1, "k", big, {}}}, options);
    EXPECT_LT(bytes.size(), 4096u);
    auto limited = verify_all();
    limited.max_decompressed_bytes = 1 << 20;
    auto r = validate_batch(view_of(bytes), limited);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::decompressed_too_large);
    EXPECT_EQ(to_kafka_error(r.error()), kafka_error::corrupt_message);
    EXPECT_TRUE(validate_batch(view_of(bytes), {}));  // not decompressed unless asked
    limited.max_decompressed_bytes = 9 << 20;
    EXPECT_TRUE(validate_batch(view_of(bytes), limited));
}

TEST(record_batch, produce_payload_validation) {
    auto one = build(sample_records());
    produce_validation_options options;
    auto summary = validate_produce_records(one, options);
    ASSERT_TRUE(summary);
    EXPECT_EQ(summary.value().batch_count, 1);
    EXPECT_EQ(summary.value().record_count, 4);
    EXPECT_EQ(summary.value().offset_count, 4);
    EXPECT_EQ(summary.value().max_timestamp, 1700000000100);
    EXPECT_EQ(summary.value().bytes, one.size());

    auto two = one;
    auto second = build({{5, "a", "b", {}}}, with_codec(compression_codec::gzip));
    two.insert(two.end(), second.begin(), second.end());
    auto r = validate_produce_records(two, options);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::too_many_batches);
    options.require_single_batch = false;
    summary = validate_produce_records(two, options);
    ASSERT_TRUE(summary);
    EXPECT_EQ(summary.value().batch_count, 2);
    EXPECT_EQ(summary.value().record_count, 5);
    EXPECT_EQ(summary.value().compression, compression_codec::none);

    auto trailing = two;
    trailing.push_back(0);
    EXPECT_EQ(validate_produce_records(trailing, options).error(), record_error::truncated);
    EXPECT_EQ(validate_produce_records({}, options).error(), record_error::no_batches);

    options.max_batch_bytes = one.size() - 1;
    r = validate_produce_records(one, options);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), record_error::batch_too_large);
    EXPECT_EQ(to_kafka_error(r.error()), kafka_error::message_too_large);

    record_batch_sequence batches(two);
    EXPECT_EQ(batches.next().value()->size(), one.size());
    EXPECT_EQ(batches.next().value()->size(), second.size());
    EXPECT_FALSE(batches.next().value().has_value());
    EXPECT_EQ(batches.consumed(), two.size());
}

TEST(record_batch, stamping_keeps_the_crc_valid) {
    auto bytes = build(sample_records(), with_codec(compression_codec::snappy));
    stamp_base_offset(bytes, 123456789012);
    stamp_partition_leader_epoch(bytes, 42);
    auto batch = view_of(bytes);
    EXPECT_EQ(batch.base_offset(), 123456789012);
    EXPECT_EQ(batch.partition_leader_epoch(), 42);
    EXPECT_EQ(batch.last_offset(), 123456789015);
    EXPECT_TRUE(batch.crc_ok());

    uint32_t before = batch.crc();
    set_max_timestamp(bytes, timestamp_type::log_append_time, 1800000000000);
    batch = view_of(bytes);
    EXPECT_EQ(batch.timestamp_kind(), timestamp_type::log_append_time);
    EXPECT_EQ(batch.max_timestamp(), 1800000000000);
    EXPECT_EQ(batch.compression(), compression_codec::snappy);
    EXPECT_NE(batch.crc(), before);
    EXPECT_TRUE(batch.crc_ok());
    ASSERT_TRUE(validate_batch(batch, verify_all()));
    set_max_timestamp(bytes, timestamp_type::create_time, 1700000000100);
    EXPECT_EQ(view_of(bytes).crc(), before);

    std::vector<uint8_t> short_span(bytes.begin(), bytes.begin() + 40);
    EXPECT_THROW(stamp_base_offset(short_span, 1), std::invalid_argument);
    std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 1);
    EXPECT_THROW(set_max_timestamp(cut, timestamp_type::create_time, 1), std::invalid_argument);
}

TEST(record_batch, log_append_time_builder) {
    record_batch_options options;
    options.timestamp_kind = timestamp_type::log_append_time;
    options.log_append_time = 1234;
    auto bytes = build(sample_records(), options);
    auto batch = view_of(bytes);
    EXPECT_EQ(batch.timestamp_kind(), timestamp_type::log_append_time);
    EXPECT_EQ(batch.max_timestamp(), 1234);
    EXPECT_TRUE(batch.crc_ok());
}

// Random damage under a recomputed CRC reaches the codecs and the record
// parser; whatever it does must end in a value, never a crash (run under
// ASan/UBSan by the fuzz build).
TEST(record_batch, random_damage_under_a_valid_crc_is_survived) {
    std::mt19937 rng(11);
    for (auto codec : codecs) {
        auto good = build(sample_records(), with_codec(codec));
        for (int trial = 0; trial < 2000; ++trial) {
            auto bad = good;
            int flips = 1 + static_cast<int>(rng() % 4);
            for (int f = 0; f < flips; ++f) {
                size_t at = record_batch_view::header_size + rng() % (bad.size() - record_batch_view::header_size);
                bad[at] = static_cast<uint8_t>(rng());
            }
            fix_crc(bad);
            auto batch = view_of(bad);
            auto options = verify_all();
            options.max_decompressed_bytes = 1 << 16;
            (void)validate_batch(batch, options);
            (void)decode_records(batch, 1 << 16);
        }
    }
}

// Found by record_batch_fuzz: a legacy message set converts with the
// timestamps the client sent, and a delta between two extreme ones overflowed
// int64 (undefined behaviour). Kafka computes it in wrapping long arithmetic,
// and base + delta wraps back to each timestamp.
TEST(record_batch, extreme_timestamp_deltas_wrap_like_java) {
    constexpr int64_t lowest = std::numeric_limits<int64_t>::min();
    constexpr int64_t highest = std::numeric_limits<int64_t>::max();
    std::vector<sample_record> records = {
        {lowest, "a", "1", {}},
        {highest, "b", "2", {}},
        {-9205637317712077970, "c", "3", {}},  // the fuzzer's pair
        {288232171761638254, "d", "4", {}},
    };
    auto bytes = build(records);
    auto batch = view_of(bytes);
    ASSERT_TRUE(validate_batch(batch, verify_all()).has_value());
    auto decoded = decode_records(batch, 1 << 20);
    ASSERT_TRUE(decoded.has_value());
    ASSERT_EQ(decoded.value().records.size(), records.size());
    for (size_t i = 0; i < records.size(); ++i) {
        auto timestamp = static_cast<int64_t>(static_cast<uint64_t>(batch.base_timestamp()) +
                                              static_cast<uint64_t>(decoded.value().records[i].timestamp_delta));
        EXPECT_EQ(timestamp, records[i].timestamp) << "record " << i;
    }
}

// Found by record_batch_fuzz: last_offset() of a batch as a client sent it
// (baseOffset is not covered by the CRC) overflowed int64.
TEST(record_batch, last_offset_of_a_hostile_base_offset_wraps) {
    auto bytes = build(sample_records());
    stamp_base_offset(bytes, std::numeric_limits<int64_t>::max());
    EXPECT_EQ(view_of(bytes).last_offset(), std::numeric_limits<int64_t>::min() + 2);
    stamp_base_offset(bytes, 100);
    EXPECT_EQ(view_of(bytes).last_offset(), 103);
}

TEST(record_batch, kafka_error_mapping) {
    EXPECT_EQ(to_kafka_error(record_error::crc_mismatch), kafka_error::corrupt_message);
    EXPECT_EQ(to_kafka_error(record_error::truncated), kafka_error::corrupt_message);
    EXPECT_EQ(to_kafka_error(record_error::invalid_record_count), kafka_error::invalid_record);
    EXPECT_EQ(to_kafka_error(record_error::legacy_magic), kafka_error::invalid_record);
    EXPECT_EQ(to_kafka_error(record_error::too_many_batches), kafka_error::invalid_record);
    EXPECT_EQ(to_kafka_error(record_error::batch_too_large), kafka_error::message_too_large);
    EXPECT_EQ(to_kafka_error(record_error::compression_failed), kafka_error::unknown_server_error);
    EXPECT_FALSE(record_error_message(record_error::nested_compression).empty());
    EXPECT_EQ(fmt::format("{}", record_error::crc_mismatch), "checksum mismatch");
    EXPECT_EQ(fmt::format("{}", compression_codec::lz4), "lz4");
}

}  // namespace
}  // namespace strata::protocol
