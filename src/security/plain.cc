#include <openssl/crypto.h>

#include <fmt/format.h>

#include "strata/security/jaas.h"
#include "strata/security/sasl.h"

namespace strata::security {

namespace {

class plain_exchange final : public sasl_exchange {
public:
    explicit plain_exchange(plain_lookup password_of) : _password_of(std::move(password_of)) {}

    step evaluate(std::string_view token) override {
        if (_done) return {false, false, {}, "unexpected token after the exchange ended"};
        _done = true;
        const size_t first = token.find('\0');
        const size_t second = first == std::string_view::npos ? first : token.find('\0', first + 1);
        if (second == std::string_view::npos || token.find('\0', second + 1) != std::string_view::npos)
            return {false, false, {}, "malformed PLAIN token"};
        const auto authzid = token.substr(0, first);
        _user = std::string(token.substr(first + 1, second - first - 1));
        const auto password = token.substr(second + 1);
        if (_user.empty()) return {false, false, {}, "empty username"};
        if (!authzid.empty() && authzid != _user)
            return {false, false, {}, "authorization id differs from the username"};
        const auto expected = _password_of(_user);
        if (!expected) return {false, false, {}, "unknown user"};
        // Constant time over the expected password's length.
        bool same = expected->size() == password.size();
        const std::string padded = same ? std::string(password) : std::string(expected->size(), '\0');
        same = CRYPTO_memcmp(padded.data(), expected->data(), expected->size()) == 0 && same;
        if (!same) return {false, false, {}, "invalid credentials"};
        return {true, true, {}, {}};
    }
    const std::string& user() const override { return _user; }

private:
    plain_lookup _password_of;
    std::string _user;
    bool _done = false;
};

void skip_space(std::string_view s, size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
}

}  // namespace

std::unique_ptr<sasl_exchange> make_plain_exchange(plain_lookup password_of) {
    return std::make_unique<plain_exchange>(std::move(password_of));
}

// `LoginModuleClass required key="value" key2="value2";`
std::optional<jaas_entry> parse_jaas_entry(std::string_view jaas, std::string_view module_name, std::string& error) {
    size_t i = 0;
    skip_space(jaas, i);
    const size_t module_end = jaas.find_first_of(" \t\n", i);
    if (module_end == std::string_view::npos) {
        error = "expected `<LoginModule> required <options>;`";
        return std::nullopt;
    }
    jaas_entry entry;
    entry.login_module = std::string(jaas.substr(i, module_end - i));
    const std::string_view module = entry.login_module;
    const size_t dot = module.rfind('.');
    if (module.substr(dot == std::string_view::npos ? 0 : dot + 1) != module_name) {
        error =
            fmt::format("the login module must be {} (got {})",
                        module_name == "PlainLoginModule"   ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                        : module_name == "ScramLoginModule" ? "org.apache.kafka.common.security.scram.ScramLoginModule"
                                                            : std::string(module_name),
                        module);
        return std::nullopt;
    }
    i = module_end;
    skip_space(jaas, i);
    const size_t flag_end = jaas.find_first_of(" \t\n;", i);
    const auto flag = jaas.substr(i, flag_end == std::string_view::npos ? std::string_view::npos : flag_end - i);
    if (flag != "required" && flag != "requisite" && flag != "sufficient" && flag != "optional") {
        error = "expected a control flag (required) after the login module";
        return std::nullopt;
    }
    i = flag_end;
    for (;;) {
        skip_space(jaas, i);
        if (i >= jaas.size()) {
            error = "missing the closing ';'";
            return std::nullopt;
        }
        if (jaas[i] == ';') break;
        const size_t eq = jaas.find('=', i);
        if (eq == std::string_view::npos) {
            error = "expected key=\"value\"";
            return std::nullopt;
        }
        const std::string key(jaas.substr(i, eq - i));
        i = eq + 1;
        std::string value;
        if (i < jaas.size() && jaas[i] == '"') {
            ++i;
            while (i < jaas.size() && jaas[i] != '"') {
                if (jaas[i] == '\\' && i + 1 < jaas.size()) ++i;
                value += jaas[i++];
            }
            if (i >= jaas.size()) {
                error = "unterminated quoted value for " + key;
                return std::nullopt;
            }
            ++i;
        } else {
            while (i < jaas.size() && jaas[i] != ' ' && jaas[i] != ';' && jaas[i] != '\n') value += jaas[i++];
        }
        entry.options[key] = std::move(value);
    }
    return entry;
}

std::string_view jaas_login_module(std::string_view mechanism) {
    if (mechanism == "PLAIN") return "PlainLoginModule";
    if (mechanism == "SCRAM-SHA-256" || mechanism == "SCRAM-SHA-512") return "ScramLoginModule";
    return {};
}

std::optional<std::map<std::string, std::string>> parse_plain_jaas_users(std::string_view jaas, std::string& error) {
    auto entry = parse_jaas_entry(jaas, "PlainLoginModule", error);
    if (!entry) return std::nullopt;
    std::map<std::string, std::string> users;
    for (auto& [key, value] : entry->options) {
        if (key.rfind("user_", 0) == 0 && key.size() > 5) users[key.substr(5)] = value;
    }
    return users;
}

}  // namespace strata::security
