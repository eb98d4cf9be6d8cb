// The schemas that are not an API's request, response or header (metadata
// records, coordinator records, data types carried as bytes), as a table the
// record fuzzer and the corpus generator index alike.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string_view>

#include "data_schemas.h"  // generated: src/protocol/testing/generated/
#include "strata/protocol/wire.h"

namespace strata::fuzz {

struct data_schema {
    std::string_view name;  // "<group>/<SchemaName>", as the samples name it
    int16_t lowest_version;
    int16_t highest_version;
    // Decodes `body` (all of it) at `version` and encodes it again, like
    // api.h's reencode_request_body.
    protocol::encoded_output (*reencode)(int16_t version, std::span<const uint8_t> body);
};

template <typename Message>
protocol::encoded_output reencode_as(int16_t version, std::span<const uint8_t> body) {
    if (version < Message::lowest_supported_version || version > Message::highest_supported_version)
        throw protocol::decode_error("unsupported version");
    protocol::reader r(body);
    Message m;
    m.decode(r, version);
    if (!r.empty()) throw protocol::decode_error("trailing bytes after message");
    protocol::encoded_output out;
    protocol::writer w(out);
    m.encode(w, version);
    if (out.total_size() != m.size(version)) throw std::logic_error("size() disagrees with encode()");
    return out;
}

#define STRATA_DATA_SCHEMA_ENTRY(ns, type, name)                                                        \
    data_schema{name, protocol::ns::type::lowest_supported_version,                                     \
                protocol::ns::type::highest_supported_version, &reencode_as<protocol::ns::type>},
inline constexpr data_schema data_schemas[] = {STRATA_FOR_EACH_DATA_SCHEMA(STRATA_DATA_SCHEMA_ENTRY)};
#undef STRATA_DATA_SCHEMA_ENTRY

// The fuzzer's input selects a schema with one byte, modulo this count.
inline constexpr size_t data_schema_count = std::size(data_schemas);
static_assert(data_schema_count > 0 && data_schema_count <= 256);

}  // namespace strata::fuzz
