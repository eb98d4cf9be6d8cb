// How many requests are parked waiting for something (Kafka's
// DelayedOperationPurgatory PurgatorySize): acks=all produces waiting for
// the ISR and the flush, fetches long-polling for data. Counted
// process-wide where the waits happen and read by /metrics; a count is a
// relaxed atomic, so keeping it costs nothing on the data path.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace strata::metrics {

struct purgatory {
    std::atomic<int64_t> size{0};
};

// One partition of an acks=all produce waiting for its high watermark.
inline purgatory& produce_purgatory() {
    static purgatory instance;
    return instance;
}

// One fetch request in its long poll.
inline purgatory& fetch_purgatory() {
    static purgatory instance;
    return instance;
}

// Counted in a purgatory while it lives (movable: the moved-from one stops
// counting), so that every path out of a wait (answered, failed, dropped)
// uncounts it.
class purgatory_entry {
public:
    explicit purgatory_entry(purgatory& p) : _p(&p) { _p->size.fetch_add(1, std::memory_order_relaxed); }
    purgatory_entry(purgatory_entry&& other) noexcept : _p(std::exchange(other._p, nullptr)) {}
    purgatory_entry& operator=(purgatory_entry&& other) noexcept {
        if (this != &other) {
            release();
            _p = std::exchange(other._p, nullptr);
        }
        return *this;
    }
    purgatory_entry(const purgatory_entry&) = delete;
    purgatory_entry& operator=(const purgatory_entry&) = delete;
    ~purgatory_entry() { release(); }

private:
    void release() {
        if (_p) _p->size.fetch_sub(1, std::memory_order_relaxed);
        _p = nullptr;
    }
    purgatory* _p;
};

}  // namespace strata::metrics
