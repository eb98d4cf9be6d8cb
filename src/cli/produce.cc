// strata produce: records from stdin or a file, one per line.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client.h"
#include "commands.h"
#include "ops.h"
#include "partitioner.h"
#include "strata/protocol/messages/metadata_request.h"
#include "strata/protocol/messages/produce_request.h"
#include "strata/protocol/messages/produce_response.h"
#include "strata/protocol/record_batch.h"

namespace strata::cli {

namespace pm = protocol::messages;
using json = nlohmann::ordered_json;

namespace {

struct produce_args {
    std::string topic;
    std::string file;
    std::optional<std::string> key_separator;
    std::string line_separator = "\\n";
    std::vector<std::string> headers;
    bool parse_headers = false;
    std::string headers_delimiter = "\\t";
    std::string headers_separator = ",";
    std::string headers_key_separator = ":";
    int partition = -1;
    std::string compression = "none";
    std::string acks = "all";
    int batch_bytes = 256 * 1024;
    bool quiet = false;
};

std::string unescape(const std::string& text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) {
            switch (text[++i]) {
                case 'n':
                    out += '\n';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case '0':
                    out += '\0';
                    break;
                case '\\':
                    out += '\\';
                    break;
                default:
                    out += '\\';
                    out += text[i];
                    break;
            }
        } else {
            out += text[i];
        }
    }
    return out;
}

struct header_pair {
    std::string key;
    std::string value;
};

struct partition_result {
    int64_t records = 0;
    int64_t first_offset = -1;
    int64_t last_offset = -1;
};

class line_producer {
public:
    line_producer(kafka_client& client, const produce_args& args) : _client(client), _args(args) {
        auto codec = protocol::compression_codec::none;
        if (_args.compression == "gzip")
            codec = protocol::compression_codec::gzip;
        else if (_args.compression == "snappy")
            codec = protocol::compression_codec::snappy;
        else if (_args.compression == "lz4")
            codec = protocol::compression_codec::lz4;
        else if (_args.compression == "zstd")
            codec = protocol::compression_codec::zstd;
        _codec = codec;
        if (_args.acks == "all" || _args.acks == "-1")
            _acks = -1;
        else if (_args.acks == "1")
            _acks = 1;
        else if (_args.acks == "0")
            _acks = 0;
        refresh();
        if (_args.partition >= static_cast<int>(_metadata.partitions.size()))
            throw_kafka_error(kafka_error_code(kafka_error::unknown_topic_or_partition),
                              fmt::format("topic '{}' has no partition {}", _args.topic, _args.partition),
                              fmt::format("it has {} partitions", _metadata.partitions.size()));
    }

    void add(std::optional<std::string_view> key, std::string_view value, const std::vector<header_pair>& headers) {
        int32_t partition = _args.partition;
        const int32_t count = static_cast<int32_t>(_metadata.partitions.size());
        if (partition < 0) {
            if (key) {
                partition = partition_for_key(as_bytes(*key), count);
            } else {
                partition = _next_partition++ % count;
            }
        }
        auto it = _pending.find(partition);
        if (it == _pending.end()) {
            protocol::record_batch_options options;
            options.compression = _codec;
            it = _pending.emplace(partition, protocol::record_batch_builder(options)).first;
        }
        std::vector<protocol::record_header_view> views;
        for (const auto& h : headers) views.push_back({h.key, as_bytes(h.value)});
        std::optional<protocol::bytes_view> k;
        if (key) k = as_bytes(*key);
        it->second.append(now_ms(), k, as_bytes(value), views);
        _pending_bytes += value.size() + (key ? key->size() : 0) + 16;
        ++_total;
        if (_pending_bytes >= static_cast<size_t>(_args.batch_bytes)) flush();
    }

    void flush() {
        if (_pending.empty()) return;
        std::map<int32_t, std::vector<uint8_t>> batches;
        std::map<int32_t, int32_t> counts;
        for (auto& [partition, builder] : _pending) {
            auto built = builder.build();
            if (!built) throw cli_error(fmt::format("could not build a record batch: {}", built.error()));
            counts[partition] = builder.record_count();
            batches[partition] = std::move(built.value());
        }
        _pending.clear();
        _pending_bytes = 0;
        send(batches, counts);
    }

    // acks=0 gets no answers: a final round trip on each connection used
    // makes sure every request was written before the process exits.
    void finish() {
        flush();
        if (_acks == 0) {
            for (int32_t node : _oneway_nodes) {
                pm::metadata_request request;
                request.topics.emplace();
                _client.call<pm::metadata_response>(node, request);
            }
        }
    }

