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
read_committed still filters every aborted record."""

import glob
import os

from harness import Broker, run_tests

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


if __name__ == "__main__":
    run_tests([test_txnindex_serves_read_committed_and_is_rebuilt_after_kill9])
