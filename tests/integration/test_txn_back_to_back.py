#!/usr/bin/python3
"""Back-to-back transactions do not meet CONCURRENT_TRANSACTIONS
(confluent-kafka-python / librdkafka against a real stratad).

EndTxn is answered once PrepareCommit is written; the markers and
CompleteCommit follow. A producer that begins its next transaction at once
sends AddPartitionsToTxn while they are still being written. Kafka answers
CONCURRENT_TRANSACTIONS and librdkafka retries after a backoff (about one
retry per transaction, 20 ms or more of each cycle); Strata's coordinator
holds the request until the previous transaction completes (at most
500 ms) and then adds the partitions. The broker's own request metrics
(/metrics: strata_requests_total, strata_request_errors_total) count every
AddPartitionsToTxn it served and every error it answered: none may be
CONCURRENT_TRANSACTIONS, and every transaction's records must be there
exactly once.

(An earlier form read librdkafka's `eos` debug log; its lines reach Python
only through poll(), and under parallel load none had arrived in time.)

The held request's Ongoing record is written in one batch with the previous
transaction's CompleteCommit (one fsync fewer per transaction): the test
reads `__transaction_state`'s segments and finds such batches, each record
in Kafka's TransactionLogValue format, and checks that a restarted broker
reloads the id from them (a second producer with the same id is fenced
properly only if the id's state was replayed)."""

import glob
import os
import re
import struct

from harness import Broker, run_tests

from test_transactions import FAST, consume_all, create_topic, txn_producer


def served(metrics_text, name, api, label, value=None):
    """The sum of the samples of `name` for `api` (and `label`=`value`, if given)."""
    total = 0.0
    for line in metrics_text.splitlines():
        m = re.match(r'(\w+)\{([^}]*)\} (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if labels.get("api") == api and (value is None or labels.get(label) == value):
            total += float(m.group(3))
    return total


def varint(buf, pos):
    """A zigzag varint of Kafka's record format: (value, next position)."""
    shift = raw = 0
    while True:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos


def state_batches(data_dir, txn_id):
    """The batches of __transaction_state for `txn_id`, each the list of its
    records' transaction states (TransactionLogValue v0/v1: the status byte
    after version, producer id, epoch and timeout); None for a tombstone."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "__transaction_state-*", "*.log"))):
        buf = open(path, "rb").read()
        pos = 0
        while pos + 61 <= len(buf):
            length = struct.unpack_from(">i", buf, pos + 8)[0]
            end = pos + 12 + length
            if length <= 0 or end > len(buf):
                break
            attributes = struct.unpack_from(">h", buf, pos + 21)[0]
            assert attributes & 0x07 == 0, "the coordinator writes uncompressed batches"
            count = struct.unpack_from(">i", buf, pos + 57)[0]
            r = pos + 61
            states = []
            for _ in range(count):
                _, r = varint(buf, r)  # record length
                r += 1  # attributes
                _, r = varint(buf, r)  # timestamp delta
                _, r = varint(buf, r)  # offset delta
                key_len, r = varint(buf, r)
                key = buf[r:r + key_len]
                r += key_len
                value_len, r = varint(buf, r)
                value = buf[r:r + value_len] if value_len >= 0 else None
                r += max(value_len, 0)
                headers, r = varint(buf, r)
                assert headers == 0
                id_len = struct.unpack_from(">h", key, 2)[0]
                if key[4:4 + id_len].decode() == txn_id:
                    states.append(None if value is None else value[16])
            if states:
                out.append(states)
            pos = end
    return out


def test_next_transaction_waits_for_the_markers_instead_of_failing():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "b2b", 3)
        producer = txn_producer(broker.bootstrap, "txn-b2b")
        transactions = 25
        for t in range(transactions):
            producer.begin_transaction()
            for p in range(3):
                producer.produce("b2b", value=f"{t}-{p}".encode(), partition=p)
            producer.commit_transaction(30)
        producer.flush(5)
        status, _, metrics_text = broker.http_get("/metrics")
        assert status == 200, status
        adds = served(metrics_text, "strata_requests_total", "AddPartitionsToTxn", "version")
        # One AddPartitionsToTxn per transaction at least (librdkafka may
        # split a transaction's three partitions over more than one).
        assert adds >= transactions, adds
        concurrent = served(metrics_text, "strata_request_errors_total", "AddPartitionsToTxn",
                            "error", "CONCURRENT_TRANSACTIONS")
        assert concurrent == 0, f"{concurrent:.0f} of {adds:.0f} AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS"
        got = consume_all(broker.bootstrap, "b2b", "read_committed", expect_at_least=transactions * 3)
        assert sorted(got) == sorted(f"{t}-{p}" for t in range(transactions) for p in range(3)), len(got)


        # Held AddPartitionsToTxn: its Ongoing (1) went into the batch of the
        # CompleteCommit (4) it waited for. Not every one needs to (one that
        # arrives while the CompleteCommit is already being written waits
        # for that write and then writes its own), but with 25 transactions
        # begun right after their predecessors' EndTxn, some do.
        batches = state_batches(broker.data_dir, "txn-b2b")
        ONGOING, PREPARE_COMMIT, COMPLETE_COMMIT = 1, 2, 4
        merged = [b for b in batches if b == [COMPLETE_COMMIT, ONGOING]]
        assert merged, batches
        assert all(len(b) == 1 or b == [COMPLETE_COMMIT, ONGOING] for b in batches), batches
        states = [s for b in batches for s in b]
        assert states.count(PREPARE_COMMIT) == transactions and states.count(COMPLETE_COMMIT) == transactions, states
        print(f"{len(merged)} of {transactions} CompleteCommit records carried the next Ongoing")

        # The id reloads from those batches: after a restart a new producer
        # with the same id fences the old one and commits.
        broker.stop()
        broker.start()
        producer2 = txn_producer(broker.bootstrap, "txn-b2b")
        producer2.begin_transaction()
        producer2.produce("b2b", value=b"after-restart", partition=0)
        producer2.commit_transaction(30)
        got = consume_all(broker.bootstrap, "b2b", "read_committed", expect_at_least=transactions * 3 + 1)
        assert sorted(got) == sorted([f"{t}-{p}" for t in range(transactions) for p in range(3)] + ["after-restart"])



if __name__ == "__main__":
    run_tests([test_next_transaction_waits_for_the_markers_instead_of_failing])
