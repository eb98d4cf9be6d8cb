#include "strata/protocol/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#include "crc32c_paths.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// Every instruction-set path is compiled with __attribute__((target(...))) on
// its own functions, so the rest of the build stays generic x86-64 (and other
// architectures build the portable path only); crc32c_extend picks one at run
// time.

namespace strata::protocol::crc32c_detail {

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

// Carry-less multiplication folding (Intel, "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ Instruction", 2009; the scheme of Linux, ISA-L
// and crc32fast).
//
// Read 16 message bytes as a 128-bit little-endian value: in the reflected
// order its bit i is the coefficient of x^(127-i). A chunk followed by D more
// message bits contributes chunk * x^D to the message polynomial, and only
// that modulo P matters for the CRC, so the chunk may be replaced by any value
// of at most 128 bits congruent to chunk * x^D, XORed into the chunk D bits
// further on ("folding"):
//   fold_D(chunk) = low64(chunk) clmul k(D + 32)  ^  high64(chunk) clmul k(D - 32)
// where k(n) is x^n mod P, bit-reflected and shifted left by one (a 33-bit
// value): the product of two reflected values comes out one bit low, which
// the shift and the +-32 make up for. Four accumulators fold independently
// (to cover PCLMULQDQ's latency) and at the end into one another; the last
// 128-bit value followed by the remaining (< 16) bytes is then a message with
// the same CRC as the whole, which the crc32 instruction finishes from a zero
// register, so no Barrett reduction is needed. The initial CRC enters by XOR
// into the first four bytes: the raw register started at c over M equals the
// one started at zero over M with c XORed into its first 32 bits.
//
// The constants were printed by this Python, and are checked below against
// the same derivation done at compile time from `polynomial`:
//   P = 0x11EDC6F41                  # x^32 + the Castagnoli polynomial, normal order
//   def x_to_the(n):                 # x^n mod P
//       r = 1
//       for _ in range(n):
//           r <<= 1
//           if r >> 32: r ^= P
//       return r
//   def k(n): return int(f"{x_to_the(n):032b}"[::-1], 2) << 1
//   for d in (128, 512, 2048): print(d, hex(k(d + 32)), hex(k(d - 32)))
struct fold_constants {
    uint64_t plus_32;   // k(D + 32), multiplies the low (earlier) 64 bits
    uint64_t minus_32;  // k(D - 32), multiplies the high 64 bits
};
constexpr fold_constants fold_16_bytes{0x0f20c0dfe, 0x14cd00bd6};   // D = 128: the next 16-byte chunk
constexpr fold_constants fold_64_bytes{0x0740eef02, 0x09e4addf8};   // D = 512: past four 128-bit lanes, or one 512-bit
constexpr fold_constants fold_256_bytes{0x0dcb17aa4, 0x0b9e02b86};  // D = 2048: past four 512-bit lanes

constexpr uint64_t fold_constant(size_t bits) { return uint64_t{x_to_the_bytes(bits / 8)} << 1; }
static_assert(fold_16_bytes.plus_32 == fold_constant(128 + 32) && fold_16_bytes.minus_32 == fold_constant(128 - 32));
static_assert(fold_64_bytes.plus_32 == fold_constant(512 + 32) && fold_64_bytes.minus_32 == fold_constant(512 - 32));
static_assert(fold_256_bytes.plus_32 == fold_constant(2048 + 32) &&
              fold_256_bytes.minus_32 == fold_constant(2048 - 32));

#if defined(__x86_64__)

// Below these many bytes the crc32 instruction alone is as fast as setting up
// the folds (the 512-bit one measured on Zen 4 with crc32c_bench: the crc32
// instruction wins at 128 bytes, loses at 192).
constexpr size_t fold_threshold = 256;
constexpr size_t avx512_fold_threshold = 160;

// The raw register (no inversions) over p[0, n), a word at a time.
__attribute__((target("sse4.2"))) inline uint32_t crc32_instruction(uint32_t crc, const uint8_t* p, size_t n) {
    uint64_t c = crc;
    for (; n >= 8; n -= 8, p += 8) c = _mm_crc32_u64(c, load_little_endian_64(p));
    uint32_t c32 = static_cast<uint32_t>(c);
    for (; n > 0; --n) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}

#define STRATA_CRC_PCLMUL_TARGET "sse4.2,pclmul"
#define STRATA_CRC_AVX512_TARGET "sse4.2,pclmul,avx512f,vpclmulqdq"

__attribute__((target(STRATA_CRC_PCLMUL_TARGET))) inline __m128i load_128(const uint8_t* p) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

__attribute__((target(STRATA_CRC_PCLMUL_TARGET))) inline __m128i constants_128(fold_constants k) {
    return _mm_set_epi64x(static_cast<long long>(k.minus_32), static_cast<long long>(k.plus_32));
}

__attribute__((target(STRATA_CRC_PCLMUL_TARGET))) inline __m128i fold_128(__m128i x, __m128i k, __m128i next) {
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

// The finished CRC of the 16 bytes of `x` followed by p[0, n).
__attribute__((target(STRATA_CRC_PCLMUL_TARGET))) inline uint32_t finish(__m128i x, const uint8_t* p, size_t n) {
    uint64_t c = _mm_crc32_u64(0, static_cast<uint64_t>(_mm_cvtsi128_si64(x)));
    c = _mm_crc32_u64(c, static_cast<uint64_t>(_mm_extract_epi64(x, 1)));
    return ~crc32_instruction(static_cast<uint32_t>(c), p, n);
}

__attribute__((target(STRATA_CRC_AVX512_TARGET))) inline __m512i load_512(const uint8_t* p) {
    return _mm512_loadu_si512(p);
}

// The fold constants in each 128-bit lane. (Not _mm512_broadcast_i32x4, nor
// the unmasked _mm512_extracti32x4_epi32 below: GCC 12's headers make those
// warn -Wmaybe-uninitialized, and so does _mm512_castsi512_si128.)
__attribute__((target(STRATA_CRC_AVX512_TARGET))) inline __m512i constants_512(fold_constants k) {
    const auto plus = static_cast<long long>(k.plus_32);
    const auto minus = static_cast<long long>(k.minus_32);
    return _mm512_set_epi64(minus, plus, minus, plus, minus, plus, minus, plus);
}

// Each 128-bit lane folded by its own pair of constants (the same in all four).
__attribute__((target(STRATA_CRC_AVX512_TARGET))) inline __m512i fold_512(__m512i x, __m512i k, __m512i next) {
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00), _mm512_clmulepi64_epi128(x, k, 0x11),
                                     next, 0x96);  // a ^ b ^ c
}

