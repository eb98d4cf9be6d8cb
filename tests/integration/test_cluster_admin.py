#!/usr/bin/python3
"""A three-node cluster (every node broker and controller): every broker
registers with the active controller over BrokerRegistration and stays
unfenced by heartbeats, so Metadata lists all three; admin requests sent to
a broker that is not the active controller are forwarded to it; idempotent
producers get producer ids on any broker; topics with one replica per
partition spread over the brokers and serve produce and fetch on each;
dynamic broker configs set through any broker reach every broker."""

import time

from harness import Cluster, run_tests, wait_for

from confluent_kafka import KafkaException, Producer
from kafka import KafkaConsumer, TopicPartition as KPTopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from kafka.admin import KafkaAdminClient, ConfigResource as KPConfigResource, ConfigResourceType


def test_every_broker_registers_and_admin_is_forwarded():
    with Cluster(3) as cluster:
        leader, _, _ = cluster.wait_for_leader()
        follower = next(n for n in cluster.nodes if n.node_id != leader)
        client = AdminClient({"bootstrap.servers": follower.bootstrap})
        md = wait_for(lambda: (lambda m: m if len(m.brokers) == 3 else None)(client.list_topics(timeout=5)),
                      what="three registered brokers")
        assert sorted(md.brokers) == [1, 2, 3], md.brokers

        # CreateTopics through a broker that is not the controller.
        client.create_topics([NewTopic("spread", num_partitions=6, replication_factor=1)])["spread"].result(timeout=20)
        md = wait_for(lambda: (lambda m: m if "spread" in m.topics and
                               all(p.leader >= 1 for p in m.topics["spread"].partitions.values()) else None)(
            client.list_topics(timeout=5)), what="the topic in the follower's metadata")
        leaders = {p.leader for p in md.topics["spread"].partitions.values()}
        assert leaders == {1, 2, 3}, leaders

        # A config change, forwarded as well; a bad one gets Kafka's error.
        resource = ConfigResource(ConfigResource.Type.TOPIC, "spread")
        resource.set_config("retention.ms", "3600000")
        client.alter_configs([resource])[resource].result(timeout=20)
        described = wait_for(lambda: (lambda c: c if c["retention.ms"].value == "3600000" else None)(
            client.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "spread")])[
                ConfigResource(ConfigResource.Type.TOPIC, "spread")].result(timeout=10)), what="the altered config")
        assert described["retention.ms"].source == 1
        bad = ConfigResource(ConfigResource.Type.TOPIC, "spread")
        bad.set_config("retention.ms", "soon")
        try:
            client.alter_configs([bad])[bad].result(timeout=20)
            raise AssertionError("a bad value was accepted")
        except KafkaException as e:
            assert e.args[0].name() == "INVALID_CONFIG", e

        # Dynamic broker configs: the cluster-wide default (kafka-python, which sends
        # resource "" to any broker) and one broker's own (librdkafka sends it to
        # that broker), forwarded to the controller, reach every broker.
        kp = KafkaAdminClient(bootstrap_servers=follower.bootstrap, request_timeout_ms=20000)
        try:
            response = kp.alter_configs([KPConfigResource(ConfigResourceType.BROKER, "",
                                                          configs={"log.retention.ms": "7200000"})])
            assert response.resources[0][0] == 0, response
        finally:
            kp.close()
        own = ConfigResource(ConfigResource.Type.BROKER, str(follower.node_id))
        own.set_config("log.retention.ms", "5400000")
        client.alter_configs([own])[own].result(timeout=20)

        def broker_retention(node_id):
            r = ConfigResource(ConfigResource.Type.BROKER, str(node_id))
            entry = client.describe_configs([r])[r].result(timeout=10)["log.retention.ms"]
            return entry.value, entry.source

        for node in cluster.nodes:
            expected = ("5400000", 2) if node.node_id == follower.node_id else ("7200000", 3)
            wait_for(lambda: broker_retention(node.node_id) == expected, what=f"broker {node.node_id}'s config")

        # Idempotent produce to partitions led by every broker, read back.
        producer = Producer({"bootstrap.servers": follower.bootstrap, "enable.idempotence": True, "acks": "all"})
        for i in range(600):
            producer.produce("spread", value=f"v{i}".encode(), partition=i % 6)
        assert producer.flush(30) == 0
        # (kafka-python without a group: nothing to leave at close.)
        consumer = KafkaConsumer(bootstrap_servers=follower.bootstrap, group_id=None, enable_auto_commit=False)
        consumer.assign([KPTopicPartition("spread", p) for p in range(6)])
        consumer.seek_to_beginning()
        got = set()
        deadline = time.monotonic() + 30
        while len(got) < 600 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                got.update(r.value for r in records)
        consumer.close()
        assert len(got) == 600, len(got)

        # Deleting through another follower.
        other = next(n for n in cluster.nodes if n.node_id not in (leader, follower.node_id))
        other_client = AdminClient({"bootstrap.servers": other.bootstrap})  # alive until the result is in
        other_client.delete_topics(["spread"])["spread"].result(timeout=20)
        wait_for(lambda: "spread" not in client.list_topics(timeout=5).topics, what="the topic deleted")


if __name__ == "__main__":
    run_tests([test_every_broker_registers_and_admin_is_forwarded])
