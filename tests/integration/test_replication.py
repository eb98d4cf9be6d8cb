#!/usr/bin/python3
"""Partition replication between brokers (Kafka's ISR model) on a three-node
cluster, with librdkafka (confluent-kafka) as the client and a topic of
replication factor 3 with min.insync.replicas=2:

- acks=all produces are acknowledged and consumed back, and every replica's
  segment files end up byte for byte the leader's (followers store the
  leader's batches as they are, offsets and epochs included);
- SIGKILL of the leader in the middle of an acks=all stream: a new leader is
  elected, the producer carries on, and every acknowledged record is
  consumed at exactly the offset it was acknowledged at (nothing lost, no
  offset reused); the failover time is printed; the killed node, restarted,
  follows the new leader, truncates what it had that the new leader does not,
  catches up and rejoins the ISR;
- ISR shrink and expansion: a SIGSTOPped follower leaves the ISR after
  replica.lag.time.max.ms (while still registered: the leader's doing, not
  the controller's fencing) and acks=all carries on with two; SIGCONT brings
  it back; with both followers stopped acks=all fails while acks=1 works.
"""

import glob
import os
import signal
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from harness import Cluster, run_tests, registered_brokers
from test_alter_partition import metadata, wait_for

SESSION_TIMEOUT_MS = 3000
LAG_TIME_MAX_MS = 2000
BASE_ENV = {
    "STRATA_BROKER_HEARTBEAT_INTERVAL_MS": "500",
    "STRATA_REPLICA_LAG_TIME_MAX_MS": str(LAG_TIME_MAX_MS),
    "STRATA_MIN_INSYNC_REPLICAS": "2",
    "STRATA_DEFAULT_REPLICATION_FACTOR": "3",
    "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
    "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
}
TOPIC = "replicated"


def cluster_env(session_timeout_ms=SESSION_TIMEOUT_MS):
    env = dict(BASE_ENV)
    env["STRATA_BROKER_SESSION_TIMEOUT_MS"] = str(session_timeout_ms)
    return env


def bootstrap(nodes):
    return ",".join(n.bootstrap for n in nodes)


def create_topic(cluster, name=TOPIC):
    admin = AdminClient({"bootstrap.servers": bootstrap(cluster.nodes)})
    wait_for(lambda: registered_brokers(admin) == 3, what="three registered brokers")
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=3,
                                  config={"min.insync.replicas": "2"})])[name].result(timeout=20)
    return wait_for(lambda: partition_state(cluster.nodes[0], name), what="the topic in Metadata")


def partition_state(node, name=TOPIC):
    """(leader, leader epoch, replicas, isr) of partition 0 as `node` sees it."""
    try:
        md = metadata(node.port, name)
    except (OSError, ConnectionError, AssertionError):
        return None
    return md["partitions"].get(0)


def wait_isr(node, predicate, timeout=20.0, what="ISR"):
    return wait_for(lambda: (lambda s: s if s and predicate(sorted(s[3])) else None)(partition_state(node)),
                    timeout=timeout, what=what)


def producer(nodes, acks="all", **extra):
    config = {"bootstrap.servers": bootstrap(nodes), "acks": acks, "linger.ms": 2,
              "retry.backoff.ms": 50, "topic.metadata.refresh.interval.ms": 1000}
    config.update(extra)
    return Producer(config)


def produce_all(p, records):
    """Produces (key, value) pairs and waits; returns {value: offset} of the
    acknowledged ones and the list of errors."""
    acked, errors = {}, []

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            acked[msg.value()] = msg.offset()

    for key, value in records:
        p.produce(TOPIC, key=key, value=value, partition=0, on_delivery=report)
        p.poll(0)
    p.flush(60)
    return acked, errors


