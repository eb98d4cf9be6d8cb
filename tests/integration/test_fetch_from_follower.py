#!/usr/bin/python3
"""KIP-392, fetch from the closest replica (issue 20, item 5), on three
combined nodes in racks a, b and c with
replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector
and a topic of three partitions led by brokers 1, 2 and 3, each on all three.

- Raw Fetch v11 (the consumer's rack_id in the request): the leader of
  near-0 (broker 1, rack a) answers a consumer in rack b with
  preferred_read_replica 2 and no records, and serves racks a, none and
  unknown itself; follower 2 serves a consumer's v11 fetch up to its high
  watermark (the leader's, once it has fetched it), answers an offset past its
  log end OFFSET_OUT_OF_RANGE (clients then go back to the leader), a newer
  leader epoch UNKNOWN_LEADER_EPOCH, and a v10 fetch (no rack, no KIP-392)
  NOT_LEADER_OR_FOLLOWER.
- confluent-kafka consumers with client.rack b, then c, then none, each in
  its own group, read every record exactly once; the brokers' per-topic
  bytes-out counters (/metrics) show who served them: all from broker 2 for
  rack b, all from broker 3 for rack c, none from the others; without a rack
  every leader serves its own partition.
- A follower that dies is no longer preferred: once the controller fences
  killed broker 2, Metadata lists it nowhere and the leader serves a rack-b
  fetch itself (preferred_read_replica -1), and a consumer in rack b reads
  every record from the leaders; once broker 2 is back in the ISR the leader
  sends rack b to it again. (The client half, going back to the leader when
  the preferred replica's connection fails, is the client's: Kafka's Java
  consumer and librdkafka from 2.x drop a preferred replica that is offline
  or disconnected; librdkafka 2.0.2, Debian's, keeps it until its 5-minute
  lease expires while the leader id is unchanged.)
"""

import os
import re
import struct
import sys
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, registered_brokers, run_tests  # noqa: E402
from test_alter_partition import metadata, roundtrip, wait_for  # noqa: E402

RACK_AWARE = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
RACKS = {1: "a", 2: "b", 3: "c"}
TOPIC = "near"
ASSIGNMENT = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]  # near-p is led by broker p + 1
RECORDS = 3000
VALUE_BYTES = 1000
ENV = {"STRATA_REPLICA_SELECTOR_CLASS": RACK_AWARE, "STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}
NONE, OFFSET_OUT_OF_RANGE, NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH = 0, 1, 6, 75


def fetch(port, partition, offset, version=11, rack="", leader_epoch=-1, topic=TOPIC):
    """One consumer Fetch (v10 or v11, non-flexible) of one partition:
    {error, hw, preferred, records, last_offset}."""
    name = topic.encode()
    body = struct.pack(">iiiibii", -1, 0, 1, 1 << 20, 0, 0, -1)
    body += struct.pack(">ih", 1, len(name)) + name
    body += struct.pack(">iiiqqi", 1, partition, leader_epoch, offset, -1, 1 << 20)
    body += struct.pack(">i", 0)  # forgotten topics
    if version >= 11:
        body += struct.pack(">h", len(rack)) + rack.encode()
    r = roundtrip(port, 1, version, body, flexible=False)
    r.take(">i")  # throttle
    assert r.take(">h") == NONE
    r.take(">i")  # session
    assert r.take(">i") == 1
    name_length = r.take(">h")
    r.pos += name_length
    assert r.take(">i") == 1
    out = {}
    assert r.take(">i") == partition
    out["error"] = r.take(">h")
    out["hw"] = r.take(">q")
    r.take(">q")  # last stable offset
    r.take(">q")  # log start offset
    aborted = r.take(">i")
    r.pos += max(aborted, 0) * 16
    out["preferred"] = r.take(">i") if version >= 11 else -1
    size = r.take(">i")
    data = r.data[r.pos:r.pos + max(size, 0)]
    # Whole batches only: base offset (8), length (4), then last offset delta at 23.
    records, last, pos = 0, -1, 0
    while pos + 61 <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        if pos + 12 + length > len(data):
            break
        last = base + struct.unpack_from(">i", data, pos + 23)[0]
        records += struct.unpack_from(">i", data, pos + 57)[0]
        pos += 12 + length
    out["records"], out["last_offset"] = records, last
    return out


def bytes_out(node):
    """The broker's strata_bytes_out_total for TOPIC (consumers' reads)."""
    _, _, text = node.http_get("/metrics")
    m = re.search(r'^strata_bytes_out_total\{[^}]*topic="' + TOPIC + r'"[^}]*\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def consume_all(bootstrap, group, rack, expected, timeout=40):
    """Reads the topic from the beginning in its own group until every value
    of `expected` is in; returns {value: times read}."""
    config = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "fetch.wait.max.ms": 100}
    if rack is not None:
        config["client.rack"] = rack
    consumer = Consumer(config)
    consumer.subscribe([TOPIC])
    seen = {}
    deadline = time.monotonic() + timeout
    try:
        while not expected <= seen.keys():
            assert time.monotonic() < deadline, f"{len(expected - seen.keys())} of {len(expected)} never read"
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error():
                    continue
                seen[msg.value()] = seen.get(msg.value(), 0) + 1
    finally:
        consumer.close()
    return seen


def produce(bootstrap, first, count):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 5})
    values = set()
    for i in range(first, first + count):
        value = f"{i:07d}-".encode().ljust(VALUE_BYTES, b"x")
        producer.produce(TOPIC, value=value, partition=i % len(ASSIGNMENT))
        values.add(value)
        producer.poll(0)
    assert producer.flush(30) == 0
    return values


