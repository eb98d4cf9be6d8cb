#!/usr/bin/python3
"""The REST proxy on the broker's HTTP listener (Confluent REST Proxy v3 and
the v2 consumer API), driven with Python's urllib against a real stratad and
checked against what the Kafka protocol reports (confluent-kafka, kcat and
`strata group describe`).

- v3 admin: clusters, brokers, topics (create, list, get, delete),
  partitions with offsets, replicas, topic and broker configs (read and
  alter), compared with AdminClient's view.
- v3 produce: one record (JSON, BINARY and STRING keys and values, headers,
  an explicit partition) read back by kcat with the same key, value and
  headers; keyed records land where Kafka's murmur2 partitioner puts them;
  the streaming mode answers one delivery report per record; a stream of
  several chunks (Produce requests in flight) keeps every report exact.
- v3 consumer groups: a confluent-kafka group's members, lags and lag
  summary match what it committed.
- v2 consumers: create, subscribe, poll records (binary and JSON), commit,
  seek, delete; the group is seen by `strata group describe`.
- Bad input: unknown cluster, topic, partition and consumer instance (404
  with Confluent's error codes), malformed JSON and bad base64 (400), an
  oversized body (413), all in Confluent's {"error_code", "message"} shape,
  and the broker goes on serving.
- A v2 long poll in flight does not hold up the broker's stop.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from harness import Broker, run_tests, wait_for

STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(os.path.dirname(os.environ.get(
    "STRATAD", "build/src/stratad")), "strata")))


def call(broker, method, path, body=None, raw=None, headers=None, timeout=30):
    """(status, content type, parsed JSON or None) of one request; error
    statuses are returned, not raised."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    request = urllib.request.Request(f"http://127.0.0.1:{broker.http_port}{path}", data=data, method=method,
                                     headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, response.headers.get("Content-Type", ""), _parse(text)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, e.headers.get("Content-Type", ""), _parse(text)


def _parse(text):
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def ok(broker, method, path, body=None, expect=200, **kw):
    status, _, answer = call(broker, method, path, body, **kw)
    assert status == expect, f"{method} {path}: {status} {answer}"
    return answer


def cluster_id(broker):
    return ok(broker, "GET", "/v3/clusters")["data"][0]["cluster_id"]


def b64(data):
    return base64.b64encode(data).decode()


