#!/usr/bin/python3
"""The aborted-transaction index (Kafka's per-segment `.txnindex`) with
confluent-kafka-python (librdkafka) against a real stratad: two
transactional producers interleave committed and aborted transactions over
small segments, so that aborted ranges span segment rolls; a read_committed
consumer sees exactly the committed records (it drops aborted batches only
because the Fetch response's AbortedTransactions, read from the .txnindex
files, names them). Then the broker is killed with SIGKILL and restarted
(recovery rebuilds the indexes of the tail), and killed again with one
.txnindex deleted and another corrupted: each is rebuilt from the log and
read_committed still filters every aborted record.

The compacting cleaner reads the same files: on a cleanup.policy=compact
topic it removes aborted data (found through the .txnindex), never touches
the open transaction past the last stable offset, keeps the markers until
their transactions' data is gone and delete.retention.ms passed, and a
read_committed consumer sees the same latest value of every key before and
after, also after a restart over the cleaned segments."""

import glob
import os
import struct
import time
import uuid

from harness import Broker, run_tests, wait_for

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

from test_transactions import FAST, consume_all, create_topic, txn_producer

TOPIC = "indexed"
ENTRY = 34  # Kafka's AbortedTxn: version int16 + four int64


def index_files(broker):
    return sorted(glob.glob(os.path.join(broker.data_dir, f"{TOPIC}-0", "*.txnindex")))


def entries(broker):
    return sum(os.path.getsize(f) for f in index_files(broker)) // ENTRY


def check(broker, committed, total):
    seen = consume_all(broker.bootstrap, TOPIC, "read_committed", expect_at_least=len(committed))
    assert sorted(seen) == sorted(committed), (len(seen), len(committed), sorted(set(seen) - set(committed))[:5])
    everything = consume_all(broker.bootstrap, TOPIC, "read_uncommitted", expect_at_least=total)
    assert len(everything) == total, (len(everything), total)


def test_txnindex_serves_read_committed_and_is_rebuilt_after_kill9():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, TOPIC, 1, configs={"segment.bytes": "4096"})
        a = txn_producer(broker.bootstrap, "idx-a")
        b = txn_producer(broker.bootstrap, "idx-b")
        committed, total, aborts = [], 0, 0
        pad = "x" * 300
        for round_ in range(6):
            a.begin_transaction()
            b.begin_transaction()
            for i in range(4):  # interleaved: each transaction spans the other's records
                a.produce(TOPIC, value=f"a{round_}-{i}-{pad}".encode())
                a.flush(10)
                b.produce(TOPIC, value=f"b{round_}-{i}-{pad}".encode())
                b.flush(10)
            total += 8
            aborting, committing = (a, b) if round_ % 2 == 0 else (b, a)
            aborting.abort_transaction(30)
            committing.commit_transaction(30)
            committed += [f"{'b' if round_ % 2 == 0 else 'a'}{round_}-{i}-{pad}" for i in range(4)]
            aborts += 1
        assert len(index_files(broker)) > 3, index_files(broker)  # the segments rolled; each has its index
        assert entries(broker) == aborts, (entries(broker), aborts)
        check(broker, committed, total)

        broker.kill()  # SIGKILL: recovery scans the tail and rebuilds its .txnindex
        broker.start().wait_ready()
        check(broker, committed, total)
        assert entries(broker) == aborts, (entries(broker), aborts)

        broker.kill()
        nonempty = [f for f in index_files(broker) if os.path.getsize(f) > 0]
        assert len(nonempty) >= 2, nonempty
        os.remove(nonempty[0])
        with open(nonempty[-1], "r+b") as fh:
            fh.write(b"\xff" * 7)  # an unknown version: corrupt
        broker.start().wait_ready()
        check(broker, committed, total)
        assert entries(broker) == aborts, (entries(broker), aborts)
        assert os.path.exists(nonempty[0])
        assert "rebuilt the .txnindex" in broker.log()


# ---- the compacting cleaner over transactions -----------------------------------------

COMPACTED = "compacted-txns"


