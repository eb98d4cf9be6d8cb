#!/usr/bin/python3
"""Topic administration through the metadata quorum with real clients:
confluent-kafka's AdminClient, kafka-python's KafkaAdminClient and kcat -L
see the broker and the topics; create, describe, add partitions and delete
work with Kafka's errors; topics survive a restart and a SIGKILL."""

import json
import subprocess

from harness import Broker, run_tests, wait_for

from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
from confluent_kafka import KafkaException
from kafka.admin import KafkaAdminClient, NewTopic as KPNewTopic
from kafka.errors import TopicAlreadyExistsError


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(client, name, partitions=3):
    futures = client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                   operation_timeout=10)
    futures[name].result(timeout=15)


def test_metadata_lists_the_broker():
    with Broker() as broker:
        md = wait_for(lambda: (lambda m: m if m.brokers else None)(admin(broker).list_topics(timeout=10)))
        assert list(md.brokers) == [1], md.brokers
        b = md.brokers[1]
        assert (b.host, b.port) == ("127.0.0.1", broker.port), (b.host, b.port)
        assert md.controller_id == 1
        assert md.cluster_id and len(md.cluster_id) == 22, md.cluster_id


def test_confluent_admin_create_describe_add_partitions_delete():
    with Broker() as broker:
        client = admin(broker)
        create(client, "orders", 3)
        md = client.list_topics(timeout=10)
        assert "orders" in md.topics
        parts = md.topics["orders"].partitions
        assert sorted(parts) == [0, 1, 2]
        for p in parts.values():
            assert p.leader == 1 and p.replicas == [1] and p.isrs == [1], p
        # Creating it again is TOPIC_ALREADY_EXISTS.
        try:
            create(client, "orders", 3)
            raise AssertionError("second create succeeded")
        except KafkaException as e:
            assert e.args[0].code() == 36, e  # TOPIC_ALREADY_EXISTS
        # An invalid name is INVALID_TOPIC_EXCEPTION.
        try:
            create(client, "bad name!", 1)
            raise AssertionError("bad name accepted")
        except KafkaException as e:
            assert e.args[0].code() == 17, e
        client.create_partitions([NewPartitions("orders", 5)])["orders"].result(timeout=15)
        assert sorted(client.list_topics(timeout=10).topics["orders"].partitions) == [0, 1, 2, 3, 4]
        client.delete_topics(["orders"], operation_timeout=10)["orders"].result(timeout=15)
        assert "orders" not in client.list_topics(timeout=10).topics


def test_kafka_python_admin_and_kcat_see_topics():
    with Broker() as broker:
        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        kp.create_topics([KPNewTopic("events", num_partitions=2, replication_factor=1)])
        try:
            kp.create_topics([KPNewTopic("events", num_partitions=2, replication_factor=1)])
            raise AssertionError("duplicate create accepted")
        except TopicAlreadyExistsError:
            pass
        assert "events" in kp.list_topics()
        kp.close()
        out = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-J"], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        md = json.loads(out.stdout)
        topics = {t["topic"]: t for t in md["topics"]}
        assert len(topics["events"]["partitions"]) == 2
        assert md["brokers"][0]["id"] == 1


def test_metadata_request_auto_creates_topics():
    with Broker() as broker:
        out = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-t", "auto-made", "-J"], capture_output=True,
                             text=True, timeout=30)
        md = json.loads(out.stdout)
        names = [t["topic"] for t in md["topics"]]
        assert "auto-made" in names, md
        assert "auto-made" in admin(broker).list_topics(timeout=10).topics


def test_topics_survive_restart_and_sigkill():
    broker = Broker().start().wait_ready()
    try:
        client = admin(broker)
        create(client, "kept", 4)
        assert broker.stop() == 0
        broker.start().wait_ready()
        md = wait_for(lambda: (lambda m: m if "kept" in m.topics else None)(admin(broker).list_topics(timeout=10)))
        assert len(md.topics["kept"].partitions) == 4
        create(admin(broker), "kept-too", 1)
        broker.kill()
        broker.start().wait_ready()
        md = wait_for(lambda: (lambda m: m if "kept-too" in m.topics else None)(admin(broker).list_topics(timeout=10)))
        assert "kept" in md.topics and "kept-too" in md.topics
    finally:
        broker.stop()


if __name__ == "__main__":
    run_tests([
        test_metadata_lists_the_broker,
        test_confluent_admin_create_describe_add_partitions_delete,
        test_kafka_python_admin_and_kcat_see_topics,
        test_metadata_request_auto_creates_topics,
        test_topics_survive_restart_and_sigkill,
    ])
