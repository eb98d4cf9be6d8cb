// SASL/OAUTHBEARER: the client's initial response, Kafka's unsecured JWS
// validator, and the exchange. The JWKS validator is in jwks.cc.
#include "strata/security/oauthbearer.h"

#include <cmath>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "strata/security/scram.h"

namespace strata::security {

namespace {

constexpr char separator = '\x01';

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// VALUE of Kafka's grammar: [\x21-\x7E \t\r\n]+
bool valid_extension_value(std::string_view v) {
    if (v.empty()) return false;
    for (const char c : v) {
        const auto u = static_cast<unsigned char>(c);
        if (!((u >= 0x21 && u <= 0x7E) || c == ' ' || c == '\t' || c == '\r' || c == '\n')) return false;
    }
    return true;
}

// SASLNAME: ([\x01-\x7F] but '=' and ',' | =2C | =3D)+
bool valid_saslname(std::string_view s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const auto u = static_cast<unsigned char>(s[i]);
        if (s[i] == '=') {
            if (s.substr(i, 3) != "=2C" && s.substr(i, 3) != "=3D") return false;
            i += 2;
            continue;
        }
        if (u < 0x01 || u > 0x7F || s[i] == ',') return false;
    }
    return true;
}

bool is_word(char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '_'; }
bool is_token_char(char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'; }

}  // namespace

int64_t system_wall_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string standard(text);
    for (auto& c : standard) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
    }
    if (standard.size() % 4 == 1) return std::nullopt;
    while (standard.size() % 4 != 0) standard += '=';
    const auto decoded = base64_decode(standard);
    if (!decoded) return std::nullopt;
    return std::string(decoded->begin(), decoded->end());
}

std::string base64url_encode(std::string_view data) {
    auto text = base64_encode(bytes(data.begin(), data.end()));
    while (!text.empty() && text.back() == '=') text.pop_back();
    for (auto& c : text) {
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return text;
}

std::optional<oauthbearer_initial_response> parse_oauthbearer_initial_response(std::string_view message,
                                                                               std::string& error) {
    const auto malformed = [&] {
        error = "Invalid OAUTHBEARER client first message";
        return std::nullopt;
    };
    // GS2 header: "n," [ "a=" saslname ] "," then ^A.
    if (message.substr(0, 2) != "n,") return malformed();
    size_t i = 2;
    oauthbearer_initial_response out;
    if (message.substr(i, 2) == "a=") {
        const size_t comma = message.find(',', i + 2);
        if (comma == std::string_view::npos) return malformed();
        const auto name = message.substr(i + 2, comma - i - 2);
        if (!valid_saslname(name)) return malformed();
        out.authorization_id = std::string(name);
        i = comma;
    }
    if (message.substr(i, 2) != std::string_view(",\x01", 2)) return malformed();
    i += 2;
    // kvpairs: (KEY=VALUE ^A)* then a closing ^A, which ends the message.
    if (message.empty() || message.back() != separator) return malformed();
    const auto pairs = message.substr(i, message.size() - 1 - i);
    std::map<std::string, std::string> properties;
    size_t at = 0;
    while (at < pairs.size()) {
        const size_t end = pairs.find(separator, at);
        if (end == std::string_view::npos) return malformed();  // a pair without its ^A
        const auto pair = pairs.substr(at, end - at);
        const size_t eq = pair.find('=');
        if (eq == std::string_view::npos || eq == 0) return malformed();
        const auto key = pair.substr(0, eq);
        const auto value = pair.substr(eq + 1);
        for (const char c : key)
            if (!is_alpha(c)) return malformed();
        if (!valid_extension_value(value)) return malformed();
        properties[std::string(key)] = std::string(value);
        at = end + 1;
    }
    auto auth = properties.find("auth");
    if (auth == properties.end()) {
        error = "Invalid OAUTHBEARER client first message: 'auth' not specified";
        return std::nullopt;
    }
    // auth: (?<scheme>\w+)[ ]+(?<token>[-_.a-zA-Z0-9]+)
    const std::string_view value = auth->second;
    size_t s = 0;
    while (s < value.size() && is_word(value[s])) ++s;
    size_t t = s;
    while (t < value.size() && value[t] == ' ') ++t;
    bool token_ok = s > 0 && t > s && t < value.size();
    for (size_t k = t; token_ok && k < value.size(); ++k) token_ok = is_token_char(value[k]);
    if (!token_ok) {
        error = "Invalid OAUTHBEARER client first message: invalid 'auth' format";
        return std::nullopt;
    }
    std::string scheme(value.substr(0, s));
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "bearer") {
        error = fmt::format("Invalid scheme in OAUTHBEARER client first message: {}", value.substr(0, s));
        return std::nullopt;
    }
    out.token = std::string(value.substr(t));
    properties.erase(auth);
    out.extensions = std::move(properties);
    return out;
}

