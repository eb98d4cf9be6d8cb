#!/usr/bin/python3
"""A deleted topic's series leave /metrics.

One broker, confluent-kafka clients: a topic with traffic, a consumer
group's committed offsets and its high watermarks has its series on
/metrics; once deleted, none remains (a topic kept beside it keeps its own);
created again under the same name, its counters start from zero.
"""

import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Broker, run_tests
from test_http import value


def metrics_text(broker):
    status, _, body = broker.http_get("/metrics")
    assert status == 200, status
    return body


def create_topic(broker, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=10)
    futures[name].result(timeout=15)


def topic_lines(text, topic):
    return [line for line in text.splitlines() if f'topic="{topic}"' in line]


def test_deleted_topic_series_disappear():
    with Broker() as broker:
        create_topic(broker, "doomed", partitions=2)
        create_topic(broker, "kept")
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2})
        for i in range(10):
            producer.produce("doomed", key=str(i), value=b"d" * 50)
        producer.produce("kept", value=b"k")
        assert producer.flush(20) == 0

        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "doomed-group",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe(["doomed"])
        got = 0
        deadline = time.monotonic() + 20
        while got < 10 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got += 1
        assert got == 10, got
        consumer.commit(asynchronous=False)
        consumer.close()

        text = metrics_text(broker)
        names = {line.partition("{")[0] for line in topic_lines(text, "doomed")}
        for name in ("strata_bytes_in_total", "strata_messages_in_total", "strata_bytes_out_total",
                     "strata_partition_high_watermark", "strata_consumer_group_committed_offset",
                     "strata_consumer_group_lag"):
            assert name in names, (name, names)
        assert value(text, "strata_messages_in_total", 'topic="doomed"') == 10

        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.delete_topics(["doomed"], operation_timeout=10)["doomed"].result(timeout=15)
        deadline = time.monotonic() + 10
        while topic_lines(text, "doomed") and time.monotonic() < deadline:
            time.sleep(0.1)
            text = metrics_text(broker)
        assert not topic_lines(text, "doomed"), topic_lines(text, "doomed")
        assert value(text, "strata_messages_in_total", 'topic="kept"') == 1, topic_lines(text, "kept")

        # The same name again: a new topic, its counters from zero.
        create_topic(broker, "doomed")
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 2})
        for i in range(3):
            producer.produce("doomed", value=b"again")
        assert producer.flush(20) == 0
        text = metrics_text(broker)
        assert value(text, "strata_messages_in_total", 'topic="doomed"') == 3, topic_lines(text, "doomed")


if __name__ == "__main__":
    run_tests([test_deleted_topic_series_disappear])
