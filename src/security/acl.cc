#include "strata/security/acl.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <unordered_map>

namespace strata::security {

namespace {

std::string normalized(std::string_view s) {
    std::string out;
    for (const char c : s)
        if (c != '_' && c != '-') out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

template <typename Enum, size_t N>
std::optional<Enum> parse_named(std::string_view s, const std::array<std::pair<Enum, std::string_view>, N>& names) {
    const auto wanted = normalized(s);
    for (const auto& [value, name] : names)
        if (normalized(name) == wanted) return value;
    return std::nullopt;
}

template <typename Enum, size_t N>
std::string_view name_in(Enum value, const std::array<std::pair<Enum, std::string_view>, N>& names) {
    for (const auto& [v, name] : names)
        if (v == value) return name;
    return "UNKNOWN";
}

constexpr std::array<std::pair<resource_type, std::string_view>, 8> resource_names{{
    {resource_type::unknown, "UNKNOWN"},
    {resource_type::any, "ANY"},
    {resource_type::topic, "TOPIC"},
    {resource_type::group, "GROUP"},
    {resource_type::cluster, "CLUSTER"},
    {resource_type::transactional_id, "TRANSACTIONAL_ID"},
    {resource_type::delegation_token, "DELEGATION_TOKEN"},
    {resource_type::user, "USER"},
}};

constexpr std::array<std::pair<acl_operation, std::string_view>, 15> operation_names{{
    {acl_operation::unknown, "UNKNOWN"},
    {acl_operation::any, "ANY"},
    {acl_operation::all, "ALL"},
    {acl_operation::read, "READ"},
    {acl_operation::write, "WRITE"},
    {acl_operation::create, "CREATE"},
    {acl_operation::remove, "DELETE"},
    {acl_operation::alter, "ALTER"},
    {acl_operation::describe, "DESCRIBE"},
    {acl_operation::cluster_action, "CLUSTER_ACTION"},
    {acl_operation::describe_configs, "DESCRIBE_CONFIGS"},
    {acl_operation::alter_configs, "ALTER_CONFIGS"},
    {acl_operation::idempotent_write, "IDEMPOTENT_WRITE"},
    {acl_operation::create_tokens, "CREATE_TOKENS"},
    {acl_operation::describe_tokens, "DESCRIBE_TOKENS"},
}};

constexpr std::array<std::pair<pattern_type, std::string_view>, 5> pattern_names{{
    {pattern_type::unknown, "UNKNOWN"},
    {pattern_type::any, "ANY"},
    {pattern_type::match, "MATCH"},
    {pattern_type::literal, "LITERAL"},
    {pattern_type::prefixed, "PREFIXED"},
}};

constexpr std::array<std::pair<acl_permission, std::string_view>, 4> permission_names{{
    {acl_permission::unknown, "UNKNOWN"},
    {acl_permission::any, "ANY"},
    {acl_permission::deny, "DENY"},
    {acl_permission::allow, "ALLOW"},
}};

bool known(resource_type t) {
    return t >= resource_type::unknown && t <= resource_type::user;
}
bool known(acl_operation o) {
    return o >= acl_operation::unknown && o <= acl_operation::describe_tokens;
}

// Whether an ALLOW for `granted` allows `wanted` (Kafka's implied operations).
bool allow_implies(acl_operation granted, acl_operation wanted) {
    if (granted == wanted || granted == acl_operation::all) return true;
    switch (wanted) {
    case acl_operation::describe:
        return granted == acl_operation::read || granted == acl_operation::write ||
               granted == acl_operation::remove || granted == acl_operation::alter;
    case acl_operation::describe_configs:
        return granted == acl_operation::alter_configs;
    default:
        return false;
    }
}

bool principal_matches(std::string_view acl_principal, const principal& who) {
    if (acl_principal == wildcard_principal) return true;
    return acl_principal.size() == who.type.size() + 1 + who.name.size() && acl_principal.starts_with(who.type) &&
           acl_principal[who.type.size()] == ':' && acl_principal.substr(who.type.size() + 1) == who.name;
}

}  // namespace

std::string_view name_of(resource_type t) { return name_in(t, resource_names); }
std::string_view name_of(acl_operation o) { return name_in(o, operation_names); }
std::string_view name_of(pattern_type p) { return name_in(p, pattern_names); }
std::string_view name_of(acl_permission p) { return name_in(p, permission_names); }
std::optional<resource_type> parse_resource_type(std::string_view s) { return parse_named(s, resource_names); }
std::optional<acl_operation> parse_operation(std::string_view s) { return parse_named(s, operation_names); }
std::optional<pattern_type> parse_pattern_type(std::string_view s) { return parse_named(s, pattern_names); }
std::optional<acl_permission> parse_permission(std::string_view s) { return parse_named(s, permission_names); }

std::string_view host_of(std::string_view address) {
    if (address.starts_with('[')) {
        const auto end = address.find(']');
        return end == std::string_view::npos ? address.substr(1) : address.substr(1, end - 1);
    }
    const auto colon = address.rfind(':');
    return colon == std::string_view::npos ? address : address.substr(0, colon);
}

std::set<std::string, std::less<>> parse_super_users(std::string_view value) {
    std::set<std::string, std::less<>> out;
    while (!value.empty()) {
        const auto semicolon = value.find(';');
        auto item = value.substr(0, semicolon);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.remove_prefix(1);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.remove_suffix(1);
        if (!item.empty()) out.emplace(item);
        if (semicolon == std::string_view::npos) break;
        value.remove_prefix(semicolon + 1);
    }
    return out;
}

bool acl_filter::matches(const acl_binding& acl) const {
    if (type != resource_type::any && type != acl.type) return false;
    switch (pattern) {
    case pattern_type::any:
        if (name && *name != acl.name) return false;
        break;
    case pattern_type::match:
        if (name) {
            const bool literal_hit =
                acl.pattern == pattern_type::literal && (acl.name == *name || acl.name == wildcard_resource);
            const bool prefix_hit = acl.pattern == pattern_type::prefixed && name->starts_with(acl.name);
            if (!literal_hit && !prefix_hit) return false;
        }
        break;
    default:
        if (pattern != acl.pattern || (name && *name != acl.name)) return false;
    }
    if (principal && *principal != acl.principal) return false;
    if (host && *host != acl.host) return false;
    if (operation != acl_operation::any && operation != acl.operation) return false;
    if (permission != acl_permission::any && permission != acl.permission) return false;
    return true;
}

std::optional<std::string> acl_filter::invalid() const {
    if (!known(type) || type == resource_type::unknown) return "Unknown resource type";
    if (pattern < pattern_type::any || pattern > pattern_type::prefixed) return "Unknown pattern type";
    if (!known(operation) || operation == acl_operation::unknown) return "Unknown operation";
    if (permission < acl_permission::any || permission > acl_permission::allow) return "Unknown permission type";
    return std::nullopt;
}

std::optional<std::string> invalid_acl(const acl_binding& acl) {
    if (!known(acl.type) || acl.type == resource_type::unknown || acl.type == resource_type::any)
        return "Invalid resource type " + std::to_string(int(acl.type));
    if (acl.pattern != pattern_type::literal && acl.pattern != pattern_type::prefixed)
        return "Invalid patternType " + std::to_string(int(acl.pattern));
    if (!known(acl.operation) || acl.operation == acl_operation::unknown || acl.operation == acl_operation::any)
        return "Invalid operation " + std::to_string(int(acl.operation));
    if (acl.permission != acl_permission::allow && acl.permission != acl_permission::deny)
        return "Invalid permissionType " + std::to_string(int(acl.permission));
    if (acl.name.empty()) return "Resource name must not be empty";
    if (acl.type == resource_type::cluster && acl.name != cluster_resource_name)
        return "The only valid name for the CLUSTER resource is kafka-cluster";
    const auto colon = acl.principal.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == acl.principal.size())
        return "Could not parse principal from `" + acl.principal + "` (no colon is present separating the "
               "principal type from the principal name)";
    if (acl.host.empty()) return "Host must not be empty";
    return std::nullopt;
}

// The bindings by resource type, then pattern and name: a decision looks up
// the resource's literal name, the literal wildcard, and one prefix per
// distinct prefixed-pattern length.
struct standard_authorizer::index {
    struct entry {
        std::string principal;
        std::string host;
        acl_operation operation;
        acl_permission permission;
    };
    struct by_resource {
        std::unordered_map<std::string, std::vector<entry>> literal;
        std::unordered_map<std::string, std::vector<entry>> prefixed;
        std::vector<size_t> prefix_lengths;  // sorted, distinct
    };
    std::array<by_resource, 8> types;
    size_t count = 0;
};

standard_authorizer::standard_authorizer(authorizer_settings settings)
    : _settings(std::move(settings)), _index(std::make_shared<const index>()) {}

standard_authorizer::~standard_authorizer() = default;

void standard_authorizer::set_acls(const std::vector<acl_binding>& acls) {
    auto next = std::make_shared<index>();
    for (const auto& acl : acls) {
        if (!known(acl.type)) continue;
        auto& slot = next->types[static_cast<size_t>(acl.type)];
        const index::entry e{acl.principal, acl.host, acl.operation, acl.permission};
        if (acl.pattern == pattern_type::literal) {
            slot.literal[acl.name].push_back(e);
        } else if (acl.pattern == pattern_type::prefixed) {
            slot.prefixed[acl.name].push_back(e);
            slot.prefix_lengths.push_back(acl.name.size());
        } else {
            continue;
        }
        ++next->count;
    }
    for (auto& slot : next->types) {
        std::sort(slot.prefix_lengths.begin(), slot.prefix_lengths.end());
        slot.prefix_lengths.erase(std::unique(slot.prefix_lengths.begin(), slot.prefix_lengths.end()),
                                  slot.prefix_lengths.end());
    }
    _index.store(std::move(next), std::memory_order_release);
}

size_t standard_authorizer::acl_count() const { return _index.load(std::memory_order_acquire)->count; }

bool standard_authorizer::decide(const index& acls, const principal& who, std::string_view host,
                                 const action& wanted) const {
    if (!known(wanted.type)) return false;
    const auto& slot = acls.types[static_cast<size_t>(wanted.type)];
    bool found_any = false;
    bool allowed = false;
    // Returns true when a DENY decides.
    const auto scan = [&](const std::vector<index::entry>& entries) {
        found_any = found_any || !entries.empty();
        for (const auto& e : entries) {
            if (!principal_matches(e.principal, who)) continue;
            if (e.host != wildcard_host && e.host != host) continue;
            if (e.permission == acl_permission::deny) {
                if (e.operation == wanted.operation || e.operation == acl_operation::all) return true;
            } else if (e.permission == acl_permission::allow && allow_implies(e.operation, wanted.operation)) {
                allowed = true;
            }
        }
        return false;
    };
    const auto literal = [&](std::string_view name) -> const std::vector<index::entry>* {
        if (slot.literal.empty()) return nullptr;
        auto found = slot.literal.find(std::string(name));
        return found == slot.literal.end() ? nullptr : &found->second;
    };
    if (const auto* exact = literal(wanted.name); exact && scan(*exact)) return false;
    if (wanted.name != wildcard_resource) {
        if (const auto* any = literal(wildcard_resource); any && scan(*any)) return false;
    }
    for (const size_t length : slot.prefix_lengths) {
        if (length > wanted.name.size()) break;
        auto found = slot.prefixed.find(std::string(wanted.name.substr(0, length)));
        if (found != slot.prefixed.end() && scan(found->second)) return false;
    }
    return allowed || (!found_any && _settings.allow_everyone_if_no_acl_found);
}

bool standard_authorizer::authorize_one(const request_identity& who, const action& wanted) const {
    if (!_settings.super_users.empty() && _settings.super_users.contains(who.principal.to_string())) return true;
    const auto acls = _index.load(std::memory_order_acquire);
    return decide(*acls, who.principal, host_of(who.client_address), wanted);
}

bool standard_authorizer::authorize_by_resource_type(const request_identity& who, acl_operation operation,
                                                     resource_type type) const {
    if (!_settings.super_users.empty() && _settings.super_users.contains(who.principal.to_string())) return true;
    if (!known(type)) return false;
    const auto acls = _index.load(std::memory_order_acquire);
    const auto& slot = acls->types[static_cast<size_t>(type)];
    const auto host = host_of(who.client_address);
    const auto applies = [&](const index::entry& e) {
        return principal_matches(e.principal, who.principal) && (e.host == wildcard_host || e.host == host) &&
               (e.operation == operation || e.operation == acl_operation::all);
    };
    std::set<std::string, std::less<>> deny_literal, deny_prefixed, allow_literal, allow_prefixed;
    bool wildcard_allow = false;
    const auto collect = [&](const auto& map, bool prefixed) {
        for (const auto& [name, entries] : map) {
            for (const auto& e : entries) {
                if (!applies(e)) continue;
                const bool deny = e.permission == acl_permission::deny;
                if (!deny && e.permission != acl_permission::allow) continue;
                if (!prefixed && name == wildcard_resource) {
                    if (deny) return true;  // a DENY on every resource decides
                    wildcard_allow = true;
                    continue;
                }
                auto& into = prefixed ? (deny ? deny_prefixed : allow_prefixed) : (deny ? deny_literal : allow_literal);
                into.insert(name);
            }
        }
        return false;
    };
    if (collect(slot.literal, false) || collect(slot.prefixed, true)) return false;
    if (wildcard_allow) return true;
    const auto dominated = [&](const std::string& name) {
        for (size_t length = 1; length <= name.size(); ++length)
            if (deny_prefixed.contains(std::string_view(name).substr(0, length))) return true;
        return false;
    };
    for (const auto& name : allow_literal)
        if (!deny_literal.contains(name) && !dominated(name)) return true;
    for (const auto& name : allow_prefixed)
        if (!dominated(name)) return true;
    return false;
}

std::vector<bool> standard_authorizer::authorize(const request_identity& who, std::span<const action> actions) const {
    if (!_settings.super_users.empty() && _settings.super_users.contains(who.principal.to_string()))
        return std::vector<bool>(actions.size(), true);
    const auto acls = _index.load(std::memory_order_acquire);
    const auto host = host_of(who.client_address);
    std::vector<bool> out;
    out.reserve(actions.size());
    for (const auto& a : actions) out.push_back(decide(*acls, who.principal, host, a));
    return out;
}

}  // namespace strata::security
