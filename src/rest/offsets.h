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

}  // namespace strata::rest
