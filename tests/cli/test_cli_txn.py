#!/usr/bin/python3
"""`strata txn list|describe`, `strata producers describe` and
`strata consume --isolation` against a real stratad, with transactions made
by confluent-kafka-python (librdkafka): one aborted, one committed and one
left open on the same partition. The CLI's views are checked against what
the producers did (their producer ids from the broker, the open
transaction's first offset), and read_committed against read_uncommitted."""

import json
import os
import sys
import time

from cli_support import fails, ok

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Broker, run_tests  # noqa: E402

from confluent_kafka import Producer  # noqa: E402

FAST = {"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "3",
        "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "3"}


def txn_producer(broker, txn_id):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": txn_id, "linger.ms": 5,
                         "transaction.timeout.ms": 60000})
    producer.init_transactions(30)
    return producer


def send(producer, topic, values):
    producer.begin_transaction()
    for v in values:
        producer.produce(topic, value=v.encode(), partition=0)
    producer.flush(10)


def consume(broker, topic, isolation):
    out = ok(["consume", topic, "--isolation", isolation, "--format", "json"], broker).out
    return [json.loads(line)["value"] for line in out.splitlines()]


def listed(broker, *args):
    return {t["transactional_id"]: t for t in json.loads(ok(["-o", "json", "txn", "list", *args], broker).out)}


def test_txn_views_and_isolation():
    with Broker(extra_env=FAST) as broker:
        ok(["topic", "create", "pay", "-p", "2"], broker)
        aborted, committed, open_ = (txn_producer(broker, i) for i in ("cli-abort", "cli-commit", "cli-open"))
        # Partition 0: a0-a2 (0-2), ABORT marker (3), c0-c4 (4-8), COMMIT marker (9), o0-o1 (10-11) open.
        send(aborted, "pay", ["a0", "a1", "a2"])
        aborted.abort_transaction(10)
        send(committed, "pay", [f"c{i}" for i in range(5)])
        committed.commit_transaction(10)
        send(open_, "pay", ["o0", "o1"])

        # read_committed stops at the open transaction (the LSO) and skips the aborted one.
        assert consume(broker, "pay", "read_committed") == [f"c{i}" for i in range(5)]
        assert consume(broker, "pay", "read_uncommitted") == ["a0", "a1", "a2"] + [f"c{i}" for i in range(5)] + \
            ["o0", "o1"]

        # txn list: every id with its state and the coordinator (the only broker, node 1).
        every = listed(broker)
        assert {i: t["state"] for i, t in every.items()} == \
            {"cli-abort": "CompleteAbort", "cli-commit": "CompleteCommit", "cli-open": "Ongoing"}, every
        assert all(t["coordinator"] == 1 for t in every.values()), every
        assert len({t["producer_id"] for t in every.values()}) == 3, every
        assert set(listed(broker, "--state", "Ongoing")) == {"cli-open"}
        assert set(listed(broker, "--state", "CompleteCommit", "--state", "CompleteAbort")) == \
            {"cli-commit", "cli-abort"}
        commit_pid = every["cli-commit"]["producer_id"]
        assert set(listed(broker, "--producer-id", str(commit_pid))) == {"cli-commit"}
        time.sleep(0.3)
        assert set(listed(broker, "--state", "Ongoing", "--duration-filter", "100")) == {"cli-open"}
        assert listed(broker, "--state", "Ongoing", "--duration-filter", "PT10M") == {}
        table = ok(["txn", "list"], broker).out
        assert "TRANSACTIONAL-ID" in table and "cli-open" in table and "Ongoing" in table, table
        bad = fails(["txn", "list", "--state", "Bogus"], broker, code=2)
        assert "unknown transaction state: Bogus" in bad.err and "PrepareCommit" in bad.err, bad

        # txn describe: the open transaction's producer, timeout, start and partition.
        d = json.loads(ok(["-o", "json", "txn", "describe", "cli-open"], broker).out)
        assert d["state"] == "Ongoing" and d["producer_id"] == every["cli-open"]["producer_id"], d
        assert d["coordinator"] == 1 and d["transaction_timeout_ms"] == 60000, d
        assert d["partitions"] == [{"topic": "pay", "partition": 0}], d
        assert d["transaction_start_time_ms"] > 0 and d["transaction_duration_ms"] >= 300, d
        d = json.loads(ok(["-o", "json", "txn", "describe", "cli-commit"], broker).out)
        assert d["state"] == "CompleteCommit" and d["partitions"] == [] and d["producer_id"] == commit_pid, d
        table = ok(["txn", "describe", "cli-open"], broker).out
        assert "TransactionState" in table and "Ongoing" in table and "pay-0" in table, table
        missing = fails(["txn", "describe", "no-such-id"], broker)
        assert "TRANSACTIONAL_ID_NOT_FOUND" in missing.err and "strata txn list" in missing.err, missing

        # producers describe: the three producers on partition 0; only the open one has a transaction start.
        producers = json.loads(ok(["-o", "json", "producers", "describe", "pay", "-p", "0"], broker).out)
        by_pid = {p["producer_id"]: p for p in producers}
        assert set(by_pid) == {t["producer_id"] for t in every.values()}, producers
        assert by_pid[every["cli-open"]["producer_id"]]["current_txn_start_offset"] == 10, producers
        assert by_pid[commit_pid]["current_txn_start_offset"] is None, producers
        assert by_pid[commit_pid]["last_sequence"] == 4, producers
        assert json.loads(ok(["-o", "json", "producers", "describe", "pay", "-p", "1"], broker).out) == []
        assert "TXN-START-OFFSET" in ok(["producers", "describe", "pay"], broker).out
        fails(["producers", "describe", "pay", "-p", "7"], broker)

        # Committing the open transaction moves the LSO past it.
        open_.commit_transaction(10)
        assert consume(broker, "pay", "read_committed") == [f"c{i}" for i in range(5)] + ["o0", "o1"]
        assert listed(broker, "--state", "Ongoing") == {}


if __name__ == "__main__":
    run_tests([test_txn_views_and_isolation])
