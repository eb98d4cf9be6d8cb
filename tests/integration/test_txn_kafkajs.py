#!/usr/bin/python3
"""KafkaJS's transactions (npm, unmodified) against stratad: a committed
transaction, an aborted one, and two with sendOffsets (one committed, one
aborted). KafkaJS's read_committed consumer sees exactly the committed
records, its read_uncommitted one every record; the group's offset is the
committed transaction's, not the aborted one's. confluent-kafka
(librdkafka) reading the same topic read_committed agrees with KafkaJS."""

import json
import os
import subprocess
import time
import uuid

from harness import Broker, ensure_node_modules, run_tests

from confluent_kafka import Consumer, KafkaError, KafkaException

FAST = {"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "3",
        "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "3"}

COMMITTED = sorted([f"commit-{i}" for i in range(6)] + [f"ctp-{i}" for i in range(3)])
ABORTED = sorted([f"abort-{i}" for i in range(4)] + [f"ctp-aborted-{i}" for i in range(2)])


def librdkafka_read_committed(bootstrap, topic, expected, timeout=20.0, idle=1.5):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"rk-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    values, last = [], time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(values) >= expected and time.monotonic() - last > idle:
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            values.append(msg.value().decode())
            last = time.monotonic()
    finally:
        consumer.close()
    return sorted(values)


def test_kafkajs_transactions():
    cwd = ensure_node_modules()
    with Broker(extra_env=FAST) as broker:
        script = os.path.join(cwd, "js", "kafkajs_transactions.js")
        run = subprocess.run(["node", script, broker.bootstrap, "js-txn-out", "js-txn-in", "js-txn-group"], cwd=cwd,
                             capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, run.stderr[-3000:]
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert out["committed"] == COMMITTED, out
        assert out["uncommitted"] == sorted(COMMITTED + ABORTED), out
        assert out["offsets"] == [[0, 7]], out
        assert librdkafka_read_committed(broker.bootstrap, "js-txn-out", len(COMMITTED)) == COMMITTED


if __name__ == "__main__":
    run_tests([test_kafkajs_transactions])
