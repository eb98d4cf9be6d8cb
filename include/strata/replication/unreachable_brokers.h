// Brokers this broker has just found unreachable: a replica fetcher's
// connection to one closed or was refused. Until the controller moves their
// partitions (or they answer again), a Metadata response shows partitions
// they lead as LEADER_NOT_AVAILABLE rather than naming a leader that is
// gone: clients then keep asking and see the new leader the moment it is
// elected, instead of trusting the dead one until their next periodic
// refresh (librdkafka's is a second away). Kafka's ZooKeeper-era brokers
// answered the same for a leader missing from their live brokers.
//
// A mark holds for one registration of the broker (its broker epoch) and
// for at most `max_age`: it is a hint from one vantage point, never a
// substitute for the controller's decision.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>

namespace strata::replication {

class unreachable_brokers {
public:
    using clock = std::chrono::steady_clock;
    static constexpr auto max_age = std::chrono::milliseconds(2000);

    void mark(int32_t broker_id, int64_t broker_epoch) {
        std::lock_guard lock(_mutex);
        _marks.try_emplace(broker_id, mark_t{broker_epoch, clock::now()});
    }

    void clear(int32_t broker_id) {
        std::lock_guard lock(_mutex);
        _marks.erase(broker_id);
    }

    bool contains(int32_t broker_id, int64_t broker_epoch) const {
        std::lock_guard lock(_mutex);
        auto it = _marks.find(broker_id);
        return it != _marks.end() && it->second.broker_epoch == broker_epoch &&
               clock::now() - it->second.since < max_age;
    }

private:
    struct mark_t {
        int64_t broker_epoch;
        clock::time_point since;
    };
    mutable std::mutex _mutex;
    std::map<int32_t, mark_t> _marks;
};

}  // namespace strata::replication
