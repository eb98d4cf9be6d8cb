// What every `strata` command shares: the global options, the error type
// that carries an exit code and a hint, and the output renderers (table,
// JSON, YAML) fed from one JSON document per command.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "strata/common/kafka_error.h"

namespace strata::cli {

enum exit_code : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

enum class output_format { table, json, yaml };

struct global_options {
    std::string brokers;  // comma-separated host:port list
    std::string output = "table";
    int timeout_ms = 10000;  // per request
    std::string client_id = "strata-cli";
    // Kafka's client-properties file (security.protocol, sasl.*, ssl.*); empty: PLAINTEXT.
    std::string command_config;

    output_format format() const;
};

// A failure reported to the user: one line of message, one line of hint,
// and the process exit code.
class cli_error : public std::runtime_error {
public:
    cli_error(std::string message, std::string hint = {}, int code = exit_failed)
        : std::runtime_error(std::move(message)), hint(std::move(hint)), exit_code(code) {}
    std::string hint;
    int exit_code;
    int16_t kafka_code = 0;  // the Kafka error it reports, if any
};

// Kafka's UPPER_CASE name for a code ("UNKNOWN_TOPIC_OR_PARTITION"), also
// for codes this build does not know.
std::string error_name(int16_t code);
// A one-line hint for the codes users meet most; empty if none.
std::string error_hint(int16_t code);
// Throws a cli_error naming the code: "<NAME>: <what>[: <message>]".
[[noreturn]] void throw_kafka_error(int16_t code, const std::string& what,
                                    const std::optional<std::string>& message = std::nullopt);

// A usage error (exit code 2).
[[noreturn]] void throw_usage(const std::string& message, const std::string& hint = {});

// ---- output ----------------------------------------------------------------------

struct table {
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};

// Prints `doc` as JSON or YAML, or `t` as an aligned table, to stdout.
void print_result(const global_options& options, const nlohmann::ordered_json& doc, const table& t);
std::string render_table(const table& t);
std::string to_yaml(const nlohmann::ordered_json& doc);
// Prints a message to stderr for people (never parsed by scripts).
void note(const std::string& text);

// "1,2,3" for a list of node ids.
std::string join_ints(const std::vector<int32_t>& values, std::string_view separator = ",");

// Parses an offset reset or start time: milliseconds since the epoch, or an
// ISO 8601 date-time ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.250+02:00",
// "2024-05-01"). Throws a usage error.
int64_t parse_timestamp(const std::string& text);
// Parses an ISO 8601 duration as java.time.Duration does (kafka-consumer-groups.sh
// --by-duration): "PT1H", "P1DT12H30M", "PT0.5S", "-PT5M". Throws a usage error.
int64_t parse_duration_ms(const std::string& text);
int64_t now_ms();
std::string format_timestamp(int64_t ms);

// key=value → pair; throws a usage error naming `what`.
std::pair<std::string, std::string> parse_key_value(const std::string& text, const std::string& what);

}  // namespace strata::cli