#endif

}  // namespace

uint32_t extend_portable(uint32_t crc, std::span<const uint8_t> data) {
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

__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t crc, std::span<const uint8_t> data) {
    const uint8_t* p = data.data();
    size_t n = data.size();
    uint64_t c = static_cast<uint32_t>(~crc);
    c = three_streams<long_block>(c, p, n, long_shift);
    c = three_streams<short_block>(c, p, n, short_shift);
    return ~crc32_instruction(static_cast<uint32_t>(c), p, n);
}

__attribute__((target(STRATA_CRC_PCLMUL_TARGET))) uint32_t extend_pclmul(uint32_t crc, std::span<const uint8_t> data) {
    if (data.size() < fold_threshold) return extend_sse42(crc, data);
    const uint8_t* p = data.data();
    size_t n = data.size();
    const __m128i k64 = constants_128(fold_64_bytes);
    const __m128i k16 = constants_128(fold_16_bytes);

    __m128i x0 = _mm_xor_si128(load_128(p), _mm_cvtsi32_si128(static_cast<int>(~crc)));
    __m128i x1 = load_128(p + 16);
    __m128i x2 = load_128(p + 32);
    __m128i x3 = load_128(p + 48);
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
        x0 = fold_128(x0, k64, load_128(p));
        x1 = fold_128(x1, k64, load_128(p + 16));
        x2 = fold_128(x2, k64, load_128(p + 32));
        x3 = fold_128(x3, k64, load_128(p + 48));
    }
    __m128i x = fold_128(fold_128(fold_128(x0, k16, x1), k16, x2), k16, x3);
    for (; n >= 16; p += 16, n -= 16) x = fold_128(x, k16, load_128(p));
    return finish(x, p, n);
}

__attribute__((target(STRATA_CRC_AVX512_TARGET))) uint32_t extend_avx512(uint32_t crc, std::span<const uint8_t> data) {
    if (data.size() < avx512_fold_threshold) return extend_sse42(crc, data);
    const uint8_t* p = data.data();
    size_t n = data.size();
    const __m512i k64 = constants_512(fold_64_bytes);
    const __m128i k16 = constants_128(fold_16_bytes);
    const __m512i initial = _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(~crc)));

    __m512i z;
    if (n >= 256) {
        const __m512i k256 = constants_512(fold_256_bytes);
        __m512i z0 = _mm512_xor_si512(load_512(p), initial);
        __m512i z1 = load_512(p + 64);
        __m512i z2 = load_512(p + 128);
        __m512i z3 = load_512(p + 192);
        for (p += 256, n -= 256; n >= 256; p += 256, n -= 256) {
            z0 = fold_512(z0, k256, load_512(p));
            z1 = fold_512(z1, k256, load_512(p + 64));
            z2 = fold_512(z2, k256, load_512(p + 128));
            z3 = fold_512(z3, k256, load_512(p + 192));
        }
        z = fold_512(fold_512(fold_512(z0, k64, z1), k64, z2), k64, z3);
    } else {
        z = _mm512_xor_si512(load_512(p), initial);
        p += 64;
        n -= 64;
    }
    for (; n >= 64; p += 64, n -= 64) z = fold_512(z, k64, load_512(p));
    // The four 128-bit lanes of z hold consecutive chunks.
    __m128i x = fold_128(_mm512_maskz_extracti32x4_epi32(0xf, z, 0), k16, _mm512_maskz_extracti32x4_epi32(0xf, z, 1));
    x = fold_128(x, k16, _mm512_maskz_extracti32x4_epi32(0xf, z, 2));
    x = fold_128(x, k16, _mm512_maskz_extracti32x4_epi32(0xf, z, 3));
    for (; n >= 16; p += 16, n -= 16) x = fold_128(x, k16, load_128(p));
    return finish(x, p, n);
}

