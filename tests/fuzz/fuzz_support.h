// Shared by the libFuzzer targets in this folder: how a target reports a
// finding, and the allocation budget that turns "allocates more than the
// bytes received justify" (DESIGN.md, promise 5) into a crash libFuzzer
// records like any other.
//
// Everything here is single-threaded: libFuzzer runs one input at a time on
// one thread (we never pass -jobs/-workers to the same process).
#pragma once

#include <sanitizer/allocator_interface.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace strata::fuzz {

// Prints what went wrong and aborts, so that libFuzzer saves the input as a
// crash-* file and the ctest run fails.
[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "\n==strata-fuzz== FINDING: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

// STRATA_FUZZ_TRACE=1 in the environment prints why each input was refused
// (for reproducing by hand; far too slow for fuzzing).
inline const bool tracing = std::getenv("STRATA_FUZZ_TRACE") != nullptr;
inline void trace(const std::string& what) {
    if (tracing) std::fprintf(stderr, "strata-fuzz: %s\n", what.c_str());
}

inline void require(bool ok, const std::string& what) {
    if (!ok) finding(what);
}

inline int16_t load_int16(const uint8_t* p) { return static_cast<int16_t>((p[0] << 8) | p[1]); }

inline std::string hex_prefix(std::span<const uint8_t> bytes, size_t max = 64) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < bytes.size() && i < max; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 0xf]);
    }
    if (bytes.size() > max) out += "...";
    return out;
}

// Counts the bytes malloc'd (not net of frees: a stricter measure than the
// peak) while an allocation_budget is alive, using the sanitizer allocator's
// hooks, and fails the input when the count passes the budget.
namespace detail {
inline size_t allocated_bytes = 0;
inline bool counting = false;
inline void on_malloc(const volatile void*, size_t size) {
    if (counting) allocated_bytes += size;
}
inline void on_free(const volatile void*) {}
inline const bool hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free) != 0;
}  // namespace detail

class allocation_budget {
public:
    // The codecs' contract: every length and count is checked against the
    // bytes remaining before anything is allocated, so what a decode (plus
    // one re-encode) allocates grows linearly with its input. The factor
    // covers a C++ element being larger than its smallest wire form (a
    // struct of strings and vectors per 1-byte array element) and vector
    // growth; the constant covers fixed costs (a codec's context).
    allocation_budget(size_t input_size, size_t per_input_byte, size_t fixed)
        : _limit(fixed + per_input_byte * input_size) {
        if (!detail::hooks_installed) finding("could not install the allocation hooks");
        detail::allocated_bytes = 0;
        detail::counting = true;
    }
    ~allocation_budget() { detail::counting = false; }
    allocation_budget(const allocation_budget&) = delete;
    allocation_budget& operator=(const allocation_budget&) = delete;

    size_t used() const { return detail::allocated_bytes; }
    void check(const char* what) const {
        detail::counting = false;
        if (detail::allocated_bytes > _limit)
            finding(std::string(what) + " allocated " + std::to_string(detail::allocated_bytes) +
                    " bytes, over the budget of " + std::to_string(_limit));
        detail::counting = true;
    }

private:
    size_t _limit;
};

}  // namespace strata::fuzz