    int64_t total() const { return _total; }
    const std::map<int32_t, partition_result>& results() const { return _results; }

private:
    static protocol::bytes_view as_bytes(std::string_view s) {
        return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
    }

    void refresh() { _metadata = _client.topic_metadata(_args.topic); }

    void send(std::map<int32_t, std::vector<uint8_t>>& batches, const std::map<int32_t, int32_t>& counts) {
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(_client.options().timeout_ms);
        while (!batches.empty()) {
            std::map<int32_t, std::vector<int32_t>> by_leader;
            for (const auto& [partition, batch] : batches)
                by_leader[leader_of(_metadata, partition)].push_back(partition);
            bool retry = false;
            int16_t last_error = 0;
            for (const auto& [leader, partitions] : by_leader) {
                pm::produce_request request;
                request.acks = _acks;
                request.timeout_ms = _client.options().timeout_ms;
                pm::produce_request::topic_produce_data topic;
                topic.name = _args.topic;
                for (int32_t p : partitions) {
                    pm::produce_request::partition_produce_data data;
                    data.index = p;
                    data.records = protocol::records::from_memory(batches[p]);
                    topic.partition_data.push_back(std::move(data));
                }
                request.topic_data.push_back(std::move(topic));
                if (_acks == 0) {
                    _client.send_oneway(leader, request);
                    _oneway_nodes.insert(leader);
                    for (int32_t p : partitions) {
                        _results[p].records += counts.at(p);
                        batches.erase(p);
                    }
                    continue;
                }
                auto response = _client.call<pm::produce_response>(leader, request);
                for (const auto& t : response.responses)
                    for (const auto& r : t.partition_responses) {
                        if (!batches.count(r.index)) continue;
                        if (r.error_code == 0) {
                            auto& result = _results[r.index];
                            result.records += counts.at(r.index);
                            if (result.first_offset < 0) result.first_offset = r.base_offset;
                            result.last_offset = r.base_offset + counts.at(r.index) - 1;
                            batches.erase(r.index);
                            continue;
                        }
                        auto error = kafka_error_from_code(r.error_code);
                        if (error && is_retriable(*error) && std::chrono::steady_clock::now() < deadline) {
                            retry = true;
                            last_error = r.error_code;
                            continue;
                        }
                        throw_kafka_error(r.error_code, fmt::format("producing to {}-{}", _args.topic, r.index),
                                          r.error_message);
                    }
            }
            if (!batches.empty() && !retry)
                throw cli_error(
                    fmt::format("the broker did not answer for {} partition(s) of '{}'", batches.size(), _args.topic));
            if (!batches.empty()) {
                if (std::chrono::steady_clock::now() >= deadline)
                    throw_kafka_error(last_error, fmt::format("producing to '{}'", _args.topic));
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                refresh();
            }
        }
    }

    kafka_client& _client;
    const produce_args& _args;
    protocol::compression_codec _codec = protocol::compression_codec::none;
    int16_t _acks = -1;
    topic_metadata_t _metadata;
    std::map<int32_t, protocol::record_batch_builder> _pending;
    size_t _pending_bytes = 0;
    int64_t _total = 0;
    int32_t _next_partition = 0;
    std::map<int32_t, partition_result> _results;
    std::set<int32_t> _oneway_nodes;
};

std::vector<header_pair> parse_header_list(std::string_view text, const std::string& separator,
                                           const std::string& key_separator, int64_t line) {
    std::vector<header_pair> out;
    if (text.empty()) return out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(separator, start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view item = text.substr(start, end - start);
        size_t colon = item.find(key_separator);
        if (colon == std::string_view::npos || colon == 0)
            throw cli_error(fmt::format("line {}: header '{}' has no '{}'", line, item, key_separator),
                            "headers are key:value pairs separated by ','");
        out.push_back({std::string(item.substr(0, colon)), std::string(item.substr(colon + key_separator.size()))});
        if (end == text.size()) break;
        start = end + separator.size();
    }
    return out;
}

