#include "common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace strata::cli {

output_format global_options::format() const {
    if (output == "json") return output_format::json;
    if (output == "yaml") return output_format::yaml;
    return output_format::table;
}

std::string error_name(int16_t code) {
    auto known = kafka_error_from_code(code);
    if (!known) return fmt::format("ERROR_CODE_{}", code);
    return std::string(kafka_error_name(*known));
}

std::string error_hint(int16_t code) {
    switch (static_cast<kafka_error>(code)) {
        case kafka_error::unknown_topic_or_partition:
            return "check the name with `strata topic list`; create it with `strata topic create <name>`";
        case kafka_error::topic_already_exists:
            return "pick another name, or pass --if-not-exists";
        case kafka_error::invalid_topic_exception:
            return "topic names are 1-249 characters of [a-zA-Z0-9._-], and not '.' or '..'";
        case kafka_error::invalid_partitions:
            return "the partition count must be positive, and larger than the current count when adding";
        case kafka_error::invalid_replication_factor:
            return "the replication factor cannot exceed the number of brokers (see `strata cluster info`)";
        case kafka_error::invalid_config:
            return "check the key and value against Kafka's topic/broker configuration reference";
        case kafka_error::offset_out_of_range:
            return "the offset is outside the partition's log; see `strata topic describe <topic>` for its range";
        case kafka_error::not_leader_or_follower:
        case kafka_error::leader_not_available:
            return "leadership is moving; retry in a moment";
        case kafka_error::coordinator_not_available:
        case kafka_error::coordinator_load_in_progress:
        case kafka_error::not_coordinator:
            return "the group coordinator is starting or moving; retry in a moment";
        case kafka_error::group_id_not_found:
            return "list groups with `strata group list`";
        case kafka_error::transactional_id_not_found:
            return "list transactional ids with `strata txn list`";
        case kafka_error::non_empty_group:
            return "stop the group's consumers first; an active group's offsets and membership cannot be changed";
        case kafka_error::unknown_member_id:
            return "the group has active members; stop its consumers first";
        case kafka_error::message_too_large:
            return "the record or batch exceeds max.message.bytes; raise it on the topic or send smaller records";
        case kafka_error::not_enough_replicas:
        case kafka_error::not_enough_replicas_after_append:
            return "fewer in-sync replicas than min.insync.replicas; check `strata cluster health`";
        case kafka_error::policy_violation:
            return "the broker's policy refused the request";
        case kafka_error::unsupported_version:
            return "the broker does not support this request at any version this tool speaks";
        case kafka_error::request_timed_out:
            return "the broker did not finish in time; retry, or raise --timeout";
        case kafka_error::topic_authorization_failed:
        case kafka_error::group_authorization_failed:
        case kafka_error::cluster_authorization_failed:
            return "the principal lacks the ACL for this operation";
        case kafka_error::invalid_request:
            return "the broker refused the request as malformed for its version";
        default:
            return {};
    }
}

void throw_kafka_error(int16_t code, const std::string& what, const std::optional<std::string>& message) {
    std::string text = fmt::format("{}: {}", error_name(code), what);
    if (message && !message->empty()) text += fmt::format(" ({})", *message);
    std::string hint = error_hint(code);
    if (hint.empty()) {
        auto known = kafka_error_from_code(code);
        hint = known && is_retriable(*known)
                   ? "a transient (retriable) error; retry in a moment"
                   : "Kafka's error codes are listed at https://kafka.apache.org/protocol#protocol_error_codes";
    }
    cli_error error(text, hint);
    error.kafka_code = code;
    throw error;
}

void throw_usage(const std::string& message, const std::string& hint) {
    throw cli_error(message, hint.empty() ? "see --help" : hint, exit_usage);
}

// ---- output ----------------------------------------------------------------------

namespace {

// Display width of UTF-8 text (code points; good enough for a terminal table).
size_t display_width(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

void emit_yaml(YAML::Emitter& out, const nlohmann::ordered_json& value) {
    switch (value.type()) {
        case nlohmann::ordered_json::value_t::object:
            out << YAML::BeginMap;
            for (auto it = value.begin(); it != value.end(); ++it) {
                out << YAML::Key << it.key() << YAML::Value;
                emit_yaml(out, it.value());
            }
            out << YAML::EndMap;
            break;
        case nlohmann::ordered_json::value_t::array:
            if (value.empty()) out << YAML::Flow;
            out << YAML::BeginSeq;
            for (const auto& item : value) emit_yaml(out, item);
            out << YAML::EndSeq;
            break;
        case nlohmann::ordered_json::value_t::string:
            out << YAML::DoubleQuoted << value.get<std::string>();
            break;
        case nlohmann::ordered_json::value_t::null:
            out << YAML::Null;
            break;
        case nlohmann::ordered_json::value_t::boolean:
            out << value.get<bool>();
            break;
        default:  // numbers
            out << value.dump();
            break;
    }
}

}  // namespace

std::string render_table(const table& t) {
    std::vector<size_t> widths(t.headers.size(), 0);
    for (size_t i = 0; i < t.headers.size(); ++i) widths[i] = display_width(t.headers[i]);
    for (const auto& row : t.rows)
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
        std::string text;
        for (size_t i = 0; i < widths.size(); ++i) {
            const std::string& cell = i < cells.size() ? cells[i] : std::string();
            text += cell;
            if (i + 1 < widths.size()) text.append(widths[i] - display_width(cell) + 2, ' ');
        }
        while (!text.empty() && text.back() == ' ') text.pop_back();
        out += text + "\n";
    };
    if (!t.headers.empty()) line(t.headers);
    for (const auto& row : t.rows) line(row);
    return out;
}

