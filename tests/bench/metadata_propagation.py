#!/usr/bin/python3
"""Metadata propagation on a three-node cluster (combined nodes, default
settings): topics created and deleted through broker 1, the delay until
brokers 2 and 3 show each change, as percentiles over many rounds.

  tests/bench/metadata_propagation.py [build dir] [rounds]
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE, "build"))
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 100
os.environ.setdefault("STRATAD", os.path.join(BUILD, "src", "stratad"))

from harness import Cluster  # noqa: E402
from metadata_probe import MetadataPoller, measure_round, percentile  # noqa: E402

from confluent_kafka.admin import AdminClient  # noqa: E402


def main():
    created, deleted = [], []
    with Cluster(3) as cluster:
        for node in cluster.nodes:
            node.wait_ready(30)
        admin = AdminClient({"bootstrap.servers": cluster.node(1).bootstrap})
        pollers = [MetadataPoller(cluster.node(i).port) for i in (2, 3)]
        for r in range(ROUNDS):
            seen, gone = measure_round(admin, pollers, f"bench-{r}")
            created += [s for s in seen if s is not None]
            deleted += [g for g in gone if g is not None]
            if None in seen or None in gone:
                print(f"round {r}: a broker missed the change: {seen} {gone}")
    print(f"load average: {os.getloadavg()[0]:.1f}; {ROUNDS} rounds, brokers 2 and 3 each")
    print("| change | p50 | p99 | max | target |")
    print("| --- | --- | --- | --- | --- |")
    for label, values in (("CreateTopics: listed by the other brokers", created),
                          ("DeleteTopics: forgotten by the other brokers", deleted)):
        print(f"| {label} | {percentile(values, 50):.1f} ms | {percentile(values, 99):.1f} ms | "
              f"{max(values):.1f} ms | p99 <= 10 ms |")


if __name__ == "__main__":
    main()
