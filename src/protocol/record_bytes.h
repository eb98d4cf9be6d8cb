// Private helpers of the record-batch code (record_batch.cc,
// legacy_records.cc): fixed-offset big-endian access to headers that are read
// and patched in place, and the varint encoders of the record format. Decoding
// of variable-length fields goes through protocol::reader (wire.h); these exist
// because batch headers are read at fixed offsets without a cursor, and
// because the builder writes into a plain byte vector.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

namespace strata::protocol::detail {

template <typename T>
T load_be(const uint8_t* p) {
    using U = std::make_unsigned_t<T>;
    U v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<U>((v << 8) | p[i]);
    return static_cast<T>(v);
}

template <typename T>
void store_be(uint8_t* p, T value) {
    using U = std::make_unsigned_t<T>;
    auto v = static_cast<U>(value);
    for (size_t i = 0; i < sizeof(T); ++i) p[sizeof(T) - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
}

template <typename T>
void append_be(std::vector<uint8_t>& out, T value) {
    size_t at = out.size();
    out.resize(at + sizeof(T));
    store_be(out.data() + at, value);
}

inline uint64_t zig_zag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

inline size_t uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

inline size_t varint_size(int64_t v) { return uvarint_size(zig_zag(v)); }

inline void append_uvarint(std::vector<uint8_t>& out, uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<uint8_t>(v));
}

// Zig-zag varint and varlong share an encoding; only their ranges differ.
inline void append_varint(std::vector<uint8_t>& out, int64_t v) { append_uvarint(out, zig_zag(v)); }

}  // namespace strata::protocol::detail
