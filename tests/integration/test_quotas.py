#!/usr/bin/python3
"""Client quotas with real clients: AlterClientQuotas / DescribeClientQuotas
(entities, defaults, validate_only, Kafka's errors); a producer and a
consumer over their byte-rate quotas are throttled to them (throttle_time_ms
seen by librdkafka) while other clients in the same run are not slowed;
quotas set through one broker reach every broker of a three-node cluster."""

import json
import struct
import threading
import time
import urllib.request

from harness import Broker, Cluster, run_tests

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient
from kafka.protocol.api import Request, Response
from kafka.protocol.types import AbstractType, Array, Boolean, Int8, Int16, Int32, Schema, String

MB = 1024 * 1024
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42


class Float64(AbstractType):
    """kafka-python 2.0.2 has no FLOAT64."""

    @classmethod
    def encode(cls, value):
        return struct.pack(">d", value)

    @classmethod
    def decode(cls, data):
        return struct.unpack(">d", data.read(8))[0]


ENTITY = Array(("entity_type", String("utf-8")), ("entity_name", String("utf-8")))


class AlterClientQuotasResponse_v0(Response):
    API_KEY = 49
    API_VERSION = 0
    SCHEMA = Schema(("throttle_time_ms", Int32),
                    ("entries", Array(("error_code", Int16), ("error_message", String("utf-8")), ("entity", ENTITY))))


class AlterClientQuotasRequest_v0(Request):
    """kafka-python 2.0.2 and confluent-kafka 1.7 lack the client quota APIs:
    Kafka's v0 schemas on kafka-python's wire layer."""
    API_KEY = 49
    API_VERSION = 0
    RESPONSE_TYPE = AlterClientQuotasResponse_v0
    SCHEMA = Schema(("entries", Array(("entity", ENTITY),
                                      ("ops", Array(("key", String("utf-8")), ("value", Float64),
                                                    ("remove", Boolean))))),
                    ("validate_only", Boolean))


class DescribeClientQuotasResponse_v0(Response):
    API_KEY = 48
    API_VERSION = 0
    SCHEMA = Schema(("throttle_time_ms", Int32), ("error_code", Int16), ("error_message", String("utf-8")),
                    ("entries", Array(("entity", ENTITY),
                                      ("values", Array(("key", String("utf-8")), ("value", Float64))))))


class DescribeClientQuotasRequest_v0(Request):
    API_KEY = 48
    API_VERSION = 0
    RESPONSE_TYPE = DescribeClientQuotasResponse_v0
    SCHEMA = Schema(("components", Array(("entity_type", String("utf-8")), ("match_type", Int8),
                                         ("match", String("utf-8")))),
                    ("strict", Boolean))


def kp_call(kp, request, node=None):
    node = node if node is not None else kp._client.least_loaded_node()
    future = kp._send_request_to_node(node, request)
    kp._wait_for_futures([future])
    return future.value


def alter(kp, entity, ops, validate_only=False, node=None):
    """entity: [(type, name or None)]; ops: [(key, value or None to remove)].
    Returns (error_code, error_message) of the entry."""
    request = AlterClientQuotasRequest_v0(
        entries=[(entity, [(k, v if v is not None else 0.0, v is None) for k, v in ops])],
        validate_only=validate_only)
    entry = kp_call(kp, request, node).entries[0]
    return entry[0], entry[1]


def describe(kp, components, strict=False, node=None):
    """components: [(type, match_type, match)]. Returns (error, {entity tuple: {key: value}})."""
    response = kp_call(kp, DescribeClientQuotasRequest_v0(components=components, strict=strict), node)
    found = {}
    for entity, values in response.entries or []:
        found[tuple(sorted((t, n) for t, n in entity))] = dict(values)
    return response.error_code, found


def admin_client(broker):
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)


