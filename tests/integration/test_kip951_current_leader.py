#!/usr/bin/python3
"""KIP-951 leader discovery on three combined nodes: a Produce (v10+) or a
Fetch (v16+) that reaches a broker which does not lead the partition (any
more) is answered with the partition's current leader and leader epoch
(the per-partition tagged CurrentLeader) and that leader's endpoint on the
listener the request came in on (the response's tagged NodeEndpoints), so
that a client (librdkafka 2.4+, the Java client 3.7+) moves at once instead
of waiting for a metadata refresh.

Sent raw (kafka-python stops at Produce v8 and Fetch v11):
- a leadership moved by a SIGTERM controlled shutdown, the old leader
  restarted as a follower: Produce v11 there gets NOT_LEADER_OR_FOLLOWER
  naming the new leader at its new epoch and its endpoint; Produce v9 the
  error alone; a consumer's Fetch v16 with the old leader epoch gets
  FENCED_LEADER_EPOCH with the same; a follower's Fetch v16 (ReplicaState)
  gets NOT_LEADER_OR_FOLLOWER with the leader and no endpoints, as Kafka's;
- a partition the broker holds no replica of: Produce v11 and Fetch v16 get
  NOT_LEADER_OR_FOLLOWER naming its leader; Fetch v15 the error alone.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, _Reader, _uvarint, registered_brokers, run_tests, wait_for  # noqa: E402
from test_alter_partition import compact_array, metadata, partitions, roundtrip  # noqa: E402

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402

NONE, NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH = 0, 6, 74
MOVED, ELSEWHERE = "kip951", "kip951-elsewhere"


def compact_string(s):
    b = s.encode()
    return _uvarint(len(b) + 1) + b


def tags(r):
    """A tagged-field section: {tag: raw bytes}."""
    out = {}
    for _ in range(r.uvarint()):
        tag = r.uvarint()
        size = r.uvarint()
        out[tag] = r.data[r.pos:r.pos + size]
        r.pos += size
    return out


def nullable_string(r):
    n = r.uvarint()
    if n == 0:
        return None
    s = r.data[r.pos:r.pos + n - 1].decode()
    r.pos += n - 1
    return s


def leader_id_and_epoch(raw):
    """CurrentLeader (LeaderIdAndEpoch), or None when the tag is absent."""
    if raw is None:
        return None
    r = _Reader(raw)
    leader, epoch = r.take(">ii")
    tags(r)
    assert r.pos == len(raw), raw
    return leader, epoch


def node_endpoints(raw):
    """NodeEndpoints: {node id: (host, port, rack)}; {} when the tag is absent."""
    out = {}
    if raw is None:
        return out
    r = _Reader(raw)
    for _ in range(r.uvarint() - 1):
        node = r.take(">i")
        host = nullable_string(r)
        port = r.take(">i")
        rack = nullable_string(r)
        tags(r)
        out[node] = (host, port, rack)
    assert r.pos == len(raw), raw
    return out


def record_batch(value):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    builder.append(0, timestamp=None, key=None, value=value, headers=[])
    return bytes(builder.build())


def produce(port, version, topic, partition=0):
    """Produce (v9+, flexible) of one record, acks=1: (error, CurrentLeader or
    None, NodeEndpoints)."""
    records = record_batch(b"kip951")
    part = struct.pack(">i", partition) + _uvarint(len(records) + 1) + records + b"\x00"
    body = (b"\x00" + struct.pack(">hi", 1, 10000)  # no transactional id, acks, timeout
            + compact_array([compact_string(topic) + compact_array([part]) + b"\x00"]) + b"\x00")
    r = roundtrip(port, 0, version, body)
    assert r.uvarint() == 2  # one topic
    r.compact_string()
    assert r.uvarint() == 2  # one partition
    index, error = r.take(">ih")
    assert index == partition
    r.take(">qqq")  # base offset, log append time, log start offset
    for _ in range(r.uvarint() - 1):  # record errors
        r.take(">i")
        nullable_string(r)
        tags(r)
    nullable_string(r)  # error message
    current = leader_id_and_epoch(tags(r).get(0))
    tags(r)  # the topic's
    r.take(">i")  # throttle
    endpoints = node_endpoints(tags(r).get(0))
    assert r.pos == len(r.data)
    return error, current, endpoints


def fetch(port, version, topic_id, leader_epoch=-1, replica_id=None):
    """Fetch (v13+, by topic id) of partition 0 from offset 0, no wait: (error,
    CurrentLeader or None, NodeEndpoints). `replica_id`: a follower's fetch
    (ReplicaState, tag 1)."""
    part = struct.pack(">iiqiqi", 0, leader_epoch, 0, -1, -1, 1 << 20) + b"\x00"
    body = (struct.pack(">iiibii", 0, 1, 1 << 20, 0, 0, -1)
            + compact_array([topic_id + compact_array([part]) + b"\x00"])
            + compact_array([])  # forgotten topics
            + compact_string(""))  # rack id
    if replica_id is None:
        body += b"\x00"
    else:
        state = struct.pack(">iq", replica_id, -1) + b"\x00"
        body += _uvarint(1) + _uvarint(1) + _uvarint(len(state)) + state
    r = roundtrip(port, 1, version, body)
    r.take(">i")  # throttle
    assert r.take(">h") == NONE
    r.take(">i")  # session id
    assert r.uvarint() == 2
    assert r.data[r.pos:r.pos + 16] == topic_id
    r.pos += 16
    assert r.uvarint() == 2
    index, error = r.take(">ih")
    assert index == 0
    r.take(">qqq")
    n = r.uvarint()  # aborted transactions (nullable)
    for _ in range(max(n - 1, 0)):
        r.take(">qq")
        tags(r)
    r.take(">i")  # preferred read replica
    n = r.uvarint()  # records
    r.pos += max(n - 1, 0)
    current = leader_id_and_epoch(tags(r).get(1))
    tags(r)  # the topic's
    endpoints = node_endpoints(tags(r).get(0))
    assert r.pos == len(r.data)
    return error, current, endpoints


def endpoint_of(cluster, node_id):
    """(host, port, rack) of `node_id` as Metadata v12 lists it on the
    PLAINTEXT listener: what NodeEndpoints must say."""
    r = roundtrip(cluster.node(node_id).port, 3, 12, compact_array([]) + b"\x00\x00\x00")
    r.take(">i")  # throttle
    for _ in range(r.uvarint() - 1):
        node = r.take(">i")
        host = nullable_string(r)
        port = r.take(">i")
        rack = nullable_string(r)
        tags(r)
        if node == node_id:
            assert port == cluster.node(node_id).port
            return host, port, rack
    raise AssertionError(f"Metadata lists no broker {node_id}")


def test_produce_and_fetch_name_the_new_leader_after_a_controlled_shutdown():
    with Cluster(3, extra_env={"STRATA_MIN_INSYNC_REPLICAS": "2"}) as cluster:
        for node in cluster.nodes:
            node.wait_ready(timeout=30)
        admin = AdminClient({"bootstrap.servers": ",".join(n.bootstrap for n in cluster.nodes)})
        wait_for(lambda: registered_brokers(admin) == 3, what="three registered brokers")
        admin.create_topics([NewTopic(MOVED, num_partitions=1, replica_assignment=[[1, 2, 3]]),
                             NewTopic(ELSEWHERE, num_partitions=1, replica_assignment=[[2]])])[MOVED].result(20)
        wait_for(lambda: len(partitions(cluster, MOVED).get(0, (0, 0, [], []))[3]) == 3, timeout=20,
                 what="the topic's full ISR")
        old = cluster.node(1)
        wait_for(lambda: metadata(old.port, MOVED)["partitions"].get(0, (-1,))[0] == 1, what="node 1 leading")
        md = metadata(old.port, MOVED)
        topic_id, (_, old_epoch, _, _) = md["topic_id"], md["partitions"][0]

        # The leader itself: no tagged fields.
        assert produce(old.port, 11, MOVED) == (NONE, None, {})
        assert fetch(old.port, 16, topic_id, old_epoch) == (NONE, None, {})

        # SIGTERM: node 1 hands the leadership to another in-sync replica,
        # then comes back as a follower.
        old.stop()
        wait_for(lambda: partitions(cluster, MOVED).get(0, (1,))[0] in (2, 3), what="a new leader")
        old.start()
        old.wait_ready(timeout=30)
        wait_for(lambda: metadata(old.port, MOVED)["partitions"].get(0, (1,))[0] in (2, 3), timeout=20,
                 what="node 1 knowing the new leader")
        new_leader, new_epoch, _, _ = metadata(old.port, MOVED)["partitions"][0]
        # The partitions follow the image a moment after Metadata does.
        wait_for(lambda: produce(old.port, 11, MOVED)[0] != 3, what="node 1's partitions loaded")
        assert new_epoch > old_epoch
        print(f"leader 1 (epoch {old_epoch}) -> {new_leader} (epoch {new_epoch})")
        expected = {new_leader: endpoint_of(cluster, new_leader)}

        for version in (10, 11):
            got = produce(old.port, version, MOVED)
            assert got == (NOT_LEADER_OR_FOLLOWER, (new_leader, new_epoch), expected), (got, new_leader, new_epoch)
        assert produce(old.port, 9, MOVED) == (NOT_LEADER_OR_FOLLOWER, None, {})
        # A consumer still at the old epoch: fenced, and told where to go.
        for version in (16, 17):
            assert fetch(old.port, version, topic_id, old_epoch) == (FENCED_LEADER_EPOCH, (new_leader, new_epoch),
                                                                    expected)
        assert fetch(old.port, 15, topic_id, old_epoch) == (FENCED_LEADER_EPOCH, None, {})
        # A follower's fetch: the leader and epoch, no endpoints.
        assert fetch(old.port, 16, topic_id, new_epoch, replica_id=3) == (NOT_LEADER_OR_FOLLOWER,
                                                                          (new_leader, new_epoch), {})
        # The new leader takes the produce.
        assert produce(cluster.node(new_leader).port, 11, MOVED)[0] == NONE

        # A partition node 1 holds no replica of.
        md = metadata(old.port, ELSEWHERE)
        other_id, (other_leader, other_epoch, _, _) = md["topic_id"], md["partitions"][0]
        assert other_leader == 2
        expected = {2: endpoint_of(cluster, 2)}
        assert produce(old.port, 11, ELSEWHERE) == (NOT_LEADER_OR_FOLLOWER, (2, other_epoch), expected)
        assert fetch(old.port, 16, other_id) == (NOT_LEADER_OR_FOLLOWER, (2, other_epoch), expected)
        assert fetch(old.port, 15, other_id) == (NOT_LEADER_OR_FOLLOWER, None, {})


if __name__ == "__main__":
    run_tests([test_produce_and_fetch_name_the_new_leader_after_a_controlled_shutdown])
