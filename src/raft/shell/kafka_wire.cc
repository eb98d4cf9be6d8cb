// Field-by-field copies between raft/messages.h and the generated codecs;
// the conventions are listed in include/strata/raft/kafka_wire.h.
#include "strata/raft/kafka_wire.h"

#include "strata/protocol/messages/leader_change_message.h"
#include "strata/protocol/record_batch.h"

#include <type_traits>
#include <utility>

namespace strata::raft::wire {

namespace pm = protocol::messages;

namespace {

int32_t wire_id(const std::optional<node_id>& id) { return id ? id->value() : -1; }
std::optional<node_id> optional_id(int32_t id) {
    if (id < 0) return std::nullopt;
    return node_id{id};
}

// Kafka's ControlRecordType.LEADER_CHANGE, and the control record key
// (version int16 = 0, type int16).
constexpr int16_t leader_change_control_type = 2;

wire_result<void> check_cluster(const std::optional<std::string>& theirs, const std::optional<std::string>& ours) {
    if (theirs && ours && *theirs != *ours) return kafka_error::inconsistent_cluster_id;
    return boost::outcome_v2::success();
}

// The single-partition envelope. Every KRaft RPC carries its one partition
// (__cluster_metadata-0) in a topics array of one topic holding one
// partition, each RPC with its own field names: the topic is TopicName,
// Topic or Name (and Fetch's also has a TopicId), the partition
// PartitionIndex, Partition or Index. The two accessors below pick the field
// the generated struct has, so that wrap() and unwrap() are the one place
// the envelope is built and checked, for every RPC.
template <typename Topic>
auto& topic_name(Topic& topic) {
    if constexpr (requires { topic.topic_name; }) {
        return topic.topic_name;
    } else if constexpr (requires { topic.topic; }) {
        return topic.topic;
    } else {
        return topic.name;
    }
}

template <typename Partition>
auto& partition_index(Partition& partition) {
    if constexpr (requires { partition.partition_index; }) {
        return partition.partition_index;
    } else if constexpr (requires { partition.partition; }) {
        return partition.partition;
    } else {
        return partition.index;
    }
}

// Adds __cluster_metadata-0 (with Kafka's metadata topic id where the schema
// has one; the codec writes the name or the id as the version has it) to an
// outgoing message's empty topics array and returns the partition to fill.
template <typename Topic>
auto& wrap(std::vector<Topic>& topics) {
    auto& topic = topics.emplace_back();
    topic_name(topic) = std::string(metadata_topic);
    if constexpr (requires { topic.topic_id; }) topic.topic_id = metadata_topic_id();
    auto& partition = topic.partitions.emplace_back();
    partition_index(partition) = metadata_partition;
    return partition;
}

template <typename Topic>
using partition_of = std::remove_cvref_t<decltype(std::declval<const Topic&>().partitions[0])>;

// The one partition of a received message's topics array, or the error to
// refuse it with: INVALID_REQUEST for another shape, UNKNOWN_TOPIC_OR_PARTITION
// for another topic or partition. The topic matches by name or, where the
// schema has one, by id (Fetch v13+ carries only the id).
template <typename Topic>
wire_result<const partition_of<Topic>*> unwrap(const std::vector<Topic>& topics) {
    if (topics.size() != 1 || topics[0].partitions.size() != 1) return kafka_error::invalid_request;
    const auto& topic = topics[0];
    const auto& partition = topic.partitions[0];
    bool named = topic_name(topic) == metadata_topic;
    if constexpr (requires { topic.topic_id; }) named = named || topic.topic_id == metadata_topic_id();
    if (!named || partition_index(partition) != metadata_partition) return kafka_error::unknown_topic_or_partition;
    return &partition;
}

std::vector<uint8_t> encode_run(const std::vector<log_entry>& entries, size_t begin, size_t end, int64_t timestamp_ms) {
    const log_entry& first = entries[begin];
    protocol::record_batch_options options;
    options.base_offset = first.off.value();
    options.partition_leader_epoch = first.ep.value();
    options.is_control = first.kind == entry_kind::leader_change;
    protocol::record_batch_builder builder(options);
    for (size_t i = begin; i < end; ++i) {
        const log_entry& entry = entries[i];
        const auto delta = static_cast<int32_t>(entry.off.value() - first.off.value());
        if (entry.kind == entry_kind::leader_change) {
            const std::array<uint8_t, 4> key{0, 0, 0, static_cast<uint8_t>(leader_change_control_type)};
            pm::leader_change_message message;
            message.leader_id = -1;  // the core's leader-change entry carries no contents
            protocol::encoded_output value;
            protocol::writer w(value);
            message.encode(w, 0);
            builder.append_at(delta, timestamp_ms, protocol::bytes_view(key), protocol::bytes_view(value.bytes));
        } else {
            const auto* bytes = reinterpret_cast<const uint8_t*>(entry.data.data());
            builder.append_at(delta, timestamp_ms, std::nullopt, protocol::bytes_view(bytes, entry.data.size()));
        }
    }
    auto built = builder.build();
    if (!built) throw std::logic_error("raft: an uncompressed batch failed to build");
    return std::move(built).value();
}

}  // namespace

protocol::uuid metadata_topic_id() {
    protocol::uuid id;
    id.bytes[15] = 1;
    return id;
}

std::vector<uint8_t> encode_entries(const std::vector<log_entry>& entries, int64_t timestamp_ms) {
    std::vector<uint8_t> out;
    size_t begin = 0;
    for (size_t i = 1; i <= entries.size(); ++i) {
        if (i == entries.size() || entries[i].ep != entries[begin].ep || entries[i].kind != entries[begin].kind ||
            entries[i].off != entries[i - 1].off + 1) {
            if (begin < entries.size()) {
                auto batch = encode_run(entries, begin, i, timestamp_ms);
                out.insert(out.end(), batch.begin(), batch.end());
            }
            begin = i;
        }
    }
    return out;
}

wire_result<std::vector<log_entry>> decode_entries(std::span<const uint8_t> batches) {
    std::vector<log_entry> entries;
    protocol::record_batch_sequence sequence(batches);
    for (;;) {
        auto next = sequence.next();
        if (!next) {
            if (next.error() == protocol::record_error::truncated) break;  // a fetch cut by max bytes
            return kafka_error::corrupt_message;
        }
        if (!next.value()) break;
        const auto& batch = *next.value();
        if (!batch.crc_ok()) return kafka_error::corrupt_message;
        auto records = protocol::decode_records(batch, size_t{64} << 20);
        if (!records) return kafka_error::corrupt_message;
        for (const auto& record : records.value().records) {
            log_entry entry{offset{batch.base_offset() + record.offset_delta}, epoch{batch.partition_leader_epoch()}, entry_kind::data, {}};
            if (batch.is_control()) {
                if (!record.key || record.key->size() < 4) return kafka_error::corrupt_message;
                const int16_t type = static_cast<int16_t>(((*record.key)[2] << 8) | (*record.key)[3]);
                if (type != leader_change_control_type) continue;
                entry.kind = entry_kind::leader_change;
            } else if (record.value) {
                entry.data.assign(reinterpret_cast<const char*>(record.value->data()), record.value->size());
            }
            entries.push_back(std::move(entry));
        }
    }
    return entries;
}

// ---- Vote ---------------------------------------------------------------------------

pm::vote_request to_kafka(const vote_request& request, const std::optional<std::string>& cluster_id) {
    pm::vote_request out;
    out.cluster_id = cluster_id;
    out.voter_id = wire_id(request.voter_id);
    auto& p = wrap(out.topics);
    p.candidate_epoch = request.candidate_epoch.value();
    p.candidate_id = request.candidate_id.value();
    p.last_offset_epoch = request.last_offset_epoch.value();
    p.last_offset = request.last_offset.value();
    if (request.pre_vote) p.unknown_tags.push_back(protocol::tagged_field{pre_vote_tag, {1}});
    return out;
}

wire_result<inbound<vote_request>> from_kafka(const pm::vote_request& request,
                                              const std::optional<std::string>& cluster_id) {
    if (auto ok = check_cluster(request.cluster_id, cluster_id); !ok) return ok.error();
    auto partition = unwrap(request.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    vote_request out{epoch{p.candidate_epoch}, node_id{p.candidate_id}, optional_id(request.voter_id),
                     epoch{p.last_offset_epoch}, offset{p.last_offset}, false};
    for (const auto& tag : p.unknown_tags) {
        if (tag.tag == pre_vote_tag) out.pre_vote = tag.data.size() == 1 && tag.data[0] != 0;
    }
    return inbound<vote_request>{out.candidate_id, out};
}

pm::vote_response to_kafka(const vote_response& response) {
    pm::vote_response out;
    auto& p = wrap(out.topics);
    p.error_code = static_cast<int16_t>(response.error);
    p.leader_id = wire_id(response.leader_id);
    p.leader_epoch = response.leader_epoch.value();
    p.vote_granted = response.vote_granted;
    return out;
}

wire_result<vote_response> from_kafka(const pm::vote_response& response) {
    if (response.error_code != 0) return static_cast<kafka_error>(response.error_code);
    auto partition = unwrap(response.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    return vote_response{static_cast<kafka_error>(p.error_code), optional_id(p.leader_id), epoch{p.leader_epoch},
                         p.vote_granted};
}

// ---- BeginQuorumEpoch ---------------------------------------------------------------

pm::begin_quorum_epoch_request to_kafka(const begin_quorum_epoch_request& request,
                                        const std::optional<std::string>& cluster_id) {
    pm::begin_quorum_epoch_request out;
    out.cluster_id = cluster_id;
    out.voter_id = wire_id(request.voter_id);
    auto& p = wrap(out.topics);
    p.leader_id = request.leader_id.value();
    p.leader_epoch = request.leader_epoch.value();
    return out;
}

wire_result<inbound<begin_quorum_epoch_request>> from_kafka(const pm::begin_quorum_epoch_request& request,
                                                            const std::optional<std::string>& cluster_id) {
    if (auto ok = check_cluster(request.cluster_id, cluster_id); !ok) return ok.error();
    auto partition = unwrap(request.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    begin_quorum_epoch_request out{optional_id(request.voter_id), node_id{p.leader_id}, epoch{p.leader_epoch}};
    return inbound<begin_quorum_epoch_request>{out.leader_id, out};
}

pm::begin_quorum_epoch_response to_kafka(const begin_quorum_epoch_response& response) {
    pm::begin_quorum_epoch_response out;
    auto& p = wrap(out.topics);
    p.error_code = static_cast<int16_t>(response.error);
    p.leader_id = wire_id(response.leader_id);
    p.leader_epoch = response.leader_epoch.value();
    return out;
}

wire_result<begin_quorum_epoch_response> from_kafka(const pm::begin_quorum_epoch_response& response) {
    if (response.error_code != 0) return static_cast<kafka_error>(response.error_code);
    auto partition = unwrap(response.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    return begin_quorum_epoch_response{static_cast<kafka_error>(p.error_code), optional_id(p.leader_id),
                                       epoch{p.leader_epoch}};
}

// ---- EndQuorumEpoch -----------------------------------------------------------------

pm::end_quorum_epoch_request to_kafka(const end_quorum_epoch_request& request,
                                      const std::optional<std::string>& cluster_id) {
    pm::end_quorum_epoch_request out;
    out.cluster_id = cluster_id;
    auto& p = wrap(out.topics);
    p.leader_id = request.leader_id.value();
    p.leader_epoch = request.leader_epoch.value();
    // v0 names successors by id; v1 as PreferredCandidates (with directory
    // ids, unused here). Both are filled; each version writes its own.
    for (node_id candidate : request.preferred_candidates) {
        p.preferred_successors.push_back(candidate.value());
        p.preferred_candidates.emplace_back().candidate_id = candidate.value();
    }
    return out;
}

wire_result<inbound<end_quorum_epoch_request>> from_kafka(const pm::end_quorum_epoch_request& request,
                                                          const std::optional<std::string>& cluster_id) {
    if (auto ok = check_cluster(request.cluster_id, cluster_id); !ok) return ok.error();
    auto partition = unwrap(request.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    end_quorum_epoch_request out{node_id{p.leader_id}, epoch{p.leader_epoch}, {}};
    if (!p.preferred_candidates.empty()) {
        for (const auto& candidate : p.preferred_candidates) out.preferred_candidates.push_back(node_id{candidate.candidate_id});
    } else {
        for (int32_t id : p.preferred_successors) out.preferred_candidates.push_back(node_id{id});
    }
    return inbound<end_quorum_epoch_request>{out.leader_id, out};
}

pm::end_quorum_epoch_response to_kafka(const end_quorum_epoch_response& response) {
    pm::end_quorum_epoch_response out;
    auto& p = wrap(out.topics);
    p.error_code = static_cast<int16_t>(response.error);
    p.leader_id = wire_id(response.leader_id);
    p.leader_epoch = response.leader_epoch.value();
    return out;
}

wire_result<end_quorum_epoch_response> from_kafka(const pm::end_quorum_epoch_response& response) {
    if (response.error_code != 0) return static_cast<kafka_error>(response.error_code);
    auto partition = unwrap(response.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    return end_quorum_epoch_response{static_cast<kafka_error>(p.error_code), optional_id(p.leader_id),
                                     epoch{p.leader_epoch}};
}

// ---- Fetch --------------------------------------------------------------------------

pm::fetch_request to_kafka(const fetch_request& request, const std::optional<std::string>& cluster_id) {
    pm::fetch_request out;
    out.cluster_id = cluster_id;
    out.replica_id = request.replica_id.value();        // v0-14
    out.replica_state.replica_id = request.replica_id.value();  // v15+
    out.max_wait_ms = request.max_wait_ms;
    out.min_bytes = 0;
    out.max_bytes = request.max_bytes;
    auto& p = wrap(out.topics);
    p.current_leader_epoch = request.current_leader_epoch.value();
    p.fetch_offset = request.fetch_offset.value();
    p.last_fetched_epoch = request.last_fetched_epoch.value();
    p.partition_max_bytes = request.max_bytes;
    return out;
}

bool is_metadata_fetch(const pm::fetch_request& request, int16_t version) {
    if (request.topics.size() != 1) return false;
    return version >= 13 ? request.topics[0].topic_id == metadata_topic_id() : request.topics[0].topic == metadata_topic;
}

wire_result<inbound<fetch_request>> from_kafka(const pm::fetch_request& request, int16_t version,
                                               const std::optional<std::string>& cluster_id) {
    if (auto ok = check_cluster(request.cluster_id, cluster_id); !ok) return ok.error();
    if (!is_metadata_fetch(request, version)) return kafka_error::invalid_request;
    auto partition = unwrap(request.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    const int32_t replica = version >= 15 ? request.replica_state.replica_id : request.replica_id;
    fetch_request out{node_id{replica}, epoch{p.current_leader_epoch}, offset{p.fetch_offset},
                      epoch{p.last_fetched_epoch}, p.partition_max_bytes, request.max_wait_ms};
    return inbound<fetch_request>{out.replica_id, out};
}

pm::fetch_response to_kafka(const fetch_response& response, int16_t version, int64_t timestamp_ms) {
    pm::fetch_response out;
    auto& p = wrap(out.responses);
    p.error_code = static_cast<int16_t>(response.error);
    p.high_watermark = response.high_watermark.value();
    p.last_stable_offset = response.high_watermark.value();
    p.log_start_offset = response.log_start_offset.value();
    if (response.diverging_epoch) {
        p.diverging_epoch.epoch = response.diverging_epoch->ep.value();
        p.diverging_epoch.end_offset = response.diverging_epoch->end_offset.value();
    }
    p.current_leader.leader_id = wire_id(response.current_leader.leader_id);
    p.current_leader.leader_epoch = response.current_leader.leader_epoch.value();
    if (response.snapshot) {
        p.snapshot_id.end_offset = response.snapshot->end_offset.value();
        p.snapshot_id.epoch = response.snapshot->ep.value();
    }
    auto bytes = encode_entries(response.records, timestamp_ms);
    p.records = protocol::records::copy_of(bytes);
    (void)version;  // the codec writes the topic name or id as the version has it
    return out;
}

wire_result<fetch_response> from_kafka(const pm::fetch_response& response) {
    if (response.error_code != 0) return static_cast<kafka_error>(response.error_code);
    auto partition = unwrap(response.responses);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    fetch_response out;
    out.error = static_cast<kafka_error>(p.error_code);
    out.high_watermark = offset{p.high_watermark};
    out.log_start_offset = offset{p.log_start_offset};
    if (p.diverging_epoch.epoch >= 0 && p.diverging_epoch.end_offset >= 0) {
        out.diverging_epoch = epoch_end_offset{epoch{p.diverging_epoch.epoch}, offset{p.diverging_epoch.end_offset}};
    }
    out.current_leader = leader_id_and_epoch{optional_id(p.current_leader.leader_id), epoch{p.current_leader.leader_epoch}};
    if (p.snapshot_id.epoch >= 0 && p.snapshot_id.end_offset >= 0) {
        out.snapshot = snapshot_id{offset{p.snapshot_id.end_offset}, epoch{p.snapshot_id.epoch}};
    }
    if (p.records) {
        if (p.records->is_file()) return kafka_error::invalid_request;  // only received bytes are decoded
        auto entries = decode_entries(p.records->bytes());
        if (!entries) return entries.error();
        out.records = std::move(entries).value();
    }
    return out;
}

// ---- FetchSnapshot ------------------------------------------------------------------

pm::fetch_snapshot_request to_kafka(const fetch_snapshot_request& request,
                                    const std::optional<std::string>& cluster_id) {
    pm::fetch_snapshot_request out;
    out.cluster_id = cluster_id;
    out.replica_id = request.replica_id.value();
    out.max_bytes = request.max_bytes;
    auto& p = wrap(out.topics);
    p.current_leader_epoch = request.current_leader_epoch.value();
    p.snapshot_id.end_offset = request.snapshot.end_offset.value();
    p.snapshot_id.epoch = request.snapshot.ep.value();
    p.position = request.position;
    return out;
}

wire_result<inbound<fetch_snapshot_request>> from_kafka(const pm::fetch_snapshot_request& request,
                                                        const std::optional<std::string>& cluster_id) {
    if (auto ok = check_cluster(request.cluster_id, cluster_id); !ok) return ok.error();
    auto partition = unwrap(request.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    fetch_snapshot_request out{node_id{request.replica_id}, epoch{p.current_leader_epoch},
                               snapshot_id{offset{p.snapshot_id.end_offset}, epoch{p.snapshot_id.epoch}}, p.position,
                               request.max_bytes};
    return inbound<fetch_snapshot_request>{out.replica_id, out};
}

pm::fetch_snapshot_response to_kafka(const fetch_snapshot_response& response) {
    pm::fetch_snapshot_response out;
    auto& p = wrap(out.topics);
    p.error_code = static_cast<int16_t>(response.error);
    p.snapshot_id.end_offset = response.snapshot.end_offset.value();
    p.snapshot_id.epoch = response.snapshot.ep.value();
    p.current_leader.leader_id = wire_id(response.current_leader.leader_id);
    p.current_leader.leader_epoch = response.current_leader.leader_epoch.value();
    p.size_ = response.size;
    p.position = response.position;
    const auto* bytes = reinterpret_cast<const uint8_t*>(response.bytes.data());
    p.unaligned_records = protocol::records::copy_of(std::span<const uint8_t>(bytes, response.bytes.size()));
    return out;
}

wire_result<fetch_snapshot_response> from_kafka(const pm::fetch_snapshot_response& response) {
    if (response.error_code != 0) return static_cast<kafka_error>(response.error_code);
    auto partition = unwrap(response.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    if (p.unaligned_records.is_file()) return kafka_error::invalid_request;
    const auto bytes = p.unaligned_records.bytes();
    fetch_snapshot_response out;
    out.error = static_cast<kafka_error>(p.error_code);
    out.snapshot = snapshot_id{offset{p.snapshot_id.end_offset}, epoch{p.snapshot_id.epoch}};
    out.current_leader = leader_id_and_epoch{optional_id(p.current_leader.leader_id), epoch{p.current_leader.leader_epoch}};
    out.size = p.size_;
    out.position = p.position;
    out.bytes.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return out;
}

// ---- DescribeQuorum -----------------------------------------------------------------

pm::describe_quorum_request to_kafka(const describe_quorum_request&) {
    pm::describe_quorum_request out;
    wrap(out.topics);
    return out;
}

wire_result<inbound<describe_quorum_request>> from_kafka(const pm::describe_quorum_request& request) {
    auto partition = unwrap(request.topics);
    if (!partition) return partition.error();
    return inbound<describe_quorum_request>{node_id{-1}, describe_quorum_request{}};
}

pm::describe_quorum_response to_kafka(const describe_quorum_response& response) {
    pm::describe_quorum_response out;
    auto& p = wrap(out.topics);
    p.error_code = static_cast<int16_t>(response.error);
    p.leader_id = wire_id(response.leader_id);
    p.leader_epoch = response.leader_epoch.value();
    p.high_watermark = response.high_watermark.value();
    auto copy = [](const std::vector<replica_state>& from, std::vector<pm::describe_quorum_response::replica_state>& to) {
        for (const auto& replica : from) {
            auto& r = to.emplace_back();
            r.replica_id = replica.replica_id.value();
            r.log_end_offset = replica.log_end_offset.value();
            r.last_fetch_timestamp = replica.last_fetch_timestamp;
            r.last_caught_up_timestamp = replica.last_caught_up_timestamp;
        }
    };
    copy(response.current_voters, p.current_voters);
    copy(response.observers, p.observers);
    return out;
}

wire_result<describe_quorum_response> from_kafka(const pm::describe_quorum_response& response) {
    if (response.error_code != 0) return static_cast<kafka_error>(response.error_code);
    auto partition = unwrap(response.topics);
    if (!partition) return partition.error();
    const auto& p = *partition.value();
    describe_quorum_response out;
    out.error = static_cast<kafka_error>(p.error_code);
    out.leader_id = optional_id(p.leader_id);
    out.leader_epoch = epoch{p.leader_epoch};
    out.high_watermark = offset{p.high_watermark};
    auto copy = [](const std::vector<pm::describe_quorum_response::replica_state>& from, std::vector<replica_state>& to) {
        for (const auto& r : from) {
            to.push_back(replica_state{node_id{r.replica_id}, offset{r.log_end_offset}, r.last_fetch_timestamp,
                                       r.last_caught_up_timestamp});
        }
    };
    copy(p.current_voters, out.current_voters);
    copy(p.observers, out.observers);
    return out;
}

}  // namespace strata::raft::wire