def racked_cluster():
    cluster = Cluster(3, extra_env=ENV)
    for node in cluster.nodes:
        node.env["STRATA_BROKER_RACK"] = RACKS[node.node_id]
    return cluster


def setup(cluster):
    cluster.start()
    cluster.wait_ready()
    bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wait_for(lambda: registered_brokers(admin) == 3, timeout=20, what="three registered brokers")
    for f in admin.create_topics([NewTopic(TOPIC, num_partitions=3, replica_assignment=ASSIGNMENT)]).values():
        f.result(timeout=20)
    n1 = cluster.node(1)

    def in_sync():
        parts = metadata(n1.port, TOPIC)["partitions"]
        return len(parts) == 3 and all(parts[p][0] == ASSIGNMENT[p][0] and sorted(parts[p][3]) == [1, 2, 3]
                                       for p in range(3))
    wait_for(in_sync, timeout=20, what="near's partitions led by 1, 2, 3 with all in sync")
    return bootstrap


def test_preferred_read_replica_and_follower_reads():
    cluster = racked_cluster()
    try:
        bootstrap = setup(cluster)
        n1, n2, n3 = (cluster.node(i) for i in (1, 2, 3))
        values = produce(bootstrap, 0, RECORDS)
        end = RECORDS // 3  # near-0's log end: every third record

        # The leader of near-0 (broker 1, rack a).
        wait_for(lambda: fetch(n2.port, 0, 0)["hw"] == end, what="follower 2's HW of near-0 at the leader's")
        r = fetch(n1.port, 0, 0, rack="b")
        assert r["error"] == NONE and r["preferred"] == 2 and r["records"] == 0 and r["hw"] == end, r
        assert fetch(n1.port, 0, 0, rack="c")["preferred"] == 3
        for rack in ("a", "", "zone-x"):
            r = fetch(n1.port, 0, 0, rack=rack)
            assert r["error"] == NONE and r["preferred"] == -1 and r["records"] > 0, (rack, r)
        # Follower 2: serves v11 up to its HW, whatever the rack.
        r = fetch(n2.port, 0, 0, rack="b")
        assert r["error"] == NONE and r["preferred"] == -1 and r["records"] > 0 and r["last_offset"] < end, r
        assert fetch(n2.port, 0, end)["records"] == 0
        assert fetch(n2.port, 0, end + 100)["error"] == OFFSET_OUT_OF_RANGE
        epoch = metadata(n1.port, TOPIC)["partitions"][0][1]
        assert fetch(n2.port, 0, 0, leader_epoch=epoch)["error"] == NONE
        assert fetch(n2.port, 0, 0, leader_epoch=epoch + 1)["error"] == UNKNOWN_LEADER_EPOCH
        assert fetch(n2.port, 0, 0, version=10)["error"] == NOT_LEADER_OR_FOLLOWER
        print(f"  raw Fetch v11: leader 1 -> preferred 2 for rack b, 3 for rack c; follower 2 serves to its "
              f"HW {end}, {OFFSET_OUT_OF_RANGE=} past it", flush=True)

        # Real consumers. Every byte a consumer reads is counted by the broker
        # that served it; the leaders' preferred-replica answers carry none.
        payload = RECORDS * VALUE_BYTES
        for rack, server in (("b", 2), ("c", 3), (None, None)):
            before = {n.node_id: bytes_out(n) for n in cluster.nodes}
            seen = consume_all(bootstrap, f"g-{rack}", rack, values)
            twice = [v for v, n in seen.items() if n > 1]
            assert not twice and seen.keys() == values, (len(twice), len(seen))
            served = {n.node_id: bytes_out(n) - before[n.node_id] for n in cluster.nodes}
            if server:
                assert served[server] >= payload, served
                assert all(served[i] == 0 for i in served if i != server), served
            else:
                assert all(served[i] >= payload / 3 for i in served), served
            print(f"  client.rack={rack}: {len(seen)} records, each once; bytes served per broker "
                  f"{ {i: int(b) for i, b in served.items()} }", flush=True)
    finally:
        cluster.stop()


