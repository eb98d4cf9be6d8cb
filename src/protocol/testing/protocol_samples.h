// Test support for the generated codecs: every message at every version,
// filled with seed-dependent non-default values by generated code
// (src/protocol/testing/generated/), and the round-trip check they all share.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "strata/protocol/wire.h"

namespace strata::protocol::testing {

struct round_trip_result {
    bool ok = true;
    std::string error;
};

struct message_case {
    std::string name;  // "<namespace>/<SchemaName>"
    int16_t version = 0;
    int seed = 0;
    std::function<round_trip_result()> round_trip;
    // The message's bytes at `version`: filled with the seed's values, or
    // default-constructed when `filled` is false (the fuzzers' seed corpus).
    std::function<std::vector<uint8_t>(bool filled)> encode;
};

// Every message of every schema group at every valid version, three seeds each.
std::vector<message_case> all_message_cases();

inline std::string sample_string(int seed) { return "s" + std::to_string(seed * 7919 % 1000); }
inline std::vector<uint8_t> sample_bytes(int seed) {
    return std::vector<uint8_t>(static_cast<size_t>(seed % 5 + 1), static_cast<uint8_t>(seed));
}
inline records sample_records(int seed) { return records::copy_of(sample_bytes(seed + 3)); }
inline uuid sample_uuid(int seed) {
    uuid u;
    u.bytes[0] = static_cast<uint8_t>(seed + 1);
    u.bytes[15] = 9;
    return u;
}

// Encodes `m`, checks size() against the bytes written, decodes them back and
// compares, encodes the decoded value again and compares bytes, and checks that
// every strict prefix of the encoding is rejected with decode_error.
template <typename Message>
round_trip_result check_round_trip(const Message& m, int16_t version) {
    encoded_output out;
    writer w(out);
    try {
        m.encode(w, version);
    } catch (const std::exception& e) {
        return {false, std::string("encode threw: ") + e.what()};
    }
    if (out.bytes.size() != m.size(version))
        return {false, "size() says " + std::to_string(m.size(version)) + " but encode wrote " +
                           std::to_string(out.bytes.size())};
    Message decoded;
    try {
        reader r(out.bytes);
        decoded.decode(r, version);
        if (!r.empty()) return {false, "decode left " + std::to_string(r.remaining()) + " bytes"};
    } catch (const std::exception& e) {
        return {false, std::string("decode threw: ") + e.what()};
    }
    if (!(decoded == m)) return {false, "decoded value differs from the encoded one"};
    encoded_output again;
    writer w2(again);
    decoded.encode(w2, version);
    if (again.bytes != out.bytes) return {false, "re-encoding gave different bytes"};
    // Cut points: every prefix of short encodings, a sample of long ones.
    size_t step = out.bytes.size() > 256 ? out.bytes.size() / 128 : 1;
    for (size_t cut = 0; cut < out.bytes.size(); cut += step) {
        try {
            reader r(std::span<const uint8_t>(out.bytes.data(), cut));
            Message partial;
            partial.decode(r, version);
            return {false, "a prefix of " + std::to_string(cut) + " bytes decoded without error"};
        } catch (const decode_error&) {
        }
    }
    return {};
}

template <typename Message, typename Fill>
void add_cases(std::vector<message_case>& cases, const std::string& name, Fill fill) {
    for (int seed = 0; seed < 3; ++seed) {
        for (int16_t v = Message::lowest_supported_version; v <= Message::highest_supported_version; ++v) {
            cases.push_back({name, v, seed,
                             [v, seed, fill]() {
                                 Message m;
                                 fill(v, seed, m);
                                 return check_round_trip(m, v);
                             },
                             [v, seed, fill](bool filled) {
                                 Message m;
                                 if (filled) fill(v, seed, m);
                                 encoded_output out;
                                 writer w(out);
                                 m.encode(w, v);
                                 return out.bytes;
                             }});
        }
    }
}

}  // namespace strata::protocol::testing
