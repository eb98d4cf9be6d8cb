#!/usr/bin/python3
"""Offsets sent in transactions while __consumer_offsets is being made are
dropped by the abort and kept by the commit (confluent-kafka-python's
send_offsets_to_transaction, a real stratad).

Regression: the records of one CreateTopics reach the metadata image one
partition at a time, and AddOffsetsToTxn hashed the group over the part of
__consumer_offsets already there (2 of 5 partitions: the group's partition
0 instead of 1). The transaction's ABORT marker then went to the wrong
partition, the group's pending offset was never dropped, and librdkafka's
committed() (require_stable) got UNSTABLE_OFFSET_COMMIT until it timed out
(test_transactions: once in a CI run at load 4, 2 runs in 20 at load 11).
Here several producers send offsets in a loop from the moment the topic
starts being made, over 50 partitions, so that some AddOffsetsToTxn land
while it is half made."""

import threading
import time

from harness import Broker, run_tests

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from test_transactions import FAST, create_topic, txn_producer

PRODUCERS = 8


def offsets_partitions_seen(admin):
    """How many partitions of __consumer_offsets the broker's metadata holds."""
    topic = admin.list_topics(timeout=5).topics.get("__consumer_offsets")
    return len(topic.partitions) if topic else 0


def test_aborts_and_commits_while_the_offsets_topic_is_made():
    env = dict(FAST, STRATA_OFFSETS_TOPIC_NUM_PARTITIONS="50")
    with Broker(extra_env=env) as broker:
        create_topic(broker.bootstrap, "src", 1)
        producers = [txn_producer(broker.bootstrap, f"made-{i}") for i in range(PRODUCERS)]
        groups = [f"made-group-{i}" for i in range(PRODUCERS)]
        tp = [TopicPartition("src", 0)]
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for producer in producers:
            producer.begin_transaction()
        half_made = threading.Event()
        errors = []

        def send_and_abort(i, meta):
            try:
                half_made.wait(10)
                time.sleep(0.01 * i)  # spread over the window
                producers[i].send_offsets_to_transaction([TopicPartition("src", 0, 42)], meta, 30)
                producers[i].abort_transaction(30)
            except Exception as e:  # reported below, with the producer's index
                errors.append((i, repr(e)))

        # A consumer with a group id looks for its coordinator at once: that
        # FindCoordinator makes __consumer_offsets. The producers send their
        # offsets as soon as the topic shows up with only some partitions.
        readers = [Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g}) for g in groups]
        threads = [threading.Thread(target=send_and_abort, args=(i, r.consumer_group_metadata()))
                   for i, r in enumerate(readers)]
        for t in threads:
            t.start()
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = offsets_partitions_seen(admin)
            seen.append(n)
            if n > 0:  # usually a part of the 50; all of them if made before we looked
                break
        half_made.set()
        for t in threads:
            t.join(60)
        assert not errors, errors
        # Every abort dropped its offsets: no group is left with a pending one
        # (librdkafka retries UNSTABLE_OFFSET_COMMIT until its timeout).
        for i, reader in enumerate(readers):
            assert reader.committed(tp, timeout=15)[0].offset < 0, groups[i]
        # And a commit still makes them the group's.
        for i, producer in enumerate(producers):
            producer.begin_transaction()
            producer.send_offsets_to_transaction([TopicPartition("src", 0, 7 + i)], readers[i].consumer_group_metadata(), 30)
            producer.commit_transaction(30)
        for i, reader in enumerate(readers):
            assert reader.committed(tp, timeout=15)[0].offset == 7 + i, groups[i]
            reader.close()
        print(f"__consumer_offsets partitions seen before sending: {seen[-1]} (after {len(seen)} looks)", flush=True)


if __name__ == "__main__":
    run_tests([test_aborts_and_commits_while_the_offsets_topic_is_made])
