// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka
// record batches (magic 2). Runs on SSE4.2 hardware when the CPU has it (chosen
// once at start-up) and on a portable slicing-by-8 table otherwise; both give
// the same values, and the explicit entry points exist so tests and the
// benchmark can compare them.
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

inline uint32_t crc32c(std::string_view data) {
    return crc32c({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
}

// Whether this CPU runs the SSE4.2 path (what crc32c_extend uses).
bool crc32c_hardware_available();

// The two implementations behind crc32c_extend. The hardware one must only be
// called when crc32c_hardware_available() is true.
uint32_t crc32c_extend_portable(uint32_t crc, std::span<const uint8_t> data);
uint32_t crc32c_extend_hardware(uint32_t crc, std::span<const uint8_t> data);

}  // namespace strata::protocol
