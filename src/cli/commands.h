// Each file of this folder registers one command group with CLI11.
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace strata::cli {

struct global_options;

void add_cluster_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_topic_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_partition_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
// Under `partition` (reassign.cc) and `cluster` (rebalance.cc).
void add_reassign_commands(CLI::App& partition, const std::shared_ptr<global_options>& global);
void add_rebalance_command(CLI::App& cluster, const std::shared_ptr<global_options>& global);
void add_broker_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_produce_command(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_consume_command(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_group_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_config_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_perf_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_user_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_acl_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
// strata token create | renew | expire | describe (delegation tokens, token.cc).
void add_token_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_quota_commands(CLI::App& app, const std::shared_ptr<global_options>& global);
void add_completion_command(CLI::App& app);

}  // namespace strata::cli
