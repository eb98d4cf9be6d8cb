// Test support for the storage unit tests: batches built with the protocol's
// builder, a fresh temporary directory per test, and a log opened over a
// memory state store and a manual flusher and clock (no threads, no sleeps).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "disk_log.h"
#include "flusher.h"
#include "strata/protocol/record_batch.h"
#include "strata/storage/clock.h"
#include "strata/storage/state_store.h"

namespace strata::storage::testing {

struct record_spec {
    std::optional<std::string> key;
    std::optional<std::string> value;
    int64_t timestamp = 1'700'000'000'000;
};

std::vector<uint8_t> make_batch(const std::vector<record_spec>& records,
                                protocol::compression_codec codec = protocol::compression_codec::none);
// `count` records of `value_size` bytes, keys "k<i>", all at `timestamp`.
std::vector<uint8_t> make_simple_batch(int count, size_t value_size = 100, int64_t timestamp = 1'700'000'000'000);

class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return _path; }

private:
    std::string _path;
};

// A log in a temporary directory with everything injected.
struct log_fixture {
    temp_dir dir;
    manual_clock time;
    std::unique_ptr<state_store> store = make_memory_state_store();
    flusher flush_thread{false};
    topic_partition tp{"topic", partition_id(0)};

    std::string log_dir() const { return dir.path() + "/" + tp.dir_name(); }
    std::shared_ptr<disk_log> open(const log_config& config, bool recover = false);
};

// Every byte of a read, and the batches in it (whole ones only).
std::vector<uint8_t> read_all(const partition_log& log, offset start, size_t max_bytes = 64 << 20);
struct stored_record {
    offset at;
    std::optional<std::string> key;
    std::optional<std::string> value;
};
std::vector<stored_record> read_records(const partition_log& log, offset start);

}  // namespace strata::storage::testing
