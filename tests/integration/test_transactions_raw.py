#!/usr/bin/python3
"""Transactions at the wire level against one stratad, with requests encoded
by hand (kafka-python 2.0 has neither InitProducerId nor the KIP-664 APIs):
KIP-890 part 1 (a transactional produce to a partition the transaction does
not hold is refused with INVALID_TXN_STATE; after AddPartitionsToTxn it is
accepted), DescribeTransactions, ListTransactions with its filters, and
DescribeProducers."""

import socket
import struct
import time

from harness import Broker, _Reader, _recv_exactly, _uvarint, run_tests

from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.api import RequestHeader
from kafka.protocol.produce import ProduceRequest_v3
from kafka.record.default_records import DefaultRecordBatchBuilder


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.correlation = 0

    def raw(self, api_key, version, body, flexible):
        """Sends header + body; returns the response body (after the header)."""
        self.correlation += 1
        client = b"raw-test"
        header = struct.pack(">hhih", api_key, version, self.correlation, len(client)) + client
        if flexible:
            header += b"\x00"
        payload = header + body
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(self.sock, 4))[0]
        frame = _recv_exactly(self.sock, size)
        assert struct.unpack(">i", frame[:4])[0] == self.correlation
        r = _Reader(frame)
        r.take(">i")
        if flexible and api_key != 18:
            r.skip_tags()
        return r

    def kafka_python(self, request):
        self.correlation += 1
        header = RequestHeader(request, correlation_id=self.correlation, client_id="raw-test")
        payload = header.encode() + request.encode()
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(self.sock, 4))[0]
        frame = _recv_exactly(self.sock, size)
        return request.RESPONSE_TYPE.decode(frame[4:])


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def compact_string(s):
    b = s.encode()
    return _uvarint(len(b) + 1) + b


def find_coordinator(conn, txn_id):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = conn.raw(10, 1, string(txn_id) + struct.pack(">b", 1), False)
        r.take(">i")
        if r.take(">h") == 0:
            return
        time.sleep(0.1)
    raise AssertionError("no transaction coordinator")


def init_producer_id(conn, txn_id, timeout_ms=60000):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = conn.raw(22, 1, string(txn_id) + struct.pack(">i", timeout_ms), False)
        r.take(">i")
        error, pid, epoch = r.take(">h"), r.take(">q"), r.take(">h")
        if error == 0:
            return pid, epoch
        assert error in (14, 15, 51), error  # load in progress / not available / concurrent: retry
        time.sleep(0.1)
    raise AssertionError("InitProducerId did not succeed")


def add_partitions(conn, txn_id, pid, epoch, topic, partitions):
    body = string(txn_id) + struct.pack(">qh", pid, epoch) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", len(partitions)) + b"".join(struct.pack(">i", p) for p in partitions)
    r = conn.raw(24, 1, body, False)
    r.take(">i")
    errors = []
    for _ in range(r.take(">i")):
        r.pos += 2 + r.take(">h")  # topic name
        for _ in range(r.take(">i")):
            errors.append(r.take(">ih"))
    return errors


def produce_txn(conn, txn_id, pid, epoch, sequence, topic, partition, value):
    builder = DefaultRecordBatchBuilder(2, 0, True, pid, epoch, sequence, 1 << 20)
    builder.append(0, int(time.time() * 1000), None, value, [])
    request = ProduceRequest_v3(transactional_id=txn_id, required_acks=-1, timeout=10000,
                                topics=[(topic, [(partition, bytes(builder.build()))])])
    response = conn.kafka_python(request)
    return response.topics[0][1][0][1]  # the partition's error code


