// Reading records over Fetch (for the v2 consumers and the console's message
// browser) and their JSON forms.
#pragma once

#include "common.h"
#include "offsets.h"

namespace strata::rest {

struct fetched_record {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    int64_t timestamp = -1;
    std::optional<std::vector<uint8_t>> key;
    std::optional<std::vector<uint8_t>> value;
    std::vector<std::pair<std::string, std::optional<std::vector<uint8_t>>>> headers;
};

struct fetch_result {
    std::vector<fetched_record> records;  // in offset order per partition
    std::map<topic_partition, int16_t> errors;
    std::map<topic_partition, int64_t> high_watermarks;
};

// Records from `positions` (topic-partition -> next offset), at most about
// `max_bytes`, waiting up to `max_wait_ms` for some. Control batches and
// records before a position are skipped.
awaitable<fetch_result> fetch_records(context& ctx, const std::map<topic_partition, int64_t>& positions, int32_t max_bytes,
                                      int32_t max_wait_ms);

// "2026-12-07T11:00:00.123Z"
std::string iso_time(int64_t millis);

}  // namespace strata::rest
