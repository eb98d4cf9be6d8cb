#!/usr/bin/python3
"""REST produce in the streaming mode beside the Kafka protocol, one broker.

One keep-alive HTTP connection posts bodies of RECORDS concatenated 1 KiB
BINARY records (700: about 1 MB, under http.max.request.bytes' default;
more raise http.max.request.bytes to fit) for SECONDS; then confluent-kafka
(acks=all) produces 1 KiB records to the same topic for as long. Prints MB/s
of record values and the broker's CPU per GB for each, the machine's
loopback limit (iperf3) and its load.

With STRATAD_BEFORE set, the REST phase also runs against that binary (a
build of the previous code) first, on a broker of its own: before and after
in the same run.

    STRATAD=build/src/stratad [STRATAD_BEFORE=old/stratad] \\
        tests/bench/rest_produce.py [SECONDS] [RECORDS] [flush.messages]
"""

import base64
import http.client
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import perf_tools  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

import harness  # noqa: E402
from harness import Broker  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
PER_REQUEST = int(sys.argv[2]) if len(sys.argv) > 2 else 700
FLUSH = sys.argv[3] if len(sys.argv) > 3 else None
AFTER = harness.STRATAD  # $STRATAD


def broker(binary):
    harness.STRATAD = os.path.abspath(binary)
    env = {}
    body_bytes = PER_REQUEST * 1500
    if body_bytes > 1048576:
        env["STRATA_HTTP_MAX_REQUEST_BYTES"] = str(body_bytes + 65536)
    return Broker(extra_env=env)


def create_topic(b):
    conn = http.client.HTTPConnection("127.0.0.1", b.http_port)
    conn.request("GET", "/v3/clusters")
    cluster = json.loads(conn.getresponse().read())["data"][0]["cluster_id"]
    topic = {"topic_name": "bench", "partitions_count": 1}
    if FLUSH:
        topic["configs"] = [{"name": "flush.messages", "value": FLUSH}]
    conn.request("POST", f"/v3/clusters/{cluster}/topics", json.dumps(topic), {"Content-Type": "application/json"})
    assert conn.getresponse().read()
    time.sleep(0.5)
    return conn, cluster


def rest_phase(b, label):
    conn, cluster = create_topic(b)
    record = json.dumps({"value": {"type": "BINARY", "data": base64.b64encode(os.urandom(1024)).decode()}})
    body = "\n".join([record] * PER_REQUEST).encode()
    path = f"/v3/clusters/{cluster}/topics/bench/records"
    sent, start, cpu = 0, time.monotonic(), perf_tools.cpu_seconds(b.proc.pid)
    expected = 0
    while time.monotonic() - start < SECONDS:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        assert response.status == 200 and answer.count(b'"error_code":200') == PER_REQUEST, answer[:300]
        # Every record reported at the next offset, in order.
        offsets = [int(x) for x in re.findall(rb'"offset":(\d+)', answer)]
        assert offsets == list(range(expected, expected + PER_REQUEST)), offsets[:5]
        expected += PER_REQUEST
        sent += PER_REQUEST
    elapsed, cpu = time.monotonic() - start, perf_tools.cpu_seconds(b.proc.pid) - cpu
    rate = sent * 1024 / elapsed / 1e6
    print(f"{label}: {sent} records in {elapsed:.1f} s = {rate:.1f} MB/s, "
          f"broker CPU {cpu:.1f} s = {cpu / (sent * 1024 / 1e9):.1f} s/GB", flush=True)
    return rate


def kafka_phase(b):
    create_topic(b)
    producer = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "acks": "all"})
    value = os.urandom(1024)
    sent, start, cpu = 0, time.monotonic(), perf_tools.cpu_seconds(b.proc.pid)
    while time.monotonic() - start < SECONDS:
        for _ in range(1000):
            while True:
                try:
                    producer.produce("bench", value)
                    break
                except BufferError:
                    producer.poll(0.01)
        sent += 1000
    assert producer.flush(60) == 0
    elapsed, cpu = time.monotonic() - start, perf_tools.cpu_seconds(b.proc.pid) - cpu
    print(f"Kafka protocol, confluent-kafka acks=all: {sent} records in {elapsed:.1f} s = "
          f"{sent * 1024 / elapsed / 1e6:.1f} MB/s, broker CPU {cpu:.1f} s = {cpu / (sent * 1024 / 1e9):.1f} s/GB",
          flush=True)


def main():
    print(f"load average {os.getloadavg()[0]:.1f}; {PER_REQUEST} records of 1 KiB per request", flush=True)
    before = os.environ.get("STRATAD_BEFORE")
    if before:
        with broker(before) as b:
            rest_phase(b, f"REST v3 streaming, 1 connection, before ({os.path.basename(before)})")
    with broker(AFTER) as b:
        rest_phase(b, "REST v3 streaming, 1 connection")
        kafka_phase(b)
    print(f"iperf3 loopback {perf_tools.loopback_mb_s():.0f} MB/s; load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
