#include "strata/security/principal_mapping.h"

#include <cctype>
#include <stdexcept>

namespace strata::security {

namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

[[noreturn]] void invalid(std::string_view rule, const std::string& why) {
    throw std::invalid_argument("invalid rule `" + std::string(rule) + "`: " + why);
}

// One '/'-terminated field of RULE:...: backslash escapes are kept as they
// are (the regex, and Java's replacement syntax, read them), as Kafka's
// RULE_PATTERN takes `(\\.|[^\\/])*`.
std::optional<std::string> field(std::string_view text, size_t& at) {
    std::string out;
    while (at < text.size()) {
        const char c = text[at];
        if (c == '/') {
            ++at;
            return out;
        }
        if (c == '\\' && at + 1 < text.size()) {
            out += text.substr(at, 2);
            at += 2;
            continue;
        }
        out += c;
        ++at;
    }
    return std::nullopt;
}

// Java's Matcher.replaceAll syntax: `\x` is x, `$n` is group n (as many
// digits as name an existing group). Kafka's mapper first turns a `$n`
// beyond the pattern's groups into a literal (escapeLiteralBackReferences).
using replacement_part = ssl_principal_mapper::replacement_part;

std::vector<replacement_part> parse_replacement(std::string_view rule, std::string_view r, size_t groups) {
    std::vector<replacement_part> parts;
    const auto literal = [&](std::string_view s) {
        if (parts.empty() || parts.back().group >= 0) parts.push_back({});
        parts.back().text += s;
    };
    for (size_t i = 0; i < r.size();) {
        const char c = r[i];
        if (c == '\\') {
            if (i + 1 == r.size()) invalid(rule, "the replacement ends with a lone backslash");
            literal(r.substr(i + 1, 1));
            i += 2;
            continue;
        }
        if (c != '$') {
            literal(r.substr(i, 1));
            ++i;
            continue;
        }
        if (i + 1 == r.size() || !std::isdigit(static_cast<unsigned char>(r[i + 1])))
            invalid(rule, "a `$` in the replacement must be followed by a group number (`\\$` is a dollar sign)");
        // Kafka's escaping: the longest prefix of the digits that names a
        // group; a number beyond the groups (not starting with 0) is literal.
        size_t end = i + 1;
        while (end < r.size() && std::isdigit(static_cast<unsigned char>(r[end]))) ++end;
        const std::string digits(r.substr(i + 1, end - i - 1));
        if (digits[0] != '0' && groups > 0) {
            size_t index = std::stoul(digits.substr(0, 9));
            while (index > groups && index >= 10) index /= 10;
            if (index > groups) {
                literal("$");
                ++i;
                continue;
            }
        }
        if (groups == 0 && digits[0] != '0')
            invalid(rule, "the replacement refers to group $" + digits.substr(0, 1) + " but the pattern has no groups");
        // Java's reading: the first digit, then more while they still name a group.
        size_t index = static_cast<size_t>(digits[0] - '0');
        size_t used = 1;
        while (used < digits.size()) {
            const size_t next = index * 10 + static_cast<size_t>(digits[used] - '0');
            if (next > groups) break;
            index = next;
            ++used;
        }
        parts.push_back({"", static_cast<int>(index)});
        i += 1 + used;
    }
    return parts;
}

}  // namespace

ssl_principal_mapper::ssl_principal_mapper(std::string_view rules) {
    size_t at = 0;
    const auto skip_spaces = [&] {
        while (at < rules.size() && is_space(rules[at])) ++at;
    };
    skip_spaces();
    while (at < rules.size()) {
        const size_t start = at;
        const auto rest = rules.substr(at);
        const auto next_comma = rules.find(',', at);
        const auto this_rule = rules.substr(start, next_comma == std::string_view::npos ? std::string_view::npos
                                                                                         : next_comma - start);
        if (rules[at] == ',') {  // an empty rule between commas: ignored, as Kafka does
            ++at;
            skip_spaces();
            continue;
        }
        rule r;
        if (rest.starts_with("DEFAULT")) {
            at += 7;
        } else if (rest.starts_with("RULE:")) {
            at += 5;
            auto pattern = field(rules, at);
            auto replacement = pattern ? field(rules, at) : std::nullopt;
            if (!pattern || !replacement)
                invalid(this_rule, "expected RULE:pattern/replacement/ with an optional L or U after the last /");
            r.is_default = false;
            r.pattern_text = *pattern;
            try {
                r.pattern = std::regex(*pattern, std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                invalid(this_rule, "the pattern `" + *pattern + "` is not a valid regular expression: " + e.what());
            }
            r.groups = r.pattern.mark_count();
            r.replacement = parse_replacement(this_rule, *replacement, r.groups);
            if (at < rules.size() && (rules[at] == 'L' || rules[at] == 'U')) r.case_change = rules[at++];
        } else {
            invalid(this_rule, "a rule is DEFAULT or RULE:pattern/replacement/[L|U]");
        }
        const size_t end = at;
        skip_spaces();
        if (at < rules.size() && rules[at] != ',') {
            const auto comma = rules.find(',', end);
            invalid(this_rule, "unexpected `" +
                                   std::string(rules.substr(end, comma == std::string_view::npos
                                                                     ? std::string_view::npos
                                                                     : comma - end)) +
                                   "` after the rule");
        }
        _rules.push_back(std::move(r));
        if (at < rules.size()) ++at;  // the comma
        skip_spaces();
    }
    if (_rules.empty())
        throw std::invalid_argument("no rules: every client certificate would be refused (DEFAULT keeps the subject)");
}

bool ssl_principal_mapper::is_default() const { return _rules.size() == 1 && _rules.front().is_default; }

std::optional<std::string> ssl_principal_mapper::map(const std::string& subject) const {
    for (const auto& r : _rules) {
        if (r.is_default) return subject;
        if (!std::regex_match(subject, r.pattern)) continue;
        // Java's replaceAll: every match, not only the whole subject (a
        // pattern that can match nothing also matches at the end).
        std::string out;
        auto last = subject.cbegin();
        for (std::sregex_iterator it(subject.begin(), subject.end(), r.pattern), done; it != done; ++it) {
            const auto& m = *it;
            out.append(last, m[0].first);
            for (const auto& p : r.replacement) out += p.group >= 0 ? m[static_cast<size_t>(p.group)].str() : p.text;
            last = m[0].second;
        }
        out.append(last, subject.cend());
        for (auto& ch : out) {
            if (r.case_change == 'L') ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (r.case_change == 'U') ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
        return out;
    }
    return std::nullopt;
}

}  // namespace strata::security
