// Time as the storage engine sees it: milliseconds since the epoch, from an
// injected source, so that roll, retention, flush.ms and tombstone horizons
// are tested by moving a manual clock instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace strata::storage {

class clock {
public:
    virtual ~clock() = default;
    // Wall-clock milliseconds since the Unix epoch (Kafka's timestamps).
    virtual int64_t now_ms() const = 0;
};

class system_clock final : public clock {
public:
    int64_t now_ms() const override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    static system_clock& instance() {
        static system_clock c;
        return c;
    }
};

// For tests: time moves only when told. Thread-safe.
class manual_clock final : public clock {
public:
    explicit manual_clock(int64_t start_ms = 1'700'000'000'000) : _now(start_ms) {}
    int64_t now_ms() const override { return _now.load(std::memory_order_relaxed); }
    void advance(int64_t ms) { _now.fetch_add(ms, std::memory_order_relaxed); }
    void set(int64_t ms) { _now.store(ms, std::memory_order_relaxed); }

private:
    std::atomic<int64_t> _now;
};

}  // namespace strata::storage
