// DescribeClientQuotas (48) and AlterClientQuotas (49), v0-v1: client quotas
// as ClientQuotaRecord in the metadata log (Kafka's ClientQuotaControlManager
// and ClientQuotasImage rules), so that every broker enforces them from its
// own image (src/quota/).
#include <set>

#include "admin_apis.h"
#include "strata/protocol/messages/alter_client_quotas_request.h"
#include "strata/protocol/messages/alter_client_quotas_response.h"
#include "strata/protocol/messages/describe_client_quotas_request.h"
#include "strata/protocol/messages/describe_client_quotas_response.h"
#include "strata/quota/client_quotas.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
namespace records = protocol::metadata;
using boost::asio::awaitable;
using metadata::client_quota_entity;

// ---- DescribeClientQuotas ------------------------------------------------------

// Kafka's match types: a name, the default (null name), any name.
constexpr int8_t match_exact = 0;
constexpr int8_t match_default = 1;
constexpr int8_t match_specified = 2;

// Kafka's checks (ClientQuotasImage.describe), in its order, with its errors.
std::optional<quota::refusal> validate_filter(const msg::describe_client_quotas_request& request) {
    const auto invalid = [](std::string message) { return quota::refusal{kafka_error::invalid_request, std::move(message)}; };
    std::set<std::string> types;
    for (const auto& c : request.components) {
        if (c.entity_type.empty()) return invalid("Invalid empty entity type.");
        if (!types.insert(c.entity_type).second)
            return invalid("Entity type " + c.entity_type + " cannot appear more than once in the filter.");
        if (!quota::known_entity_type(c.entity_type))
            return quota::refusal{kafka_error::unsupported_version, "Unsupported entity type " + c.entity_type};
        switch (c.match_type) {
            case match_exact:
                if (!c.match) return invalid("Request specified MATCH_TYPE_EXACT, but set match string to null.");
                break;
            case match_default:
                if (c.match) return invalid("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.");
                break;
            case match_specified:
                if (c.match)
                    return invalid("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.");
                break;
            default: return invalid("Unknown match type " + std::to_string(c.match_type));
        }
    }
    if (types.count(std::string(quota::ip_entity)) && types.size() > 1)
        return invalid("Invalid entity filter component combination. IP filter component should not be used with "
                       "user or clientId filter component.");
    return std::nullopt;
}

bool matches(const msg::describe_client_quotas_request& request, const client_quota_entity& entity) {
    for (const auto& c : request.components) {
        auto found = entity.find(c.entity_type);
        if (found == entity.end()) return false;
        if (c.match_type == match_exact && found->second != c.match) return false;
        if (c.match_type == match_default && found->second) return false;
    }
    // Strict: the entity has no component the filter does not name.
    return !request.strict || entity.size() == request.components.size();
}

awaitable<msg::describe_client_quotas_response> handle_describe(admin_context& admin, request_context& ctx,
                                                                msg::describe_client_quotas_request& request) {
    msg::describe_client_quotas_response response;
    response.error_message.reset();
    if (!ctx.authorized(security::acl_operation::describe_configs, security::resource_type::cluster,
                        security::cluster_resource_name)) {
        response.error_code = kafka_error_code(kafka_error::cluster_authorization_failed);
        response.error_message = "Cluster authorization failed.";
        response.entries.reset();
        co_return response;
    }
    if (auto refused = validate_filter(request)) {
        response.error_code = kafka_error_code(refused->error);
        response.error_message = refused->message;
        response.entries.reset();
        co_return response;
    }
    const auto image = admin.metadata.image();
    for (const auto& [entity, values] : image->client_quotas()) {
        if (!matches(request, entity)) continue;
        auto& entry = response.entries->emplace_back();
        for (const auto& [type, name] : entity) {
            auto& e = entry.entity.emplace_back();
            e.entity_type = type;
            e.entity_name = name;
        }
        for (const auto& [key, value] : values) {
            auto& v = entry.values.emplace_back();
            v.key = key;
            v.value = value;
        }
    }
    co_return response;
}

// ---- AlterClientQuotas ---------------------------------------------------------

client_quota_entity entity_of(const msg::alter_client_quotas_request::entry_data& entry,
                              std::optional<quota::refusal>& refused) {
    client_quota_entity entity;
    for (const auto& e : entry.entity) {
        if (!entity.emplace(e.entity_type, e.entity_name).second && !refused)
            refused = quota::refusal{kafka_error::invalid_request,
                                     "Invalid client quota entity, duplicate entity entry " + e.entity_type};
    }
    return entity;
}