def kcat_read(broker, topic, partition, offset, count):
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-C", "-t", topic, "-p", str(partition), "-o", str(offset),
                          "-c", str(count), "-e", "-J"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    # kcat prints keys and values raw inside its JSON: binary ones are not UTF-8.
    text = out.stdout.decode(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_v3_admin():
    with Broker() as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        clusters = ok(broker, "GET", "/v3/clusters")
        assert clusters["kind"] == "KafkaClusterList" and len(clusters["data"]) == 1, clusters
        cid = clusters["data"][0]["cluster_id"]
        assert cid == admin.list_topics(timeout=10).cluster_id, cid
        c = ok(broker, "GET", f"/v3/clusters/{cid}")
        assert c["kind"] == "KafkaCluster" and c["controller"]["related"].endswith("/brokers/1"), c
        assert c["metadata"]["self"] == f"http://127.0.0.1:{broker.http_port}/v3/clusters/{cid}", c

        brokers = ok(broker, "GET", f"/v3/clusters/{cid}/brokers")["data"]
        assert [(b["broker_id"], b["host"], b["port"]) for b in brokers] == [(1, "127.0.0.1", broker.port)], brokers
        assert ok(broker, "GET", f"/v3/clusters/{cid}/brokers/1")["broker_id"] == 1

        created = ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201, body={
            "topic_name": "rest-admin", "partitions_count": 3, "replication_factor": 1,
            "configs": [{"name": "retention.ms", "value": "3600000"}]})
        assert created["kind"] == "KafkaTopic" and created["partitions_count"] == 3, created
        md = wait_for(lambda: admin.list_topics(timeout=10).topics.get("rest-admin"), what="topic in metadata")
        assert len(md.partitions) == 3
        status, _, again = call(broker, "POST", f"/v3/clusters/{cid}/topics",
                                {"topic_name": "rest-admin", "partitions_count": 1})
        assert status == 400 and again["error_code"] == 40002, (status, again)

        names = [t["topic_name"] for t in ok(broker, "GET", f"/v3/clusters/{cid}/topics")["data"]]
        assert "rest-admin" in names, names
        topic = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin")
        assert (topic["partitions_count"], topic["replication_factor"], topic["is_internal"]) == (3, 1, False), topic

        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(7):
            producer.produce("rest-admin", value=b"v", partition=1)
        assert producer.flush(20) == 0
        parts = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin/partitions")["data"]
        assert [p["partition_id"] for p in parts] == [0, 1, 2], parts
        assert [(p["earliest_offset"], p["latest_offset"]) for p in parts] == [(0, 0), (0, 7), (0, 0)], parts
        assert all(p["leader"]["related"].endswith("/replicas/1") for p in parts), parts
        one = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin/partitions/1")
        assert one["latest_offset"] == 7 and one["isr_ids"] == [1], one
        replicas = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin/partitions/1/replicas")["data"]
        assert [(r["broker_id"], r["is_leader"], r["is_in_sync"]) for r in replicas] == [(1, True, True)], replicas

        configs = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin/configs")
        by_name = {c["name"]: c for c in configs["data"]}
        assert by_name["retention.ms"]["value"] == "3600000", by_name["retention.ms"]
        assert by_name["retention.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG" and not by_name["retention.ms"]["is_default"]
        assert by_name["cleanup.policy"]["is_default"], by_name["cleanup.policy"]
        ok(broker, "PUT", f"/v3/clusters/{cid}/topics/rest-admin/configs/cleanup.policy", {"value": "compact"},
           expect=204)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics/rest-admin/configs:alter", expect=204, body={
            "data": [{"name": "retention.ms", "operation": "DELETE"}, {"name": "segment.ms", "value": "600000"}]})
        described = admin.describe_configs([ConfigResource("topic", "rest-admin")])
        seen = list(described.values())[0].result(10)
        assert seen["cleanup.policy"].value == "compact", seen["cleanup.policy"]
        assert seen["segment.ms"].value == "600000", seen["segment.ms"]
        assert seen["retention.ms"].is_default, seen["retention.ms"]
        single = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin/configs/cleanup.policy")
        assert single["kind"] == "KafkaTopicConfig" and single["value"] == "compact", single
        ok(broker, "DELETE", f"/v3/clusters/{cid}/topics/rest-admin/configs/cleanup.policy", expect=204)
        assert ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin/configs/cleanup.policy")["value"] == "delete"
        status, _, bad = call(broker, "PUT", f"/v3/clusters/{cid}/topics/rest-admin/configs/no.such.config",
                              {"value": "1"})
        assert 400 <= status < 500 and "error_code" in bad, (status, bad)

        broker_configs = ok(broker, "GET", f"/v3/clusters/{cid}/brokers/1/configs")["data"]
        assert any(c["name"] == "num.partitions" and c["kind"] == "KafkaBrokerConfig" for c in broker_configs)

        ok(broker, "DELETE", f"/v3/clusters/{cid}/topics/rest-admin", expect=204)
        wait_for(lambda: "rest-admin" not in admin.list_topics(timeout=10).topics, what="topic deleted")
        status, _, gone = call(broker, "GET", f"/v3/clusters/{cid}/topics/rest-admin")
        assert status == 404 and gone["error_code"] == 40403, (status, gone)


