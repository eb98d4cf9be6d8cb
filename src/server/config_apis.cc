// DescribeConfigs (32), AlterConfigs (33) and IncrementalAlterConfigs (44).
// Topic configs and dynamic broker configs live in the metadata log
// (ConfigRecord, resource type TOPIC or BROKER) and change through the
// controller. A BROKER resource is named "" (the cluster-wide default) or by a
// broker id; only the keys behind topic configs (log.retention.ms, ...) may
// change at run time, as in Kafka. The rest of a broker's configuration is its
// file, read-only.
#include <charconv>
#include <set>
#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "admin_apis.h"
#include "config_values.h"
#include "strata/common/kafka_error.h"
#include "strata/metadata/records.h"
#include "strata/protocol/messages/alter_configs_request.h"
#include "strata/protocol/messages/alter_configs_response.h"
#include "strata/protocol/messages/describe_configs_request.h"
#include "strata/protocol/messages/describe_configs_response.h"
#include "strata/protocol/messages/incremental_alter_configs_request.h"
#include "strata/protocol/messages/incremental_alter_configs_response.h"
#include "strata/server/broker_config.h"
#include "strata/server/config_schema.h"
#include "strata/telemetry/client_metrics.h"
#include "topic_configs.h"

namespace strata::server {

namespace {

bool is_sensitive_config(std::string_view name) {
    return name == "ssl.key.password" || name == "delegation.token.secret.key" || name == "ssl.keystore.key" || name == "sasl.plain.users" ||
           name.ends_with(".ssl.key.password") || name.ends_with(".ssl.keystore.key") ||
           (name.size() > 16 && name.substr(name.size() - 16) == ".sasl.jaas.config");
}

namespace msg = protocol::messages;
using boost::asio::awaitable;
using metadata::config_resource_type;

// DescribeConfigs' ConfigSource CLIENT_METRICS_CONFIG.
constexpr auto config_source_client_metrics = static_cast<config_source>(7);

// Kafka's answer to a broker resource naming another broker.
std::optional<std::string> wrong_broker(const admin_context& admin, const std::string& name) {
    if (name == std::to_string(admin.broker->node_id)) return std::nullopt;
    return fmt::format("Unexpected broker id, expected {} or empty string, but received {}", admin.broker->node_id,
                       name);
}

// The authorize stage, as Kafka's ConfigHelper / KafkaApis: a topic's
// configs need DESCRIBE_CONFIGS (ALTER_CONFIGS) on the topic, a broker's
// and the broker loggers' on the cluster. The error to answer, or none.
kafka_error config_authorization(const request_context& ctx, int8_t resource_type, const std::string& name,
                                 security::acl_operation operation) {
    const bool topic = resource_type == static_cast<int8_t>(config_resource_type::topic);
    // Client metrics subscriptions (KIP-714) are the cluster's, as brokers' configs.
    const bool broker = resource_type == static_cast<int8_t>(config_resource_type::broker) ||
                        resource_type == static_cast<int8_t>(config_resource_type::broker_logger) ||
                        resource_type == telemetry::client_metrics_resource_type;
    if (topic)
        return authorized_or_forwarded(ctx, operation, security::resource_type::topic, name)
                   ? kafka_error::none
                   : kafka_error::topic_authorization_failed;
    if (broker)
        return authorized_or_forwarded(ctx, operation, security::resource_type::cluster,
                                       security::cluster_resource_name)
                   ? kafka_error::none
                   : kafka_error::cluster_authorization_failed;
    return kafka_error::none;  // unknown types are refused as invalid further on
}

awaitable<msg::describe_configs_response> handle_describe_configs(admin_context& admin, request_context& ctx,
                                                                  msg::describe_configs_request& request) {
    auto image = admin.metadata.image();
    msg::describe_configs_response response;
    for (const auto& resource : request.resources) {
        auto& result = response.results.emplace_back();
        result.resource_type = resource.resource_type;
        result.resource_name = resource.resource_name;
        result.error_message.reset();
        if (const auto refused = config_authorization(ctx, resource.resource_type, resource.resource_name,
                                                      security::acl_operation::describe_configs);
            refused != kafka_error::none) {
            result.error_code = kafka_error_code(refused);
            continue;
        }
        std::vector<described_config> configs;
        switch (static_cast<config_resource_type>(resource.resource_type)) {
        case config_resource_type::topic: {
            if (metadata::invalid_topic_name(resource.resource_name)) {
                result.error_code = kafka_error_code(kafka_error::invalid_topic_exception);
                result.error_message = fmt::format("Invalid topic name: {}", resource.resource_name);
                continue;
            }
            if (!image->topic(resource.resource_name)) {
                result.error_code = kafka_error_code(kafka_error::unknown_topic_or_partition);
                result.error_message = fmt::format("Topic {} does not exist", resource.resource_name);
                continue;
            }
            configs = describe_topic_configs(
                image->configs({config_resource_type::topic, resource.resource_name}), *admin.broker,
                dynamic_configs_of(*image, admin.broker->node_id));
            break;
        }
        case config_resource_type::broker:
            if (resource.resource_name.empty()) {
                configs = describe_cluster_default_configs(dynamic_configs_of(*image, admin.broker->node_id));
                break;
            }
            if (auto problem = wrong_broker(admin, resource.resource_name)) {
                result.error_code = kafka_error_code(kafka_error::invalid_request);
                result.error_message = *problem;
                continue;
            }
            configs = describe_broker_configs(*admin.broker, dynamic_configs_of(*image, admin.broker->node_id));
            break;
        default:
            if (resource.resource_type == telemetry::client_metrics_resource_type) {
                // As Kafka: the subscription's explicit configs (none when
                // it does not exist), sourced CLIENT_METRICS_CONFIG.
                if (resource.resource_name.empty()) {
                    result.error_code = kafka_error_code(kafka_error::invalid_request);
                    result.error_message = "Client metrics subscription name must not be empty";
                    continue;
                }
                for (const auto& [name, value] :
                     image->configs({telemetry::client_metrics_resource, resource.resource_name})) {
                    auto& c = configs.emplace_back();
                    c.name = name;
                    c.value = value;
                    c.source = config_source_client_metrics;
                    c.type = name == telemetry::interval_config ? config_type::int_ : config_type::list;
                }
                break;
            }
            result.error_code = kafka_error_code(kafka_error::invalid_request);
            result.error_message = fmt::format("Unsupported resource type {} for DescribeConfigs",
                                               resource.resource_type);
            continue;
        }
        const bool is_topic = resource.resource_type == static_cast<int8_t>(config_resource_type::topic);
        for (const auto& c : configs) {
            if (resource.configuration_keys) {
                const auto& keys = *resource.configuration_keys;
                if (std::find(keys.begin(), keys.end(), c.name) == keys.end()) continue;
            }
            auto& out = result.configs.emplace_back();
            out.name = c.name;
            // Secrets (Kafka's PASSWORD type) are never shown, only flagged.
            const bool sensitive = is_sensitive_config(c.name);
            out.is_sensitive = sensitive;
            if (c.null_value || sensitive) out.value.reset();
            else out.value = c.value;
            out.read_only = !is_topic && c.source != config_source_client_metrics && !is_dynamic_broker_config(c.name);
            out.is_default = c.source == config_source::default_;
            out.config_source = static_cast<int8_t>(c.source);
            out.config_type = static_cast<int8_t>(c.type);
            if (request.include_documentation) out.documentation = std::string(c.doc);
            else out.documentation.reset();
            if (request.include_synonyms)
                for (const auto& s : c.synonyms) {
                    auto& syn = out.synonyms.emplace_back();
                    syn.name = s.name;
                    syn.value = s.value;
                    if (sensitive) syn.value.reset();
                    syn.source = static_cast<int8_t>(s.source);
                }
        }
    }
    co_return response;
}

// One resource's change, in the form both alter APIs reduce to.
struct config_change {
    std::string name;
    int8_t op = 0;  // IncrementalAlterConfigs' ops; AlterConfigs uses SET (and DELETE for what it leaves out)
    std::optional<std::string> value;
};
constexpr int8_t op_set = 0, op_delete = 1, op_append = 2, op_subtract = 3;

struct resource_outcome {
    kafka_error error = kafka_error::none;
    std::string message;
};

// A list config's items (comma-separated, trimmed), by the configuration's
// own list parser.
std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> items;
    detail::parse_value(list, items);
    return items;
}

// IncrementalAlterConfigs' APPEND / SUBTRACT of a list config, from `base`.
std::string apply_list_op(const std::string& base, const config_change& change) {
    auto items = split(base);
    for (const auto& item : split(change.value.value_or(""))) {
        auto found = std::find(items.begin(), items.end(), item);
        if (change.op == op_append && found == items.end()) items.push_back(item);
        if (change.op == op_subtract && found != items.end()) items.erase(found);
    }
    std::string joined;
    for (const auto& item : items) joined += (joined.empty() ? "" : ",") + item;
    return joined;
}

// The value one change leaves for its config (nullopt: removed), as Kafka's
// IncrementalAlterConfigs: SET needs a value, DELETE removes it, APPEND and
// SUBTRACT apply to list keys only and start from `list_base` (nullopt: the
// key is not a list). `error` is set when Kafka refuses the change.
struct change_outcome {
    std::optional<std::string> value;
    resource_outcome error;
};

change_outcome apply_change(const config_change& change, const std::optional<std::string>& list_base) {
    change_outcome out;
    switch (change.op) {
    case op_set:
        if (!change.value)
            out.error = {kafka_error::invalid_request, fmt::format("Null value not supported for {}", change.name)};
        out.value = change.value;
        break;
    case op_delete:
        break;
    case op_append:
    case op_subtract:
        if (!list_base)
            out.error = {kafka_error::invalid_config,
                         fmt::format("Config value {} is not allowed for config key: {}",
                                     change.op == op_append ? "append" : "subtract", change.name)};
        else out.value = apply_list_op(*list_base, change);
        break;
    default:
        out.error = {kafka_error::invalid_request, fmt::format("Unknown config operation {}", change.op)};
    }
    return out;
}

// A ConfigRecord for every config of `resource` that `next` changes
// (nullopt: removed) relative to `current`.
void append_changed_configs(const metadata::config_resource& resource,
                            const metadata::config_map& current,
                            const std::map<std::string, std::optional<std::string>>& next,
                            std::vector<metadata::record>& out) {
    for (const auto& [key, value] : next) {
        auto it = current.find(key);
        const bool unchanged = value ? it != current.end() && it->second == *value : it == current.end();
        if (unchanged) continue;
        metadata::records::config_record r;
        r.resource_type = static_cast<int8_t>(resource.type);
        r.resource_name = resource.name;
        r.name = key;
        r.value = value;
        out.emplace_back(r);
    }
}

// Checks the changes of one topic against the image and turns them into
// ConfigRecords (appended to `out` unless validate_only). `replace_all`:
// AlterConfigs, which removes every explicit config it does not name.
resource_outcome decide_topic_changes(const metadata::metadata_image& image, const broker_config& broker,
                                      const std::string& topic, const std::vector<config_change>& changes,
                                      bool replace_all, bool validate_only, std::vector<metadata::record>& out) {
    if (metadata::invalid_topic_name(topic))
        return {kafka_error::invalid_topic_exception, fmt::format("Invalid topic name: {}", topic)};
    if (!image.topic(topic))
        return {kafka_error::unknown_topic_or_partition, fmt::format("Topic {} does not exist", topic)};
    const auto& current = image.configs({config_resource_type::topic, topic});
    std::map<std::string, std::optional<std::string>> next;  // name -> new value (nullopt: remove)
    std::set<std::string> named;
    for (const auto& change : changes) {
        if (!named.insert(change.name).second)
            return {kafka_error::invalid_request, fmt::format("Duplicate config {} in the request", change.name)};
        const auto* key = find_topic_config(change.name);
        if (!key) return {kafka_error::invalid_config, fmt::format("Unknown topic config name: {}", change.name)};
        std::optional<std::string> list_base;
        if (key->type == config_type::list) {
            auto it = current.find(change.name);
            list_base = it != current.end() ? it->second : key->broker_default(broker);
        }
        auto [value, error] = apply_change(change, list_base);
        if (error.error != kafka_error::none) return error;
        if (value) {
            if (auto problem = check_topic_config(change.name, value)) return {kafka_error::invalid_config, *problem};
        }
        next[change.name] = value;
    }
    if (replace_all)
        for (const auto& [name, value] : current)
            if (!named.count(name)) next[name] = std::nullopt;
    if (!validate_only) append_changed_configs({config_resource_type::topic, topic}, current, next, out);
    return {};
}

// Kafka's way of naming a resource in messages.
std::string broker_resource_text(const std::string& name) {
    return fmt::format("ConfigResource(type=BROKER, name='{}')", name);
}

// Checks the changes of one BROKER resource ("" or a broker id) and turns them
// into ConfigRecords, as for topics. Kafka answers every problem with a
// broker config as INVALID_REQUEST ("Invalid config value for resource ...").
resource_outcome decide_broker_changes(const metadata::metadata_image& image, const broker_config& broker,
                                       const std::string& name, const std::vector<config_change>& changes,
                                       bool replace_all, bool validate_only, std::vector<metadata::record>& out) {
    auto refuse = [&](const std::string& problem) -> resource_outcome {
        return {kafka_error::invalid_request,
                fmt::format("Invalid config value for resource {}: {}", broker_resource_text(name), problem)};
    };
    const config_resource_type type = config_resource_type::broker;
    const auto& current = image.configs({type, name});
    std::map<std::string, std::optional<std::string>> next;
    std::set<std::string> named;
    std::vector<std::string> unknown, read_only, per_broker;
    for (const auto& change : changes) {
        if (!named.insert(change.name).second)
            return {kafka_error::invalid_request, fmt::format("Duplicate config {} in the request", change.name)};
        if (!is_known_broker_config(change.name)) unknown.push_back(change.name);
        else if (!is_dynamic_broker_config(change.name)) read_only.push_back(change.name);
        else if (name.empty() && is_per_broker_config(change.name)) per_broker.push_back(change.name);
    }
    auto set_text = [](const std::vector<std::string>& names) {
        std::string joined;
        for (const auto& n : names) joined += (joined.empty() ? "" : ", ") + n;
        return fmt::format("Set({})", joined);
    };
    if (!unknown.empty()) return refuse(fmt::format("Unknown broker configs: {}", set_text(unknown)));
    if (!read_only.empty())
        return refuse(fmt::format("Cannot update these configs dynamically: {}", set_text(read_only)));
    // Kafka's DynamicBrokerConfig.validateConfigs: per-broker keys only on a
    // broker's own resource.
    if (!per_broker.empty())
        return refuse(fmt::format("Cannot update these configs at default cluster level, broker id must be "
                                  "specified: {}", fmt::join(per_broker, ",")));
    for (const auto& change : changes) {
        // From the value at this level, else the file's (or the default).
        std::optional<std::string> list_base;
        if (const auto* key = find_config_key(change.name); key && key->type.starts_with("list")) {
            if (auto it = current.find(change.name); it != current.end()) list_base = it->second;
            else if (auto it = broker.explicit_values.find(change.name); it != broker.explicit_values.end())
                list_base = it->second;
            else list_base = key->default_value;
        }
        auto [value, error] = apply_change(change, list_base);
        if (error.error != kafka_error::none) return error;
        if (value) {
            if (auto problem = check_dynamic_broker_value(change.name, *value)) return refuse(*problem);
        }
        next[change.name] = value;
    }
    if (replace_all)
        for (const auto& [key, value] : current)
            if (!named.count(key)) next[key] = std::nullopt;
    if (!validate_only) append_changed_configs({type, name}, current, next, out);
    return {};
}

// Checks the changes of one client-metrics resource (a KIP-714
// subscription) and turns them into ConfigRecords, as Kafka's
// ClientMetricsConfigs.validate: the keys metrics, interval.ms and match.
resource_outcome decide_client_metrics_changes(const metadata::metadata_image& image, const std::string& name,
                                               const std::vector<config_change>& changes, bool replace_all,
                                               bool validate_only, std::vector<metadata::record>& out) {
    if (name.empty()) return {kafka_error::invalid_request, "Subscription name can't be empty"};
    const metadata::config_resource resource{telemetry::client_metrics_resource, name};
    const auto& current = image.configs(resource);
    std::map<std::string, std::optional<std::string>> next;
    std::set<std::string> named;
    for (const auto& change : changes) {
        if (!named.insert(change.name).second)
            return {kafka_error::invalid_request, fmt::format("Duplicate config {} in the request", change.name)};
        std::optional<std::string> list_base;
        if (change.name == telemetry::metrics_config || change.name == telemetry::match_config) {
            auto it = current.find(change.name);
            list_base = it != current.end() ? it->second : "";
        }
        auto [value, error] = apply_change(change, list_base);
        if (error.error != kafka_error::none) return error;
        if (change.name != telemetry::metrics_config && change.name != telemetry::interval_config &&
            change.name != telemetry::match_config)
            return {kafka_error::invalid_request, fmt::format("Unknown client metrics configuration: {}", change.name)};
        if (value)
            if (auto problem = telemetry::check_client_metrics_config(change.name, *value))
                return {problem->error, problem->message};
        next[change.name] = value;
    }
    if (replace_all)
        for (const auto& [key, value] : current)
            if (!named.count(key)) next[key] = std::nullopt;
    if (!validate_only) append_changed_configs(resource, current, next, out);
    return {};
}

// A BROKER resource's name: "" or a broker id.
std::optional<std::string> invalid_broker_name(const std::string& name) {
    if (name.empty()) return std::nullopt;
    int32_t id = -1;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (ec == std::errc() && end == name.data() + name.size() && id >= 0) return std::nullopt;
    return fmt::format("Invalid broker id in resource name: '{}' (expected a broker id or the empty string)", name);
}

// The resources of either alter request, as (type, name, changes).
struct alter_resource {
    int8_t type;
    std::string name;
    std::vector<config_change> changes;
};

// Decides every resource in one controller decision, so that they commit
// together; fills one outcome per resource.
awaitable<std::vector<resource_outcome>> alter(admin_context& admin, std::vector<alter_resource> resources,
                                               bool replace_all, bool validate_only) {
    std::vector<resource_outcome> outcomes(resources.size());
    // What goes to the controller's decision: topics, and the cluster default
    // or a broker's dynamic configs. Broker loggers are not supported.
    std::vector<bool> decided(resources.size(), false);
    bool any = false;
    for (size_t i = 0; i < resources.size(); ++i) {
        const auto& r = resources[i];
        switch (static_cast<config_resource_type>(r.type)) {
        case config_resource_type::topic:
            decided[i] = any = true;
            break;
        case config_resource_type::broker:
            if (auto problem = invalid_broker_name(r.name)) outcomes[i] = {kafka_error::invalid_request, *problem};
            else decided[i] = any = true;
            break;
        case config_resource_type::broker_logger:
            outcomes[i] = {kafka_error::invalid_request, "Strata does not change broker loggers at run time"};
            break;
        default:
            if (r.type == telemetry::client_metrics_resource_type) {
                decided[i] = any = true;
                break;
            }
            outcomes[i] = {kafka_error::invalid_request, fmt::format("Unexpected resource type {}", r.type)};
        }
    }
    if (!any) co_return outcomes;
    const broker_config& broker = *admin.broker;
    auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        std::vector<metadata::record> records;
        std::set<std::pair<int8_t, std::string>> seen;
        for (size_t i = 0; i < resources.size(); ++i) {
            if (!decided[i]) continue;
            const bool topic = resources[i].type == static_cast<int8_t>(config_resource_type::topic);
            if (!seen.insert({resources[i].type, resources[i].name}).second) {
                outcomes[i] = {kafka_error::invalid_request,
                               fmt::format("{} {} appears more than once", topic ? "Topic" : "Broker resource",
                                           topic ? resources[i].name : broker_resource_text(resources[i].name))};
                continue;
            }
            std::vector<metadata::record> mine;
            if (resources[i].type == telemetry::client_metrics_resource_type)
                outcomes[i] = decide_client_metrics_changes(image, resources[i].name, resources[i].changes, replace_all,
                                                            validate_only, mine);
            else
                outcomes[i] = topic ? decide_topic_changes(image, broker, resources[i].name, resources[i].changes,
                                                           replace_all, validate_only, mine)
                                    : decide_broker_changes(image, broker, resources[i].name, resources[i].changes,
                                                            replace_all, validate_only, mine);
            if (outcomes[i].error == kafka_error::none)
                records.insert(records.end(), std::make_move_iterator(mine.begin()),
                               std::make_move_iterator(mine.end()));
        }
        return records;
    });
    if (error != kafka_error::none)
        for (size_t i = 0; i < resources.size(); ++i)
            if (decided[i] && outcomes[i].error == kafka_error::none)
                outcomes[i] = {error, {}};
    co_return outcomes;
}