def test_alter_describe_defaults_and_errors():
    with Broker() as broker:
        kp = admin_client(broker)
        try:
            # validate_only: checked, not stored.
            assert alter(kp, [("client-id", "app")], [("producer_byte_rate", 1024.0)], validate_only=True) == (0, None)
            assert describe(kp, [])[1] == {}
            assert alter(kp, [("client-id", "app")], [("producer_byte_rate", 1024.0)]) == (0, None)
            assert alter(kp, [("user", None)], [("consumer_byte_rate", 2048.0), ("request_percentage", 12.5)]) == (0, None)
            assert alter(kp, [("user", "alice"), ("client-id", None)], [("producer_byte_rate", 4096.0)]) == (0, None)
            error, everything = describe(kp, [])
            assert error == 0
            assert everything == {
                (("client-id", "app"),): {"producer_byte_rate": 1024.0},
                (("user", None),): {"consumer_byte_rate": 2048.0, "request_percentage": 12.5},
                (("client-id", None), ("user", "alice")): {"producer_byte_rate": 4096.0},
            }, everything
            # Filters: exact name, the default, any name; strict.
            assert list(describe(kp, [("client-id", 0, "app")])[1]) == [(("client-id", "app"),)]
            assert list(describe(kp, [("user", 1, None)])[1]) == [(("user", None),)]
            assert len(describe(kp, [("user", 2, None)])[1]) == 2
            assert list(describe(kp, [("user", 2, None)], strict=True)[1]) == [(("user", None),)]
            assert list(describe(kp, [("client-id", 1, None)])[1]) == [(("client-id", None), ("user", "alice"))]
            # Removal of one key, then of the entity's last.
            assert alter(kp, [("user", None)], [("request_percentage", None)]) == (0, None)
            assert describe(kp, [("user", 1, None)], strict=True)[1] == {(("user", None),): {"consumer_byte_rate": 2048.0}}
            assert alter(kp, [("client-id", "app")], [("producer_byte_rate", None)]) == (0, None)
            assert describe(kp, [("client-id", 0, "app")])[1] == {}

            # Kafka's errors.
            for entity, ops in [
                ([("client-id", "app")], [("no_such_rate", 1.0)]),       # unknown key
                ([("client-id", "app")], [("producer_byte_rate", 1.5)]),  # not a Long
                ([("client-id", "app")], [("producer_byte_rate", -5.0)]),
                ([("client-id", "app")], [("producer_byte_rate", 1.0), ("producer_byte_rate", 2.0)]),
                ([], [("producer_byte_rate", 1.0)]),                       # empty entity
                ([("group", "g")], [("producer_byte_rate", 1.0)]),         # unknown entity type
                ([("ip", "1.2.3.4"), ("user", "u")], [("connection_creation_rate", 1.0)]),
                ([("ip", "not-an-ip")], [("connection_creation_rate", 1.0)]),
                ([("ip", None)], [("producer_byte_rate", 1.0)]),           # not an ip key
            ]:
                code, message = alter(kp, entity, ops)
                assert code == INVALID_REQUEST and message, (entity, ops, code, message)
            assert alter(kp, [("client-id", "app")], [("producer_byte_rate", 1.5)])[1] == \
                "producer_byte_rate cannot be a fractional value."
            # Removing a key that is not there (even an unknown one) is not an error.
            assert alter(kp, [("client-id", "nobody")], [("no_such_rate", None)]) == (0, None)
            assert alter(kp, [("ip", "10.0.0.1")], [("connection_creation_rate", 5.0)]) == (0, None)
            assert describe(kp, [("nope", 2, None)])[0] == UNSUPPORTED_VERSION
            assert describe(kp, [("user", 0, None)])[0] == INVALID_REQUEST  # exact match of nothing
            assert describe(kp, [("user", 1, "alice")])[0] == INVALID_REQUEST  # the default, with a name
            assert describe(kp, [("user", 2, None), ("user", 1, None)])[0] == INVALID_REQUEST
            assert describe(kp, [("ip", 2, None), ("user", 2, None)])[0] == INVALID_REQUEST
        finally:
            kp.close()


def create_topic(broker, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive until the result is in
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)],
                                  operation_timeout=10)
    futures[name].result(timeout=15)


def max_window_rate(acks, window=11.0):
    """The highest rate (bytes/s) over any `window`-second span starting at an
    acknowledgement: the quota's own window (quota.window.num x size)."""
    times = [t for t, _ in acks]
    best = 0.0
    j = 0
    total = 0
    for i, (start, _) in enumerate(acks):
        while j < len(acks) and times[j] < start + window:
            total += acks[j][1]
            j += 1
        best = max(best, total / window)
        total -= acks[i][1]
    return best


