// The error codes of a response, visited one by one, as Kafka's
// AbstractResponse.errorCounts(): the broker's forwarding path
// (server/admin_apis_forwarding.h) looks for NOT_CONTROLLER anywhere in an
// answer, as Kafka's NodeToControllerChannel does, and turns it into
// REQUEST_TIMED_OUT once the request's time is up; the CLI retries an answer
// whose errors are all retriable. The walk itself is generated for every
// response from its schema (`visit_error_codes` in error_codes.h: every
// field named ...ErrorCode, at any depth).
#pragma once

#include <cstdint>
#include <type_traits>

#include "strata/protocol/error_codes.h"

namespace strata::protocol {

// Calls `f(int16_t&)` on every error code of `r` (top level and nested).
template <typename Response, typename F>
void for_each_error_code(Response& r, F&& f) {
    using function = std::remove_reference_t<F>;
    visit_error_codes(
        r, [](void* context, int16_t& code) { (*static_cast<function*>(context))(code); },
        const_cast<void*>(static_cast<const void*>(&f)));
}

// True when any error code of `r` is `code`.
template <typename Response>
bool has_error(Response& r, int16_t code) {
    bool found = false;
    for_each_error_code(r, [&](int16_t& e) { found = found || e == code; });
    return found;
}

// Replaces every `from` in `r` by `to`.
template <typename Response>
void replace_error(Response& r, int16_t from, int16_t to) {
    for_each_error_code(r, [&](int16_t& e) {
        if (e == from) e = to;
    });
}

}  // namespace strata::protocol