def test_v3_produce():
    with Broker() as broker:
        cid = cluster_id(broker)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201,
           body={"topic_name": "rest-produce", "partitions_count": 4})
        path = f"/v3/clusters/{cid}/topics/rest-produce/records"
        first = {"partition_id": 2,
                 "headers": [{"name": "trace", "value": b64(b"abc-123")}, {"name": "empty", "value": None}],
                 "key": {"type": "STRING", "data": "user-7"},
                 "value": {"type": "JSON", "data": {"amount": 12, "ok": True}}}
        # The topic's first metadata may take a moment to reach the partition.
        status, ctype, report = wait_for(lambda: (lambda r: r if r[0] != 404 else None)(call(broker, "POST", path, first)),
                                         what="produce to a new topic")
        assert status == 200 and ctype.startswith("application/json"), (status, report)
        assert report["error_code"] == 200 and report["partition_id"] == 2 and report["offset"] == 0, report
        assert report["key"] == {"type": "STRING", "size": 6}, report
        binary = ok(broker, "POST", path, {"partition_id": 2, "key": {"type": "BINARY", "data": b64(b"\x00\x01k")},
                                           "value": {"type": "BINARY", "data": b64(b"\xff\xfe bytes")}})
        assert binary["offset"] == 1, binary
        text = ok(broker, "POST", path, {"partition_id": 2, "value": {"type": "STRING", "data": "plain text"}})
        assert text["offset"] == 2 and text["key"] is None, text

        records = kcat_read(broker, "rest-produce", 2, 0, 3)
        assert records[0]["key"] == "user-7", records[0]
        assert json.loads(records[0]["payload"]) == {"amount": 12, "ok": True}, records[0]
        assert records[0]["headers"] == ["trace", "abc-123", "empty", None], records[0]
        assert records[2]["key"] is None and records[2]["payload"] == "plain text", records[2]
        # Binary bytes exactly, through confluent-kafka.
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rest-produce-check"})
        consumer.assign([TopicPartition("rest-produce", 2, 1)])
        message = wait_for(lambda: (lambda m: m if m is not None and not m.error() else None)(consumer.poll(0.5)),
                           what="binary record")
        assert (message.key(), message.value(), message.offset()) == (b"\x00\x01k", b"\xff\xfe bytes", 1)
        consumer.close()

        # Keyed records go where Kafka's default (murmur2) partitioner puts them.
        producer = Producer({"bootstrap.servers": broker.bootstrap, "partitioner": "murmur2_random"})
        for key in ("alpha", "beta", "gamma", "delta", "epsilon"):
            answer = ok(broker, "POST", path, {"key": {"type": "STRING", "data": key},
                                               "value": {"type": "STRING", "data": "v"}})
            where = []
            producer.produce("rest-produce", key=key, value=b"v", on_delivery=lambda e, m: where.append(m.partition()))
            producer.flush(20)
            assert where == [answer["partition_id"]], (key, where, answer)

        # Streaming mode: records concatenated in one body, one report each, in order.
        stream = "".join(json.dumps({"partition_id": 3, "value": {"type": "STRING", "data": f"s{i}"}})
                         for i in range(20))
        status, _, reports = call(broker, "POST", path, raw=stream.encode())
        assert status == 200 and len(reports) == 20, (status, reports)
        assert [r["offset"] for r in reports] == list(range(20)), reports
        assert all(r["error_code"] == 200 and r["partition_id"] == 3 for r in reports), reports
        got = kcat_read(broker, "rest-produce", 3, 0, 20)
        assert [r["payload"] for r in got] == [f"s{i}" for i in range(20)], got
        # One bad record in a stream gets its own error; the others are written.
        mixed = (json.dumps({"partition_id": 3, "value": {"type": "STRING", "data": "good"}}) +
                 json.dumps({"partition_id": 3, "value": {"type": "BINARY", "data": "!!not base64!!"}}) +
                 json.dumps({"partition_id": 3, "value": {"type": "STRING", "data": "good2"}}))
        status, _, reports = call(broker, "POST", path, raw=mixed.encode())
        assert status == 200 and [r["error_code"] for r in reports] == [200, 400, 200], reports
        assert [reports[0]["offset"], reports[2]["offset"]] == [20, 21], reports

        # Strata's read of a partition (the console's browser): base64 fields.
        browse = ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-produce/partitions/2/records?offset=0&max_records=3")
        assert browse["high_watermark"] >= 3 and len(browse["data"]) == 3, browse
        assert [r["offset"] for r in browse["data"]] == [0, 1, 2], browse
        first = browse["data"][0]
        assert base64.b64decode(first["key"]) == b"user-7", first
        assert {"name": "trace", "value": b64(b"abc-123")} in first["headers"], first
        # From a time: the record of that very timestamp on, none after the last.
        records = f"/v3/clusters/{cid}/topics/rest-produce/partitions/2/records"
        second = browse["data"][1]
        timed = ok(broker, "GET", f"{records}?timestamp={second['timestamp']}&max_records=1")
        assert [r["offset"] for r in timed["data"]] == [next(
            r["offset"] for r in browse["data"] if r["timestamp"] >= second["timestamp"])], (timed, browse)
        later = ok(broker, "GET", f"{records}?timestamp={int(time.time() * 1000) + 3600000}")
        assert later["data"] == [] and later["high_watermark"] == browse["high_watermark"], later
        status, _, refused = call(broker, "GET", f"{records}?timestamp=yesterday")
        assert status == 400 and refused["error_code"] == 42202, refused