std::string oauthbearer_error_json(const std::string& status, const std::optional<std::string>& scope) {
    std::string json = fmt::format("{{\"status\":\"{}\"", status);
    if (scope) json += fmt::format(", \"scope\":\"{}\"", *scope);
    return json + "}";
}

// ---- the unsecured validator (OAuthBearerUnsecuredJws + ValidationUtils) ----

std::optional<unsecured_validator_options> unsecured_validator_options_from(
    const std::map<std::string, std::string>& jaas_options, std::string& error) {
    unsecured_validator_options options;
    const auto trimmed = [](std::string s) {
        const auto b = s.find_first_not_of(" \t");
        if (b == std::string::npos) return std::string();
        return s.substr(b, s.find_last_not_of(" \t") - b + 1);
    };
    if (auto it = jaas_options.find("unsecuredValidatorPrincipalClaimName"); it != jaas_options.end()) {
        if (auto v = trimmed(it->second); !v.empty()) options.principal_claim_name = v;
    }
    if (auto it = jaas_options.find("unsecuredValidatorScopeClaimName"); it != jaas_options.end()) {
        if (auto v = trimmed(it->second); !v.empty()) options.scope_claim_name = v;
    }
    if (auto it = jaas_options.find("unsecuredValidatorRequiredScope"); it != jaas_options.end()) {
        std::istringstream words(it->second);
        for (std::string w; words >> w;) options.required_scope.push_back(w);
    }
    if (auto it = jaas_options.find("unsecuredValidatorAllowableClockSkewMs"); it != jaas_options.end()) {
        const auto v = trimmed(it->second);
        if (!v.empty()) {
            try {
                size_t used = 0;
                const long long n = std::stoll(v, &used);
                if (used != v.size() || n > INT32_MAX) throw std::invalid_argument(v);
                if (n < 0) {
                    error = fmt::format("Allowable clock skew millis must not be negative: {}", v);
                    return std::nullopt;
                }
                options.allowable_clock_skew_ms = static_cast<int32_t>(n);
            } catch (const std::exception&) {
                error = fmt::format("unsecuredValidatorAllowableClockSkewMs: not an integer: {}", v);
                return std::nullopt;
            }
        }
    }
    return options;
}

namespace {

using json = nlohmann::json;

oauthbearer_validation invalid(std::string reason) {
    oauthbearer_validation v;
    v.reason = std::move(reason);
    return v;
}

// A claim's seconds as Kafka reads a Number: fractional allowed.
std::optional<double> number_claim(const json& claims, const std::string& name, bool& wrong_type) {
    auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number()) {
        wrong_type = true;
        return std::nullopt;
    }
    return it->get<double>();
}

// Jackson's asText for what is neither a number nor an array.
std::string as_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
    if (v.is_null()) return "null";
    return "";
}

std::string java_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out + "]";
}

