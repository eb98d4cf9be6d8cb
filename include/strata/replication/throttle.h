// Replication throttles (Kafka's ReplicationQuotaManager, KIP-73): a cap on
// the bytes per second a broker spends replicating *throttled* replicas,
// one instance per direction:
//   leader side:   leader.replication.throttled.rate (broker dynamic config)
//                  for partitions in the topic's leader.replication.throttled.replicas
//   follower side: follower.replication.throttled.rate
//                  for partitions in the topic's follower.replication.throttled.replicas
// Replicas that are in the ISR are never held back (Kafka's rule), so a
// reassignment's new replicas catch up at the set rate without slowing the
// in-sync followers; the bytes of every throttled replica count, in the ISR
// or not.
//
// How the replication paths use it, as Kafka's do:
// - leader, answering a follower's Fetch (src/server/fetch.cc), for each
//   partition: if the replica is throttled, not in the ISR and the throttle
//   is exceeded(), answer that partition with no records; record() the bytes
//   sent for throttled replicas.
// - follower, building its Fetch (replica_fetcher.cc): leave out the
//   partitions that are throttled, not in the ISR, while exceeded(); record()
//   the bytes received for throttled partitions.
//
// The rate is Kafka's SimpleRate (the one its ReplicationQuotaManager uses):
// the bytes of the retained samples (11 windows of 1 s) over the time they
// really span, at least one window; so a throttle holds from the first
// second, unlike a client quota's Rate, which counts a new sensor's span as
// ten whole windows and lets a burst through.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "strata/metadata/image.h"
#include "strata/quota/client_quotas.h"

namespace strata::replication {

// Kafka's names for the four configs.
inline constexpr std::string_view leader_throttled_rate_key = "leader.replication.throttled.rate";
inline constexpr std::string_view follower_throttled_rate_key = "follower.replication.throttled.rate";
inline constexpr std::string_view leader_throttled_replicas_key = "leader.replication.throttled.replicas";
inline constexpr std::string_view follower_throttled_replicas_key = "follower.replication.throttled.replicas";

// Kafka's replication.quota.window.num and .size.seconds defaults, and its
// SimpleRate.
struct throttle_window : quota::window_config {
    throttle_window() { simple_rate = true; }
};

// One direction's throttle. Thread-safe.
class replication_throttle {
public:
    using clock = std::function<int64_t()>;  // ms; a steady clock by default

    explicit replication_throttle(throttle_window config = {}, clock now = nullptr);

    // The rate, bytes/s; nullopt: unlimited (Kafka's default, Long.MAX_VALUE).
    void set_rate(std::optional<int64_t> bytes_per_second);
    std::optional<int64_t> rate() const;

    // Whether the throttled replicas measured so far are over the rate
    // (Kafka's isQuotaExceeded).
    bool exceeded();
    // Bytes of throttled replicas sent (leader) or received (follower).
    void record(size_t bytes);

    // Whether a topic's *.replication.throttled.replicas value names
    // `partition` on `broker`: "*" (every replica), or a list of
    // "partition:broker" pairs; "" names none.
    static bool applies(std::string_view throttled_replicas, int32_t partition, int32_t broker);
    // A config value's error message (for AlterConfigs' INVALID_CONFIG), or
    // nullopt when valid: "*", "", or "p:b" pairs separated by commas.
    static std::optional<std::string> validate(std::string_view throttled_replicas);

private:
    mutable std::mutex _lock;
    quota::windowed_rate _rate;
    std::optional<int64_t> _bound;
    clock _now;
};

// One broker's throttle of one direction together with the replicas it
// covers, kept up to date from the metadata image: the rate from the dynamic
// broker configs (this broker's, else the cluster default), the throttled
// replicas from every topic's leader (or follower) throttled replicas.
// The leader side lives with the Fetch handler, the follower side with the
// replica fetchers; each brings it up to date (`follow`) with the image it
// is working from, which costs a pointer comparison when that has not
// changed. Thread-safe.
class replication_throttles {
public:
    enum class side { leader, follower };

    replication_throttles(side which, int32_t node_id, throttle_window config = {},
                          replication_throttle::clock now = nullptr);

    // Takes the rate and the throttled replicas of `image`, if it is not the
    // one taken last.
    void follow(const std::shared_ptr<const metadata::metadata_image>& image);

    // Whether this broker's replica of `topic`-`partition` is named by the
    // topic's throttled replicas of this side.
    bool throttled(std::string_view topic, int32_t partition) const;
    replication_throttle& throttle() { return _throttle; }

    // A rate config's value: nullopt for unlimited (Long.MAX_VALUE) or for
    // text that is not a non-negative integer (refused when set).
    static std::optional<int64_t> parse_rate(std::string_view value);

private:
    using topic_lists = std::map<std::string, std::string, std::less<>>;  // topics with a list set

    side _side;
    int32_t _node_id;
    replication_throttle _throttle;
    mutable std::mutex _lock;
    const metadata::metadata_image* _followed = nullptr;  // compared only, never dereferenced
    std::shared_ptr<const metadata::metadata_image> _keep;  // keeps _followed's address from being reused
    std::shared_ptr<const topic_lists> _lists;
};

}  // namespace strata::replication