template <typename Entry>
void fill_outcome(Entry& out, int8_t type, const std::string& name, const resource_outcome& outcome) {
    out.resource_type = type;
    out.resource_name = name;
    out.error_code = kafka_error_code(outcome.error);
    if (outcome.message.empty()) out.error_message.reset();
    else out.error_message = outcome.message;
}

// Either alter request, decided here on the active controller: AlterConfigs
// replaces a resource's whole set (every config a SET), IncrementalAlterConfigs
// applies each config's own operation.
template <typename Response, typename Request>
awaitable<Response> alter_here(admin_context& admin, Request request) {
    constexpr bool incremental = std::is_same_v<Request, msg::incremental_alter_configs_request>;
    std::vector<alter_resource> resources;
    for (const auto& r : request.resources) {
        auto& a = resources.emplace_back();
        a.type = r.resource_type;
        a.name = r.resource_name;
        for (const auto& c : r.configs) {
            int8_t op = op_set;
            if constexpr (incremental) op = c.config_operation;
            a.changes.push_back({c.name, op, c.value});
        }
    }
    auto outcomes = co_await alter(admin, resources, !incremental, request.validate_only);
    Response response;
    for (size_t i = 0; i < resources.size(); ++i)
        fill_outcome(response.responses.emplace_back(), resources[i].type, resources[i].name, outcomes[i]);
    co_return response;
}