def latest_by_key(bootstrap, isolation, expect_at_least):
    """(key -> last value, every value) of COMPACTED read from the start."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "isolation.level": isolation})
    consumer.subscribe([COMPACTED])
    latest, values = {}, []
    deadline, last = time.monotonic() + 15, time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(values) >= expect_at_least and time.monotonic() - last > 1.5:
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            latest[msg.key().decode()] = msg.value().decode()
            values.append(msg.value().decode())
            last = time.monotonic()
    finally:
        consumer.close()
    return latest, values


def control_batches(broker):
    """(base offset, has a delete horizon) of every control batch in the
    partition's .log files (v2 batch headers: attributes bit 5 control,
    bit 6 delete horizon; KIP-534)."""
    found = []
    for path in sorted(glob.glob(os.path.join(broker.data_dir, f"{COMPACTED}-0", "*.log"))):
        with open(path, "rb") as fh:
            data = fh.read()
        at = 0
        while at + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, at)
            attributes, = struct.unpack_from(">h", data, at + 21)
            records, = struct.unpack_from(">i", data, at + 57)
            if attributes & 0x20 and records > 0:
                found.append((base, bool(attributes & 0x40)))
            at += 12 + length
    return found


def cleanings(broker):
    return broker.log().count(f"{COMPACTED}-0: cleaned")


def test_cleaner_removes_aborted_data_and_markers_and_stops_at_the_lso():
    env = dict(FAST, STRATA_LOG_CLEANER_BACKOFF_MS="1000")
    with Broker(extra_env=env) as broker:
        create_topic(broker.bootstrap, COMPACTED, 1, configs={
            "cleanup.policy": "compact", "segment.bytes": "4096", "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "3000"})
        a = txn_producer(broker.bootstrap, "clean-a")
        pad = "x" * 300
        aborted = []
        for round_ in range(8):  # the same 4 keys each time; even rounds abort
            a.begin_transaction()
            for i in range(4):
                a.produce(COMPACTED, key=f"k{i}", value=f"r{round_}-{i}-{pad}")
            a.flush(10)
            if round_ % 2 == 0:
                a.abort_transaction(30)
                aborted += [f"r{round_}-{i}-{pad}" for i in range(4)]
            else:
                a.commit_transaction(30)
        # Batches of at most 4 records: a batch must fit in a 4 KiB segment.
        plain = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "batch.num.messages": 4})

        def write_plain(first, count):
            for i in range(first, first + count):
                plain.produce(COMPACTED, key=f"p{i}", value=f"plain-{i}-{pad}")
            plain.flush(10)

        write_plain(0, 20)  # rolls: the rounds lie in segments before the open transaction's
        # An open transaction: the LSO stays at its first offset.
        b = txn_producer(broker.bootstrap, "clean-b")
        b.begin_transaction()
        for i in range(4):
            b.produce(COMPACTED, key=f"k{i}", value=f"open-{i}-{pad}")
        b.flush(10)
        write_plain(20, 20)  # rolls segments past the open transaction
        expected = {f"k{i}": f"r7-{i}-{pad}" for i in range(4)}
        expected.update({f"p{i}": f"plain-{i}-{pad}" for i in range(40)})

        def cleaned_below_the_lso():
            _, everything = latest_by_key(broker.bootstrap, "read_uncommitted", 48)
            return not set(everything) & set(aborted) and sum(v.startswith("r") for v in everything) == 4

        wait_for(cleaned_below_the_lso, timeout=30, interval=0.5, what="a cleaning below the LSO")
        assert cleanings(broker) >= 1
        _, everything = latest_by_key(broker.bootstrap, "read_uncommitted", 48)
        assert [v for v in everything if v.startswith("open-")] == [f"open-{i}-{pad}" for i in range(4)]
        plains = sorted(v[:9] for v in everything if v.startswith("plain-"))
        assert len(plains) == 40, plains
        # read_committed stops at the LSO: the plain records after the open
        # transaction are not visible yet, and nothing aborted is.
        committed_view, _ = latest_by_key(broker.bootstrap, "read_committed", 24)
        below_lso = {k: v for k, v in expected.items() if not k.startswith("p") or int(k[1:]) < 20}
        assert committed_view == below_lso, sorted(set(committed_view.items()) ^ set(below_lso.items()))[:4]

        # The open transaction aborts: everything becomes cleanable; more
        # writes keep the log dirty so that the cleaner passes again, until
        # every ABORT marker and the emptied COMMIT markers are gone
        # (delete.retention.ms after their data).
        b.abort_transaction(30)
        markers_before = len(control_batches(broker))
        assert markers_before >= 9, control_batches(broker)

        def markers_gone():
            for i in range(4):
                plain.produce(COMPACTED, key=f"q{i}", value=f"more-{i}-{pad}")
            plain.flush(10)
            # What may stay: the COMMIT marker of round 7 (its data is the
            # keys' latest) and clean-b's ABORT marker, kept with its emptied
            # last batch (a producer's last batch keeps its epoch and sequence).
            return len(control_batches(broker)) <= 2

        wait_for(markers_gone, timeout=40, interval=1.0, what="the markers of emptied transactions to go")
        expected.update({f"q{i}": f"more-{i}-{pad}" for i in range(4)})
        assert entries_of_compacted(broker) <= 1, "the .txnindex entries went with the aborted data"
        view, everything = latest_by_key(broker.bootstrap, "read_committed", len(expected))
        assert view == expected, sorted(set(view.items()) ^ set(expected.items()))[:4]
        assert not any(v.startswith("open-") for v in everything)

        # A restart reads the cleaned segments (emptied batches, gaps) and the
        # producer goes on: its state survived the cleaning.
        broker.stop()
        broker.start().wait_ready()
        view, _ = latest_by_key(broker.bootstrap, "read_committed", len(expected))
        assert view == expected, sorted(set(view.items()) ^ set(expected.items()))[:4]
        a = txn_producer(broker.bootstrap, "clean-a")
        a.begin_transaction()
        a.produce(COMPACTED, key="k0", value="after-restart")
        a.commit_transaction(30)
        view, _ = latest_by_key(broker.bootstrap, "read_committed", len(expected))
        assert view["k0"] == "after-restart", view["k0"]


def entries_of_compacted(broker):
    files = glob.glob(os.path.join(broker.data_dir, f"{COMPACTED}-0", "*.txnindex"))
    return sum(os.path.getsize(f) for f in files) // ENTRY


if __name__ == "__main__":
    run_tests([test_txnindex_serves_read_committed_and_is_rebuilt_after_kill9,
               test_cleaner_removes_aborted_data_and_markers_and_stops_at_the_lso])
