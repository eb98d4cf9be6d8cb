#include "strata/replication/partition_config.h"

#include <fmt/format.h>

#include "strata/replication/topic_config.h"

namespace strata::replication {

partition_config resolve_partition_config(const partition_config& defaults, const metadata::config_map& topic_configs,
                                          std::vector<std::string>* problems) {
    partition_config out = defaults;
    // Two passes: the configs that others override first (the deprecated
    // message.timestamp.difference.max.ms under the KIP-937 keys).
    for (const bool first_pass : {true, false}) {
        for (const auto& [name, value] : topic_configs) {
            const auto* key = find_topic_config(name);
            // Not a setting of the partition (or unknown).
            if (!key || !key->apply || key->applied_first != first_pass) continue;
            if (auto problem = key->validate(value); !problem.empty()) {
                if (problems) problems->push_back(fmt::format("{}={} is invalid ({})", name, value, problem));
                continue;
            }
            key->apply(out, value);
        }
    }
    return out;
}

}  // namespace strata::replication