def cycle_rate(acks, cycles=2, window=11.0):
    """Bytes/s acknowledged over whole quota windows (quota.window.num x
    size = 11 s) after the first: from 0.5 s before the 11 s mark to 0.5 s
    before the (1 + cycles) x 11 s mark, counted from the first
    acknowledgement.

    Why whole windows: Kafka's Rate counts a young sensor's span as
    quota.window.num - 1 whole windows, so a greedy client's first burst of
    about (num - 1) x size x quota bytes goes through unthrottled, and each
    time the window's oldest sample expires (every 11 s) its budget is freed
    at once: the client bursts, then is throttled for the rest of the window.
    Over a whole window the quota holds; over a shorter or misaligned span the
    figure swings by up to one burst. The bursts begin when a sample expires,
    that is 11 s after the first record, and last well under 0.5 s here."""
    start = acks[0][0] + window - 0.5
    end = start + cycles * window
    return sum(b for t, b in acks if start <= t < end) / (end - start)


def produce_for(broker, topic, client_id, seconds, out, extra=None):
    """Produces 10 KB records as fast as the broker takes them for `seconds`;
    appends (time, bytes) per acknowledged record to out['acks'] and the
    throttle times librdkafka reported to out['throttles']."""
    out.setdefault("acks", [])
    out.setdefault("throttles", [])
    out.setdefault("stats_throttle", 0)

    def on_stats(text):
        for b in json.loads(text).get("brokers", {}).values():
            out["stats_throttle"] = max(out["stats_throttle"], b.get("throttle", {}).get("max", 0))

    config = {"bootstrap.servers": broker.bootstrap, "client.id": client_id, "acks": 1, "linger.ms": 5,
              "batch.size": 131072, "queue.buffering.max.kbytes": 8192, "statistics.interval.ms": 1000,
              "stats_cb": on_stats, "throttle_cb": lambda event: out["throttles"].append(event.throttle_time)}
    config.update(extra or {})
    producer = Producer(config)
    payload = b"x" * 10240

    def delivered(err, msg):
        if err is None:
            out["acks"].append((time.monotonic(), len(msg.value())))

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            producer.produce(topic, payload, callback=delivered)
        except BufferError:
            producer.poll(0.05)
            continue
        producer.poll(0)
    producer.flush(30)


def metrics_text(broker):
    status, _, body = broker.http_get("/metrics")
    assert status == 200
    return body


def test_producer_is_throttled_to_its_quota_and_others_are_not():
    with Broker() as broker:
        create_topic(broker, "q-slow")
        create_topic(broker, "q-fast")
        kp = admin_client(broker)
        try:
            assert alter(kp, [("client-id", "slow-producer")], [("producer_byte_rate", float(MB))]) == (0, None)
        finally:
            kp.close()
        slow, fast = {}, {}
        threads = [threading.Thread(target=produce_for, args=(broker, "q-slow", "slow-producer", 34, slow)),
                   threading.Thread(target=produce_for, args=(broker, "q-fast", "free-producer", 12, fast))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        slow_rate = cycle_rate(slow["acks"])
        fast_bytes = sum(b for _, b in fast["acks"])
        fast_span = fast["acks"][-1][0] - fast["acks"][0][0]
        print(f"throttled producer: {slow_rate / MB:.3f} MB/s over the two quota windows after the first "
              f"({sum(b for _, b in slow['acks']) / MB:.1f} MB in 34 s, the first window's burst included; "
              f"at most {max_window_rate(slow['acks']) / MB:.2f} MB/s over any 11 s); "
              f"throttle_cb {len(slow['throttles'])} times, max {max(slow['throttles'] or [0])} s; "
              f"stats throttle max {slow['stats_throttle']} ms; "
              f"free producer: {fast_bytes / MB / fast_span:.1f} MB/s over {fast_span:.1f} s")
        # Within 10% of the quota over whole windows (see cycle_rate).
        assert 0.9 * MB <= slow_rate <= 1.1 * MB, slow_rate / MB
        assert slow["throttles"] and max(slow["throttles"]) > 0
        assert slow["stats_throttle"] > 0
        assert not fast["throttles"] or max(fast["throttles"]) == 0
        # The free producer was not slowed to anything like the quota.
        assert fast_bytes / fast_span > 5 * MB, fast_bytes / fast_span / MB
        text = metrics_text(broker)
        assert 'strata_quota_throttle_time_seconds_count{type="Produce",user="",client_id="slow-producer"}' in text
        assert 'client_id="free-producer"' not in text


def consume_for(broker, topic, client_id, seconds, out):
    out["acks"] = []
    out["throttles"] = []
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "client.id": client_id, "group.id": client_id,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "max.partition.fetch.bytes": 131072, "fetch.max.bytes": 1048576,
                         "throttle_cb": lambda event: out["throttles"].append(event.throttle_time)})
    consumer.subscribe([topic])
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        msg = consumer.poll(0.1)
        if msg is not None and not msg.error():
            out["acks"].append((time.monotonic(), len(msg.value())))
    consumer.close()


