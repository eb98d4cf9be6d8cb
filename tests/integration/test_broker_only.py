#!/usr/bin/python3
"""A node with `process.roles: broker` and no controller: it follows the
metadata log as a Raft observer, registers with the active controller over
the controller listener, heartbeats, and serves clients. Three combined
nodes (broker + controller) form the quorum; node 4 is broker-only.

A topic created through node 4 appears in every node's Metadata; produce
and consume through node 4 work; SIGSTOP of node 4 gets it fenced once
broker.session.timeout.ms passes without a heartbeat (Metadata no longer
lists it; the partitions it alone held go leaderless) and not before, and
SIGCONT unfences it; SIGKILL gets it fenced as soon as the controller sees
its heartbeat connection close and its listener refuse connections;
restarting it unfences it, gives those partitions their leader back, and
their records are there."""

import contextlib
import functools
import shutil
import signal
import subprocess
import time

from harness import STRATAD, Broker, Cluster, run_tests
from harness import wait_for as harness_wait_for

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, TopicPartition as KPTopicPartition

SESSION_TIMEOUT_MS = 4000
HEARTBEAT_INTERVAL_MS = 500
TIMING = {"STRATA_BROKER_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
          "STRATA_BROKER_HEARTBEAT_INTERVAL_MS": str(HEARTBEAT_INTERVAL_MS)}


# The harness's poll loop, with this file's longer default wait (a broker-only
# node's registration crosses the controller quorum).
wait_for = functools.partial(harness_wait_for, timeout=20.0)


def broker_only_node(cluster, node_id):
    node = Broker(extra_env=TIMING)
    node.node_id = node_id
    node.controller_port = None
    voters = cluster.nodes[0].env["STRATA_CONTROLLER_QUORUM_VOTERS"]
    node.env.update({
        "STRATA_NODE_ID": str(node_id),
        "STRATA_PROCESS_ROLES": "broker",
        "STRATA_LISTENERS": f"PLAINTEXT://127.0.0.1:{node.port}",
        "STRATA_CONTROLLER_QUORUM_VOTERS": voters,
    })
    subprocess.run([STRATAD, "format", "-t", cluster.cluster_id], env=node.env, check=True, capture_output=True,
                   timeout=30)
    return node


def brokers_seen_by(node):
    return set(AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=5).brokers)


def consume(bootstrap, topic, partitions, expected, timeout=30):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    consumer.assign([KPTopicPartition(topic, p) for p in partitions])
    consumer.seek_to_beginning()
    got = set()
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            got.update(r.value for r in records)
    consumer.close()
    return got


@contextlib.contextmanager
def running(cluster, broker):
    """Stops the cluster and the broker-only node afterwards; prints their
    logs if the body failed, else removes their directories."""
    try:
        yield
    except BaseException:
        for node in cluster.nodes + [broker]:
            print(f"--- node {node.node_id} log ({node.log_path}) ---\n{node.log()}")
        raise
    finally:
        try:
            broker.stop()
        except RuntimeError:
            pass
        cluster.stop()
    for node in cluster.nodes + [broker]:
        shutil.rmtree(node.workdir, ignore_errors=True)


