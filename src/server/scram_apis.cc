// DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), v0:
// SCRAM credentials as UserScramCredentialRecord / RemoveUserScramCredentialRecord
// in the metadata log (Kafka's ScramControlManager rules), so that every
// broker authenticates from its own image.
#include <set>

#include "admin_apis.h"
#include "strata/protocol/messages/alter_user_scram_credentials_request.h"
#include "strata/protocol/messages/alter_user_scram_credentials_response.h"
#include "strata/protocol/messages/describe_user_scram_credentials_request.h"
#include "strata/protocol/messages/describe_user_scram_credentials_response.h"
#include "strata/security/scram.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
namespace records = protocol::metadata;
using boost::asio::awaitable;

bool known_mechanism(int8_t m) {
    return m == static_cast<int8_t>(security::scram_mechanism::sha_256) ||
           m == static_cast<int8_t>(security::scram_mechanism::sha_512);
}

void describe_user(const metadata::metadata_image& image, const std::string& user,
                   msg::describe_user_scram_credentials_response::describe_user_scram_credentials_result& out) {
    out.user = user;
    out.error_message.reset();
    auto found = image.scram().find(user);
    if (found == image.scram().end()) {
        out.error_code = kafka_error_code(kafka_error::resource_not_found);
        out.error_message = "Attempt to describe nonexistent user.";
        return;
    }
    for (const auto& [mechanism, record] : found->second) {
        auto& info = out.credential_infos.emplace_back();
        info.mechanism = mechanism;
        info.iterations = record.iterations;
    }
}

awaitable<msg::describe_user_scram_credentials_response> handle_describe(
    admin_context& admin, request_context& ctx, msg::describe_user_scram_credentials_request& request) {
    msg::describe_user_scram_credentials_response response;
    response.error_message.reset();
    if (!ctx.authorized(security::acl_operation::describe, security::resource_type::cluster,
                        security::cluster_resource_name)) {
        response.error_code = kafka_error_code(kafka_error::cluster_authorization_failed);
        co_return response;
    }
    const auto image = admin.metadata.image();
    if (!request.users || request.users->empty()) {
        for (const auto& [user, credentials] : image->scram()) describe_user(*image, user, response.results.emplace_back());
        co_return response;
    }
    std::map<std::string, int> counts;
    for (const auto& u : *request.users) ++counts[u.name];
    std::set<std::string> done;
    for (const auto& u : *request.users) {
        if (!done.insert(u.name).second) continue;
        auto& out = response.results.emplace_back();
        if (counts[u.name] > 1) {
            out.user = u.name;
            out.error_code = kafka_error_code(kafka_error::duplicate_resource);
            out.error_message = "Cannot describe SCRAM credentials for the same user twice in a single request.";
            continue;
        }
        describe_user(*image, u.name, out);
    }
    co_return response;
}

// One user's alterations, checked as Kafka's ScramControlManager does;
// NONE and the records to write, or the error and its message.
struct user_outcome {
    kafka_error error = kafka_error::none;
    std::string message;
    std::vector<metadata::record> records;
};

void fail(user_outcome& o, kafka_error e, std::string message) {
    if (o.error != kafka_error::none) return;
    o.error = e;
    o.message = std::move(message);
    o.records.clear();
}

