// DescribeAcls (29), CreateAcls (30), DeleteAcls (31), v0-3 as Kafka 3.9:
// ACLs as AccessControlEntryRecord / RemoveAccessControlEntryRecord in the
// metadata log (Kafka's AclControlManager), decided on the active controller
// (creations and deletions are forwarded to it), described from this
// broker's image. And the broker's StandardAuthorizer, fed from the images.
#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <type_traits>
#include <unordered_set>

#include "admin_apis.h"
#include "strata/common/log.h"
#include "strata/protocol/messages/create_acls_request.h"
#include "strata/protocol/messages/create_acls_response.h"
#include "strata/protocol/messages/delete_acls_request.h"
#include "strata/protocol/messages/delete_acls_response.h"
#include "strata/protocol/messages/describe_acls_request.h"
#include "strata/protocol/messages/describe_acls_response.h"
#include "strata/server/acl_authorizer.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
namespace records = protocol::metadata;
using boost::asio::awaitable;
using security::acl_binding;
using security::acl_filter;

const auto& acl_log() {
    static const auto instance = log::get("authorizer");
    return instance;
}

acl_binding binding_of(const records::access_control_entry_record& r) {
    return acl_binding{static_cast<security::resource_type>(r.resource_type),
                       r.resource_name,
                       static_cast<security::pattern_type>(r.pattern_type),
                       r.principal,
                       r.host,
                       static_cast<security::acl_operation>(r.operation),
                       static_cast<security::acl_permission>(r.permission_type)};
}

template <typename Filter>
acl_filter filter_of(const Filter& f) {
    acl_filter out;
    out.type = static_cast<security::resource_type>(f.resource_type_filter);
    out.name = f.resource_name_filter;
    out.pattern = static_cast<security::pattern_type>(f.pattern_type_filter);
    out.principal = f.principal_filter;
    out.host = f.host_filter;
    out.operation = static_cast<security::acl_operation>(f.operation);
    out.permission = static_cast<security::acl_permission>(f.permission_type);
    return out;
}

bool enabled(const admin_context& admin) {
    return admin.broker && authorizer_enabled(*admin.broker);
}

constexpr std::string_view no_authorizer = "No Authorizer is configured.";

awaitable<msg::describe_acls_response> handle_describe(admin_context& admin, request_context& ctx,
                                                       msg::describe_acls_request& request) {
    msg::describe_acls_response response;
    response.error_message.reset();
    if (!ctx.authorized(security::acl_operation::describe, security::resource_type::cluster,
                        security::cluster_resource_name)) {
        response.error_code = kafka_error_code(kafka_error::cluster_authorization_failed);
        co_return response;
    }
    if (!enabled(admin)) {
        response.error_code = kafka_error_code(kafka_error::security_disabled);
        response.error_message = std::string(no_authorizer);
        co_return response;
    }
    const auto filter = filter_of(request);
    if (auto problem = filter.invalid()) {
        response.error_code = kafka_error_code(kafka_error::invalid_request);
        response.error_message = *problem;
        co_return response;
    }
    // Grouped by resource pattern, as Kafka's DescribeAclsResponse.aclsResources.
    std::map<std::tuple<int8_t, std::string, int8_t>, std::vector<acl_binding>> by_resource;
    for (const auto& [id, record] : admin.metadata.image()->acls()) {
        auto acl = binding_of(record);
        if (!filter.matches(acl)) continue;
        by_resource[{record.resource_type, record.resource_name, record.pattern_type}].push_back(std::move(acl));
    }
    for (auto& [key, acls] : by_resource) {
        auto& resource = response.resources.emplace_back();
        std::tie(resource.resource_type, resource.resource_name, resource.pattern_type) = key;
        std::sort(acls.begin(), acls.end());
        for (const auto& acl : acls) {
            auto& d = resource.acls.emplace_back();
            d.principal = acl.principal;
            d.host = acl.host;
            d.operation = static_cast<int8_t>(acl.operation);
            d.permission_type = static_cast<int8_t>(acl.permission);
        }
    }
    co_return response;
}

acl_binding binding_of(const msg::create_acls_request::acl_creation& c) {
    return acl_binding{static_cast<security::resource_type>(c.resource_type),
                       c.resource_name,
                       static_cast<security::pattern_type>(c.resource_pattern_type),
                       c.principal,
                       c.host,
                       static_cast<security::acl_operation>(c.operation),
                       static_cast<security::acl_permission>(c.permission_type)};
}