def test_produce_to_a_partition_not_in_the_transaction_is_refused():
    with Broker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("v", num_partitions=2, replication_factor=1)])["v"].result(20)
        conn = Connection(broker.port)
        find_coordinator(conn, "raw")
        pid, epoch = init_producer_id(conn, "raw")
        assert add_partitions(conn, "raw", pid, epoch, "v", [0]) == [(0, 0)]
        # KIP-890 part 1: partition 1 was never added.
        assert produce_txn(conn, "raw", pid, epoch, 0, "v", 1, b"stray") == 48  # INVALID_TXN_STATE
        assert produce_txn(conn, "raw", pid, epoch, 0, "v", 0, b"ok") == 0
        # Once added, partition 1 takes it too.
        assert add_partitions(conn, "raw", pid, epoch, "v", [1]) == [(1, 0)]
        assert produce_txn(conn, "raw", pid, epoch, 0, "v", 1, b"late") == 0
        # A stale epoch is refused by the coordinator (AddPartitionsToTxn
        # v1: INVALID_PRODUCER_EPOCH, KIP-588).
        assert add_partitions(conn, "raw", pid, epoch - 1 if epoch > 0 else 5, "v", [0]) == [(0, 47)]

        # DescribeTransactions v0.
        r = conn.raw(65, 0, _uvarint(2) + compact_string("raw") + b"\x00", True)
        r.take(">i")
        assert r.uvarint() - 1 == 1
        error, txn, state = r.take(">h"), r.compact_string(), r.compact_string()
        timeout, start, got_pid, got_epoch = r.take(">iqqh")
        topics = {}
        for _ in range(r.uvarint() - 1):
            name = r.compact_string()
            topics[name] = sorted(r.take(">i") for _ in range(r.uvarint() - 1))
            r.skip_tags()
        assert (error, txn, state, timeout, got_pid, got_epoch) == (0, "raw", "Ongoing", 60000, pid, epoch)
        assert topics == {"v": [0, 1]} and start > 0, (topics, start)

        # ListTransactions v1: filters by state, producer id and duration.
        def list_txns(states=(), pids=(), duration=-1):
            body = _uvarint(len(states) + 1) + b"".join(compact_string(s) for s in states)
            body += _uvarint(len(pids) + 1) + b"".join(struct.pack(">q", p) for p in pids)
            body += struct.pack(">q", duration) + b"\x00"
            for _ in range(100):
                r = conn.raw(66, 1, body, True)
                r.take(">i")
                top_error = r.take(">h")
                if top_error != 14:  # COORDINATOR_LOAD_IN_PROGRESS: partitions of __transaction_state still loading
                    break
                time.sleep(0.1)
            assert top_error == 0, top_error
            unknown = [r.compact_string() for _ in range(r.uvarint() - 1)]
            found = []
            for _ in range(r.uvarint() - 1):
                found.append((r.compact_string(), r.take(">q"), r.compact_string()))
                r.skip_tags()
            return unknown, found
        assert list_txns() == ([], [("raw", pid, "Ongoing")])
        assert list_txns(states=["Ongoing"], pids=[pid]) == ([], [("raw", pid, "Ongoing")])
        assert list_txns(states=["CompleteCommit"]) == ([], [])
        assert list_txns(pids=[pid + 1]) == ([], [])
        assert list_txns(states=["Bogus"]) == (["Bogus"], [])
        assert list_txns(duration=3_600_000) == ([], [])

        # DescribeProducers v0: the open transaction starts at offset 0 of v-0.
        body = _uvarint(2) + compact_string("v") + _uvarint(2) + struct.pack(">i", 0) + b"\x00" + b"\x00"
        r = conn.raw(61, 0, body, True)
        r.take(">i")
        assert r.uvarint() - 1 == 1
        assert r.compact_string() == "v"
        assert r.uvarint() - 1 == 1
        index, error = r.take(">ih")
        n = r.uvarint() - 1
        r.pos += max(n, 0)  # error message (null: n = -1)
        producers = []
        for _ in range(r.uvarint() - 1):
            producers.append(r.take(">qiiqiq"))
            r.skip_tags()
        assert (index, error) == (0, 0)
        assert len(producers) == 1 and producers[0][0] == pid and producers[0][5] == 0, producers


if __name__ == "__main__":
    run_tests([test_produce_to_a_partition_not_in_the_transaction_is_refused])
