#!/usr/bin/python3
"""SIGTERM on a broker with many partitions: it stops cleanly and soon, and
the next start trusts the clean-shutdown marker (no recovery) with every
acknowledged record in place.

One stratad, one topic of 400 partitions, one acks=all record per partition
from confluent-kafka, then SIGTERM. The shutdown used to sync the state store
once per partition (a RocksDB WAL fdatasync each: 1,750 of them after
librdkafka's compat run, when stratad outlived the harness's 10 s stop on the
loaded machine); now one sync, with the last log, covers every log's
checkpoints before the marker is written. This test guards that the marker
still vouches only for written checkpoints: the restart finds every record at
offset 0 of its partition, with no recovery. (The count of syncs is checked
by strata_storage_test, log_manager.shutdown_syncs_the_state_store_once...)
"""

import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, run_tests  # noqa: E402

TOPIC = "many"
PARTITIONS = 400


def test_sigterm_with_many_partitions_stops_clean_and_restarts_without_recovery():
    with Broker(extra_env={"STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "1"}) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(
            timeout=30)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
        acked = {}

        def on_delivery(err, msg):
            assert err is None, err
            acked[msg.partition()] = msg.offset()

        for p in range(PARTITIONS):
            producer.produce(TOPIC, value=f"record-{p}".encode(), partition=p, on_delivery=on_delivery)
        assert producer.flush(30) == 0
        assert len(acked) == PARTITIONS and set(acked.values()) == {0}

        started = time.monotonic()
        assert broker.stop() == 0, broker.log()[-3000:]
        took = time.monotonic() - started
        assert "[stratad] stopped" in broker.log()
        print(f"    SIGTERM to exit with {PARTITIONS} partitions: {took:.2f}s")

        broker.start().wait_ready(30)
        assert "last shutdown was not clean" not in broker.log(), "the marker was not written"
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                             "enable.auto.commit": False})
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        seen = {}
        deadline = time.monotonic() + 30
        while len(seen) < PARTITIONS and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            seen[msg.partition()] = (msg.offset(), msg.value())
        consumer.close()
        assert seen == {p: (0, f"record-{p}".encode()) for p in range(PARTITIONS)}, \
            f"{PARTITIONS - len(seen)} partitions unread"


if __name__ == "__main__":
    run_tests([test_sigterm_with_many_partitions_stops_clean_and_restarts_without_recovery])
