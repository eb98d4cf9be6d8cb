#!/usr/bin/python3
"""Which error a broker that is not a group's or a transactional id's
coordinator answers, on three nodes: before __consumer_offsets and
__transaction_state exist, and once they do with one replica per partition
(so the other brokers do not host the coordinator's partition at all). Kafka's GroupCoordinator
and TransactionStateManager answer NOT_COORDINATOR there (the client asks
FindCoordinator again); COORDINATOR_LOAD_IN_PROGRESS only while the
coordinator loads, and COORDINATOR_NOT_AVAILABLE only for a coordinator
that is not running. Strata answered COORDINATOR_NOT_AVAILABLE. Requests
are encoded by hand at fixed versions (OffsetFetch v3, FindCoordinator v1,
InitProducerId v0)."""

import socket
import struct
import time

from harness import Cluster, _Reader, _recv_exactly, run_tests

NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS = 16, 15, 14

ENV = {"STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
       "STRATA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1", "STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "3",
       "STRATA_TRANSACTION_STATE_LOG_MIN_ISR": "1", "STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def call(port, api_key, version, body):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        header = struct.pack(">hhih", api_key, version, 1, 4) + b"test"
        payload = header + body
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        r = _Reader(_recv_exactly(sock, size))
        r.take(">i")  # correlation id
        return r


def find_coordinator(port, key, key_type, timeout=20.0):
    """FindCoordinator v1 until it names a node (the internal topic is being created at first)."""
    deadline = time.monotonic() + timeout
    while True:
        r = call(port, 10, 1, string(key) + struct.pack(">b", key_type))
        _, error = r.take(">ih")
        if error == 0:
            message_len = r.take(">h")
            if message_len > 0:
                r.take(f">{message_len}s")
            return r.take(">i")
        assert error in (COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS), error
        assert time.monotonic() < deadline, f"FindCoordinator kept answering {error}"
        time.sleep(0.1)


def offset_fetch_error(port, group):
    """OffsetFetch v3 for every partition of `group`: the top-level error."""
    r = call(port, 9, 3, string(group) + struct.pack(">i", -1))
    _, topics = r.take(">ii")
    assert topics == 0, topics
    return r.take(">h")


def init_producer_id_error(port, txn_id):
    r = call(port, 22, 0, string(txn_id) + struct.pack(">i", 60000))
    return r.take(">ih")[1]


def until_settled(ask, timeout=20.0, passing=(COORDINATOR_LOAD_IN_PROGRESS,)):
    """Asks until the answer is not one of `passing` (by default
    COORDINATOR_LOAD_IN_PROGRESS: the coordinator loading)."""
    deadline = time.monotonic() + timeout
    while True:
        error = ask()
        if error not in passing or time.monotonic() > deadline:
            return error
        time.sleep(0.1)


# The coordinator FindCoordinator named may not have the internal topic in
# its own metadata image yet (it answers NOT_COORDINATOR meanwhile, as
# Kafka's does; a loaded parallel CI run saw it once).
SETTLING_COORDINATOR = (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR)


def test_a_broker_without_the_partition_answers_not_coordinator():
    with Cluster(3, extra_env=ENV) as cluster:
        first = cluster.nodes[0]
        # Before any FindCoordinator neither internal topic exists: nobody coordinates anything.
        for node in cluster.nodes:
            assert offset_fetch_error(node.port, "early") == NOT_COORDINATOR, node.node_id
            assert init_producer_id_error(node.port, "early") == NOT_COORDINATOR, node.node_id
        for group in ("orders", "billing", "audit"):
            coordinator = find_coordinator(first.port, group, 0)
            assert until_settled(lambda: offset_fetch_error(cluster.node(coordinator).port, group),
                                 passing=SETTLING_COORDINATOR) == 0
            for node in cluster.nodes:
                if node.node_id != coordinator:
                    error = until_settled(lambda: offset_fetch_error(node.port, group))
                    assert error == NOT_COORDINATOR, (group, node.node_id, coordinator, error)
        for txn_id in ("payments", "refunds", "ledger"):
            coordinator = find_coordinator(first.port, txn_id, 1)
            assert until_settled(lambda: init_producer_id_error(cluster.node(coordinator).port, txn_id),
                                 passing=SETTLING_COORDINATOR) == 0
            for node in cluster.nodes:
                if node.node_id != coordinator:
                    error = until_settled(lambda: init_producer_id_error(node.port, txn_id))
                    assert error == NOT_COORDINATOR, (txn_id, node.node_id, coordinator, error)


if __name__ == "__main__":
    run_tests([test_a_broker_without_the_partition_answers_not_coordinator])
