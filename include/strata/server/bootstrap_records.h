// Metadata records a new cluster starts with, given to `stratad format`
// (Kafka's kafka-storage.sh format --add-scram): kept in the metadata
// directory's bootstrap.records until the first active controller of the
// cluster commits them with the initial metadata.version.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "strata/metadata/records.h"

namespace strata::server {

// Kafka's --add-scram argument:
//   SCRAM-SHA-256=[name=alice,password=alice-secret]
//   SCRAM-SHA-512=[name=alice,iterations=8192,salt="c2FsdA==",password="pw"]
// (salt is base64; iterations default 4096; salt default random).
std::optional<metadata::records::user_scram_credential_record> parse_add_scram(std::string_view argument,
                                                                              std::string& error);

// <directory>/bootstrap.records: one base64-encoded framed record per line.
void write_bootstrap_records(const std::filesystem::path& directory, const std::vector<metadata::record>& records);
// Empty when the file does not exist; throws std::runtime_error when it is corrupt.
std::vector<metadata::record> read_bootstrap_records(const std::filesystem::path& directory);

}  // namespace strata::server
