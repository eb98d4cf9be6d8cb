#!/usr/bin/python3
"""REST produce in the streaming mode beside the Kafka protocol, one broker.

One keep-alive HTTP connection posts bodies of 700 concatenated 1 KiB
BINARY records (about 1 MB, under http.max.request.bytes) for SECONDS; then
confluent-kafka (acks=all) produces 1 KiB records to the same topic for as
long. Prints MB/s of record values and the broker's CPU per GB for each.

    STRATAD=build/src/stratad tests/bench/rest_produce.py [SECONDS] [flush.messages]
"""

import base64
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from confluent_kafka import Producer  # noqa: E402

from harness import Broker  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
FLUSH = sys.argv[2] if len(sys.argv) > 2 else None
PER_REQUEST = 700


def broker_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    with Broker() as broker:
        conn = http.client.HTTPConnection("127.0.0.1", broker.http_port)
        conn.request("GET", "/v3/clusters")
        cluster = json.loads(conn.getresponse().read())["data"][0]["cluster_id"]
        topic = {"topic_name": "bench", "partitions_count": 1}
        if FLUSH:
            topic["configs"] = [{"name": "flush.messages", "value": FLUSH}]
        conn.request("POST", f"/v3/clusters/{cluster}/topics", json.dumps(topic), {"Content-Type": "application/json"})
        assert conn.getresponse().read()
        time.sleep(0.5)
        record = json.dumps({"value": {"type": "BINARY", "data": base64.b64encode(os.urandom(1024)).decode()}})
        body = "\n".join([record] * PER_REQUEST).encode()
        path = f"/v3/clusters/{cluster}/topics/bench/records"
        sent, start, cpu = 0, time.monotonic(), broker_cpu(broker.proc.pid)
        while time.monotonic() - start < SECONDS:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = response.read()
            assert response.status == 200 and answer.count(b'"error_code":200') == PER_REQUEST, answer[:300]
            sent += PER_REQUEST
        elapsed, cpu = time.monotonic() - start, broker_cpu(broker.proc.pid) - cpu
        print(f"REST v3 streaming, 1 connection: {sent} records in {elapsed:.1f} s = "
              f"{sent * 1024 / elapsed / 1e6:.1f} MB/s, broker CPU {cpu:.1f} s = {cpu / (sent * 1024 / 1e9):.1f} s/GB")

        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "acks": "all"})
        value = os.urandom(1024)
        sent, start, cpu = 0, time.monotonic(), broker_cpu(broker.proc.pid)
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
        elapsed, cpu = time.monotonic() - start, broker_cpu(broker.proc.pid) - cpu
        print(f"Kafka protocol, confluent-kafka acks=all: {sent} records in {elapsed:.1f} s = "
              f"{sent * 1024 / elapsed / 1e6:.1f} MB/s, broker CPU {cpu:.1f} s = {cpu / (sent * 1024 / 1e9):.1f} s/GB")


if __name__ == "__main__":
    main()
