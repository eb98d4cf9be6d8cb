#include "config_values.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace strata::server::detail {

namespace {

// host:port or [v6]:port, after the "NAME://" or "id@" prefix.
std::string parse_host_port(std::string_view text, std::string& host, uint16_t& port) {
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return fmt::format("expected [address]:port, got '{}'", text);
        }
        host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) return fmt::format("expected host:port, got '{}'", text);
        host = std::string(text.substr(0, colon));
        if (host.find(':') != std::string::npos) {
            return fmt::format("an IPv6 address must be in brackets ([::1]:9092), got '{}'", text);
        }
        port_text = text.substr(colon + 1);
    }
    int32_t number = 0;
    if (!parse_value(port_text, number).empty() || number < 0 || number > 65535) {
        return fmt::format("port must be 0 to 65535, got '{}'", port_text);
    }
    port = static_cast<uint16_t>(number);
    return {};
}

bool valid_listener_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-';
    });
}

}  // namespace

std::string parse_value(std::string_view text, std::vector<listener>& out) {
    std::vector<std::string> items;
    if (auto problem = parse_value(text, items); !problem.empty()) return problem;
    out.clear();
    for (const auto& item : items) {
        const auto scheme = item.find("://");
        if (scheme == std::string::npos) {
            return fmt::format("expected NAME://host:port, got '{}'", item);
        }
        listener parsed;
        parsed.name = upper(item.substr(0, scheme));
        if (!valid_listener_name(parsed.name)) {
            return fmt::format("listener name must be letters, digits, '_' or '-', got '{}'", item.substr(0, scheme));
        }
        if (auto problem = parse_host_port(std::string_view(item).substr(scheme + 3), parsed.host, parsed.port);
            !problem.empty()) {
            return fmt::format("in '{}': {}", item, problem);
        }
        out.push_back(std::move(parsed));
    }
    return {};
}

std::string parse_value(std::string_view text, std::vector<quorum_voter>& out) {
    std::vector<std::string> items;
    if (auto problem = parse_value(text, items); !problem.empty()) return problem;
    out.clear();
    for (const auto& item : items) {
        const auto at = item.find('@');
        if (at == std::string::npos) return fmt::format("expected id@host:port, got '{}'", item);
        quorum_voter voter;
        if (!parse_value(std::string_view(item).substr(0, at), voter.id).empty() || voter.id < 0) {
            return fmt::format("in '{}': the id must be a non-negative integer", item);
        }
        if (auto problem = parse_host_port(std::string_view(item).substr(at + 1), voter.host, voter.port);
            !problem.empty()) {
            return fmt::format("in '{}': {}", item, problem);
        }
        if (voter.host.empty() || voter.port == 0) {
            return fmt::format("in '{}': a voter needs a host and a port", item);
        }
        out.push_back(std::move(voter));
    }
    return {};
}

std::string parse_value(std::string_view text, std::map<std::string, std::string>& out) {
    std::vector<std::string> items;
    if (auto problem = parse_value(text, items); !problem.empty()) return problem;
    out.clear();
    for (const auto& item : items) {
        const auto colon = item.find(':');
        if (colon == std::string::npos) return fmt::format("expected KEY:VALUE, got '{}'", item);
        auto key = upper(trim(std::string_view(item).substr(0, colon)));
        auto value = upper(trim(std::string_view(item).substr(colon + 1)));
        if (key.empty() || value.empty()) return fmt::format("expected KEY:VALUE, got '{}'", item);
        if (!out.emplace(key, value).second) return fmt::format("'{}' is mapped twice", key);
    }
    return {};
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace strata::server::detail
