// The partition count to hash keys over for an internal topic that may be
// in the middle of being made (today: the transaction coordinator's
// AddOffsetsToTxn, hashing a group onto __consumer_offsets).
//
// Kafka fixes it once, at start-up: the topic's count if the topic exists,
// else the configured one (offsets.topic.num.partitions,
// transaction.state.log.num.partitions). Here the records of one
// CreateTopics are separate entries of the metadata log and reach the image
// as they commit, so a topic being created can be seen with only some of its
// partitions. Hashing over that part puts a key on the wrong partition: an
// AddOffsetsToTxn hashed a group over 2 of 5 partitions, the transaction's
// ABORT marker went to partition 0 while the group's pending offsets were on
// partition 1, and they were never dropped.
//
// So the image's count is taken only once it cannot be a part of the topic:
// when it reaches the configured count, or when it has stayed the same for
// `settle` (a topic made elsewhere, or before a config change, with fewer
// partitions). Until then the answer is the configured count and settled()
// is false: a caller that must agree with the coordinator that owns the
// topic (AddOffsetsToTxn) waits for it. (The group coordinator itself hashes
// over the image's count after FindCoordinator has waited for the whole
// topic; its loads filter groups by that hash, so it does not use this:
// during the settle time after a start, a topic made with fewer partitions
// would have its groups filtered out.) Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace strata::metadata {

class hashing_partition_count {
public:
    using clock = std::chrono::steady_clock;

    explicit hashing_partition_count(int32_t configured,
                                     std::chrono::milliseconds settle = std::chrono::milliseconds(2000))
        : _configured(configured), _settle(settle) {}

    // `in_image`: the partitions the image holds (0: no such topic).
    int32_t operator()(size_t in_image, clock::time_point now = clock::now()) {
        std::lock_guard lock(_mutex);
        if (in_image == 0) {  // not made yet (or deleted): start over
            _settled = false;
            _seen = 0;
            return _configured;
        }
        const auto count = static_cast<int32_t>(in_image);
        if (_settled || count >= _configured) {
            _settled = true;
            return count;
        }
        if (in_image != _seen) {
            _seen = in_image;
            _seen_since = now;
        }
        if (now - _seen_since < _settle) return _configured;
        _settled = true;
        return count;
    }

    // Whether the last answer was the image's count, final (else the
    // configured one, while the topic may still be growing).
    bool settled() const {
        std::lock_guard lock(_mutex);
        return _settled;
    }

    int32_t configured() const { return _configured; }

private:
    const int32_t _configured;
    const std::chrono::milliseconds _settle;
    mutable std::mutex _mutex;
    bool _settled = false;
    size_t _seen = 0;
    clock::time_point _seen_since{};
};

}  // namespace strata::metadata
