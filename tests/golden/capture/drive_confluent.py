#!/usr/bin/python3
"""Drives confluent-kafka-python (librdkafka) against the fake broker:
a producer per compression type, an idempotent and a transactional producer,
a group consumer that commits, and the AdminClient calls it has."""

import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

import payload

BOOTSTRAP = sys.argv[1]
CLIENT = "confluent-kafka-python"
TOPIC = "golden-confluent"
GROUP = "golden-confluent-group"


def produce(codec, **extra):
    conf = {"bootstrap.servers": BOOTSTRAP, "compression.type": codec, "linger.ms": 200}
    conf.update(extra)
    p = Producer(conf)
    if "transactional.id" in conf:
        p.init_transactions(10)
        p.begin_transaction()
    for i in range(payload.RECORDS):
        p.produce(TOPIC, key=payload.key(i), value=payload.value(CLIENT, codec, i),
                  headers=payload.headers(CLIENT, i), partition=0)
    if "transactional.id" in conf:
        c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": GROUP + "-txn"})
        p.send_offsets_to_transaction([TopicPartition(TOPIC, 0, 20)], c.consumer_group_metadata(), 10)
        p.commit_transaction(10)
        c.close()
    left = p.flush(10)
    assert left == 0, "%d messages not delivered with %s" % (left, codec)


def consume():
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": GROUP, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([TOPIC])
    got = 0
    deadline = time.time() + 20
    while got < payload.RECORDS and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    c.commit(asynchronous=False)
    c.committed([TopicPartition(TOPIC, 0)], timeout=10)
    c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    c.offsets_for_times([TopicPartition(TOPIC, 0, int(time.time() * 1000) - 60000)], timeout=10)
    c.close()
    assert got >= payload.RECORDS, "consumed only %d" % got


def admin():
    a = AdminClient({"bootstrap.servers": BOOTSTRAP})
    wait = lambda futures: [f.result(10) for f in futures.values()]  # noqa: E731
    wait(a.create_topics([NewTopic("golden-confluent-admin", num_partitions=3, replication_factor=1,
                                   config={"retention.ms": "3600000"})]))
    wait(a.create_partitions([NewPartitions("golden-confluent-admin", 4)]))
    wait(a.describe_configs([ConfigResource("topic", "golden-confluent-admin"),
                             ConfigResource("broker", "1")]))
    wait(a.alter_configs([ConfigResource("topic", "golden-confluent-admin",
                                         set_config={"retention.ms": "7200000"})]))
    a.list_topics(timeout=10)
    a.list_groups(timeout=10)
    wait(a.delete_topics(["golden-confluent-admin"]))


def main():
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        produce(codec)
    produce("none", **{"enable.idempotence": True})
    produce("none", **{"transactional.id": "golden-confluent-txn"})
    consume()
    admin()
    print("confluent-kafka-python: done")


if __name__ == "__main__":
    try:
        main()
    except KafkaException as e:
        sys.exit("confluent-kafka-python driver failed: %s" % e)