def consume_all(nodes, end_offset, timeout=30.0):
    """{offset: (key, value)} of partition 0 from offset 0 up to end_offset."""
    c = Consumer({"bootstrap.servers": bootstrap(nodes), "group.id": "replication-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "topic.metadata.refresh.interval.ms": 1000})
    c.assign([TopicPartition(TOPIC, 0, 0)])
    out = {}
    deadline = time.monotonic() + timeout
    try:
        while len(out) < end_offset and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            out[msg.offset()] = (msg.key(), msg.value())
    finally:
        c.close()
    return out


def segment_bytes(node, name=TOPIC):
    """The concatenated .log segments of partition 0 on `node`."""
    files = sorted(glob.glob(os.path.join(node.data_dir, f"{name}-0", "*.log")))
    data = b""
    for f in files:
        with open(f, "rb") as fh:
            data += fh.read()
    return data


def wait_identical_replicas(nodes, timeout=20.0):
    def same():
        logs = [segment_bytes(n) for n in nodes]
        return logs[0] and all(log == logs[0] for log in logs)
    wait_for(same, timeout=timeout, what="identical segment files on " + ",".join(str(n.node_id) for n in nodes))


def test_acks_all_replicates_to_every_replica():
    with Cluster(3, extra_env=cluster_env()) as cluster:
        leader, epoch, replicas, isr = create_topic(cluster)
        assert sorted(replicas) == [1, 2, 3] and sorted(isr) == [1, 2, 3], (replicas, isr)
        records = [(f"key-{i % 50}".encode(), f"value-{i}".encode()) for i in range(3000)]
        acked, errors = produce_all(producer(cluster.nodes), records)
        assert not errors, errors[:5]
        assert len(acked) == len(records)
        assert sorted(acked.values()) == list(range(len(records)))
        consumed = consume_all(cluster.nodes, len(records))
        assert len(consumed) == len(records), len(consumed)
        for value, offset in acked.items():
            assert consumed[offset][1] == value, (offset, consumed[offset], value)
        # A group member's committed offset goes to __consumer_offsets, itself
        # replicated three ways (acks=all on the coordinator's partition).
        member = Consumer({"bootstrap.servers": bootstrap(cluster.nodes), "group.id": "replicated-group",
                           "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        try:
            member.subscribe([TOPIC])
            seen = 0
            deadline = time.monotonic() + 30
            while seen < len(records) and time.monotonic() < deadline:
                msg = member.poll(0.5)
                if msg is not None and not msg.error():
                    seen += 1
            assert seen == len(records), seen
            member.commit(asynchronous=False)
            committed = member.committed([TopicPartition(TOPIC, 0)], timeout=10)
            assert committed[0].offset == len(records), committed
        finally:
            member.close()
        # The followers' logs are the leader's, byte for byte.
        wait_identical_replicas(cluster.nodes)
        # Consumers are served by the leader only (no KIP-392).
        assert sorted(partition_state(cluster.nodes[0])[3]) == [1, 2, 3]


def test_leader_sigkill_during_acks_all_stream():
    with Cluster(3, extra_env=cluster_env()) as cluster:
        leader, epoch, _, _ = create_topic(cluster)
        survivors = [n for n in cluster.nodes if n.node_id != leader]
        # Metadata every 200 ms: the producer learns of the new leader soon
        # after the controller elects it (librdkafka's own discovery delay
        # would otherwise dominate the failover time).
        p = producer(cluster.nodes, **{"message.timeout.ms": 60000, "request.timeout.ms": 5000,
                                       "topic.metadata.refresh.interval.ms": 200})
        acked, errors, lock = {}, [], threading.Lock()
        ack_times = []

        def report(err, msg):
            with lock:
                if err:
                    errors.append(err)
                else:
                    acked[msg.value()] = msg.offset()
                    ack_times.append(time.monotonic())

        stop = threading.Event()
        sent = [0]

        def stream():
            i = 0
            while not stop.is_set():
                try:
                    p.produce(TOPIC, key=f"k{i % 17}".encode(), value=f"v{i}".encode(), partition=0,
                              on_delivery=report)
                    i += 1
                except BufferError:
                    pass
                p.poll(0.001)
                if i % 20 == 0:
                    time.sleep(0.002)
            sent[0] = i
            p.flush(90)

        thread = threading.Thread(target=stream)
        thread.start()
        wait_for(lambda: len(acked) >= 2000, timeout=30, what="2000 acknowledged records before the kill")
        active, _, _ = cluster.wait_for_leader()
        killed = cluster.node(leader)
        killed.kill()
        killed_at = time.monotonic()
        new_state = wait_for(lambda: (lambda s: s if s and s[0] not in (leader, -1) else None)(
            partition_state(survivors[0])), timeout=SESSION_TIMEOUT_MS / 1000 + 15, what="a new leader")
        elected_at = time.monotonic()

        def first_ack_after_kill():
            with lock:
                return next((t for t in ack_times if t > killed_at), None)
        first = wait_for(first_ack_after_kill, timeout=30, what="an acknowledgement from the new leader")
        print(f"leader {leader} SIGKILLed (active controller: {active}); leader {new_state[0]} at epoch {new_state[1]} seen after "
              f"{(elected_at - killed_at) * 1000:.0f} ms; first acks=all produce acknowledged after "
              f"{(first - killed_at) * 1000:.0f} ms (broker.session.timeout.ms={SESSION_TIMEOUT_MS})", flush=True)
        # Fencing takes the session timeout (plus a controller election if the
        # killed node was the active controller); the rest should be quick.
        assert first - killed_at < SESSION_TIMEOUT_MS / 1000 + 3, first - killed_at
        with lock:
            before = len(acked)
        wait_for(lambda: len(acked) >= before + 1000, timeout=30, what="1000 more acknowledgements")
        stop.set()
        thread.join(120)
        assert not errors, errors[:5]

        # Every acknowledged record is at its offset, and no offset holds two.
        end = max(acked.values()) + 1
        consumed = consume_all(survivors, end, timeout=60)
        missing = [(v, o) for v, o in acked.items() if consumed.get(o, (None, None))[1] != v]
        assert not missing, f"{len(missing)} acknowledged records not at their offsets, e.g. {missing[:5]}"
        assert len(set(acked.values())) == len(acked), "two acknowledged records share an offset"

        # The killed node comes back as a follower, truncates, catches up and
        # rejoins the ISR.
        killed.start()
        wait_isr(survivors[0], lambda isr: isr == [1, 2, 3], timeout=30, what="the restarted node back in the ISR")
        wait_identical_replicas(cluster.nodes, timeout=30)
        print(f"node {leader} restarted, caught up and back in the ISR", flush=True)


def test_returning_leader_truncates_divergent_records():
    """The leader takes acks=1 records its followers (stopped) never fetch,
    then dies; a follower becomes leader at the next epoch and takes other
    records at the same offsets. The old leader, restarted, learns of the
    divergence from its first fetch (DivergingEpoch), truncates its own
    records and ends with the new leader's log."""
    with Cluster(3, extra_env=cluster_env()) as cluster:
        leader, epoch, _, _ = create_topic(cluster)
        acked, errors = produce_all(producer(cluster.nodes), [(b"k", f"common-{i}".encode()) for i in range(100)])
        assert not errors and len(acked) == 100, errors[:5]
        wait_identical_replicas(cluster.nodes)
        old = cluster.node(leader)
        followers = [n for n in cluster.nodes if n is not old]
        for n in followers:
            n.pause()
        # The followers' fetches parked at the leader are answered (empty)
        # within replica.fetch.wait.max.ms into their sockets: what the leader
        # takes after that reaches no follower.
        time.sleep(1.0)
        try:
            lonely, errors = produce_all(producer([old], acks="1"), [(b"k", f"lost-{i}".encode()) for i in range(50)])
            assert not errors and sorted(lonely.values()) == list(range(100, 150)), (errors[:5], lonely)
        finally:
            old.kill()
            for n in followers:
                n.proc.send_signal(signal.SIGCONT)
        state = wait_for(lambda: (lambda s: s if s and s[0] not in (leader, -1) else None)(
            partition_state(followers[0])), timeout=SESSION_TIMEOUT_MS / 1000 + 20, what="a new leader")
        assert state[1] > epoch, state
        acked, errors = produce_all(producer(followers), [(b"k", f"new-{i}".encode()) for i in range(80)])
        assert not errors and sorted(acked.values()) == list(range(100, 180)), (errors[:5], acked)

        old.start()
        wait_isr(followers[0], lambda isr: isr == [1, 2, 3], timeout=30, what="the old leader back in the ISR")
        wait_identical_replicas(cluster.nodes, timeout=30)
        assert "truncated from 150 to 100" in old.log(), "no truncation logged"
        consumed = consume_all(followers, 180)
        assert [consumed[o][1] for o in range(100, 180)] == [f"new-{i}".encode() for i in range(80)]


def test_restarted_leader_waits_for_its_registration():
    """A leader killed and restarted while the quorum cannot hear it (the two
    other nodes stopped) replays its own metadata log, which still names it
    the leader at its old epoch. It must not lead on that stale image: after
    an unclean stop its log may lack a tail the ISR has, and what it took at
    the old epoch at those offsets would differ from theirs with nothing to
    tell them apart (found by the chaos suite, seed 523: a restarted leader
    with a truncated segment refused an idempotent producer's next sequence,
    a fatal error for the client). It answers NOT_LEADER_OR_FOLLOWER until it
    has registered again; once the others return the partition is led again
    and every acknowledged record is read back once, in order."""
    # A metadata snapshot after every commit: the restarted node's image
    # comes from its latest snapshot at once (log records past it wait for
    # the quorum's high watermark), as on any cluster that has run a while.
    env = dict(cluster_env(), STRATA_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS="1")
    with Cluster(3, extra_env=env) as cluster:
        leader, epoch, _, _ = create_topic(cluster)
        before = [f"before-{i}".encode() for i in range(100)]
        acked, errors = produce_all(producer(cluster.nodes), [(b"k", v) for v in before])
        assert not errors and len(acked) == 100, errors[:5]
        wait_identical_replicas(cluster.nodes)
        old = cluster.node(leader)
        others = [n for n in cluster.nodes if n is not old]
        wait_for(lambda: glob.glob(os.path.join(old.data_dir, "__cluster_metadata-0", "*.checkpoint")), timeout=10,
                 what="a metadata snapshot on the leader")
        time.sleep(1.0)  # one taken after the topic's last change
        old.kill()
        for n in others:
            n.pause()
        try:
            old.start()
            stale, errors = produce_all(producer([old], acks="1", **{"message.timeout.ms": 3000}),
                                        [(b"k", b"stale-epoch")])
            assert not stale and errors, f"the restarted node led on its replayed image: acknowledged {stale}"
            assert "leader at epoch" not in old.log().split("starting: node")[-1], "it logged a leadership"
        finally:
            for n in others:
                n.resume()
        after = [f"after-{i}".encode() for i in range(50)]
        acked, errors = produce_all(producer(cluster.nodes, **{"message.timeout.ms": 60000}),
                                    [(b"k", v) for v in after])
        assert not errors and len(acked) == 50, errors[:5]
        wait_isr(others[0], lambda isr: isr == [1, 2, 3], timeout=30, what="the restarted node back in the ISR")
        wait_identical_replicas(cluster.nodes, timeout=30)
        consumed = consume_all(cluster.nodes, 150)
        assert [consumed[o][1] for o in sorted(consumed)] == before + after, sorted(consumed)[:5]


def set_min_isr(admin, value):
    resource = ConfigResource("topic", TOPIC, set_config={"min.insync.replicas": value})
    admin.alter_configs([resource])[resource].result(timeout=20)
    time.sleep(0.5)  # the ConfigRecord reaches the leader's partition through its image


def test_isr_shrinks_and_expands():
    # A session timeout far above replica.lag.time.max.ms: the stopped
    # follower leaves the ISR by the leader's lag check, not by fencing.
    with Cluster(3, extra_env=cluster_env(session_timeout_ms=30000)) as cluster:
        leader, epoch, _, _ = create_topic(cluster)
        active, _, _ = cluster.wait_for_leader()
        followers = [n for n in cluster.nodes if n.node_id != leader]
        # Stop the follower that is not the active controller, if one is.
        lagging = next((n for n in followers if n.node_id != active), followers[0])
        running = [n for n in cluster.nodes if n is not lagging]
        p = producer(running, **{"message.timeout.ms": 30000})
        acked, errors = produce_all(p, [(b"k", b"before")])
        assert not errors and len(acked) == 1, errors

        lagging.pause()
        stopped_at = time.monotonic()
        # acks=all waits for the ISR: it is answered once the leader has
        # dropped the stopped follower.
        acked, errors = produce_all(p, [(b"k", f"during-{i}".encode()) for i in range(50)])
        assert not errors and len(acked) == 50, errors[:5]
        # The shrink takes replica.lag.time.max.ms (2 s) and an AlterPartition
        # round trip; the deadline leaves room for a loaded machine.
        state = wait_isr(running[0], lambda isr: lagging.node_id not in isr and len(isr) == 2, timeout=30,
                         what="the stopped follower out of the ISR")
        shrunk_after = time.monotonic() - stopped_at
        print(f"ISR {sorted(state[3])} {shrunk_after:.1f}s after SIGSTOP of {lagging.node_id} "
              f"(replica.lag.time.max.ms={LAG_TIME_MAX_MS})", flush=True)
        assert lagging.node_id in metadata(running[0].port, TOPIC)["brokers"], "fenced rather than shrunk"
        assert "have not caught up within replica.lag.time.max.ms" in cluster.node(leader).log()
        acked, errors = produce_all(p, [(b"k", b"with-two")])
        assert not errors and len(acked) == 1, errors

        # An ISR of two under min.insync.replicas=3: acks=all is refused
        # before the append, acks=1 is not.
        admin = AdminClient({"bootstrap.servers": bootstrap(running)})
        set_min_isr(admin, "3")
        impatient = producer(running, **{"retries": 0, "message.timeout.ms": 10000})
        acked, errors = produce_all(impatient, [(b"k", b"needs-three")])
        assert not acked and [e.code() for e in errors] == [KafkaError.NOT_ENOUGH_REPLICAS], errors
        acked, errors = produce_all(producer(running, acks="1"), [(b"k", b"one-is-enough")])
        assert not errors and len(acked) == 1, errors
        set_min_isr(admin, "2")

        lagging.proc.send_signal(signal.SIGCONT)
        wait_isr(running[0], lambda isr: isr == [1, 2, 3], timeout=20, what="the follower back in the ISR")

        # Both followers stopped: acks=all cannot be acknowledged (the ISR
        # cannot shrink below min.insync.replicas' worth of acknowledgements
        # without them: NOT_ENOUGH_REPLICAS, or a timeout while the
        # controller quorum is gone too); acks=1 still is.
        for n in followers:
            n.pause()
        try:
            leader_node = cluster.node(leader)
            strict = producer([leader_node], **{"message.timeout.ms": 6000, "retries": 1000})
            acked, errors = produce_all(strict, [(b"k", b"needs-two")])
            assert not acked and errors, (acked, errors)
            print(f"acks=all with both followers stopped: {errors[0].name()}", flush=True)
            assert errors[0].code() in (KafkaError.NOT_ENOUGH_REPLICAS, KafkaError._MSG_TIMED_OUT,
                                        KafkaError.REQUEST_TIMED_OUT), errors[0]
            relaxed = producer([leader_node], acks="1", **{"message.timeout.ms": 10000})
            acked, errors = produce_all(relaxed, [(b"k", b"leader-only")])
            assert not errors and len(acked) == 1, errors
        finally:
            for n in followers:
                n.proc.send_signal(signal.SIGCONT)


if __name__ == "__main__":
    run_tests([test_acks_all_replicates_to_every_replica, test_leader_sigkill_during_acks_all_stream,
               test_returning_leader_truncates_divergent_records, test_isr_shrinks_and_expands,
               test_restarted_leader_waits_for_its_registration])
