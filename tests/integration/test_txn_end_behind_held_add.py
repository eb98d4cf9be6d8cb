#!/usr/bin/python3
"""An EndTxn pipelined behind a held AddPartitionsToTxn is decided after it,
as Kafka (which handles a connection's requests one at a time) decides it.

The case of chaos seed 524 (04:43:50): a librdkafka producer commits a
transaction whose markers are slow, begins the next one (its
AddPartitionsToTxn is held by the coordinator while the previous
transaction completes) and aborts it at once; librdkafka sends the EndTxn
(ABORT) on the same connection without waiting for the AddPartitionsToTxn's
answer. Strata ran the two concurrently: the EndTxn met the previous
PrepareCommit and got INVALID_TXN_STATE (fatal for the client), and the
held request then opened a transaction the client had given up. Here the
markers are made slow for real: the data partition's leader (another node
than the coordinator) is paused with SIGSTOP while the first transaction
commits, and resumed a moment after the two requests are sent.

Three real stratad processes; requests encoded by hand so that the two are
pipelined on one connection exactly as librdkafka does."""

import socket
import struct
import time

from confluent_kafka.admin import AdminClient, NewTopic

from harness import Cluster, _recv_exactly, _Reader, run_tests, wait_for
from test_transactions_raw import Connection, add_partitions, init_producer_id, string

TXN_ID = "held-add-then-abort"
TOPIC = "held-add"
INVALID_TXN_STATE = 48


def coordinator_of(conn, txn_id):
    """FindCoordinator v1 (key type TRANSACTION): the coordinator's node id."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = conn.raw(10, 1, string(txn_id) + struct.pack(">b", 1), False)
        r.take(">i")
        error = r.take(">h")
        n = r.take(">h")
        r.pos += max(n, 0)  # error message
        node_id = r.take(">i")
        if error == 0:
            return node_id
        time.sleep(0.1)
    raise AssertionError("no transaction coordinator")


def end_txn_body(pid, epoch, commit):
    return string(TXN_ID) + struct.pack(">qhb", pid, epoch, 1 if commit else 0)


def end_txn(conn, pid, epoch, commit):
    r = conn.raw(26, 1, end_txn_body(pid, epoch, commit), False)
    r.take(">i")
    return r.take(">h")


def frame(correlation, api_key, version, body):
    client = b"raw-test"
    payload = struct.pack(">hhih", api_key, version, correlation, len(client)) + client + body
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock, correlation):
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    r = _Reader(_recv_exactly(sock, size))
    assert r.take(">i") == correlation
    return r


def describe_state(conn):
    """DescribeTransactions v0 (flexible): (error, state, partitions)."""
    body = b"\x02" + bytes([len(TXN_ID) + 1]) + TXN_ID.encode() + b"\x00"
    r = conn.raw(65, 0, body, True)
    r.take(">i")
    assert r.uvarint() - 1 == 1
    error = r.take(">h")
    r.compact_string()
    state = r.compact_string()
    return error, state


def test_end_txn_waits_for_the_held_add_partitions_before_it():
    with Cluster(3) as cluster:
        first = cluster.nodes[0]
        conn = Connection(first.port)
        coordinator = coordinator_of(conn, TXN_ID)
        # The data partition on another node: its markers go over the network,
        # and pausing that node holds them without touching the coordinator.
        other = next(n for n in cluster.nodes if n.node_id != coordinator)
        admin = AdminClient({"bootstrap.servers": first.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 1, replica_assignment=[[other.node_id]])])[TOPIC].result(20)
        conn = Connection(cluster.node(coordinator).port)
        coordinator_of(conn, TXN_ID)
        pid, epoch = init_producer_id(conn, TXN_ID)

        def added():
            errors = add_partitions(conn, TXN_ID, pid, epoch, TOPIC, [0])
            assert all(e in (0, 3, 51) for _, e in errors), errors  # UNKNOWN_TOPIC while the topic spreads
            return all(e == 0 for _, e in errors)
        wait_for(added, timeout=20, what="the first transaction's AddPartitionsToTxn")

        other.pause()
        try:
            # PrepareCommit is written and answered; its marker waits on the
            # paused leader.
            assert end_txn(conn, pid, epoch, True) == 0
            time.sleep(0.1)
            # The next transaction's AddPartitionsToTxn (held while the
            # previous one completes) and, pipelined behind it, its abort.
            body = string(TXN_ID) + struct.pack(">qh", pid, epoch) + struct.pack(">i", 1) + string(TOPIC)
            body += struct.pack(">i", 1) + struct.pack(">i", 0)
            conn.sock.sendall(frame(101, 24, 1, body) + frame(102, 26, 1, end_txn_body(pid, epoch, False)))
            time.sleep(0.15)
        finally:
            other.resume()
        conn.sock.settimeout(10)
        r = read_frame(conn.sock, 101)
        r.take(">i")
        assert r.take(">i") == 1
        r.pos += 2 + r.take(">h")
        assert r.take(">i") == 1
        add_error = r.take(">ih")[1]
        r = read_frame(conn.sock, 102)
        r.take(">i")
        end_error = r.take(">h")
        # Decided in order: the add joins the transaction begun right after the
        # commit completes, and the abort ends that transaction.
        assert (add_error, end_error) == (0, 0), (
            f"AddPartitionsToTxn answered {add_error}, EndTxn(ABORT) {end_error}"
            + (" (decided before the held AddPartitionsToTxn)" if end_error == INVALID_TXN_STATE else ""))
        # And nothing is left open: the abort completes (with the paused node
        # back, its marker is written at once).
        wait_for(lambda: describe_state(conn) == (0, "CompleteAbort"), timeout=10,
                 what=f"CompleteAbort (now {describe_state(conn)})")


if __name__ == "__main__":
    run_tests([test_end_txn_waits_for_the_held_add_partitions_before_it])
