#include "strata/metadata/snapshot.h"

#include <fmt/format.h>

#include <array>
#include <stdexcept>

#include "strata/protocol/messages/snapshot_footer_record.h"
#include "strata/protocol/messages/snapshot_header_record.h"
#include "strata/protocol/record_batch.h"

namespace strata::metadata {

namespace {

// Kafka's ControlRecordType ids.
constexpr int16_t snapshot_header_type = 3;
constexpr int16_t snapshot_footer_type = 4;
// A data batch is cut once its records pass this size.
constexpr size_t batch_bytes = size_t{1} << 20;
// Bound on one batch's records once decompressed (a snapshot written by
// Kafka may compress them; its batches are at most 8 MiB).
constexpr size_t max_decompressed_bytes = size_t{64} << 20;

// Appends uncompressed v2 batches to `out` at consecutive offsets.
class snapshot_writer {
public:
    snapshot_writer(int32_t epoch, int64_t timestamp_ms) : _epoch(epoch), _timestamp(timestamp_ms) {}

    void control(int16_t type, const std::vector<uint8_t>& value) {
        flush();
        const std::array<uint8_t, 4> key{0, 0, 0, static_cast<uint8_t>(type)};  // version 0, type
        auto builder = make_builder(true);
        builder.append(_timestamp, protocol::bytes_view(key), protocol::bytes_view(value));
        finish(builder);
    }

    void add(const record& r) {
        if (!_batch) _batch.emplace(make_builder(false));
        const auto bytes = encode_record(r);
        _batch->append(_timestamp, std::nullopt, protocol::bytes_view(bytes));
        if (_batch->uncompressed_size() >= batch_bytes) flush();
    }

    void flush() {
        if (_batch && _batch->record_count() > 0) finish(*_batch);
        _batch.reset();
    }

    std::string take() { return std::move(_out); }

private:
    protocol::record_batch_builder make_builder(bool is_control) const {
        protocol::record_batch_options options;
        options.base_offset = _next_offset;
        options.partition_leader_epoch = _epoch;
        options.is_control = is_control;
        return protocol::record_batch_builder(options);
    }

    void finish(const protocol::record_batch_builder& builder) {
        auto built = builder.build();
        if (!built) throw std::logic_error("metadata snapshot: an uncompressed batch failed to build");
        _out.append(reinterpret_cast<const char*>(built.value().data()), built.value().size());
        _next_offset += builder.record_count();
    }

