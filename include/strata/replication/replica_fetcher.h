// The replica fetchers: how a broker's follower partitions copy their
// leaders' logs (Kafka's ReplicaFetcherManager / ReplicaFetcherThread).
//
// One fetcher per (source leader broker, fetcher index), the index being a
// hash of the partition modulo num.replica.fetchers. Each is a loop on the
// manager's own thread that sends Fetch (replica_id = this node, with its
// broker epoch, v15) over one net::client_connection to the leader's
// inter-broker listener (from the image's broker registrations) and hands
// what comes back to the partitions' strands: appends of the leader's
// batches as they are, the leader's HW, and truncation where the follower's
// log diverges from the leader's (Fetch v12+ DivergingEpoch, KIP-320; a fetch
// below the leader's log start or past its end gets OFFSET_OUT_OF_RANGE and
// the follower truncates by the leader's ListOffsets). The leader
// long-polls each fetch for replica.fetch.wait.max.ms or until it appends.
//
// The manager also runs the leaders' periodic ISR check (shrinking laggards)
// every replica.lag.time.max.ms / 2, as Kafka's isr-expiration task.
//
// Ownership and threads. Made, started and stopped by the data plane, which
// also owns the partition manager whose on_follow callback feeds follow()
// (any thread). Everything else runs on the manager's one thread. stop()
// ends the loops and joins the thread; the io_context itself lives until
// the manager is destroyed, so that late notifications posted from partition
// strands land in a stopped (not a destroyed) context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "strata/metadata/image.h"
#include "strata/net/client_security.h"
#include "strata/replication/partition.h"
#include "strata/replication/unreachable_brokers.h"

namespace strata::replication {

struct replica_fetcher_options {
    int32_t node_id = 0;
    // inter.broker.listener.name: the leader's endpoint of this name.
    std::string listener = "PLAINTEXT";
    // That listener's security protocol, as this broker's fetchers speak it.
    net::client_security security;
    int32_t fetch_max_bytes = 1048576;            // replica.fetch.max.bytes (per partition)
    int32_t fetch_response_max_bytes = 10485760;  // replica.fetch.response.max.bytes
    int32_t fetch_wait_max_ms = 500;              // replica.fetch.wait.max.ms
    int32_t fetch_min_bytes = 1;                  // replica.fetch.min.bytes
    int32_t num_fetchers = 1;                     // num.replica.fetchers
    // replica.fetch.backoff.ms: how long a partition (or a fetcher whose
    // leader cannot be reached) waits after an error.
    std::chrono::milliseconds backoff{1000};
    std::chrono::milliseconds request_timeout{30000};  // replica.socket.timeout.ms
    // How often the leaders' ISRs are checked for laggards (0: never).
    std::chrono::milliseconds isr_check_interval{15000};
    // The current image (brokers' endpoints and epochs) and the partitions
    // this broker leads, both from the partition manager.
    std::function<std::shared_ptr<const metadata::metadata_image>()> image;
    std::function<std::vector<std::shared_ptr<partition>>()> leaders;
    // Where a leader that cannot be reached is noted (null: nowhere).
    std::shared_ptr<unreachable_brokers> unreachable;
};

class replica_fetcher_manager {
public:
    explicit replica_fetcher_manager(replica_fetcher_options options);
    ~replica_fetcher_manager();
    replica_fetcher_manager(const replica_fetcher_manager&) = delete;
    replica_fetcher_manager& operator=(const replica_fetcher_manager&) = delete;

    // Starts the thread (fetchers start as partitions are followed).
    void start();
    // Any thread: `p` follows `leader` at `epoch` (-1: follows no one, stop
    // fetching it). A change of leader or epoch moves the partition to the
    // right fetcher; the same leader and epoch again is a no-op.
    void follow(const std::shared_ptr<partition>& p, int32_t leader, leader_epoch epoch);
    // Ends every fetcher and the ISR check, closes the connections and joins
    // the thread. Idempotent; follow() afterwards is ignored.
    void stop();

    struct impl;  // opaque; public for the implementation's free functions

private:
    std::shared_ptr<impl> _impl;
};

}  // namespace strata::replication