def test_broker_only_node_serves_and_is_fenced_and_unfenced():
    cluster = Cluster(3, extra_env=TIMING)
    cluster.format()
    broker = broker_only_node(cluster, 4)
    with running(cluster, broker):
        cluster.start().wait_ready()
        broker.start().wait_ready(timeout=20)
        for node in cluster.nodes + [broker]:
            wait_for(lambda: brokers_seen_by(node) == {1, 2, 3, 4}, what=f"four brokers in node {node.node_id}'s view")

        # A topic created through the broker-only node (forwarded to the
        # active controller) is in everyone's metadata.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("via-broker", num_partitions=8, replication_factor=1)])["via-broker"].result(
            timeout=20)
        for node in cluster.nodes + [broker]:
            md = wait_for(lambda: (lambda m: m if "via-broker" in m.topics and all(
                p.leader >= 1 for p in m.topics["via-broker"].partitions.values()) else None)(
                AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=5)),
                what=f"the topic in node {node.node_id}'s metadata")
        leaders = {p.id: p.leader for p in md.topics["via-broker"].partitions.values()}
        on_broker = sorted(p for p, leader in leaders.items() if leader == 4)
        assert on_broker, leaders  # placement spreads 8 partitions over 4 brokers

        # Produce and consume through it.
        producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all"})
        for i in range(400):
            producer.produce("via-broker", value=f"v{i}".encode(), partition=i % 8)
        assert producer.flush(30) == 0
        got = consume(broker.bootstrap, "via-broker", range(8), 400)
        assert len(got) == 400, len(got)
        on_broker_values = {f"v{i}".encode() for i in range(400) if i % 8 in on_broker}

        # SIGSTOP: silent, its connections open. The controller fences the
        # broker after broker.session.timeout.ms without a heartbeat, not before.
        observer = cluster.nodes[0]
        stopped_at = time.monotonic()
        broker.pause()
        assert 4 in brokers_seen_by(observer), "fenced before its session expired"
        wait_for(lambda: 4 not in brokers_seen_by(observer), timeout=SESSION_TIMEOUT_MS / 1000 + 10,
                 what="broker 4 fenced", interval=0.05)
        fenced_after = time.monotonic() - stopped_at
        print(f"broker 4 fenced {fenced_after:.2f}s after SIGSTOP (session timeout {SESSION_TIMEOUT_MS} ms)")
        # Its last heartbeat was at most one interval before the stop.
        assert fenced_after >= (SESSION_TIMEOUT_MS - HEARTBEAT_INTERVAL_MS) / 1000 - 0.2, fenced_after
        # SIGCONT: it heartbeats, is unfenced and leads its partitions again.
        broker.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: brokers_seen_by(observer) == {1, 2, 3, 4}, what="broker 4 unfenced after SIGCONT")
        wait_for(lambda: all(AdminClient({"bootstrap.servers": observer.bootstrap}).list_topics(timeout=5).topics[
            "via-broker"].partitions[p].leader == 4 for p in on_broker), what="broker 4 leading after SIGCONT")

        # SIGKILL: its kernel closes its connections and its listener. The
        # controller sees the heartbeat connection close, finds the listener
        # refusing connections and fences it then, without waiting for the
        # session to run out.
        killed_at = time.monotonic()
        broker.kill()
        wait_for(lambda: 4 not in brokers_seen_by(observer), timeout=SESSION_TIMEOUT_MS / 1000 + 10,
                 what="broker 4 fenced", interval=0.01)
        fenced_after = time.monotonic() - killed_at
        print(f"broker 4 fenced {fenced_after:.2f}s after SIGKILL (session timeout {SESSION_TIMEOUT_MS} ms)")
        assert fenced_after < (SESSION_TIMEOUT_MS - HEARTBEAT_INTERVAL_MS) / 1000 - 0.2, fenced_after
        for node in cluster.nodes:  # (the others apply the fencing a moment later)
            wait_for(lambda: (lambda md: 4 not in md.brokers and all(
                md.topics["via-broker"].partitions[p].leader == -1 for p in on_broker))(
                AdminClient({"bootstrap.servers": node.bootstrap}).list_topics(timeout=5)), timeout=5,
                what=f"broker 4 fenced and its partitions leaderless in node {node.node_id}'s metadata")

        # Restart: it registers again, is unfenced, and leads its partitions
        # again, with their records.
        broker.start()
        for node in cluster.nodes + [broker]:
            wait_for(lambda: brokers_seen_by(node) == {1, 2, 3, 4}, what=f"broker 4 back in node {node.node_id}")
        wait_for(lambda: all(AdminClient({"bootstrap.servers": observer.bootstrap}).list_topics(timeout=5).topics[
            "via-broker"].partitions[p].leader == 4 for p in on_broker), what="broker 4 leading again")
        got = wait_for(lambda: (lambda g: g if g == on_broker_values else None)(
            consume(broker.bootstrap, "via-broker", on_broker, len(on_broker_values), timeout=10)),
            what="the records of broker 4's partitions after the restart")


def test_controller_only_quorum_with_one_broker():
    """Kafka's production layout: the voters have the controller role only
    (a CONTROLLER listener and no partitions) and node 4 is the one broker."""
    cluster = Cluster(3, extra_env=TIMING)
    for node in cluster.nodes:
        node.env.update({
            "STRATA_PROCESS_ROLES": "controller",
            "STRATA_LISTENERS": f"CONTROLLER://127.0.0.1:{node.controller_port}",
            "STRATA_ADVERTISED_LISTENERS": "",
        })
        node.port = node.controller_port  # what Broker.start waits on
    cluster.format()
    broker = broker_only_node(cluster, 4)
    with running(cluster, broker):
        cluster.start().wait_ready()
        broker.start().wait_ready(timeout=20)
        wait_for(lambda: brokers_seen_by(broker) == {4}, what="broker 4 registered and unfenced")
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("only", num_partitions=3, replication_factor=1)])["only"].result(timeout=20)
        wait_for(lambda: (lambda m: "only" in m.topics and all(
            p.leader == 4 for p in m.topics["only"].partitions.values()))(admin.list_topics(timeout=5)),
            what="the topic led by broker 4")
        producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all"})
        for i in range(90):
            producer.produce("only", value=f"v{i}".encode(), partition=i % 3)
        assert producer.flush(30) == 0
        got = consume(broker.bootstrap, "only", range(3), 90)
        assert len(got) == 90, len(got)


if __name__ == "__main__":
    run_tests([test_broker_only_node_serves_and_is_fenced_and_unfenced, test_controller_only_quorum_with_one_broker])
