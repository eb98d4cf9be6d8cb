#!/usr/bin/python3
"""transactional.id.expiration.ms (Kafka's removeExpiredTransactionalIds):
a transactional id with no transaction open or ending, idle for longer than
the expiration, is removed by its coordinator (a tombstone in
__transaction_state, so it stays removed across a restart); an id whose
transaction is open is kept however old. The removed id's next
InitProducerId starts it afresh with a new producer id. Requests encoded by
hand (DescribeTransactions, ListTransactions), as in test_transactions_raw."""

import time

from harness import Broker, _uvarint, run_tests
from test_transactions_raw import (Connection, add_partitions, compact_string, find_coordinator,
                                   init_producer_id)

from confluent_kafka.admin import AdminClient, NewTopic

TRANSACTIONAL_ID_NOT_FOUND = 105
ENV = {"STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "5",
       "STRATA_TRANSACTIONAL_ID_EXPIRATION_MS": "1500",
       "STRATA_TRANSACTION_REMOVE_EXPIRED_TRANSACTION_CLEANUP_INTERVAL_MS": "200"}


def describe(conn, txn_id):
    """DescribeTransactions v0 for one id: (error, state, producer id),
    retried while its coordinator is loading."""
    for _ in range(100):
        r = conn.raw(65, 0, _uvarint(2) + compact_string(txn_id) + b"\x00", True)
        r.take(">i")
        assert r.uvarint() - 1 == 1
        error, got, state = r.take(">h"), r.compact_string(), r.compact_string()
        _timeout, _start, pid, _epoch = r.take(">iqqh")
        assert got == txn_id
        if error != 14:  # COORDINATOR_LOAD_IN_PROGRESS
            return error, state, pid
        time.sleep(0.1)
    raise AssertionError(f"{txn_id}: coordinator still loading")


def listed(conn):
    """ListTransactions v0: {id: state}."""
    for _ in range(100):
        r = conn.raw(66, 0, _uvarint(1) + _uvarint(1) + b"\x00", True)
        r.take(">i")
        error = r.take(">h")
        if error == 14:
            time.sleep(0.1)
            continue
        assert error == 0, error
        for _ in range(r.uvarint() - 1):
            r.compact_string()
        found = {}
        for _ in range(r.uvarint() - 1):
            txn_id, _pid, state = r.compact_string(), r.take(">q"), r.compact_string()
            r.skip_tags()
            found[txn_id] = state
        return found
    raise AssertionError("ListTransactions: still loading")


def wait_gone(conn, txn_id, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if describe(conn, txn_id)[0] == TRANSACTIONAL_ID_NOT_FOUND:
            return
        time.sleep(0.2)
    raise AssertionError(f"{txn_id} was not removed within {timeout} s")


def test_idle_transactional_id_expires_and_an_open_one_stays():
    broker = Broker(extra_env=ENV)
    with broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("x", num_partitions=1, replication_factor=1)])["x"].result(20)
        conn = Connection(broker.port)
        find_coordinator(conn, "idle")
        idle_pid, _ = init_producer_id(conn, "idle")
        find_coordinator(conn, "busy")
        busy_pid, busy_epoch = init_producer_id(conn, "busy", timeout_ms=600000)
        assert add_partitions(conn, "busy", busy_pid, busy_epoch, "x", [0]) == [(0, 0)]
        assert describe(conn, "idle") == (0, "Empty", idle_pid)

        wait_gone(conn, "idle")
        # Past the expiration too, but its transaction is open.
        assert describe(conn, "busy") == (0, "Ongoing", busy_pid)
        assert listed(conn) == {"busy": "Ongoing"}

        # The tombstone is in __transaction_state: a restart replays it.
        conn.sock.close()
        broker.stop()
        broker.start().wait_ready()
        conn = Connection(broker.port)
        find_coordinator(conn, "idle")
        assert describe(conn, "idle")[0] == TRANSACTIONAL_ID_NOT_FOUND
        assert describe(conn, "busy") == (0, "Ongoing", busy_pid)

        # Started afresh: a new producer id at epoch 0.
        pid, epoch = init_producer_id(conn, "idle")
        assert pid != idle_pid and epoch == 0, (pid, idle_pid, epoch)
        assert describe(conn, "idle") == (0, "Empty", pid)
        conn.sock.close()


if __name__ == "__main__":
    run_tests([test_idle_transactional_id_expires_and_an_open_one_stays])
