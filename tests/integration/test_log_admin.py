#!/usr/bin/python3
"""DescribeLogDirs, DescribeTopicPartitions and DeleteRecords, which none of
the installed Python clients speak, encoded by hand here from Kafka's schemas
(the clients that do use them: Kafka's Java admin client and its tools, the
strata CLI, librdkafka's DeleteRecords: tests/compat's 0081)."""

import socket
import struct

from harness import Broker, _Reader, _recv_exactly, _uvarint, run_tests

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def call(port, api_key, version, body, flexible):
    client_id = b"strata-it"
    header = struct.pack(">hhih", api_key, version, 7, len(client_id)) + client_id + (b"\x00" if flexible else b"")
    payload = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        r = _Reader(_recv_exactly(sock, size))
    assert r.take(">i") == 7
    if flexible:
        r.skip_tags()
    return r


def describe_log_dirs(port):
    """DescribeLogDirs v1 (not flexible), every topic. -> (dir, {(topic, partition): size})"""
    r = call(port, 35, 1, struct.pack(">i", -1), flexible=False)
    r.take(">i")  # throttle
    dirs = []
    for _ in range(r.take(">i")):
        error = r.take(">h")
        path = r.data[r.pos + 2:r.pos + 2 + r.take(">h")].decode()
        r.pos += len(path.encode())
        sizes = {}
        for _ in range(r.take(">i")):
            n = r.take(">h")
            topic = r.data[r.pos:r.pos + n].decode()
            r.pos += n
            for _ in range(r.take(">i")):
                index, size, lag, future = r.take(">iqq?")
                sizes[(topic, index)] = size
        dirs.append((error, path, sizes))
    return dirs


def describe_topic_partitions(port, topics, limit, cursor=None):
    """DescribeTopicPartitions v0 (flexible). -> ([(topic, error, [partitions])], next cursor or None)"""
    body = _uvarint(len(topics) + 1)
    for t in topics:
        body += _uvarint(len(t) + 1) + t.encode() + b"\x00"
    body += struct.pack(">i", limit)
    if cursor is None:
        body += struct.pack(">b", -1)
    else:
        body += struct.pack(">b", 1) + _uvarint(len(cursor[0]) + 1) + cursor[0].encode() + struct.pack(">i", cursor[1]) + b"\x00"
    body += b"\x00"
    r = call(port, 75, 0, body, flexible=True)
    r.take(">i")
    out = []
    for _ in range(r.uvarint() - 1):
        error = r.take(">h")
        name = r.compact_string()
        r.pos += 16 + 1  # topic id, is_internal
        partitions = []
        for _ in range(r.uvarint() - 1):
            perr, index, leader, epoch = r.take(">hiii")
            for _ in range(5):  # replicas, isr, elr, last known elr, offline
                n = r.uvarint() - 1
                r.pos += 4 * max(n, 0)
            r.skip_tags()
            partitions.append((index, leader))
        r.take(">i")  # authorized operations
        r.skip_tags()
        out.append((name, error, [p[0] for p in partitions]))
    next_cursor = None
    if r.take(">b") == 1:
        next_cursor = (r.compact_string(), r.take(">i"))
        r.skip_tags()
    return out, next_cursor


def test_describe_log_dirs_reports_partition_sizes():
    with Broker() as broker:
        client = AdminClient({"bootstrap.servers": broker.bootstrap})  # alive until the result is in
        client.create_topics([NewTopic("sized", num_partitions=2, replication_factor=1)])["sized"].result(timeout=15)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(100):
            producer.produce("sized", b"x" * 1000, partition=0)
        producer.flush(10)
        [(error, path, sizes)] = describe_log_dirs(broker.port)
        assert error == 0
        assert path == broker.data_dir, (path, broker.data_dir)
        assert sizes[("sized", 0)] > 100 * 1000, sizes
        assert sizes[("sized", 1)] == 0, sizes


def test_describe_topic_partitions_pages_with_a_cursor():
    with Broker() as broker:
        client = AdminClient({"bootstrap.servers": broker.bootstrap})
        for name, n in (("alpha", 3), ("beta", 2)):
            client.create_topics([NewTopic(name, num_partitions=n, replication_factor=1)])[name].result(timeout=15)
        topics, cursor = describe_topic_partitions(broker.port, [], 2)
        assert topics == [("alpha", 0, [0, 1])] and cursor == ("alpha", 2), (topics, cursor)
        topics, cursor = describe_topic_partitions(broker.port, [], 2, cursor)
        assert topics == [("alpha", 0, [2]), ("beta", 0, [0])] and cursor == ("beta", 1), (topics, cursor)
        topics, cursor = describe_topic_partitions(broker.port, [], 2, cursor)
        assert topics == [("beta", 0, [1])] and cursor is None, (topics, cursor)
        topics, cursor = describe_topic_partitions(broker.port, ["beta", "nope"], 100)
        assert topics == [("beta", 0, [0, 1]), ("nope", 3, [])], topics


def delete_records(port, topic, offsets, timeout_ms):
    """DeleteRecords v0: {partition: offset}. -> {partition: (error, low watermark)}"""
    name = topic.encode()
    body = struct.pack(">ih", 1, len(name)) + name + struct.pack(">i", len(offsets))
    for partition, offset in sorted(offsets.items()):
        body += struct.pack(">iq", partition, offset)
    body += struct.pack(">i", timeout_ms)
    r = call(port, 21, 0, body, flexible=False)
    r.take(">i")  # throttle
    results = {}
    for _ in range(r.take(">i")):
        name_size = r.take(">h")
        r.pos += name_size  # the topic's name
        for _ in range(r.take(">i")):
            partition, low, error = r.take(">iqh")
            results[partition] = (error, low)
    return results


def test_delete_records_with_timeout_zero_answers_the_leaders_deletes():
    """Kafka deletes on the leader in the request path whatever TimeoutMs
    says (the timeout bounds only its wait for the followers), so TimeoutMs 0
    still gets each partition's own answer: its new low watermark, or
    OFFSET_OUT_OF_RANGE for an offset beyond the high watermark or below -1
    (librdkafka's 0081 sends exactly this)."""
    OFFSET_OUT_OF_RANGE = 1
    with Broker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("trimmed", num_partitions=4, replication_factor=1)])["trimmed"].result(15)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        for partition in range(4):
            for i in range(10):
                producer.produce("trimmed", b"r%d" % i, partition=partition)
        assert producer.flush(15) == 0
        results = delete_records(broker.port, "trimmed", {0: 4, 1: -1, 2: 11, 3: -1001}, timeout_ms=0)
        assert results == {0: (0, 4), 1: (0, 10), 2: (OFFSET_OUT_OF_RANGE, -1), 3: (OFFSET_OUT_OF_RANGE, -1)}, results
        # The deletes happened: a second call sees the moved log start offsets.
        again = delete_records(broker.port, "trimmed", {0: 4, 1: 10}, timeout_ms=0)
        assert again == {0: (0, 4), 1: (0, 10)}, again


if __name__ == "__main__":
    run_tests([test_describe_log_dirs_reports_partition_sizes, test_describe_topic_partitions_pages_with_a_cursor,
               test_delete_records_with_timeout_zero_answers_the_leaders_deletes])
