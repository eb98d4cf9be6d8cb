#!/usr/bin/python3
"""Partition reassignment, broker decommission and rebalance (issue 20,
items 5 and 6) on four brokers: three combined nodes (1-3, the metadata
quorum) and broker-only node 4; later broker-only node 5 joins. An
idempotent acks=all confluent-kafka producer runs throughout, and every
record is read back at the end and counted.

- cancellation midway: with broker 4 stopped (SIGSTOP) a move of `moving-0`
  from {1,2,3} to {2,3,4} cannot complete; ListPartitionReassignments shows
  it (adding 4, removing 1); cancelling it restores replicas {1,2,3}, ISR and
  leader;
- the move itself, with broker 4 back, while producing (`strata partition
  reassign --wait`): replicas and ISR become {2,3,4}, broker 1's log of the
  partition is deleted, and the moved replica's segment files are byte for
  byte the leader's;
- `strata broker decommission 4` with broker 4 leading a partition: every
  replica moves off it (progress on stderr), its logs are deleted, it is
  stopped, and it is unregistered (Metadata no longer lists it);
- broker 5 joins and `strata cluster rebalance` (after a --dry-run that
  changes nothing) evens out replicas and leaders onto it.

At the end: nothing acknowledged lost, nothing stored twice, and every
replica's .log files identical to its leader's.
"""

import filecmp
import json
import os
import signal
import subprocess
import sys
import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, TopicPartition as KPTopicPartition

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Broker, Cluster, registered_brokers, run_tests, SOURCE_DIR, STRATAD  # noqa: E402
from test_alter_partition import metadata, wait_for  # noqa: E402

STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(SOURCE_DIR, "build", "src", "strata")))
MOVING = "moving"
SPREAD = "spread"
# Broker 4 is the preferred leader of spread-3.
SPREAD_ASSIGNMENT = [[1, 2, 3], [2, 3, 4], [3, 4, 1], [4, 1, 2]]
PARTITIONS = [(MOVING, 0)] + [(SPREAD, p) for p in range(len(SPREAD_ASSIGNMENT))]
ENV = {"STRATA_MIN_INSYNC_REPLICAS": "2", "STRATA_DEFAULT_REPLICATION_FACTOR": "3"}
RATE = 1500  # records per second, spread over PARTITIONS


def broker_only_node(cluster, node_id):
    node = Broker(extra_env=ENV)
    node.node_id = node_id
    node.controller_port = None
    node.env.update({
        "STRATA_NODE_ID": str(node_id),
        "STRATA_PROCESS_ROLES": "broker",
        "STRATA_LISTENERS": f"PLAINTEXT://127.0.0.1:{node.port}",
        "STRATA_CONTROLLER_QUORUM_VOTERS": cluster.nodes[0].env["STRATA_CONTROLLER_QUORUM_VOTERS"],
    })
    subprocess.run([STRATAD, "format", "-t", cluster.cluster_id], env=node.env, check=True, capture_output=True,
                   timeout=30)
    return node


