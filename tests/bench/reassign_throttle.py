#!/usr/bin/python3
"""Reassignment catch-up throughput, unthrottled and throttled (issue 20,
item 5's performance line; KIP-73 replication throttles).

Three combined nodes on loopback. For each run a fresh single-replica
partition on broker 1 is filled with SIZE MB (10 KB records, acks=all) and
moved to broker 2 with `strata partition reassign --wait` (and `--throttle
RATE` for the throttled runs); the figure is the bytes of the moved replica's
log over the wall time of the command. Printed beside what bounds it: the
loopback (iperf3) and the disk's synced sequential write rate (dd
conv=fdatasync), measured in the same run, and for the throttled runs as a
ratio to the throttle.

Run by hand from the source tree (after building stratad and strata):
  /usr/bin/python3 tests/bench/reassign_throttle.py [SIZE_MB] [RATE_MB/s ...]
Defaults: 200 MB unthrottled, and 40 MB at 2 and 10 MB/s.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import perf_tools  # noqa: E402
from harness import Cluster  # noqa: E402
from test_replication_throttle import fill, log_bytes, strata  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

MB = 1e6


def move(cluster, admin, bootstrap, name, size, throttle):
    admin.create_topics([NewTopic(name, 1, -1, replica_assignment=[[1]])])[name].result(timeout=20)
    fill(bootstrap, name, size)
    args = ["partition", "reassign", "--topic", name, "--partition", "0", "--replicas", "2", "--wait"]
    if throttle:
        args += ["--throttle", str(int(throttle))]
    start = time.monotonic()
    proc = strata(bootstrap, *args, timeout=1200)
    seconds = time.monotonic() - start
    print(f"$ strata {' '.join(args)}\n{proc.stdout}{proc.stderr}", file=sys.stderr)
    return log_bytes(cluster.node(2), name, 0), seconds


def main():
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rates = [float(r) for r in sys.argv[2:]] or [2.0, 10.0]
    loop = perf_tools.loopback_mb_s()
    with Cluster(3) as cluster:
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        disk = perf_tools.dd_mb_s(cluster.node(2).data_dir)
        rows = []
        moved, seconds = move(cluster, admin, bootstrap, "bench-free", size_mb * 1048576, None)
        rows.append(("unthrottled", moved, seconds, None))
        for rate in rates:
            throttled_size = int(max(20, rate * 20) * 1048576)  # ~20 s at the throttle
            moved, seconds = move(cluster, admin, bootstrap, f"bench-{rate:g}", throttled_size, rate * MB)
            rows.append((f"throttle {rate:g} MB/s", moved, seconds, rate * MB))
    print(f"loopback (iperf3): {loop:.0f} MB/s; disk, dd conv=fdatasync: {disk:.0f} MB/s")
    print("| run | moved | time | catch-up rate | vs limit |")
    print("| --- | --- | --- | --- | --- |")
    for label, moved, seconds, throttle in rows:
        rate = moved / seconds / MB
        versus = (f"{rate * MB / throttle:.2f}x the throttle" if throttle
                  else f"{rate / loop:.2f} of loopback, {rate / disk:.2f} of synced disk")
        print(f"| {label} | {moved / MB:.0f} MB | {seconds:.1f} s | {rate:.1f} MB/s | {versus} |")


if __name__ == "__main__":
    main()
