#include "strata/server/bootstrap_records.h"

#include <fstream>
#include <map>
#include <stdexcept>

#include "strata/security/scram.h"

namespace strata::server {

namespace {

constexpr const char* file_name = "bootstrap.records";

// "k=v,k2="v,2"" -> map; quotes allow commas.
std::optional<std::map<std::string, std::string>> parse_options(std::string_view text, std::string& error) {
    std::map<std::string, std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        const size_t eq = text.find('=', i);
        if (eq == std::string_view::npos) {
            error = "expected key=value";
            return std::nullopt;
        }
        const std::string key(text.substr(i, eq - i));
        i = eq + 1;
        std::string value;
        if (i < text.size() && text[i] == '"') {
            const size_t close = text.find('"', i + 1);
            if (close == std::string_view::npos) {
                error = "unterminated quote in " + key;
                return std::nullopt;
            }
            value = std::string(text.substr(i + 1, close - i - 1));
            i = close + 1;
        } else {
            const size_t comma = std::min(text.find(',', i), text.size());
            value = std::string(text.substr(i, comma - i));
            i = comma;
        }
        out[key] = value;
        if (i < text.size() && text[i] == ',') ++i;
    }
    return out;
}

}  // namespace

std::optional<metadata::records::user_scram_credential_record> parse_add_scram(std::string_view argument,
                                                                              std::string& error) {
    const size_t open = argument.find("=[");
    if (open == std::string_view::npos || argument.back() != ']') {
        error = "expected MECHANISM=[name=...,password=...]";
        return std::nullopt;
    }
    const auto mechanism = security::scram_mechanism_from_name(argument.substr(0, open));
    if (!mechanism) {
        error = "unknown SCRAM mechanism '" + std::string(argument.substr(0, open)) + "'";
        return std::nullopt;
    }
    auto options = parse_options(argument.substr(open + 2, argument.size() - open - 3), error);
    if (!options) return std::nullopt;
    if (!options->count("name") || options->at("name").empty() || !options->count("password")) {
        error = "name and password are required";
        return std::nullopt;
    }
    int32_t iterations = security::scram_min_iterations;
    if (options->count("iterations")) {
        try {
            iterations = std::stoi(options->at("iterations"));
        } catch (...) {
            iterations = 0;
        }
        if (iterations < security::scram_min_iterations || iterations > security::scram_max_iterations) {
            error = "iterations must be 4096 to 16384";
            return std::nullopt;
        }
    }
    security::bytes salt = security::random_bytes(16);
    if (options->count("salt")) {
        auto decoded = security::base64_decode(options->at("salt"));
        if (!decoded || decoded->empty()) {
            error = "salt must be base64";
            return std::nullopt;
        }
        salt = *decoded;
    }
    const auto credential = security::make_scram_credential(*mechanism, options->at("password"), salt, iterations);
    metadata::records::user_scram_credential_record r;
    r.name = options->at("name");
    r.mechanism = static_cast<int8_t>(*mechanism);
    r.salt = credential.salt;
    r.stored_key = credential.stored_key;
    r.server_key = credential.server_key;
    r.iterations = credential.iterations;
    return r;
}

void write_bootstrap_records(const std::filesystem::path& directory, const std::vector<metadata::record>& records) {
    const auto path = directory / file_name;
    std::ofstream out(path, std::ios::trunc);
    for (const auto& r : records) out << security::base64_encode(metadata::encode_record(r)) << '\n';
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<metadata::record> read_bootstrap_records(const std::filesystem::path& directory) {
    const auto path = directory / file_name;
    std::ifstream in(path);
    std::vector<metadata::record> records;
    if (!in) return records;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto bytes = security::base64_decode(line);
        if (!bytes) throw std::runtime_error(path.string() + ": a line is not base64");
        records.push_back(metadata::decode_record(*bytes).value);
    }
    return records;
}

}  // namespace strata::server