def test_a_dead_follower_is_no_longer_preferred():
    cluster = racked_cluster()
    try:
        bootstrap = setup(cluster)
        n1, n2 = cluster.node(1), cluster.node(2)
        values = produce(bootstrap, 0, 300)
        end = len([i for i in range(300) if i % 3 == 0])
        wait_for(lambda: fetch(n2.port, 0, 0)["hw"] == end, what="follower 2's HW of near-0 at the leader's")
        assert fetch(n1.port, 0, 0, rack="b")["preferred"] == 2

        t0 = time.monotonic()
        n2.kill()

        def leader_serves_rack_b():
            r = fetch(n1.port, 0, 0, rack="b")
            return r["error"] == NONE and r["preferred"] == -1 and r["records"] > 0
        wait_for(leader_serves_rack_b, timeout=20, what="leader 1 serving rack b itself after broker 2's death")
        took = time.monotonic() - t0
        assert metadata(n1.port, TOPIC)["brokers"] == [1, 3], metadata(n1.port, TOPIC)
        # A consumer in rack b (and new to the group) reads everything from the leaders.
        bootstrap_alive = ",".join(n.bootstrap for n in cluster.nodes if n.node_id != 2)
        seen = consume_all(bootstrap_alive, "g-after-death", "b", values)
        assert seen.keys() == values and all(n == 1 for n in seen.values())
        print(f"  broker 2 killed: leader 1 serves rack b itself {took * 1000:.0f} ms later; a rack-b consumer "
              f"read all {len(seen)} records once", flush=True)

        n2.start()
        wait_for(lambda: fetch(n1.port, 0, 0, rack="b")["preferred"] == 2, timeout=30,
                 what="broker 2, back in the ISR, preferred for rack b again")
    finally:
        cluster.stop()


if __name__ == "__main__":
    run_tests([test_preferred_read_replica_and_follower_reads, test_a_dead_follower_is_no_longer_preferred])
