// Round trips raft message -> Kafka message -> bytes -> Kafka message -> raft
// message, at every version Strata sends, and the edge checks.
#include "strata/raft/kafka_wire.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "strata/protocol/record_batch.h"

namespace strata::raft::wire {
namespace {

namespace pm = protocol::messages;

// Encodes and decodes a Kafka message at `version`, as the wire would.
template <typename Message>
Message through_bytes(const Message& message, int16_t version) {
    protocol::encoded_output out;
    protocol::writer w(out);
    message.encode(w, version);
    auto owner = std::make_shared<std::vector<uint8_t>>(out.bytes);
    protocol::reader r(*owner, owner);
    Message decoded;
    decoded.decode(r, version);
    EXPECT_TRUE(r.empty());
    return decoded;
}

const std::optional<std::string> cluster = "cluster-a";

TEST(kafka_wire, vote_request_round_trip_keeps_pre_vote_in_a_tagged_field) {
    for (bool pre_vote : {false, true}) {
        vote_request request{epoch{7}, node_id{2}, node_id{3}, epoch{6}, offset{41}, pre_vote};
        auto kafka = through_bytes(to_kafka(request, cluster), vote_version);
        ASSERT_EQ(kafka.topics.at(0).topic_name, metadata_topic);
        auto back = from_kafka(kafka, cluster);
        ASSERT_TRUE(back);
        EXPECT_EQ(back.value().request, request);
        EXPECT_EQ(back.value().from, node_id{2});
    }
    // A peer that knows nothing of the tag (Kafka) sees a plain v1 request.
    auto kafka = to_kafka(vote_request{epoch{7}, node_id{2}, node_id{3}, epoch{6}, offset{41}, true}, cluster);
    EXPECT_EQ(kafka.topics[0].partitions[0].unknown_tags.at(0).tag, pre_vote_tag);
}

TEST(kafka_wire, cluster_id_is_checked_at_the_edge) {
    vote_request request{epoch{1}, node_id{2}, node_id{3}, epoch{0}, offset{0}, false};
    auto other = from_kafka(to_kafka(request, std::string("cluster-b")), cluster);
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error(), kafka_error::inconsistent_cluster_id);
    EXPECT_TRUE(from_kafka(to_kafka(request, std::nullopt), cluster));  // null: an older peer
    EXPECT_TRUE(from_kafka(to_kafka(request, std::string("cluster-b")), std::nullopt));

    auto fetch = to_kafka(fetch_request{node_id{2}, epoch{1}, offset{0}, epoch{0}, 1024, 100}, std::string("x"));
    auto refused = from_kafka(fetch, fetch_version, cluster);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), kafka_error::inconsistent_cluster_id);
}

TEST(kafka_wire, other_partitions_are_refused) {
    auto kafka = to_kafka(begin_quorum_epoch_request{node_id{3}, node_id{1}, epoch{4}}, cluster);
    kafka.topics[0].topic_name = "orders";
    auto refused = from_kafka(kafka, cluster);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), kafka_error::unknown_topic_or_partition);
    kafka.topics.push_back(kafka.topics[0]);
    EXPECT_EQ(from_kafka(kafka, cluster).error(), kafka_error::invalid_request);
}

TEST(kafka_wire, vote_response_round_trip) {
    for (const auto& response : {vote_response{kafka_error::none, node_id{1}, epoch{3}, true},
                                 vote_response{kafka_error::fenced_leader_epoch, std::nullopt, epoch{9}, false}}) {
        auto back = from_kafka(through_bytes(to_kafka(response), vote_version));
        ASSERT_TRUE(back);
        EXPECT_EQ(back.value(), response);
    }
    EXPECT_EQ(from_kafka(error_response<pm::vote_response>(kafka_error::inconsistent_cluster_id)).error(),
              kafka_error::inconsistent_cluster_id);
}

TEST(kafka_wire, begin_and_end_quorum_epoch_round_trip) {
    for (int16_t version : {int16_t{0}, int16_t{1}}) {
        begin_quorum_epoch_request begin{node_id{3}, node_id{1}, epoch{4}};
        if (version == 0) begin.voter_id.reset();  // VoterId is v1+
        auto begin_back = from_kafka(through_bytes(to_kafka(begin, cluster), version), cluster);
        ASSERT_TRUE(begin_back);
        EXPECT_EQ(begin_back.value().request, begin);
        EXPECT_EQ(begin_back.value().from, node_id{1});
        begin_quorum_epoch_response begin_response{kafka_error::none, node_id{1}, epoch{4}};
        EXPECT_EQ(from_kafka(through_bytes(to_kafka(begin_response), version)).value(), begin_response);

        end_quorum_epoch_request end{node_id{1}, epoch{4}, {node_id{3}, node_id{2}}};
        auto end_back = from_kafka(through_bytes(to_kafka(end, cluster), version), cluster);
        ASSERT_TRUE(end_back);
        EXPECT_EQ(end_back.value().request, end);
        end_quorum_epoch_response end_response{kafka_error::not_leader_or_follower, node_id{2}, epoch{5}};
        EXPECT_EQ(from_kafka(through_bytes(to_kafka(end_response), version)).value(), end_response);
    }
}