def test_v3_produce_stream_in_chunks():
    """A stream of about 700 KB: sent as several Produce requests in flight
    (chunks of 256 KiB, one batch per partition each), yet every report is
    the record's own, in order: offsets consecutive per partition in the
    order of the body, each bad record's error at its place, and the
    partitions hold exactly the good records in that order."""
    with Broker() as broker:
        cid = cluster_id(broker)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201, body={"topic_name": "rest-chunks", "partitions_count": 3})
        path = f"/v3/clusters/{cid}/topics/rest-chunks/records"
        wait_for(lambda: call(broker, "POST", path, {"partition_id": 0, "value": {"type": "STRING", "data": "first"}})[0] == 200,
                 what="produce to a new topic")
        texts, expected = [], []  # expected: (partition, value bytes) or (None, error code)
        for i in range(600):
            value = os.urandom(1000) + i.to_bytes(4, "big")
            record = {"partition_id": i % 3, "value": {"type": "BINARY", "data": b64(value)}}
            if i % 97 == 5:
                record["value"]["data"] = "!!not base64!!"
                expected.append((None, 400))
            elif i % 101 == 7:
                record["partition_id"] = 9
                expected.append((None, 40402))
            elif i == 250:
                record["value"]["type"] = 5  # not a string: this record's own 400
                expected.append((None, 400))
            elif i % 53 == 11:
                # Shapes the scanner leaves to the DOM path, in between.
                record["value"] = {"type": "JSON", "data": {"i": i, "s": "caf\u00e9 \"q\""}}
                expected.append((i % 3, json.dumps(record["value"]["data"], separators=(",", ":"),
                                                   ensure_ascii=False).encode()))
            elif i % 59 == 13:
                record["headers"] = [{"name": "n", "value": b64(b"h%d" % i)}, {"name": "none", "value": None}]
                record["key"] = {"type": "STRING", "data": f"k\t{i}"}
                expected.append((i % 3, value))
            else:
                expected.append((i % 3, value))
            texts.append(json.dumps(record))
        body = "\n".join(texts).encode()
        assert 600_000 < len(body) < 1_000_000, len(body)
        status, _, reports = call(broker, "POST", path, raw=body)
        assert status == 200 and len(reports) == len(texts), (status, len(reports))
        next_offset = {0: 1, 1: 0, 2: 0}
        for i, (report, (partition, want)) in enumerate(zip(reports, expected)):
            if partition is None:
                assert report["error_code"] == want and report["message"], (i, report)
                continue
            assert report["error_code"] == 200 and report["partition_id"] == partition, (i, report)
            assert report["offset"] == next_offset[partition], (i, report, next_offset)
            assert report["value"] == {"type": "JSON" if i % 53 == 11 else "BINARY", "size": len(want)}, (i, report)
            next_offset[partition] += 1
        assert "Invalid request" in reports[250]["message"], reports[250]
        # What the partitions hold, through confluent-kafka: the good records in order.
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "rest-chunks-check",
                             "enable.auto.commit": False})
        for partition in range(3):
            want = [v for p, v in expected if p == partition]
            start = 1 if partition == 0 else 0
            consumer.assign([TopicPartition("rest-chunks", partition, start)])
            got = []
            deadline = time.monotonic() + 20
            while len(got) < len(want) and time.monotonic() < deadline:
                m = consumer.poll(0.5)
                if m is not None and not m.error():
                    got.append(m)
            assert [m.value() for m in got] == want, (partition, len(got), len(want))
            assert [m.offset() for m in got] == list(range(start, start + len(want)))
            for m in got:
                if m.headers():
                    assert m.headers()[1] == ("none", None) and m.key().startswith(b"k\t"), m.headers()
        consumer.close()


