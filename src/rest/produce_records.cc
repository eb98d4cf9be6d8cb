// Parsing produce records and writing their reports. nlohmann's DOM costs
// most of a streamed produce's CPU (a lexer that copies every string a
// character at a time, a map per object): the scanner below takes the plain
// shapes (BINARY or STRING data without escapes, integer partition and
// timestamp, headers) straight from the text and decodes base64 into one
// reused buffer. Anything it does not recognise exactly -- an escape, a JSON
// value, an unknown member, a duplicate, bad base64, a malformed text -- goes
// to the DOM path unchanged, so that errors and corners have one behaviour.
#include "produce_records.h"

#include <cctype>
#include <climits>
#include <iterator>
#include <cstring>

#include <fmt/format.h>

#include "records.h"

namespace strata::rest {

std::string_view data_type_name(data_type type) {
    switch (type) {
        case data_type::binary: return "BINARY";
        case data_type::string: return "STRING";
        case data_type::json: break;
    }
    return "JSON";
}

namespace {

// ---- the scanner ----

struct cursor {
    const char* p;
    const char* end;

    void ws() {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    }
    bool eat(char c) {
        ws();
        if (p < end && *p == c) {
            ++p;
            return true;
        }
        return false;
    }
    bool at(char c) {
        ws();
        return p < end && *p == c;
    }
    bool null() {
        ws();
        if (end - p >= 4 && std::memcmp(p, "null", 4) == 0) {
            p += 4;
            return true;
        }
        return false;
    }
    // A string of printable ASCII without escapes: its bytes are its value.
    bool plain_string(std::string_view& out) {
        ws();
        if (p >= end || *p != '"') return false;
        const char* start = ++p;
        p = skip_plain_string_bytes(p, end);
        if (p == end || *p != '"') return false;
        out = std::string_view(start, size_t(p - start));
        ++p;
        return true;
    }
    // A JSON integer of at most 18 digits (no fraction or exponent: what
    // follows must be a separator, which the caller checks).
    bool integer(int64_t& out) {
        ws();
        const bool negative = p < end && *p == '-';
        const char* q = p + (negative ? 1 : 0);
        const char* digits = q;
        uint64_t value = 0;  // 19 digits at most fit
        while (q < end && *q >= '0' && *q <= '9' && q - digits < 19) value = value * 10 + uint64_t(*q++ - '0');
        const size_t n = size_t(q - digits);
        if (n == 0 || n > 18 || (n > 1 && *digits == '0')) return false;
        if (q < end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9'))) return false;
        out = negative ? -int64_t(value) : int64_t(value);
        p = q;
        return true;
    }
    // A member name and its colon.
    bool name(std::string_view& out) { return plain_string(out) && eat(':'); }
    // After a member: ',' (true, more follow) or the closing '}' (false,
    // `closed` set). Anything else fails.
    bool next_member(bool& closed) {
        if (eat(',')) return true;
        closed = eat('}');
        return false;
    }
};

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = char(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::optional<data_type> known_type(std::string_view upper_name) {
    if (upper_name == "BINARY") return data_type::binary;
    if (upper_name == "STRING") return data_type::string;
    if (upper_name == "JSON") return data_type::json;
    return std::nullopt;
}

}  // namespace

bool record_parser::scan(std::string_view text, int64_t now) {
    cursor c{text.data(), text.data() + text.size()};
    _record.partition = -1;
    _record.timestamp = now;
    _record.key_type = _record.value_type = data_type::json;
    _record.headers.clear();
    _bytes.clear();
    _header_values.clear();
    _name_views.clear();
    span_of key, value;

    // {"type": ..., "data": ...} or null into `out`.
    auto data_field = [&](span_of& out, data_type& type) -> bool {
        if (c.null()) return true;
        if (!c.eat('{')) return false;
        std::string_view type_text = "JSON", data;
        bool has_type = false, has_data = false, data_null = false, closed = false;
        if (!c.eat('}')) {
            do {
                std::string_view member;
                if (!c.name(member)) return false;
                if (member == "type" && !has_type) {
                    if (!c.plain_string(type_text)) return false;
                    has_type = true;
                } else if (member == "data" && !has_data) {
                    has_data = true;
                    if (c.null()) data_null = true;
                    else if (!c.plain_string(data)) return false;
                } else {
                    return false;
                }
            } while (c.next_member(closed));
            if (!closed) return false;
        }
        const auto known = known_type(upper(type_text));
        if (!known) return false;  // the DOM path names the type (or ignores it without data)
        type = *known;
        if (!has_data || data_null) return true;
        out.present = true;
        out.offset = _bytes.size();
        if (type == data_type::binary) {
            if (!base64_decode_append(data, _bytes)) return false;
        } else if (type == data_type::string) {
            _bytes.insert(_bytes.end(), data.begin(), data.end());
        } else {
            return false;  // a JSON value is re-serialised by nlohmann
        }
        out.size = _bytes.size() - out.offset;
        return true;
    };

    if (!c.eat('{')) return false;
    bool seen_partition = false, seen_timestamp = false, seen_key = false, seen_value = false, seen_headers = false;
    bool closed = false;
    if (!c.eat('}')) {
        do {
            std::string_view member;
            if (!c.name(member)) return false;
            if (member == "partition_id" && !seen_partition) {
                seen_partition = true;
                if (c.null()) continue;
                int64_t v = 0;
                if (!c.integer(v) || v < INT32_MIN || v > INT32_MAX) return false;
                _record.partition = int32_t(v);
            } else if (member == "timestamp" && !seen_timestamp) {
                seen_timestamp = true;
                int64_t v = 0;
                if (!c.integer(v)) return false;  // null or not an integer: the DOM path ignores it
                _record.timestamp = v;
            } else if (member == "key" && !seen_key) {
                seen_key = true;
                if (!data_field(key, _record.key_type)) return false;
            } else if (member == "value" && !seen_value) {
                seen_value = true;
                if (!data_field(value, _record.value_type)) return false;
            } else if (member == "headers" && !seen_headers) {
                seen_headers = true;
                if (c.null()) continue;
                if (!c.eat('[')) return false;
                if (!c.eat(']')) {
                    do {
                        if (!c.eat('{')) return false;
                        std::string_view name, encoded;
                        bool has_name = false, has_value = false, value_null = true, header_closed = false;
                        if (c.at('}')) return false;  // no name
                        do {
                            std::string_view m;
                            if (!c.name(m)) return false;
                            if (m == "name" && !has_name) {
                                if (!c.plain_string(name)) return false;
                                has_name = true;
                            } else if (m == "value" && !has_value) {
                                has_value = true;
                                if (!c.null()) {
                                    if (!c.plain_string(encoded)) return false;
                                    value_null = false;
                                }
                            } else {
                                return false;
                            }
                        } while (c.next_member(header_closed));
                        if (!header_closed || !has_name) return false;
                        span_of v;
                        if (!value_null) {
                            v.present = true;
                            v.offset = _bytes.size();
                            if (!base64_decode_append(encoded, _bytes)) return false;
                            v.size = _bytes.size() - v.offset;
                        }
                        _name_views.push_back(name);
                        _header_values.push_back(v);
                    } while (c.eat(','));
                    if (!c.eat(']')) return false;
                }
            } else {
                return false;
            }
        } while (c.next_member(closed));
        if (!closed) return false;
    }
    c.ws();
    if (c.p != c.end) return false;
    finish(key, value, _header_values);
    return true;
}

void record_parser::finish(const span_of& key, const span_of& value, const std::vector<span_of>& header_values) {
    // Views only now: _bytes may have moved while it grew.
    auto view = [&](const span_of& s) -> std::optional<protocol::bytes_view> {
        if (!s.present) return std::nullopt;
        return protocol::bytes_view(_bytes.data() + s.offset, s.size);
    };
    _record.key = view(key);
    _record.value = view(value);
    _record.headers.clear();
    for (size_t i = 0; i < header_values.size(); ++i) _record.headers.push_back({_name_views[i], view(header_values[i])});
}

// ---- the DOM path (what every record went through before the scanner) ----

const parsed_record& record_parser::parse_dom(std::string_view text, int64_t now) {
    _fast = false;
    _record = parsed_record{};
    _record.timestamp = now;
    _bytes.clear();
    _names.clear();
    _name_views.clear();
    _header_values.clear();
    span_of key, value;

    auto parse_data = [&](const json& field, const char* what, span_of& out, data_type& type) {
        if (field.is_null()) return;
        if (!field.is_object())
            throw rest_error(400, 400, fmt::format("{} must be an object with \"type\" and \"data\"", what));
        const std::string name = upper(field.value("type", "JSON"));
        const auto known = known_type(name);
        if (known) type = *known;
        if (!field.contains("data") || field["data"].is_null()) return;
        const json& data = field["data"];
        if (!known) throw rest_error(400, 400, fmt::format("{}: unsupported type {} (BINARY, JSON or STRING)", what, name));
        out.present = true;
        out.offset = _bytes.size();
        if (type == data_type::binary) {
            if (!data.is_string()) throw rest_error(400, 400, fmt::format("{}: BINARY data must be a base64 string", what));
            if (!base64_decode_append(data.get_ref<const std::string&>(), _bytes))
                throw rest_error(400, 400, fmt::format("{}: data is not valid base64", what));
        } else if (type == data_type::string) {
            if (!data.is_string()) throw rest_error(400, 400, fmt::format("{}: STRING data must be a string", what));
            const auto& s = data.get_ref<const std::string&>();
            _bytes.insert(_bytes.end(), s.begin(), s.end());
        } else {
            const std::string s = data.dump();
            _bytes.insert(_bytes.end(), s.begin(), s.end());
        }
        out.size = _bytes.size() - out.offset;
    };

    json body;
    try {
        body = json::parse(text);
    } catch (const json::parse_error& e) {
        throw rest_error(400, 400, fmt::format("Malformed JSON: {}", e.what()));
    }
    if (!body.is_object()) throw rest_error(400, 400, "A record must be a JSON object");
    if (body.contains("partition_id") && !body["partition_id"].is_null()) {
        if (!body["partition_id"].is_number_integer()) throw rest_error(400, 400, "partition_id must be an integer");
        _record.partition = body["partition_id"].get<int32_t>();
    }
    if (body.contains("timestamp") && body["timestamp"].is_number_integer()) _record.timestamp = body["timestamp"].get<int64_t>();
    if (body.contains("key")) parse_data(body["key"], "key", key, _record.key_type);
    if (body.contains("value")) parse_data(body["value"], "value", value, _record.value_type);
    if (body.contains("headers") && !body["headers"].is_null()) {
        if (!body["headers"].is_array()) throw rest_error(400, 400, "headers must be an array");
        for (const auto& h : body["headers"]) {
            if (!h.is_object() || !h.contains("name") || !h["name"].is_string())
                throw rest_error(400, 400, "each header needs a string \"name\"");
            span_of v;
            if (h.contains("value") && !h["value"].is_null()) {
                if (!h["value"].is_string()) throw rest_error(400, 400, "a header value must be a base64 string");
                v.present = true;
                v.offset = _bytes.size();
                if (!base64_decode_append(h["value"].get_ref<const std::string&>(), _bytes))
                    throw rest_error(400, 400, "a header value is not valid base64");
                v.size = _bytes.size() - v.offset;
            }
            _names.push_back(h["name"].get<std::string>());
            _header_values.push_back(v);
        }
    }
    for (const auto& n : _names) _name_views.push_back(n);  // after the last push_back: no string moves again
    finish(key, value, _header_values);
    return _record;
}

const parsed_record& record_parser::parse(std::string_view text, int64_t now) {
    if (scan(text, now)) {
        _fast = true;
        return _record;
    }
    try {
        return parse_dom(text, now);
    } catch (const json::exception& e) {
        // A member of the wrong JSON type (a number as "type"): this record's
        // own 400, worded as the proxy words it for a whole request.
        throw rest_error(400, 400, fmt::format("Invalid request: {}", e.what()));
    }
}

// ---- reports ----

report_writer::report_writer(const std::string& cluster, const std::string& topic)
    : _cluster(json(cluster).dump(-1, ' ', false, json::error_handler_t::replace)),
      _topic(json(topic).dump(-1, ' ', false, json::error_handler_t::replace)) {}

void report_writer::write(std::string& out, const delivery& d) {
    if (d.error) {
        out += json{{"error_code", d.error->code}, {"message", d.error->what()}}.dump(-1, ' ', false,
                                                                                      json::error_handler_t::replace);
        return;
    }
    const int64_t millis = d.log_append_time >= 0 ? d.log_append_time : d.timestamp;
    if (millis != _time_millis) {
        _time = iso_time(millis);
        _time_millis = millis;
    }
    auto field = [](data_type type, int64_t size) {
        return size < 0 ? std::string("null") : fmt::format("{{\"size\":{},\"type\":\"{}\"}}", size, data_type_name(type));
    };
    // nlohmann's objects are std::maps: members in sorted order.
    fmt::format_to(std::back_inserter(out),
                   "{{\"cluster_id\":{},\"error_code\":200,\"key\":{},\"offset\":{},\"partition_id\":{},"
                   "\"timestamp\":\"{}\",\"topic_name\":{},\"value\":{}}}",
                   _cluster, field(d.key_type, d.key_size), d.offset, d.partition, _time, _topic,
                   field(d.value_type, d.value_size));
}

}  // namespace strata::rest
