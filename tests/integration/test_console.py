#!/usr/bin/python3
"""The web console in a real browser: headless Chromium (Debian's package)
driven by puppeteer-core (npm) against a real stratad. It reads the overview
(the brokers' table, the quorum and metadata cards), creates a topic,
produces through the console's form (the REST API), browses the message with
its key, JSON value and header (from its offset, and from a time before
it; none from a time after it), sees the topic's bytes in and out per
second in the topic list, sees a confluent-kafka group's lag and
resets its offsets after a preview. Screenshots are kept in the test's
artefact folder (printed at the end)."""

import os
import subprocess
import tempfile

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Broker, ensure_node_modules, run_tests

CHROMIUM = "/usr/bin/chromium"


def test_console_in_chromium():
    cwd = ensure_node_modules()
    shots = tempfile.mkdtemp(prefix="strata-console-shots-")
    with Broker() as broker:
        # A group with lag: 3 records on lagging-0, offset 0 committed, no members.
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for f in admin.create_topics([NewTopic("console-lag", 1, 1)]).values():
            f.result(10)
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(3):
            producer.produce("console-lag", value=b"x")
        assert producer.flush(20) == 0
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "console-group"})
        consumer.commit(offsets=[TopicPartition("console-lag", 0, 0)], asynchronous=False)
        consumer.close()

        run = subprocess.run(["node", "js/console_browser.js", f"http://127.0.0.1:{broker.http_port}/",
                              "console-topic", "console-group", shots],
                             cwd=cwd, capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, CHROMIUM=CHROMIUM))
        assert run.returncode == 0 and "console OK" in run.stdout, run.stdout + run.stderr
        # What the browser did, seen through the Kafka protocol.
        assert "console-topic" in admin.list_topics(timeout=10).topics
        check = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "console-group"})
        committed = check.committed([TopicPartition("console-lag", 0)], timeout=10)
        check.close()
        assert committed[0].offset == 3, committed
    print(f"screenshots: {shots}")
    assert len([f for f in os.listdir(shots) if f.endswith(".png")]) == 5


if __name__ == "__main__":
    run_tests([test_console_in_chromium])
