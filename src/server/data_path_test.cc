// Produce, Fetch, ListOffsets and OffsetForLeaderEpoch driven through the
// request dispatcher with encoded requests, over a real log manager in a
// temporary directory and a partition manager fed with metadata images.
#include "data_path.h"

#include "current_leader.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <stdlib.h>
#include <zlib.h>
#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <set>

#include "strata/common/kafka_error.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/list_offsets_request.h"
#include "strata/protocol/messages/list_offsets_response.h"
#include "strata/protocol/messages/offset_for_leader_epoch_request.h"
#include "strata/protocol/messages/offset_for_leader_epoch_response.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/produce_response.h"
#include "strata/protocol/messages/response_header.h"
#include "strata/protocol/record_batch.h"
#include "strata/raft/kafka_wire.h"
#include "strata/storage/log_manager.h"

namespace strata::server {
namespace {

using namespace strata::protocol;
namespace pm = protocol::messages;
namespace mr = strata::metadata::records;

constexpr int32_t self = 1;

uuid id_of(uint8_t n) {
    uuid u;
    u.bytes[0] = 0xab;  // never Kafka's metadata topic id (0...01)
    u.bytes[15] = n;
    return u;
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Timestamps older than segment.ms roll a segment per batch (Kafka's rule),
// and a fetch reads from one segment: tests that read several batches at
// once use the current time.
std::vector<uint8_t> batch_of(int count, int64_t timestamp = now_ms(), size_t value_size = 5) {
    record_batch_builder builder;
    std::string value(value_size, 'v');
    for (int i = 0; i < count; ++i)
        builder.append(timestamp + i, std::nullopt, bytes_view(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    return builder.build().value();
}

template <typename Request>
std::shared_ptr<const std::vector<uint8_t>> frame_of(api_key key, int16_t version, const Request& body) {
    pm::request_header h;
    h.request_api_key = static_cast<int16_t>(key);
    h.request_api_version = version;
    h.correlation_id = 42;
    h.client_id = "test";
    encoded_output out;
    writer w(out);
    h.encode(w, request_header_version(key, version));
    body.encode(w, version);
    return std::make_shared<std::vector<uint8_t>>(std::move(out.bytes));
}

// The response's bytes with its file regions read in, as the wire carries them.
std::vector<uint8_t> flatten(const encoded_output& out) {
    std::vector<uint8_t> bytes;
    size_t at = 0;
    for (const auto& insert : out.file_inserts) {
        bytes.insert(bytes.end(), out.bytes.begin() + long(at), out.bytes.begin() + long(insert.at));
        auto region = storage::read_region(insert.region).value();
        bytes.insert(bytes.end(), region.begin(), region.end());
        at = insert.at;
    }
    bytes.insert(bytes.end(), out.bytes.begin() + long(at), out.bytes.end());
    return bytes;
}

// Denies what a test names: topics (every operation) and the cluster's
// CLUSTER_ACTION, so that the handlers' authorize stage can be seen refusing.
struct switchable_authorizer final : security::authorizer {
    std::vector<bool> authorize(const security::request_identity&,
                                std::span<const security::action> actions) const override {
        std::vector<bool> out;
        for (const auto& a : actions) {
            const bool denied =
                (a.type == security::resource_type::topic && denied_topics.count(std::string(a.name))) ||
                (a.type == security::resource_type::cluster && a.operation == security::acl_operation::cluster_action &&
                 deny_cluster_action);
            out.push_back(!denied);
        }
        return out;
    }
    std::set<std::string> denied_topics;
    bool deny_cluster_action = false;
};

struct fixture {
    fixture() {
        std::string pattern = (std::filesystem::temp_directory_path() / "strata-data-path-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        dir = pattern;
        storage::log_manager_config config;
        config.data_dir = dir;
        config.housekeeping_interval_ms = 3'600'000;
        logs = storage::log_manager::open(config).value();
        replication::partition_manager_options options;
        options.node_id = self;
        manager.emplace(options, *logs, io.get_executor());
        router.set_metadata_handler(
            [this](request_context&, pm::fetch_request&) -> boost::asio::awaitable<pm::fetch_response> {
                ++metadata_fetches;
                co_return pm::fetch_response{};
            });
        register_data_path(dispatcher, router, *manager);
        router.register_with(dispatcher);

        strata::metadata::metadata_delta delta(std::make_shared<strata::metadata::metadata_image>());
        mr::topic_record t;
        t.name = "t";
        t.topic_id = id_of(1);
        delta.replay(t);
        for (int32_t i = 0; i < 2; ++i) {
            mr::partition_record p;
            p.topic_id = id_of(1);
            p.partition_id = i;
            p.replicas = {i == 0 ? self : 2};
            p.isr = p.replicas;
            p.leader = p.replicas[0];
            p.leader_epoch = 4;
            delta.replay(p);
        }
        manager->apply(delta.apply(), delta.changes());
        run_until([] { return false; }, std::chrono::milliseconds(10));
    }
    ~fixture() {
        manager->stop_all();
        run_until([] { return false; }, std::chrono::milliseconds(20));
        (void)logs->shutdown();
        std::filesystem::remove_all(dir);
    }

    bool run_until(const std::function<bool()>& done, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
        auto guard = boost::asio::make_work_guard(io);
        auto until = std::chrono::steady_clock::now() + bound;
        while (!done() && std::chrono::steady_clock::now() < until) {
            io.restart();
            io.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }

    std::future<net::handler_result> start(std::shared_ptr<const std::vector<uint8_t>> frame) {
        return boost::asio::co_spawn(io, dispatcher.handle(connection, std::move(frame)), boost::asio::use_future);
    }

    net::handler_result call(std::shared_ptr<const std::vector<uint8_t>> frame) {
        auto future = start(std::move(frame));
        EXPECT_TRUE(run_until([&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
        return future.get();
    }

    template <typename Response>
    Response decode(api_key key, int16_t version, const net::handler_result& r) {
        EXPECT_TRUE(r.response.has_value());
        auto bytes = flatten(*r.response);
        reader rd(bytes);
        pm::response_header h;
        h.decode(rd, response_header_version(key, version));
        EXPECT_EQ(h.correlation_id, 42);
        Response out;
        out.decode(rd, version);
        EXPECT_TRUE(rd.empty());
        return out;
    }

    pm::produce_response produce(int16_t version, std::vector<uint8_t> records, int16_t acks = 1,
                                 std::string topic = "t", int32_t partition = 0) {
        pm::produce_request request;
        request.acks = acks;
        request.timeout_ms = 30000;
        auto& td = request.topic_data.emplace_back();
        td.name = std::move(topic);
        auto& pd = td.partition_data.emplace_back();
        pd.index = partition;
        pd.records = records::copy_of(records);
        return decode<pm::produce_response>(api_key::produce, version,
                                            call(frame_of(api_key::produce, version, request)));
    }

    pm::fetch_request fetch_request(int16_t version, int64_t offset, int32_t max_wait_ms = 0, int32_t partition_max = 1 << 20) {
        pm::fetch_request request;
        request.max_wait_ms = max_wait_ms;
        request.min_bytes = 1;
        request.max_bytes = 50 << 20;
        auto& topic = request.topics.emplace_back();
        if (version >= 13) topic.topic_id = id_of(1);
        else topic.topic = "t";
        auto& p = topic.partitions.emplace_back();
        p.partition = 0;
        p.fetch_offset = offset;
        p.partition_max_bytes = partition_max;
        return request;
    }

    pm::fetch_response fetch(int16_t version, const pm::fetch_request& request) {
        return decode<pm::fetch_response>(api_key::fetch, version, call(frame_of(api_key::fetch, version, request)));
    }

    void wait_for_hw(int64_t hw) {
        auto p = manager->find("t", 0).leader;
        ASSERT_TRUE(run_until([&] { return p->high_watermark().value() >= hw; }));
    }

    std::string dir;
    boost::asio::io_context io;
    std::unique_ptr<storage::log_manager> logs;
    std::optional<replication::partition_manager> manager;
    switchable_authorizer authorizer;
    request_dispatcher dispatcher{pipeline_services{&authorizer, nullptr, nullptr}};
    fetch_router router;
    net::connection_info connection;
    int metadata_fetches = 0;
};

TEST(data_path, produce_then_fetch_by_name_and_by_id) {
    fixture f;
    auto batch = batch_of(3);
    for (int16_t version : {3, 8, 9, 11}) {
        auto r = f.produce(version, batch);
        ASSERT_EQ(r.responses.size(), 1u);
        const auto& p = r.responses[0].partition_responses.at(0);
        EXPECT_EQ(p.error_code, 0) << "v" << version;
        EXPECT_EQ(p.base_offset, 3 * ((version == 3) ? 0 : version == 8 ? 1 : version == 9 ? 2 : 3));
        EXPECT_EQ(p.log_append_time_ms, -1);
    }
    f.wait_for_hw(12);
    for (int16_t version : {4, 11, 12, 13, 17}) {
        auto r = f.fetch(version, f.fetch_request(version, 3));
        ASSERT_EQ(r.responses.size(), 1u) << "v" << version;
        const auto& p = r.responses[0].partitions.at(0);
        EXPECT_EQ(p.error_code, 0);
        EXPECT_EQ(p.high_watermark, 12);
        EXPECT_EQ(p.last_stable_offset, 12);
        if (version >= 5) {
            EXPECT_EQ(p.log_start_offset, 0);
        }
        ASSERT_TRUE(p.records.has_value());
        // Batches 3..11, each as produced but for the offset and epoch.
        record_batch_sequence batches(p.records->bytes());
        int64_t expected = 3;
        while (auto next = batches.next().value()) {
            EXPECT_EQ(next->base_offset(), expected);
            EXPECT_EQ(next->partition_leader_epoch(), 4);
            EXPECT_TRUE(next->crc_ok());
            expected += 3;
        }
        EXPECT_EQ(expected, 12);
        if (version >= 13) {
            EXPECT_EQ(r.responses[0].topic_id, id_of(1));
        }
    }
}

TEST(data_path, fetch_copies_when_zero_copy_is_not_allowed) {
    fixture f;
    f.produce(9, batch_of(2));
    f.wait_for_hw(2);
    f.connection.zero_copy_allowed = false;
    auto r = f.call(frame_of(api_key::fetch, 12, f.fetch_request(12, 0)));
    ASSERT_TRUE(r.response);
    EXPECT_TRUE(r.response->file_inserts.empty());
    auto decoded = f.decode<pm::fetch_response>(api_key::fetch, 12, r);
    EXPECT_GT(decoded.responses[0].partitions[0].records->size(), 0u);
}

TEST(data_path, produce_errors_per_partition) {
    fixture f;
    EXPECT_EQ(f.produce(9, batch_of(1), 1, "nope").responses[0].partition_responses[0].error_code,
              int16_t(kafka_error::unknown_topic_or_partition));
    EXPECT_EQ(f.produce(9, batch_of(1), 1, "t", 1).responses[0].partition_responses[0].error_code,
              int16_t(kafka_error::not_leader_or_follower));
    EXPECT_EQ(f.produce(9, batch_of(1), 2).responses[0].partition_responses[0].error_code,
              int16_t(kafka_error::invalid_required_acks));
    auto two = batch_of(1);
    auto second = batch_of(1);
    two.insert(two.end(), second.begin(), second.end());
    auto r = f.produce(9, two);
    EXPECT_EQ(r.responses[0].partition_responses[0].error_code, int16_t(kafka_error::invalid_record));
    EXPECT_EQ(r.responses[0].partition_responses[0].base_offset, -1);
    auto corrupt = batch_of(2);
    corrupt[30] ^= 1;
    EXPECT_EQ(f.produce(9, corrupt).responses[0].partition_responses[0].error_code,
              int16_t(kafka_error::corrupt_message));
    EXPECT_EQ(f.produce(9, {}).responses[0].partition_responses[0].error_code, int16_t(kafka_error::invalid_record));
}

TEST(data_path, produce_acks_zero_sends_nothing_and_acks_all_waits_for_fsync) {
    fixture f;
    pm::produce_request request;
    request.acks = 0;
    auto& td = request.topic_data.emplace_back();
    td.name = "t";
    auto& pd = td.partition_data.emplace_back();
    auto batch = batch_of(2);
    pd.records = records::copy_of(batch);
    auto r = f.call(frame_of(api_key::produce, 9, request));
    EXPECT_FALSE(r.response.has_value());
    EXPECT_FALSE(r.close_connection);
    td.name = "nope";  // an error with acks=0 closes the connection (Kafka)
    EXPECT_TRUE(f.call(frame_of(api_key::produce, 9, request)).close_connection);

    auto all = f.produce(9, batch_of(1), -1);
    EXPECT_EQ(all.responses[0].partition_responses[0].error_code, 0);
    EXPECT_EQ(all.responses[0].partition_responses[0].base_offset, 2);
    EXPECT_GE(f.manager->find("t", 0).leader->log()->flushed_offset(), storage::offset(3));
}

TEST(data_path, fetch_long_polls_until_a_produce_moves_the_hw) {
    fixture f;
    auto pending = f.start(frame_of(api_key::fetch, 12, f.fetch_request(12, 0, 10'000)));
    f.run_until([] { return false; }, std::chrono::milliseconds(30));
    EXPECT_NE(pending.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    const auto started = std::chrono::steady_clock::now();
    f.produce(9, batch_of(2));
    ASSERT_TRUE(f.run_until([&] { return pending.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    auto r = f.decode<pm::fetch_response>(api_key::fetch, 12, pending.get());
    EXPECT_EQ(r.responses[0].partitions[0].high_watermark, 2);
    EXPECT_GT(r.responses[0].partitions[0].records->size(), 0u);

    // Nothing new and a short wait: an empty answer once the wait is over.
    auto empty = f.fetch(12, f.fetch_request(12, 2, 20));
    EXPECT_EQ(empty.responses[0].partitions[0].error_code, 0);
    EXPECT_EQ(empty.responses[0].partitions[0].records->size(), 0u);
}

TEST(data_path, a_followers_fetch_gets_the_diverging_epoch_or_waits_for_an_append) {
    fixture f;
    f.produce(9, batch_of(2));  // stamped with the leader epoch, 4
    f.wait_for_hw(2);
    auto follower_fetch = [&](int64_t offset, int32_t last_fetched_epoch, int32_t max_wait_ms) {
        auto request = f.fetch_request(15, offset, max_wait_ms);
        request.replica_state.replica_id = 2;
        request.replica_state.replica_epoch = 9;
        request.topics[0].partitions[0].current_leader_epoch = 4;
        request.topics[0].partitions[0].last_fetched_epoch = last_fetched_epoch;
        return request;
    };
    // The follower's epoch 3 is older than this log's history: it ends where
    // the history starts, below the follower's fetch offset.
    auto diverged = f.fetch(15, follower_fetch(2, 3, 10'000));
    const auto& d = diverged.responses[0].partitions[0];
    EXPECT_EQ(d.error_code, 0);
    EXPECT_EQ(d.diverging_epoch.epoch, 3);
    EXPECT_EQ(d.diverging_epoch.end_offset, 0);
    EXPECT_EQ(d.records->size(), 0u);
    // An epoch this log cannot place (newer than its whole history; the
    // leader records its own epoch when elected, so only a log whose history
    // could not be written gets here) is answered OFFSET_OUT_OF_RANGE, as
    // Kafka's, never with an undefined diverging epoch.
    auto unplaced = f.fetch(15, follower_fetch(2, 5, 0));
    EXPECT_EQ(unplaced.responses[0].partitions[0].error_code, int16_t(kafka_error::offset_out_of_range));
    EXPECT_EQ(unplaced.responses[0].partitions[0].diverging_epoch.epoch, -1);
    // At epoch 4 it is caught up: the fetch waits, and an append answers it.
    auto pending = f.start(frame_of(api_key::fetch, 15, follower_fetch(2, 4, 10'000)));
    f.run_until([] { return false; }, std::chrono::milliseconds(30));
    EXPECT_NE(pending.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    f.produce(9, batch_of(3));
    ASSERT_TRUE(f.run_until([&] { return pending.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
    auto r = f.decode<pm::fetch_response>(api_key::fetch, 15, pending.get());
    EXPECT_EQ(r.responses[0].partitions[0].diverging_epoch.epoch, -1);
    EXPECT_GT(r.responses[0].partitions[0].records->size(), 0u);
    // An older leader epoch than the partition's is fenced.
    auto stale = follower_fetch(2, 4, 0);
    stale.topics[0].partitions[0].current_leader_epoch = 3;
    EXPECT_EQ(f.fetch(15, stale).responses[0].partitions[0].error_code,
              static_cast<int16_t>(kafka_error::fenced_leader_epoch));
}

// A follower that applied the image electing this broker before this broker
// did asks for the partition at the new epoch: the fetch is held (not
// answered NOT_LEADER_OR_FOLLOWER, which made the follower back off while
// the new leader's HW waited for it), answered once the leadership is
// applied here, and its fetch offset is recorded then.
TEST(data_path, a_followers_fetch_ahead_of_this_brokers_leadership_waits_for_it) {
    fixture f;
    // Topic "u": broker 2 leads it at epoch 4, this broker follows.
    {
        strata::metadata::metadata_delta delta(f.manager->image());
        mr::topic_record t;
        t.name = "u";
        t.topic_id = id_of(2);
        delta.replay(t);
        mr::partition_record p;
        p.topic_id = id_of(2);
        p.partition_id = 0;
        p.replicas = {2, self};
        p.isr = p.replicas;
        p.leader = 2;
        p.leader_epoch = 4;
        delta.replay(p);
        f.manager->apply(delta.apply(), delta.changes());
        f.run_until([] { return false; }, std::chrono::milliseconds(10));
    }
    auto follower_fetch = [&](int32_t current_leader_epoch) {
        auto request = f.fetch_request(15, 0, 10'000);
        request.topics[0].topic_id = id_of(2);
        request.replica_state.replica_id = 2;
        request.replica_state.replica_epoch = 9;
        request.topics[0].partitions[0].current_leader_epoch = current_leader_epoch;
        return request;
    };
    // At the epoch this broker knows, it is not the leader: answered at once.
    auto known = f.fetch(15, follower_fetch(4));
    EXPECT_EQ(known.responses[0].partitions[0].error_code, int16_t(kafka_error::not_leader_or_follower));

    // At epoch 5 (the follower knows of this broker's election): held.
    auto pending = f.start(frame_of(api_key::fetch, 15, follower_fetch(5)));
    f.run_until([] { return false; }, std::chrono::milliseconds(50));
    EXPECT_NE(pending.wait_for(std::chrono::seconds(0)), std::future_status::ready);

    const auto elected = std::chrono::steady_clock::now();
    {
        strata::metadata::metadata_delta delta(f.manager->image());
        mr::partition_change_record moved;
        moved.topic_id = id_of(2);
        moved.partition_id = 0;
        moved.leader = self;
        delta.replay(moved);
        f.manager->apply(delta.apply(), delta.changes());
    }
    ASSERT_TRUE(f.run_until([&] { return pending.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }));
    EXPECT_LT(std::chrono::steady_clock::now() - elected, std::chrono::seconds(5));  // not the 10 s long poll
    auto r = f.decode<pm::fetch_response>(api_key::fetch, 15, pending.get());
    EXPECT_EQ(r.responses[0].partitions[0].error_code, 0);
    auto p = f.manager->find(id_of(2), 0).leader;
    ASSERT_TRUE(p);
    EXPECT_EQ(p->epoch().value(), 5);
    // The follower's fetch offset reached the new leader (its HW counts it).
    ASSERT_TRUE(f.run_until([&] { return !p->read_candidates(storage::offset(0)).empty(); }));
    EXPECT_EQ(p->read_candidates(storage::offset(0))[0].id, 2);
}

TEST(data_path, incremental_fetch_sessions_send_only_what_changed) {
    fixture f;
    f.produce(9, batch_of(3));
    f.wait_for_hw(3);
    for (int16_t version : {7, 12, 13, 17}) {
        // A full fetch at epoch 0 opens a session holding its partitions.
        auto full = f.fetch_request(version, 0);
        full.session_id = 0;
        full.session_epoch = 0;
        auto opened = f.fetch(version, full);
        ASSERT_EQ(opened.error_code, 0);
        ASSERT_NE(opened.session_id, 0) << version;
        ASSERT_EQ(opened.responses.size(), 1u);
        EXPECT_GT(opened.responses[0].partitions[0].records->size(), 0u);

        // Incremental, the position moved to the end: nothing new, no partition.
        pm::fetch_request next;
        next.session_id = opened.session_id;
        next.session_epoch = 1;
        next.min_bytes = 1;
        next.max_bytes = 50 << 20;
        auto moved = f.fetch_request(version, f.manager->find("t", 0).leader->high_watermark().value());
        next.topics = moved.topics;
        auto quiet = f.fetch(version, next);
        EXPECT_EQ(quiet.error_code, 0);
        EXPECT_EQ(quiet.session_id, opened.session_id);
        EXPECT_TRUE(quiet.responses.empty()) << version;

        // New records: the session's partition comes back without being named.
        f.produce(9, batch_of(2));
        pm::fetch_request again;
        again.session_id = opened.session_id;
        again.session_epoch = 2;
        again.min_bytes = 1;
        again.max_bytes = 50 << 20;
        auto news = f.fetch(version, again);
        ASSERT_EQ(news.responses.size(), 1u) << version;
        EXPECT_GT(news.responses[0].partitions[0].records->size(), 0u);
        EXPECT_EQ(news.responses[0].partitions[0].high_watermark,
                  f.manager->find("t", 0).leader->high_watermark().value());

        // A stale epoch, an unknown session, then the client closes it.
        again.session_epoch = 2;
        EXPECT_EQ(f.fetch(version, again).error_code, int16_t(kafka_error::invalid_fetch_session_epoch));
        again.session_id = opened.session_id ^ 0x5a5a;
        EXPECT_EQ(f.fetch(version, again).error_code, int16_t(kafka_error::fetch_session_id_not_found));
        auto close = f.fetch_request(version, 0);
        close.session_id = opened.session_id;
        close.session_epoch = -1;
        auto closed = f.fetch(version, close);
        EXPECT_EQ(closed.session_id, 0);
        EXPECT_EQ(closed.responses.size(), 1u);
        again.session_id = opened.session_id;
        again.session_epoch = 3;
        EXPECT_EQ(f.fetch(version, again).error_code, int16_t(kafka_error::fetch_session_id_not_found));
    }
}

TEST(data_path, fetch_limits_offsets_and_errors) {
    fixture f;
    f.produce(9, batch_of(10, now_ms(), 100));
    f.produce(9, batch_of(10, now_ms(), 100));
    f.wait_for_hw(20);
    // KIP-74: the first batch comes whole even over partition_max_bytes.
    auto small = f.fetch(12, f.fetch_request(12, 0, 0, 10));
    auto first = record_batch_view::from(small.responses[0].partitions[0].records->bytes());
    ASSERT_TRUE(first);
    EXPECT_EQ(first.value().size(), small.responses[0].partitions[0].records->size());

    auto beyond = f.fetch(12, f.fetch_request(12, 21));
    EXPECT_EQ(beyond.responses[0].partitions[0].error_code, int16_t(kafka_error::offset_out_of_range));
    auto at_end = f.fetch(12, f.fetch_request(12, 20));
    EXPECT_EQ(at_end.responses[0].partitions[0].error_code, 0);

    auto fenced = f.fetch_request(12, 0);
    fenced.topics[0].partitions[0].current_leader_epoch = 3;
    EXPECT_EQ(f.fetch(12, fenced).responses[0].partitions[0].error_code, int16_t(kafka_error::fenced_leader_epoch));
    fenced.topics[0].partitions[0].current_leader_epoch = 5;
    EXPECT_EQ(f.fetch(12, fenced).responses[0].partitions[0].error_code, int16_t(kafka_error::unknown_leader_epoch));

    auto unknown = f.fetch_request(13, 0);
    unknown.topics[0].topic_id = id_of(9);
    EXPECT_EQ(f.fetch(13, unknown).responses[0].partitions[0].error_code, int16_t(kafka_error::unknown_topic_id));

    auto incremental = f.fetch_request(12, 0);
    incremental.session_id = 123;
    incremental.session_epoch = 1;
    EXPECT_EQ(f.fetch(12, incremental).error_code, int16_t(kafka_error::fetch_session_id_not_found));
}

// KIP-951: brokers 1 (this one) and 2 registered, with endpoints on two
// listeners, broker 2 in rack "r2"; `fenced` brokers fenced.
void register_brokers(fixture& f, std::set<int32_t> fenced = {}) {
    strata::metadata::metadata_delta delta(f.manager->image());
    for (int32_t id : {1, 2}) {
        mr::register_broker_record r;
        r.broker_id = id;
        r.incarnation_id = id_of(uint8_t(100 + id));
        r.broker_epoch = 10;
        r.fenced = fenced.count(id) > 0;
        for (auto [name, port] : {std::pair{"PLAINTEXT", 9000 + id}, std::pair{"INTERNAL", 9100 + id}}) {
            auto& e = r.end_points.emplace_back();
            e.name = name;
            e.host = "host-" + std::to_string(id);
            e.port = uint16_t(port);
        }
        if (id == 2) r.rack = "r2";
        else r.rack = std::nullopt;
        delta.replay(r);
    }
    f.manager->apply(delta.apply(), delta.changes());
    f.run_until([] { return false; }, std::chrono::milliseconds(10));
}

TEST(data_path, produce_v10_names_the_current_leader_on_not_leader_or_follower) {
    fixture f;
    register_brokers(f);
    f.connection.listener = "PLAINTEXT";
    // Partition 1 is led by broker 2 (epoch 4).
    for (int16_t version : {10, 11}) {
        auto r = f.produce(version, batch_of(1), 1, "t", 1);
        const auto& p = r.responses[0].partition_responses[0];
        EXPECT_EQ(p.error_code, int16_t(kafka_error::not_leader_or_follower));
        EXPECT_EQ(p.current_leader.leader_id, 2) << "v" << version;
        EXPECT_EQ(p.current_leader.leader_epoch, 4);
        ASSERT_EQ(r.node_endpoints.size(), 1u);
        EXPECT_EQ(r.node_endpoints[0].node_id, 2);
        EXPECT_EQ(r.node_endpoints[0].host, "host-2");
        EXPECT_EQ(r.node_endpoints[0].port, 9002);
        EXPECT_EQ(r.node_endpoints[0].rack, std::optional<std::string>("r2"));
    }
    // The endpoint is the one of the listener the request came in on.
    f.connection.listener = "INTERNAL";
    auto internal = f.produce(11, batch_of(1), 1, "t", 1);
    ASSERT_EQ(internal.node_endpoints.size(), 1u);
    EXPECT_EQ(internal.node_endpoints[0].port, 9102);
    // A listener the leader does not have: the leader and epoch, no endpoint.
    f.connection.listener = "OTHER";
    auto other = f.produce(11, batch_of(1), 1, "t", 1);
    EXPECT_EQ(other.responses[0].partition_responses[0].current_leader.leader_id, 2);
    EXPECT_TRUE(other.node_endpoints.empty());
    f.connection.listener = "PLAINTEXT";
    // v9 has no such fields; a success or another error names no leader.
    auto old = f.produce(9, batch_of(1), 1, "t", 1);
    EXPECT_EQ(old.responses[0].partition_responses[0].current_leader.leader_id, -1);
    EXPECT_TRUE(old.node_endpoints.empty());
    auto ok = f.produce(11, batch_of(1));
    EXPECT_EQ(ok.responses[0].partition_responses[0].error_code, 0);
    EXPECT_EQ(ok.responses[0].partition_responses[0].current_leader.leader_id, -1);
    EXPECT_TRUE(ok.node_endpoints.empty());
    auto unknown = f.produce(11, batch_of(1), 1, "nope");
    EXPECT_EQ(unknown.responses[0].partition_responses[0].current_leader.leader_id, -1);
    EXPECT_TRUE(unknown.node_endpoints.empty());
}

TEST(data_path, produce_v10_leaves_out_a_fenced_leaders_endpoint) {
    fixture f;
    register_brokers(f, {2});
    f.connection.listener = "PLAINTEXT";
    auto r = f.produce(11, batch_of(1), 1, "t", 1);
    EXPECT_EQ(r.responses[0].partition_responses[0].current_leader.leader_id, 2);
    EXPECT_EQ(r.responses[0].partition_responses[0].current_leader.leader_epoch, 4);
    EXPECT_TRUE(r.node_endpoints.empty());
}

TEST(data_path, fetch_v16_names_the_current_leader_on_not_leader_and_fenced_epoch) {
    fixture f;
    register_brokers(f);
    f.connection.listener = "PLAINTEXT";
    f.produce(9, batch_of(1));
    f.wait_for_hw(1);
    auto of_partition_1 = [&](int16_t version) {
        auto request = f.fetch_request(version, 0);
        request.topics[0].partitions[0].partition = 1;
        return request;
    };
    auto r = f.fetch(16, of_partition_1(16));
    const auto& p = r.responses[0].partitions[0];
    EXPECT_EQ(p.error_code, int16_t(kafka_error::not_leader_or_follower));
    EXPECT_EQ(p.current_leader.leader_id, 2);
    EXPECT_EQ(p.current_leader.leader_epoch, 4);
    ASSERT_EQ(r.node_endpoints.size(), 1u);
    EXPECT_EQ(r.node_endpoints[0].node_id, 2);
    EXPECT_EQ(r.node_endpoints[0].host, "host-2");
    EXPECT_EQ(r.node_endpoints[0].port, 9002);
    EXPECT_EQ(r.node_endpoints[0].rack, std::optional<std::string>("r2"));

    // FENCED_LEADER_EPOCH from the leader itself: this broker, its epoch.
    auto fenced = f.fetch_request(17, 0);
    fenced.topics[0].partitions[0].current_leader_epoch = 3;
    auto fr = f.fetch(17, fenced);
    EXPECT_EQ(fr.responses[0].partitions[0].error_code, int16_t(kafka_error::fenced_leader_epoch));
    EXPECT_EQ(fr.responses[0].partitions[0].current_leader.leader_id, self);
    EXPECT_EQ(fr.responses[0].partitions[0].current_leader.leader_epoch, 4);
    ASSERT_EQ(fr.node_endpoints.size(), 1u);
    EXPECT_EQ(fr.node_endpoints[0].node_id, self);
    EXPECT_EQ(fr.node_endpoints[0].port, 9001);
    EXPECT_EQ(fr.node_endpoints[0].rack, std::nullopt);

    // UNKNOWN_LEADER_EPOCH (the client is ahead) is not one of Kafka's two errors.
    fenced.topics[0].partitions[0].current_leader_epoch = 5;
    auto ahead = f.fetch(17, fenced);
    EXPECT_EQ(ahead.responses[0].partitions[0].error_code, int16_t(kafka_error::unknown_leader_epoch));
    EXPECT_EQ(ahead.responses[0].partitions[0].current_leader.leader_id, -1);
    EXPECT_TRUE(ahead.node_endpoints.empty());

    // v15 has no such fields.
    auto old = f.fetch(15, of_partition_1(15));
    EXPECT_EQ(old.responses[0].partitions[0].error_code, int16_t(kafka_error::not_leader_or_follower));
    EXPECT_EQ(old.responses[0].partitions[0].current_leader.leader_id, -1);
    EXPECT_TRUE(old.node_endpoints.empty());

    // A follower's fetch gets the leader and epoch, not the endpoints.
    auto follower = of_partition_1(16);
    follower.replica_state.replica_id = 3;
    auto fo = f.fetch(16, follower);
    EXPECT_EQ(fo.responses[0].partitions[0].error_code, int16_t(kafka_error::not_leader_or_follower));
    EXPECT_EQ(fo.responses[0].partitions[0].current_leader.leader_id, 2);
    EXPECT_TRUE(fo.node_endpoints.empty());
}

// The replica's own view wins over an image with an older leader epoch (the
// image that moved the leadership not yet published when the response is
// built), and loses to one as new or newer; without a replica, the image's.
TEST(data_path, current_leader_takes_the_newer_of_the_replica_and_the_image) {
    fixture f;
    auto hosted = f.manager->find_replica("t", 0).leader;  // led here at epoch 4
    ASSERT_TRUE(hosted);
    auto image = f.manager->image();
    strata::metadata::topic_image topic;
    topic.partitions.resize(1);
    topic.partitions[0].leader = 2;
    topic.partitions[0].leader_epoch = 3;
    auto got = current_leader_of(image.get(), &topic, 0, hosted.get());
    EXPECT_EQ(got.leader_id, self);
    EXPECT_EQ(got.leader_epoch, 4);
    // At the same epoch, the image's (a stopped replica names no leader).
    topic.partitions[0].leader_epoch = 4;
    got = current_leader_of(image.get(), &topic, 0, hosted.get());
    EXPECT_EQ(got.leader_id, 2);
    topic.partitions[0].leader_epoch = 5;
    got = current_leader_of(image.get(), &topic, 0, hosted.get());
    EXPECT_EQ(got.leader_id, 2);
    EXPECT_EQ(got.leader_epoch, 5);
    got = current_leader_of(image.get(), &topic, 0, nullptr);
    EXPECT_EQ(got.leader_id, 2);
    got = current_leader_of(image.get(), &topic, 1, nullptr);  // no such partition
    EXPECT_EQ(got.leader_id, -1);
    EXPECT_EQ(got.leader_epoch, -1);
}

TEST(data_path, metadata_log_fetches_are_routed_to_the_quorum) {
    fixture f;
    auto request = f.fetch_request(13, 0);
    request.topics[0].topic_id = raft::wire::metadata_topic_id();
    f.fetch(13, request);
    EXPECT_EQ(f.metadata_fetches, 1);
    f.fetch(13, f.fetch_request(13, 0));
    EXPECT_EQ(f.metadata_fetches, 1);
}

TEST(data_path, list_offsets_earliest_latest_by_time_and_max) {
    fixture f;
    f.produce(9, batch_of(5, 1000));  // offsets 0-4 at 1000..1004
    f.produce(9, batch_of(5, 2000));  // offsets 5-9 at 2000..2004
    f.wait_for_hw(10);
    pm::list_offsets_request request;
    request.replica_id = -1;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    for (int64_t ts : {-2, -1, 1003, 1500, 5000, -3}) {
        auto& p = topic.partitions.emplace_back();
        p.partition_index = 0;
        p.timestamp = ts;
    }
    auto& other = topic.partitions.emplace_back();
    other.partition_index = 1;
    other.timestamp = -1;
    auto r = f.decode<pm::list_offsets_response>(api_key::list_offsets, 9,
                                                 f.call(frame_of(api_key::list_offsets, 9, request)));
    const auto& ps = r.topics.at(0).partitions;
    ASSERT_EQ(ps.size(), 7u);
    EXPECT_EQ(ps[0].offset, 0);
    EXPECT_EQ(ps[0].leader_epoch, 4);  // Kafka: the epoch of the log start offset
    EXPECT_EQ(ps[1].offset, 10);
    EXPECT_EQ(ps[1].leader_epoch, 4);
    EXPECT_EQ(ps[2].offset, 3);
    EXPECT_EQ(ps[2].timestamp, 1003);
    EXPECT_EQ(ps[2].leader_epoch, 4);  // the epoch of the batch holding it
    EXPECT_EQ(ps[3].offset, 5);
    EXPECT_EQ(ps[4].offset, -1);
    EXPECT_EQ(ps[5].offset, 9);
    EXPECT_EQ(ps[5].timestamp, 2004);
    EXPECT_EQ(ps[6].error_code, int16_t(kafka_error::not_leader_or_follower));
}

// A magic 1 message set (pre-0.11 clients), written from the format in
// legacy_records.h.
std::vector<uint8_t> legacy_set(int count) {
    auto be = [](std::vector<uint8_t>& out, uint64_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i) out.push_back(uint8_t(v >> (8 * i)));
    };
    std::vector<uint8_t> set;
    for (int i = 0; i < count; ++i) {
        std::vector<uint8_t> m = {0, 0, 0, 0, 1, 0};  // crc placeholder, magic 1, attributes
        be(m, uint64_t(now_ms()), 8);
        be(m, uint32_t(-1), 4);  // null key
        be(m, 5, 4);
        for (char c : std::string("hello")) m.push_back(uint8_t(c));
        uint32_t crc = uint32_t(::crc32(0, m.data() + 4, uInt(m.size() - 4)));
        for (int b = 0; b < 4; ++b) m[size_t(b)] = uint8_t(crc >> (8 * (3 - b)));
        be(set, uint64_t(i), 8);
        be(set, m.size(), 4);
        set.insert(set.end(), m.begin(), m.end());
    }
    return set;
}

TEST(data_path, produce_v2_legacy_message_sets_are_stored_as_v2) {
    fixture f;
    auto r = f.produce(2, legacy_set(3));
    EXPECT_EQ(r.responses[0].partition_responses[0].error_code, 0);
    EXPECT_EQ(r.responses[0].partition_responses[0].base_offset, 0);
    // v3+ accepts only v2 batches (Kafka's rule).
    EXPECT_EQ(f.produce(3, legacy_set(1)).responses[0].partition_responses[0].error_code,
              int16_t(kafka_error::invalid_record));
    f.wait_for_hw(3);
    auto fetched = f.fetch(12, f.fetch_request(12, 0));
    auto batch = record_batch_view::from(fetched.responses[0].partitions[0].records->bytes());
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch.value().record_count(), 3);
    EXPECT_TRUE(batch.value().crc_ok());
}

TEST(data_path, offset_for_leader_epoch) {
    fixture f;
    f.produce(9, batch_of(3));
    pm::offset_for_leader_epoch_request request;
    auto& topic = request.topics.emplace_back();
    topic.topic = "t";
    auto& p = topic.partitions.emplace_back();
    p.partition = 0;
    p.leader_epoch = 4;
    p.current_leader_epoch = 4;
    auto r = f.decode<pm::offset_for_leader_epoch_response>(
        api_key::offset_for_leader_epoch, 4, f.call(frame_of(api_key::offset_for_leader_epoch, 4, request)));
    EXPECT_EQ(r.topics[0].partitions[0].error_code, 0);
    EXPECT_EQ(r.topics[0].partitions[0].leader_epoch, 4);
    EXPECT_EQ(r.topics[0].partitions[0].end_offset, 3);
    request.topics[0].partitions[0].current_leader_epoch = 2;
    auto fenced = f.decode<pm::offset_for_leader_epoch_response>(
        api_key::offset_for_leader_epoch, 4, f.call(frame_of(api_key::offset_for_leader_epoch, 4, request)));
    EXPECT_EQ(fenced.topics[0].partitions[0].error_code, int16_t(kafka_error::fenced_leader_epoch));
}

// The authorize stage of the data path: WRITE for Produce, READ for a
// consumer's Fetch (by name and by topic id), DESCRIBE for ListOffsets, and
// CLUSTER_ACTION for a follower's Fetch, each refused with Kafka's error.
TEST(data_path, refuses_what_the_authorizer_denies) {
    fixture f;
    EXPECT_EQ(f.produce(9, batch_of(2)).responses[0].partition_responses[0].error_code, 0);
    f.wait_for_hw(2);
    f.authorizer.denied_topics = {"t"};
    const auto denied = int16_t(kafka_error::topic_authorization_failed);
    EXPECT_EQ(f.produce(9, batch_of(2)).responses[0].partition_responses[0].error_code, denied);
    for (int16_t version : {11, 13}) {
        auto r = f.fetch(version, f.fetch_request(version, 0));
        EXPECT_EQ(r.responses[0].partitions[0].error_code, denied) << "v" << version;
        EXPECT_FALSE(r.responses[0].partitions[0].records && r.responses[0].partitions[0].records->size() > 0);
    }
    pm::list_offsets_request list;
    list.replica_id = -1;
    auto& topic = list.topics.emplace_back();
    topic.name = "t";
    topic.partitions.emplace_back().timestamp = -1;
    auto offsets =
        f.decode<pm::list_offsets_response>(api_key::list_offsets, 9, f.call(frame_of(api_key::list_offsets, 9, list)));
    EXPECT_EQ(offsets.topics[0].partitions[0].error_code, denied);

    // A follower's fetch is the cluster's business, whatever the topic ACLs.
    f.authorizer.denied_topics.clear();
    f.authorizer.deny_cluster_action = true;
    auto follower = f.fetch_request(15, 0);
    follower.replica_state.replica_id = 2;
    follower.replica_state.replica_epoch = 9;
    EXPECT_EQ(f.fetch(15, follower).responses[0].partitions[0].error_code, denied);
    EXPECT_EQ(f.fetch(15, f.fetch_request(15, 0)).responses[0].partitions[0].error_code, 0);  // a consumer's
    // Nothing denied was written: the log holds the first two records only.
    EXPECT_EQ(f.manager->find("t", 0).leader->log_end_offset().value(), 2);
}

}  // namespace
}  // namespace strata::server