def test_consumer_groups_and_lag():
    with Broker() as broker:
        cid = cluster_id(broker)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201,
           body={"topic_name": "rest-lag", "partitions_count": 2})
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(10):
            producer.produce("rest-lag", value=b"x", partition=i % 2)
        assert producer.flush(20) == 0
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "lagging", "client.id": "lag-client",
                             "auto.offset.reset": "earliest", "enable.auto.commit": False})
        consumer.subscribe(["rest-lag"])

        def assigned():
            consumer.poll(0.2)
            return consumer.assignment()
        wait_for(assigned, what="assignment")
        consumer.commit(offsets=[TopicPartition("rest-lag", 0, 2), TopicPartition("rest-lag", 1, 4)],
                        asynchronous=False)

        groups = ok(broker, "GET", f"/v3/clusters/{cid}/consumer-groups")["data"]
        group = next(g for g in groups if g["consumer_group_id"] == "lagging")
        assert group["state"] == "STABLE" and group["partition_assignor"] == "range", group
        members = ok(broker, "GET", f"/v3/clusters/{cid}/consumer-groups/lagging/consumers")["data"]
        assert len(members) == 1 and members[0]["client_id"] == "lag-client", members
        assert sorted(a["partition_id"] for a in members[0]["assignments"]) == [0, 1], members
        lags = ok(broker, "GET", f"/v3/clusters/{cid}/consumer-groups/lagging/lags")["data"]
        rows = sorted((l["partition_id"], l["current_offset"], l["log_end_offset"], l["lag"]) for l in lags)
        assert rows == [(0, 2, 5, 3), (1, 4, 5, 1)], rows
        assert all(l["consumer_id"] == members[0]["consumer_id"] for l in lags), lags
        one = ok(broker, "GET", f"/v3/clusters/{cid}/consumer-groups/lagging/lags/rest-lag/partitions/0")
        assert one["lag"] == 3, one
        summary = ok(broker, "GET", f"/v3/clusters/{cid}/consumer-groups/lagging/lag-summary")
        assert (summary["total_lag"], summary["max_lag"], summary["max_lag_partition_id"]) == (4, 3, 0), summary
        consumer.close()
        status, _, missing = call(broker, "GET", f"/v3/clusters/{cid}/consumer-groups/no-such-group")
        assert status == 404 and missing["error_code"] == 404, (status, missing)


