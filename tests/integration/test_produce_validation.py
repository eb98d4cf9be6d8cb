#!/usr/bin/python3
"""Produce validation with real clients: the batch max timestamp recomputed
from the records (Sarama 1.22 sends -1, and ListOffsets by time must still
find its records), record errors for a keyless record on a compacted topic
and for out-of-range timestamps (KIP-467, ProduceResponse v8), and old
CreateTime timestamps (a backfill) staying in one segment that time retention
keeps."""

import os
import socket
import struct
import subprocess
import tempfile
import time

from harness import INTEGRATION_DIR, Broker, _recv_exactly, run_tests

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.api import RequestHeader
from kafka.protocol.produce import ProduceRequest
from kafka.record.default_records import DefaultRecordBatchBuilder

INVALID_RECORD = 87
INVALID_TIMESTAMP = 32


def create_topic(broker, name, config=None):
    client = AdminClient({"bootstrap.servers": broker.bootstrap})
    client.create_topics([NewTopic(name, num_partitions=1, replication_factor=1, config=config or {})]
                         )[name].result(timeout=15)


def consume_all(broker, topic, expected, timeout=20):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        got.append((msg.offset(), msg.key(), msg.value(), msg.timestamp()[1]))
    consumer.close()
    return got


def build_sarama_producer(into):
    """Builds tests/integration/go/sarama_produce against Debian's Sarama
    (GOPATH mode, no network)."""
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOFLAGS="",
               GOCACHE=os.path.join(tempfile.gettempdir(), "strata-it-gocache"))
    binary = os.path.join(into, "sarama_produce")
    built = subprocess.run(["go", "build", "-o", binary, "."], cwd=os.path.join(INTEGRATION_DIR, "go", "sarama_produce"),
                           env=env, timeout=600, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return binary


def test_sarama_batches_are_found_by_timestamp():
    """Sarama 1.22 writes -1 as the batch's maxTimestamp; the broker stores
    the max of the records' timestamps, so ListOffsets by time
    (offsets_for_times) finds the first record at or after a time."""
    with Broker() as broker:
        create_topic(broker, "sarama")
        binary = build_sarama_producer(broker.workdir)
        base = int(time.time() * 1000) - 3_600_000
        out = subprocess.run([binary, broker.bootstrap, "sarama", "10", str(base), "1000"], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "offset 0", out.stdout
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused"})
        for ts, expected in [(base - 5, 0), (base, 0), (base + 4500, 5), (base + 9000, 9)]:
            found = consumer.offsets_for_times([TopicPartition("sarama", 0, ts)], timeout=10)
            assert found[0].error is None and found[0].offset == expected, (ts - base, found[0])
        # After the last record: not found (librdkafka reports the end, -1).
        after = consumer.offsets_for_times([TopicPartition("sarama", 0, base + 9001)], timeout=10)
        assert after[0].offset == -1, after[0]
        consumer.close()
        got = consume_all(broker, "sarama", 10)
        assert [(o, t) for (o, _, _, t) in got] == [(i, base + 1000 * i) for i in range(10)], got


def test_keyless_record_on_a_compacted_topic_with_librdkafka():
    """librdkafka (this Debian's 2.0.2) produces a batch of keyed records and
    one keyless record to a compacted topic. This librdkafka predates
    KIP-467's record errors: as against Kafka, the whole batch fails with the
    partition's INVALID_RECORD (not retried: the error is not retriable), and
    the keyed records, produced again on their own, are delivered."""
    with Broker() as broker:
        create_topic(broker, "compacted", {"cleanup.policy": "compact"})
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 500})
        # The five records must form one batch: with the partition's leader
        # not yet known, librdkafka sends what it has queued the moment the
        # leader is found, which split them (a flaky 2 runs in 10).
        producer.list_topics("compacted", timeout=10)
        reports = {}

        def on_delivery(err, msg):
            reports[msg.value()] = err

        keys = [b"k0", b"k1", None, b"k3", b"k4"]
        for i, key in enumerate(keys):
            producer.produce("compacted", key=key, value=b"v%d" % i, partition=0, on_delivery=on_delivery)
        assert producer.flush(15) == 0
        assert sorted(reports) == [b"v%d" % i for i in range(5)], reports
        for value, err in reports.items():
            assert err is not None and err.code() == KafkaError.INVALID_RECORD, (value, err)

        reports.clear()
        for i, key in enumerate(keys):
            if key is not None:
                producer.produce("compacted", key=key, value=b"v%d" % i, partition=0, on_delivery=on_delivery)
        assert producer.flush(15) == 0
        assert all(err is None for err in reports.values()) and len(reports) == 4, reports
        got = consume_all(broker, "compacted", 4)
        assert [(o, k) for (o, k, _, _) in got] == [(0, b"k0"), (1, b"k1"), (2, b"k3"), (3, b"k4")], got


