// Parsing of configuration values from their text form (a YAML scalar, a
// YAML list joined with commas, or an environment variable). Each parser
// returns the problem in words, or "" when the text is fine.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/common/config_text.h"
#include "strata/server/broker_config.h"

namespace strata::server::detail {

// The scalars and plain lists (strata/common/config_text.h, shared with the
// topic config table); the broker's own compound types below.
using config_text::parse_value;
using config_text::trim;
using config_text::upper;

// NAME://host:port, NAME://[v6 address]:port, NAME://:port
std::string parse_value(std::string_view text, std::vector<listener>& out);
// id@host:port
std::string parse_value(std::string_view text, std::vector<quorum_voter>& out);
// KEY:VALUE,KEY:VALUE (listener.security.protocol.map); keys upper-cased.
std::string parse_value(std::string_view text, std::map<std::string, std::string>& out);

// An optional value: empty text leaves it unset.
template <typename T>
std::string parse_value(std::string_view text, std::optional<T>& out) {
    if (trim(text).empty()) {
        out.reset();
        return {};
    }
    T value{};
    auto problem = parse_value(text, value);
    if (problem.empty()) out = std::move(value);
    return problem;
}

// For documentation: the type as people read it.
template <typename T> struct type_name;
template <> struct type_name<int32_t> { static constexpr std::string_view value = "int"; };
template <> struct type_name<int64_t> { static constexpr std::string_view value = "long"; };
template <> struct type_name<double> { static constexpr std::string_view value = "double"; };
template <> struct type_name<bool> { static constexpr std::string_view value = "boolean"; };
template <> struct type_name<std::string> { static constexpr std::string_view value = "string"; };
template <> struct type_name<std::vector<std::string>> { static constexpr std::string_view value = "list"; };
template <> struct type_name<std::vector<listener>> { static constexpr std::string_view value = "list of listeners"; };
template <> struct type_name<std::vector<quorum_voter>> { static constexpr std::string_view value = "list of voters"; };
template <> struct type_name<std::map<std::string, std::string>> { static constexpr std::string_view value = "map"; };
template <typename T> struct type_name<std::optional<T>> { static constexpr std::string_view value = type_name<T>::value; };

// Levenshtein distance, for "did you mean" on unknown keys.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace strata::server::detail
