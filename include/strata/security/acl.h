// ACLs and Kafka's StandardAuthorizer (org.apache.kafka.metadata.authorizer):
// what an ACL binding is, how the filters of DescribeAcls / DeleteAcls match
// bindings, and the authorizer that decides requests from the bindings the
// metadata log holds (AccessControlEntryRecord). Independent of the metadata
// layer: the server hands the authorizer the image's bindings whenever they
// change.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "strata/security/authorizer.h"

namespace strata::security {

// Kafka's PatternType wire codes.
enum class pattern_type : int8_t { unknown = 0, any = 1, match = 2, literal = 3, prefixed = 4 };
// Kafka's AclPermissionType wire codes.
enum class acl_permission : int8_t { unknown = 0, any = 1, deny = 2, allow = 3 };

// Kafka's wildcards: a literal resource name matching every resource, a
// principal matching every principal, a host matching every host.
inline constexpr std::string_view wildcard_resource = "*";
inline constexpr std::string_view wildcard_principal = "User:*";
inline constexpr std::string_view wildcard_host = "*";

// One ACL (Kafka's AclBinding): a resource pattern and an access control entry.
struct acl_binding {
    resource_type type = resource_type::unknown;
    std::string name;
    pattern_type pattern = pattern_type::literal;
    std::string principal;  // "User:alice"
    std::string host = "*";
    acl_operation operation = acl_operation::unknown;
    acl_permission permission = acl_permission::unknown;
    auto operator<=>(const acl_binding&) const = default;
};

// Kafka's AclBindingFilter: unset and ANY parts match everything; MATCH
// matches the literal name, the literal wildcard and every prefix of it.
struct acl_filter {
    resource_type type = resource_type::any;
    std::optional<std::string> name;
    pattern_type pattern = pattern_type::any;
    std::optional<std::string> principal;
    std::optional<std::string> host;
    acl_operation operation = acl_operation::any;
    acl_permission permission = acl_permission::any;

    bool matches(const acl_binding& acl) const;
    // Why the filter cannot be used (Kafka's AclBindingFilter.findIndefiniteField
    // is not it: filters may be indefinite), or nullopt: unknown codes.
    std::optional<std::string> invalid() const;
};

// Why a binding may not be created (Kafka's AclControlManager.validateNewAcl
// and the broker's checks), or nullopt.
std::optional<std::string> invalid_acl(const acl_binding& acl);

// Kafka's names ("TOPIC", "READ", "PREFIXED", "ALLOW"...), for the CLI and
// messages; parsing ignores case and accepts Kafka's spellings
// (TransactionalId, transactional-id, DelegationToken...).
std::string_view name_of(resource_type t);
std::string_view name_of(acl_operation o);
std::string_view name_of(pattern_type p);
std::string_view name_of(acl_permission p);
std::optional<resource_type> parse_resource_type(std::string_view s);
std::optional<acl_operation> parse_operation(std::string_view s);
std::optional<pattern_type> parse_pattern_type(std::string_view s);
std::optional<acl_permission> parse_permission(std::string_view s);

// The address part of "127.0.0.1:53412" or "[::1]:53412" (what an ACL's
// host is compared with).
std::string_view host_of(std::string_view client_address);

struct authorizer_settings {
    // super.users: principals allowed everything ("User:admin").
    std::set<std::string, std::less<>> super_users;
    // allow.everyone.if.no.acl.found: a resource no ACL names is open to all.
    bool allow_everyone_if_no_acl_found = false;
};

// Kafka's `super.users` value: "User:a;User:b" (blanks around entries ignored).
std::set<std::string, std::less<>> parse_super_users(std::string_view value);

// Kafka's StandardAuthorizer. Decisions read an immutable index of the
// bindings; set_acls builds a new one and swaps it in, so authorize() runs
// concurrently on every network thread without locks besides the atomic
// pointer load, and costs a few hash lookups per action:
//   super user -> allow; a matching DENY (same operation or ALL) -> deny;
//   a matching ALLOW (same, ALL, or implying it: READ/WRITE/DELETE/ALTER
//   imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS) -> allow;
//   no ACL at all on the resource -> allow.everyone.if.no.acl.found;
//   else deny.
// ACLs on a resource are its literal name's, the literal wildcard's and
// those of every prefixed pattern the name starts with.
class standard_authorizer final : public authorizer {
public:
    explicit standard_authorizer(authorizer_settings settings);
    ~standard_authorizer() override;

    std::vector<bool> authorize(const request_identity& who, std::span<const action> actions) const override;
    bool authorize_one(const request_identity& who, const action& wanted) const override;
    // Kafka's default authorizeByResourceType: allowed when an ALLOW of the
    // operation (or ALL) on some literal or prefixed pattern is not covered
    // by a DENY of the same literal or of a prefix of it; a DENY on the
    // literal wildcard refuses, an ALLOW on it allows. Operations are matched
    // exactly (no implied DESCRIBE), as Kafka does.
    bool authorize_by_resource_type(const request_identity& who, acl_operation operation,
                                    resource_type type) const override;

    // Replaces every binding (called when the metadata image's ACLs change).
    void set_acls(const std::vector<acl_binding>& acls);
    size_t acl_count() const;

    struct index;

private:
    bool decide(const index& acls, const principal& who, std::string_view host, const action& wanted) const;

    authorizer_settings _settings;
    std::atomic<std::shared_ptr<const index>> _index;
};

}  // namespace strata::security
