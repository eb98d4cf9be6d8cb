// DeleteRecords (21) and DescribeLogDirs (35): the administration of the
// partitions' logs on this broker.
#include <sys/statvfs.h>

#include <filesystem>
#include <mutex>

#include "data_path.h"
#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/delete_records_request.h"
#include "strata/protocol/messages/delete_records_response.h"
#include "strata/protocol/messages/describe_log_dirs_request.h"
#include "strata/protocol/messages/describe_log_dirs_response.h"
#include "strata/replication/async_signal.h"

namespace strata::server {

namespace {

namespace pm = protocol::messages;
using boost::asio::awaitable;

// How long DeleteRecords waits at least for the leaders' own deletes (the
// default request.timeout.ms of Kafka's clients).
constexpr int32_t local_answer_backstop_ms = 30000;

// The partitions' answers, filled in on their strands.
struct delete_wait {
    explicit delete_wait(boost::asio::any_io_executor executor)
        : signal(replication::async_signal::make(std::move(executor))) {}

    void complete(pm::delete_records_response::delete_records_partition_result* out, kafka_error error,
                  storage::offset low_watermark) {
        std::lock_guard lock(mutex);
        out->error_code = static_cast<int16_t>(error);
        out->low_watermark = error == kafka_error::none ? low_watermark.value() : -1;
        if (--remaining == 0) signal->notify();
    }

