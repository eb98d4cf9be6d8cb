#!/usr/bin/python3
"""KIP-599's controller mutation quota (`controller_mutation_rate`) on a real
broker: CreateTopics v7, CreatePartitions v3 and DeleteTopics v6 (the strict
versions, sent raw: the Python clients stop below them) take a client's
partition mutations from a token bucket; the request that overdraws it is
still served, the next ones are answered THROTTLING_QUOTA_EXCEEDED per
topic with throttle_time_ms until the bucket refills; other clients are not
touched. librdkafka's AdminClient (CreateTopics v4, permissive) gets its
topics created and is told to back off with throttle_time_ms."""

import socket
import struct
import time
import uuid

from harness import Broker, run_tests
from test_quotas import admin_client, alter

from confluent_kafka.admin import AdminClient, NewTopic

CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS = 19, 20, 37
THROTTLING_QUOTA_EXCEEDED = 89


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def compact_string(s):
    if s is None:
        return b"\x00"
    data = s.encode()
    return uvarint(len(data) + 1) + data


class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int8(self):
        return struct.unpack(">b", self.take(1))[0]

    def int16(self):
        return struct.unpack(">h", self.take(2))[0]

    def int32(self):
        return struct.unpack(">i", self.take(4))[0]

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def tagged(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def compact_array(self, item):
        n = self.uvarint()
        return None if n == 0 else [item(self) for _ in range(n - 1)]


def flexible_call(port, api_key, version, body, client_id):
    """One request with header v2; the response body after header v1."""
    header = struct.pack(">hhih", api_key, version, 11, len(client_id)) + client_id.encode() + b"\x00"
    payload = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", recv_exactly(sock, 4))[0]
        frame = recv_exactly(sock, size)
    reader = Reader(frame)
    assert reader.int32() == 11
    reader.tagged()
    return reader


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def create_topics(port, client_id, topics):
    """CreateTopics v7; topics: [(name, partitions)]. Returns (throttle_ms, {name: error})."""
    body = uvarint(len(topics) + 1)
    for name, partitions in topics:
        body += compact_string(name) + struct.pack(">ih", partitions, 1) + uvarint(1) + uvarint(1) + b"\x00"
    body += struct.pack(">i?", 15000, False) + b"\x00"
    r = flexible_call(port, CREATE_TOPICS, 7, body, client_id)
    throttle = r.int32()

    def config(r):
        entry = (r.compact_string(), r.compact_string(), r.int8(), r.int8(), r.int8())
        r.tagged()
        return entry

    def topic(r):
        name = r.compact_string()
        r.take(16)
        error = r.int16()
        r.compact_string()
        r.int32()
        r.int16()
        r.compact_array(config)
        r.tagged()
        return name, error

    return throttle, dict(r.compact_array(topic))


def delete_topics(port, client_id, names):
    """DeleteTopics v6 by name. Returns (throttle_ms, {name: error})."""
    body = uvarint(len(names) + 1)
    for name in names:
        body += compact_string(name) + b"\x00" * 16 + b"\x00"
    body += struct.pack(">i", 15000) + b"\x00"
    r = flexible_call(port, DELETE_TOPICS, 6, body, client_id)
    throttle = r.int32()

    def result(r):
        name = r.compact_string()
        r.take(16)
        error = r.int16()
        r.compact_string()
        r.tagged()
        return name, error

    return throttle, dict(r.compact_array(result))


def create_partitions(port, client_id, topics):
    """CreatePartitions v3; topics: [(name, new total)]. Returns (throttle_ms, {name: error})."""
    body = uvarint(len(topics) + 1)
    for name, count in topics:
        body += compact_string(name) + struct.pack(">i", count) + b"\x00" + b"\x00"
    body += struct.pack(">i?", 15000, False) + b"\x00"
    r = flexible_call(port, CREATE_PARTITIONS, 3, body, client_id)
    throttle = r.int32()

    def result(r):
        name = r.compact_string()
        error = r.int16()
        r.compact_string()
        r.tagged()
        return name, error

    return throttle, dict(r.compact_array(result))


def test_strict_versions_refuse_mutations_while_the_bucket_is_in_debt():
    with Broker() as broker:
        kp = admin_client(broker)
        try:
            # 1 partition/s: a bucket of 1 x 11 samples x 1 s = 11 partitions.
            assert alter(kp, [("client-id", "ops")], [("controller_mutation_rate", 1.0)]) == (0, None)
        finally:
            kp.close()
        tag = uuid.uuid4().hex[:6]
        big, small, late = f"big-{tag}", f"small-{tag}", f"late-{tag}"
        # 10 + 4 of 11: the second topic overdraws the bucket, and is still
        # created (Kafka lets through the mutation that takes it below 0).
        throttle, errors = create_topics(broker.port, "ops", [(big, 10), (small, 4)])
        assert errors == {big: 0, small: 0}, errors
        assert throttle == 0, throttle  # strict: recorded without a check
        # Now 3 in debt: every mutation is refused, for the 3 s it takes the
        # bucket to refill to 0 at 1/s (less the time since).
        throttle, errors = create_topics(broker.port, "ops", [(late, 1)])
        assert errors == {late: THROTTLING_QUOTA_EXCEEDED}, errors
        assert 1000 <= throttle <= 3000, throttle
        throttle, errors = create_partitions(broker.port, "ops", [(big, 11)])
        assert errors == {big: THROTTLING_QUOTA_EXCEEDED}, errors
        assert 0 < throttle <= 3000, throttle
        throttle, errors = delete_topics(broker.port, "ops", [small])
        assert errors == {small: THROTTLING_QUOTA_EXCEEDED}, errors
        assert 0 < throttle <= 3000, throttle
        # A topic the controller refuses anyway takes nothing and is refused
        # for its own reason (TOPIC_ALREADY_EXISTS), not throttled.
        assert create_topics(broker.port, "ops", [(big, 1)])[1] == {big: 36}
        # Another client is not touched.
        throttle, errors = create_topics(broker.port, "someone-else", [(f"other-{tag}", 30)])
        assert (throttle, errors) == (0, {f"other-{tag}": 0}), (throttle, errors)
        # Once the debt is paid back, the client mutates again: the first
        # mutation takes the bucket below 0 again (about -1), a second
        # after another second.
        time.sleep(3.1)
        throttle, errors = create_topics(broker.port, "ops", [(late, 1)])
        assert errors == {late: 0}, errors
        time.sleep(1.0)
        throttle, errors = delete_topics(broker.port, "ops", [small])
        assert errors == {small: 0}, errors
        # The throttling is counted per client, as Kafka's throttle-time.
        metrics = broker.http_get("/metrics")[2]
        assert 'strata_quota_throttle_time_seconds_count{type="ControllerMutation",user="",client_id="ops"} 3' in \
            metrics, metrics


def test_librdkafka_admin_client_is_throttled_not_refused():
    """librdkafka sends CreateTopics v4 and DeleteTopics v1, older than the
    strict versions: its mutations are all served, and the response's
    throttle_time_ms (which librdkafka reports to throttle_cb) asks it to
    wait until the bucket is out of debt."""
    with Broker() as broker:
        kp = admin_client(broker)
        try:
            assert alter(kp, [("client-id", "rdkafka-admin")], [("controller_mutation_rate", 1.0)]) == (0, None)
        finally:
            kp.close()
        throttles = []
        admin = AdminClient({"bootstrap.servers": broker.bootstrap, "client.id": "rdkafka-admin",
                             "throttle_cb": lambda event: throttles.append(event.throttle_time)})
        tag = uuid.uuid4().hex[:6]
        # 15 + 6 partitions from a bucket of 11: both created.
        for name, partitions in [(f"a-{tag}", 15), (f"b-{tag}", 6)]:
            futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
            for future in futures.values():
                future.result(30)
        deadline = time.monotonic() + 10
        while not throttles and time.monotonic() < deadline:
            admin.poll(0.1)
        metadata = admin.list_topics(timeout=10)
        assert len(metadata.topics[f"a-{tag}"].partitions) == 15
        assert len(metadata.topics[f"b-{tag}"].partitions) == 6
        # The first overdrew by 4 (4 s at 1/s), the second took it to -10.
        assert throttles, "librdkafka saw no throttle"
        assert 3.0 <= max(throttles) <= 10.0, throttles


if __name__ == "__main__":
    run_tests([
        test_strict_versions_refuse_mutations_while_the_bucket_is_in_debt,
        test_librdkafka_admin_client_is_throttled_not_refused,
    ])
