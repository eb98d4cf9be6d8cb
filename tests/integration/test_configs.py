#!/usr/bin/python3
"""Topic and broker configs with real clients: DescribeConfigs with sources,
synonyms and documentation; AlterConfigs and IncrementalAlterConfigs through
the metadata quorum; Kafka's errors for bad names and values; altered
configs act on open partitions and survive a restart; dynamic broker configs
(cluster-wide default and per broker) likewise."""

import time

from harness import Broker, run_tests

from confluent_kafka import Producer, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewTopic
from kafka.admin import KafkaAdminClient, ConfigResource as KPConfigResource, ConfigResourceType
from kafka.protocol.admin import DescribeConfigsRequest
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(client, name, partitions=3, config=None):
    futures = client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                             config=config or {})], operation_timeout=10)
    futures[name].result(timeout=15)


def describe(client, name, kind=ConfigResource.Type.TOPIC):
    resource = ConfigResource(kind, name)
    return client.describe_configs([resource])[resource].result(timeout=10)


def test_describe_topic_configs_reports_sources():
    with Broker(extra_env={"STRATA_LOG_RETENTION_HOURS": "24"}) as broker:
        client = admin(broker)
        create(client, "described", config={"cleanup.policy": "compact", "max.message.bytes": "2000000"})
        configs = describe(client, "described")
        # Every Kafka topic config is listed.
        for key in ("cleanup.policy", "retention.ms", "segment.bytes", "min.insync.replicas",
                    "message.timestamp.type", "compression.type", "delete.retention.ms"):
            assert key in configs, key
        assert configs["cleanup.policy"].value == "compact"
        assert configs["cleanup.policy"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert configs["max.message.bytes"].value == "2000000"
        # From the node's environment: a static broker config, in ms.
        assert configs["retention.ms"].value == str(24 * 3600 * 1000), configs["retention.ms"].value
        assert configs["retention.ms"].source == ConfigSource.STATIC_BROKER_CONFIG.value
        # (confluent-kafka keys synonyms by name: the static log.retention.hours
        # and its default share one entry.)
        assert "log.retention.hours" in configs["retention.ms"].synonyms, configs["retention.ms"].synonyms
        assert configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
        assert configs["segment.bytes"].value == "1073741824"
        assert not configs["segment.bytes"].is_read_only


def test_incremental_alter_set_delete_append_and_errors():
    with Broker() as broker:
        client = admin(broker)
        create(client, "altered")
        resource = ConfigResource(ConfigResource.Type.TOPIC, "altered")
        resource.set_config("retention.ms", "3600000")
        resource.set_config("cleanup.policy", "compact,delete")
        # confluent-kafka 1.7's alter_configs is the non-incremental AlterConfigs:
        # what it does not name goes back to the default.
        client.alter_configs([resource])[resource].result(timeout=10)
        configs = describe(client, "altered")
        assert configs["retention.ms"].value == "3600000"
        assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert set(configs["cleanup.policy"].value.split(",")) == {"compact", "delete"}

        only = ConfigResource(ConfigResource.Type.TOPIC, "altered")
        only.set_config("segment.ms", "600000")
        client.alter_configs([only])[only].result(timeout=10)
        configs = describe(client, "altered")
        assert configs["segment.ms"].value == "600000"
        assert configs["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value, "AlterConfigs replaces the set"

        # Unknown names and bad values are INVALID_CONFIG; unknown topics
        # UNKNOWN_TOPIC_OR_PARTITION; nothing changes.
        for key, value in (("no.such.config", "1"), ("retention.ms", "soon"), ("cleanup.policy", "shred"),
                           ("min.insync.replicas", "0")):
            bad = ConfigResource(ConfigResource.Type.TOPIC, "altered")
            bad.set_config(key, value)
            try:
                client.alter_configs([bad])[bad].result(timeout=10)
                raise AssertionError(f"{key}={value} was accepted")
            except KafkaException as e:
                assert e.args[0].name() == "INVALID_CONFIG", (key, e)
        assert describe(client, "altered")["segment.ms"].value == "600000"
        missing = ConfigResource(ConfigResource.Type.TOPIC, "missing")
        missing.set_config("retention.ms", "1")
        try:
            client.alter_configs([missing])[missing].result(timeout=10)
            raise AssertionError("altering a missing topic succeeded")
        except KafkaException as e:
            assert e.args[0].name() == "UNKNOWN_TOPIC_OR_PART", e


def test_kafka_python_describe_and_alter():
    with Broker() as broker:
        create(admin(broker), "kp-configs")
        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        try:
            kp.alter_configs([KPConfigResource(ConfigResourceType.TOPIC, "kp-configs",
                                               configs={"retention.bytes": "1048576"})])
            result = kp.describe_configs([KPConfigResource(ConfigResourceType.TOPIC, "kp-configs")])
            entries = {e[0]: e[1] for e in result[0].resources[0][4]}
            assert entries["retention.bytes"] == "1048576", entries
            broker_result = kp.describe_configs([KPConfigResource(ConfigResourceType.BROKER, "1")])
            broker_entries = {e[0]: e[1] for e in broker_result[0].resources[0][4]}
            assert broker_entries["node.id"] == "1", broker_entries.get("node.id")
        finally:
            kp.close()


def kp_alter(kp, name, configs):
    """AlterConfigs of a BROKER resource through kafka-python, which (unlike
    librdkafka) accepts "", the cluster-wide default. Returns (code, message)."""
    response = kp.alter_configs([KPConfigResource(ConfigResourceType.BROKER, name, configs=configs)])
    error_code, error_message = response.resources[0][0], response.resources[0][1]
    return error_code, error_message


def kp_describe_default(kp):
    """DescribeConfigs of the cluster-wide default (resource name ""): kafka-python's
    describe_configs insists on a numeric broker id, so the request goes out by hand."""
    future = kp._send_request_to_node(1, DescribeConfigsRequest[1](resources=[(4, "", None)], include_synonyms=True))
    kp._wait_for_futures([future])
    result = future.value.resources[0]
    assert result[0] == 0, result
    # (name, value, read_only, source, is_sensitive, synonyms): kafka-python decodes
    # v1's source byte as v0's is_default, so the source is read from the synonym.
    return {e[0]: e for e in result[4]}


class IncrementalAlterConfigsResponse_v0(Response):
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(("throttle_time_ms", Int32),
                    ("responses", Array(("error_code", Int16), ("error_message", String("utf-8")),
                                        ("resource_type", Int8), ("resource_name", String("utf-8")))))


class IncrementalAlterConfigsRequest_v0(Request):
    """kafka-python 2.0.2 and confluent-kafka 1.7 lack IncrementalAlterConfigs:
    Kafka's v0 schema on kafka-python's wire layer."""
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                                        ("configs", Array(("name", String("utf-8")), ("config_operation", Int8),
                                                          ("value", String("utf-8")))))),
                    ("validate_only", Boolean))


SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def kp_incremental(kp, name, ops, validate_only=False):
    """IncrementalAlterConfigs of BROKER resource `name`: ops are (key, op, value)."""
    request = IncrementalAlterConfigsRequest_v0(resources=[(4, name, ops)], validate_only=validate_only)
    future = kp._send_request_to_node(1, request)
    kp._wait_for_futures([future])
    error_code, error_message, _, _ = future.value.responses[0]
    return error_code, error_message


def producer_to(broker, topic):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    errors = []

    def send(size):
        producer.produce(topic, b"x" * size, on_delivery=lambda err, msg: errors.append(err))
        producer.flush(10)
        return errors.pop()

    return send


def wait_for_error(send, size, expected, seconds=5):
    deadline = time.monotonic() + seconds
    while True:
        err = send(size)
        if (err is not None and err.name() == expected) or time.monotonic() > deadline:
            return err
        time.sleep(0.05)


def test_dynamic_broker_configs():
    INVALID_REQUEST = 42
    with Broker() as broker:
        client = admin(broker)
        create(client, "inherits", partitions=1)
        create(client, "own", partitions=1, config={"retention.ms": "60000"})
        send = producer_to(broker, "inherits")
        assert send(5000) is None
        configs = describe(client, "1", ConfigResource.Type.BROKER)
        assert configs["log.retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value
        assert not configs["log.retention.ms"].is_read_only
        assert configs["log.dirs"].is_read_only and configs["listeners"].is_read_only

        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        try:
            # kafka-configs.sh --entity-type brokers --entity-default --add-config ...
            assert kp_alter(kp, "", {"log.retention.ms": "3600000", "message.max.bytes": "2000"})[0] == 0
            default = kp_describe_default(kp)
            assert set(default) == {"log.retention.ms", "message.max.bytes"}, default
            assert default["log.retention.ms"][1] == "3600000"
            assert default["log.retention.ms"][5] == [
                ("log.retention.ms", "3600000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value)], default

            configs = describe(client, "1", ConfigResource.Type.BROKER)
            assert configs["log.retention.ms"].value == "3600000"
            assert configs["log.retention.ms"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
            topic = describe(client, "inherits")
            assert topic["retention.ms"].value == "3600000", topic["retention.ms"]
            assert topic["retention.ms"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
            assert "log.retention.ms" in topic["retention.ms"].synonyms
            assert topic["max.message.bytes"].value == "2000"
            own = describe(client, "own")
            assert own["retention.ms"].value == "60000"
            assert own["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value

            # The open partition of a topic without an override takes the new default.
            err = wait_for_error(send, 5000, "MSG_SIZE_TOO_LARGE")
            assert err is not None and err.name() == "MSG_SIZE_TOO_LARGE", err
            assert send(100) is None

            # Per broker (--entity-name 1) beats the cluster default.
            resource = ConfigResource(ConfigResource.Type.BROKER, "1")
            resource.set_config("log.retention.ms", "7200000")
            client.alter_configs([resource])[resource].result(timeout=10)
            topic = describe(client, "inherits")
            assert topic["retention.ms"].value == "7200000"
            assert topic["retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value

            # validate_only changes nothing.
            trial = ConfigResource(ConfigResource.Type.BROKER, "1")
            trial.set_config("log.retention.ms", "1000")
            client.alter_configs([trial], validate_only=True)[trial].result(timeout=10)
            assert describe(client, "1", ConfigResource.Type.BROKER)["log.retention.ms"].value == "7200000"

            # Read-only keys, unknown keys and bad values: INVALID_REQUEST, as in Kafka.
            for key, value in (("log.dirs", "/tmp/elsewhere"), ("listeners", "PLAINTEXT://:9999"),
                               ("no.such.key", "1"), ("log.retention.ms", "soon"),
                               ("log.cleanup.policy", "shred")):
                bad = ConfigResource(ConfigResource.Type.BROKER, "1")
                bad.set_config(key, value)
                try:
                    client.alter_configs([bad])[bad].result(timeout=10)
                    raise AssertionError("{}={} accepted".format(key, value))
                except KafkaException as e:
                    assert e.args[0].name() == "INVALID_REQUEST", (key, e)
                    assert key in e.args[0].str(), e
            code, message = kp_alter(kp, "", {"log.dirs": "/tmp/elsewhere"})
            assert code == INVALID_REQUEST and "Cannot update these configs dynamically" in message, message
            # IncrementalAlterConfigs on the cluster default: APPEND and SUBTRACT on a
            # list key start from the current value; DELETE leaves the others alone;
            # validate_only changes nothing.
            assert kp_incremental(kp, "", [("log.cleanup.policy", APPEND, "compact")]) == (0, None)
            assert kp_describe_default(kp)["log.cleanup.policy"][1] == "delete,compact"
            assert describe(client, "inherits")["cleanup.policy"].source == \
                ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
            assert kp_incremental(kp, "", [("log.cleanup.policy", SUBTRACT, "delete")]) == (0, None)
            assert kp_describe_default(kp)["log.cleanup.policy"][1] == "compact"
            assert kp_incremental(kp, "", [("log.cleanup.policy", DELETE, None)]) == (0, None)
            assert kp_incremental(kp, "", [("log.retention.ms", SET, "1")], validate_only=True) == (0, None)
            assert set(kp_describe_default(kp)) == {"log.retention.ms", "message.max.bytes"}
            assert kp_describe_default(kp)["log.retention.ms"][1] == "3600000"
            code, message = kp_incremental(kp, "", [("log.retention.ms", APPEND, "1")])
            assert code != 0, message
            # Another broker's id: Kafka's "Unexpected broker id" from the broker asked.
            code, message = kp_alter(kp, "2", {"log.retention.ms": "1000"})
            assert code == INVALID_REQUEST and "Unexpected broker id" in message, message
            assert describe(client, "1", ConfigResource.Type.BROKER)["log.retention.ms"].value == "7200000"
        finally:
            kp.close()

        # New topics inherit too.
        create(client, "later", partitions=1)
        assert describe(client, "later")["max.message.bytes"].value == "2000"

        broker.stop()
        broker.start().wait_ready()
        client = admin(broker)
        configs = describe(client, "1", ConfigResource.Type.BROKER)
        assert configs["log.retention.ms"].value == "7200000"
        assert configs["log.retention.ms"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
        assert configs["message.max.bytes"].value == "2000"
        assert configs["message.max.bytes"].source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
        send = producer_to(broker, "inherits")
        err = wait_for_error(send, 5000, "MSG_SIZE_TOO_LARGE")
        assert err is not None and err.name() == "MSG_SIZE_TOO_LARGE", err
        assert producer_to(broker, "later")(5000).name() == "MSG_SIZE_TOO_LARGE"


def test_altered_limit_applies_to_open_partition_and_survives_restart():
    with Broker() as broker:
        client = admin(broker)
        create(client, "limited", partitions=1)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        errors = []

        def send(size):
            producer.produce("limited", b"x" * size, on_delivery=lambda err, msg: errors.append(err))
            producer.flush(10)
            return errors.pop()

        assert send(5000) is None
        resource = ConfigResource(ConfigResource.Type.TOPIC, "limited")
        resource.set_config("max.message.bytes", "2000")
        client.alter_configs([resource])[resource].result(timeout=10)
        deadline = time.monotonic() + 5
        while True:
            err = send(5000)
            if err is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert err is not None and err.name() == "MSG_SIZE_TOO_LARGE", err
        assert send(100) is None
        broker.stop()
        broker.start().wait_ready()
        assert describe(admin(broker), "limited")["max.message.bytes"].value == "2000"


def test_a_value_the_controller_accepts_acts_as_written():
    """Kafka's parser trims a value and takes a leading '+' (ConfigDef, Java's
    parseInt); the controller accepted " +2000 " so, and the partition, which
    read values with a parser of its own, used to ignore it (a warning in the
    log, the broker's 1 MiB in effect). One table now validates and applies
    with the same parser."""
    with Broker() as broker:
        create(admin(broker), "spaced", partitions=1, config={"max.message.bytes": " +2000 "})
        send = producer_to(broker, "spaced")
        err = wait_for_error(send, 5000, "MSG_SIZE_TOO_LARGE")
        assert err is not None and err.name() == "MSG_SIZE_TOO_LARGE", err
        assert send(100) is None
        assert "config max.message.bytes" not in broker.log()


def test_kafkas_keys_not_in_effect_are_accepted_with_kafkas_update_modes():
    """Kafka knows every one of its broker keys: librdkafka's admin test (0081)
    sets the Kerberos key sasl.kerberos.min.time.before.relogin on a broker,
    which Strata has no use for. Such keys are accepted, checked as Kafka
    checks them, described, and refused only where Kafka refuses them (a
    per-broker key at the cluster default)."""
    INVALID_REQUEST = 42
    with Broker() as broker:
        client = admin(broker)
        configs = describe(client, "1", ConfigResource.Type.BROKER)
        assert configs["sasl.kerberos.min.time.before.relogin"].value == "60000"
        assert configs["sasl.kerberos.min.time.before.relogin"].source == ConfigSource.DEFAULT_CONFIG.value
        assert configs["sasl.kerberos.min.time.before.relogin"].is_read_only is False
        assert configs["log.cleaner.threads"].value == "1"

        # What 0081 sends: a topic's config and the broker key in one AlterConfigs.
        create(client, "altered", partitions=1)
        topic = ConfigResource(ConfigResource.Type.TOPIC, "altered")
        topic.set_config("compression.type", "gzip")
        broker_resource = ConfigResource(ConfigResource.Type.BROKER, "1")
        broker_resource.set_config("sasl.kerberos.min.time.before.relogin", "58000")
        for future in client.alter_configs([topic, broker_resource]).values():
            future.result(timeout=10)
        configs = describe(client, "1", ConfigResource.Type.BROKER)
        assert configs["sasl.kerberos.min.time.before.relogin"].value == "58000"
        assert configs["sasl.kerberos.min.time.before.relogin"].source == ConfigSource.DYNAMIC_BROKER_CONFIG.value
        assert describe(client, "altered")["compression.type"].value == "gzip"

        # Values are checked by Kafka's types; misspelt keys stay unknown.
        for key, value in (("sasl.kerberos.min.time.before.relogin", "a minute"),
                           ("sasl.kerberos.ticket.renew.window.factor", "most"),
                           ("log.cleaner.threads", "-1"),
                           ("sasl.kerberos.min.time.before.relogins", "58000")):
            bad = ConfigResource(ConfigResource.Type.BROKER, "1")
            bad.set_config(key, value)
            try:
                client.alter_configs([bad])[bad].result(timeout=10)
                raise AssertionError("{}={} accepted".format(key, value))
            except KafkaException as e:
                assert e.args[0].name() == "INVALID_REQUEST", (key, e)

        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            # Per-broker in Kafka: not at the cluster default; cluster-wide ones are.
            code, message = kp_alter(kp, "", {"sasl.kerberos.min.time.before.relogin": "58000"})
            assert code == INVALID_REQUEST, (code, message)
            assert "broker id must be specified" in message, message
            code, message = kp_alter(kp, "", {"log.cleaner.threads": "2"})
            assert code == 0, (code, message)
            assert kp_describe_default(kp)["log.cleaner.threads"][1] == "2"
        finally:
            kp.close()

        # Kept in the metadata log like every dynamic config.
        broker.stop()
        broker.start().wait_ready()
        configs = describe(admin(broker), "1", ConfigResource.Type.BROKER)
        assert configs["sasl.kerberos.min.time.before.relogin"].value == "58000"
        assert configs["log.cleaner.threads"].value == "2"


if __name__ == "__main__":
    run_tests([
        test_describe_topic_configs_reports_sources,
        test_incremental_alter_set_delete_append_and_errors,
        test_kafka_python_describe_and_alter,
        test_dynamic_broker_configs,
        test_altered_limit_applies_to_open_partition_and_survives_restart,
        test_a_value_the_controller_accepts_acts_as_written,
        test_kafkas_keys_not_in_effect_are_accepted_with_kafkas_update_modes,
    ])