// Why an entry is refused, or nullopt.
std::optional<quota::refusal> check_entry(const msg::alter_client_quotas_request::entry_data& entry) {
    std::optional<quota::refusal> refused;
    const auto entity = entity_of(entry, refused);
    if (refused) return refused;
    if (auto bad = quota::validate_entity(entity)) return bad;
    std::set<std::string> keys;
    for (const auto& op : entry.ops) {
        if (!keys.insert(op.key).second)
            return quota::refusal{kafka_error::invalid_request,
                                  "Duplicate quota key " + op.key + " not updating quota for this entity"};
        if (auto bad = quota::validate_value(entity, op.key, op.remove ? std::nullopt : std::optional(op.value)))
            return bad;
    }
    return std::nullopt;
}

// The records of an accepted entry: as Kafka's ClientQuotaControlManager,
// only for what changes (a value that differs, a key that is there to remove).
void records_for(const metadata::metadata_image& image, const msg::alter_client_quotas_request::entry_data& entry,
                 std::vector<metadata::record>& out) {
    std::optional<quota::refusal> ignored;
    const auto entity = entity_of(entry, ignored);
    const auto found = image.client_quotas().find(entity);
    const auto current = [&](const std::string& key) -> std::optional<double> {
        if (found == image.client_quotas().end()) return std::nullopt;
        auto value = found->second.find(key);
        if (value == found->second.end()) return std::nullopt;
        return value->second;
    };
    for (const auto& op : entry.ops) {
        if (op.remove ? !current(op.key) : current(op.key) == op.value) continue;
        records::client_quota_record r;
        for (const auto& [type, name] : entity) {
            auto& e = r.entity.emplace_back();
            e.entity_type = type;
            e.entity_name = name;
        }
        r.key = op.key;
        r.value = op.remove ? 0 : op.value;
        r.remove = op.remove;
        out.emplace_back(std::move(r));
    }
}

msg::alter_client_quotas_response::entry_data& answer_entry(msg::alter_client_quotas_response& response,
                                                            const msg::alter_client_quotas_request::entry_data& entry) {
    auto& out = response.entries.emplace_back();
    for (const auto& e : entry.entity) {
        auto& o = out.entity.emplace_back();
        o.entity_type = e.entity_type;
        o.entity_name = e.entity_name;
    }
    out.error_code = 0;
    out.error_message.reset();
    return out;
}

awaitable<msg::alter_client_quotas_response> alter_locally(admin_context& admin,
                                                           msg::alter_client_quotas_request request) {
    std::vector<std::optional<quota::refusal>> outcomes(request.entries.size());
    bool any_accepted = false;
    for (size_t i = 0; i < request.entries.size(); ++i) {
        outcomes[i] = check_entry(request.entries[i]);
        any_accepted = any_accepted || !outcomes[i];
    }
    kafka_error error = kafka_error::none;
    if (!request.validate_only && any_accepted) {
        // Against the image the controller decides on, so that the records
        // compare with the latest values.
        error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
            std::vector<metadata::record> records;
            for (size_t i = 0; i < request.entries.size(); ++i)
                if (!outcomes[i]) records_for(image, request.entries[i], records);
            return records;
        });
    }
    msg::alter_client_quotas_response response;
    for (size_t i = 0; i < request.entries.size(); ++i) {
        auto& out = answer_entry(response, request.entries[i]);
        if (outcomes[i]) {
            out.error_code = kafka_error_code(outcomes[i]->error);
            out.error_message = outcomes[i]->message;
        } else {
            out.error_code = kafka_error_code(error);
        }
    }
    co_return response;
}

awaitable<msg::alter_client_quotas_response> handle_alter(admin_context& admin, request_context& ctx,
                                                          msg::alter_client_quotas_request& request) {
    if (!authorized_or_forwarded(ctx, security::acl_operation::alter_configs, security::resource_type::cluster,
                                 security::cluster_resource_name)) {
        msg::alter_client_quotas_response response;
        for (const auto& entry : request.entries) {
            auto& out = answer_entry(response, entry);
            out.error_code = kafka_error_code(kafka_error::cluster_authorization_failed);
        }
        co_return response;
    }
    co_return co_await on_controller<msg::alter_client_quotas_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::alter_client_quotas_request r) { return alter_locally(admin, std::move(r)); });
}

}  // namespace

void register_client_quota_apis(request_dispatcher& dispatcher, admin_context& admin) {
    dispatcher.register_api<msg::describe_client_quotas_request>(
        [&admin](request_context& ctx, msg::describe_client_quotas_request& r) { return handle_describe(admin, ctx, r); });
    dispatcher.register_api<msg::alter_client_quotas_request>(
        [&admin](request_context& ctx, msg::alter_client_quotas_request& r) { return handle_alter(admin, ctx, r); });
}

}  // namespace strata::server
