#!/usr/bin/python3
"""Admin requests are held and forwarded until a controller takes them, as
Kafka's ForwardingManager holds them: a CreateTopics that reaches a broker
while the quorum is still electing its first leader, or right after the
active controller died, succeeds once the quorum has a leader again; the
client never sees NOT_CONTROLLER. Prints the time from cluster start to the
first successful CreateTopics and the create latency across a controller
failover."""

import os
import statistics
import subprocess
import threading
import time

from harness import STRATAD, Cluster, run_tests

from confluent_kafka.admin import AdminClient, NewTopic

STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(os.path.dirname(STRATAD), "strata")))


def create_topic(bootstrap, name, partitions=3, replication=1, timeout=30.0):
    """CreateTopics through confluent-kafka's AdminClient; raises on any error."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=replication)],
                                  request_timeout=timeout, operation_timeout=timeout)
    futures[name].result(timeout=timeout + 5)


def wait_for_brokers(bootstrap, count, timeout=30.0):
    """Until Metadata through `bootstrap` lists `count` live brokers."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(admin.list_topics(timeout=10).brokers) == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{bootstrap} does not list {count} brokers within {timeout}s")


def test_create_topics_before_the_first_leader():
    """Node 1 alone cannot elect a leader (3 voters): requests sent to it now
    are held, and succeed once nodes 2 and 3 join. (Replication factor 1:
    the first broker to register may be alone for a moment, and a factor
    above the registered brokers is INVALID_REPLICATION_FACTOR, as in
    Kafka.)"""
    cluster = Cluster(3)
    try:
        cluster.format()
        first = cluster.node(1)
        started = time.monotonic()
        first.start()
        assert cluster.leader(among=[first]) is None, "a single voter of three cannot be leader"
        outcomes = {}

        def confluent():
            try:
                create_topic(first.bootstrap, "early-confluent")
                outcomes["confluent"] = ("ok", time.monotonic() - started)
            except Exception as e:  # reported below
                outcomes["confluent"] = ("error", repr(e))

        def cli():
            # The CLI sends CreateTopics to the broker it is given, whatever
            # Metadata says: the broker, not the client, holds it here.
            run = subprocess.run([STRATA, "--brokers", first.bootstrap, "--timeout", "30000", "topic",
                                  "create", "early-cli", "--partitions", "2", "--replication-factor", "1"],
                                 capture_output=True, text=True, timeout=60)
            outcomes["cli"] = ("ok" if run.returncode == 0 else "error", time.monotonic() - started,
                               run.stdout + run.stderr)

        threads = [threading.Thread(target=confluent), threading.Thread(target=cli)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # the requests are with node 1 (or the client) now, no leader yet
        assert cluster.leader(among=[first]) is None
        assert not outcomes, f"answered before the quorum could form: {outcomes}"
        cluster.node(2).start()
        cluster.node(3).start()
        for t in threads:
            t.join(60)
        assert outcomes.get("confluent", ("missing",))[0] == "ok", outcomes
        assert outcomes.get("cli", ("missing",))[0] == "ok", outcomes
        admin = AdminClient({"bootstrap.servers": cluster.node(2).bootstrap})
        topics = admin.list_topics(timeout=10).topics
        assert "early-confluent" in topics and "early-cli" in topics, sorted(topics)
        assert len(topics["early-confluent"].partitions) == 3 and len(topics["early-cli"].partitions) == 2
        print(f"  from cluster start to the first successful CreateTopics: confluent-kafka "
              f"{outcomes['confluent'][1]:.2f} s, strata CLI {outcomes['cli'][1]:.2f} s "
              f"(of which 1.0 s with only node 1 running)", flush=True)
    except BaseException:
        cluster.__exit__(AssertionError, None, None)
        raise
    cluster.__exit__(None, None, None)


def test_create_topics_across_controller_failover():
    """SIGKILL the active controller, then at once CreateTopics through a
    survivor; three rounds, the killed node restarted between them."""
    latencies = []
    with Cluster(3) as cluster:
        for node in cluster.nodes:
            node.wait_ready(timeout=20)
        wait_for_brokers(cluster.node(1).bootstrap, 3)
        for round_ in range(3):
            leader, epoch, _ = cluster.wait_for_leader(timeout=20)
            victim = cluster.node(leader)
            survivor = next(n for n in cluster.running() if n.node_id != leader)
            # A client that knows the cluster already (connected, metadata
            # fetched), as a running application's is.
            admin = AdminClient({"bootstrap.servers": survivor.bootstrap})
            wait_for_brokers(survivor.bootstrap, 3)
            admin.list_topics(timeout=10)
            victim.kill()
            start = time.monotonic()
            name = f"after-failover-{round_}"
            futures = admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=2)],
                                          request_timeout=30, operation_timeout=30)
            futures[name].result(timeout=35)
            latencies.append(time.monotonic() - start)
            new_leader, new_epoch, _ = cluster.wait_for_leader(timeout=20, min_epoch=epoch + 1)
            assert new_leader != leader
            victim.start()
            victim.wait_ready(timeout=20)
            wait_for_brokers(victim.bootstrap, 3)
        topics = AdminClient({"bootstrap.servers": cluster.node(1).bootstrap}).list_topics(timeout=10).topics
        for round_ in range(3):
            assert f"after-failover-{round_}" in topics, sorted(topics)
    print("  CreateTopics sent right after SIGKILL of the active controller, through a survivor: "
          + ", ".join(f"{s * 1000:.0f} ms" for s in latencies)
          + f" (median {statistics.median(latencies) * 1000:.0f} ms)", flush=True)


if __name__ == "__main__":
    run_tests([test_create_topics_before_the_first_leader, test_create_topics_across_controller_failover])