    std::shared_ptr<replication::async_signal> signal;
    std::mutex mutex;
    size_t remaining = 0;
    pm::delete_records_response response;
};

awaitable<pm::delete_records_response> handle_delete_records(request_context& ctx, pm::delete_records_request& request,
                                                             replication::partition_manager& partitions) {
    auto wait = std::make_shared<delete_wait>(co_await boost::asio::this_coro::executor);
    {
        // Results are laid out before any strand can write into them.
        std::lock_guard lock(wait->mutex);
        for (const auto& topic : request.topics) {
            auto& t = wait->response.topics.emplace_back();
            t.name = topic.name;
            t.partitions.resize(topic.partitions.size());
        }
        for (size_t ti = 0; ti < request.topics.size(); ++ti) {
            const auto& topic = request.topics[ti];
            // The authorize stage: DELETE on the topic, as Kafka's KafkaApis.
            const bool allowed =
                ctx.authorized(security::acl_operation::remove, security::resource_type::topic, topic.name);
            for (size_t pi = 0; pi < topic.partitions.size(); ++pi) {
                const auto& in = topic.partitions[pi];
                auto* out = &wait->response.topics[ti].partitions[pi];
                out->partition_index = in.partition_index;
                out->low_watermark = -1;
                if (!allowed) {
                    out->error_code = static_cast<int16_t>(kafka_error::topic_authorization_failed);
                    continue;
                }
                auto found = partitions.find(topic.name, in.partition_index);
                if (!found.leader) {
                    out->error_code = static_cast<int16_t>(found.error);
                    continue;
                }
                ++wait->remaining;
                found.leader->delete_records(in.offset, [wait, out](kafka_error e, storage::offset low) {
                    wait->complete(out, e, low);
                });
            }
        }
        if (wait->remaining == 0) wait->signal->notify();
    }
    // Kafka deletes on the leader's log in the request path, whatever the
    // request's timeout (an offset beyond the high watermark is answered
    // OFFSET_OUT_OF_RANGE, a done delete with its low watermark, even with
    // TimeoutMs 0); the timeout bounds only its wait for the followers' log
    // start offsets, which Strata does not do (followers move theirs with
    // their next fetch). So the leaders' answers are waited for, bounded
    // only by a backstop for a partition whose strand never answers.
    const auto backstop = std::chrono::milliseconds(std::max(request.timeout_ms, local_answer_backstop_ms));
    if (!co_await wait->signal->wait_until(std::chrono::steady_clock::now() + backstop)) {
        // Late answers still land in `wait` (kept alive by the callbacks),
        // never in the response already sent.
        std::lock_guard lock(wait->mutex);
        auto timed_out = wait->response;
        for (auto& t : timed_out.topics)
            for (auto& p : t.partitions)
                if (p.error_code == 0 && p.low_watermark < 0)
                    p.error_code = static_cast<int16_t>(kafka_error::request_timed_out);
        co_return timed_out;
    }
    std::lock_guard lock(wait->mutex);
    co_return wait->response;
}

awaitable<pm::describe_log_dirs_response> handle_describe_log_dirs(request_context& ctx,
                                                                   pm::describe_log_dirs_request& request,
                                                                   replication::partition_manager& partitions,
                                                                   const std::string& log_dir) {
    pm::describe_log_dirs_response response;
    // DESCRIBE on the cluster, as Kafka (v3+ answers the error; older
    // versions an empty list).
    if (!ctx.authorized(security::acl_operation::describe, security::resource_type::cluster,
                        security::cluster_resource_name)) {
        response.error_code = static_cast<int16_t>(kafka_error::cluster_authorization_failed);
        co_return response;
    }
    auto& dir = response.results.emplace_back();
    std::error_code ec;
    dir.log_dir = std::filesystem::absolute(log_dir, ec).lexically_normal().string();
    if (dir.log_dir.size() > 1 && dir.log_dir.back() == '/') dir.log_dir.pop_back();
    struct statvfs fs{};
    if (partitions.logs().offline()) {
        // Kafka: an offline dir is listed with KAFKA_STORAGE_ERROR and no
        // partitions (they are served by other replicas now).
        dir.error_code = static_cast<int16_t>(kafka_error::kafka_storage_error);
        co_return response;
    }
    if (::statvfs(log_dir.c_str(), &fs) == 0) {
        dir.total_bytes = int64_t(fs.f_blocks) * int64_t(fs.f_frsize);
        dir.usable_bytes = int64_t(fs.f_bavail) * int64_t(fs.f_frsize);
    } else {
        dir.error_code = static_cast<int16_t>(kafka_error::kafka_storage_error);
    }
    // Every partition whose replica is here, led or followed, in topic order.
    std::map<std::string, std::vector<std::shared_ptr<replication::partition>>> by_topic;
    for (auto& p : partitions.replicas()) by_topic[p->id().topic].push_back(std::move(p));
    auto wanted = [&](const std::string& topic, int32_t partition) {
        if (!request.topics) return true;
        for (const auto& t : *request.topics)
            if (t.topic == topic)
                return std::find(t.partitions.begin(), t.partitions.end(), partition) != t.partitions.end();
        return false;
    };
    for (auto& [name, leaders] : by_topic) {
        std::sort(leaders.begin(), leaders.end(),
                  [](const auto& a, const auto& b) { return a->id().partition < b->id().partition; });
        pm::describe_log_dirs_response::describe_log_dirs_topic topic;
        topic.name = name;
        for (const auto& p : leaders) {
            const int32_t index = p->id().partition.value();
            if (!wanted(name, index)) continue;
            auto& out = topic.partitions.emplace_back();
            out.partition_index = index;
            out.partition_size = int64_t(p->size_bytes());
            // Kafka: how far the log end is behind the HW (0 on a leader).
            out.offset_lag = std::max<int64_t>(0, p->high_watermark() - p->log_end_offset());
        }
        if (!topic.partitions.empty()) dir.topics.push_back(std::move(topic));
    }
    co_return response;
}

}  // namespace

void register_log_admin(request_dispatcher& dispatcher, replication::partition_manager& partitions,
                        std::string log_dir) {
    dispatcher.register_api<pm::delete_records_request>(
        [&partitions](request_context& ctx, pm::delete_records_request& request) {
            return handle_delete_records(ctx, request, partitions);
        },
        0, 2);
    dispatcher.register_api<pm::describe_log_dirs_request>(
        [&partitions, log_dir = std::move(log_dir)](request_context& ctx, pm::describe_log_dirs_request& request) {
            return handle_describe_log_dirs(ctx, request, partitions, log_dir);
        },
        0, 4);
}

}  // namespace strata::server
