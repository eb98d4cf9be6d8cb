#!/usr/bin/python3
"""A log directory that fails goes offline (Kafka's LogDirFailureChannel),
with a real fault: three combined nodes, node 1's log dir on a small tmpfs
of its own that the test fills to ENOSPC while an idempotent acks=all
confluent-kafka producer writes to three partitions node 1 leads
(replication factor 3, min.insync.replicas=2).

- node 1's first failing write takes its directory offline: its partitions
  answer KAFKA_STORAGE_ERROR, /metrics shows strata_log_dir_offline 1, and
  with no directory left the broker leaves the cluster (controlled shutdown,
  so the controller moves its leaderships to in-sync replicas) and exits
  with status 1;
- leadership of every partition moves to another replica and the producer
  carries on: no delivery error, and every acknowledged record is read back
  exactly once, at the offset it was acknowledged with, in send order (the
  duplicates of docs/reliability.md came from a leader that stayed writable
  after a failed append);
- once the disk has room again, node 1 starts (recovering the log dir, which
  has no clean-shutdown marker), catches up and is back in every ISR.

Needs root (mount). Before the fix: node 1 stayed leader and writable after
the failed append; see docs/reliability.md (disk, seed 306).
"""

import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, registered_brokers, run_tests  # noqa: E402
from test_alter_partition import partitions, wait_for  # noqa: E402

TOPIC = "diskfail"
PARTITIONS = 3
VICTIM = 1
TMPFS_BYTES = 64 << 20
ENV = {
    "STRATA_MIN_INSYNC_REPLICAS": "2",
    "STRATA_DEFAULT_REPLICATION_FACTOR": "3",
    "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
    "STRATA_BROKER_SESSION_TIMEOUT_MS": "4000",
    "STRATA_BROKER_HEARTBEAT_INTERVAL_MS": "500",
    # Small segments and indexes: each roll creates files, so the full disk
    # is met within a second of producing (a write into the last, partly
    # used page of a tmpfs file needs no new space).
    "STRATA_LOG_SEGMENT_BYTES": str(256 << 10),
    "STRATA_LOG_INDEX_SIZE_MAX_BYTES": str(64 << 10),
}


def bootstrap(nodes):
    return ",".join(n.bootstrap for n in nodes)