void produce(const global_options& g, const produce_args& a) {
    std::vector<header_pair> static_headers;
    for (const auto& h : a.headers) {
        auto [k, v] = parse_key_value(h, "--header");
        static_headers.push_back({k, v});
    }
    const std::string line_separator = unescape(a.line_separator);
    if (line_separator.size() != 1) throw_usage("--line-separator must be one character");
    const std::optional<std::string> key_separator =
        a.key_separator ? std::optional<std::string>(unescape(*a.key_separator)) : std::nullopt;
    if (key_separator && key_separator->empty()) throw_usage("--key-separator cannot be empty");
    const std::string headers_delimiter = unescape(a.headers_delimiter);

    std::ifstream file;
    std::istream* in = &std::cin;
    bool interactive = false;
    if (!a.file.empty() && a.file != "-") {
        file.open(a.file, std::ios::binary);
        if (!file) throw cli_error(fmt::format("cannot open '{}'", a.file), "check the path given to --file");
        in = &file;
    } else {
        interactive = isatty(STDIN_FILENO);
    }

    kafka_client client(g);
    line_producer producer(client, a);
    if (interactive) note(fmt::format("Type records for '{}', one per line; Ctrl-D to finish.", a.topic));
    std::string line;
    int64_t number = 0;
    while (std::getline(*in, line, line_separator[0])) {
        ++number;
        if (line_separator[0] == '\n' && !line.empty() && line.back() == '\r') line.pop_back();
        std::string_view rest = line;
        std::vector<header_pair> headers = static_headers;
        if (a.parse_headers) {
            size_t tab = rest.find(headers_delimiter);
            if (tab == std::string_view::npos)
                throw cli_error(fmt::format("line {}: no headers delimiter", number),
                                "with --parse-headers each line starts with headers, then the delimiter (tab)");
            auto parsed = parse_header_list(rest.substr(0, tab), unescape(a.headers_separator),
                                            unescape(a.headers_key_separator), number);
            headers.insert(headers.end(), parsed.begin(), parsed.end());
            rest = rest.substr(tab + headers_delimiter.size());
        }
        std::optional<std::string_view> key;
        if (key_separator) {
            size_t at = rest.find(*key_separator);
            if (at == std::string_view::npos)
                throw cli_error(fmt::format("line {}: no key separator '{}' in \"{}\"", number, *a.key_separator,
                                            std::string(rest.substr(0, 60))),
                                "every line needs key<separator>value with --key-separator");
            key = rest.substr(0, at);
            rest = rest.substr(at + key_separator->size());
        }
        producer.add(key, rest, headers);
        if (interactive) producer.flush();
    }
    producer.finish();

    json partitions = json::object();
    for (const auto& [p, r] : producer.results())
        partitions[std::to_string(p)] = {
            {"records", r.records}, {"first_offset", r.first_offset}, {"last_offset", r.last_offset}};
    json doc{{"topic", a.topic}, {"records", producer.total()}, {"partitions", partitions}};
    if (g.format() == output_format::table) {
        if (!a.quiet)
            std::cout << fmt::format("Produced {} record{} to '{}'.\n", producer.total(),
                                     producer.total() == 1 ? "" : "s", a.topic);
    } else {
        print_result(g, doc, {});
    }
}

}  // namespace

void add_produce_command(CLI::App& app, const std::shared_ptr<global_options>& global) {
    auto a = std::make_shared<produce_args>();
    auto* p = app.add_subcommand("produce", "Produce records from stdin or a file, one per line");
    p->add_option("topic", a->topic, "Topic to produce to")->required();
    p->add_option("-f,--file", a->file, "Read records from this file instead of stdin");
    p->add_option("-k,--key-separator", a->key_separator,
                  "Split each line at the first SEP into key and value (e.g. ':' or '\\t')");
    p->add_option("--line-separator", a->line_separator, "Record delimiter (default \\n)");
    p->add_option("-H,--header", a->headers, "Header key=value added to every record (repeatable)");
    p->add_flag("--parse-headers", a->parse_headers,
                "Each line starts with headers k1:v1,k2:v2 then a tab (Kafka's parse.headers)");
    p->add_option("--headers-delimiter", a->headers_delimiter, "Between the headers and the record (default \\t)");
    p->add_option("--headers-separator", a->headers_separator, "Between headers (default ,)");
    p->add_option("--headers-key-separator", a->headers_key_separator, "Between a header's key and value (default :)");
    p->add_option("-p,--partition", a->partition, "Produce to this partition (default: by key, else round-robin)")
        ->check(CLI::Range(0, 1000000));
    p->add_option("-z,--compression", a->compression, "Compression codec")
        ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
    p->add_option("-a,--acks", a->acks, "Acknowledgements: 0, 1 or all")->check(CLI::IsMember({"0", "1", "all", "-1"}));
    p->add_option("--batch-bytes", a->batch_bytes, "Send once this many bytes are buffered")
        ->check(CLI::Range(1, 64 << 20));
    p->add_flag("-q,--quiet", a->quiet, "Print nothing on success");
    p->footer(
        "Examples:\n"
        "  echo 'hello' | strata produce orders\n"
        "  printf 'k1:v1\\nk2:v2\\n' | strata produce orders -k : -z zstd --acks all\n"
        "  strata produce orders -f records.txt -H source=import -p 0");
    p->callback([global, a] { produce(*global, *a); });
}

}  // namespace strata::cli