namespace {

bool cpu_supports_sse42() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
}

bool cpu_supports_pclmul() { return cpu_supports_sse42() && __builtin_cpu_supports("pclmul") != 0; }

// __builtin_cpu_supports reports AVX-512 only when the OS saves its registers.
bool cpu_supports_avx512() {
    return cpu_supports_pclmul() && __builtin_cpu_supports("avx512f") != 0 &&
           __builtin_cpu_supports("vpclmulqdq") != 0;
}

}  // namespace

#else

uint32_t extend_sse42(uint32_t crc, std::span<const uint8_t> data) { return extend_portable(crc, data); }
uint32_t extend_pclmul(uint32_t crc, std::span<const uint8_t> data) { return extend_portable(crc, data); }
uint32_t extend_avx512(uint32_t crc, std::span<const uint8_t> data) { return extend_portable(crc, data); }

namespace {
bool cpu_supports_sse42() { return false; }
bool cpu_supports_pclmul() { return false; }
bool cpu_supports_avx512() { return false; }
}  // namespace

#endif

// In the order of preference. The 128-bit PCLMULQDQ path ranks below the
// crc32 instruction: on Zen 4 it is throughput-bound at half the speed of
// three crc32 streams (13 against 26 GB/s; eight lanes instead of four gain
// nothing), and on Intel cores without VPCLMULQDQ (one PCLMULQDQ a cycle) it
// could at best tie them (not measured here). It stays, tested, for the
// benchmark's comparison and as the basis of a 256-bit VPCLMULQDQ (AVX2) or a
// mixed crc32 + PCLMULQDQ path.
std::span<const path> paths() {
    static const std::array<path, 4> all{{
        {"portable", &extend_portable, true},
        {"pclmul", &extend_pclmul, cpu_supports_pclmul()},
        {"sse4.2", &extend_sse42, cpu_supports_sse42()},
        {"avx512-vpclmul", &extend_avx512, cpu_supports_avx512()},
    }};
    return all;
}

}  // namespace strata::protocol::crc32c_detail

namespace strata::protocol {

uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data) {
    // Chosen on first use rather than at static initialisation, so that other
    // static initialisers may checksum too.
    static const crc32c_detail::extend_fn implementation = [] {
        crc32c_detail::extend_fn fastest = &crc32c_detail::extend_portable;
        for (const auto& path : crc32c_detail::paths())
            if (path.supported) fastest = path.extend;
        return fastest;
    }();
    return implementation(crc, data);
}

namespace {

constexpr uint32_t reflected_polynomial = 0x82F63B78;

// a * b modulo the polynomial, both in reflected bit order.
uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
    uint32_t m = uint32_t{1} << 31;
    uint32_t product = 0;
    for (;;) {
        if (a & m) {
            product ^= b;
            if ((a & (m - 1)) == 0) break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ reflected_polynomial : b >> 1;
    }
    return product;
}

// x^(2^k) modulo the polynomial for k = 0..31.
const std::array<uint32_t, 32>& powers_of_x() {
    static const std::array<uint32_t, 32> table = [] {
        std::array<uint32_t, 32> t{};
        uint32_t p = uint32_t{1} << 30;  // x^1
        t[0] = p;
        for (size_t k = 1; k < t.size(); ++k) t[k] = p = multiply_mod_p(p, p);
        return t;
    }();
    return table;
}

// x^(n * 2^k) modulo the polynomial.
uint32_t x_to_the(uint64_t n, unsigned k) {
    const auto& table = powers_of_x();
    uint32_t p = uint32_t{1} << 31;  // x^0
    while (n) {
        if (n & 1) p = multiply_mod_p(table[k & 31], p);
        n >>= 1;
        ++k;
    }
    return p;
}

}  // namespace

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b) {
    // Shifting crc_a over len_b bytes (8 * len_b bits) multiplies it by x^(8 len_b).
    return multiply_mod_p(x_to_the(len_b, 3), crc_a) ^ crc_b;
}

}  // namespace strata::protocol