records::access_control_entry_record record_of(const acl_binding& acl) {
    records::access_control_entry_record r;
    r.id = protocol::uuid::random();
    r.resource_type = static_cast<int8_t>(acl.type);
    r.resource_name = acl.name;
    r.pattern_type = static_cast<int8_t>(acl.pattern);
    r.principal = acl.principal;
    r.host = acl.host;
    r.operation = static_cast<int8_t>(acl.operation);
    r.permission_type = static_cast<int8_t>(acl.permission);
    return r;
}

awaitable<msg::create_acls_response> create_locally(admin_context& admin, msg::create_acls_request request) {
    // Per creation: its error and message (NONE: written, or already there).
    std::vector<std::pair<kafka_error, std::string>> outcomes(request.creations.size());
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        std::set<acl_binding> existing;
        for (const auto& [id, r] : image.acls()) existing.insert(binding_of(r));
        std::vector<metadata::record> out;
        for (size_t i = 0; i < request.creations.size(); ++i) {
            const auto acl = binding_of(request.creations[i]);
            outcomes[i] = {kafka_error::none, {}};
            if (auto problem = security::invalid_acl(acl)) {
                outcomes[i] = {kafka_error::invalid_request, *problem};
                continue;
            }
            // Kafka's AclControlManager: an existing binding is not written twice.
            if (!existing.insert(acl).second) continue;
            out.emplace_back(record_of(acl));
        }
        return out;
    });
    msg::create_acls_response response;
    for (const auto& [e, message] : outcomes) {
        auto& result = response.results.emplace_back();
        result.error_code = kafka_error_code(e != kafka_error::none ? e : error);
        if (e != kafka_error::none) result.error_message = message;
        else result.error_message.reset();
    }
    co_return response;
}

// The response of a refused CreateAcls: every creation gets `error`.
msg::create_acls_response refuse_creations(const msg::create_acls_request& request, kafka_error error,
                                           std::optional<std::string> message) {
    msg::create_acls_response response;
    for (size_t i = 0; i < request.creations.size(); ++i) {
        auto& result = response.results.emplace_back();
        result.error_code = kafka_error_code(error);
        result.error_message = message;
    }
    return response;
}

awaitable<msg::create_acls_response> handle_create(admin_context& admin, request_context& ctx,
                                                   msg::create_acls_request& request) {
    if (!authorized_or_forwarded(ctx, security::acl_operation::alter, security::resource_type::cluster,
                                 security::cluster_resource_name))
        co_return refuse_creations(request, kafka_error::cluster_authorization_failed, std::nullopt);
    if (!enabled(admin))
        co_return refuse_creations(request, kafka_error::security_disabled, std::string(no_authorizer));
    acl_log()->info("CreateAcls from {}: {} ACLs", ctx.principal().to_string(), request.creations.size());
    co_return co_await on_controller<msg::create_acls_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::create_acls_request r) { return create_locally(admin, std::move(r)); });
}

void describe_deleted(const acl_binding& acl, msg::delete_acls_response::delete_acls_matching_acl& out) {
    out.error_code = 0;
    out.error_message.reset();
    out.resource_type = static_cast<int8_t>(acl.type);
    out.resource_name = acl.name;
    out.pattern_type = static_cast<int8_t>(acl.pattern);
    out.principal = acl.principal;
    out.host = acl.host;
    out.operation = static_cast<int8_t>(acl.operation);
    out.permission_type = static_cast<int8_t>(acl.permission);
}

