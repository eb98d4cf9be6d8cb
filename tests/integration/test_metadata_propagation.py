#!/usr/bin/python3
"""A metadata change made through one broker reaches the others: topics
created and deleted through broker 1 (confluent-kafka's AdminClient) are
listed, then forgotten, by brokers 2 and 3 (raw Metadata requests). Prints
the delay of every round; tests/bench/metadata_propagation.py holds the
percentiles (a benchmark, not a timed test)."""

from harness import Cluster, run_tests
from metadata_probe import MetadataPoller, measure_round

from confluent_kafka.admin import AdminClient


def test_created_and_deleted_topics_reach_every_broker():
    with Cluster(3) as cluster:
        for node in cluster.nodes:
            node.wait_ready(30)
        admin = AdminClient({"bootstrap.servers": cluster.node(1).bootstrap})
        pollers = [MetadataPoller(cluster.node(i).port) for i in (2, 3)]
        for round_ in range(10):
            seen, gone = measure_round(admin, pollers, f"propagation-{round_}")
            print(f"round {round_}: listed by brokers 2, 3 after {seen} ms; forgotten after {gone} ms")
            assert None not in seen, f"a broker never listed the topic: {seen}"
            assert None not in gone, f"a broker still lists the deleted topic: {gone}"
        for p in pollers:
            p.close()


if __name__ == "__main__":
    run_tests([test_created_and_deleted_topics_reach_every_broker])
