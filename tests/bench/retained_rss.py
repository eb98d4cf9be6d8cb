#!/usr/bin/python3
"""Broker memory, descriptors and restart time against retained data (issue 18).

Adds GIB GiB to one data directory in 1 MiB segments (segment.bytes=1048576,
4 topics x 5 partitions, 10 KB records in 16 KB batches, acks=1, written with
librdkafka's rdkafka_performance as in broker_bench.py), stops the broker,
then for each stratad binary given restarts on that directory and reports:

  - exec to serving (first ApiVersions answer), the time the broker takes
    to open every log (its log: from "starting" to "registered", which
    follows the last partition's "leader at epoch"), and exec to every
    partition's watermarks answered through librdkafka;
  - RSS 5 s after that, idle; and again after a ListOffsets by timestamp on
    every partition plus a read of offset 0 of every partition (lookups in
    the oldest, sealed segments);
  - open descriptors (/proc/<pid>/fd) and segment count;
  - the same RSS for an empty broker (fresh data directory) as the baseline.

  tests/bench/retained_rss.py --data DIR [--gib 20] [--produce-with STRATAD]
      [--keep] STRATAD...

--produce-with adds GIB GiB to DIR (creating the topics if missing) with that
binary first; DIR is deleted at the end unless --keep. Every broker runs
under the caller's RLIMIT_NOFILE: a binary that keeps each segment's three
files open fails once 3 x segments passes it (20000 here: ~6,600 segments).
Run by hand; it writes GIB GiB and takes minutes. Prints a Markdown table.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

from harness import free_port  # noqa: E402
from perf_tools import api_versions_answered, build_perf  # noqa: E402

TOPICS = [f"retained{i}" for i in range(4)]
PARTITIONS = 5
RECORD = 10240


class Broker:
    def __init__(self, binary, data):
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        env = dict(os.environ, STRATA_LISTENERS=f"PLAINTEXT://{self.bootstrap}", STRATA_LOG_DIRS=data,
                   STRATA_HTTP_LISTENERS="")
        self.log = tempfile.NamedTemporaryFile(prefix="stratad-", suffix=".log")
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen([binary], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        while not api_versions_answered(self.port):
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"{binary} exited:\n{self.log.read()[-3000:].decode(errors='replace')}")
            time.sleep(0.001)
        self.serving_ms = (time.perf_counter() - self.t0) * 1000

    def ms_since_exec(self):
        return (time.perf_counter() - self.t0) * 1000

    def logs_open_ms(self):
        """From the "starting" line to "registered" (every log is open by then)."""
        stamps = {}
        for line in open(self.log.name, errors="replace"):
            for key in ("starting", "registered with epoch"):
                if key in line and key not in stamps:
                    m = re.match(r"\[[\d-]+ (\d+):(\d+):([\d.]+)\]", line)
                    stamps[key] = (int(m.group(1)) * 60 + int(m.group(2))) * 60 + float(m.group(3))
        if len(stamps) < 2:
            return float("nan")
        return (stamps["registered with epoch"] - stamps["starting"]) * 1000

    def rss_mib(self):
        status = open(f"/proc/{self.proc.pid}/status").read()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=300)


def consumer(broker):
    from confluent_kafka import Consumer
    return Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "retained-rss", "enable.auto.commit": False})


def watermarks(c, timeout=60.0):
    from confluent_kafka import TopicPartition
    return {(t, p): c.get_watermark_offsets(TopicPartition(t, p), timeout=timeout)[1]
            for t in TOPICS for p in range(PARTITIONS)}


def produce(binary, data, gib, perf):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic
    broker = Broker(binary, data)
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        existing = set(admin.list_topics(timeout=60).topics)
        new = [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1, config={"segment.bytes": "1048576"})
               for t in TOPICS if t not in existing]
        for f in (admin.create_topics(new).values() if new else []):
            f.result(timeout=30)
        consumer_marks = consumer(broker)
        while True:  # a restarted broker leads its partitions once their logs are open
            try:
                if len(watermarks(consumer_marks, timeout=5.0)) == len(TOPICS) * PARTITIONS:
                    break
            except KafkaException:
                time.sleep(0.1)
        consumer_marks.close()
        count = gib * (1 << 30) // RECORD // len(TOPICS)
        for topic in TOPICS:
            t = time.perf_counter()
            out = subprocess.run([perf, "-P", "-t", topic, "-b", broker.bootstrap, "-s", str(RECORD), "-c",
                                  str(count), "-a", "1", "-X", "linger.ms=5", "-X", "batch.size=16384",
                                  "-X", "queue.buffering.max.kbytes=262144"],
                                 capture_output=True, text=True, timeout=3600)
            if out.returncode != 0 or "delivered" not in out.stdout:
                raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
            print(f"# {topic}: {count} x {RECORD} B in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    finally:
        broker.stop()


def du_gib(data):
    out = subprocess.run(["du", "-sb", data], capture_output=True, text=True).stdout
    return int(out.split()[0]) / (1 << 30)


def segments(data):
    return sum(1 for _, _, files in os.walk(data) for f in files if f.endswith(".log") and len(f) == 24)


def measure(binary, data):
    broker = Broker(binary, data)
    try:
        c = consumer(broker)
        while True:  # every partition's log is open and answers
            try:
                marks = watermarks(c, timeout=5.0)
                if all(v > 0 for v in marks.values()):
                    break
            except Exception:  # noqa: BLE001 (not led yet)
                pass
            time.sleep(0.05)
        all_ms = broker.ms_since_exec()
        time.sleep(5.0)
        idle = broker.rss_mib()
        fds = broker.fds()
        from confluent_kafka import TopicPartition
        ts = int(time.time() * 1000) - 10 * 60 * 1000  # before every record: the first segment
        c.offsets_for_times([TopicPartition(t, p, ts) for t, p in marks], timeout=60)
        c.assign([TopicPartition(t, p, 0) for t, p in marks])
        got = 0
        deadline = time.monotonic() + 60
        while got < len(marks) and time.monotonic() < deadline:
            got += len(c.consume(num_messages=len(marks), timeout=1.0))
        c.close()
        time.sleep(1.0)
        return {"serving": broker.serving_ms, "all": all_ms, "open": broker.logs_open_ms(), "idle": idle, "after": broker.rss_mib(), "fds": fds,
                "fds_after": broker.fds()}
    finally:
        broker.stop()


def empty_rss(binary):
    data = tempfile.mkdtemp(prefix="strata-empty-")
    try:
        broker = Broker(binary, data)
        time.sleep(5.0)
        rss, fds = broker.rss_mib(), broker.fds()
        broker.stop()
        return rss, fds
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--gib", type=int, default=20)
    ap.add_argument("--produce-with")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("binaries", nargs="*")
    args = ap.parse_args()
    try:
        if args.produce_with:
            perf = build_perf(os.path.join(tempfile.gettempdir(), "strata-bench", "rdkafka_performance"))
            produce(args.produce_with, args.data, args.gib, perf)
        print(f"# data: {du_gib(args.data):.1f} GiB in {segments(args.data)} segments", file=sys.stderr)
        print("| binary | empty RSS | retained RSS idle / after lookups | exec to serving / logs open / watermarks | fds empty / retained |")
        print("|---|---|---|---|---|")
        for binary in args.binaries:
            rss0, fds0 = empty_rss(binary)
            m = measure(binary, args.data)
            print(f"| {binary} | {rss0:.1f} MiB | {m['idle']:.1f} / {m['after']:.1f} MiB | "
                  f"{m['serving']:.0f} / {m['open']:.0f} / {m['all']:.0f} ms | {fds0} / {m['fds']} ({m['fds_after']} after) |", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.data, ignore_errors=True)


if __name__ == "__main__":
    main()
