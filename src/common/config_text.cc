#include "strata/common/config_text.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace strata::config_text {

namespace {

template <typename Int>
std::string parse_integer(std::string_view text, Int& out) {
    const auto trimmed = trim(text);
    if (trimmed.empty()) return "expected an integer, got nothing";
    const char* begin = trimmed.data();
    const char* end = begin + trimmed.size();
    if (*begin == '+') ++begin;  // from_chars takes no sign but '-'
    Int value{};
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc::result_out_of_range) {
        return fmt::format("{} is out of range ({} to {})", trimmed, std::numeric_limits<Int>::min(),
                           std::numeric_limits<Int>::max());
    }
    if (ec != std::errc() || ptr != end) return fmt::format("expected an integer, got '{}'", trimmed);
    out = value;
    return {};
}

}  // namespace

std::string_view trim(std::string_view text) {
    const auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
    while (!text.empty() && is_space(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
    while (!text.empty() && is_space(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return text;
}

std::string upper(std::string_view text) {
    std::string result(text);
    std::transform(result.begin(), result.end(), result.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return result;
}

std::string parse_value(std::string_view text, int32_t& out) { return parse_integer(text, out); }
std::string parse_value(std::string_view text, int64_t& out) { return parse_integer(text, out); }

std::string parse_value(std::string_view text, bool& out) {
    const auto value = upper(trim(text));
    if (value == "TRUE") {
        out = true;
    } else if (value == "FALSE") {
        out = false;
    } else {
        return fmt::format("expected true or false, got '{}'", trim(text));
    }
    return {};
}

std::string parse_value(std::string_view text, double& out) {
    const auto trimmed = trim(text);
    const auto [ptr, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), out);
    if (trimmed.empty() || ec != std::errc() || ptr != trimmed.data() + trimmed.size() || !std::isfinite(out))
        return fmt::format("expected a number, got '{}'", trimmed);
    return {};
}

std::string parse_value(std::string_view text, std::string& out) {
    out = std::string(trim(text));
    return {};
}

std::string parse_value(std::string_view text, std::vector<std::string>& out) {
    out.clear();
    text = trim(text);
    if (text.empty()) return {};
    for (;;) {
        const auto comma = text.find(',');
        const auto item = trim(text.substr(0, comma));
        if (item.empty()) return "a list item is empty (two commas in a row, or a trailing comma?)";
        out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return {};
}

}  // namespace strata::config_text