def test_consumer_is_throttled_to_its_quota_and_others_are_not():
    with Broker() as broker:
        create_topic(broker, "q-read")
        loaded = {}
        produce_for(broker, "q-read", "loader", 4, loaded)
        total = sum(b for _, b in loaded["acks"])
        assert total > 25 * MB, total / MB  # more than the slow consumer can read in the run
        kp = admin_client(broker)
        try:
            assert alter(kp, [("client-id", "slow-consumer")], [("consumer_byte_rate", float(MB))]) == (0, None)
        finally:
            kp.close()
        slow, fast = {}, {}
        threads = [threading.Thread(target=consume_for, args=(broker, "q-read", "slow-consumer", 16, slow)),
                   threading.Thread(target=consume_for, args=(broker, "q-read", "free-consumer", 16, fast))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        slow_rate = max_window_rate(slow["acks"])
        fast_bytes = sum(b for _, b in fast["acks"])
        print(f"throttled consumer: {slow_rate / MB:.3f} MB/s at most over 11 s; "
              f"throttle_cb {len(slow['throttles'])} times, max {max(slow['throttles'] or [0])} s; "
              f"free consumer read {fast_bytes / MB:.1f} MB of {total / MB:.1f} MB")
        assert 0.9 * MB <= slow_rate <= 1.1 * MB, slow_rate / MB
        assert slow["throttles"] and max(slow["throttles"]) > 0
        assert fast_bytes == total, (fast_bytes, total)  # read everything, unthrottled
        assert not fast["throttles"] or max(fast["throttles"]) == 0


def test_quotas_reach_every_broker_of_a_cluster():
    with Cluster(3) as cluster:
        for node in cluster.nodes:
            node.wait_ready(timeout=20)
        clients = [admin_client(node) for node in cluster.nodes]
        try:
            # Through a broker that is not the active controller: it forwards
            # the request, the controller writes the records, every broker
            # applies them.
            controller = cluster.leader()[0]
            second = next(i for i, node in enumerate(cluster.nodes) if node.node_id != controller)
            assert alter(clients[second], [("user", "carol"), ("client-id", "c1")], [("producer_byte_rate", 2048.0)],
                         node=cluster.nodes[second].node_id) == (0, None)
            expected = {(("client-id", "c1"), ("user", "carol")): {"producer_byte_rate": 2048.0}}
            deadline = time.monotonic() + 5
            for node, client in zip(cluster.nodes, clients):
                while True:
                    found = describe(client, [("user", 0, "carol")], node=node.node_id)[1]
                    if found == expected:
                        break
                    assert time.monotonic() < deadline, (node.node_id, found)
                    time.sleep(0.05)
        finally:
            for client in clients:
                client.close()


if __name__ == "__main__":
    run_tests([
        test_alter_describe_defaults_and_errors,
        test_producer_is_throttled_to_its_quota_and_others_are_not,
        test_consumer_is_throttled_to_its_quota_and_others_are_not,
        test_quotas_reach_every_broker_of_a_cluster,
    ])
