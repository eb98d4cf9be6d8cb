// Configuration values in their text form (a YAML scalar, a list joined with
// commas, an environment variable, a ConfigRecord's value): the one parser
// of each scalar type, shared by the broker's file (server/config_values)
// and the topic config table (replication/topic_config), so that a value the
// validator accepts is read the same way where it takes effect. Each parser
// returns the problem in words, or "" when the text is fine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::config_text {

std::string_view trim(std::string_view text);
std::string upper(std::string_view text);

// Decimal, surrounding spaces and a leading '+' allowed.
std::string parse_value(std::string_view text, int32_t& out);
std::string parse_value(std::string_view text, int64_t& out);
// true or false, in any case.
std::string parse_value(std::string_view text, bool& out);
// A finite decimal number (Kafka's DOUBLE: 0.8, 1.7976931348623157E308).
std::string parse_value(std::string_view text, double& out);
std::string parse_value(std::string_view text, std::string& out);
// Comma-separated; items are trimmed; "" is the empty list.
std::string parse_value(std::string_view text, std::vector<std::string>& out);

// An integer of type Int (int32_t, int64_t), or nullopt: the parser's
// message dropped, for callers that word their own.
template <typename Int>
std::optional<Int> parse_integer(std::string_view text) {
    Int value{};
    if (!parse_value(text, value).empty()) return std::nullopt;
    return value;
}

}  // namespace strata::config_text
