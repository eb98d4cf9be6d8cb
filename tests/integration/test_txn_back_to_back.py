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
only through poll(), and under parallel load none had arrived in time.)"""

import re

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


if __name__ == "__main__":
    run_tests([test_next_transaction_waits_for_the_markers_instead_of_failing])
