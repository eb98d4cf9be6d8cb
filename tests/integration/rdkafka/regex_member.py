#!/usr/bin/python3
"""One KIP-848 consumer (group.protocol=consumer) of librdkafka 2.12 through
confluent-kafka-python: run with LD_LIBRARY_PATH at the librdkafka 2.12 that
tests/compat/build.sh builds (Debian's librdkafka 2.0.2 has no consumer
protocol; confluent-kafka-python loads whichever librdkafka.so.1 comes first).

    regex_member.py <bootstrap> <group> <topic or ^regex>...

Prints one JSON line per event: {"version": librdkafka's version} first,
{"assigned": [[topic, partition], ...]} whenever its
assignment changes (sorted), {"record": [topic, partition, offset]} per
record, {"error": text} per consumer error; on end of standard input it
closes and prints {"closed": true}."""

import json
import sys
import threading

import confluent_kafka

bootstrap, group, subscription = sys.argv[1], sys.argv[2], sys.argv[3:]
out_lock = threading.Lock()


def emit(event):
    with out_lock:
        print(json.dumps(event), flush=True)


held = set()


def on_assign(consumer, partitions):
    # The consumer protocol is incremental: these are added to what it holds.
    held.update((p.topic, p.partition) for p in partitions)
    emit({"assigned": sorted(held)})


def on_revoke(consumer, partitions):
    held.difference_update((p.topic, p.partition) for p in partitions)
    emit({"assigned": sorted(held)})


consumer = confluent_kafka.Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "group.protocol": "consumer",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 200,
    "topic.metadata.refresh.interval.ms": 1000,
})
consumer.subscribe(subscription, on_assign=on_assign, on_revoke=on_revoke)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
emit({"version": confluent_kafka.libversion()[0]})
while not stop.is_set():
    msg = consumer.poll(0.2)
    if msg is None:
        continue
    if msg.error():
        emit({"error": str(msg.error())})
        continue
    emit({"record": [msg.topic(), msg.partition(), msg.offset()]})
consumer.close()
emit({"closed": True})
