// What the crash writer writes and the checker expects: record i of a run
// has key "<run>:<i>" and a value that is a pure function of the key, so that
// any record read back can be checked on its own.
#pragma once

#include <cstdint>
#include <string>

namespace strata::storage::crash {

inline std::string value_for(const std::string& key, size_t size) {
    std::string value(size, '\0');
    uint64_t h = 1469598103934665603ULL;
    for (char c : key) h = (h ^ uint8_t(c)) * 1099511628211ULL;
    for (size_t i = 0; i < size; ++i) {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        value[i] = char('a' + h % 26);
    }
    return value;
}

}  // namespace strata::storage::crash
