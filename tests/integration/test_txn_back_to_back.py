#!/usr/bin/python3
"""Back-to-back transactions do not meet CONCURRENT_TRANSACTIONS
(confluent-kafka-python / librdkafka against a real stratad).

EndTxn is answered once PrepareCommit is written; the markers and
CompleteCommit follow. A producer that begins its next transaction at once
sends AddPartitionsToTxn while they are still being written. Kafka answers
CONCURRENT_TRANSACTIONS and librdkafka retries after a backoff (about one
retry per transaction, 20 ms or more of each cycle); Strata's coordinator
holds the request until the previous transaction completes (at most
500 ms) and then adds the partitions. librdkafka's `eos` debug log shows
every AddPartitionsToTxn error it gets; none may be CONCURRENT_TRANSACTIONS,
and every transaction's records must be there exactly once."""

import logging
import time

from harness import Broker, run_tests

from test_transactions import FAST, consume_all, create_topic, txn_producer


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_next_transaction_waits_for_the_markers_instead_of_failing():
    with Broker(extra_env=FAST) as broker:
        create_topic(broker.bootstrap, "b2b", 3)
        logs = Collect()
        logger = logging.getLogger("b2b-librdkafka")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(logs)
        producer = txn_producer(broker.bootstrap, "txn-b2b", debug="eos", logger=logger)
        transactions = 25
        for t in range(transactions):
            producer.begin_transaction()
            for p in range(3):
                producer.produce("b2b", value=f"{t}-{p}".encode(), partition=p)
            producer.commit_transaction(30)
            producer.poll(0)  # serves the log callbacks
        producer.flush(5)
        # The log lines reach Python only through poll(): serve them until
        # they are there (one CI run under parallel load had none after 0.5 s).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("AddPartitionsToTxn" in line for line in logs.lines):
            producer.poll(0.2)
        producer.poll(0.5)
        adds = [line for line in logs.lines if "AddPartitionsToTxn" in line]
        assert adds, "the eos debug log shows no AddPartitionsToTxn at all"
        # librdkafka prints the error's text ("...while another concurrent
        # operation on the same transaction was ongoing"), or its name.
        concurrent = [line for line in logs.lines
                      if "CONCURRENT_TRANSACTIONS" in line or "concurrent operation" in line]
        assert not concurrent, (len(concurrent), concurrent[:3])
        got = consume_all(broker.bootstrap, "b2b", "read_committed", expect_at_least=transactions * 3)
        assert sorted(got) == sorted(f"{t}-{p}" for t in range(transactions) for p in range(3)), len(got)


if __name__ == "__main__":
    run_tests([test_next_transaction_waits_for_the_markers_instead_of_failing])
