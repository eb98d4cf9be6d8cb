#!/usr/bin/python3
"""What an idempotent acks=all producer sees during rolling restarts: three
combined nodes with default settings (but min.insync.replicas 2, RF 3 and a
1 s preferred-leader check), a topic of three partitions, the producer and
group consumer of tests/integration/test_controlled_shutdown.py. Each pass
SIGTERMs node 1, 2 and 3 in turn, each restarted and back in every ISR
before the next. librdkafka retries produce errors by itself, so they are
counted from its debug log (`debug=msg`: "MessageSet ... encountered error:
<error> (actions ...)"): every error a produce response carried, by kind,
and how many messages each held back; beside them the delivery errors the
application saw (must be none), the longest stall after a SIGTERM and the
longest gap between acknowledgements on a partition.

  tests/bench/rolling_restart.py [passes=2]     (STRATAD=path/to/stratad)
"""

import collections
import logging
import os
import re
import sys
import threading
import time

from confluent_kafka import Producer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Cluster  # noqa: E402
from test_alter_partition import wait_for  # noqa: E402
from test_controlled_shutdown import ENV, Workload, all_in_sync, bootstrap, create_topic, leaders  # noqa: E402

ERROR_LINE = re.compile(r"MessageSet with (\d+) message\(s\).*encountered error: (.*?) \(actions")


class ErrorCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.counts_lock = threading.Lock()  # not self.lock: logging.Handler holds that one around emit()
        self.batches = collections.Counter()
        self.messages = collections.Counter()

    def emit(self, record):
        m = ERROR_LINE.search(record.getMessage())
        if m:
            with self.counts_lock:
                self.batches[m.group(2)] += 1
                self.messages[m.group(2)] += int(m.group(1))


def produce_errors(counter):
    with counter.counts_lock:
        return ", ".join(f"{k}: {counter.batches[k]} batches / {counter.messages[k]} messages"
                         for k in sorted(counter.batches)) or "none"


def main():
    passes = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    counter = ErrorCounter()
    logger = logging.getLogger("rdkafka-producer")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    logger.propagate = False
    stalls = []
    with Cluster(3, extra_env=ENV) as cluster:
        create_topic(cluster)
        workload = Workload(cluster.nodes)
        workload.producer = Producer({
            "bootstrap.servers": bootstrap(cluster.nodes), "acks": "all", "enable.idempotence": True,
            "linger.ms": 2, "message.timeout.ms": 120000, "error_cb": workload.client_error,
            "debug": "msg", "logger": logger})
        workload.start()
        try:
            workload.wait_acks(2000, timeout=180)
            wait_for(lambda: all_in_sync(cluster), timeout=30, what="full ISRs")
            started_acks = workload.acks()
            for p in range(passes):
                for node in cluster.nodes:
                    led = [part for part, leader in leaders(cluster).items() if leader == node.node_id]
                    t0 = time.monotonic()
                    node.proc.send_signal(15)
                    node.proc.wait(60)
                    stall = workload.stall_after(t0, led) if led else 0.0
                    stalls.append(stall)
                    print(f"pass {p + 1}: SIGTERM of node {node.node_id} (leading {led}): stall "
                          f"{stall * 1000:.0f} ms", flush=True)
                    workload.wait_acks(300, timeout=180)
                    node.start()
                    wait_for(lambda: all_in_sync(cluster), timeout=60, what=f"node {node.node_id} back in every ISR")
                    workload.wait_acks(300, timeout=180)
            during = workload.acks() - started_acks
        finally:
            # Printed first: a failed run's produce errors are what explains it.
            errors = produce_errors(counter)
            print(f"produce errors retried by the client so far: {errors}; stalls so far (ms): "
                  f"{[round(s * 1000) for s in stalls]}", flush=True)
            workload.stop_and_check()
    print(f"{passes} rolling restart(s) of 3 nodes ({3 * passes} SIGTERMs), {during} records acknowledged "
          f"meanwhile, 0 delivery errors; produce errors retried by the client: {errors}; longest stall after a "
          f"SIGTERM {max(stalls) * 1000:.0f} ms; longest gap between acknowledgements on a partition "
          f"{workload.longest_gap() * 1000:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
