#!/usr/bin/python3
"""Partition leader failover as a user sees it, with the default settings:
three combined stratad nodes (broker + controller) on loopback, an
idempotent confluent-kafka-python producer (acks=all, librdkafka's defaults
otherwise) streaming to one partition of replication factor 3 with
min.insync.replicas=2. Each round creates a topic whose preferred leader is
the round's victim, SIGKILLs the victim and measures the time from the kill
to the first acknowledgement of a record sent after it. Victims alternate
between the active controller (a controller election comes first) and
another node. The victim is restarted before the next round, and rounds are
spaced by librdkafka's reconnect.backoff.max.ms (10 s), so that no round
starts with the client still backing off from a broker it saw die earlier.

Every round checks that nothing acknowledged was lost: the acknowledged
records are read back at their offsets at the end.

  tests/bench/partition_failover.py [rounds=20] [mode=kill|term]   (STRATAD=path/to/stratad)

mode=term sends SIGTERM instead (controlled shutdown).
"""

import bisect
import os
import shutil
import signal
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from harness import Cluster  # noqa: E402
from test_alter_partition import metadata  # noqa: E402

TOPIC = "failover"
RECONNECT_BACKOFF_MAX_S = 10.0  # librdkafka's reconnect.backoff.max.ms default


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise RuntimeError(f"timed out waiting for {what}")


def partition_state(nodes, topic=TOPIC):
    for node in nodes:
        try:
            return metadata(node.port, topic)["partitions"][0]
        except Exception:  # noqa: BLE001 - a node that is down or not caught up
            continue
    return None


