// Metadata (3), CreateTopics (19), DeleteTopics (20), CreatePartitions (37)
// and DescribeCluster (60): the APIs answered from the metadata image or by
// the controller through the metadata quorum.
#include "admin_apis.h"

#include <algorithm>

#include "strata/common/kafka_error.h"
#include "strata/metadata/controller.h"
#include "strata/protocol/messages/create_partitions_request.h"
#include "strata/protocol/messages/create_topics_request.h"
#include "strata/protocol/messages/delete_topics_request.h"
#include "strata/protocol/messages/describe_cluster_request.h"
#include "strata/protocol/messages/describe_cluster_response.h"
#include "strata/protocol/messages/describe_topic_partitions_request.h"
#include "strata/protocol/messages/describe_topic_partitions_response.h"
#include "strata/protocol/messages/metadata_request.h"
#include "strata/protocol/messages/metadata_response.h"
#include "strata/security/authorized_operations.h"

namespace strata::server {

namespace {

namespace msg = protocol::messages;
using boost::asio::awaitable;

// Kafka's "authorized operations not requested" marker.
constexpr int32_t operations_not_requested = INT32_MIN;

// The authorized-operations bit field of a resource, for the request's principal.
int32_t operations_on(const request_context& ctx, security::resource_type type, std::string_view name) {
    return security::authorized_operations(ctx.authorizer, ctx.identity(), type, name);
}

// The cluster's bit field as Metadata v8-10 and DescribeCluster answer it:
// 0 to a principal that may not DESCRIBE the cluster (Kafka's KafkaApis).
int32_t cluster_operations(const request_context& ctx) {
    if (!ctx.authorized(security::acl_operation::describe, security::resource_type::cluster,
                        security::cluster_resource_name))
        return 0;
    return operations_on(ctx, security::resource_type::cluster, security::cluster_resource_name);
}

// A leader this broker's replica fetchers just found gone is shown as
// none (LEADER_NOT_AVAILABLE) until the controller names the next one.
bool leader_unreachable(const metadata::metadata_image& image, const replication::unreachable_brokers* unreachable,
                        int32_t leader) {
    if (!unreachable || leader == metadata::no_leader) return false;
    const auto* b = image.broker(leader);
    return b && unreachable->contains(leader, b->epoch);
}

void fill_topic(const metadata::metadata_image& image, const metadata::topic_image& t, int16_t version,
                const replication::unreachable_brokers* unreachable,
                msg::metadata_response::metadata_response_topic& out) {
    out.name = t.name;
    out.topic_id = t.id;
    out.is_internal =
        !t.name.empty() && t.name.front() == '_' && (t.name == "__consumer_offsets" || t.name == "__transaction_state");
    out.topic_authorized_operations = operations_not_requested;
    for (const auto& p : t.partitions) {
        auto& part = out.partitions.emplace_back();
        part.partition_index = p.partition;
        part.leader_id = p.leader;
        part.leader_epoch = p.leader_epoch;
        part.replica_nodes = p.replicas;
        part.isr_nodes = p.isr;
        for (int32_t r : p.replicas) {
            const auto* b = image.broker(r);
            if (!b || b->fenced) part.offline_replicas.push_back(r);
        }
        if (leader_unreachable(image, unreachable, p.leader)) part.leader_id = metadata::no_leader;
        if (part.leader_id == metadata::no_leader) part.error_code = kafka_error_code(kafka_error::leader_not_available);
    }
}

// The brokers a client on `listener` can reach: registered, unfenced, with an
// endpoint on that listener.
template <typename Visit>
void for_each_reachable_broker(const metadata::metadata_image& image, const std::string& listener, Visit visit) {
    for (const auto& [id, b] : image.brokers()) {
        if (b.fenced) continue;
        if (const auto* e = b.endpoint(listener)) visit(b, *e);
    }
}

void fill_brokers(const metadata::metadata_image& image, const std::string& listener,
                  std::vector<msg::metadata_response::metadata_response_broker>& out) {
    for_each_reachable_broker(image, listener, [&](const metadata::broker_registration& b, const auto& e) {
        auto& broker = out.emplace_back();
        broker.node_id = b.id;
        broker.host = e.host;
        broker.port = e.port;
        broker.rack = b.rack;
    });
}

// In KRaft clients cannot reach the controllers; Kafka names a live broker
// as the "controller" (the active controller itself in combined mode).
int32_t controller_for_clients(const metadata::metadata_image& image, std::optional<int32_t> active) {
    if (active && image.broker(*active) && !image.broker(*active)->fenced) return *active;
    for (const auto& [id, b] : image.brokers())
        if (!b.fenced) return id;
    return -1;
}

// True when the image names no broker a client could use: a new cluster
// before its quorum has elected a leader and a broker has registered.
bool no_live_broker(const metadata::metadata_image& image) {
    for (const auto& [id, b] : image.brokers())
        if (!b.fenced) return false;
    return true;
}

awaitable<msg::metadata_response> handle_metadata(admin_context& admin, request_context& ctx,
                                                  msg::metadata_request& request) {
    // Kafka's broker serves no client before it is registered and
    // unfenced: clients find it unreachable, reconnect and ask again, and
    // learn brokers and controller then. An answer with no broker and no
    // controller instead leaves librdkafka's admin client waiting for a
    // controller it never asks about again (CreateTopics sent to a new
    // cluster timed out, "Failed while waiting for controller"), so it is
    // held until some broker is live, for at most 10 s.
    if (admin.controller && no_live_broker(*admin.metadata.image())) {
        boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (no_live_broker(*admin.metadata.image()) && std::chrono::steady_clock::now() < until) {
            pause.expires_after(std::chrono::milliseconds(10));
            boost::system::error_code ignored;
            co_await pause.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
        }
    }
    auto image = admin.metadata.image();

    msg::metadata_response response;
    response.cluster_id = admin.cluster_id;
    // Clients send CreateTopics and the like to the broker named here, and
    // every broker forwards them to the active controller. Kafka's KRaft
    // brokers name a random live broker; this one names itself when it is
    // live: the client is connected to it already, and the active
    // controller's broker may be gone without being fenced yet (a client
    // sent there retries a dead address until its request times out).
    const auto* self = admin.broker ? image->broker(admin.broker->node_id) : nullptr;
    response.controller_id = self && !self->fenced
                                 ? admin.broker->node_id
                                 : controller_for_clients(*image, admin.metadata.controller_id());
    // Metadata v8-10 carry the cluster's operations; v11 dropped them
    // (DescribeCluster answers them since).
    response.cluster_authorized_operations =
        ctx.version >= 8 && ctx.version <= 10 && request.include_cluster_authorized_operations
            ? cluster_operations(ctx)
            : operations_not_requested;
    fill_brokers(*image, ctx.connection.listener, response.brokers);
    // v8+: each described topic's operations when asked; a refused topic keeps the marker.
    const bool topic_operations = ctx.version >= 8 && request.include_topic_authorized_operations;
    auto with_operations = [&](msg::metadata_response::metadata_response_topic& out) {
        if (topic_operations && out.name)
            out.topic_authorized_operations = operations_on(ctx, security::resource_type::topic, *out.name);
    };

    // v0: an empty list means every topic; v1+: null means every topic.
    const bool all_topics = !request.topics || (ctx.version == 0 && request.topics->empty());
    // The authorize stage: DESCRIBE on a topic shows it. Asked for every
    // topic, those not allowed are left out, as Kafka does.
    auto may_describe = [&ctx](const std::string& name) {
        return ctx.authorized(security::acl_operation::describe, security::resource_type::topic, name);
    };
    if (all_topics) {
        for (const auto& [name, t] : image->topics())
            if (may_describe(name)) {
                auto& out = response.topics.emplace_back();
                fill_topic(*image, *t, ctx.version, admin.unreachable, out);
                with_operations(out);
            }
        co_return response;
    }
    const bool may_create = admin.auto_create_topics && (ctx.version < 4 || request.allow_auto_topic_creation);
    for (const auto& wanted : *request.topics) {
        const metadata::topic_image* t = wanted.name ? image->topic(*wanted.name) : image->topic(wanted.topic_id);
        const std::string name = wanted.name ? *wanted.name : (t ? t->name : std::string());
        if ((t || wanted.name) && !may_describe(name)) {
            auto& out = response.topics.emplace_back();
            out.name = wanted.name;
            out.topic_id = wanted.topic_id;
            out.topic_authorized_operations = operations_not_requested;
            out.error_code = kafka_error_code(kafka_error::topic_authorization_failed);
            continue;
        }
        // Auto-creation needs CREATE on the cluster or the topic.
        const bool may_create_this =
            may_create && wanted.name &&
            (ctx.authorized(security::acl_operation::create, security::resource_type::cluster,
                            security::cluster_resource_name) ||
             ctx.authorized(security::acl_operation::create, security::resource_type::topic, *wanted.name));
        if (!t && wanted.name && may_create_this && !metadata::invalid_topic_name(*wanted.name)) {
            msg::create_topics_request create;
            auto& ct = create.topics.emplace_back();
            ct.name = *wanted.name;
            ct.num_partitions = -1;
            ct.replication_factor = -1;
            auto created = co_await on_controller<msg::create_topics_response>(
                admin, nullptr, std::move(create), 7,
                [&admin](msg::create_topics_request r) { return admin.metadata.create_topics(std::move(r), 7); });
            image = admin.metadata.image();
            t = image->topic(*wanted.name);
        }
        auto& out = response.topics.emplace_back();
        if (t) {
            fill_topic(*image, *t, ctx.version, admin.unreachable, out);
            with_operations(out);
            continue;
        }
        out.name = wanted.name;
        out.topic_id = wanted.topic_id;
        out.topic_authorized_operations = operations_not_requested;
        if (!wanted.name)
            out.error_code = kafka_error_code(kafka_error::unknown_topic_id);
        else if (metadata::invalid_topic_name(*wanted.name))
            out.error_code = kafka_error_code(kafka_error::invalid_topic_exception);
        else
            out.error_code = kafka_error_code(kafka_error::unknown_topic_or_partition);
    }
    co_return response;
}

// KIP-599's controller mutation quota of this request (unbounded without
// one). A request another broker forwarded here was counted by that broker,
// which knows its client: Strata forwards without Kafka's Envelope, so the
// quota is taken where the client's request arrives.
quota::mutation_quota mutation_quota_for(admin_context& admin, const request_context& ctx, int16_t strict_since) {
    if (!admin.mutation_quotas || forwarded(ctx)) return {};
    return admin.mutation_quotas->for_request(ctx.principal().name, ctx.header.client_id.value_or(""),
                                              ctx.version >= strict_since);
}

// Kafka's message for a refused mutation (ThrottlingQuotaExceededException).
constexpr std::string_view throttled_message = "The throttling quota has been exceeded.";

// The partitions a CreateTopics entry would create, as Kafka's controller
// counts them (its assignments, else NumPartitions, else num.partitions);
// 0 for an entry the controller refuses before it takes from the quota (the
// topic exists, a partition count that is not valid).
int32_t partitions_to_create(const admin_context& admin, const metadata::metadata_image& image,
                             const msg::create_topics_request::creatable_topic& t) {
    if (image.topic(t.name)) return 0;
    if (!t.assignments.empty()) return static_cast<int32_t>(t.assignments.size());
    if (t.num_partitions == -1) return admin.broker ? admin.broker->num_partitions : 1;
    return t.num_partitions > 0 ? t.num_partitions : 0;
}

bool may_create_topic(const request_context& ctx, const std::string& name) {
    return authorized_or_forwarded(ctx, security::acl_operation::create, security::resource_type::cluster,
                                   security::cluster_resource_name) ||
           authorized_or_forwarded(ctx, security::acl_operation::create, security::resource_type::topic, name);
}

// CREATE on the cluster or the topic, as Kafka's KafkaApis: refused topics
// are answered here with TOPIC_AUTHORIZATION_FAILED, the rest go on.
awaitable<msg::create_topics_response> handle_create_topics(admin_context& admin, request_context& ctx,
                                                            msg::create_topics_request& request) {
    const int16_t v = ctx.version;
    std::vector<msg::create_topics_response::creatable_topic_result> refused;
    std::erase_if(request.topics, [&](const msg::create_topics_request::creatable_topic& t) {
        if (may_create_topic(ctx, t.name)) return false;
        auto& r = refused.emplace_back();
        r.name = t.name;
        r.error_code = kafka_error_code(kafka_error::topic_authorization_failed);
        r.error_message = "Authorization failed.";
        r.topic_config_error_code = kafka_error_code(kafka_error::topic_authorization_failed);
        r.configs.reset();
        return true;
    });
    // KIP-599, topic by topic in the request's order, after authorization.
    auto mutations = mutation_quota_for(admin, ctx, 6);
    if (mutations.bounded()) {
        const auto image = admin.metadata.image();
        std::erase_if(request.topics, [&](const msg::create_topics_request::creatable_topic& t) {
            const int32_t partitions = partitions_to_create(admin, *image, t);
            if (partitions == 0 || mutations.try_record(partitions)) return false;
            auto& r = refused.emplace_back();
            r.name = t.name;
            r.error_code = kafka_error_code(kafka_error::throttling_quota_exceeded);
            r.error_message = std::string(throttled_message);
            r.configs.reset();
            return true;
        });
    }
    msg::create_topics_response response;
    if (!request.topics.empty()) {
        response = co_await on_controller<msg::create_topics_response>(
            admin, &ctx, std::move(request), v, [&admin, v](msg::create_topics_request r) {
                return admin.metadata.create_topics(std::move(r), v);
            });
    }
    for (auto& r : refused) response.topics.push_back(std::move(r));
    ctx.throttle_ms = std::max(ctx.throttle_ms, mutations.throttle_ms());
    co_return response;
}

// DELETE on each topic; a topic named by id is authorized by its name.
awaitable<msg::delete_topics_response> handle_delete_topics(admin_context& admin, request_context& ctx,
                                                            msg::delete_topics_request& request) {
    const int16_t v = ctx.version;
    const auto image = admin.metadata.image();
    std::vector<msg::delete_topics_response::deletable_topic_result> refused;
    const auto may_delete = [&](const std::string& name) {
        return authorized_or_forwarded(ctx, security::acl_operation::remove, security::resource_type::topic, name);
    };
    const auto refuse = [&](std::optional<std::string> name, const protocol::uuid& id) {
        auto& r = refused.emplace_back();
        r.name = std::move(name);
        r.topic_id = id;
        r.error_code = kafka_error_code(kafka_error::topic_authorization_failed);
    };
    std::erase_if(request.topic_names, [&](const std::string& name) {
        if (may_delete(name)) return false;
        refuse(name, {});
        return true;
    });
    std::erase_if(request.topics, [&](const msg::delete_topics_request::delete_topic_state& t) {
        const auto* known = t.name ? image->topic(*t.name) : image->topic(t.topic_id);
        const std::string name = t.name ? *t.name : (known ? known->name : std::string());
        // An unknown id is the controller's to answer (UNKNOWN_TOPIC_ID).
        if ((!t.name && !known) || may_delete(name)) return false;
        refuse(t.name, t.topic_id);
        return true;
    });
    // KIP-599: each topic takes its partition count from the quota (an
    // unknown topic is the controller's to refuse, and takes nothing).
    auto mutations = mutation_quota_for(admin, ctx, 5);
    if (mutations.bounded()) {
        const auto throttled = [&](const metadata::topic_image* known) {
            if (!known || mutations.try_record(static_cast<double>(known->partitions.size()))) return false;
            auto& r = refused.emplace_back();
            r.name = known->name;
            if (ctx.version >= 6) r.topic_id = known->id;
            r.error_code = kafka_error_code(kafka_error::throttling_quota_exceeded);
            r.error_message = std::string(throttled_message);
            return true;
        };
        std::erase_if(request.topic_names, [&](const std::string& name) { return throttled(image->topic(name)); });
        std::erase_if(request.topics, [&](const msg::delete_topics_request::delete_topic_state& t) {
            return throttled(t.name ? image->topic(*t.name) : image->topic(t.topic_id));
        });
    }
    msg::delete_topics_response response;
    if (!request.topic_names.empty() || !request.topics.empty()) {
        response = co_await on_controller<msg::delete_topics_response>(
            admin, &ctx, std::move(request), v, [&admin, v](msg::delete_topics_request r) {
                return admin.metadata.delete_topics(std::move(r), v);
            });
    }
    for (auto& r : refused) response.responses.push_back(std::move(r));
    ctx.throttle_ms = std::max(ctx.throttle_ms, mutations.throttle_ms());
    co_return response;
}

// ALTER on each topic.
awaitable<msg::create_partitions_response> handle_create_partitions(admin_context& admin, request_context& ctx,
                                                                    msg::create_partitions_request& request) {
    std::vector<msg::create_partitions_response::create_partitions_topic_result> refused;
    std::erase_if(request.topics, [&](const msg::create_partitions_request::create_partitions_topic& t) {
        if (authorized_or_forwarded(ctx, security::acl_operation::alter, security::resource_type::topic, t.name))
            return false;
        auto& r = refused.emplace_back();
        r.name = t.name;
        r.error_code = kafka_error_code(kafka_error::topic_authorization_failed);
        r.error_message = "Authorization failed.";
        return true;
    });
    // KIP-599: the partitions each topic gains (a topic the controller
    // refuses, unknown or not growing, takes nothing).
    auto mutations = mutation_quota_for(admin, ctx, 3);
    if (mutations.bounded()) {
        const auto image = admin.metadata.image();
        std::erase_if(request.topics, [&](const msg::create_partitions_request::create_partitions_topic& t) {
            const auto* known = image->topic(t.name);
            const auto current = known ? static_cast<int32_t>(known->partitions.size()) : 0;
            if (!known || t.count <= current || mutations.try_record(t.count - current)) return false;
            auto& r = refused.emplace_back();
            r.name = t.name;
            r.error_code = kafka_error_code(kafka_error::throttling_quota_exceeded);
            r.error_message = std::string(throttled_message);
            return true;
        });
    }
    msg::create_partitions_response response;
    if (!request.topics.empty()) {
        response = co_await on_controller<msg::create_partitions_response>(
            admin, &ctx, std::move(request), ctx.version,
            [&admin](msg::create_partitions_request r) { return admin.metadata.create_partitions(std::move(r)); });
    }
    for (auto& r : refused) response.results.push_back(std::move(r));
    ctx.throttle_ms = std::max(ctx.throttle_ms, mutations.throttle_ms());
    co_return response;
}

awaitable<msg::describe_cluster_response> handle_describe_cluster(admin_context& admin, request_context& ctx,
                                                                  msg::describe_cluster_request& request) {
    auto image = admin.metadata.image();
    msg::describe_cluster_response response;
    response.cluster_id = admin.cluster_id;
    response.controller_id = controller_for_clients(*image, admin.metadata.controller_id());
    response.cluster_authorized_operations =
        request.include_cluster_authorized_operations ? cluster_operations(ctx) : operations_not_requested;
    for_each_reachable_broker(*image, ctx.connection.listener,
                              [&](const metadata::broker_registration& b, const auto& e) {
                                  auto& broker = response.brokers.emplace_back();
                                  broker.broker_id = b.id;
                                  broker.host = e.host;
                                  broker.port = e.port;
                                  broker.rack = b.rack;
                              });
    co_return response;
}

// KIP-966's paginated topic description (Kafka's admin client uses it from
// 3.8 on): topics in name order from the cursor, at most
// response_partition_limit partitions (and never more than 2000, Kafka's
// max.request.partition.size.limit), with the cursor to continue from.
awaitable<msg::describe_topic_partitions_response> handle_describe_topic_partitions(
    admin_context& admin, request_context& ctx, msg::describe_topic_partitions_request& request) {
    auto image = admin.metadata.image();
    msg::describe_topic_partitions_response response;
    response.next_cursor.reset();
    int32_t budget = std::clamp(request.response_partition_limit, 1, 2000);

    // DESCRIBE on a topic shows it: left out of a listing of every topic,
    // TOPIC_AUTHORIZATION_FAILED when named (Kafka's KafkaApis).
    const auto may_describe = [&ctx](const std::string& name) {
        return ctx.authorized(security::acl_operation::describe, security::resource_type::topic, name);
    };
    std::vector<std::string> names;
    if (request.topics.empty()) {
        for (const auto& [name, t] : image->topics())
            if (may_describe(name)) names.push_back(name);
    } else {
        for (const auto& t : request.topics) names.push_back(t.name);
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
    }
    for (const auto& name : names) {
        int32_t first_partition = 0;
        if (request.cursor) {
            if (name < request.cursor->topic_name) continue;
            if (name == request.cursor->topic_name) first_partition = std::max(0, request.cursor->partition_index);
        }
        if (budget == 0) {
            auto& next = response.next_cursor.emplace();
            next.topic_name = name;
            next.partition_index = first_partition;
            break;
        }
        auto& out = response.topics.emplace_back();
        out.name = name;
        out.topic_authorized_operations = operations_not_requested;
        if (!may_describe(name)) {
            out.error_code = kafka_error_code(kafka_error::topic_authorization_failed);
            continue;
        }
        const auto* t = image->topic(name);
        if (!t) {
            out.error_code = kafka_error_code(metadata::invalid_topic_name(name) ? kafka_error::invalid_topic_exception
                                                                     : kafka_error::unknown_topic_or_partition);
            continue;
        }
        out.topic_id = t->id;
        out.is_internal = name == "__consumer_offsets" || name == "__transaction_state";
        // Always answered here: the request has no flag for it (Kafka's handler does the same).
        out.topic_authorized_operations = operations_on(ctx, security::resource_type::topic, name);
        for (const auto& p : t->partitions) {
            if (p.partition < first_partition) continue;
            if (budget == 0) {
                auto& next = response.next_cursor.emplace();
                next.topic_name = name;
                next.partition_index = p.partition;
                break;
            }
            --budget;
            auto& part = out.partitions.emplace_back();
            part.partition_index = p.partition;
            part.leader_id = p.leader;
            part.leader_epoch = p.leader_epoch;
            part.replica_nodes = p.replicas;
            part.isr_nodes = p.isr;
            part.eligible_leader_replicas.emplace();
            part.last_known_elr.emplace();
            for (int32_t r : p.replicas) {
                const auto* b = image->broker(r);
                if (!b || b->fenced) part.offline_replicas.push_back(r);
            }
            if (p.leader == metadata::no_leader) part.error_code = kafka_error_code(kafka_error::leader_not_available);
        }
        if (response.next_cursor) break;
    }
    co_return response;
}

}  // namespace

bool forwarded(const request_context& ctx) {
    return ctx.header.client_id && *ctx.header.client_id == forwarded_client_id;
}

bool authorized_or_forwarded(const request_context& ctx, security::acl_operation operation,
                             security::resource_type type, std::string_view name) {
    if (forwarded(ctx)) return cluster_action_allowed(ctx);
    return ctx.authorized(operation, type, name);
}

void register_admin_apis(request_dispatcher& dispatcher, admin_context& admin) {
    auto bind = [&admin](auto fn) {
        return [&admin, fn](request_context& ctx, auto& request) { return fn(admin, ctx, request); };
    };
    // The version ranges Kafka 3.9 serves.
    dispatcher.register_api<msg::metadata_request>(bind(handle_metadata), 0, 12);
    dispatcher.register_api<msg::create_topics_request>(bind(handle_create_topics), 2, 7);
    dispatcher.register_api<msg::delete_topics_request>(bind(handle_delete_topics), 1, 6);
    dispatcher.register_api<msg::create_partitions_request>(bind(handle_create_partitions), 0, 3);
    dispatcher.register_api<msg::describe_cluster_request>(bind(handle_describe_cluster), 0, 1);
    dispatcher.register_api<msg::describe_topic_partitions_request>(bind(handle_describe_topic_partitions), 0, 0);
}

}  // namespace strata::server
