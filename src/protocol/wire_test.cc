#include "strata/protocol/wire.h"

#include <gtest/gtest.h>

#include <climits>

namespace strata::protocol {
namespace {

using bytes = std::vector<uint8_t>;

bytes write(auto&& fn) {
    encoded_output out;
    writer w(out);
    fn(w);
    return out.bytes;
}

TEST(wire, varints_match_kafka_encodings) {
    EXPECT_EQ(write([](writer& w) { w.write_uvarint(0); }), bytes{0});
    EXPECT_EQ(write([](writer& w) { w.write_uvarint(300); }), (bytes{0xac, 0x02}));
    EXPECT_EQ(write([](writer& w) { w.write_varint(-1); }), bytes{1});
    EXPECT_EQ(write([](writer& w) { w.write_varint(1); }), bytes{2});
    EXPECT_EQ(write([](writer& w) { w.write_varint(INT32_MIN); }), (bytes{0xff, 0xff, 0xff, 0xff, 0x0f}));
    for (int64_t v : {0L, 1L, -1L, 63L, -64L, 64L, INT64_MAX, INT64_MIN, 1L << 40}) {
        auto b = write([&](writer& w) { w.write_varlong(v); });
        EXPECT_EQ(b.size(), wire_size::varlong(v));
        reader r(b);
        EXPECT_EQ(r.read_varlong(), v);
    }
    for (int32_t v : {0, 1, -1, 1000000, -1000000, INT32_MAX, INT32_MIN}) {
        auto b = write([&](writer& w) { w.write_varint(v); });
        EXPECT_EQ(b.size(), wire_size::varint(v));
        reader r(b);
        EXPECT_EQ(r.read_varint(), v);
    }
}

TEST(wire, overlong_varints_are_rejected) {
    bytes six = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    reader r(six);
    EXPECT_THROW(r.read_uvarint(), decode_error);
    bytes overflow = {0xff, 0xff, 0xff, 0xff, 0x1f};
    reader r2(overflow);
    EXPECT_THROW(r2.read_uvarint(), decode_error);
    bytes truncated = {0x80};
    reader r3(truncated);
    EXPECT_THROW(r3.read_uvarint(), decode_error);
}

TEST(wire, fixed_width_big_endian) {
    auto b = write([](writer& w) {
        w.write_int16(0x0102);
        w.write_int32(-2);
        w.write_int64(0x0102030405060708);
        w.write_float64(1.5);
    });
    reader r(b);
    EXPECT_EQ(b[0], 1);
    EXPECT_EQ(r.read_int16(), 0x0102);
    EXPECT_EQ(r.read_int32(), -2);
    EXPECT_EQ(r.read_int64(), 0x0102030405060708);
    EXPECT_EQ(r.read_float64(), 1.5);
    EXPECT_TRUE(r.empty());
    EXPECT_THROW(r.read_int8(), decode_error);
}

TEST(wire, strings_and_bytes_classic_and_compact) {
    EXPECT_EQ(write([](writer& w) { w.write_string("hi", false); }), (bytes{0, 2, 'h', 'i'}));
    EXPECT_EQ(write([](writer& w) { w.write_string("hi", true); }), (bytes{3, 'h', 'i'}));
    EXPECT_EQ(write([](writer& w) { w.write_nullable_string(std::nullopt, true); }), bytes{0});
    EXPECT_EQ(write([](writer& w) { w.write_nullable_string(std::nullopt, false); }), (bytes{0xff, 0xff}));
    EXPECT_EQ(write([](writer& w) { w.write_nullable_bytes(std::nullopt, false); }), (bytes{0xff, 0xff, 0xff, 0xff}));
    bytes b = {0xff, 0xfe};  // string length -2
    reader r(b);
    EXPECT_THROW(r.read_nullable_string(false), decode_error);
    bytes null_compact = {0};
    reader r2(null_compact);
    EXPECT_THROW(r2.read_string(true), decode_error);
}

TEST(wire, array_length_checked_against_remaining_bytes) {
    bytes b = {0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    reader ok(b);
    EXPECT_EQ(ok.read_array_length(false, 4), 3);
    reader too_many(b);
    EXPECT_THROW(too_many.read_array_length(false, 5), decode_error);
    bytes huge = {0x7f, 0xff, 0xff, 0xff};
    reader r(huge);
    EXPECT_THROW(r.read_array_length(false, 0), decode_error);
}

TEST(wire, uuid_string_form_matches_kafka) {
    uuid u;
    EXPECT_TRUE(u.is_zero());
    EXPECT_EQ(u.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
    for (int i = 0; i < 100; ++i) {
        auto r = uuid::random();
        auto s = r.to_string();
        ASSERT_EQ(s.size(), 22u);
        EXPECT_NE(s.front(), '-');
        EXPECT_EQ(uuid::from_string(s), r);
    }
    EXPECT_FALSE(uuid::from_string("short").has_value());
    EXPECT_FALSE(uuid::from_string("AAAAAAAAAAAAAAAAAAAAA!").has_value());
}

}  // namespace
}  // namespace strata::protocol