def offline_gauge(node):
    """strata_log_dir_offline on the node's /metrics: 0, 1, or None (not answering)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=0.5) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):
        return None
    m = re.search(r'^strata_log_dir_offline\{log_dir="[^"]*"\} (\S+)$', text, re.M)
    return None if m is None else float(m.group(1))


class Workload:
    """One idempotent acks=all producer on a thread, values "<partition>-<n>"
    with n counting up per partition, so send order is in the value."""

    def __init__(self, nodes):
        self.lock = threading.Lock()
        self.acked = {}  # value -> (partition, offset)
        self.delivery_errors = []
        self.client_errors = []
        self.stopping = threading.Event()
        self.producer = Producer({
            "bootstrap.servers": bootstrap(nodes), "acks": "all", "enable.idempotence": True,
            "linger.ms": 5, "batch.size": 65536, "message.timeout.ms": 120000, "request.timeout.ms": 5000,
            "error_cb": self.client_error})
        # A daemon: a failed test must not wait for the producer's flush.
        self.thread = threading.Thread(target=self.produce, daemon=True)

    def client_error(self, err):
        with self.lock:
            self.client_errors.append((err.code(), err.retriable(), err.fatal(), err.str()))

    def report(self, err, msg):
        with self.lock:
            if err:
                self.delivery_errors.append(err)
            else:
                self.acked[msg.value().decode()] = (msg.partition(), msg.offset())

    def produce(self):
        counters = [0] * PARTITIONS
        i = 0
        padding = "x" * 400
        while not self.stopping.is_set():
            p = i % PARTITIONS
            value = f"{p}-{counters[p]}"
            try:
                self.producer.produce(TOPIC, value=value.encode(), key=padding.encode(), partition=p,
                                      on_delivery=self.report)
                counters[p] += 1
                i += 1
            except BufferError:
                self.producer.poll(0.01)
            if i % 20 == 0:
                self.producer.poll(0.005)
        self.remaining = self.producer.flush(120)

    def acks(self):
        with self.lock:
            return len(self.acked)

    def wait_acks(self, more, timeout=60):
        target = self.acks() + more
        wait_for(lambda: self.acks() >= target, timeout=timeout, what=f"{more} more acknowledgements")

    def stop(self):
        self.stopping.set()
        self.thread.join(180)
        assert self.remaining == 0, f"{self.remaining} records never answered"


def read_back(nodes):
    """Every record of every partition, log start to high watermark:
    {partition: [(offset, value)]}."""
    consumer = Consumer({"bootstrap.servers": bootstrap(nodes), "group.id": "diskfail-check",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": True})
    try:
        ends = {}
        for p in range(PARTITIONS):
            _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
            ends[p] = high
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(PARTITIONS)])
        out = {p: [] for p in range(PARTITIONS)}
        done = set(p for p in range(PARTITIONS) if ends[p] == 0)
        deadline = time.monotonic() + 60
        while len(done) < PARTITIONS and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF and msg.offset() >= ends[msg.partition()]:
                    done.add(msg.partition())
                continue
            out[msg.partition()].append((msg.offset(), msg.value().decode()))
        assert len(done) == PARTITIONS, f"read back stopped short: {len(done)} of {PARTITIONS} partitions to {ends}"
        return out
    finally:
        consumer.close()


def check_history(acked, read):
    """Every acknowledged value exactly once, at its acknowledged offset; each
    partition in send order; nothing read twice."""
    where = {}
    for p, records in read.items():
        offsets = [o for o, _ in records]
        assert offsets == sorted(set(offsets)), f"partition {p}: offsets not strictly increasing"
        last = -1
        for o, value in records:
            assert value not in where, f"duplicated: {value} at {where[value]} and {(p, o)}"
            where[value] = (p, o)
            part, n = value.split("-")
            assert int(part) == p, f"{value} read from partition {p}"
            assert int(n) > last, f"reordered: partition {p} has {value} after {p}-{last}"
            last = int(n)
    lost = [v for v in acked if v not in where]
    assert not lost, f"lost {len(lost)} acknowledged records, e.g. {lost[:5]}"
    moved = [(v, acked[v], where[v]) for v in acked if where[v] != acked[v]]
    assert not moved, f"read at another offset than acknowledged: {moved[:5]}"


def mount_tmpfs(path):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", path], check=True)


def fill(path):
    """Writes a file until the filesystem is full (ENOSPC)."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * (64 << 10))
        except OSError:
            pass
    try:
        with open(os.path.join(path, "filler-tail"), "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)
    except OSError:
        pass
    return filler


def test_full_disk_takes_the_log_dir_offline_and_leadership_moves():
    with Cluster(size=3, extra_env=ENV) as cluster:
        victim = cluster.node(VICTIM)
        mount = os.path.join(victim.workdir, "disk")
        mounted = False
        work = None
        try:
            # Only the partition logs (and the node's RocksDB state) on the
            # small disk; the metadata log stays on the large one.
            victim.stop()
            mount_tmpfs(mount)
            mounted = True
            victim.env["STRATA_METADATA_LOG_DIR"] = victim.data_dir
            subprocess.run(["cp", "-a", os.path.join(victim.data_dir, "meta.properties"), mount], check=True)
            victim.env["STRATA_LOG_DIRS"] = mount
            victim.start()

            admin = AdminClient({"bootstrap.servers": bootstrap(cluster.nodes)})
            wait_for(lambda: registered_brokers(admin) == 3, what="three registered brokers")
            assignment = [[VICTIM, 2, 3], [VICTIM, 3, 2], [VICTIM, 2, 3]]
            admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replica_assignment=assignment,
                                          config={"min.insync.replicas": "2"})])[TOPIC].result(timeout=20)
            wait_for(lambda: (lambda ps: len(ps) == PARTITIONS and all(
                leader == VICTIM and len(isr) == 3 for leader, _, _, isr in ps.values()))(partitions(cluster, TOPIC)),
                timeout=20, what=f"node {VICTIM} leading every partition with full ISRs")
            assert offline_gauge(victim) == 0.0

            work = Workload(cluster.nodes)
            work.thread.start()
            work.wait_acks(300)

            # The fault, and a watch on the victim's gauge while it shuts down.
            seen_offline = threading.Event()

            def watch_gauge():
                while victim.proc.poll() is None:
                    if offline_gauge(victim) == 1.0:
                        seen_offline.set()
                        return
                    time.sleep(0.01)
            watcher = threading.Thread(target=watch_gauge)
            watcher.start()
            filled_at = time.monotonic()
            filler = fill(mount)

            code = victim.proc.wait(60)
            stopped_in = time.monotonic() - filled_at
            watcher.join(5)
            log = victim.log()
            assert code == 1, f"node {VICTIM} exited with {code}, expected 1:\n{log[-3000:]}"
            assert "is offline after an I/O error" in log, log[-3000:]
            assert "every log dir has failed" in log, log[-3000:]
            assert seen_offline.is_set(), "strata_log_dir_offline never showed 1 before the node stopped"

            others = [n for n in cluster.nodes if n is not victim]
            wait_for(lambda: (lambda ps: len(ps) == PARTITIONS and all(
                leader in (2, 3) and VICTIM not in isr for leader, _, _, isr in ps.values()))(partitions(cluster, TOPIC)),
                timeout=20, what="every partition led by a surviving in-sync replica")
            work.wait_acks(300)
            print(f"  node {VICTIM} stopped {stopped_in:.2f}s after its disk filled; "
                  f"{work.acks()} records acknowledged so far", flush=True)

            # Room again: the node recovers its directory and rejoins.
            os.remove(filler)
            os.remove(os.path.join(mount, "filler-tail"))
            victim.start()
            assert "last shutdown was not clean" in victim.log(), "no recovery of the failed directory"
            wait_for(lambda: (lambda ps: len(ps) == PARTITIONS and all(
                len(isr) == 3 for _, _, _, isr in ps.values()))(partitions(cluster, TOPIC)),
                timeout=30, what=f"node {VICTIM} back in every ISR")
            wait_for(lambda: offline_gauge(victim) == 0.0, timeout=10, what="an online log dir after the restart")
            work.wait_acks(100)
            work.stop()

            assert not work.delivery_errors, f"delivery errors: {work.delivery_errors[:5]}"
            fatal = [e for e in work.client_errors if e[2]]
            assert not fatal, f"fatal client errors: {fatal}"
            read = read_back(others)
            check_history(work.acked, read)
            print(f"  {len(work.acked)} acknowledged records read back once each, in order", flush=True)
        finally:
            if work is not None:
                work.stopping.set()
            cluster.stop()
            if mounted:
                subprocess.run(["umount", "-l", mount], check=False)


if __name__ == "__main__":
    run_tests([test_full_disk_takes_the_log_dir_offline_and_leadership_moves])
