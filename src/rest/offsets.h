// Earliest and latest offsets of partitions (ListOffsets), shared by the
// partition answers, the lag answers and the v2 consumer's seeks.
#pragma once

#include "common.h"

namespace strata::rest {

using topic_partition = std::pair<std::string, int32_t>;
struct offset_range {
    int64_t earliest = -1;
    int64_t latest = -1;  // the high watermark (log end offset for consumers)
};
// Partitions the broker could not answer for are left out.
awaitable<std::map<topic_partition, offset_range>> list_offsets(context& ctx, const std::vector<topic_partition>& partitions);
// ListOffsets at `timestamp` (ms; -2 earliest, -1 latest): the first offset
// whose record's timestamp is at least that, -1 when no record is (as
// Kafka's offsetsForTimes), from each partition's leader; likewise.
awaitable<std::map<topic_partition, int64_t>> offsets_at(context& ctx, const std::vector<topic_partition>& partitions,
                                                         int64_t timestamp);

}  // namespace strata::rest
