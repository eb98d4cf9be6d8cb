// strata consume: print records from a topic's partitions, from a chosen
// start (beginning, end, offset, timestamp, or a group's committed offsets)
// until the end offsets seen at the start, a count, or forever (--follow).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "group_member.h"
#include "group_ops.h"
#include "ops.h"
#include "strata/protocol/messages/fetch_request.h"
#include "strata/protocol/messages/fetch_response.h"
#include "strata/protocol/messages/list_offsets_request.h"
#include "strata/protocol/messages/list_offsets_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct consume_args {
    std::string topic;
    std::vector<int32_t> partitions;
    std::string from = "beginning";
    std::optional<int64_t> offset;
    std::string timestamp;
    int64_t count = -1;
    bool follow = false;
    std::string format = "plain";
    bool print_key = false;
    std::string separator = "\t";
    std::string group;
    bool no_commit = false;
    int max_wait_ms = 500;
    std::string isolation = "read_uncommitted";
};

std::string text_of(const std::optional<protocol::bytes_view>& bytes) {
    if (!bytes) return "null";
    return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

json json_of(const std::optional<protocol::bytes_view>& bytes) {
    if (!bytes) return nullptr;
    return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

// A read_committed consumer's filter of one partition's fetched batches, as
// Kafka's consumer does it (KIP-98): the response lists the aborted
// transactions overlapping what it returns (producer id, first offset); a
// producer's transactional batches are dropped from its aborted
// transaction's first offset until its ABORT marker.
class aborted_filter {
public:
    explicit aborted_filter(const std::optional<std::vector<pm::fetch_response::aborted_transaction>>& aborted) {
        if (aborted)
            for (const auto& t : *aborted) _pending.emplace(t.first_offset, t.producer_id);
    }
    // Whether `batch`'s records are to be skipped.
    bool skip(const protocol::record_batch_view& batch) {
        if (!batch.has_producer_id()) return batch.is_control();
        while (!_pending.empty() && _pending.begin()->first <= batch.last_offset()) {
            _aborted.insert(_pending.begin()->second);
            _pending.erase(_pending.begin());
        }
        if (batch.is_control()) {
            if (is_abort_marker(batch)) _aborted.erase(batch.producer_id());
            return true;
        }
        return batch.is_transactional() && _aborted.count(batch.producer_id()) > 0;
    }

private:
    // A control record's key is version (int16) and type (int16: 0 ABORT, 1 COMMIT).
    static bool is_abort_marker(const protocol::record_batch_view& batch) {
        std::vector<uint8_t> scratch;
        bool abort = false;
        (void)protocol::for_each_record(batch, 1 << 16, scratch, [&](const protocol::record_view& r) {
            if (r.key && r.key->size() >= 4) abort = ((*r.key)[2] << 8 | (*r.key)[3]) == 0;
        });
        return abort;
    }
    std::multimap<int64_t, int64_t> _pending;  // first offset -> producer id, not yet reached
    std::set<int64_t> _aborted;                // producers inside an aborted transaction
};

// ListOffsets LATEST at read_committed: each partition's last stable offset
// (ops.h's list_offsets asks at read_uncommitted, the high watermark).
std::map<int32_t, listed_offset> last_stable_offsets(kafka_client& client, const topic_metadata_t& md,
                                                     const std::vector<int32_t>& partitions) {
    std::map<int32_t, std::vector<int32_t>> by_leader;
    for (int32_t p : partitions) by_leader[leader_of(md, p)].push_back(p);
    std::map<int32_t, listed_offset> out;
    for (const auto& [leader, parts] : by_leader) {
        if (client.version_of<pm::list_offsets_request>(leader) < 2)
            throw cli_error(fmt::format("broker {} serves ListOffsets below v2, which has no isolation level", leader));
        pm::list_offsets_request request;
        request.replica_id = -1;
        request.isolation_level = 1;
        request.timeout_ms = client.options().timeout_ms;
        auto& t = request.topics.emplace_back();
        t.name = md.name.value_or("");
        for (int32_t p : parts) {
            auto& lp = t.partitions.emplace_back();
            lp.partition_index = p;
            lp.timestamp = latest_timestamp;
        }
        auto response = client.call<pm::list_offsets_response>(leader, request);
        for (const auto& rt : response.topics)
            for (const auto& rp : rt.partitions) {
                if (rp.error_code != 0)
                    throw_kafka_error(rp.error_code,
                                      fmt::format("listing the last stable offset of {}-{}", rt.name, rp.partition_index));
                out[rp.partition_index] = listed_offset{rp.offset, rp.timestamp};
            }
    }
    return out;
}

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) {
    interrupted = 1;
}

void consume(const global_options& g, const consume_args& a) {
    const bool as_json = a.format == "json" || g.format() == output_format::json;
    if (a.offset && !a.timestamp.empty()) throw_usage("--offset and --timestamp cannot be combined");
    if (!a.group.empty() && (a.offset || !a.timestamp.empty() || !a.partitions.empty()))
        throw_usage("--group starts from the group's offsets and takes its partitions from the group",
                    "drop --offset/--timestamp/--partition, or reset the group with `strata group reset-offsets`");
    std::optional<int64_t> start_time;
    if (!a.timestamp.empty()) start_time = parse_timestamp(a.timestamp);
    // read_committed reads to the last stable offset and skips aborted transactions.
    const bool committed_only = a.isolation == "read_committed";
    const int8_t isolation = committed_only ? 1 : 0;  // Fetch's isolation_level

    kafka_client client(g);
    auto md = client.topic_metadata(a.topic);
    std::unique_ptr<group_member> member;
    std::vector<int32_t> partitions;
    if (!a.group.empty()) {
        member = std::make_unique<group_member>(client, a.group, std::vector<std::string>{a.topic});
        partitions = member->join()[a.topic];
    } else {
        partitions = a.partitions.empty() ? partition_ids(md) : a.partitions;
        for (int32_t p : partitions) leader_of(md, p);  // checks that each exists
    }

    // Where each partition starts, and (without --follow) where it ends.
    std::map<int32_t, int64_t> position;
    std::map<int32_t, listed_offset> latest;
    std::set<int32_t> active;
    auto start_partitions = [&] {
        position.clear();
        active.clear();
        if (partitions.empty()) return;
        latest = committed_only ? last_stable_offsets(client, md, partitions)
                                : list_offsets(client, md, partitions, latest_timestamp);
        if (member) {
            auto committed = fetch_committed_offsets(client, a.group, a.topic, partitions);
            std::vector<int32_t> missing;
            for (int32_t p : partitions) {
                if (auto it = committed.find(p); it != committed.end() && it->second >= 0) {
                    position[p] = it->second;
                } else {
                    missing.push_back(p);
                }
            }
            if (!missing.empty()) {
                auto fallback =
                    list_offsets(client, md, missing, a.from == "end" ? latest_timestamp : earliest_timestamp);
                for (int32_t p : missing) position[p] = fallback[p].offset;
            }
        } else if (a.offset) {
            auto earliest = list_offsets(client, md, partitions, earliest_timestamp);
            for (int32_t p : partitions) {
                int64_t want = *a.offset >= 0 ? *a.offset : latest[p].offset + *a.offset;  // negative: from the end
                position[p] = std::clamp(want, earliest[p].offset, latest[p].offset);
                if (*a.offset >= 0 && want != position[p])
                    throw_kafka_error(
                        kafka_error_code(kafka_error::offset_out_of_range),
                        fmt::format("offset {} of {}-{}", *a.offset, a.topic, p),
                        fmt::format("the partition holds offsets {} to {}", earliest[p].offset, latest[p].offset - 1));
            }
        } else if (start_time) {
            auto found = list_offsets(client, md, partitions, *start_time);
            for (int32_t p : partitions) position[p] = found[p].offset >= 0 ? found[p].offset : latest[p].offset;
        } else {
            auto found = list_offsets(client, md, partitions, a.from == "end" ? latest_timestamp : earliest_timestamp);
            for (int32_t p : partitions) position[p] = found[p].offset;
        }
        for (int32_t p : partitions)
            if (a.follow || position[p] < latest[p].offset) active.insert(p);
    };
    start_partitions();

    // Ctrl-C ends a follow cleanly: output flushed, offsets committed, group left.
    if (a.follow) std::signal(SIGINT, on_interrupt);

    int64_t printed = 0;
    std::vector<uint8_t> scratch;
    std::string out;
    const bool stop_on_count = a.count >= 0;
    auto done = [&] { return interrupted || (stop_on_count && printed >= a.count); };
    int refreshes = 0;
    // In a group with nothing assigned, --follow still waits (heartbeating)
    // for a rebalance to hand this member partitions.
    while (!done() && (!active.empty() || (member && a.follow))) {
        if (active.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        std::map<int32_t, std::vector<int32_t>> by_leader;
        for (int32_t p : active) by_leader[leader_of(md, p)].push_back(p);
        bool refresh = false;
        for (const auto& [leader, parts] : by_leader) {
            pm::fetch_request request;
            request.replica_id = -1;
            request.max_wait_ms = a.follow ? a.max_wait_ms : 100;
            request.min_bytes = 1;
            request.max_bytes = 16 << 20;
            request.isolation_level = isolation;
            request.session_id = 0;
            request.session_epoch = -1;
            pm::fetch_request::fetch_topic topic;
            topic.topic = a.topic;
            for (int32_t p : parts) {
                pm::fetch_request::fetch_partition fp;
                fp.partition = p;
                fp.fetch_offset = position[p];
                fp.partition_max_bytes = 4 << 20;
                topic.partitions.push_back(fp);
            }
            request.topics.push_back(std::move(topic));
            auto response = client.call<pm::fetch_response>(leader, request);
            if (response.error_code != 0)
                throw_kafka_error(response.error_code, fmt::format("fetching from '{}'", a.topic));
            for (const auto& t : response.responses) {
                for (const auto& pd : t.partitions) {
                    const int32_t p = pd.partition_index;
                    if (!active.count(p)) continue;
                    if (pd.error_code != 0) {
                        auto error = kafka_error_from_code(pd.error_code);
                        if (error && is_retriable(*error) && refreshes < 50) {
                            refresh = true;
                            continue;
                        }
                        throw_kafka_error(pd.error_code,
                                          fmt::format("fetching {}-{} at offset {}", a.topic, p, position[p]));
                    }
                    if (pd.records && pd.records->size() > 0) {
                        aborted_filter aborted(pd.aborted_transactions);
                        protocol::record_batch_sequence batches(pd.records->bytes());
                        for (;;) {
                            auto next = batches.next();
                            if (!next || !next.value()) break;  // the end, or a batch cut off by the size limit
                            const auto& batch = *next.value();
                            if (batch.last_offset() < position[p]) continue;
                            if (!(committed_only ? aborted.skip(batch) : batch.is_control())) {
                                const int64_t base = batch.base_offset();
                                const int64_t base_ts = batch.base_timestamp();
                                const bool append_time =
                                    batch.timestamp_kind() == protocol::timestamp_type::log_append_time;
                                auto walked = protocol::for_each_record(
                                    batch, 64 << 20, scratch, [&](const protocol::record_view& r) {
                                        const int64_t offset = base + r.offset_delta;
                                        if (offset < position[p]) return;
                                        if (!a.follow && offset >= latest[p].offset) return;
                                        if (stop_on_count && printed >= a.count) return;
                                        const int64_t ts =
                                            append_time ? batch.max_timestamp() : base_ts + r.timestamp_delta;
                                        if (as_json) {
                                            json headers = json::object();
                                            for (const auto& h : r.headers)
                                                headers[std::string(h.key)] = json_of(h.value);
                                            json line{{"topic", a.topic},      {"partition", p},
                                                      {"offset", offset},      {"timestamp", ts},
                                                      {"key", json_of(r.key)}, {"value", json_of(r.value)},
                                                      {"headers", headers}};
                                            out += line.dump(-1, ' ', false, json::error_handler_t::replace);
                                        } else {
                                            if (a.print_key) out += text_of(r.key) + a.separator;
                                            out += text_of(r.value);
                                        }
                                        out += '\n';
                                        ++printed;
                                        position[p] = offset + 1;
                                    });
                                if (!walked)
                                    throw cli_error(fmt::format("a record batch of {}-{} at offset {} is corrupt: {}",
                                                                a.topic, p, batch.base_offset(), walked.error()));
                            }
                            // Skipped control batches and filtered records still move the position,
                            // unless the count stopped us inside this batch.
                            if (!(stop_on_count && printed >= a.count))
                                position[p] = std::max(position[p], batch.last_offset() + 1);
                        }
                    }
                    if (!a.follow && position[p] >= latest[p].offset) active.erase(p);
                }
            }
            if (!out.empty()) {
                std::fwrite(out.data(), 1, out.size(), stdout);
                std::fflush(stdout);
                out.clear();
            }
            if (done()) break;
        }
        if (refresh) {
            ++refreshes;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            md = client.topic_metadata(a.topic);
        }
        if (member && !done() && !member->heartbeat_if_due()) {
            // A rebalance: hand back what we read, then take the new assignment.
            try {
                member->commit(a.topic, position);
            } catch (const cli_error&) {
                // A fenced generation cannot commit; the next owner rereads from the last commit.
            }
            partitions = member->join()[a.topic];
            md = client.topic_metadata(a.topic);
            start_partitions();
        }
    }
    if (member) {
        if (!a.no_commit) member->commit(a.topic, position);
        member->leave();
    }
}

}  // namespace

void add_consume_command(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto a = std::make_shared<consume_args>();
    auto* c = app.add_subcommand("consume", "Print records of a topic (to its end, a count, or following)");
    c->add_option("topic", a->topic, "Topic to consume")->required();
    c->add_option("-p,--partition", a->partitions, "Only these partitions (repeatable; default all)");
    c->add_option("--from", a->from, "Start at the beginning or the end of each partition")
        ->check(CLI::IsMember({"beginning", "end"}));
    c->add_option("--offset", a->offset, "Start at this offset (negative: that many before the end)");
    c->add_option("--timestamp", a->timestamp,
                  "Start at the first record at or after this time (ms since epoch or ISO 8601)");
    c->add_option("-n,--count", a->count, "Stop after this many records")->check(CLI::NonNegativeNumber);
    c->add_flag("-f,--follow", a->follow, "Keep waiting for new records (Ctrl-C to stop)");
    c->add_option("--format", a->format, "plain: the value (and key); json: one object per line")
        ->check(CLI::IsMember({"plain", "json"}));
    c->add_flag("-K,--print-key", a->print_key, "plain format: print key<TAB>value");
    c->add_option("--separator", a->separator, "plain format: between key and value");
    c->add_option("-g,--group", a->group,
                  "Consume as a member of this group: its partitions, from its committed offsets, committing on exit");
    c->add_flag("--no-commit", a->no_commit, "With --group, do not commit");
    c->add_option("--isolation", a->isolation,
                  "read_committed: only committed transactions' records, up to the last stable offset; "
                  "read_uncommitted (default): every record up to the high watermark")
        ->check(CLI::IsMember({"read_committed", "read_uncommitted"}));
    c->add_option("--max-wait", a->max_wait_ms, "With --follow, the longest a fetch waits for data (ms)")
        ->check(CLI::Range(0, 60000));
    c->footer(
        "Examples:\n"
        "  strata consume orders                       # everything there now, then exit\n"
        "  strata consume orders --from end -f         # new records as they arrive\n"
        "  strata consume orders -p 0 --offset 42 -n 10 --format json\n"
        "  strata consume orders --timestamp 2024-05-01T12:00:00Z\n"
        "  strata consume payments --isolation read_committed");
    c->callback([global, a] { consume(*global, *a); });
}

}  // namespace strata::cli
