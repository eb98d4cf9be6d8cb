#!/usr/bin/python3
"""A librdkafka 2.12 producer (KIP-714 telemetry on by default) through
confluent-kafka-python: run with LD_LIBRARY_PATH at the librdkafka 2.12 that
tests/compat/build.sh builds (Debian's 2.0.2 predates KIP-714).

    telemetry_producer.py <bootstrap> <topic> <client.id>

Prints {"version": librdkafka's version}, then produces one record every
100 ms until its standard input ends; then flushes, closes (librdkafka sends
its terminating PushTelemetry) and prints {"closed": true}."""

import json
import sys
import threading

import confluent_kafka

bootstrap, topic, client_id = sys.argv[1], sys.argv[2], sys.argv[3]
print(json.dumps({"version": confluent_kafka.libversion()[0]}), flush=True)
producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "linger.ms": 5,
                                     "enable.metrics.push": True})
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
i = 0
while not done.wait(0.1):
    producer.produce(topic, value=f"telemetry-{i}".encode())
    producer.poll(0)
    i += 1
producer.flush(10)
# Dropping the last reference closes the producer (rd_kafka_destroy), which
# pushes the terminating telemetry.
del producer
print(json.dumps({"closed": True, "produced": i}), flush=True)
