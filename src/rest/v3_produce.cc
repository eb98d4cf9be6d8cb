// POST /v3/clusters/{id}/topics/{topic}/records: one record, or (streaming
// mode) several JSON objects concatenated in one request body, answered with
// one delivery report per record in the same order. Records of one request
// are batched per partition and sent in one Produce (acks=all) per round.
// Also Strata's GET .../partitions/{p}/records for the console's browser.
#include <chrono>

#include <fmt/format.h>

#include "common.h"
#include "records.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/produce_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::rest {

namespace pm = protocol::messages;

namespace {

struct data_field {
    std::string type = "JSON";
    std::optional<std::vector<uint8_t>> bytes;
};

data_field parse_data(const json& field, const char* what) {
    data_field out;
    if (field.is_null()) return out;
    if (!field.is_object()) throw rest_error(400, 400, fmt::format("{} must be an object with \"type\" and \"data\"", what));
    out.type = field.value("type", "JSON");
    for (auto& c : out.type) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (!field.contains("data") || field["data"].is_null()) return out;
    const json& data = field["data"];
    if (out.type == "BINARY") {
        if (!data.is_string()) throw rest_error(400, 400, fmt::format("{}: BINARY data must be a base64 string", what));
        out.bytes = base64_decode(data.get_ref<const std::string&>());
        if (!out.bytes) throw rest_error(400, 400, fmt::format("{}: data is not valid base64", what));
    } else if (out.type == "STRING") {
        if (!data.is_string()) throw rest_error(400, 400, fmt::format("{}: STRING data must be a string", what));
        const auto& s = data.get_ref<const std::string&>();
        out.bytes.emplace(s.begin(), s.end());
    } else if (out.type == "JSON") {
        const std::string s = data.dump();
        out.bytes.emplace(s.begin(), s.end());
    } else {
        throw rest_error(400, 400, fmt::format("{}: unsupported type {} (BINARY, JSON or STRING)", what, out.type));
    }
    return out;
}

struct pending_record {
    std::optional<rest_error> error;
    int32_t partition = -1;
    int64_t timestamp = 0;
    data_field key, value;
    std::vector<std::pair<std::string, std::optional<std::vector<uint8_t>>>> headers;
    int64_t offset = -1;
    int64_t log_append_time = -1;
};

pending_record parse_record(std::string_view text, int64_t now) {
    pending_record record;
    record.timestamp = now;
    json body;
    try {
        body = json::parse(text);
    } catch (const json::parse_error& e) {
        throw rest_error(400, 400, fmt::format("Malformed JSON: {}", e.what()));
    }
    if (!body.is_object()) throw rest_error(400, 400, "A record must be a JSON object");
    if (body.contains("partition_id") && !body["partition_id"].is_null()) {
        if (!body["partition_id"].is_number_integer()) throw rest_error(400, 400, "partition_id must be an integer");
        record.partition = body["partition_id"].get<int32_t>();
    }
    if (body.contains("timestamp") && body["timestamp"].is_number_integer()) record.timestamp = body["timestamp"].get<int64_t>();
    if (body.contains("key")) record.key = parse_data(body["key"], "key");
    if (body.contains("value")) record.value = parse_data(body["value"], "value");
    if (body.contains("headers") && !body["headers"].is_null()) {
        if (!body["headers"].is_array()) throw rest_error(400, 400, "headers must be an array");
        for (const auto& h : body["headers"]) {
            if (!h.is_object() || !h.contains("name") || !h["name"].is_string())
                throw rest_error(400, 400, "each header needs a string \"name\"");
            std::optional<std::vector<uint8_t>> value;
            if (h.contains("value") && !h["value"].is_null()) {
                if (!h["value"].is_string()) throw rest_error(400, 400, "a header value must be a base64 string");
                value = base64_decode(h["value"].get_ref<const std::string&>());
                if (!value) throw rest_error(400, 400, "a header value is not valid base64");
            }
            record.headers.emplace_back(h["name"].get<std::string>(), std::move(value));
        }
    }
    return record;
}

std::atomic<uint32_t> sticky_counter{0};

// Batches the records of each partition (at most `limit` bytes a batch) and
// produces them, a round of at most one batch per partition at a time.
awaitable<void> produce_all(context& ctx, const std::string& topic, std::vector<pending_record>& records, size_t limit) {
    std::map<int32_t, std::vector<size_t>> by_partition;
    for (size_t i = 0; i < records.size(); ++i)
        if (!records[i].error) by_partition[records[i].partition].push_back(i);
    std::map<int32_t, size_t> next;  // partition -> first index (into by_partition) not yet sent
    for (;;) {
        pm::produce_request request;
        request.acks = -1;
        request.timeout_ms = 30000;
        auto& t = request.topic_data.emplace_back();
        t.name = topic;
        std::map<int32_t, std::vector<size_t>> sent;
        std::vector<std::shared_ptr<std::vector<uint8_t>>> owners;
        for (auto& [partition, indexes] : by_partition) {
            size_t& from = next[partition];
            if (from >= indexes.size()) continue;
            protocol::record_batch_builder builder;
            auto& members = sent[partition];
            for (; from < indexes.size(); ++from) {
                auto& r = records[indexes[from]];
                const size_t size = (r.key.bytes ? r.key.bytes->size() : 0) + (r.value.bytes ? r.value.bytes->size() : 0) + 64;
                if (builder.record_count() > 0 && builder.uncompressed_size() + size > limit) break;
                std::vector<protocol::record_header_view> headers;
                for (const auto& [name, value] : r.headers)
                    headers.push_back({name, value ? std::optional<protocol::bytes_view>(*value) : std::nullopt});
                auto view = [](const std::optional<std::vector<uint8_t>>& b) {
                    return b ? std::optional<protocol::bytes_view>(*b) : std::nullopt;
                };
                builder.append(r.timestamp, view(r.key.bytes), view(r.value.bytes), headers);
                members.push_back(indexes[from]);
            }
            auto built = builder.build();
            if (!built) throw rest_error(500, 50002, "could not build a record batch");
            owners.push_back(std::make_shared<std::vector<uint8_t>>(std::move(built).value()));
            auto& pd = t.partition_data.emplace_back();
            pd.index = partition;
            pd.records = protocol::records::from_memory(*owners.back(), owners.back());
        }
        if (t.partition_data.empty()) co_return;
        auto response = co_await ctx.kafka.call<pm::produce_response>(request, 9);
        for (const auto& tr : response.responses)
            for (const auto& pr : tr.partition_responses) {
                const auto& members = sent[pr.index];
                for (size_t k = 0; k < members.size(); ++k) {
                    auto& r = records[members[k]];
                    if (pr.error_code != 0) {
                        try {
                            throw_kafka(pr.error_code, pr.error_message);
                        } catch (const rest_error& e) {
                            r.error = e;
                        }
                        continue;
                    }
                    r.offset = pr.base_offset + int64_t(k);
                    r.log_append_time = pr.log_append_time_ms;
                }
            }
    }
}

json report(const std::string& cluster, const std::string& topic, const pending_record& r) {
    if (r.error) return json{{"error_code", r.error->code}, {"message", r.error->what()}};
    auto size = [](const data_field& f) { return f.bytes ? json(f.bytes->size()) : json(0); };
    return json{{"error_code", 200},
                {"cluster_id", cluster},
                {"topic_name", topic},
                {"partition_id", r.partition},
                {"offset", r.offset},
                {"timestamp", iso_time(r.log_append_time >= 0 ? r.log_append_time : r.timestamp)},
                {"key", r.key.bytes ? json{{"type", r.key.type}, {"size", size(r.key)}} : json(nullptr)},
                {"value", r.value.bytes ? json{{"type", r.value.type}, {"size", size(r.value)}} : json(nullptr)}};
}

awaitable<http::response> produce(context& ctx, const http::request& request, const path_params& p) {
    auto m = co_await ctx.cluster(p[0], one_topic(p[1]));
    int32_t partitions = 0;
    for (const auto& t : m.topics)
        if (t.name && *t.name == p[1]) {
            if (t.error_code != 0) throw_kafka(t.error_code);
            partitions = int32_t(t.partitions.size());
        }
    if (partitions == 0) throw rest_error(404, 40403, "This server does not host this topic-partition.");
    const auto texts = split_concatenated(request.body);
    if (texts.empty()) throw rest_error(400, 400, "Request body is empty; a JSON record is expected");
    const bool single = texts.size() == 1;
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const int32_t sticky = int32_t(sticky_counter++ % uint32_t(partitions));
    std::vector<pending_record> records;
    records.reserve(texts.size());
    for (const auto text : texts) {
        try {
            auto r = parse_record(text, now);
            if (r.partition < 0) r.partition = r.key.bytes ? murmur2(*r.key.bytes) % partitions : sticky;
            else if (r.partition >= partitions) throw rest_error(404, 40402, "Partition not found.");
            records.push_back(std::move(r));
        } catch (const rest_error& e) {
            if (single) throw;
            pending_record failed;
            failed.error = e;
            records.push_back(std::move(failed));
        }
    }
    // Under message.max.bytes' default, so one batch is never refused for size.
    co_await produce_all(ctx, p[1], records, 900 * 1024);
    if (single && records.front().error) throw *records.front().error;
    std::string body;
    for (const auto& r : records) {
        body += report(p[0], p[1], r).dump(-1, ' ', false, json::error_handler_t::replace);
        if (!single) body += '\n';
    }
    http::response out;
    out.content_type = "application/json";
    out.body = std::move(body);
    co_return out;
}

json bytes_json(const std::optional<std::vector<uint8_t>>& bytes) {
    return bytes ? json(base64_encode(*bytes)) : json(nullptr);
}

// Strata's addition (Confluent's v3 has no read): records of one partition
// from an offset, keys, values and header values in base64.
awaitable<http::response> read_partition(context& ctx, const http::request& request, const path_params& p) {
    co_await ctx.cluster(p[0], no_topics());
    const auto query = parse_query(request.query);
    int32_t partition = 0;
    int64_t offset = 0;
    size_t max_records = 50;
    try {
        partition = std::stoi(p[2]);
        if (query.count("offset")) offset = std::stoll(query.at("offset"));
        if (query.count("max_records")) max_records = std::stoul(query.at("max_records"));
    } catch (const std::exception&) {
        throw rest_error(400, 42202, "Invalid partition or offset");
    }
    const std::map<topic_partition, int64_t> positions{{{p[1], partition}, offset}};
    auto fetched = co_await fetch_records(ctx, positions, 1 << 20, 0);
    for (const auto& [tp, error] : fetched.errors) throw_kafka(error);
    json data = json::array();
    for (const auto& r : fetched.records) {
        if (data.size() >= max_records) break;
        json headers = json::array();
        for (const auto& [name, value] : r.headers) headers.push_back({{"name", name}, {"value", bytes_json(value)}});
        data.push_back({{"partition_id", r.partition}, {"offset", r.offset}, {"timestamp", r.timestamp},
                        {"key", bytes_json(r.key)}, {"value", bytes_json(r.value)}, {"headers", headers}});
    }
    const auto hw = fetched.high_watermarks.find({p[1], partition});
    co_return json_response(200, {{"kind", "StrataRecordList"}, {"topic_name", p[1]}, {"partition_id", partition},
                                  {"high_watermark", hw == fetched.high_watermarks.end() ? json(nullptr) : json(hw->second)},
                                  {"data", data}});
}

}  // namespace

void add_v3_produce_routes(std::vector<route>& routes) {
    routes.push_back({"POST", "/v3/clusters/{}/topics/{}/records", produce});
    routes.push_back({"GET", "/v3/clusters/{}/topics/{}/partitions/{}/records", read_partition});
}

}  // namespace strata::rest
