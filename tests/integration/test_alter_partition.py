#!/usr/bin/python3
"""AlterPartition (api key 56) against a three-node cluster, sent raw over a
socket to the active controller's CONTROLLER listener as a partition leader
would (no client library speaks it): shrinking the ISR of a partition with
three replicas commits a PartitionChangeRecord that every node applies (each
node's Metadata shows the smaller ISR); a stale partition epoch gets
INVALID_UPDATE_VERSION; a wrong broker epoch STALE_BROKER_EPOCH; a controller
that is not the active one NOT_CONTROLLER; ApiVersions on the controller
listener lists the API.

The brokers replicate, so the leader would soon ask for the dropped follower
to rejoin the ISR (it is caught up): the test stops that follower (SIGSTOP)
before shrinking the ISR under the leader's feet."""

import re
import signal
import socket
import struct

from harness import Cluster, _Reader, _recv_exactly, _uvarint, registered_brokers, run_tests, wait_for

from confluent_kafka.admin import AdminClient, NewTopic

NONE, INVALID_REQUEST, NOT_CONTROLLER, FENCED_LEADER_EPOCH = 0, 42, 41, 74
STALE_BROKER_EPOCH, INVALID_UPDATE_VERSION, INELIGIBLE_REPLICA = 77, 95, 107


def roundtrip(port, api_key, version, body, flexible=True):
    """Sends one request (header v2 if flexible, else v1) and returns the
    response body past its header."""
    client_id = b"strata-it"
    header = struct.pack(">hhih", api_key, version, 7, len(client_id)) + client_id + (b"\x00" if flexible else b"")
    payload = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.settimeout(5)
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        frame = _recv_exactly(sock, size)
    r = _Reader(frame)
    assert r.take(">i") == 7
    if flexible:
        r.skip_tags()
    return r


def compact_array(items):
    return _uvarint(len(items) + 1) + b"".join(items)


def metadata(port, topic):
    """Metadata v12 for one topic (kafka-python stops at v5, before topic ids
    and leader epochs): {brokers, topic_id, partitions: {index: (leader,
    leader_epoch, replicas, isr)}}."""
    name = topic.encode()
    body = (compact_array([b"\x00" * 16 + _uvarint(len(name) + 1) + name + b"\x00"])
            + b"\x00" + b"\x00" + b"\x00")
    r = roundtrip(port, 3, 12, body)
    r.take(">i")  # throttle
    brokers = []
    for _ in range(r.uvarint() - 1):
        node_id = r.take(">i")
        r.compact_string()
        r.take(">i")
        n = r.uvarint()  # rack: nullable compact string
        r.pos += max(n - 1, 0)
        r.skip_tags()
        brokers.append(node_id)
    n = r.uvarint()  # cluster id
    r.pos += max(n - 1, 0)
    r.take(">i")  # controller id
    out = {"brokers": sorted(brokers), "partitions": {}}
    for _ in range(r.uvarint() - 1):
        out["error"] = r.take(">h")
        n = r.uvarint()
        r.pos += max(n - 1, 0)
        out["topic_id"] = r.data[r.pos:r.pos + 16]
        r.pos += 16
        r.take(">b")  # internal
        for _ in range(r.uvarint() - 1):
            r.take(">h")
            index, leader, leader_epoch = r.take(">iii")
            lists = []
            for _ in range(3):  # replicas, isr, offline
                lists.append([r.take(">i") for _ in range(r.uvarint() - 1)])
            r.skip_tags()
            out["partitions"][index] = (leader, leader_epoch, lists[0], lists[1])
        r.take(">i")  # authorized operations
        r.skip_tags()
    return out


def partitions(cluster, topic):
    """{partition: (leader, epoch, replicas, isr)} of `topic` as the first
    running node that knows it sees it; {} when none does."""
    for node in cluster.running():
        try:
            md = metadata(node.port, topic)
        except (OSError, ConnectionError, AssertionError, IndexError):
            continue
        if md["partitions"]:
            return md["partitions"]
    return {}


def alter_partition(port, version, broker_id, broker_epoch, topic_id, partition, leader_epoch, partition_epoch,
                    isr, isr_epochs=None):
    """AlterPartition v2 (NewIsr) or v3 (NewIsrWithEpochs) for one partition
    of one topic, by id. Returns (top-level error, partition result dict)."""
    if version >= 3:
        epochs = isr_epochs or [-1] * len(isr)
        members = compact_array([struct.pack(">iq", b, e) + b"\x00" for b, e in zip(isr, epochs)])
    else:
        members = compact_array([struct.pack(">i", b) for b in isr])
    part = struct.pack(">ii", partition, leader_epoch) + members + struct.pack(">bi", 0, partition_epoch) + b"\x00"
    topic = topic_id + compact_array([part]) + b"\x00"
    body = struct.pack(">iq", broker_id, broker_epoch) + compact_array([topic]) + b"\x00"
    r = roundtrip(port, 56, version, body)
    r.take(">i")  # throttle
    error = r.take(">h")
    result = None
    for _ in range(r.uvarint() - 1):
        assert r.data[r.pos:r.pos + 16] == topic_id
        r.pos += 16
        for _ in range(r.uvarint() - 1):
            index, code, leader, epoch = r.take(">ihii")
            members = [r.take(">i") for _ in range(r.uvarint() - 1)]
            recovery, partition_epoch_out = r.take(">bi")
            r.skip_tags()
            result = {"partition": index, "error": code, "leader": leader, "leader_epoch": epoch, "isr": members,
                      "leader_recovery_state": recovery, "partition_epoch": partition_epoch_out}
        r.skip_tags()
    return error, result


