// The table of configuration keys: the single source of every key's name,
// type, default, validation and documentation. Loading, environment
// overrides and docs/configuration.md all derive from it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::server {

struct broker_config;

// Kafka's "Dynamic Update Mode" of a broker key: read-only keys need a
// restart; per-broker ones change at run time for one broker (AlterConfigs
// on the resource named by its id); cluster-wide ones also at the
// cluster-default resource (named "").
enum class update_mode { read_only, per_broker, cluster_wide };

struct config_key {
    std::string_view name;           // Kafka's property name, e.g. "log.segment.bytes"
    std::string_view section;        // heading it is documented under
    std::string type;                // "int", "long", "boolean", "string", "list", ...
    std::string default_value;       // as it would be written in the file; "" is empty
    std::string valid_values;        // what the validator accepts, for people ("at least 1")
    std::string_view doc;
    // Parses `text` (a scalar, or a list joined with commas), validates it
    // and stores it in `config`. Returns the problem, or "" when it is fine.
    std::function<std::string(std::string_view text, broker_config& config)> apply;
    // The key's value in `config` as text (nullopt when an optional key such
    // as log.retention.ms is unset), for the keys that set a field: the topic
    // config table's broker defaults read the file through it. Empty for the
    // keys not in effect.
    std::function<std::optional<std::string>(const broker_config& config)> current;
    // Set for the keys whose mode is their own (the Kafka keys accepted but
    // not in effect); the keys behind topic configs are cluster-wide by
    // that (is_dynamic_broker_config), every other key is read-only.
    update_mode mode = update_mode::read_only;
};

// In documentation order.
const std::vector<config_key>& config_schema();
const config_key* find_config_key(std::string_view name);

// The reference tables of docs/configuration.md (between its
// "BEGIN GENERATED" and "END GENERATED" markers), made from the schema.
std::string config_reference_markdown();

}  // namespace strata::server
