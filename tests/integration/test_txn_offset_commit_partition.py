#!/usr/bin/python3
"""TxnOffsetCommit writes a group's offsets to the group's own partition of
__consumer_offsets (confluent-kafka-python's send_offsets_to_transaction,
real stratad processes).

Regression: the handler moved the request into its completion callback in
the same call that read the group id for the partition, and GCC evaluates
arguments right to left, so the offsets went to partition 0 (the partition
of the empty group id). On three nodes a group coordinator that does not
lead partition 0 answered NOT_COORDINATOR forever (librdkafka's test 0103
failed); on one node the commit looked right until a restart, which found
the offsets in partition 0 without a marker (an open transaction there)
and none in the group's partition."""

import time
import uuid

from harness import Broker, Cluster, run_tests

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from test_transactions import FAST, create_topic, txn_producer

OFFSETS_PARTITIONS = int(FAST["STRATA_OFFSETS_TOPIC_NUM_PARTITIONS"])


def partition_of(group, partitions=OFFSETS_PARTITIONS):
    """Kafka's Utils.abs(group.hashCode()) % partitions (Java's String.hashCode)."""
    h = 0
    for unit in group.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    h = h - (1 << 32) if h >= 1 << 31 else h
    return (h & 0x7FFFFFFF if h == -(1 << 31) else abs(h)) % partitions


def group_where(accept):
    for i in range(1000):
        group = f"txn-group-{i}"
        if accept(partition_of(group)):
            return group
    raise AssertionError("no group id fits")


def commit_offsets_in_a_transaction(bootstrap, group, txn_id, offset):
    producer = txn_producer(bootstrap, txn_id)
    meta = Consumer({"bootstrap.servers": bootstrap, "group.id": group}).consumer_group_metadata()
    producer.begin_transaction()
    producer.produce("out", value=b"x")
    producer.send_offsets_to_transaction([TopicPartition("src", 0, offset)], meta, 15)
    producer.commit_transaction(30)


def committed(bootstrap, group, timeout=30):
    """The group's committed offset of src-0, asking again while the
    coordinator answers NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS.

    Both are retriable in Kafka, but librdkafka's committed() resends the
    OffsetFetch to the same broker a few times and then fails. On three
    nodes that happened about 1 run in 18: right after FindCoordinator
    created __consumer_offsets, the broker that answered it named a
    coordinator whose metadata image did not have the topic yet (on a loaded
    machine it lagged by up to a second, e.g. across a metadata leader
    change), and that broker answers NOT_COORDINATOR, as Kafka's does
    (test_coordinator_not_leader.py). A new consumer asks FindCoordinator
    again, as a Java consumer would."""
    deadline = time.monotonic() + timeout
    while True:
        reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
        try:
            return reader.committed([TopicPartition("src", 0)], timeout=15)[0].offset
        except KafkaException as e:
            retriable = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                         KafkaError.COORDINATOR_NOT_AVAILABLE)
            if e.args[0].code() not in retriable or time.monotonic() > deadline:
                raise
        finally:
            reader.close()
        time.sleep(0.2)


def test_txn_offsets_are_in_the_groups_partition_after_a_restart():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "src", 1)
        create_topic(broker.bootstrap, "out", 1)
        group = group_where(lambda p: p != 0)
        commit_offsets_in_a_transaction(broker.bootstrap, group, "txn-restart", 42)
        assert committed(broker.bootstrap, group) == 42
        broker.kill()  # SIGKILL: the group's offsets come back from its partition's log
        broker.start().wait_ready()
        assert committed(broker.bootstrap, group) == 42


def offsets_leaders(bootstrap):
    """Partition -> leader of __consumer_offsets, once every partition has one."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        topic = admin.list_topics(timeout=5).topics.get("__consumer_offsets")
        if topic and len(topic.partitions) == OFFSETS_PARTITIONS and all(
                p.leader >= 0 for p in topic.partitions.values()):
            return {p.id: p.leader for p in topic.partitions.values()}
        time.sleep(0.2)
    raise AssertionError("__consumer_offsets has no leaders")


def test_txn_offset_commit_to_a_coordinator_that_does_not_lead_partition_0():
    env = dict(FAST, STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR="3", STRATA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="3",
               STRATA_TRANSACTION_STATE_LOG_MIN_ISR="2")
    with Cluster(3, extra_env=env) as cluster:
        for node in cluster.nodes:
            node.wait_ready(20)
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        create_topic(bootstrap, "src", 1, rf=3)
        create_topic(bootstrap, "out", 1, rf=3)
        committed(bootstrap, f"probe-{uuid.uuid4()}")  # FindCoordinator makes __consumer_offsets
        leaders = offsets_leaders(bootstrap)
        group = group_where(lambda p: leaders[p] != leaders[0])
        commit_offsets_in_a_transaction(bootstrap, group, "txn-three", 42)
        assert committed(bootstrap, group) == 42


if __name__ == "__main__":
    run_tests([
        test_txn_offsets_are_in_the_groups_partition_after_a_restart,
        test_txn_offset_commit_to_a_coordinator_that_does_not_lead_partition_0,
    ])