    int32_t _epoch;
    int64_t _timestamp;
    int64_t _next_offset = 0;
    std::optional<protocol::record_batch_builder> _batch;
    std::string _out;
};

template <typename Record>
std::vector<uint8_t> encode_message(const Record& r) {
    protocol::encoded_output out;
    protocol::writer w(out);
    r.encode(w, 0);
    return std::move(out.bytes);
}

}  // namespace

std::string write_snapshot(const metadata_image& image, int32_t epoch, int64_t timestamp_ms) {
    snapshot_writer out(epoch, timestamp_ms);
    protocol::messages::snapshot_header_record header;
    header.last_contained_log_timestamp = timestamp_ms;
    out.control(snapshot_header_type, encode_message(header));

    // metadata.version first: Kafka reads it before anything else.
    const auto write_feature = [&](const std::string& name, int16_t level) {
        records::feature_level_record f;
        f.name = name;
        f.feature_level = level;
        out.add(f);
    };
    if (auto mv = image.feature_level("metadata.version")) write_feature("metadata.version", *mv);
    for (const auto& [name, level] : image.features())
        if (name != "metadata.version") write_feature(name, level);

    for (const auto& [id, b] : image.brokers()) {
        records::register_broker_record r;
        r.broker_id = b.id;
        r.broker_epoch = b.epoch;
        r.incarnation_id = b.incarnation_id;
        for (const auto& e : b.endpoints) {
            auto& ep = r.end_points.emplace_back();
            ep.name = e.listener;
            ep.host = e.host;
            ep.port = e.port;
            ep.security_protocol = e.security_protocol;
        }
        r.rack = b.rack;
        r.fenced = b.fenced;
        r.in_controlled_shutdown = b.in_controlled_shutdown;
        out.add(r);
    }

    for (const auto& [name, topic] : image.topics()) {
        records::topic_record t;
        t.name = topic->name;
        t.topic_id = topic->id;
        out.add(t);
        for (const auto& p : topic->partitions) {
            records::partition_record r;
            r.partition_id = p.partition;
            r.topic_id = topic->id;
            r.replicas = p.replicas;
            r.isr = p.isr;
            r.removing_replicas = p.removing_replicas;
            r.adding_replicas = p.adding_replicas;
            r.leader = p.leader;
            r.leader_recovery_state = p.leader_recovery_state;
            r.leader_epoch = p.leader_epoch;
            r.partition_epoch = p.partition_epoch;
            if (!p.eligible_leader_replicas.empty()) r.eligible_leader_replicas = p.eligible_leader_replicas;
            if (!p.last_known_elr.empty()) r.last_known_elr = p.last_known_elr;
            out.add(r);
        }
    }

    for (const auto& [resource, configs] : image.all_configs()) {
        for (const auto& [name, value] : configs) {
            records::config_record c;
            c.resource_type = static_cast<int8_t>(resource.type);
            c.resource_name = resource.name;
            c.name = name;
            c.value = value;
            out.add(c);
        }
    }

    if (image.next_producer_id() > 0) {
        records::producer_ids_record p;
        p.broker_id = -1;  // the image keeps only the counter
        p.next_producer_id = image.next_producer_id();
        out.add(p);
    }

    for (const auto& [id, acl] : image.acls()) out.add(acl);
    for (const auto& [user, by_mechanism] : image.scram())
        for (const auto& [mechanism, credential] : by_mechanism) out.add(credential);
    for (const auto& [id, token] : image.tokens()) out.add(token);
    for (const auto& [entity, values] : image.client_quotas()) {
        for (const auto& [key, value] : values) {
            records::client_quota_record q;
            for (const auto& [type, name] : entity) {
                auto& e = q.entity.emplace_back();
                e.entity_type = type;
                e.entity_name = name;
            }
            q.key = key;
            q.value = value;
            out.add(q);
        }
    }

    out.flush();
    out.control(snapshot_footer_type, encode_message(protocol::messages::snapshot_footer_record{}));
    return out.take();
}

std::shared_ptr<const metadata_image> read_snapshot(std::string_view bytes, int64_t end_offset) {
    const auto fail = [](const std::string& why) { throw protocol::decode_error("metadata snapshot: " + why); };
    protocol::record_batch_sequence batches(
        protocol::bytes_view(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    metadata_delta delta(nullptr);
    std::vector<uint8_t> scratch;
    bool header = false;
    bool footer = false;
    for (;;) {
        auto next = batches.next();
        if (!next) fail(fmt::format("bad batch at byte {}: {}", batches.consumed(), next.error()));
        if (!next.value()) break;
        const auto& batch = *next.value();
        if (!batch.crc_ok()) fail(fmt::format("CRC mismatch in the batch at offset {}", batch.base_offset()));
        if (footer) fail("batches after the footer");
        if (batch.is_control()) {
            auto done =
                protocol::for_each_record(batch, max_decompressed_bytes, scratch, [&](const protocol::record_view& r) {
                    if (!r.key || r.key->size() < 4) fail("control record without a type");
                    const int16_t type = static_cast<int16_t>(((*r.key)[2] << 8) | (*r.key)[3]);
                    if (type == snapshot_header_type) {
                        if (header) fail("two headers");
                        header = true;
                    } else if (type == snapshot_footer_type) {
                        footer = true;
                    }
                });
            if (!done) fail(fmt::format("bad control batch: {}", done.error()));
            continue;
        }
        if (!header) fail("no SnapshotHeaderRecord before the first records");
        auto done =
            protocol::for_each_record(batch, max_decompressed_bytes, scratch, [&](const protocol::record_view& r) {
                if (!r.value) fail("a record without a value");
                delta.replay(decode_record(*r.value).value);
            });
        if (!done) fail(fmt::format("bad batch at offset {}: {}", batch.base_offset(), done.error()));
    }
    if (!header || !footer) fail(header ? "no SnapshotFooterRecord (cut off?)" : "empty, no SnapshotHeaderRecord");
    delta.set_end_offset(end_offset);
    return delta.apply();
}

image_changes diff_images(const metadata_image& before, const metadata_image& after) {
    image_changes changes;
    for (const auto& [name, topic] : before.topics())
        if (!after.topic(topic->id)) changes.deleted_topics.emplace_back(topic->id, name);
    for (const auto& [name, topic] : after.topics()) {
        const topic_image* old = before.topic(topic->id);
        if (!old)
            changes.created_topics.push_back(topic->id);
        else if (old != topic.get() && *old != *topic)
            changes.changed_topics.push_back(topic->id);
    }
    changes.brokers_changed = before.brokers() != after.brokers();
    changes.configs_changed = before.all_configs() != after.all_configs();
    changes.client_quotas_changed = before.client_quotas() != after.client_quotas();
    return changes;
}

}  // namespace strata::metadata