TEST(kafka_wire, fetch_request_round_trip_by_topic_id_and_by_name) {
    fetch_request request{node_id{2}, epoch{5}, offset{120}, epoch{4}, 1 << 20, 100};
    for (int16_t version : {int16_t{12}, int16_t{13}, int16_t{15}, fetch_version}) {
        auto kafka = through_bytes(to_kafka(request, cluster), version);
        EXPECT_TRUE(is_metadata_fetch(kafka, version));
        auto back = from_kafka(kafka, version, cluster);
        ASSERT_TRUE(back) << version;
        EXPECT_EQ(back.value().request, request);
        EXPECT_EQ(back.value().from, node_id{2});
    }
    pm::fetch_request partition_fetch;
    partition_fetch.topics.emplace_back().topic = "orders";
    EXPECT_FALSE(is_metadata_fetch(partition_fetch, 12));
}

std::vector<log_entry> sample_entries() {
    return {
        log_entry{offset{10}, epoch{2}, entry_kind::data, "a"},
        log_entry{offset{11}, epoch{2}, entry_kind::data, std::string(3000, 'b')},
        log_entry{offset{12}, epoch{3}, entry_kind::leader_change, ""},
        log_entry{offset{13}, epoch{3}, entry_kind::data, ""},
        log_entry{offset{14}, epoch{3}, entry_kind::data, "c"},
    };
}

TEST(kafka_wire, entries_become_one_batch_per_run_of_one_epoch_and_kind) {
    auto bytes = encode_entries(sample_entries(), 1700000000000);
    protocol::record_batch_sequence batches(bytes);
    std::vector<std::tuple<int64_t, int32_t, bool, int32_t>> seen;
    for (;;) {
        auto next = batches.next();
        ASSERT_TRUE(next);
        if (!next.value()) break;
        const auto& batch = *next.value();
        EXPECT_TRUE(batch.crc_ok());
        seen.emplace_back(batch.base_offset(), batch.partition_leader_epoch(), batch.is_control(), batch.record_count());
    }
    using row = std::tuple<int64_t, int32_t, bool, int32_t>;
    EXPECT_EQ(seen, (std::vector<row>{row{10, 2, false, 2}, row{12, 3, true, 1}, row{13, 3, false, 2}}));
    auto back = decode_entries(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value(), sample_entries());
}

TEST(kafka_wire, a_batch_cut_short_by_max_bytes_is_dropped_and_damage_is_refused) {
    auto bytes = encode_entries(sample_entries(), 0);
    bytes.resize(bytes.size() - 5);
    auto back = decode_entries(bytes);
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value().size(), 3u);  // the last batch (two entries) is incomplete
    auto damaged = encode_entries(sample_entries(), 0);
    damaged[70] ^= 0xff;  // inside the first batch's records: the CRC no longer matches
    EXPECT_EQ(decode_entries(damaged).error(), kafka_error::corrupt_message);
}

TEST(kafka_wire, fetch_response_round_trip) {
    fetch_response with_records;
    with_records.high_watermark = offset{12};
    with_records.log_start_offset = offset{0};
    with_records.current_leader = leader_id_and_epoch{node_id{1}, epoch{3}};
    with_records.records = sample_entries();

    fetch_response diverging;
    diverging.high_watermark = offset{12};
    diverging.log_start_offset = offset{0};
    diverging.current_leader = leader_id_and_epoch{node_id{1}, epoch{3}};
    diverging.diverging_epoch = epoch_end_offset{epoch{0}, offset{0}};  // epoch 0 is an answer, not "none"

    fetch_response snapshot;
    snapshot.error = kafka_error::none;
    snapshot.high_watermark = offset{500};
    snapshot.log_start_offset = offset{400};
    snapshot.current_leader = leader_id_and_epoch{std::nullopt, epoch{3}};
    snapshot.snapshot = snapshot_id{offset{400}, epoch{2}};

    fetch_response error;
    error.error = kafka_error::fenced_leader_epoch;
    error.high_watermark = offset{7};
    error.log_start_offset = offset{0};
    error.current_leader = leader_id_and_epoch{node_id{2}, epoch{8}};

    for (int16_t version : {int16_t{12}, fetch_version}) {
        for (const auto& response : {with_records, diverging, snapshot, error}) {
            auto back = from_kafka(through_bytes(to_kafka(response, version, 0), version));
            ASSERT_TRUE(back);
            EXPECT_EQ(back.value(), response);
        }
    }
}