// Either alter request, from a client: as in Kafka, a BROKER resource must
// name this broker or be "" (the cluster-wide default); the others are
// answered here, the rest goes to the active controller. (A request the
// controller gets forwarded was checked by the broker that received it.)
template <typename Response, typename Request>
awaitable<Response> alter_from_client(admin_context& admin, request_context& ctx, Request request) {
    const bool forwarded_here = ctx.header.client_id && *ctx.header.client_id == forwarded_client_id;
    std::vector<std::optional<resource_outcome>> refused(request.resources.size());
    Request passed = request;
    passed.resources.clear();
    for (size_t i = 0; i < request.resources.size(); ++i) {
        const auto& r = request.resources[i];
        const bool broker = r.resource_type == static_cast<int8_t>(config_resource_type::broker) ||
                            r.resource_type == static_cast<int8_t>(config_resource_type::broker_logger);
        if (const auto error =
                config_authorization(ctx, r.resource_type, r.resource_name, security::acl_operation::alter_configs);
            error != kafka_error::none) {
            refused[i] = resource_outcome{error, {}};
            continue;
        }
        if (!forwarded_here && broker && !r.resource_name.empty()) {
            if (auto problem = wrong_broker(admin, r.resource_name)) {
                refused[i] = resource_outcome{kafka_error::invalid_request, *problem};
                continue;
            }
        }
        passed.resources.push_back(r);
    }
    Response answered;
    if (!passed.resources.empty()) {
        answered = co_await on_controller<Response>(admin, &ctx, std::move(passed), ctx.version,
                                                    [&admin](Request r) {
                                                        return alter_here<Response>(admin, std::move(r));
                                                    });
    }
    Response response = answered;
    response.responses.clear();
    size_t next = 0;
    for (size_t i = 0; i < request.resources.size(); ++i) {
        if (refused[i]) {
            fill_outcome(response.responses.emplace_back(), request.resources[i].resource_type,
                         request.resources[i].resource_name, *refused[i]);
        } else if (next < answered.responses.size()) {
            response.responses.push_back(answered.responses[next++]);
        }
    }
    co_return response;
}

awaitable<msg::alter_configs_response> handle_alter_configs(admin_context& admin, request_context& ctx,
                                                            msg::alter_configs_request& request) {
    auto response = co_await alter_from_client<msg::alter_configs_response>(admin, ctx, std::move(request));
    co_return response;
}

awaitable<msg::incremental_alter_configs_response> handle_incremental_alter_configs(
    admin_context& admin, request_context& ctx, msg::incremental_alter_configs_request& request) {
    auto response =
        co_await alter_from_client<msg::incremental_alter_configs_response>(admin, ctx, std::move(request));
    co_return response;
}

}  // namespace

void register_config_apis(request_dispatcher& dispatcher, admin_context& admin) {
    auto bind = [&admin](auto fn) {
        return [&admin, fn](request_context& ctx, auto& request) { return fn(admin, ctx, request); };
    };
    dispatcher.register_api<msg::describe_configs_request>(bind(handle_describe_configs), 0, 4);
    dispatcher.register_api<msg::alter_configs_request>(bind(handle_alter_configs), 0, 2);
    dispatcher.register_api<msg::incremental_alter_configs_request>(bind(handle_incremental_alter_configs), 0, 1);
}

}  // namespace strata::server
