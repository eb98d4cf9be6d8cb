// The implementations behind crc32c_extend (include/strata/protocol/crc32c.h),
// one per instruction set, for the unit test and the benchmark to compare.
// Private to src/protocol: the broker calls crc32c_extend, which picks the
// fastest path this CPU supports once, on first use.
#pragma once

#include <cstdint>
#include <span>

namespace strata::protocol::crc32c_detail {

using extend_fn = uint32_t (*)(uint32_t crc, std::span<const uint8_t> data);

struct path {
    const char* name;
    extend_fn extend;  // same contract as crc32c_extend
    bool supported;    // whether this CPU (and OS) can run it; never call it otherwise
};

// In the order of preference (measured, see crc32c.cc): crc32c_extend uses the
// last supported one. Every path is listed on every architecture (those the
// CPU cannot run with supported=false).
std::span<const path> paths();

// Slicing-by-8 tables: any CPU.
uint32_t extend_portable(uint32_t crc, std::span<const uint8_t> data);
// The SSE4.2 crc32 instruction, three interleaved streams.
uint32_t extend_sse42(uint32_t crc, std::span<const uint8_t> data);
// Carry-less multiplication folding, 4 x 128 bits (PCLMULQDQ), the crc32
// instruction for short inputs and the last 16-31 bytes.
uint32_t extend_pclmul(uint32_t crc, std::span<const uint8_t> data);
// The same with 4 x 512 bits (VPCLMULQDQ + AVX-512F): 256 bytes per round.
uint32_t extend_avx512(uint32_t crc, std::span<const uint8_t> data);

}  // namespace strata::protocol::crc32c_detail
