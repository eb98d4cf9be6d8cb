#!/usr/bin/python3
"""Produce stall when a partition leader is stopped with SIGTERM: three
combined nodes with default settings (but min.insync.replicas 2, RF 3 and a
1 s preferred-leader check so that each round starts from the preferred
leaders), a topic of three partitions, the idempotent acks=all producer and
group consumer of tests/integration/test_controlled_shutdown.py. Each round
SIGTERMs the leader of partition 0 and measures the time from the signal to
the first acknowledgement of a record sent after it on that partition; the
node is restarted and back in every ISR (and the preferred leader again)
before the next round. Prints min/median/max, with controlled shutdown on
and, for comparison in the same run, off (the broker just closes).

  tests/bench/controlled_shutdown.py [rounds=6] [on|off|both=both]     (STRATAD=path/to/stratad)
  CONTROLLED_SHUTDOWN_SETTLE=1: SIGTERM only once the producer has had a
      record sent after the preferred leaders were back acknowledged on
      partition 0. Without it a round can begin while the producer is still
      reconnecting to the returned leader (its reconnect backoff grew while
      that node was down), and that wait is counted in the stall (seen: 0.9-2.3 s
      rounds with librdkafka 2.12).
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Cluster  # noqa: E402
from test_alter_partition import wait_for  # noqa: E402
from test_controlled_shutdown import ENV, Workload, all_in_sync, create_topic, leaders  # noqa: E402


def run(rounds, enabled):
    env = dict(ENV)
    env["STRATA_CONTROLLED_SHUTDOWN_ENABLE"] = "true" if enabled else "false"
    settle = os.environ.get("CONTROLLED_SHUTDOWN_SETTLE") == "1"
    stalls = []
    with Cluster(3, extra_env=env) as cluster:
        create_topic(cluster)
        workload = Workload(cluster.nodes).start()
        try:
            workload.wait_acks(1000)
            wait_for(lambda: all_in_sync(cluster), timeout=30, what="full ISRs")
            for i in range(rounds):
                wait_for(lambda: leaders(cluster) == {0: 1, 1: 2, 2: 3}, timeout=30, what="preferred leaders")
                if settle:
                    workload.stall_after(time.monotonic(), [0])
                victim = cluster.node(leaders(cluster)[0])
                t0 = time.monotonic()
                victim.proc.send_signal(15)
                victim.proc.wait(60)
                exited = time.monotonic() - t0
                stall = workload.stall_after(t0, [0])
                stalls.append(stall * 1000)
                print(f"round {i + 1} (controlled shutdown {'on' if enabled else 'off'}): SIGTERM of node "
                      f"{victim.node_id}: stall {stall * 1000:.0f} ms, exited after {exited * 1000:.0f} ms",
                      flush=True)
                victim.start()
                wait_for(lambda: all_in_sync(cluster), timeout=60, what="full ISRs")
        finally:
            workload.stop_and_check()
    print(f"controlled shutdown {'on' if enabled else 'off'}, {rounds} rounds: stall min {min(stalls):.0f} ms, "
          f"median {statistics.median(stalls):.0f} ms, max {max(stalls):.0f} ms (target: at most 1000 ms)",
          flush=True)
    return stalls


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    mode = sys.argv[2] if len(sys.argv) > 2 else "both"
    if mode in ("on", "both"):
        run(rounds, True)
    if mode in ("off", "both"):
        run(rounds, False)


if __name__ == "__main__":
    main()