def api_versions(port):
    """ApiVersions v0: {api key: (min, max)}."""
    r = roundtrip(port, 18, 0, b"", flexible=False)
    assert r.take(">h") == 0
    return {key: (lo, hi) for key, lo, hi in (r.take(">hhh") for _ in range(r.take(">i")))}


def broker_epoch(node):
    """The broker epoch a node logged at its (latest) registration: no client
    API reports it."""
    found = re.findall(rf"broker {node.node_id}: registered with epoch (\d+)", node.log())
    assert found, f"node {node.node_id} has not registered"
    return int(found[-1])


def test_alter_partition_shrinks_the_isr_everywhere():
    with Cluster(3) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.nodes[0].bootstrap})
        wait_for(lambda: registered_brokers(admin) == 3, what="three registered brokers")
        admin.create_topics([NewTopic("isr", num_partitions=1, replication_factor=3)])["isr"].result(timeout=20)
        md = wait_for(lambda: (lambda m: m if m["partitions"] else None)(metadata(cluster.nodes[0].port, "isr")),
                      what="the topic in Metadata")
        topic_id = md["topic_id"]
        leader, leader_epoch, replicas, isr = md["partitions"][0]
        assert sorted(replicas) == [1, 2, 3] and sorted(isr) == [1, 2, 3], md
        epoch = broker_epoch(cluster.node(leader))

        active, _, _ = cluster.wait_for_leader()
        controller_port = cluster.node(active).controller_port
        assert api_versions(controller_port)[56] == (0, 3)

        # A controller that is not the active one refuses.
        standby = next(n for n in cluster.nodes if n.node_id != active)
        error, _ = alter_partition(standby.controller_port, 3, leader, epoch, topic_id, 0, leader_epoch, 0, isr)
        assert error == NOT_CONTROLLER, error

        # Shrink: drop one follower (not the active controller, which the
        # test keeps talking to), stopped first so that it cannot catch up
        # and be let back in. A new partition has partition epoch 0.
        followers = [b for b in isr if b != leader]
        dropped = next(b for b in followers if b != active)
        smaller = [leader] + [b for b in followers if b != dropped]
        cluster.node(dropped).pause()
        error, result = alter_partition(controller_port, 2, leader, epoch, topic_id, 0, leader_epoch, 0, smaller)
        assert error == NONE, error
        assert result["error"] == NONE, result
        assert result["isr"] == smaller and result["leader"] == leader, result
        assert result["leader_epoch"] == leader_epoch and result["partition_epoch"] == 1, result

        # Every running node applied the record.
        running = [n for n in cluster.nodes if n.node_id != dropped]
        for node in running:
            wait_for(lambda: metadata(node.port, "isr")["partitions"][0][3] == smaller,
                     what=f"the smaller ISR in node {node.node_id}'s Metadata")

        # The same request again, at the new epoch: the current state back.
        error, again = alter_partition(controller_port, 3, leader, epoch, topic_id, 0, leader_epoch, 1, smaller,
                                       [epoch, broker_epoch(cluster.node(smaller[1]))])
        assert error == NONE and again["error"] == NONE and again["partition_epoch"] == 1, again

        # The partition epoch the first request was based on is stale now.
        error, stale = alter_partition(controller_port, 2, leader, epoch, topic_id, 0, leader_epoch, 0, isr)
        assert error == NONE and stale["error"] == INVALID_UPDATE_VERSION, stale

        # A broker epoch that is not the leader's current one.
        error, result = alter_partition(controller_port, 2, leader, epoch + 1000, topic_id, 0, leader_epoch, 1,
                                        isr)
        assert error == STALE_BROKER_EPOCH and result is None, (error, result)

        # A broker epoch in the new ISR that is not that broker's (v3).
        error, result = alter_partition(controller_port, 3, leader, epoch, topic_id, 0, leader_epoch, 1, smaller,
                                        [epoch, 12345678])
        assert error == NONE and result["error"] == INELIGIBLE_REPLICA, result

        # A follower may not alter the partition.
        follower = smaller[1]
        error, result = alter_partition(controller_port, 2, follower, broker_epoch(cluster.node(follower)), topic_id,
                                        0, leader_epoch, 1, smaller)
        assert error == NONE and result["error"] == INVALID_REQUEST, result

        # Nothing of that changed the partition.
        for node in running:
            assert metadata(node.port, "isr")["partitions"][0][3] == smaller


if __name__ == "__main__":
    run_tests([test_alter_partition_shrinks_the_isr_everywhere])
