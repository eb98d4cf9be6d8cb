#!/usr/bin/python3
"""SIGTERM while the broker is busy: several acks=all producers at full speed
and 1,000 open client connections. The broker stops within 5 s, exits 0,
and after a restart every acknowledged record is there (a clean shutdown
flushes and closes every log), none twice."""

import os
import socket
import struct
import threading
import time

from harness import Broker, _recv_exactly, run_tests

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 6
PRODUCERS = 3


def open_idle_connections(port, count):
    """`count` connections that each completed an ApiVersions round trip."""
    held = []
    payload = struct.pack(">hhih", 18, 0, 1, 4) + b"idle"
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(struct.pack(">i", len(payload)) + payload)
        _recv_exactly(s, struct.unpack(">i", _recv_exactly(s, 4))[0])
        held.append(s)
    return held


RETRIABLE = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
             KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TIMED_OUT}


def read_all(bootstrap, topic):
    """Every record's value in `topic`, by partition, read to the end."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "check", "enable.auto.commit": False,
                         "fetch.max.bytes": 4194304})
    values = []
    for p in range(PARTITIONS):
        # Right after a restart the broker may still be opening the
        # partition (NOT_LEADER_OR_FOLLOWER, retriable, as Kafka answers
        # while it loads); get_watermark_offsets does not retry by itself.
        deadline = time.monotonic() + 30
        while True:
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                break
            except KafkaException as e:
                if e.args[0].code() not in RETRIABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        consumer.assign([TopicPartition(topic, p, low)])
        position = low
        deadline = time.monotonic() + 60
        while position < high and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error():
                    continue
                values.append(msg.value()[:16])
                position = msg.offset() + 1
        assert position >= high, f"partition {p}: read to {position} of {high}"
    consumer.close()
    return values


def test_sigterm_under_load_stops_within_5_s_and_keeps_every_acknowledged_record():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    broker = Broker().start().wait_ready()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("load", num_partitions=PARTITIONS, replication_factor=1)])["load"].result(10)
        held = open_idle_connections(broker.port, 1000)
        acked = []
        lock = threading.Lock()
        stop = threading.Event()
        padding = os.urandom(16384 - 16)

        def produce(n):
            producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5,
                                 "enable.idempotence": True, "message.timeout.ms": 20000,
                                 "queue.buffering.max.kbytes": 262144, "reconnect.backoff.max.ms": 200})

            def on_delivery(err, msg):
                if err is None:
                    with lock:
                        acked.append(msg.value()[:16])

            i = 0
            while not stop.is_set():
                try:
                    producer.produce("load", value=f"p{n}-{i:012d}".encode()[:16].ljust(16, b".") + padding,
                                     partition=i % PARTITIONS, on_delivery=on_delivery)
                    i += 1
                except BufferError:
                    producer.poll(0.01)
                producer.poll(0)
            producer.flush(5)  # the broker is gone: whatever is left fails

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(PRODUCERS)]
        for t in threads:
            t.start()
        time.sleep(3.0)
        with lock:
            before = len(acked)
        assert before > 1000, f"only {before} records acknowledged before the SIGTERM"
        t0 = time.monotonic()
        code = broker.stop(timeout=30)
        stopped_in = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join()
        for s in held:
            s.close()
        print(f"acknowledged before SIGTERM: {before} x 16 KB; SIGTERM to exit: {stopped_in:.2f} s, exit code {code}")
        assert code == 0, f"stratad exited with {code}"
        assert stopped_in < 5.0, f"shutdown took {stopped_in:.2f} s"
        assert "shutting down" in broker.log() and "stopped" in broker.log()

        broker.start().wait_ready()
        values = read_all(broker.bootstrap, "load")
        lost = set(acked) - set(values)
        assert not lost, f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:3]}"
        assert len(values) == len(set(values)), f"{len(values) - len(set(values))} records appear twice"
    finally:
        broker.stop()


if __name__ == "__main__":
    run_tests([test_sigterm_under_load_stops_within_5_s_and_keeps_every_acknowledged_record])
