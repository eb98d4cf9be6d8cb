// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka
// record batches (magic 2). Runs the fastest path this CPU has, chosen once on
// first use: carry-less multiplication folding with VPCLMULQDQ + AVX-512 or
// PCLMULQDQ, the SSE4.2 crc32 instruction, or a portable slicing-by-8 table.
// All give the same values (src/protocol/crc32c_paths.h exposes each path to
// the unit test and the benchmark).
//
// Values are finished CRCs (pre- and post-inverted), so that
//   crc32c_extend(crc32c(a), b) == crc32c(a || b)
// and crc32c_extend(0, x) == crc32c(x). Thread-safe; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace strata::protocol {

// Extends the finished CRC `crc` of some bytes with `data`.
uint32_t crc32c_extend(uint32_t crc, std::span<const uint8_t> data);

inline uint32_t crc32c(std::span<const uint8_t> data) { return crc32c_extend(0, data); }

// The finished CRC of a || b from crc32c(a), crc32c(b) and b's length, in
// O(log len_b) without the bytes (zlib's crc32_combine for this polynomial):
// lets the broker rewrite a batch header and recompute the batch CRC from the
// records' CRC taken during validation instead of reading the records again.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t len_b);

inline uint32_t crc32c(std::string_view data) {
    return crc32c({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
}

}  // namespace strata::protocol