def produce_v8(port, topic, batch):
    """One ProduceRequest v8 (acks=-1) with kafka-python's encoding; the
    response decoded by hand, since kafka-python's v8 schema lacks
    RecordErrors and ErrorMessage."""
    request = ProduceRequest[8](transactional_id=None, required_acks=-1, timeout=5000,
                                topics=[(topic, [(0, bytes(batch))])])
    header = RequestHeader(request, correlation_id=7, client_id="validation-test")  # kept: encode() holds it weakly
    payload = header.encode() + request.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        frame = _recv_exactly(sock, struct.unpack(">i", _recv_exactly(sock, 4))[0])
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from(fmt, frame, pos)
        pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def string():
        n = take(">h")
        if n < 0:
            return None
        nonlocal pos
        pos += n
        return frame[pos - n:pos].decode()

    assert take(">i") == 7
    assert take(">i") == 1 and string() == topic
    assert take(">i") == 1
    index, error, base_offset, _, _ = take(">ihqqq")
    record_errors = [(take(">i"), string()) for _ in range(max(take(">i"), 0))]
    message = string()
    return error, base_offset, record_errors, message


def make_batch(records):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    for i, (key, ts) in enumerate(records):
        builder.append(i, timestamp=ts, key=key, value=b"v%d" % i, headers=[])
    return builder.build()


def test_record_errors_in_produce_response_v8():
    """KIP-467 as Kafka answers it: the records that failed, by index in the
    batch, with INVALID_RECORD (a keyless record on a compacted topic) or
    INVALID_TIMESTAMP (outside message.timestamp.before.max.ms), and the
    partition's error message; the batch takes no offsets."""
    with Broker() as broker:
        now = int(time.time() * 1000)
        create_topic(broker, "compacted", {"cleanup.policy": "compact"})
        error, base, record_errors, message = produce_v8(
            broker.port, "compacted", make_batch([(b"a", now), (b"b", now), (None, now), (b"d", now)]))
        assert (error, base) == (INVALID_RECORD, -1), (error, base)
        why = "Compacted topic cannot accept message without key in topic partition compacted-0"
        assert record_errors == [(2, why)], record_errors
        assert message == ("One or more records have been rejected due to 1 record errors in total, and only "
                           f"showing the first three errors at most: [RecordError(batchIndex=2, message='{why}')]"), message
        error, base, record_errors, message = produce_v8(broker.port, "compacted", make_batch([(b"a", now)]))
        assert (error, base, record_errors, message) == (0, 0, [], None), (error, base, record_errors, message)

        create_topic(broker, "bounded", {"message.timestamp.before.max.ms": "3600000"})
        error, base, record_errors, message = produce_v8(
            broker.port, "bounded", make_batch([(b"a", now), (b"b", now - 7_200_000), (b"c", now)]))
        assert (error, base) == (INVALID_TIMESTAMP, -1), (error, base)
        assert [i for (i, _) in record_errors] == [1], record_errors
        assert record_errors[0][1].startswith(f"Timestamp {now - 7_200_000} of message with offset 1 is out of range"), \
            record_errors
        assert message == "One or more records have been rejected due to invalid timestamp", message


def test_backfilled_old_timestamps_stay_in_one_segment():
    """librdkafka's 0052 msg_timestamps case: records with CreateTime
    timestamps in 1970, produced in five batches. segment.ms counts record
    time from the segment's first batch (Kafka's rule), so they share one
    segment (seen on a topic without time retention), and time retention,
    which never deletes the active segment, keeps all 20. (With the
    wall-clock rule each batch rolled a segment and retention left 4.)"""
    with Broker(extra_env={"STRATA_LOG_RETENTION_CHECK_INTERVAL_MS": "200"}) as broker:
        create_topic(broker, "backfill")
        create_topic(broker, "backfill-kept", {"retention.ms": "-1"})
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50})
        failures = []
        for batch in range(5):
            for i in range(4):
                n = batch * 4 + i
                for topic in ("backfill", "backfill-kept"):
                    producer.produce(topic, key=b"k%d" % n, value=b"v%d" % n, partition=0, timestamp=1000 + n,
                                     on_delivery=lambda err, msg: err and failures.append(err))
            assert producer.flush(15) == 0
        assert not failures, failures
        time.sleep(1.5)  # several retention passes

        def segments(topic):
            return [f for f in os.listdir(os.path.join(broker.data_dir, topic + "-0")) if f.endswith(".log")]

        assert len(segments("backfill-kept")) == 1, segments("backfill-kept")
        assert len(segments("backfill")) == 1, segments("backfill")
        for topic in ("backfill", "backfill-kept"):
            got = consume_all(broker, topic, 20, timeout=5)
            assert [(o, t) for (o, _, _, t) in got] == [(n, 1000 + n) for n in range(20)], (topic, got)


if __name__ == "__main__":
    run_tests([
        test_sarama_batches_are_found_by_timestamp,
        test_keyless_record_on_a_compacted_topic_with_librdkafka,
        test_record_errors_in_produce_response_v8,
        test_backfilled_old_timestamps_stay_in_one_segment,
    ])
