#!/usr/bin/python3
"""KafkaJS (npm, unmodified) against stratad: admin create / describe /
alter configs / offsets / offsets by time / delete records / delete topic,
and a producer of keyed records with headers in every codec KafkaJS has;
confluent-kafka then reads every record back byte for byte, in partition
order, and reading below the deleted records is OFFSET_OUT_OF_RANGE."""

import json
import os
import subprocess

from harness import Broker, ensure_node_modules, run_tests

from confluent_kafka import Consumer, KafkaError, TopicPartition

TOTAL = 10000


def expected_records(codecs, total):
    per_codec = -(-total // len(codecs))
    out, sent = [], 0
    for codec in codecs:
        for i in range(per_codec):
            if sent == total:
                break
            value = f"value {codec} {i} " + "kafkajs" * (i % 50)
            out.append((f"key-{i % 97}".encode(), value.encode(), ((b"seq", str(i).encode()), (b"codec", codec.encode()))))
            sent += 1
    return out


def read_all(broker, topic, starts, total, timeout=60):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused", "enable.auto.commit": False,
                         "auto.offset.reset": "error"})
    consumer.assign([TopicPartition(topic, p, o) for p, o in starts.items()])
    got, errors = {}, []
    import time
    deadline = time.monotonic() + timeout
    while sum(len(v) for v in got.values()) < total and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            errors.append(msg.error())
            break
        headers = tuple((k.encode(), v) for k, v in (msg.headers() or []))
        got.setdefault(msg.partition(), []).append((msg.offset(), msg.key(), msg.value(), headers))
    consumer.close()
    return got, errors


def test_kafkajs_admin_and_producer():
    cwd = ensure_node_modules()
    with Broker() as broker:
        script = os.path.join(cwd, "js", "kafkajs_admin_produce.js")
        run = subprocess.run(["node", script, broker.bootstrap, "js-orders", str(TOTAL)], cwd=cwd,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert out["created"] is True, out
        assert out["partitions"] == [0, 1, 2], out
        assert out["configs"]["retention.bytes"] == "104857600", out["configs"].get("retention.bytes")
        # AlterConfigs replaces the set: the retention.ms given at creation is gone.
        assert out["configs"]["retention.ms"] == "604800000", out["configs"].get("retention.ms")
        assert out["sent"] == TOTAL
        assert {"none", "gzip", "snappy", "lz4"} <= set(out["codecs"]), out["codecs"]
        highs = {o["partition"]: int(o["high"]) for o in out["offsets"]}
        assert sum(highs.values()) == TOTAL, highs
        assert all(int(o["low"]) == 0 for o in out["offsets"]), out["offsets"]
        assert all(int(o["offset"]) == 0 for o in out["byTimestamp"]), out["byTimestamp"]
        assert out["afterDelete"]["low"] == "10", out["afterDelete"]

        # Every record back, byte for byte, in order within each partition.
        got, errors = read_all(broker, "js-orders", {0: 10, 1: 0, 2: 0}, TOTAL - 10)
        assert not errors, errors
        for p, records in got.items():
            assert [r[0] for r in records] == list(range(10 if p == 0 else 0, highs[p])), f"partition {p} has gaps"
            seqs = {}
            for _, _, _, headers in records:
                codec, seq = headers[1][1].decode(), int(headers[0][1])
                assert seq > seqs.get(codec, -1), f"partition {p}: {codec} {seq} out of order"
                seqs[codec] = seq
        flat = sorted((k, v, h) for recs in got.values() for (_, k, v, h) in recs)
        expected = expected_records(out["codecs"], TOTAL)
        assert len(flat) == TOTAL - 10
        assert set(flat) <= set(expected) and len(set(expected) - set(flat)) == 10

        # Below the new log start offset: OFFSET_OUT_OF_RANGE.
        got, errors = read_all(broker, "js-orders", {0: 5}, 1, timeout=15)
        assert errors and errors[0].code() == KafkaError._AUTO_OFFSET_RESET, (errors, got)


if __name__ == "__main__":
    run_tests([test_kafkajs_admin_and_producer])