std::optional<json> decode_json_part(std::string_view part) {
    const auto text = base64url_decode(part);
    if (!text) return std::nullopt;
    auto parsed = json::parse(*text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    return parsed;
}

oauthbearer_validation validate_unsecured(const unsecured_validator_options& options, int64_t now,
                                          std::string_view token) {
    if (token.find("..") != std::string_view::npos) return invalid("Malformed compact serialization contains '..'");
    std::vector<std::string_view> parts;
    for (size_t at = 0;;) {
        const size_t dot = token.find('.', at);
        parts.push_back(token.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at));
        if (dot == std::string_view::npos) break;
        at = dot + 1;
    }
    if (parts.size() != 3)
        return invalid("Unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values");
    const auto header = decode_json_part(parts[0]);
    const auto claims = decode_json_part(parts[1]);
    if (!header || !claims) return invalid("malformed Base64 URL encoded value or JSON");
    const auto alg = header->find("alg");
    if (alg == header->end()) return invalid("JWS header must have an Algorithm value");
    if (as_text(*alg) != "none") return invalid("Unsecured JWS must have 'none' for an algorithm");
    if (!parts[2].empty()) return invalid("Unsecured JWS must not contain a digital signature");

    oauthbearer_token result;
    // Scope: a string is one scope (Kafka's calculateScope), a list its items.
    if (auto s = claims->find(options.scope_claim_name); s != claims->end()) {
        if (s->is_array()) {
            for (const auto& item : *s) {
                auto text = item.is_string() ? item.get<std::string>() : item.dump();
                const auto b = text.find_first_not_of(" \t");
                if (b != std::string::npos) result.scope.insert(text.substr(b, text.find_last_not_of(" \t") - b + 1));
            }
        } else if (s->is_number()) {
            return invalid(fmt::format("The '{}' claim was not of type List", options.scope_claim_name));
        } else {
            auto text = as_text(*s);
            const auto b = text.find_first_not_of(" \t");
            if (b != std::string::npos) result.scope.insert(text.substr(b, text.find_last_not_of(" \t") - b + 1));
        }
    }
    bool wrong_type = false;
    const auto exp = number_claim(*claims, "exp", wrong_type);
    if (wrong_type) return invalid("The 'exp' claim was not of type Number");
    if (!exp) return invalid("No expiration time in JWT");
    const auto principal = claims->find(options.principal_claim_name);
    if (principal == claims->end()) return invalid("Required claim missing: " + options.principal_claim_name);
    if (principal->is_number() || principal->is_array())
        return invalid(fmt::format("The '{}' claim was not of type String", options.principal_claim_name));
    result.principal = as_text(*principal);
    if (result.principal.find_first_not_of(" \t\r\n") == std::string::npos)
        return invalid("No principal name in JWT claim: " + options.principal_claim_name);
    const auto iat = number_claim(*claims, "iat", wrong_type);
    if (wrong_type) return invalid("The 'iat' claim was not of type Number");
    const double skew = options.allowable_clock_skew_ms;
    if (iat && 1000 * *iat > static_cast<double>(now) + skew)
        return invalid(fmt::format("The Issued At value ({:f} seconds) was after the indicated time ({} ms) plus "
                                   "allowable clock skew ({} ms)",
                                   *iat, now, options.allowable_clock_skew_ms));
    if (static_cast<double>(now) - skew >= 1000 * *exp)
        return invalid(fmt::format("The indicated time ({} ms) minus allowable clock skew ({} ms) was on or after "
                                   "the Expiration Time value ({:f} seconds)",
                                   now, options.allowable_clock_skew_ms, *exp));
    if (iat && *exp <= *iat)
        return invalid(fmt::format("The Expiration Time time ({:f} seconds) was not after the Issued At time ({:f} "
                                   "seconds)",
                                   *exp, *iat));
    for (const auto& required : options.required_scope) {
        if (!result.scope.count(required)) {
            auto failure = invalid(fmt::format("The provided scope was missing a required scope ({}). All required "
                                               "scope elements: {}",
                                               required, java_list(options.required_scope)));
            failure.status = "insufficient_scope";
            failure.scope = java_list(options.required_scope);
            return failure;
        }
    }
    result.lifetime_ms = static_cast<int64_t>(std::llround(*exp * 1000));
    if (iat) result.start_ms = static_cast<int64_t>(std::llround(*iat * 1000));
    oauthbearer_validation ok;
    ok.token = std::move(result);
    return ok;
}

// ---- the exchange (OAuthBearerSaslServer) ----

class oauthbearer_exchange final : public sasl_exchange {
public:
    explicit oauthbearer_exchange(oauthbearer_validator validator) : _validator(std::move(validator)) {}

    step evaluate(std::string_view message) override {
        if (_complete) return {false, false, {}, "unexpected token after the exchange ended"};
        _client_error.clear();
        // The client's acknowledgement of our error JSON: now the failure.
        if (message.size() == 1 && message[0] == separator && _error_json) {
            _client_error = *_error_json;
            return {false, false, {}, "token refused: " + _error_reason};
        }
        _error_json.reset();
        std::string error;
        const auto initial = parse_oauthbearer_initial_response(message, error);
        if (!initial) return {false, false, {}, error};
        auto validation = _validator(initial->token);
        if (!validation.token) {
            // Not yet a failure: RFC 7628 has the server answer the error and
            // the client acknowledge it.
            _error_json = oauthbearer_error_json(validation.status, validation.scope);
            _error_reason = validation.reason;
            return {true, false, *_error_json, {}};
        }
        _user = validation.token->principal;
        if (!initial->authorization_id.empty() && initial->authorization_id != _user) {
            _client_error = fmt::format(
                "Authentication failed: Client requested an authorization id ({}) that is different from the "
                "token's principal name ({})",
                initial->authorization_id, _user);
            return {false, false, {}, "authorization id differs from the token's principal"};
        }
        _expiry_ms = validation.token->lifetime_ms;
        _complete = true;
        return {true, true, {}, {}};
    }
    const std::string& user() const override { return _user; }
    std::string client_error() const override { return _client_error; }
    std::optional<int64_t> credential_expiry_ms() const override {
        return _complete ? std::optional<int64_t>(_expiry_ms) : std::nullopt;
    }

private:
    oauthbearer_validator _validator;
    std::string _user;
    std::optional<std::string> _error_json;
    std::string _error_reason;
    std::string _client_error;
    int64_t _expiry_ms = 0;
    bool _complete = false;
};

}  // namespace

oauthbearer_validator make_unsecured_validator(unsecured_validator_options options, wall_clock_ms clock) {
    return [options = std::move(options), clock = std::move(clock)](std::string_view token) {
        return validate_unsecured(options, clock(), token);
    };
}

std::unique_ptr<sasl_exchange> make_oauthbearer_exchange(oauthbearer_validator validator) {
    return std::make_unique<oauthbearer_exchange>(std::move(validator));
}

}  // namespace strata::security