def strata(bootstrap, *args, timeout=60):
    proc = subprocess.run([STRATA, "-b", bootstrap, *args], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"strata {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def state(node, topic, partition):
    """(leader, replicas, isr) of a partition as `node` sees it."""
    leader, _, replicas, isr = metadata(node.port, topic)["partitions"][partition]
    return leader, replicas, isr


def reassignments(bootstrap):
    doc = json.loads(strata(bootstrap, "-o", "json", "partition", "list-reassignments").stdout)
    return {(r["topic"], r["partition"]): r for r in doc["reassignments"]}


def log_files(node, topic, partition):
    d = os.path.join(node.data_dir, f"{topic}-{partition}")
    return sorted(f for f in os.listdir(d) if f.endswith(".log")) if os.path.isdir(d) else None


def replicas_identical(nodes, topic, partition, replicas, leader):
    """True when every replica's .log segment files are byte for byte the
    leader's (same names, same contents)."""
    by_id = {n.node_id: n for n in nodes}
    ref = log_files(by_id[leader], topic, partition)
    if not ref:
        return False
    for r in replicas:
        if r == leader:
            continue
        files = log_files(by_id[r], topic, partition)
        if files != ref:
            return False
        for f in ref:
            a = os.path.join(by_id[leader].data_dir, f"{topic}-{partition}", f)
            b = os.path.join(by_id[r].data_dir, f"{topic}-{partition}", f)
            if not filecmp.cmp(a, b, shallow=False):
                return False
    return True


class Workload:
    """An idempotent acks=all producer on a thread, at about RATE records a
    second; pause() holds it (to compare files at rest)."""

    def __init__(self, bootstrap):
        self.lock = threading.Lock()
        self.acked = {}  # value -> (topic, partition, offset)
        self.errors = []
        self.stopping = threading.Event()
        self.running = threading.Event()
        self.running.set()
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "linger.ms": 5, "message.timeout.ms": 120000})
        self.thread = threading.Thread(target=self.produce)
        self.sent = 0

    def report(self, err, msg):
        with self.lock:
            if err:
                self.errors.append(err)
            else:
                self.acked[msg.value()] = (msg.topic(), msg.partition(), msg.offset())

    def produce(self):
        i = 0
        batch = max(1, RATE // 50)
        while not self.stopping.is_set():
            if not self.running.is_set():
                self.producer.flush(60)
                self.running.wait(0.1)
                continue
            for _ in range(batch):
                topic, partition = PARTITIONS[i % len(PARTITIONS)]
                value = f"{i:09d}-".encode() + b"x" * 90
                try:
                    self.producer.produce(topic, value=value, partition=partition, on_delivery=self.report)
                    i += 1
                except BufferError:
                    break
            self.sent = i
            self.producer.poll(0.02)
        self.producer.flush(120)

    def acks(self):
        with self.lock:
            return len(self.acked)

    def wait_acks(self, more, timeout=30):
        target = self.acks() + more
        wait_for(lambda: self.acks() >= target, timeout=timeout, what=f"{more} more acknowledgements")

    def pause(self):
        self.running.clear()
        time.sleep(0.2)
        self.producer.flush(60)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.running.set()
        self.thread.join(180)


def read_back(bootstrap):
    """{value: [(topic, partition, offset)...]} of every stored record."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             max_partition_fetch_bytes=4 << 20)
    tps = [KPTopicPartition(t, p) for t, p in PARTITIONS]
    consumer.assign(tps)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(tps)
    stored = {}
    deadline = time.monotonic() + 60
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        assert time.monotonic() < deadline, "reading back took over 60 s"
        for tp, records in consumer.poll(timeout_ms=500).items():
            for r in records:
                stored.setdefault(r.value, []).append((tp.topic, tp.partition, r.offset))
    consumer.close()
    return stored


def wait_in_sync(node, topic, partition, replicas, timeout=30):
    def ok():
        leader, r, isr = state(node, topic, partition)
        return leader in replicas and sorted(r) == sorted(replicas) and sorted(isr) == sorted(replicas)
    wait_for(ok, timeout=timeout, what=f"{topic}-{partition} on {replicas}, all in sync")


def test_reassign_cancel_decommission_rebalance():
    started = time.monotonic()
    cluster = Cluster(3, extra_env=ENV)
    cluster.start()
    extra = []
    workload = None
    ok = False
    try:
        cluster.wait_ready()
        n1 = cluster.node(1)
        b = ",".join(n.bootstrap for n in cluster.nodes)
        node4 = broker_only_node(cluster, 4)
        extra.append(node4)
        node4.start()
        admin = AdminClient({"bootstrap.servers": b})
        wait_for(lambda: registered_brokers(admin) == 4, timeout=20, what="four brokers")
        futures = admin.create_topics([
            NewTopic(MOVING, num_partitions=1, replica_assignment=[[1, 2, 3]]),
            NewTopic(SPREAD, num_partitions=4, replica_assignment=SPREAD_ASSIGNMENT)])
        for f in futures.values():
            f.result(timeout=20)
        wait_in_sync(n1, MOVING, 0, [1, 2, 3])
        for p, r in enumerate(SPREAD_ASSIGNMENT):
            wait_in_sync(n1, SPREAD, p, r)
        workload = Workload(b).start()
        workload.wait_acks(2000)

        # --- Cancellation midway: broker 4 stopped cannot catch up.
        node4.pause()
        leader_before = state(n1, MOVING, 0)[0]
        strata(b, "partition", "reassign", "--topic", MOVING, "--partition", "0", "--replicas", "2,3,4")
        moving = wait_for(lambda: reassignments(b).get((MOVING, 0)), what="the move listed")
        assert moving["adding_replicas"] == [4] and moving["removing_replicas"] == [1], moving
        assert moving["replicas"] == [2, 3, 4, 1], moving
        time.sleep(1.0)
        workload.wait_acks(500)
        leader, replicas, isr = state(n1, MOVING, 0)
        assert sorted(isr) == [1, 2, 3] and leader == leader_before, (leader, replicas, isr)
        assert (MOVING, 0) in reassignments(b), "the move completed without broker 4"
        out = strata(b, "partition", "reassign", "--topic", MOVING, "--partition", "0", "--cancel").stdout
        assert "cancelled" in out, out
        leader, replicas, isr = state(n1, MOVING, 0)
        assert sorted(replicas) == [1, 2, 3] and sorted(isr) == [1, 2, 3], (replicas, isr)
        assert leader == leader_before, (leader, leader_before)
        assert not reassignments(b), reassignments(b)
        node4.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: 4 in metadata(n1.port, MOVING)["brokers"], what="broker 4 back")
        wait_for(lambda: log_files(node4, MOVING, 0) is None, what="no log of the cancelled move on broker 4")
        print(f"  cancelled midway: replicas {replicas}, ISR {isr}, leader {leader}", flush=True)

        # --- The move, while producing.
        acks_before = workload.acks()
        t0 = time.monotonic()
        proc = strata(b, "partition", "reassign", "--topic", MOVING, "--partition", "0", "--replicas", "2,3,4",
                      "--wait", "--wait-timeout-ms", "30000")
        moved_s = time.monotonic() - t0
        assert "1/1 partitions moved" in proc.stderr, proc.stderr
        leader, replicas, isr = state(n1, MOVING, 0)
        assert replicas == [2, 3, 4] and sorted(isr) == [2, 3, 4] and leader in (2, 3, 4), (leader, replicas, isr)
        assert not reassignments(b)
        wait_for(lambda: log_files(n1, MOVING, 0) is None, what="broker 1's log of moving-0 deleted")
        workload.wait_acks(500)
        print(f"  moved {{1,2,3}} -> {{2,3,4}} in {moved_s:.2f} s while producing "
              f"({workload.acks() - acks_before} acknowledgements meanwhile); leader now {leader}", flush=True)
        workload.pause()
        wait_for(lambda: replicas_identical(cluster.nodes + extra, MOVING, 0, [2, 3, 4], leader), timeout=15,
                 what="moving-0's segment files identical on brokers 2, 3, 4")
        files = log_files(node4, MOVING, 0)
        size = sum(os.path.getsize(os.path.join(node4.data_dir, f"{MOVING}-0", f)) for f in files)
        print(f"  broker 4's copy: {len(files)} segment file(s), {size} bytes, identical to leader {leader}'s",
              flush=True)
        workload.running.set()

        # --- Decommission broker 4, which leads spread-3.
        wait_in_sync(n1, SPREAD, 3, [4, 1, 2])
        # (Had broker 4 been fenced while stopped, leadership went elsewhere.)
        strata(b, "partition", "elect-leaders", "--topic", SPREAD, "--partition", "3")
        wait_for(lambda: state(n1, SPREAD, 3)[0] == 4, what="broker 4 leading spread-3")
        t0 = time.monotonic()
        proc = subprocess.Popen([STRATA, "-b", b, "broker", "decommission", "4", "--timeout-ms", "60000"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        progress = []
        for line in proc.stderr:
            progress.append(line.rstrip())
            if "stop it now" in line:
                break
        assert progress and "stop it now" in progress[-1], f"decommission: {progress}\n{proc.stdout.read()}"
        moved_s = time.monotonic() - t0
        for topic, partition in PARTITIONS:
            _, replicas, _ = state(n1, topic, partition)
            assert 4 not in replicas, (topic, partition, replicas)
            wait_for(lambda: log_files(node4, topic, partition) is None, what=f"{topic}-{partition} gone from 4")
        node4.stop()
        out, err = proc.communicate(timeout=30)
        progress += err.splitlines()
        assert proc.returncode == 0, f"decommission exit {proc.returncode}: {out}\n" + "\n".join(progress)
        assert "broker 4 unregistered" in progress[-1], progress
        assert 4 not in metadata(n1.port, MOVING)["brokers"]
        print(f"  decommissioned broker 4 in {moved_s:.2f} s (then stopped, unregistered); progress:", flush=True)
        for line in progress:
            print(f"    {line}", flush=True)
        for p in range(len(SPREAD_ASSIGNMENT)):
            leader, replicas, isr = state(n1, SPREAD, p)
            assert sorted(replicas) == [1, 2, 3] and leader in (1, 2, 3), (p, leader, replicas)

        # --- Broker 5 joins; rebalance onto it.
        node5 = broker_only_node(cluster, 5)
        extra.append(node5)
        node5.start()
        wait_for(lambda: 5 in metadata(n1.port, MOVING)["brokers"], what="broker 5 registered")
        before = {tp: state(n1, *tp)[1] for tp in PARTITIONS}
        dry = json.loads(strata(b, "-o", "json", "cluster", "rebalance", "--dry-run").stdout)
        planned = dry["plan"]["partitions"]
        assert planned and any(5 in m["replicas"] for m in planned), dry
        assert {tp: state(n1, *tp)[1] for tp in PARTITIONS} == before, "a dry run moved something"
        t0 = time.monotonic()
        proc = strata(b, "cluster", "rebalance", "--timeout-ms", "60000", timeout=90)
        rebalance_s = time.monotonic() - t0
        def spread_out():
            replicas_of, leaders_of = {}, {}
            for tp in PARTITIONS:
                leader, replicas, isr = state(n1, *tp)
                if sorted(isr) != sorted(replicas):
                    return None
                for r in replicas:
                    replicas_of[r] = replicas_of.get(r, 0) + 1
                leaders_of[leader] = leaders_of.get(leader, 0) + 1
            # 15 replicas and 5 leaders on four brokers.
            if (sorted(replicas_of) == [1, 2, 3, 5] and max(replicas_of.values()) - min(replicas_of.values()) <= 1
                    and leaders_of.get(5, 0) >= 1 and max(leaders_of.values()) <= 2):
                return replicas_of, leaders_of
            return None
        try:
            replicas_of, leaders_of = wait_for(spread_out, timeout=10, what="replicas and leaders spread out")
        except AssertionError:
            raise AssertionError(f"not balanced: {[(tp, state(n1, *tp)) for tp in PARTITIONS]}\n{proc.stderr}")
        print(f"  rebalanced onto broker 5 in {rebalance_s:.2f} s ({len(planned)} moves): replicas per broker "
              f"{dict(sorted(replicas_of.items()))}, leaders {dict(sorted(leaders_of.items()))}", flush=True)

        # --- Every record, every replica.
        workload.stop()
        assert not workload.errors, f"delivery errors: {workload.errors[:5]}"
        stored = read_back(b)
        missing = [v for v in workload.acked if v not in stored]
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:3]}"
        twice = {v: places for v, places in stored.items() if len(places) > 1}
        assert not twice, f"{len(twice)} records stored twice, e.g. {list(twice.items())[:3]}"
        wrong = [(v, a) for v, a in workload.acked.items() if stored[v][0] != a]
        assert not wrong, f"records away from their acknowledged offsets: {wrong[:3]}"
        nodes = cluster.nodes + extra
        for topic, partition in PARTITIONS:
            leader, replicas, _ = state(n1, topic, partition)
            wait_for(lambda: replicas_identical(nodes, topic, partition, replicas, leader), timeout=15,
                     what=f"{topic}-{partition}'s segment files identical on {replicas}")
        print(f"  {len(workload.acked)} records acknowledged, each stored once at its offset; every replica's "
              f"segment files identical to its leader's; {time.monotonic() - started:.1f} s in all", flush=True)
        ok = True
    finally:
        if workload and not workload.stopping.is_set():
            workload.stop()
        for node in extra:
            if node.proc and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGCONT)
            try:
                node.stop()
            except RuntimeError:
                pass
        cluster.stop()
        if not ok:
            for node in cluster.nodes + extra:
                print(f"--- node {node.node_id} log ({node.log_path}) ---\n{node.log()[-20000:]}", file=sys.stderr)


if __name__ == "__main__":
    run_tests([test_reassign_cancel_decommission_rebalance])
