// The records of a v3 produce request: parsed from their JSON texts (a fast
// scanner for the plain shapes, nlohmann's DOM for everything else) and the
// delivery reports written back. See produce_records.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"
#include "strata/protocol/record_batch.h"

namespace strata::rest {

enum class data_type : uint8_t { json, binary, string };
std::string_view data_type_name(data_type type);  // "JSON", "BINARY", "STRING"

// One record as parsed. Views point into the JSON text and the parser's
// buffers: valid until the parser's next parse().
struct parsed_record {
    int32_t partition = -1;  // as given; negative: none
    int64_t timestamp = 0;   // given, else the request's time
    data_type key_type = data_type::json;
    data_type value_type = data_type::json;
    std::optional<protocol::bytes_view> key, value;  // nullopt: null
    std::vector<protocol::record_header_view> headers;
};

// Parses the records of one request, reusing its buffers from record to
// record (no allocation per record once they have grown).
class record_parser {
public:
    // One record (a JSON object). Throws rest_error (400, Confluent's shape)
    // naming what is wrong, with the same message for every path.
    const parsed_record& parse(std::string_view text, int64_t now);

    // The reference path alone (nlohmann's DOM), for tests comparing it with
    // parse(); same contract.
    const parsed_record& parse_dom(std::string_view text, int64_t now);

    // Whether the last parse() was answered by the scanner (tests).
    bool last_was_fast() const { return _fast; }

private:
    struct span_of {
        size_t offset = 0, size = 0;
        bool present = false;
    };
    // The scanner: true when `text` had the plain shape and `_record` is
    // filled; false (nothing decided) for anything else, which the DOM path
    // then parses, so that every error and corner keeps its one behaviour.
    bool scan(std::string_view text, int64_t now);
    void finish(const span_of& key, const span_of& value, const std::vector<span_of>& header_values);

    parsed_record _record;
    std::vector<uint8_t> _bytes;      // decoded keys, values and header values
    std::vector<std::string> _names;  // header names (DOM path)
    std::vector<std::string_view> _name_views;
    std::vector<span_of> _header_values;
    bool _fast = false;
};

// A record's delivery report: its error, or where it was written.
struct delivery {
    std::optional<rest_error> error;
    int32_t partition = -1;
    int64_t timestamp = 0;
    data_type key_type = data_type::json, value_type = data_type::json;
    int64_t key_size = -1, value_size = -1;  // -1: null
    int64_t offset = -1;
    int64_t log_append_time = -1;
};

// Writes reports as Confluent's ProduceResponse JSON, byte for byte what
// nlohmann's dump of the same object gives (keys in its sorted order), one
// per record, without building a DOM per record.
class report_writer {
public:
    report_writer(const std::string& cluster, const std::string& topic);
    void write(std::string& out, const delivery& d);

private:
    std::string _cluster, _topic;  // as JSON strings, quoted and escaped
    int64_t _time_millis = INT64_MIN;
    std::string _time;  // iso_time(_time_millis), reused while it repeats
};

}  // namespace strata::rest
