#!/usr/bin/python3
"""Produce and consume with real clients against one stratad: keyed records
with headers over 3 partitions in every compression each client supports,
read back byte for byte and in per-partition order; list offsets by time;
consume from the middle; acknowledged records survive SIGKILL."""

import os
import socket
import struct
import subprocess
import threading
import time

from harness import Broker, _recv_exactly, run_tests

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KPTopicPartition

N = 2000


def create_topic(broker, name, partitions=3):
    client = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the result is in
    client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=15)


def read_partitions(broker, topic, partitions, expected_total, timeout=30):
    """Reads every partition from the start with assign() (no group)."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "enable.partition.eof": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = {}
    deadline = time.monotonic() + timeout
    count = 0
    while count < expected_total and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        out.setdefault(msg.partition(), []).append((msg.offset(), msg.key(), msg.value(), msg.headers()))
        count += 1
    consumer.close()
    return out


def check_round_trip(sent, got):
    for p, records in got.items():
        offsets = [r[0] for r in records]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), f"partition {p} out of order"
    flat = sorted((k, v, tuple(h or [])) for recs in got.values() for (_, k, v, h) in recs)
    assert flat == sorted(sent), f"got {len(flat)} records, sent {len(sent)}"


def test_confluent_every_codec():
    with Broker() as broker:
        for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
            topic = f"cf-{codec}"
            create_topic(broker, topic)
            producer = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec, "acks": "all",
                                 "linger.ms": 5})
            sent = []
            for i in range(N):
                key = f"key-{i % 97}".encode()
                value = f"value-{i}-{codec}".encode() * 3
                headers = [("h", f"{i}".encode())]
                producer.produce(topic, key=key, value=value, headers=headers)
                sent.append((key, value, tuple(headers)))
            assert producer.flush(30) == 0
            got = read_partitions(broker, topic, 3, N)
            check_round_trip(sent, got)
            assert len(got) == 3, "keys should spread over the 3 partitions"


def test_kafka_python_every_codec():
    with Broker() as broker:
        for codec in (None, "gzip", "snappy", "lz4", "zstd"):
            topic = f"kp-{codec}"
            create_topic(broker, topic)
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, acks="all")
            sent = []
            for i in range(500):
                key = f"k{i % 13}".encode()
                value = f"v{i}".encode()
                headers = [("hk", f"hv{i}".encode())]
                producer.send(topic, key=key, value=value, headers=headers)
                sent.append((key, value, tuple(headers)))
            producer.flush(30)
            producer.close()
            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                                     consumer_timeout_ms=5000, enable_auto_commit=False)
            consumer.assign([KPTopicPartition(topic, p) for p in range(3)])
            consumer.seek_to_beginning()
            got = {}
            for m in consumer:
                got.setdefault(m.partition, []).append((m.offset, m.key, m.value, list(m.headers)))
                if sum(len(v) for v in got.values()) == len(sent):
                    break
            consumer.close()
            check_round_trip(sent, got)


def test_list_offsets_by_time_and_consume_from_the_middle():
    with Broker() as broker:
        create_topic(broker, "timed", 1)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        base = int(time.time() * 1000) - 100000
        for i in range(100):
            producer.produce("timed", value=f"{i}".encode(), timestamp=base + i * 1000)
        producer.flush(10)
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused"})
        found = consumer.offsets_for_times([TopicPartition("timed", 0, base + 50 * 1000)], timeout=10)
        assert found[0].offset == 50, found
        low, high = consumer.get_watermark_offsets(TopicPartition("timed", 0), timeout=10)
        assert (low, high) == (0, 100)
        consumer.assign([TopicPartition("timed", 0, 60)])
        msg = None
        while msg is None:
            msg = consumer.poll(5)
        assert msg.offset() == 60 and msg.value() == b"60"
        consumer.close()


def test_retention_removes_old_segments_while_consumers_read():
    """Small segments and retention.bytes: while a producer writes and a
    consumer reads from the start, retention deletes whole old segments
    (the log start offset moves, the segment count stays bounded) and the
    consumer still gets every record from where it is, in order."""
    with Broker(extra_env={"STRATA_LOG_RETENTION_CHECK_INTERVAL_MS": "200"}) as broker:
        client = AdminClient({"bootstrap.servers": broker.bootstrap})
        client.create_topics([NewTopic("rolling", num_partitions=1, replication_factor=1,
                                       config={"segment.bytes": "65536", "retention.bytes": "262144"})]
                             )["rolling"].result(timeout=15)
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                             "auto.offset.reset": "earliest"})
        consumer.assign([TopicPartition("rolling", 0, 0)])
        # Batches must fit a segment (Kafka refuses larger ones too).
        # Idempotent: a retry after a timed-out request on a loaded machine
        # must not write a record twice (the order check below would fail).
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "batch.size": 16384,
                             "enable.idempotence": True})
        got, starts = [], []
        deadline = time.monotonic() + 4
        i = 0
        while time.monotonic() < deadline:
            for _ in range(50):
                try:
                    producer.produce("rolling", value=f"{i:08d}".encode() + b"x" * 1000)
                    i += 1
                except BufferError:  # the client's queue is full: let it drain
                    producer.poll(0.05)
            producer.poll(0)
            time.sleep(0.02)  # about 2,500 records a second
            msg = consumer.poll(0)
            if msg is not None and msg.error() is None:
                got.append(int(msg.value()[:8]))
            if i % 1000 == 0:
                starts.append(consumer.get_watermark_offsets(TopicPartition("rolling", 0), timeout=5)[0])
        assert producer.flush(10) == 0
        # The high watermark follows the group-committed fsync.
        wait_until = time.monotonic() + 10
        while True:
            low, high = consumer.get_watermark_offsets(TopicPartition("rolling", 0), timeout=5)
            if high == i or time.monotonic() > wait_until:
                break
            time.sleep(0.05)
        while (not got or got[-1] < high - 1):
            msg = consumer.poll(5)
            assert msg is not None, f"consumer stalled at {got[-1] if got else None} of {high}"
            assert msg.error() is None, msg.error()
            got.append(int(msg.value()[:8]))
        consumer.close()
        assert low > 0, "retention deleted nothing"
        assert sorted(starts) == starts, "the log start offset went backwards"
        assert all(b > a for a, b in zip(got, got[1:])), "records out of order"
        assert got[-1] == high - 1 == i - 1, (got[-1], high, i, low)
        # Never more than about retention.bytes / segment.bytes segments (plus
        # the active one and one awaiting the next retention pass).
        # Checked once the writes stop and a retention pass (every 200 ms here)
        # has run: while a fast producer writes, segments appear faster.
        def segments():
            return [f for f in os.listdir(os.path.join(broker.data_dir, "rolling-0")) if f.endswith(".log")]
        settle = time.monotonic() + 5
        while len(segments()) > 262144 // 65536 + 3 and time.monotonic() < settle:
            time.sleep(0.1)
        assert len(segments()) <= 262144 // 65536 + 3, segments()


def test_acknowledged_records_survive_sigkill():
    """An idempotent acks=all producer keeps producing while the broker is
    killed with SIGKILL and restarted: every acknowledged record is there
    afterwards, and none twice (retries of batches the broker had written
    before it died are recognised by their producer id and sequence)."""
    broker = Broker().start().wait_ready()
    try:
        create_topic(broker, "durable", 1)
        acked, failed = [], []
        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 1,
                             "enable.idempotence": True, "message.timeout.ms": 60000})

        def on_delivery(err, msg):
            (acked if err is None else failed).append(msg.value() if err is None else err)

        stop = threading.Event()

        def produce():
            i = 0
            while not stop.is_set():
                try:
                    producer.produce("durable", value=f"r{i}".encode(), on_delivery=on_delivery)
                    i += 1
                except BufferError:
                    pass
                producer.poll(0.001 if i % 50 == 0 else 0)

        thread = threading.Thread(target=produce)
        thread.start()
        time.sleep(1.0)
        broker.kill()  # SIGKILL mid-stream
        time.sleep(0.5)
        broker.start().wait_ready()
        time.sleep(1.0)
        stop.set()
        thread.join()
        assert producer.flush(60) == 0, "records left unacknowledged"
        assert not failed, failed[:5]
        got = read_partitions(broker, "durable", 1, len(acked), timeout=30)
        values = [r[2] for r in got.get(0, [])]
        assert len(acked) > 1000, len(acked)
        assert set(acked) <= set(values), f"{len(set(acked) - set(values))} acknowledged records lost"
        assert len(values) == len(set(values)), f"{len(values) - len(set(values))} records appear twice"
    finally:
        broker.stop()


def raw_fetch_v4(topic, partition, offset, max_bytes):
    """A Fetch v4 request frame (not flexible), one partition."""
    body = struct.pack(">iiiib", -1, 500, 1, max_bytes, 0)
    body += struct.pack(">ih", 1, len(topic)) + topic.encode()
    body += struct.pack(">iiqi", 1, partition, offset, max_bytes)
    client_id = b"strata-it"
    payload = struct.pack(">hhih", 1, 4, 9, len(client_id)) + client_id + body
    return struct.pack(">i", len(payload)) + payload


def test_consumers_that_reset_mid_fetch_do_not_stop_the_broker():
    """Consumers that close (with a TCP reset) while a large fetch response is
    being sent with sendfile(2): the broker drops those connections and keeps
    serving. sendfile on a reset socket raises SIGPIPE, which once killed it."""
    with Broker() as broker:
        create_topic(broker, "big", 1)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for i in range(2000):
            producer.produce("big", value=os.urandom(4096), partition=0)
        assert producer.flush(30) == 0
        frame = raw_fetch_v4("big", 0, 0, 64 << 20)
        for _ in range(30):
            sock = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(frame)
            _recv_exactly(sock, 64)  # the response has started
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # RST while the broker is still sending
        time.sleep(0.5)
        assert broker.proc.poll() is None, f"stratad exited with {broker.proc.returncode}"
        with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
            sock.sendall(raw_fetch_v4("big", 0, 0, 1 << 20))
            size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
            assert size > 4096, size
            _recv_exactly(sock, size)


if __name__ == "__main__":
    run_tests([
        test_confluent_every_codec,
        test_kafka_python_every_codec,
        test_list_offsets_by_time_and_consume_from_the_middle,
        test_retention_removes_old_segments_while_consumers_read,
        test_acknowledged_records_survive_sigkill,
        test_consumers_that_reset_mid_fetch_do_not_stop_the_broker,
    ])