def test_v2_consumer():
    with Broker() as broker:
        cid = cluster_id(broker)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201,
           body={"topic_name": "rest-v2", "partitions_count": 2})
        producer = Producer({"bootstrap.servers": broker.bootstrap})
        for i in range(30):
            producer.produce("rest-v2", key=json.dumps(f"k{i}"), value=json.dumps({"n": i}).encode(), partition=i % 2)
        assert producer.flush(20) == 0

        v2 = {"Content-Type": "application/vnd.kafka.v2+json"}
        created = ok(broker, "POST", "/consumers/rest-v2-group", raw=json.dumps(
            {"name": "c1", "format": "json", "auto.offset.reset": "earliest", "auto.commit.enable": "false"}).encode(),
            headers=v2)
        base = "/consumers/rest-v2-group/instances/c1"
        assert created == {"instance_id": "c1",
                           "base_uri": f"http://127.0.0.1:{broker.http_port}{base}"}, created
        status, _, dup = call(broker, "POST", "/consumers/rest-v2-group", {"name": "c1"})
        assert status == 409 and dup["error_code"] == 40902, (status, dup)
        status, _, none = call(broker, "GET", base + "/records")
        assert status == 409 and none["error_code"] == 40903, (status, none)
        ok(broker, "POST", base + "/subscription", {"topics": ["rest-v2"]}, expect=204)
        assert ok(broker, "GET", base + "/subscription") == {"topics": ["rest-v2"]}

        got = []
        deadline = time.monotonic() + 20
        while len(got) < 30 and time.monotonic() < deadline:
            status, ctype, records = call(broker, "GET", base + "/records?timeout=500",
                                          headers={"Accept": "application/vnd.kafka.json.v2+json"})
            assert status == 200 and ctype == "application/vnd.kafka.json.v2+json", (status, ctype, records)
            got += records
        assert sorted(r["value"]["n"] for r in got) == list(range(30)), got
        assert all(r["key"] == f"k{r['value']['n']}" and r["topic"] == "rest-v2" for r in got), got
        assigned = ok(broker, "GET", base + "/assignments")["partitions"]
        assert sorted(p["partition"] for p in assigned) == [0, 1], assigned

        # Nothing committed yet (auto commit off); commit the positions reached.
        ok(broker, "POST", base + "/offsets", raw=b"", expect=200)
        out = subprocess.run([STRATA, "-b", broker.bootstrap, "group", "describe", "rest-v2-group", "-o", "json"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        described = json.loads(out.stdout)
        assert described["state"] == "Stable" and len(described["members"]) == 1, described
        assert described["members"][0]["client_id"] == "strata-rest-proxy", described
        offsets = sorted((o["partition"], o["current_offset"], o["lag"]) for o in described["offsets"])
        assert offsets == [(0, 15, 0), (1, 15, 0)], offsets
        status, _, fetched = call(broker, "GET", base + "/offsets", {"partitions": [{"topic": "rest-v2", "partition": 0}]})
        assert status == 200 and fetched["offsets"][0]["offset"] == 15, fetched

        # Seek back, poll binary, commit an explicit offset.
        ok(broker, "POST", base + "/positions", {"offsets": [{"topic": "rest-v2", "partition": 1, "offset": 10}]},
           expect=204)
        status, ctype, again = call(broker, "GET", base + "/records?timeout=2000",
                                    headers={"Accept": "application/vnd.kafka.binary.v2+json"})
        assert status == 200 and ctype == "application/vnd.kafka.binary.v2+json", (status, again)
        assert [(r["partition"], r["offset"]) for r in again] == [(1, o) for o in range(10, 15)], again
        assert base64.b64decode(again[0]["key"]) == b'"k21"', again[0]
        ok(broker, "POST", base + "/offsets", {"offsets": [{"topic": "rest-v2", "partition": 1, "offset": 12}]})
        ok(broker, "POST", base + "/positions/beginning", {"partitions": [{"topic": "rest-v2", "partition": 0}]},
           expect=204)
        status, _, from_start = call(broker, "GET", base + "/records?timeout=2000",
                                     headers={"Accept": "application/vnd.kafka.binary.v2+json"})
        assert [r["offset"] for r in from_start if r["partition"] == 0][:1] == [0], from_start

        ok(broker, "DELETE", base, expect=204)
        status, _, gone = call(broker, "GET", base + "/records")
        assert status == 404 and gone["error_code"] == 40403, (status, gone)
        out = subprocess.run([STRATA, "-b", broker.bootstrap, "group", "describe", "rest-v2-group", "-o", "json"],
                             capture_output=True, text=True, timeout=30)
        described = json.loads(out.stdout)
        assert described["members"] == [], described  # left the group when deleted
        offsets = sorted((o["partition"], o["current_offset"]) for o in described["offsets"])
        assert offsets == [(0, 15), (1, 12)], offsets


def test_bad_input():
    with Broker(extra_env={"STRATA_HTTP_MAX_REQUEST_BYTES": "65536"}) as broker:
        cid = cluster_id(broker)

        def refused(method, path, body=None, raw=None, status=400, code=None):
            got, ctype, answer = call(broker, method, path, body, raw=raw)
            assert got == status, (method, path, got, answer)
            assert ctype.startswith("application/json"), ctype
            assert set(answer) == {"error_code", "message"} and answer["message"], answer
            if code is not None:
                assert answer["error_code"] == code, answer
            return answer

        refused("GET", "/v3/clusters/not-this-one/topics", status=404, code=404)
        refused("GET", f"/v3/clusters/{cid}/topics/nope", status=404, code=40403)
        refused("POST", f"/v3/clusters/{cid}/topics/nope/records", {"value": {"type": "STRING", "data": "x"}},
                status=404, code=40403)
        refused("GET", f"/v3/clusters/{cid}/topics/nope/partitions", status=404, code=40403)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201, body={"topic_name": "rest-bad"})
        refused("GET", f"/v3/clusters/{cid}/topics/rest-bad/partitions/9", status=404, code=40402)
        refused("POST", f"/v3/clusters/{cid}/topics/rest-bad/records",
                {"partition_id": 9, "value": {"type": "STRING", "data": "x"}}, status=404, code=40402)
        refused("POST", f"/v3/clusters/{cid}/topics", raw=b'{"topic_name": "x", ', code=400)
        refused("POST", f"/v3/clusters/{cid}/topics/rest-bad/records", raw=b'{"value": {"type": "JSON", "data": }',
                code=400)
        refused("POST", f"/v3/clusters/{cid}/topics/rest-bad/records",
                {"value": {"type": "BINARY", "data": "***"}}, code=400)
        refused("POST", f"/v3/clusters/{cid}/topics/rest-bad/records",
                {"value": {"type": "AVRO", "data": "x"}}, code=400)
        refused("POST", f"/v3/clusters/{cid}/topics/rest-bad/records", raw=b"[1, 2]", code=400)
        refused("POST", f"/v3/clusters/{cid}/topics", {"partitions_count": 1}, code=400)
        refused("POST", f"/v3/clusters/{cid}/topics", {"topic_name": "bad name!"}, code=400)
        refused("GET", "/consumers/g/instances/nobody/records", status=404, code=40403)
        refused("POST", "/consumers/g", {"format": "avro"}, status=422, code=42204)
        refused("GET", "/v3/nothing/here", status=404, code=404)
        refused("DELETE", "/v3/clusters", status=405, code=405)
        # Over http.max.request.bytes: refused once the headers are read (a
        # raw socket, as the rest of such a body is never read).
        with socket.create_connection(("127.0.0.1", broker.http_port), timeout=5) as sock:
            sock.sendall(f"POST /v3/clusters/{cid}/topics/rest-bad/records HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n".encode() + b"{" * 1000)
            answer = b""
            try:
                while chunk := sock.recv(4096):
                    answer += chunk
            except ConnectionResetError:  # the unread body: the kernel resets after the answer
                pass
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413") and b"application/json" in head, answer
        assert json.loads(body)["error_code"] == 413, body
        # A stream of garbage bytes, and a request line that is not HTTP.
        refused("POST", f"/v3/clusters/{cid}/topics/rest-bad/records", raw=bytes(range(256)), code=400)
        with socket.create_connection(("127.0.0.1", broker.http_port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
            assert sock.recv(200).startswith(b"HTTP/1.1 400"), "malformed request not refused"
        # Still serving.
        assert ok(broker, "GET", f"/v3/clusters/{cid}/topics/rest-bad")["topic_name"] == "rest-bad"
        assert broker.proc.poll() is None


def test_stop_during_long_poll():
    """A v2 poll waiting 30 s for records does not hold the broker's stop up
    (it did, for its whole timeout, before the proxy polled in short fetches)."""
    broker = Broker().start().wait_ready()
    try:
        cid = cluster_id(broker)
        ok(broker, "POST", f"/v3/clusters/{cid}/topics", expect=201, body={"topic_name": "rest-idle"})
        ok(broker, "POST", "/consumers/idle-group", {"name": "c"})
        ok(broker, "POST", "/consumers/idle-group/instances/c/subscription", {"topics": ["rest-idle"]}, expect=204)
        assert call(broker, "GET", "/consumers/idle-group/instances/c/records?timeout=100")[0] == 200
        poll = threading.Thread(target=lambda: _ignore_errors(
            lambda: call(broker, "GET", "/consumers/idle-group/instances/c/records?timeout=30000", timeout=60)))
        poll.start()
        time.sleep(1)
        start = time.monotonic()
        broker.proc.send_signal(signal.SIGTERM)
        assert broker.proc.wait(20) == 0
        assert time.monotonic() - start < 5, f"stop took {time.monotonic() - start:.1f} s"
        assert "still running at shutdown" not in broker.log(), broker.log()[-2000:]
        poll.join(10)
        shutil.rmtree(broker.workdir, ignore_errors=True)
    finally:
        broker.stop()


def _ignore_errors(fn):
    try:
        fn()
    except OSError:  # the broker closed the connection while stopping
        pass


if __name__ == "__main__":
    run_tests([test_v3_admin, test_v3_produce, test_v3_produce_stream_in_chunks, test_consumer_groups_and_lag, test_v2_consumer, test_bad_input,
               test_stop_during_long_poll])