TEST(kafka_wire, fetch_snapshot_round_trip) {
    fetch_snapshot_request request{node_id{2}, epoch{3}, snapshot_id{offset{400}, epoch{2}}, 1024, 4096};
    auto back = from_kafka(through_bytes(to_kafka(request, cluster), fetch_snapshot_version), cluster);
    ASSERT_TRUE(back);
    EXPECT_EQ(back.value().request, request);
    fetch_snapshot_response response{kafka_error::none, snapshot_id{offset{400}, epoch{2}},
                                     leader_id_and_epoch{node_id{1}, epoch{3}}, 9000, 1024, std::string(100, 'x')};
    auto response_back = from_kafka(through_bytes(to_kafka(response), fetch_snapshot_version));
    ASSERT_TRUE(response_back);
    EXPECT_EQ(response_back.value(), response);
}

TEST(kafka_wire, describe_quorum_round_trip) {
    EXPECT_TRUE(from_kafka(through_bytes(to_kafka(describe_quorum_request{}), describe_quorum_version)));
    describe_quorum_response response;
    response.leader_id = node_id{1};
    response.leader_epoch = epoch{3};
    response.high_watermark = offset{20};
    response.current_voters = {replica_state{node_id{1}, offset{20}, -1, -1},
                               replica_state{node_id{2}, offset{20}, 1000, 1000}};
    response.observers = {replica_state{node_id{7}, offset{15}, 990, 900}};
    for (int16_t version : {int16_t{1}, describe_quorum_version}) {
        auto back = from_kafka(through_bytes(to_kafka(response), version));
        ASSERT_TRUE(back);
        EXPECT_EQ(back.value(), response);
    }
}

// The single-partition envelope is built and checked in one place for every
// RPC, whatever its field names: each message sent names
// __cluster_metadata-0, and each one received is refused alike when it names
// another partition (UNKNOWN_TOPIC_OR_PARTITION) or carries two partitions
// (INVALID_REQUEST).
template <typename Message>
auto& message_topics(Message& m) {
    if constexpr (requires { m.responses; }) {
        return m.responses;
    } else {
        return m.topics;
    }
}

template <typename Message, typename Decode>
void check_envelope(Message message, Decode decode, const char* what) {
    SCOPED_TRACE(what);
    ASSERT_EQ(message_topics(message).size(), 1u);
    ASSERT_EQ(message_topics(message)[0].partitions.size(), 1u);
    EXPECT_TRUE(decode(message));
    auto other = message;
    auto& partition = message_topics(other)[0].partitions[0];
    if constexpr (requires { partition.partition_index; }) {
        partition.partition_index = 1;
    } else if constexpr (requires { partition.partition; }) {
        partition.partition = 1;
    } else {
        partition.index = 1;
    }
    auto refused = decode(other);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), kafka_error::unknown_topic_or_partition);
    auto two = message;
    message_topics(two)[0].partitions.push_back(message_topics(two)[0].partitions[0]);
    auto invalid = decode(two);
    ASSERT_FALSE(invalid);
    EXPECT_EQ(invalid.error(), kafka_error::invalid_request);
}

TEST(kafka_wire, every_rpc_shares_one_single_partition_envelope) {
    auto request = [](const auto& m) { return from_kafka(m, cluster); };
    auto response = [](const auto& m) { return from_kafka(m); };
    check_envelope(to_kafka(vote_request{epoch{7}, node_id{2}, node_id{3}, epoch{6}, offset{41}, false}, cluster),
                   request, "Vote request");
    check_envelope(to_kafka(vote_response{kafka_error::none, node_id{1}, epoch{2}, true}), response, "Vote response");
    check_envelope(to_kafka(begin_quorum_epoch_request{node_id{3}, node_id{1}, epoch{4}}, cluster), request,
                   "BeginQuorumEpoch request");
    check_envelope(to_kafka(begin_quorum_epoch_response{kafka_error::none, node_id{1}, epoch{4}}), response,
                   "BeginQuorumEpoch response");
    check_envelope(to_kafka(end_quorum_epoch_request{node_id{1}, epoch{4}, {node_id{2}}}, cluster), request,
                   "EndQuorumEpoch request");
    check_envelope(to_kafka(end_quorum_epoch_response{kafka_error::none, node_id{1}, epoch{4}}), response,
                   "EndQuorumEpoch response");
    check_envelope(to_kafka(fetch_request{node_id{2}, epoch{1}, offset{0}, epoch{0}, 1024, 100}, cluster),
                   [](const auto& m) { return from_kafka(m, fetch_version, cluster); }, "Fetch request");
    check_envelope(to_kafka(fetch_response{}, fetch_version, 0), response, "Fetch response");
    check_envelope(
        to_kafka(fetch_snapshot_request{node_id{2}, epoch{3}, snapshot_id{offset{400}, epoch{2}}, 0, 4096}, cluster),
        request, "FetchSnapshot request");
    check_envelope(to_kafka(fetch_snapshot_response{}), response, "FetchSnapshot response");
    check_envelope(to_kafka(describe_quorum_request{}), [](const auto& m) { return from_kafka(m); },
                   "DescribeQuorum request");
    check_envelope(to_kafka(describe_quorum_response{}), response, "DescribeQuorum response");
}

}  // namespace
}  // namespace strata::raft::wire
