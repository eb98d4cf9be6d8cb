#include "strata/metadata/records.h"

#include <string>

namespace strata::metadata {

namespace {

constexpr uint32_t frame_version = 1;

template <size_t I = 0>
record decode_alternative(int16_t type, int16_t version, protocol::reader& r) {
    if constexpr (I == std::variant_size_v<record>) {
        throw protocol::decode_error("unsupported metadata record type " + std::to_string(type));
    } else {
        using alternative = std::variant_alternative_t<I, record>;
        if (alternative::api_key != type) return decode_alternative<I + 1>(type, version, r);
        if (version < alternative::lowest_supported_version || version > alternative::highest_supported_version)
            throw protocol::decode_error("metadata record type " + std::to_string(type) + " has no version " +
                                         std::to_string(version));
        alternative value;
        value.decode(r, version);
        return value;
    }
}

}  // namespace

int16_t record_type(const record& r) {
    return std::visit([](const auto& value) { return std::decay_t<decltype(value)>::api_key; }, r);
}

std::vector<uint8_t> encode_record(const record& r) {
    const int16_t newest =
        std::visit([](const auto& value) { return std::decay_t<decltype(value)>::highest_supported_version; }, r);
    return encode_record(r, newest);
}

std::vector<uint8_t> encode_record(const record& r, int16_t version) {
    protocol::encoded_output out;
    protocol::writer w(out);
    std::visit(
        [&](const auto& value) {
            using type = std::decay_t<decltype(value)>;
            out.bytes.reserve(3 + value.size(version));
            w.write_uvarint(frame_version);
            w.write_uvarint(static_cast<uint32_t>(type::api_key));
            w.write_uvarint(static_cast<uint32_t>(version));
            value.encode(w, version);
        },
        r);
    return std::move(out.bytes);
}

versioned_record decode_record(std::span<const uint8_t> bytes) {
    protocol::reader r(bytes);
    const uint32_t frame = r.read_uvarint();
    if (frame != frame_version)
        throw protocol::decode_error("metadata record frame version " + std::to_string(frame) + " (only 1 is known)");
    const uint32_t type = r.read_uvarint();
    const uint32_t version = r.read_uvarint();
    if (type > 0x7fff || version > 0x7fff) throw protocol::decode_error("metadata record type or version too large");
    versioned_record out{decode_alternative(static_cast<int16_t>(type), static_cast<int16_t>(version), r),
                         static_cast<int16_t>(version)};
    if (!r.empty()) throw protocol::decode_error("trailing bytes after metadata record");
    return out;
}

}  // namespace strata::metadata
