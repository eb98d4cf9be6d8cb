// The error codes of the controller's responses (the admin requests a broker
// forwards to the active controller), visited one by one, as Kafka's
// AbstractResponse.errorCounts(): the broker's forwarding path
// (server/admin_apis_forwarding.h) looks for NOT_CONTROLLER anywhere in an
// answer, as Kafka's NodeToControllerChannel does, and turns it into
// REQUEST_TIMED_OUT once the request's time is up; the CLI retries an answer
// whose errors are all retriable. One overload per response type: using one
// that lacks its overload does not compile.
#pragma once

#include <cstdint>

#include "strata/protocol/messages/allocate_producer_ids_response.h"
#include "strata/protocol/messages/alter_client_quotas_response.h"
#include "strata/protocol/messages/alter_configs_response.h"
#include "strata/protocol/messages/alter_partition_reassignments_response.h"
#include "strata/protocol/messages/alter_user_scram_credentials_response.h"
#include "strata/protocol/messages/create_acls_response.h"
#include "strata/protocol/messages/create_partitions_response.h"
#include "strata/protocol/messages/create_topics_response.h"
#include "strata/protocol/messages/delete_acls_response.h"
#include "strata/protocol/messages/delete_topics_response.h"
#include "strata/protocol/messages/elect_leaders_response.h"
#include "strata/protocol/messages/incremental_alter_configs_response.h"
#include "strata/protocol/messages/list_partition_reassignments_response.h"
#include "strata/protocol/messages/unregister_broker_response.h"

namespace strata::protocol {



// Calls `f(int16_t&)` on every error code of `r` (top level and per item).
template <typename F>
void for_each_error_code(messages::create_topics_response& r, F&& f) {
    for (auto& t : r.topics) f(t.error_code);
}
template <typename F>
void for_each_error_code(messages::delete_topics_response& r, F&& f) {
    for (auto& t : r.responses) f(t.error_code);
}
template <typename F>
void for_each_error_code(messages::create_partitions_response& r, F&& f) {
    for (auto& t : r.results) f(t.error_code);
}
template <typename F>
void for_each_error_code(messages::create_acls_response& r, F&& f) {
    for (auto& a : r.results) f(a.error_code);
}
template <typename F>
void for_each_error_code(messages::delete_acls_response& r, F&& f) {
    for (auto& filter : r.filter_results) {
        f(filter.error_code);
        for (auto& a : filter.matching_acls) f(a.error_code);
    }
}
template <typename F>
void for_each_error_code(messages::alter_client_quotas_response& r, F&& f) {
    for (auto& e : r.entries) f(e.error_code);
}
template <typename F>
void for_each_error_code(messages::alter_configs_response& r, F&& f) {
    for (auto& c : r.responses) f(c.error_code);
}
template <typename F>
void for_each_error_code(messages::incremental_alter_configs_response& r, F&& f) {
    for (auto& c : r.responses) f(c.error_code);
}
template <typename F>
void for_each_error_code(messages::elect_leaders_response& r, F&& f) {
    f(r.error_code);
    for (auto& t : r.replica_election_results)
        for (auto& p : t.partition_result) f(p.error_code);
}
template <typename F>
void for_each_error_code(messages::alter_partition_reassignments_response& r, F&& f) {
    f(r.error_code);
    for (auto& t : r.responses)
        for (auto& p : t.partitions) f(p.error_code);
}
template <typename F>
void for_each_error_code(messages::list_partition_reassignments_response& r, F&& f) {
    f(r.error_code);
}
template <typename F>
void for_each_error_code(messages::unregister_broker_response& r, F&& f) {
    f(r.error_code);
}
template <typename F>
void for_each_error_code(messages::allocate_producer_ids_response& r, F&& f) {
    f(r.error_code);
}
template <typename F>
void for_each_error_code(messages::alter_user_scram_credentials_response& r, F&& f) {
    for (auto& u : r.results) f(u.error_code);
}

// True when any error code of `r` is `code`.
template <typename Response>
bool has_error(Response& r, int16_t code) {
    bool found = false;
    for_each_error_code(r, [&](int16_t& e) { found = found || e == code; });
    return found;
}

// Replaces every `from` in `r` by `to`.
template <typename Response>
void replace_error(Response& r, int16_t from, int16_t to) {
    for_each_error_code(r, [&](int16_t& e) {
        if (e == from) e = to;
    });
}

}  // namespace strata::protocol
