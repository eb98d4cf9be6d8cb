#!/usr/bin/python3
"""The `strata` CLI against a real stratad: every command, golden output for
the table and JSON forms, errors with Kafka's names, hints and the right exit
codes, and interoperation with real clients (kafka-python, confluent-kafka)
in both directions.

One broker serves the tests that need one; each test uses its own topics."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import yaml

from cli_support import STRATA, fails, golden, ok, run
from harness import Broker, free_port, run_tests

BROKER = None


def topic(name, partitions=1):
    ok(["topic", "create", name, "-p", str(partitions)], BROKER)


# ---- help and usage ---------------------------------------------------------------------

COMMANDS = [
    [], ["cluster"], ["cluster", "info"], ["cluster", "health"], ["cluster", "quorum"],
    ["topic"], ["topic", "create"], ["topic", "list"], ["topic", "describe"], ["topic", "delete"],
    ["topic", "alter-config"], ["topic", "add-partitions"], ["produce"], ["consume"],
    ["group"], ["group", "list"], ["group", "describe"], ["group", "delete"], ["group", "reset-offsets"],
    ["config"], ["config", "get"], ["config", "set"], ["perf"], ["perf", "produce"], ["perf", "consume"],
    ["acl"], ["acl", "create"], ["acl", "list"], ["acl", "delete"],
    ["completion"], ["cluster", "rebalance"], ["partition", "reassign"], ["partition", "list-reassignments"],
    ["broker", "decommission"], ["txn"], ["txn", "list"], ["txn", "describe"], ["producers"],
    ["producers", "describe"],
]


def test_every_command_has_help_with_an_example():
    for command in COMMANDS:
        result = ok(command + ["--help"])
        assert "Example" in result.out, (command, result.out)
        assert "Usage" in result.out or "strata" in result.out, (command, result.out)


def test_usage_errors_exit_2():
    for args in (["topic", "list", "--bogus"], [], ["topic"], ["topic", "create"], ["nonsense"],
                 ["-o", "xml", "topic", "list"], ["produce", "t", "--acks", "2"],
                 ["consume", "t", "--from", "middle"], ["topic", "create", "t", "-p", "0"],
                 ["partition", "reassign", "--topic", "t"], ["partition", "reassign", "--topic", "t", "--partition", "0"],
                 ["broker", "decommission"]):
        result = fails(args, "127.0.0.1:1", code=2)
        assert result.err.strip(), (args, result)
        assert result.seconds < 5, result
    # A bad timestamp is a usage error too, reported before any connection.
    result = fails(["consume", "t", "--timestamp", "yesterday"], "127.0.0.1:1", code=2)
    assert "cannot read 'yesterday' as a time" in result.err, result
    result = fails(["topic", "list"], "localhost:notaport", code=2)
    assert "port" in result.err, result


def test_version_flag():
    assert ok(["--version"]).out.startswith("strata ")


# ---- unreachable brokers ----------------------------------------------------------------

def test_unreachable_broker_fails_fast_with_a_hint():
    port = free_port()  # nothing listens there
    for args in (["topic", "list"], ["cluster", "info"], ["produce", "t"], ["consume", "t"], ["group", "list"]):
        result = fails(args, f"127.0.0.1:{port}", input="x\n")
        assert f"cannot connect to broker 127.0.0.1:{port}" in result.err, result
        assert "hint:" in result.err, result
        assert result.seconds < 5, result
    # Several bootstrap servers: all are tried, the message says so.
    result = fails(["topic", "list"], f"127.0.0.1:{port},127.0.0.1:{free_port()}")
    assert "cannot reach any of the brokers" in result.err, result


def test_silent_server_times_out_promptly():
    # A listener that accepts but never answers: ApiVersions times out.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        result = fails(["--timeout", "1500", "topic", "list"], f"127.0.0.1:{port}")
        assert "timed out" in result.err and "ApiVersions" in result.err, result
        assert result.seconds < 5, result


def test_brokers_from_environment():
    result = ok(["topic", "list", "-o", "json"], env={"STRATA_BROKERS": BROKER.bootstrap})
    assert isinstance(json.loads(result.out), list)


# ---- cluster ----------------------------------------------------------------------------

def test_cluster_info_golden():
    golden("cluster_info.txt", ok(["cluster", "info"], BROKER).out, BROKER)
    result = ok(["cluster", "info", "-o", "json"], BROKER)
    doc = json.loads(result.out)
    assert doc["controller_id"] == 1 and doc["brokers"][0]["port"] == BROKER.port, doc
    assert len(doc["cluster_id"]) == 22, doc
    golden("cluster_info.json", result.out, BROKER)
    doc_yaml = yaml.safe_load(ok(["cluster", "info", "-o", "yaml"], BROKER).out)
    assert doc_yaml == doc, (doc_yaml, doc)


def test_cluster_health_and_quorum():
    # The metadata log grows as the broker heartbeats: offsets are not golden.
    health = re.sub(r"epoch \d+, high watermark \d+", "epoch <N>, high watermark <N>",
                    ok(["cluster", "health"], BROKER).out)
    golden("cluster_health.txt", health, BROKER)
    doc = json.loads(ok(["cluster", "health", "-o", "json"], BROKER).out)
    assert doc["status"] == "healthy" and doc["offline_partitions"] == 0, doc
    # The metadata log grows as the broker heartbeats: offsets are not golden.
    quorum = ok(["cluster", "quorum"], BROKER).out
    quorum = re.sub(r"High watermark: \d+", "High watermark: <N>", quorum)
    quorum = re.sub(r"(?m)^(1\s+leader\s+)\d+", r"\g<1><N>", quorum)
    golden("cluster_quorum.txt", quorum, BROKER)
    result = ok(["cluster", "quorum", "-o", "json"], BROKER)
    doc = json.loads(result.out)
    assert doc["leader_id"] == 1 and doc["voters"][0]["id"] == 1, doc
    assert doc["high_watermark"] > 0 and doc["voters"][0]["log_end_offset"] > 0, doc
    golden("cluster_quorum.json",
           re.sub(r'"(high_watermark|log_end_offset)": \d+', r'"\1": <N>', result.out), BROKER)


# ---- topics -----------------------------------------------------------------------------

def test_topic_lifecycle_golden():
    result = ok(["topic", "create", "golden-orders", "-p", "3"], BROKER)
    golden("topic_create.txt", result.out, BROKER)
    result = ok(["topic", "create", "golden-events", "-p", "2", "-o", "json"], BROKER)
    golden("topic_create.json", result.out, BROKER)
    # Leading the list: these two golden topics, whatever else other tests made.
    listing = json.loads(ok(["topic", "list", "-o", "json"], BROKER).out)
    names = [t["name"] for t in listing]
    assert names == sorted(names) and "golden-orders" in names and "golden-events" in names, names
    ok(["produce", "golden-orders", "-p", "1"], BROKER, input="a\nb\nc\n")
    golden("topic_describe.txt", ok(["topic", "describe", "golden-orders"], BROKER).out, BROKER)
    golden("topic_describe.json", ok(["topic", "describe", "golden-orders", "-o", "json"], BROKER).out, BROKER)
    golden("topic_describe.yaml", ok(["topic", "describe", "golden-orders", "-o", "yaml"], BROKER).out, BROKER)
    golden("topic_add_partitions.txt", ok(["topic", "add-partitions", "golden-orders", "-p", "5"], BROKER).out, BROKER)
    doc = json.loads(ok(["topic", "describe", "golden-orders", "-o", "json"], BROKER).out)
    assert [p["partition"] for p in doc["partitions"]] == [0, 1, 2, 3, 4], doc
    assert doc["partitions"][1]["end_offset"] == 3 and doc["messages"] == 3, doc
    golden("topic_delete.txt", ok(["topic", "delete", "golden-orders", "golden-events"], BROKER).out, BROKER)
    names = [t["name"] for t in json.loads(ok(["topic", "list", "-o", "json"], BROKER).out)]
    assert "golden-orders" not in names and "golden-events" not in names, names


def test_topic_list_table_golden():
    # A broker of its own, so that the listing is exactly these topics.
    with Broker() as broker:
        for name, partitions in (("alpha", 1), ("beta", 4)):
            ok(["topic", "create", name, "-p", str(partitions)], broker)
        golden("topic_list.txt", ok(["topic", "list"], broker).out, broker)
        golden("topic_list.json", ok(["topic", "list", "-o", "json"], broker).out, broker)


def test_topic_errors_name_kafka_codes():
    topic("dup-topic")
    result = fails(["topic", "create", "dup-topic"], BROKER)
    assert "TOPIC_ALREADY_EXISTS" in result.err and "hint: " in result.err and "--if-not-exists" in result.err, result
    ok(["topic", "create", "dup-topic", "--if-not-exists"], BROKER)
    result = fails(["topic", "create", "bad name!"], BROKER)
    assert "INVALID_TOPIC_EXCEPTION" in result.err, result
    result = fails(["topic", "describe", "no-such-topic"], BROKER)
    assert "UNKNOWN_TOPIC_OR_PARTITION: topic 'no-such-topic'" in result.err, result
    assert "strata topic list" in result.err, result
    assert result.seconds < 12, result
    result = fails(["topic", "delete", "no-such-topic"], BROKER)
    assert "UNKNOWN_TOPIC_OR_PARTITION" in result.err, result
    ok(["topic", "delete", "no-such-topic", "--if-exists"], BROKER)
    result = fails(["topic", "add-partitions", "dup-topic", "-p", "1"], BROKER)
    assert "INVALID_PARTITIONS" in result.err, result
    result = fails(["topic", "create", "too-replicated", "-r", "3"], BROKER)
    assert "INVALID_REPLICATION_FACTOR" in result.err, result


def test_topic_create_with_configs_visible_to_kafka_python():
    from kafka.admin import KafkaAdminClient
    ok(["topic", "create", "with-config", "-p", "2", "-c", "retention.ms=3600000"], BROKER)
    admin = KafkaAdminClient(bootstrap_servers=BROKER.bootstrap, request_timeout_ms=10000)
    try:
        described = admin.describe_topics(["with-config"])
        assert len(described[0]["partitions"]) == 2, described
    finally:
        admin.close()


# ---- produce and consume ----------------------------------------------------------------

def test_produce_consume_json_golden():
    topic("pc-json", 3)
    lines = "".join(f"key{i}:value {i}\n" for i in range(6))
    result = ok(["produce", "pc-json", "-k", ":", "-H", "source=test", "-H", "kind=golden"], BROKER, input=lines)
    assert result.out == "Produced 6 records to 'pc-json'.\n", result
    result = ok(["consume", "pc-json", "--format", "json"], BROKER)
    records = [json.loads(line) for line in result.out.splitlines()]
    assert sorted(r["key"] for r in records) == [f"key{i}" for i in range(6)], records
    for r in records:
        assert r["value"] == "value " + r["key"][3:] and r["headers"] == {"source": "test", "kind": "golden"}, r
        assert abs(r["timestamp"] - time.time() * 1000) < 120000, r
    # Sorted by partition then offset: a stable golden file.
    records.sort(key=lambda r: (r["partition"], r["offset"]))
    lines = sorted(result.out.splitlines(), key=lambda line: (json.loads(line)["partition"], json.loads(line)["offset"]))
    golden("consume.jsonl", "".join(line + "\n" for line in lines), BROKER)
    # Keys map to partitions with the Java client's murmur2: librdkafka's murmur2 partitioner agrees.
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": BROKER.bootstrap, "partitioner": "murmur2"})
    delivered = {}
    for r in records:
        producer.produce("pc-json", key=r["key"], value=b"again",
                         on_delivery=lambda err, msg: delivered.__setitem__(msg.key().decode(), msg.partition()))
    producer.flush(10)
    assert delivered == {r["key"]: r["partition"] for r in records}, (delivered, records)


def test_produce_output_json_and_plain_consume_golden():
    topic("pc-plain")
    result = ok(["produce", "pc-plain", "-o", "json"], BROKER, input="one\ntwo\nthree\n")
    golden("produce.json", result.out, BROKER)
    golden("consume_plain.txt", ok(["consume", "pc-plain"], BROKER).out, BROKER)
    assert ok(["consume", "pc-plain", "-K"], BROKER).out == "null\tone\nnull\ttwo\nnull\tthree\n"


def test_consume_start_positions_and_count():
    topic("positions")
    ok(["produce", "positions"], BROKER, input="".join(f"m{i}\n" for i in range(10)))
    assert ok(["consume", "positions", "--offset", "7"], BROKER).out == "m7\nm8\nm9\n"
    assert ok(["consume", "positions", "--offset", "-2"], BROKER).out == "m8\nm9\n"
    assert ok(["consume", "positions", "-n", "3"], BROKER).out == "m0\nm1\nm2\n"
    assert ok(["consume", "positions", "--offset", "4", "-n", "2"], BROKER).out == "m4\nm5\n"
    assert ok(["consume", "positions", "--from", "end"], BROKER).out == ""
    result = fails(["consume", "positions", "--offset", "50"], BROKER)
    assert "OFFSET_OUT_OF_RANGE" in result.err and "0 to 9" in result.err, result
    # By time: everything is after a time in the past, nothing after one in the future.
    assert len(ok(["consume", "positions", "--timestamp", "2020-01-01T00:00:00Z"], BROKER).out.splitlines()) == 10
    future = str(int(time.time() * 1000) + 3600_000)
    assert ok(["consume", "positions", "--timestamp", future], BROKER).out == ""
    result = fails(["consume", "positions", "-p", "3"], BROKER)
    assert "UNKNOWN_TOPIC_OR_PARTITION" in result.err and "no partition 3" in result.err, result


def test_consume_follow_sees_new_records():
    topic("follow")
    proc = subprocess.Popen([STRATA, "-b", BROKER.bootstrap, "consume", "follow", "--from", "end", "-f", "-n", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        ok(["produce", "follow"], BROKER, input="x\ny\nz\n")
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and out == "x\ny\nz\n", (proc.returncode, out, err)
    # Without a count, Ctrl-C (SIGINT) ends a follow cleanly: exit 0, output flushed.
    proc = subprocess.Popen([STRATA, "-b", BROKER.bootstrap, "consume", "follow", "-f", "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (proc.returncode, out, err)
    assert [json.loads(line)["value"] for line in out.splitlines()] == ["x", "y", "z"], out


def test_produce_compression_acks_and_partition():
    topic("codecs", 2)
    expected = []
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        for acks in ("all", "1", "0"):
            lines = [f"{codec}-{acks}-{i}" for i in range(20)]
            expected += lines
            ok(["produce", "codecs", "-z", codec, "-a", acks, "-p", "1"], BROKER, input="\n".join(lines) + "\n")
    out = ok(["consume", "codecs", "-p", "1"], BROKER).out.splitlines()
    assert out == expected, out[:10]
    assert ok(["consume", "codecs", "-p", "0"], BROKER).out == ""


def test_kafka_python_reads_what_strata_produced_and_vice_versa():
    from kafka import KafkaConsumer, KafkaProducer
    topic("interop", 2)
    ok(["produce", "interop", "-k", "=", "-H", "h=1"], BROKER, input="a=1\nb=2\nc=3\n")
    consumer = KafkaConsumer("interop", bootstrap_servers=BROKER.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, enable_auto_commit=False)
    got = sorted((m.key, m.value, tuple(m.headers)) for m in consumer)
    consumer.close()
    assert got == [(b"a", b"1", (("h", b"1"),)), (b"b", b"2", (("h", b"1"),)), (b"c", b"3", (("h", b"1"),))], got
    producer = KafkaProducer(bootstrap_servers=BROKER.bootstrap, compression_type="gzip")
    for i in range(5):
        producer.send("interop", key=b"k", value=f"from-python-{i}".encode(), headers=[("x", b"y")])
    producer.flush()
    producer.close()
    records = [json.loads(line) for line in ok(["consume", "interop", "--format", "json"], BROKER).out.splitlines()]
    python = [r for r in records if r["value"].startswith("from-python")]
    assert [r["value"] for r in python] == [f"from-python-{i}" for i in range(5)], records
    assert all(r["key"] == "k" and r["headers"] == {"x": "y"} for r in python), python


def test_produce_errors():
    result = fails(["produce", "no-such-topic"], BROKER, input="x\n")
    assert "UNKNOWN_TOPIC_OR_PARTITION" in result.err and result.seconds < 12, result
    topic("produce-errors")
    result = fails(["produce", "produce-errors", "-k", ":"], BROKER, input="no separator here\n")
    assert "line 1: no key separator" in result.err, result
    result = fails(["produce", "produce-errors", "-p", "5"], BROKER, input="x\n")
    assert "UNKNOWN_TOPIC_OR_PARTITION" in result.err and "no partition 5" in result.err, result
    result = fails(["produce", "produce-errors", "-f", "/nonexistent/file"], BROKER)
    assert "cannot open" in result.err, result


def test_produce_from_file_with_parsed_headers():
    topic("from-file")
    path = os.path.join(BROKER.workdir, "records.txt")
    with open(path, "w") as fh:
        fh.write("a:1,b:2\tk1|v1\n\tk2|v2\n")
    ok(["produce", "from-file", "-f", path, "--parse-headers", "-k", "|"], BROKER)
    records = [json.loads(line) for line in ok(["consume", "from-file", "--format", "json"], BROKER).out.splitlines()]
    assert [(r["key"], r["value"], r["headers"]) for r in records] == [
        ("k1", "v1", {"a": "1", "b": "2"}), ("k2", "v2", {})], records


# ---- perf -------------------------------------------------------------------------------

def test_perf_produce_and_consume():
    topic("perf", 3)
    result = ok(["perf", "produce", "perf", "-n", "20000", "-s", "100", "--interval", "100", "-o", "json"], BROKER)
    doc = json.loads(result.out)
    assert doc["records"] == 20000 and doc["bytes"] == 2_000_000, doc
    latency = doc["latency_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"], doc
    assert doc["records_per_second"] > 0, doc
    table = ok(["perf", "produce", "perf", "-n", "5000", "-t", "20000", "-z", "lz4", "--interval", "50"], BROKER)
    assert "5000 records sent" in table.out and "p99" in table.out, table
    assert 0.2 <= table.seconds < 10, table  # paced at 20000/s
    # The live progress line (one line per interval when stderr is not a terminal).
    progress = [line for line in table.err.splitlines() if "records sent" in line and "records/s" in line]
    assert len(progress) >= 2, table
    result = ok(["perf", "consume", "perf", "--interval", "50", "-o", "json"], BROKER)
    doc = json.loads(result.out)
    assert doc["records"] == 25000 and doc["bytes"] == 2_500_000, doc
    result = ok(["perf", "consume", "perf", "-n", "1000"], BROKER)
    assert result.out.startswith("1000 records consumed"), result
    # acks=0: nothing answers, yet every record arrives.
    topic("perf-acks0", 2)
    result = ok(["perf", "produce", "perf-acks0", "-n", "30000", "-a", "0", "-o", "json"], BROKER)
    assert json.loads(result.out)["latency_ms"] is None, result
    assert json.loads(ok(["perf", "consume", "perf-acks0", "-o", "json"], BROKER).out)["records"] == 30000


# ---- configs and groups -------------------------------------------------------------------

def test_config_commands():
    topic("configs")
    ok(["config", "set", "topic", "configs", "retention.ms=1234"], BROKER)
    doc = json.loads(ok(["config", "get", "topic", "configs", "-o", "json"], BROKER).out)
    assert {"key": "retention.ms", "value": "1234"}.items() <= next(
        c for c in doc["configs"] if c["key"] == "retention.ms").items(), doc
    ok(["topic", "alter-config", "configs", "--delete", "retention.ms"], BROKER)
    doc = json.loads(ok(["config", "get", "topic", "configs", "-o", "json"], BROKER).out)
    assert next(c for c in doc["configs"] if c["key"] == "retention.ms")["value"] == "604800000", doc
    ok(["topic", "alter-config", "configs", "--set", "retention.ms=1"], BROKER)
    result = fails(["config", "set", "topic", "configs", "retention.ms=soon"], BROKER)
    assert "INVALID_CONFIG" in result.err, result
    result = fails(["config", "set", "topic", "configs", "no.such.key=1"], BROKER)
    assert "INVALID_CONFIG" in result.err, result
    doc = json.loads(ok(["config", "get", "broker", "1", "-o", "json"], BROKER).out)
    assert any(c["key"] == "log.segment.bytes" for c in doc["configs"]), doc
    fails(["config", "set", "topic", "configs"], BROKER, code=2)
    fails(["config", "get", "cluster", "x"], BROKER, code=2)


def test_config_get_golden():
    ok(["topic", "create", "golden-config", "-c", "retention.ms=3600000", "-c", "cleanup.policy=compact"], BROKER)
    # Two keys set on the topic, one inherited; keys no other test changes.
    keys = ["-k", "retention.ms", "-k", "cleanup.policy", "-k", "max.message.bytes"]
    golden("config_get_topic.txt", ok(["config", "get", "topic", "golden-config"] + keys, BROKER).out, BROKER)
    golden("config_get_topic.json", ok(["config", "get", "topic", "golden-config", "-o", "json"] + keys, BROKER).out,
           BROKER)
    keys = ["-k", "log.segment.bytes", "-k", "num.partitions", "-k", "message.max.bytes"]
    golden("config_get_broker.txt", ok(["config", "get", "broker", "1"] + keys, BROKER).out, BROKER)
    golden("config_get_broker.json", ok(["config", "get", "broker", "1", "-o", "json"] + keys, BROKER).out, BROKER)
    # --overrides: only what the topic sets.
    doc = json.loads(ok(["config", "get", "topic", "golden-config", "--overrides", "-o", "json"], BROKER).out)
    assert sorted(c["key"] for c in doc["configs"]) == ["cleanup.policy", "retention.ms"], doc
    result = fails(["config", "get", "topic", "no-such-topic"], BROKER)
    assert "UNKNOWN_TOPIC_OR_PARTITION" in result.err and "hint:" in result.err and result.seconds < 12, result


def test_dynamic_broker_config_commands():
    def broker_value(name, key):
        doc = json.loads(ok(["config", "get", "broker", name, "-k", key, "-o", "json"], BROKER).out)
        return doc["configs"][0] if doc["configs"] else None

    topic("inheriting")
    # The cluster-wide default (Kafka's resource name "", --entity-default), then broker 1's own.
    ok(["config", "set", "broker", "default", "log.retention.ms=86400000"], BROKER)
    assert broker_value("default", "log.retention.ms")["source"] == "broker-default"
    ok(["config", "set", "broker", "1", "log.retention.ms=43200000"], BROKER)
    entry = broker_value("1", "log.retention.ms")
    assert entry["value"] == "43200000" and entry["source"] == "broker" and not entry["read_only"], entry
    doc = json.loads(ok(["config", "get", "topic", "inheriting", "-k", "retention.ms", "-o", "json"], BROKER).out)
    assert {"value": "43200000", "source": "broker"}.items() <= doc["configs"][0].items(), doc
    result = fails(["config", "set", "broker", "1", "log.dirs=/tmp/elsewhere"], BROKER)
    assert "INVALID_REQUEST" in result.err and "log.dirs" in result.err, result
    assert broker_value("1", "log.dirs")["read_only"]
    ok(["config", "set", "broker", "1", "--delete", "log.retention.ms"], BROKER)
    assert broker_value("1", "log.retention.ms")["source"] == "broker-default"
    ok(["config", "set", "broker", "default", "--delete", "log.retention.ms"], BROKER)
    assert broker_value("1", "log.retention.ms")["source"] == "default"
    assert broker_value("default", "log.retention.ms") is None


def test_group_commands():
    topic("grouped")
    ok(["produce", "grouped"], BROKER, input="1\n2\n3\n")
    ok(["group", "list"], BROKER)
    # Consume as a group, then see the lag and reset.
    assert ok(["consume", "grouped", "--group", "g1", "-n", "2"], BROKER).out == "1\n2\n"
    doc = json.loads(ok(["group", "describe", "g1", "-o", "json"], BROKER).out)
    assert doc["total_lag"] == 1, doc
    assert ok(["consume", "grouped", "--group", "g1"], BROKER).out == "3\n"
    plan = json.loads(ok(["group", "reset-offsets", "g1", "-t", "grouped", "--to-earliest", "--dry-run", "-o", "json"],
                         BROKER).out)
    assert plan["offsets"][0]["new_offset"] == 0 and plan["offsets"][0]["current_offset"] == 3, plan
    ok(["group", "reset-offsets", "g1", "-t", "grouped", "--shift-by", "-1"], BROKER)
    assert ok(["consume", "grouped", "--group", "g1"], BROKER).out == "3\n"
    assert "g1" in ok(["group", "list"], BROKER).out
    ok(["group", "delete", "g1"], BROKER)
    result = fails(["group", "describe", "g1"], BROKER)
    assert "GROUP_ID_NOT_FOUND" in result.err, result
    # A real client's group: strata sees its member and lag, and refuses to
    # reset offsets under it.
    from kafka import KafkaConsumer
    consumer = KafkaConsumer("grouped", group_id="py-group", bootstrap_servers=BROKER.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        assert [m.value for m in consumer] == [b"1", b"2", b"3"]
        consumer.commit()
        doc = json.loads(ok(["group", "describe", "py-group", "-o", "json"], BROKER).out)
        assert doc["state"] == "Stable" and len(doc["members"]) == 1, doc
        assert doc["offsets"] == [{"topic": "grouped", "partition": 0, "current_offset": 3, "log_end_offset": 3,
                                   "lag": 0, "member_id": doc["members"][0]["member_id"]}], doc
        result = fails(["group", "reset-offsets", "py-group", "-t", "grouped", "--to-earliest"], BROKER)
        assert "NON_EMPTY_GROUP" in result.err, result
    finally:
        consumer.close()
    ok(["group", "reset-offsets", "py-group", "-t", "grouped", "--to-earliest"], BROKER)


def describe(group, broker=None):
    return json.loads(ok(["group", "describe", group, "-o", "json"], broker or BROKER).out)


def wait_for_stable(group, broker, timeout=15.0):
    """Waits until `group` is Stable with one member that owns its partitions."""
    deadline = time.monotonic() + timeout
    while True:
        result = run(["group", "describe", group, "-o", "json"], broker)
        if result.code == 0:
            doc = json.loads(result.out)
            if doc["state"] == "Stable" and len(doc["members"]) == 1 and all(o["member_id"] for o in doc["offsets"]):
                return doc
        assert time.monotonic() < deadline, f"group {group} not stable: {result}"
        time.sleep(0.2)


def test_group_goldens():
    # A broker of its own, so that `group list` shows exactly these groups.
    with Broker() as broker:
        ok(["topic", "create", "orders", "-p", "2"], broker)
        ok(["produce", "orders", "-p", "0"], broker, input="a\nb\nc\nd\ne\n")
        ok(["produce", "orders", "-p", "1"], broker, input="x\ny\n")
        # Committed offsets 3 and 1 (lag 2 and 1), set without consuming.
        ok(["group", "reset-offsets", "billing", "-t", "orders:0", "--to-offset", "3"], broker)
        ok(["group", "reset-offsets", "billing", "-t", "orders:1", "--to-offset", "1"], broker)
        ok(["group", "reset-offsets", "audit", "-t", "orders", "--to-earliest"], broker)
        # The dry run's plan, which changes nothing.
        plan = ["group", "reset-offsets", "billing", "-t", "orders", "--to-latest", "--dry-run"]
        golden("group_reset_dry_run.txt", ok(plan, broker).out, broker)
        golden("group_reset_dry_run.json", ok(plan + ["-o", "json"], broker).out, broker)
        assert [o["current_offset"] for o in describe("billing", broker)["offsets"]] == [3, 1]
        # A member of billing that owns both partitions and commits nothing.
        member = subprocess.Popen([STRATA, "-b", broker.bootstrap, "consume", "orders", "--group", "billing", "-f",
                                   "--no-commit"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_stable("billing", broker)
            golden("group_list.txt", ok(["group", "list"], broker).out, broker)
            golden("group_list.json", ok(["group", "list", "-o", "json"], broker).out, broker)
            golden("group_describe.txt", ok(["group", "describe", "billing"], broker).out, broker)
            golden("group_describe.json", ok(["group", "describe", "billing", "-o", "json"], broker).out, broker)
            # A group with members cannot be deleted (nor reset), as in Kafka.
            result = fails(["group", "delete", "billing"], broker)
            assert "NON_EMPTY_GROUP: deleting group 'billing'" in result.err and "hint:" in result.err, result
            assert result.seconds < 5, result
            result = fails(["group", "reset-offsets", "billing", "-t", "orders", "--to-earliest"], broker)
            assert "NON_EMPTY_GROUP" in result.err, result
        finally:
            member.send_signal(signal.SIGINT)
            out, err = member.communicate(timeout=10)
        assert member.returncode == 0 and sorted(out.splitlines()) == ["d", "e", "y"], (member.returncode, out, err)
        # --no-commit: the offsets are still the ones set above.
        doc = describe("billing", broker)
        assert doc["state"] == "Empty" and [o["current_offset"] for o in doc["offsets"]] == [3, 1], doc
        assert ok(["group", "delete", "billing"], broker).out == "Deleted group 'billing'.\n"
        result = fails(["group", "delete", "billing"], broker)
        assert "GROUP_ID_NOT_FOUND" in result.err, result
        assert [g["group"] for g in json.loads(ok(["group", "list", "-o", "json"], broker).out)] == ["audit"]


def test_kip848_group_seen_through_consumer_group_describe():
    """A KIP-848 group (@platformatic/kafka, group.protocol=consumer): DescribeGroups
    calls it Dead, so strata asks ConsumerGroupDescribe for its members and
    assignments, and refuses to reset or delete it while they run."""
    from harness import ensure_node_modules
    cwd = ensure_node_modules()
    topic("kip848-topic", 4)
    ok(["produce", "kip848-topic"], BROKER, input="".join(f"r{i}\n" for i in range(20)))
    members = subprocess.Popen(["node", os.path.join(cwd, "js", "kip848_member.js"), BROKER.bootstrap, "kip848-topic",
                                "kip848-group"], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            result = run(["group", "describe", "kip848-group", "-o", "json"], BROKER)
            doc = json.loads(result.out) if result.code == 0 else None
            if (doc and doc["state"] == "Stable" and len(doc["members"]) == 2
                    and sum(o["current_offset"] or 0 for o in doc["offsets"]) == 20
                    and all(o["member_id"] for o in doc["offsets"])):
                break
            assert time.monotonic() < deadline, f"KIP-848 group not stable and committed: {result}"
            time.sleep(0.3)
        assert doc["protocol_type"] == "consumer" and doc["protocol"] == "uniform", doc
        member_ids = {m["member_id"] for m in doc["members"]}
        assert sorted(o["partition"] for o in doc["offsets"]) == [0, 1, 2, 3], doc
        assert {o["member_id"] for o in doc["offsets"]} == member_ids and doc["total_lag"] == 0, doc
        assert {m["client_id"] for m in doc["members"]} == {"kip848-member-0", "kip848-member-1"}, doc
        table = ok(["group", "describe", "kip848-group"], BROKER).out
        assert "State:     Stable" in table and "Members:   2" in table and "kip848-member-0" in table, table
        listed = {g["group"]: g for g in json.loads(ok(["group", "list", "-o", "json"], BROKER).out)}
        assert listed["kip848-group"]["type"] == "consumer", listed
        result = fails(["group", "reset-offsets", "kip848-group", "-t", "kip848-topic", "--to-earliest"], BROKER)
        assert "NON_EMPTY_GROUP" in result.err and "2 member(s)" in result.err, result
        result = fails(["group", "delete", "kip848-group"], BROKER)
        assert "NON_EMPTY_GROUP" in result.err, result
    finally:
        members.stdin.close()
        try:
            members.wait(60)
        except subprocess.TimeoutExpired:
            members.kill()
    # Once its members have left: empty, and its offsets can be reset.
    doc = json.loads(ok(["group", "describe", "kip848-group", "-o", "json"], BROKER).out)
    assert doc["state"] == "Empty" and doc["members"] == [] and doc["total_lag"] == 0, doc
    ok(["group", "reset-offsets", "kip848-group", "-t", "kip848-topic", "--to-earliest"], BROKER)
    assert json.loads(ok(["group", "describe", "kip848-group", "-o", "json"], BROKER).out)["total_lag"] == 20


def test_reset_offsets_semantics():
    """Each strategy of reset-offsets, as kafka-consumer-groups.sh computes it:
    targets outside the log are clamped to its start or end; a time with no
    record at or after it gives the end; --shift-by needs a committed offset."""
    from kafka import KafkaProducer
    # Records from 2023: without retention.ms=-1, time retention would delete them under the test.
    ok(["topic", "create", "reset-semantics", "-c", "retention.ms=-1"], BROKER)
    base = 1_700_000_000_000  # 2023-11-14T22:13:20Z; record i has timestamp base + i seconds
    producer = KafkaProducer(bootstrap_servers=BROKER.bootstrap)
    for i in range(10):
        producer.send("reset-semantics", value=f"m{i}".encode(), partition=0, timestamp_ms=base + i * 1000)
    producer.flush()
    producer.close()

    def reset(*strategy):
        result = ok(["group", "reset-offsets", "resetter", "-t", "reset-semantics", *strategy, "-o", "json"], BROKER)
        planned = json.loads(result.out)["offsets"][0]["new_offset"]
        doc = describe("resetter")
        assert doc["offsets"][0]["current_offset"] == planned, (strategy, result.out, doc)
        return planned

    def planned(*strategy):
        doc = json.loads(ok(["group", "reset-offsets", "resetter", "-t", "reset-semantics", *strategy, "--dry-run",
                             "-o", "json"], BROKER).out)
        return doc["offsets"][0]["new_offset"]

    # --shift-by on a partition with no committed offset: refused, as Kafka's tool does.
    result = fails(["group", "reset-offsets", "resetter", "-t", "reset-semantics", "--shift-by", "1"], BROKER)
    assert "no committed offset" in result.err and "reset-semantics-0" in result.err and "hint:" in result.err, result
    assert reset("--to-offset", "4") == 4
    assert ok(["consume", "reset-semantics", "--group", "resetter", "-n", "1", "--no-commit"], BROKER).out == "m4\n"
    assert reset("--shift-by", "3") == 7
    assert reset("--shift-by", "-2") == 5
    assert planned("--shift-by", "100") == 10  # past the end: the end
    assert planned("--shift-by", "-100") == 0  # before the start: the start
    assert planned("--to-offset", "50") == 10
    assert planned("--to-offset", "-5") == 0
    assert describe("resetter")["offsets"][0]["current_offset"] == 5  # dry runs changed nothing
    # By time: the first offset whose timestamp is at or after it.
    assert reset("--to-datetime", "2023-11-14T22:13:22.500Z") == 3
    assert reset("--to-datetime", str(base + 2000)) == 2
    assert reset("--to-datetime", "2023-11-14T23:13:26+01:00") == 6
    assert reset("--to-datetime", "2020-01-01T00:00:00Z") == 0
    assert reset("--to-datetime", str(int(time.time() * 1000) + 3600_000)) == 10  # no record that late: the end
    # --by-duration: now minus the duration. Every record is from 2023.
    assert reset("--by-duration", "P36500D") == 0
    assert reset("--by-duration", "PT1H") == 10
    assert ok(["consume", "reset-semantics", "--group", "resetter"], BROKER).out == ""
    assert reset("--to-earliest") == 0
    assert reset("--to-latest") == 10
    # consume --timestamp picks the same records.
    assert ok(["consume", "reset-semantics", "--timestamp", "2023-11-14T22:13:22.500Z"], BROKER).out == \
        "".join(f"m{i}\n" for i in range(3, 10))
    assert ok(["consume", "reset-semantics", "--timestamp", str(base + 8000)], BROKER).out == "m8\nm9\n"
    records = [json.loads(line) for line in
               ok(["consume", "reset-semantics", "--timestamp", str(base + 9000), "--format", "json"], BROKER).out
               .splitlines()]
    assert [(r["offset"], r["timestamp"]) for r in records] == [(9, base + 9000)], records


def test_reset_offsets_usage():
    fails(["group", "reset-offsets", "g1", "-t", "x"], BROKER, code=2)
    fails(["group", "reset-offsets", "g1", "--to-earliest", "--to-latest", "-t", "x"], BROKER, code=2)
    fails(["group", "reset-offsets", "g1", "--to-earliest"], BROKER, code=2)
    # Bad times are usage errors found before any connection (nothing listens on port 1).
    for strategy in (["--to-datetime", "junk"], ["--by-duration", "1H"], ["--by-duration", "PT1D"]):
        result = fails(["group", "reset-offsets", "g1", "-t", "x", *strategy], "127.0.0.1:1", code=2)
        assert "cannot read" in result.err and "hint:" in result.err and result.seconds < 5, (strategy, result)


# ---- completion -------------------------------------------------------------------------

def test_completion_scripts():
    script = ok(["completion", "bash"]).out
    def complete(words):
        line = " ".join(words)
        shell = (f"source /dev/stdin <<'EOF'\n{script}\nEOF\n"
                 f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _strata; echo \"${{COMPREPLY[@]}}\"")
        return subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True).stdout.split()
    assert sorted(complete(["strata", "to"])) == ["token", "topic"]
    assert complete(["strata", "top"]) == ["topic"]
    assert set(complete(["strata", "topic", ""])) == {"create", "list", "describe", "delete", "alter-config",
                                                      "add-partitions"}
    assert "--partitions" in complete(["strata", "topic", "create", "--p"])
    assert "--follow" in complete(["strata", "consume", "t", "--f"])
    zsh = ok(["completion", "zsh"]).out
    assert zsh.startswith("#compdef strata") and "bashcompinit" in zsh
    fails(["completion", "fish"], code=2)


def main():
    global BROKER
    code = 0
    with Broker() as broker:
        BROKER = broker
        try:
            run_tests([
                test_every_command_has_help_with_an_example,
                test_usage_errors_exit_2,
                test_version_flag,
                test_unreachable_broker_fails_fast_with_a_hint,
                test_silent_server_times_out_promptly,
                test_brokers_from_environment,
                test_cluster_info_golden,
                test_cluster_health_and_quorum,
                test_topic_lifecycle_golden,
                test_topic_list_table_golden,
                test_topic_errors_name_kafka_codes,
                test_topic_create_with_configs_visible_to_kafka_python,
                test_produce_consume_json_golden,
                test_produce_output_json_and_plain_consume_golden,
                test_consume_start_positions_and_count,
                test_consume_follow_sees_new_records,
                test_produce_compression_acks_and_partition,
                test_kafka_python_reads_what_strata_produced_and_vice_versa,
                test_produce_errors,
                test_produce_from_file_with_parsed_headers,
                test_perf_produce_and_consume,
                test_config_commands,
                test_config_get_golden,
                test_dynamic_broker_config_commands,
                test_group_commands,
                test_group_goldens,
                test_kip848_group_seen_through_consumer_group_describe,
                test_reset_offsets_semantics,
                test_reset_offsets_usage,
                test_completion_scripts,
            ])
        except SystemExit as e:
            code = e.code
    raise SystemExit(code)


if __name__ == "__main__":
    main()
