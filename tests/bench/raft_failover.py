#!/usr/bin/python3
"""Controller failover time: three stratad controllers on loopback, SIGKILL
of the active controller (the Raft leader), time until a survivor answers
DescribeQuorum as leader of a newer epoch; the killed node is restarted and
caught up before the next round. Prints min/median/max over N rounds beside
what the configuration sets: a follower whose connection to the leader is
lost campaigns within controller.quorum.election.backoff.max.ms; one that
merely hears nothing waits controller.quorum.fetch.timeout.ms.

  tests/bench/raft_failover.py [rounds=20]     (STRATAD=path/to/stratad)
"""

import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Cluster  # noqa: E402


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise RuntimeError("timed out")


def caught_up(cluster, leader_id):
    view = cluster.quorum_view(cluster.node(leader_id))
    if not view or view.get("error") != 0:
        return False
    ends = dict(view["voters"])
    return len(ends) == 3 and len(set(ends.values())) == 1


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    fetch_timeout_ms = int(os.environ.get("STRATA_CONTROLLER_QUORUM_FETCH_TIMEOUT_MS", "500"))
    backoff_ms = int(os.environ.get("STRATA_CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS", "250"))
    times = []
    with Cluster(3) as cluster:
        for i in range(rounds):
            leader, epoch, _ = cluster.wait_for_leader(timeout=10)
            wait_until(lambda: caught_up(cluster, leader), 10)
            time.sleep(0.2)  # steady state: followers long-polling
            survivors = [n for n in cluster.nodes if n.node_id != leader]
            cluster.node(leader).stop(signal.SIGKILL)
            killed = time.monotonic()
            new_leader, new_epoch, _ = cluster.wait_for_leader(timeout=10, among=survivors, min_epoch=epoch + 1)
            elapsed = time.monotonic() - killed
            times.append(elapsed * 1000)
            print(f"round {i + 1}: leader {leader} (epoch {epoch}) killed; node {new_leader} leads epoch "
                  f"{new_epoch} after {elapsed * 1000:.0f} ms", flush=True)
            cluster.node(leader).start()
            wait_until(lambda: caught_up(cluster, new_leader), 10)
    print(f"controller failover after SIGKILL, {rounds} rounds: min {min(times):.0f} ms, "
          f"median {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
          f"(a follower that loses its connection to the leader campaigns within "
          f"controller.quorum.election.backoff.max.ms = {backoff_ms} ms, else after "
          f"controller.quorum.fetch.timeout.ms = {fetch_timeout_ms} ms; target 1000 ms; "
          f"median/target = {statistics.median(times) / 1000:.2f})")


if __name__ == "__main__":
    main()
