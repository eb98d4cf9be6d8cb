// ssl.principal.mapping.rules (KIP-371): how the subject of a client's
// certificate (RFC 2253, "CN=alice,O=Example") becomes the name of its
// principal on SSL listeners, with Kafka's SslPrincipalMapper rules:
//
//   DEFAULT                       the subject as it is
//   RULE:pattern/replacement/     when `pattern` matches the whole subject,
//   RULE:pattern/replacement/L    every match replaced by `replacement`
//   RULE:pattern/replacement/U    ($1... its groups), optionally lower/upper cased
//
// separated by commas, tried in order; the first that applies names the
// principal. `\/` writes a slash inside a pattern or replacement.
#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace strata::security {

class ssl_principal_mapper {
public:
    // Throws std::invalid_argument saying which rule is wrong and why.
    explicit ssl_principal_mapper(std::string_view rules = "DEFAULT");

    // The principal name, or nullopt when no rule applies (Kafka then fails
    // the connection's authentication).
    std::optional<std::string> map(const std::string& subject) const;

    // Only DEFAULT: map() is the identity.
    bool is_default() const;

    // A piece of a replacement: literal text, or a group of the match (group >= 0).
    struct replacement_part {
        std::string text;
        int group = -1;
    };

private:
    struct rule {
        bool is_default = true;
        std::string pattern_text;
        std::regex pattern;
        std::vector<replacement_part> replacement;
        size_t groups = 0;
        char case_change = 0;  // 'L', 'U' or 0
    };
    std::vector<rule> _rules;
};

}  // namespace strata::security
