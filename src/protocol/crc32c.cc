#include "strata/protocol/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace strata::protocol {

namespace {

// The reflected Castagnoli polynomial, without its x^32 term. In the reflected
// representation bit 31 is the coefficient of x^0 and bit 0 that of x^31.
constexpr uint32_t polynomial = 0x82F63B78;

// Multiplies by x modulo the polynomial.
constexpr uint32_t times_x(uint32_t a) { return (a & 1) ? (a >> 1) ^ polynomial : a >> 1; }

// a * b modulo the polynomial (carry-less). `a` must not be zero.
constexpr uint32_t multiply_mod(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (uint32_t m = 1u << 31;; m >>= 1) {
        if (a & m) {
            product ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        b = times_x(b);
    }
    return product;
}

// x^(8 * bytes) modulo the polynomial: what feeding `bytes` zero bytes through
// the raw CRC register multiplies the register by.
constexpr uint32_t x_to_the_bytes(size_t bytes) {
    uint32_t p = 1u << 31;  // x^0
    for (size_t i = 0; i < 8 * bytes; ++i) p = times_x(p);
    return p;
}

// Slicing-by-8: table[k][b] is the register after byte b followed by k zero bytes.
using slicing_table = std::array<std::array<uint32_t, 256>, 8>;

constexpr slicing_table make_slicing_table() {
    slicing_table t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int i = 0; i < 8; ++i) c = times_x(c);
        t[0][b] = c;
    }
    for (size_t k = 1; k < 8; ++k)
        for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
    return t;
}

constexpr slicing_table slicing = make_slicing_table();

// A register shift by a fixed number of zero bytes, applied a byte of the
// register at a time (the shift is linear over GF(2)). Combines CRCs of
// adjacent blocks computed in parallel: crc(A || B) = shift_|B|(crc(A)) ^ crc(B)
// for raw registers.
using shift_table = std::array<std::array<uint32_t, 256>, 4>;

constexpr shift_table make_shift_table(size_t bytes) {
    shift_table t{};
    const uint32_t factor = x_to_the_bytes(bytes);
    for (size_t k = 0; k < 4; ++k)
        for (uint32_t b = 0; b < 256; ++b) t[k][b] = multiply_mod(factor, b << (8 * k));
    return t;
}

[[maybe_unused]] inline uint32_t shift(const shift_table& t, uint32_t crc) {
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

inline uint64_t load_little_endian_64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
}

#if defined(__x86_64__)

// The crc32 instruction has a latency of three cycles and a throughput of one
// per cycle, so one dependency chain runs at a third of the unit's speed. Three
// independent streams over adjacent blocks keep it busy; their CRCs are then
// joined with the shift tables. Long blocks amortise the join, short ones
// serve the middle-sized tail.
constexpr size_t long_block = 8192;
constexpr size_t short_block = 256;
constexpr shift_table long_shift = make_shift_table(long_block);
constexpr shift_table short_shift = make_shift_table(short_block);

template <size_t Block>
__attribute__((target("sse4.2"))) inline uint64_t three_streams(uint64_t crc0, const uint8_t*& p, size_t& n,
                                                                 const shift_table& join) {
    while (n >= 3 * Block) {
        uint64_t crc1 = 0;
        uint64_t crc2 = 0;
        const uint8_t* end = p + Block;
        do {
            crc0 = _mm_crc32_u64(crc0, load_little_endian_64(p));
            crc1 = _mm_crc32_u64(crc1, load_little_endian_64(p + Block));
            crc2 = _mm_crc32_u64(crc2, load_little_endian_64(p + 2 * Block));
            p += 8;
        } while (p < end);
        crc0 = shift(join, static_cast<uint32_t>(crc0)) ^ crc1;
        crc0 = shift(join, static_cast<uint32_t>(crc0)) ^ crc2;
        p += 2 * Block;
        n -= 3 * Block;
    }
    return crc0;
}

#endif

}  // namespace

uint32_t crc32c_extend_portable(uint32_t crc, std::span<const uint8_t> data) {
    const uint8_t* p = data.data();
    size_t n = data.size();
    uint32_t c = ~crc;
    while (n >= 8) {
        uint64_t w = load_little_endian_64(p) ^ c;
        c = slicing[7][w & 0xff] ^ slicing[6][(w >> 8) & 0xff] ^ slicing[5][(w >> 16) & 0xff] ^
            slicing[4][(w >> 24) & 0xff] ^ slicing[3][(w >> 32) & 0xff] ^ slicing[2][(w >> 40) & 0xff] ^
            slicing[1][(w >> 48) & 0xff] ^ slicing[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ slicing[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__)

__attribute__((target("sse4.2"))) uint32_t crc32c_extend_hardware(uint32_t crc, std::span<const uint8_t> data) {
    const uint8_t* p = data.data();
    size_t n = data.size();
    uint64_t c = static_cast<uint32_t>(~crc);
    c = three_streams<long_block>(c, p, n, long_shift);
    c = three_streams<short_block>(c, p, n, short_shift);
    for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, load_little_endian_64(p));
    uint32_t c32 = static_cast<uint32_t>(c);
    for (; n > 0; --n) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

bool crc32c_hardware_available() {
    static const bool available = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("sse4.2") != 0;
    }();
    return available;
}

#else

uint32_t crc32c_extend_hardware(uint32_t crc, std::span<const uint8_t> data) {
    return crc32c_extend_portable(crc, data);
}

bool crc32c_hardware_available() { return false; }

#endif

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) {
    // Chosen on first use rather than at static initialisation, so that other
    // static initialisers may checksum too.
    static const auto implementation = crc32c_hardware_available() ? &crc32c_extend_hardware : &crc32c_extend_portable;
    return implementation(crc, data);
}

}  // namespace strata::protocol