std::string to_yaml(const nlohmann::ordered_json& doc) {
    YAML::Emitter out;
    emit_yaml(out, doc);
    return std::string(out.c_str()) + "\n";
}

void print_result(const global_options& options, const nlohmann::ordered_json& doc, const table& t) {
    switch (options.format()) {
        case output_format::json:
            std::cout << doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
            break;
        case output_format::yaml:
            std::cout << to_yaml(doc);
            break;
        case output_format::table:
            std::cout << render_table(t);
            break;
    }
    std::cout.flush();
}

void note(const std::string& text) {
    std::cerr << text << "\n";
}

std::string join_ints(const std::vector<int32_t>& values, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < values.size(); ++i) {
        if (i) out += separator;
        out += std::to_string(values[i]);
    }
    return out;
}

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int64_t parse_duration_ms(const std::string& text) {
    auto bad = [&text] {
        throw_usage(fmt::format("cannot read '{}' as a duration", text),
                    "use ISO 8601, e.g. PT1H (an hour), PT30M, P1DT12H, PT0.5S");
    };
    size_t pos = 0;
    int64_t sign = 1;
    if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) sign = text[pos++] == '-' ? -1 : 1;
    if (pos >= text.size() || (text[pos] != 'P' && text[pos] != 'p')) bad();
    ++pos;
    bool in_time = false, any = false;
    int64_t total = 0;
    while (pos < text.size()) {
        if (text[pos] == 'T' || text[pos] == 't') {
            if (in_time) bad();
            in_time = true;
            ++pos;
            continue;
        }
        size_t end = pos;
        if (end < text.size() && (text[end] == '-' || text[end] == '+')) ++end;
        while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.')) ++end;
        if (end == pos || end >= text.size()) bad();
        double amount = 0;
        try {
            amount = std::stod(text.substr(pos, end - pos));
        } catch (const std::exception&) {
            bad();
        }
        const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(text[end])));
        double unit_ms = 0;
        if (!in_time && unit == 'D') {
            unit_ms = 86400000.0;
        } else if (in_time && unit == 'H') {
            unit_ms = 3600000.0;
        } else if (in_time && unit == 'M') {
            unit_ms = 60000.0;
        } else if (in_time && unit == 'S') {
            unit_ms = 1000.0;
        } else {
            bad();
        }
        // Only seconds may have a fraction (java.time.Duration).
        if (unit != 'S' && text.substr(pos, end - pos).find('.') != std::string::npos) bad();
        total += static_cast<int64_t>(amount * unit_ms);
        any = true;
        pos = end + 1;
    }
    if (!any) bad();
    return sign * total;
}

int64_t parse_timestamp(const std::string& text) {
    if (!text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        try {
            return std::stoll(text);
        } catch (const std::exception&) {
            throw_usage(fmt::format("timestamp '{}' is out of range", text));
        }
    }
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    int consumed = 0;
    if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &consumed) != 3 || consumed != 10)
        throw_usage(fmt::format("cannot read '{}' as a time", text),
                    "use milliseconds since the epoch or ISO 8601, e.g. 2024-05-01T12:00:00Z");
    size_t pos = 10;
    int64_t millis = 0;
    int64_t offset_seconds = 0;
    if (pos < text.size() && (text[pos] == 'T' || text[pos] == ' ')) {
        int used = 0;
        if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &hour, &minute, &used) != 2)
            throw_usage(fmt::format("cannot read the time of day in '{}'", text));
        pos += 1 + used;
        if (pos < text.size() && text[pos] == ':') {
            if (std::sscanf(text.c_str() + pos + 1, "%2d%n", &second, &used) != 1)
                throw_usage(fmt::format("cannot read the seconds in '{}'", text));
            pos += 1 + used;
        }
        if (pos < text.size() && text[pos] == '.') {
            ++pos;
            int digits = 0;
            while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
                if (digits < 3) millis = millis * 10 + (text[pos] - '0');
                ++digits;
                ++pos;
            }
            for (; digits < 3; ++digits) millis *= 10;
        }
        if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
            ++pos;
        } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
            int oh = 0, om = 0;
            const int sign = text[pos] == '-' ? -1 : 1;
            if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &used) == 2) {
                pos += 1 + used;
            } else if (std::sscanf(text.c_str() + pos + 1, "%2d%2d%n", &oh, &om, &used) == 2) {
                pos += 1 + used;
            } else {
                throw_usage(fmt::format("cannot read the zone offset in '{}'", text));
            }
            offset_seconds = sign * (oh * 3600 + om * 60);
        }
    }
    if (pos != text.size() || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
        throw_usage(fmt::format("cannot read '{}' as a time", text),
                    "use milliseconds since the epoch or ISO 8601, e.g. 2024-05-01T12:00:00Z");
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_seconds;
    return seconds * 1000 + millis;
}

std::string format_timestamp(int64_t ms) {
    if (ms < 0) return "-";
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

std::pair<std::string, std::string> parse_key_value(const std::string& text, const std::string& what) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) throw_usage(fmt::format("{} '{}' is not key=value", what, text));
    return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace strata::cli
