#!/usr/bin/python3
"""Leader elections on a three-node cluster, with `strata partition
elect-leaders` (ElectLeaders) and unclean.leader.election.enable:

- the whole ISR down, unclean election disabled (the default): the partition
  stays leaderless when an out-of-sync replica returns; `elect-leaders --type
  unclean` then makes that replica the leader, alone in the ISR, and what it
  never had is gone (the trade-off unclean election makes);
- the same with the topic's unclean.leader.election.enable=true: the
  returning replica is elected at once;
- a preferred election moves leadership back to the first assigned replica
  once it is in the ISR, answers ELECTION_NOT_NEEDED when it leads already,
  and PREFERRED_LEADER_NOT_AVAILABLE while it is down.

The unclean case needs both replicas down while the metadata quorum stays
up: its topics live on broker-only nodes 4 and 5 beside three controllers.
The preferred case runs on three combined nodes."""

import json
import time

from cli_support import ok, run
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from harness import Cluster, registered_brokers, run_tests
from test_alter_partition import metadata
from test_broker_only import broker_only_node, running


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")


def state(node, topic):
    """(leader, leader_epoch, replicas, isr) of partition 0 as `node` sees it."""
    try:
        return metadata(node.port, topic)["partitions"][0]
    except Exception:  # noqa: BLE001 - not there yet
        return None


def produce(bootstrap, topic, values):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 20000})
    for v in values:
        p.produce(topic, value=v.encode(), partition=0)
    assert p.flush(30) == 0


def consume_all(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}-{time.monotonic()}",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    c.assign([TopicPartition(topic, 0, 0)])
    values = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                break
            continue
        values.append(m.value().decode())
    c.close()
    return values


def create(cluster, topic, assignment, brokers=3, **config):
    admin = AdminClient({"bootstrap.servers": cluster.node(1).bootstrap})
    wait_for(lambda: registered_brokers(admin) == brokers, what=f"{brokers} brokers")
    conf = {"min.insync.replicas": "1"}
    conf.update(config)
    admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[assignment],
                                  config=conf)])[topic].result(timeout=20)
    wait_for(lambda: (lambda s: s if s and s[0] == assignment[0] and sorted(s[3]) == sorted(assignment) else None)(
        state(cluster.node(1), topic)), what=f"{topic} led by {assignment[0]} with a full ISR")