awaitable<msg::delete_acls_response> delete_locally(admin_context& admin, msg::delete_acls_request request) {
    msg::delete_acls_response response;
    response.filter_results.resize(request.filters.size());
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        std::vector<metadata::record> out;
        std::unordered_set<protocol::uuid, metadata::uuid_hash> removed;
        for (size_t i = 0; i < request.filters.size(); ++i) {
            auto& result = response.filter_results[i];
            result = {};
            result.error_message.reset();
            const auto filter = filter_of(request.filters[i]);
            if (auto problem = filter.invalid()) {
                result.error_code = kafka_error_code(kafka_error::invalid_request);
                result.error_message = *problem;
                continue;
            }
            for (const auto& [id, r] : image.acls()) {
                const auto acl = binding_of(r);
                if (!filter.matches(acl)) continue;
                describe_deleted(acl, result.matching_acls.emplace_back());
                if (!removed.insert(id).second) continue;
                records::remove_access_control_entry_record remove;
                remove.id = id;
                out.emplace_back(remove);
            }
        }
        return out;
    });
    if (error != kafka_error::none) {
        for (auto& result : response.filter_results) {
            if (result.error_code != 0) continue;
            result.error_code = kafka_error_code(error);
            result.matching_acls.clear();
        }
    }
    co_return response;
}

awaitable<msg::delete_acls_response> handle_delete(admin_context& admin, request_context& ctx,
                                                   msg::delete_acls_request& request) {
    const auto refuse = [&](kafka_error error, std::optional<std::string> message) {
        msg::delete_acls_response response;
        for (size_t i = 0; i < request.filters.size(); ++i) {
            auto& result = response.filter_results.emplace_back();
            result.error_code = kafka_error_code(error);
            result.error_message = message;
        }
        return response;
    };
    if (!authorized_or_forwarded(ctx, security::acl_operation::alter, security::resource_type::cluster,
                                 security::cluster_resource_name))
        co_return refuse(kafka_error::cluster_authorization_failed, std::nullopt);
    if (!enabled(admin)) co_return refuse(kafka_error::security_disabled, std::string(no_authorizer));
    acl_log()->info("DeleteAcls from {}: {} filters", ctx.principal().to_string(), request.filters.size());
    co_return co_await on_controller<msg::delete_acls_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::delete_acls_request r) { return delete_locally(admin, std::move(r)); });
}

}  // namespace

bool authorizer_enabled(const broker_config& config) {
    return !config.authorizer_class_name.empty();
}

std::vector<acl_binding> acl_bindings(const metadata::metadata_image& image) {
    std::vector<acl_binding> out;
    out.reserve(image.acls().size());
    for (const auto& [id, r] : image.acls()) out.push_back(binding_of(r));
    return out;
}

std::shared_ptr<security::standard_authorizer> make_authorizer(const broker_config& config,
                                                               metadata::metadata_service& metadata) {
    if (!authorizer_enabled(config)) return nullptr;
    security::authorizer_settings settings;
    settings.super_users = security::parse_super_users(config.super_users);
    settings.allow_everyone_if_no_acl_found = config.allow_everyone_if_no_acl_found;
    auto authorizer = std::make_shared<security::standard_authorizer>(std::move(settings));
    authorizer->set_acls(acl_bindings(*metadata.image()));
    // Rebuilt only when the image's ACLs differ from the last ones built
    // from: most images change partitions, not ACLs, and comparing the ACL
    // maps (a few hundred entries at most, usually) is cheaper than a
    // rebuild. Listeners run one at a time on the service's strand.
    using acl_map = std::decay_t<decltype(metadata.image()->acls())>;
    auto last = std::make_shared<acl_map>(metadata.image()->acls());
    metadata.on_image([weak = std::weak_ptr(authorizer), last](
                          const std::shared_ptr<const metadata::metadata_image>& image,
                          const metadata::image_changes&) {
        if (image->acls() == *last) return;
        *last = image->acls();
        if (auto target = weak.lock()) target->set_acls(acl_bindings(*image));
    });
    acl_log()->info("authorizer: StandardAuthorizer, {} super users, allow.everyone.if.no.acl.found={}",
                   security::parse_super_users(config.super_users).size(), config.allow_everyone_if_no_acl_found);
    return authorizer;
}

void register_acl_apis(request_dispatcher& dispatcher, admin_context& admin) {
    dispatcher.register_api<msg::describe_acls_request>(
        [&admin](request_context& ctx, msg::describe_acls_request& r) { return handle_describe(admin, ctx, r); });
    dispatcher.register_api<msg::create_acls_request>(
        [&admin](request_context& ctx, msg::create_acls_request& r) { return handle_create(admin, ctx, r); });
    dispatcher.register_api<msg::delete_acls_request>(
        [&admin](request_context& ctx, msg::delete_acls_request& r) { return handle_delete(admin, ctx, r); });
}

}  // namespace strata::server
