// The checks the message fuzzers share: a header decoded and re-encoded, a
// body decoded and re-encoded twice. See README.md for what counts as a
// finding.
#pragma once

#include <span>
#include <string>

#include "fuzz_support.h"
#include "strata/protocol/wire.h"

namespace strata::fuzz {

// Allocation budget of one decode plus re-encode, per input byte and fixed
// (see allocation_budget). A decoded element is at most a few hundred bytes
// of C++ (strings, vectors, optionals) where its smallest wire form is one
// byte, and the re-encoding copies the input once more.
inline constexpr size_t message_bytes_per_input_byte = 1024;
inline constexpr size_t message_fixed_bytes = 64 * 1024;

// Decodes a header at `version`, then checks that it encodes back to a form
// that decodes to the same value. Returns false for malformed input.
template <typename Header>
bool decode_header(protocol::reader& r, int16_t version, Header& header) {
    try {
        header.decode(r, version);
    } catch (const protocol::decode_error& e) {
        trace(std::string("header v") + std::to_string(version) + ": " + e.what());
        return false;
    }
    protocol::encoded_output out;
    protocol::writer w(out);
    try {
        header.encode(w, version);
    } catch (const std::exception& e) {
        finding(std::string("a decoded header does not encode: ") + e.what());
    }
    require(out.bytes.size() == header.size(version), "header size() disagrees with encode()");
    Header again;
    protocol::reader r2(out.bytes);
    try {
        again.decode(r2, version);
    } catch (const std::exception& e) {
        finding(std::string("a re-encoded header does not decode: ") + e.what());
    }
    require(r2.empty(), "a re-encoded header leaves bytes over");
    require(again == header, "a re-encoded header decodes to a different value");
    return true;
}

// `reencode(body)` decodes a body and encodes it again (api.h's
// reencode_request_body and friends). Malformed input (decode_error) is
// expected. Then: decoding succeeded, so encoding must (no encode_error);
// the re-encoding must decode again (the encoder writes only what the
// decoder reads) and encode to the very same bytes (a fixed point: a value
// survives any number of decode/encode round trips); and the work must stay
// within the allocation budget.
template <typename Reencode>
void check_body(const std::string& what, std::span<const uint8_t> body, Reencode&& reencode) {
    protocol::encoded_output first;
    {
        allocation_budget budget(body.size(), message_bytes_per_input_byte, message_fixed_bytes);
        try {
            first = reencode(body);
        } catch (const protocol::decode_error& e) {
            budget.check(what.c_str());
            trace(what + ": " + e.what());
            return;
        } catch (const protocol::encode_error& e) {
            finding(what + ": decoded, but does not encode again: " + e.what());
        }
        budget.check(what.c_str());
        trace(what + ": decoded and re-encoded, " + std::to_string(budget.used()) + " bytes allocated");
    }
    require(first.file_inserts.empty(), what + ": a decoded message re-encodes with file regions");
    protocol::encoded_output second;
    try {
        second = reencode(std::span<const uint8_t>(first.bytes));
    } catch (const std::exception& e) {
        finding(what + ": the re-encoding does not decode: " + e.what() + "; re-encoded bytes " +
                hex_prefix(first.bytes));
    }
    if (second.bytes != first.bytes)
        finding(what + ": re-encoding is not a fixed point: " + hex_prefix(first.bytes) + " then " +
                hex_prefix(second.bytes));
}

}  // namespace strata::fuzz