class Stream:
    """One producer thread sending records as fast as the acks come back;
    records every ack's time and offset."""

    def __init__(self, bootstrap):
        config = {"bootstrap.servers": bootstrap, "enable.idempotence": True,
                  "linger.ms": 1, "message.timeout.ms": 120000, "log_level": 0}
        if os.environ.get("FAILOVER_CLIENT_LOG"):
            # librdkafka's own account of the failover, for finding where the time goes.
            import logging
            logging.basicConfig(filename=os.environ["FAILOVER_CLIENT_LOG"], level=logging.DEBUG,
                                format="%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S")
            config.update({"debug": "broker,topic,metadata,eos,msg", "log_level": 7,
                           "logger": logging.getLogger("rdkafka")})
        self.producer = Producer(config)
        self.lock = threading.Lock()
        self.acked = {}
        self.ack_times = []
        self.errors = []
        self.stop = threading.Event()
        self.topic = TOPIC
        self.thread = threading.Thread(target=self.run)

    def report(self, err, msg):
        with self.lock:
            if err:
                self.errors.append(err)
            else:
                self.acked[msg.value()] = (msg.topic(), msg.offset())
                self.ack_times.append(time.monotonic())

    def run(self):
        i = 0
        while not self.stop.is_set():
            try:
                self.producer.produce(self.topic, value=f"v{i}".encode(), partition=0, on_delivery=self.report)
                i += 1
            except BufferError:
                pass
            self.producer.poll(0.001)
            if i % 20 == 0:
                time.sleep(0.002)
        self.producer.flush(120)

    def first_ack_after(self, t):
        with self.lock:
            i = bisect.bisect_right(self.ack_times, t)
            return self.ack_times[i] if i < len(self.ack_times) else None


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    mode = sys.argv[2] if len(sys.argv) > 2 else "kill"
    sig = signal.SIGKILL if mode == "kill" else signal.SIGTERM
    times, with_controller = [], []
    with Cluster(3) as cluster:
        cluster.wait_ready(timeout=30)
        bootstrap = ",".join(n.bootstrap for n in cluster.nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        wait_until(lambda: len(admin.list_topics(timeout=5).brokers) == 3, 30, "three brokers")
        stream = Stream(bootstrap)
        topics = []
        restarted_at = None
        for i in range(rounds):
            active, _, _ = cluster.wait_for_leader()
            others = [n.node_id for n in cluster.nodes if n.node_id != active]
            victim = active if i % 2 == 0 else others[(i // 2) % 2]
            topic = f"{TOPIC}-{i + 1}"
            assignment = [victim] + [n for n in (1, 2, 3) if n != victim]
            admin.create_topics([NewTopic(topic, num_partitions=1, replica_assignment=[assignment],
                                          config={"min.insync.replicas": "2"})])[topic].result(timeout=30)
            wait_until(lambda: (lambda s: s if s and s[0] == victim and sorted(s[3]) == [1, 2, 3] else None)(
                partition_state(cluster.nodes, topic)), 60, f"{topic} led by {victim} with a full ISR")
            topics.append(topic)
            stream.topic = topic
            if not stream.thread.is_alive():
                stream.thread.start()
            with stream.lock:
                before = len(stream.acked)
            wait_until(lambda: len(stream.acked) >= before + 500, 30, "500 acknowledged records")
            if restarted_at is not None:
                time.sleep(max(0.0, restarted_at + RECONNECT_BACKOFF_MAX_S - time.monotonic()))
            time.sleep(0.5)  # steady state
            active, _, _ = cluster.wait_for_leader()
            print(f"round {i + 1}: killing node {victim} at {time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}",
                  flush=True)
            cluster.node(victim).stop(sig)
            killed = time.monotonic()
            first = wait_until(lambda: stream.first_ack_after(killed), 60, "an acknowledgement after the kill")
            elapsed = (first - killed) * 1000
            times.append(elapsed)
            with_controller.append(victim == active)
            print(f"round {i + 1}: leader {victim}{' (also the active controller)' if victim == active else ''} "
                  f"{'SIGKILLed' if mode == 'kill' else 'SIGTERMed'}; first acks=all ack of a later record "
                  f"after {elapsed:.0f} ms", flush=True)
            cluster.node(victim).start()
            restarted_at = time.monotonic()
            wait_until(lambda: (lambda s: s if s and sorted(s[3]) == [1, 2, 3] else None)(
                partition_state(cluster.nodes, topic)), 60, f"node {victim} back in the ISR")
        stream.stop.set()
        stream.thread.join(180)
        errors = stream.errors
        # Nothing acknowledged is lost: every acked record sits at its offset.
        seen = {}
        for topic in topics:
            end = max((o for t, o in stream.acked.values() if t == topic), default=-1) + 1
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-check",
                                 "enable.auto.commit": False})
            consumer.assign([TopicPartition(topic, 0, 0)])
            count = 0
            deadline = time.monotonic() + 120
            while count < end and time.monotonic() < deadline:
                for m in consumer.consume(1000, 1.0):
                    if not m.error():
                        seen[(topic, m.offset())] = m.value()
                        count += 1
            consumer.close()
        lost = [(v, to) for v, to in stream.acked.items() if seen.get(to) != v]
        if os.environ.get("FAILOVER_CLIENT_LOG"):
            for node in cluster.nodes:
                shutil.copy(node.log_path, f"{os.environ['FAILOVER_CLIENT_LOG']}.node{node.node_id}")
    print()
    print(f"partition leader failover ({mode}), {rounds} rounds, default settings: "
          f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms")
    ctl = [t for t, c in zip(times, with_controller) if c]
    other = [t for t, c in zip(times, with_controller) if not c]
    if ctl:
        print(f"  leader was also the active controller: {len(ctl)} rounds, median {statistics.median(ctl):.0f} ms, "
              f"max {max(ctl):.0f} ms")
    if other:
        print(f"  leader was not the controller: {len(other)} rounds, median {statistics.median(other):.0f} ms, "
              f"max {max(other):.0f} ms")
    print(f"  {len(stream.acked)} records acknowledged, {len(lost)} lost or moved, {len(errors)} delivery errors")
    if lost or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
