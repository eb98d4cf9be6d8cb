// libFuzzer target: a request frame exactly as the broker receives it after
// the 4-byte size prefix (request header, then body), decoded the way a
// connection decodes it: api key and version from the first four bytes, the
// header at the version that API and version call for, then the body of
// that API at that version, re-encoded and checked (message_checks.h).
//
// Every API at every version is reachable: the frame itself names them, and
// the seed corpus (corpus/requests/) holds valid frames of each, plus the
// frames real clients sent (../golden/requests/).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "message_checks.h"
#include "strata/protocol/api.h"
#include "strata/protocol/messages/request_header.h"

using namespace strata::protocol;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) return 0;
    std::span<const uint8_t> frame(data, size);
    int16_t key = strata::fuzz::load_int16(data);
    int16_t version = strata::fuzz::load_int16(data + 2);
    const api_schema_info* info = find_api_schema(key);
    // The broker answers these from the first four bytes (UNSUPPORTED_VERSION
    // or a closed connection) without decoding further.
    if (info == nullptr || version < info->min_version || version > info->max_version) return 0;

    reader r(frame);
    messages::request_header header;
    if (!strata::fuzz::decode_header(r, request_header_version(info->key, version), header)) return 0;
    strata::fuzz::require(header.request_api_key == key && header.request_api_version == version,
                          "the request header disagrees with the first four bytes");

    std::string what = std::string(info->name) + " request v" + std::to_string(version);
    strata::fuzz::check_body(what, frame.subspan(r.position()), [&](std::span<const uint8_t> body) {
        return reencode_request_body(key, version, body);
    });
    return 0;
}
