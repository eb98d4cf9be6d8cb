// libFuzzer target: a response as a client (or a broker calling another
// broker: KRaft, replication) receives it, after the 4-byte size prefix,
// preceded by the api key and version it answers (int16 each, big-endian),
// which a real response does not carry because the caller knows them:
//
//   api key int16 | api version int16 | response header | body
//
// The header is decoded at the version that API and version call for
// (ApiVersions always v0, KIP-511), the body re-encoded and checked
// (message_checks.h). Seeds: corpus/responses/, one per API and version.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "message_checks.h"
#include "strata/protocol/api.h"
#include "strata/protocol/messages/response_header.h"

using namespace strata::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) return 0;
    int16_t key = strata::fuzz::load_int16(data);
    int16_t version = strata::fuzz::load_int16(data + 2);
    const api_schema_info* info = find_api_schema(key);
    if (info == nullptr || version < info->min_version || version > info->max_version) return 0;

    std::span<const uint8_t> frame(data + 4, size - 4);
    reader r(frame);
    messages::response_header header;
    if (!strata::fuzz::decode_header(r, response_header_version(info->key, version), header)) return 0;

    std::string what = std::string(info->name) + " response v" + std::to_string(version);
    strata::fuzz::check_body(what, frame.subspan(r.position()), [&](std::span<const uint8_t> body) {
        return reencode_response_body(key, version, body);
    });
    return 0;
}
