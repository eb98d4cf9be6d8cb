#!/usr/bin/python3
"""KIP-714 client metrics: `client-metrics` config resources set with
AlterConfigs, read back with DescribeConfigs and ListClientMetricsResources;
a librdkafka 2.12 producer (confluent-kafka-python over the librdkafka that
tests/compat/build.sh builds) asks for its subscription, pushes its metrics
and they appear on /metrics with its client labels; they go when it closes.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import time

from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka.protocol.admin import AlterConfigsRequest_v0, DescribeConfigsRequest_v0

from harness import Broker, _recv_exactly, _uvarint, run_tests
from test_consumer_groups_kip848 import librdkafka_212
from test_http import samples

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_METRICS = 16  # ConfigResource.Type.CLIENT_METRICS
INVALID_REQUEST = 42
INVALID_CONFIG = 40


def kp_call(kp, request):
    node = kp._client.least_loaded_node()
    future = kp._send_request_to_node(node, request)
    kp._wait_for_futures([future])
    return future.value


def alter(kp, name, configs):
    """AlterConfigs v0 on one client-metrics resource: (error_code, message)."""
    response = kp_call(kp, AlterConfigsRequest_v0(resources=[(CLIENT_METRICS, name, list(configs.items()))],
                                                  validate_only=False))
    code, message, _, _ = response.resources[0]
    return code, message


def describe(kp, name):
    response = kp_call(kp, DescribeConfigsRequest_v0(resources=[(CLIENT_METRICS, name, None)]))
    code, _, _, _, entries = response.resources[0]
    return code, {e[0]: e[1] for e in entries}


def list_client_metrics_resources(broker):
    """ListClientMetricsResources v0 (flexible), encoded by hand: kafka-python
    2.0.2 knows neither the API nor flexible request headers."""
    header = struct.pack(">hhih", 74, 0, 7, 4) + b"test" + _uvarint(0)
    body = _uvarint(0)
    payload = header + body
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        frame = _recv_exactly(sock, size)

    at = 0

    def uvarint():
        nonlocal at
        shift = value = 0
        while True:
            b = frame[at]
            at += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    correlation = struct.unpack_from(">i", frame, 0)[0]
    assert correlation == 7
    at = 4
    uvarint()  # response header tags
    _throttle, error = struct.unpack_from(">ih", frame, at)
    at += 6
    names = []
    for _ in range(uvarint() - 1):
        n = uvarint() - 1
        names.append(frame[at:at + n].decode())
        at += n
        uvarint()  # tags
    return error, names


def client_series(text, client_id):
    """{name: value} of the strata_client_* series with this client id."""
    out = {}
    for line in text.splitlines():
        if line.startswith("strata_client_") and f'client_id="{client_id}"' in line:
            metric, _, value = line.rpartition(" ")
            out[metric] = float(value)
    return out


def test_client_metrics_resources():
    with Broker() as broker:
        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        try:
            assert alter(kp, "producers", {"metrics": "org.apache.kafka.producer.", "interval.ms": "1000",
                                           "match": "client_id=telemetry-.*"}) == (0, None)
            assert alter(kp, "everything", {"metrics": "*"}) == (0, None)
            code, configs = describe(kp, "producers")
            assert code == 0 and configs == {"metrics": "org.apache.kafka.producer.", "interval.ms": "1000",
                                             "match": "client_id=telemetry-.*"}, configs
            # Kafka's checks: the interval's range, the selectors, the keys.
            code, message = alter(kp, "bad", {"interval.ms": "50"})
            assert code == INVALID_REQUEST and "between 100 and 3600000" in message, (code, message)
            code, message = alter(kp, "bad", {"match": "colour=red"})
            assert code == INVALID_CONFIG and "Illegal client matching pattern" in message, (code, message)
            code, message = alter(kp, "bad", {"retention.ms": "1"})
            assert code == INVALID_REQUEST and "Unknown client metrics configuration" in message, (code, message)
            error, names = list_client_metrics_resources(broker)
            assert error == 0 and sorted(names) == ["everything", "producers"], (error, names)
            # AlterConfigs replaces the whole set: "everything" without configs is gone.
            assert alter(kp, "everything", {}) == (0, None)
            assert list_client_metrics_resources(broker) == (0, ["producers"])
        finally:
            kp.close()


def test_librdkafka_producer_metrics_on_prometheus():
    lib_dir = librdkafka_212()
    with Broker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("telemetry", num_partitions=1, replication_factor=1)])["telemetry"].result(15)
        kp = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
        try:
            assert alter(kp, "producers", {"metrics": "org.apache.kafka.producer.", "interval.ms": "1000",
                                           "match": "client_id=telemetry-.*"}) == (0, None)
        finally:
            kp.close()
        env = dict(os.environ, LD_LIBRARY_PATH=lib_dir)
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "rdkafka", "telemetry_producer.py"),
                                 broker.bootstrap, "telemetry", "telemetry-app"], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            version = json.loads(proc.stdout.readline())["version"]
            assert version.startswith("2.12"), version
            series = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                _, _, text = broker.http_get("/metrics")
                series = client_series(text, "telemetry-app")
                if any("producer_" in name for name in series):
                    break
                time.sleep(0.5)
            print("\n".join(f"{k} {v}" for k, v in sorted(series.items())))
            assert any(name.startswith("strata_client_producer_") for name in series), text
            # The broker's labels of the client (KIP-714), on every series.
            for name in series:
                assert 'client_software_name="' in name and 'client_instance_id="' in name, name
                assert 'client_source_address="127.0.0.1"' in name, name
            assert samples(text, "strata_client_telemetry_clients")[""] >= 1
        finally:
            out, err = proc.communicate(input="", timeout=30)  # end of input: it closes
        assert proc.returncode == 0, err
        assert json.loads(out.splitlines()[-1])["closed"], out
        # Its terminating push takes its series off /metrics (else they
        # expire after three push intervals).
        closed_at = time.monotonic()
        deadline = closed_at + 10
        while time.monotonic() < deadline:
            _, _, text = broker.http_get("/metrics")
            if not client_series(text, "telemetry-app"):
                break
            time.sleep(0.2)
        assert not client_series(text, "telemetry-app"), client_series(text, "telemetry-app")
        print(f"series gone {time.monotonic() - closed_at:.2f} s after the producer closed")


if __name__ == "__main__":
    run_tests([test_client_metrics_resources, test_librdkafka_producer_metrics_on_prometheus])
