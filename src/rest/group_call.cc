#include "group_call.h"

#include <set>
#include <string_view>
#include <utility>

namespace strata::rest {

namespace pm = protocol::messages;

std::optional<pm::offset_commit_request> coordinator_part(const pm::offset_commit_request& request,
                                                          const pm::offset_commit_response& local) {
    std::set<std::pair<std::string_view, int32_t>> to_coordinator;
    for (const auto& t : local.topics)
        for (const auto& p : t.partitions)
            if (coordinator_error(p.error_code)) to_coordinator.emplace(t.name, p.partition_index);
    if (to_coordinator.empty()) return std::nullopt;
    pm::offset_commit_request part = request;
    std::erase_if(part.topics, [&](auto& t) {
        std::erase_if(t.partitions, [&](const auto& p) { return !to_coordinator.contains({t.name, p.partition_index}); });
        return t.partitions.empty();
    });
    return part;
}

void add_refusals(pm::offset_commit_response& answer, const pm::offset_commit_response& local) {
    for (const auto& t : local.topics) {
        pm::offset_commit_response::offset_commit_response_topic refused;
        refused.name = t.name;
        for (const auto& p : t.partitions)
            if (!coordinator_error(p.error_code)) refused.partitions.push_back(p);
        if (!refused.partitions.empty()) answer.topics.push_back(std::move(refused));
    }
}

// To v7 (the REST proxy's cap): one group, NOT_COORDINATOR as the top-level
// error, refusals per partition of the named topics.
std::optional<pm::offset_fetch_request> coordinator_part(const pm::offset_fetch_request& request,
                                                         const pm::offset_fetch_response& local) {
    if (!coordinator_error(local.error_code) || !request.topics) return std::nullopt;
    std::set<std::string_view> refused;
    for (const auto& t : local.topics)
        for (const auto& p : t.partitions)
            if (p.error_code != 0 && !coordinator_error(p.error_code)) refused.insert(t.name);
    pm::offset_fetch_request part = request;
    std::erase_if(*part.topics, [&](const auto& t) { return refused.contains(t.name); });
    if (part.topics->empty()) return std::nullopt;
    return part;
}

void add_refusals(pm::offset_fetch_response& answer, const pm::offset_fetch_response& local) {
    for (const auto& t : local.topics) {
        pm::offset_fetch_response::offset_fetch_response_topic refused;
        refused.name = t.name;
        for (const auto& p : t.partitions)
            if (p.error_code != 0 && !coordinator_error(p.error_code)) refused.partitions.push_back(p);
        if (!refused.partitions.empty()) answer.topics.push_back(std::move(refused));
    }
}

}  // namespace strata::rest