std::map<std::string, user_outcome> decide_alterations(const metadata::metadata_image& image,
                                                       const msg::alter_user_scram_credentials_request& request) {
    std::map<std::string, user_outcome> outcomes;
    std::set<std::pair<std::string, int8_t>> seen;
    const auto duplicate = [&](const std::string& user, int8_t m) { return !seen.insert({user, m}).second; };
    for (const auto& d : request.deletions) {
        auto& o = outcomes[d.name];
        if (d.name.empty()) fail(o, kafka_error::unacceptable_credential, "Username must not be empty");
        else if (!known_mechanism(d.mechanism)) fail(o, kafka_error::unsupported_sasl_mechanism, "Unknown SCRAM mechanism");
        else if (duplicate(d.name, d.mechanism))
            fail(o, kafka_error::duplicate_resource, "A user credential cannot be altered twice in the same request");
        else if (!image.scram_credential(d.name, d.mechanism))
            fail(o, kafka_error::resource_not_found, "Attempt to delete a user credential that does not exist");
        else if (o.error == kafka_error::none) {
            records::remove_user_scram_credential_record r;
            r.name = d.name;
            r.mechanism = d.mechanism;
            o.records.emplace_back(r);
        }
    }
    for (const auto& u : request.upsertions) {
        auto& o = outcomes[u.name];
        if (u.name.empty()) fail(o, kafka_error::unacceptable_credential, "Username must not be empty");
        else if (!known_mechanism(u.mechanism)) fail(o, kafka_error::unsupported_sasl_mechanism, "Unknown SCRAM mechanism");
        else if (duplicate(u.name, u.mechanism))
            fail(o, kafka_error::duplicate_resource, "A user credential cannot be altered twice in the same request");
        else if (u.iterations < security::scram_min_iterations)
            fail(o, kafka_error::unacceptable_credential, "Too few iterations");
        else if (u.iterations > security::scram_max_iterations)
            fail(o, kafka_error::unacceptable_credential, "Too many iterations");
        else if (u.salted_password.empty() || u.salt.empty())
            fail(o, kafka_error::unacceptable_credential, "Salt and salted password must not be empty");
        else if (o.error == kafka_error::none) {
            const auto m = static_cast<security::scram_mechanism>(u.mechanism);
            const auto credential = security::scram_credential_from_salted(m, u.salted_password, u.salt, u.iterations);
            records::user_scram_credential_record r;
            r.name = u.name;
            r.mechanism = u.mechanism;
            r.salt = credential.salt;
            r.stored_key = credential.stored_key;
            r.server_key = credential.server_key;
            r.iterations = credential.iterations;
            o.records.emplace_back(r);
        }
    }
    return outcomes;
}

awaitable<msg::alter_user_scram_credentials_response> alter_locally(admin_context& admin,
                                                                    msg::alter_user_scram_credentials_request request) {
    std::map<std::string, user_outcome> outcomes;
    const auto error = co_await admin.metadata.decide([&](const metadata::metadata_image& image) {
        outcomes = decide_alterations(image, request);
        std::vector<metadata::record> all;
        for (auto& [user, o] : outcomes)
            for (auto& r : o.records) all.push_back(std::move(r));
        return all;
    });
    msg::alter_user_scram_credentials_response response;
    for (const auto& [user, o] : outcomes) {
        auto& out = response.results.emplace_back();
        out.user = user;
        out.error_code = kafka_error_code(o.error != kafka_error::none ? o.error : error);
        if (o.error != kafka_error::none) out.error_message = o.message;
        else out.error_message.reset();
    }
    co_return response;
}

awaitable<msg::alter_user_scram_credentials_response> handle_alter(admin_context& admin, request_context& ctx,
                                                                   msg::alter_user_scram_credentials_request& request) {
    if (!authorized_or_forwarded(ctx, security::acl_operation::alter, security::resource_type::cluster,
                                 security::cluster_resource_name)) {
        msg::alter_user_scram_credentials_response response;
        std::set<std::string> users;
        for (const auto& d : request.deletions) users.insert(d.name);
        for (const auto& u : request.upsertions) users.insert(u.name);
        for (const auto& user : users) {
            auto& out = response.results.emplace_back();
            out.user = user;
            out.error_code = kafka_error_code(kafka_error::cluster_authorization_failed);
            out.error_message.reset();
        }
        co_return response;
    }
    co_return co_await on_controller<msg::alter_user_scram_credentials_response>(
        admin, &ctx, std::move(request), ctx.version,
        [&admin](msg::alter_user_scram_credentials_request r) { return alter_locally(admin, std::move(r)); });
}

}  // namespace

void register_scram_apis(request_dispatcher& dispatcher, admin_context& admin) {
    dispatcher.register_api<msg::describe_user_scram_credentials_request>(
        [&admin](request_context& ctx, msg::describe_user_scram_credentials_request& r) {
            return handle_describe(admin, ctx, r);
        },
        0, 0);
    dispatcher.register_api<msg::alter_user_scram_credentials_request>(
        [&admin](request_context& ctx, msg::alter_user_scram_credentials_request& r) {
            return handle_alter(admin, ctx, r);
        },
        0, 0);
}

}  // namespace strata::server