def test_unclean_election_by_request_and_by_config():
    cluster = Cluster(3)
    cluster.format()
    nodes = {4: broker_only_node(cluster, 4), 5: broker_only_node(cluster, 5)}
    with running(cluster, nodes[4]), running(cluster, nodes[5]):
        cluster.start().wait_ready()
        for node in nodes.values():
            node.start().wait_ready(timeout=20)
        create(cluster, "careful", [4, 5], brokers=5)
        create(cluster, "available", [4, 5], brokers=5, **{"unclean.leader.election.enable": "true"})
        # The epoch the "before" records are written at (both replicas up).
        first_epoch = {topic: state(cluster.node(1), topic)[1] for topic in ("careful", "available")}
        one = cluster.node(1).bootstrap
        for topic in ("careful", "available"):
            produce(one, topic, [f"before-{i}" for i in range(50)])
        nodes[5].kill()
        for topic in ("careful", "available"):
            wait_for(lambda: (lambda s: s and s[3] == [4])(state(cluster.node(1), topic)), what=f"{topic} ISR [4]")
        # Node 4 restarts and is elected again (it is the ISR): the "after"
        # records go in at a leader epoch node 5 never sees.
        epochs = {topic: state(cluster.node(1), topic)[1] for topic in ("careful", "available")}
        nodes[4].kill()
        nodes[4].start()
        for topic in ("careful", "available"):
            wait_for(lambda: (lambda s: s and s[0] == 4 and s[1] > epochs[topic])(state(cluster.node(1), topic)),
                     what=f"{topic} led by 4 again at a new epoch")
            produce(one, topic, [f"after-{i}" for i in range(50)])
        nodes[4].kill()
        for topic in ("careful", "available"):
            wait_for(lambda: (lambda s: s and s[0] == -1)(state(cluster.node(1), topic)), what=f"{topic} leaderless")

        # Node 5, out of sync, returns. Allowed by config: it leads at once.
        nodes[5].start()
        s = wait_for(lambda: (lambda s: s if s and s[0] == 5 else None)(state(cluster.node(1), "available")),
                     what="node 5 elected uncleanly by config")
        assert s[3] == [5], s
        # Not allowed: the partition waits for its ISR.
        time.sleep(1.0)
        assert state(cluster.node(1), "careful")[0] == -1, state(cluster.node(1), "careful")

        # Unless asked. Partition 7 does not exist.
        result = run(["partition", "elect-leaders", "--type", "unclean", "--topic", "careful", "--partition", "0",
                      "--partition", "7", "-o", "json"], cluster.node(1))
        assert result.code == 1, result  # partition 7 failed
        doc = json.loads(result.out)
        outcome = {p["partition"]: p["error"] for p in doc["partitions"]}
        assert outcome == {0: None, 7: "UNKNOWN_TOPIC_OR_PARTITION"}, doc
        s = wait_for(lambda: (lambda s: s if s and s[0] == 5 else None)(state(cluster.node(1), "careful")),
                     what="node 5 elected uncleanly by request")
        assert s[3] == [5], s
        # What only node 4 had is gone; what node 5 had is there.
        for topic in ("careful", "available"):
            values = consume_all(one, topic)
            assert values == [f"before-{i}" for i in range(50)], (topic, values[:3], len(values))
        # An unclean election where a leader exists is not needed.
        result = ok(["partition", "elect-leaders", "--type", "unclean", "--topic", "careful", "-o", "json"],
                    cluster.node(1))
        assert json.loads(result.out)["partitions"] == [
            {"topic": "careful", "partition": 0, "error": "ELECTION_NOT_NEEDED"}], result.out

        # Node 4 returns holding the "after" records, written at an epoch
        # node 5 never had, while node 5 has appended nothing at its own
        # epoch. Node 5 recorded its epoch at its log end (50) when elected
        # (Kafka's makeLeader), so it places node 4's last fetched epoch
        # exactly: the diverging epoch is the first one, ending at 50, and
        # node 4 truncates there and rejoins the ISR. (By batches alone node 5
        # could not place that epoch; answered with an undefined diverging
        # epoch, node 4 fetched past the leader's end for ever: a chaos run
        # left a partition so. Kafka's fallback for an epoch a leader truly
        # cannot place, OFFSET_OUT_OF_RANGE, stays for that case.)
        nodes[4].start()
        for topic in ("careful", "available"):
            wait_for(lambda: (lambda s: s if s and sorted(s[3]) == [4, 5] else None)(state(cluster.node(1), topic)),
                     timeout=30, what=f"node 4 back in {topic}'s ISR")
        for topic in ("careful", "available"):
            expected = (f"{topic}-0: leader 5 reports divergence at epoch {first_epoch[topic]} end offset 50; "
                        "truncating to 50")
            assert expected in nodes[4].log(), (expected, [line for line in nodes[4].log().splitlines()
                                                           if topic in line and ("diverg" in line or "past" in line)])
        for topic in ("careful", "available"):
            produce(one, topic, ["rejoined"])
            values = consume_all(one, topic)
            assert values == [f"before-{i}" for i in range(50)] + ["rejoined"], (topic, values[-3:], len(values))


def test_preferred_election():
    with Cluster(3) as cluster:
        create(cluster, "prefers-two", [2, 3, 1])
        cluster.node(2).kill()
        wait_for(lambda: (lambda s: s and s[0] == 3)(state(cluster.node(1), "prefers-two")), what="leader 3")
        result = run(["partition", "elect-leaders", "--topic", "prefers-two", "-o", "json"], cluster.node(1))
        assert result.code == 1, result
        assert json.loads(result.out)["partitions"][0]["error"] == "PREFERRED_LEADER_NOT_AVAILABLE", result.out
        cluster.node(2).start()
        wait_for(lambda: (lambda s: s and sorted(s[3]) == [1, 2, 3])(state(cluster.node(1), "prefers-two")),
                 what="node 2 back in the ISR")
        assert state(cluster.node(1), "prefers-two")[0] == 3
        result = ok(["partition", "elect-leaders", "--all-topic-partitions", "-o", "json"], cluster.node(1))
        assert {"topic": "prefers-two", "partition": 0, "error": None} in json.loads(result.out)["partitions"], \
            result.out
        wait_for(lambda: (lambda s: s and s[0] == 2)(state(cluster.node(1), "prefers-two")), what="leader 2 again")
        result = ok(["partition", "elect-leaders", "--topic", "prefers-two", "-o", "json"], cluster.node(1))
        assert json.loads(result.out)["partitions"][0]["error"] == "ELECTION_NOT_NEEDED", result.out


if __name__ == "__main__":
    run_tests([test_unclean_election_by_request_and_by_config, test_preferred_election])
