// Every function here is an expansion of STRATA_KAFKA_ERRORS (kafka_error.h):
// the table is the one place a code, its retriability and its description
// are written.
#include "strata/common/kafka_error.h"

#include <array>
#include <cctype>
#include <string>

namespace strata {

namespace {

struct error_info {
    std::string_view snake_name;
    int16_t code;
    bool retriable;
    std::string_view message;
};

constexpr std::array errors{
#define STRATA_KAFKA_ERROR_INFO(name, code, retriable, message) error_info{#name, code, retriable, message},
    STRATA_KAFKA_ERRORS(STRATA_KAFKA_ERROR_INFO)
#undef STRATA_KAFKA_ERROR_INFO
};

constexpr int16_t first_code = errors.front().code;
constexpr int16_t last_code = errors.back().code;

// kafka_error_from_code and the lookups below index the table by code, so the
// codes must run without a gap, in order.
constexpr bool dense() {
    for (size_t i = 0; i < errors.size(); ++i)
        if (errors[i].code != first_code + static_cast<int>(i)) return false;
    return true;
}
static_assert(dense(), "STRATA_KAFKA_ERRORS must list the codes from -1 upwards without a gap");
static_assert(first_code == -1);

const error_info* find(kafka_error e) {
    const int code = kafka_error_code(e);
    if (code < first_code || code > last_code) return nullptr;
    return &errors[static_cast<size_t>(code - first_code)];
}

// Kafka's UPPER_CASE names are the enumerators upper-cased; built once.
const std::array<std::string, errors.size()>& upper_names() {
    static const auto names = [] {
        std::array<std::string, errors.size()> out;
        for (size_t i = 0; i < errors.size(); ++i) {
            out[i].reserve(errors[i].snake_name.size());
            for (char c : errors[i].snake_name) out[i].push_back(static_cast<char>(std::toupper(c)));
        }
        return out;
    }();
    return names;
}

}  // namespace

std::optional<kafka_error> kafka_error_from_code(int16_t code) {
    if (code < first_code || code > last_code) return std::nullopt;
    return static_cast<kafka_error>(code);
}

std::string_view kafka_error_name(kafka_error e) {
    const auto* info = find(e);
    if (!info) return "UNKNOWN_ERROR_CODE";
    return upper_names()[static_cast<size_t>(info - errors.data())];
}

bool is_retriable(kafka_error e) {
    const auto* info = find(e);
    return info && info->retriable;
}

std::string_view kafka_error_message(kafka_error e) {
    const auto* info = find(e);
    return info ? info->message : "Unknown error code.";
}

}  // namespace strata
