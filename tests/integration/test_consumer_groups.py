#!/usr/bin/python3
"""Consumer groups with real clients against one stratad: confluent-kafka
(librdkafka), kafka-python and kcat -G share partitions, rebalance when
members join, leave, die or restart, commit offsets that survive SIGKILL,
and are described and listed by the admin clients."""

import os
import subprocess
import sys
import threading
import time

from harness import Broker, ensure_node_modules, run_tests, wait_for

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata
from kafka import TopicPartition as KTP

# Short sessions keep the eviction tests quick; Kafka's floor is 6 s.
FAST_GROUPS = {"STRATA_GROUP_MIN_SESSION_TIMEOUT_MS": "1000", "STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}


def create_topic(broker, name, partitions):
    client = AdminClient({"bootstrap.servers": broker.bootstrap})
    client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=15)


def produce(broker, topic, count, partitions, prefix="r"):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        producer.produce(topic, key=f"{prefix}{i}".encode(), value=f"{prefix}{i}".encode(), partition=i % partitions)
    assert producer.flush(30) == 0


class GroupMember(threading.Thread):
    """A confluent-kafka consumer in a thread: records every (partition,
    offset) it processes, commits synchronously every 50 records and when
    partitions are revoked, so that nothing is read twice or skipped."""

    def __init__(self, broker, topic, group, seen, lock, extra=None):
        super().__init__(daemon=True)
        # KIP-429: callbacks name only the partitions that move.
        self.incremental = (extra or {}).get("partition.assignment.strategy") == "cooperative-sticky"
        config = {"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
        config.update(extra or {})
        self.consumer = Consumer(config)
        self.topic = topic
        self.seen = seen
        self.lock = lock
        self.assignments = []
        self.assigned = set()
        self.stopping = threading.Event()
        self.errors = []
        self.uncommitted = 0

    def _commit(self, revoking=False):
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as e:
            code = e.args[0].code()
            # A periodic commit that races a rebalance fails as it would with
            # Kafka (the next one covers it); a commit of revoked partitions
            # must not, or their next owner reads records again.
            racing = code in (KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION)
            if code != KafkaError._NO_OFFSET and (revoking or not racing):
                self.errors.append(f"commit{' on revoke' if revoking else ''}: {e}")
        self.uncommitted = 0

    def on_assign(self, consumer, partitions):
        moved = {p.partition for p in partitions}
        self.assigned = self.assigned | moved if self.incremental else moved
        self.assignments.append(sorted(self.assigned))

    def on_revoke(self, consumer, partitions):
        self._commit(revoking=True)
        self.assigned = self.assigned - {p.partition for p in partitions} if self.incremental else set()

    def run(self):
        self.consumer.subscribe([self.topic], on_assign=self.on_assign, on_revoke=self.on_revoke)
        while not self.stopping.is_set():
            msg = self.consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    self.errors.append(str(msg.error()))
                continue
            with self.lock:
                self.seen.append((msg.partition(), msg.offset()))
            self.uncommitted += 1
            # librdkafka before 2.8 loses its assignment when a manual commit
            # races a cooperative rebalance (librdkafka#4059, with Kafka too),
            # so incremental members commit only when partitions are revoked.
            if self.uncommitted >= 50 and not self.incremental:
                self._commit()
        self.consumer.close()

    def stop(self):
        self.stopping.set()
        self.join(30)
        assert not self.is_alive(), "consumer did not close"


def test_three_consumers_share_six_partitions_exactly_once_while_members_come_and_go():
    three_members_come_and_go({})


def test_cooperative_sticky_rebalancing_also_reads_everything_exactly_once():
    three_members_come_and_go({"partition.assignment.strategy": "cooperative-sticky"})


def three_members_come_and_go(extra):
    total = 6000
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "shared", 6)
        seen, lock = [], threading.Lock()

        def slow_producer():
            producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
            for i in range(total):
                producer.produce("shared", value=str(i).encode(), partition=i % 6)
                if i % 200 == 199:
                    producer.flush(10)
                    time.sleep(0.1)
            assert producer.flush(30) == 0

        feeder = threading.Thread(target=slow_producer, daemon=True)
        feeder.start()
        members = [GroupMember(broker, "shared", "trio", seen, lock, extra)]
        members[0].start()
        wait_for(lambda: members[0].assigned == set(range(6)), 20, "the first member to own all partitions")
        for _ in range(2):
            time.sleep(0.7)
            m = GroupMember(broker, "shared", "trio", seen, lock, extra)
            m.start()
            members.append(m)
        wait_for(lambda: all(len(m.assigned) == 2 for m in members), 30, "three members with two partitions each")
        assert set().union(*(m.assigned for m in members)) == set(range(6))
        members[1].stop()  # leaves; the other two take over its partitions
        wait_for(lambda: sorted(len(m.assigned) for m in (members[0], members[2])) == [3, 3], 30,
                 "two members with three partitions each")
        feeder.join(60)
        wait_for(lambda: len(seen) >= total, 60, f"all {total} records (have {len(seen)})")
        time.sleep(1)  # anything read twice would show up now
        for m in (members[0], members[2]):
            m.stop()
        errors = [e for m in members for e in m.errors]
        assert not errors, errors
        assert len(seen) == total, f"{len(seen) - len(set(seen))} records read twice"
        expected = {(p, o) for p in range(6) for o in range(total // 6)}
        assert set(seen) == expected


def test_committed_offsets_survive_sigkill_and_a_restarted_consumer_resumes_from_them():
    broker = Broker(extra_env=FAST_GROUPS)
    try:
        broker.start().wait_ready()
        create_topic(broker, "durable", 3)
        produce(broker, "durable", 300, 3)
        # kafka-python commits with metadata; confluent reads it back.
        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="keeper", enable_auto_commit=False,
                                 auto_offset_reset="earliest", api_version_auto_timeout_ms=10000)
        consumer.assign([KTP("durable", p) for p in range(3)])
        consumer.commit({KTP("durable", p): OffsetAndMetadata(40 + p, f"meta-{p}") for p in range(3)})
        consumer.close()
        broker.kill()
        broker.start().wait_ready()

        def committed():
            c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="keeper", enable_auto_commit=False)
            try:
                return {p: c.committed(KTP("durable", p)) for p in range(3)}
            finally:
                c.close()
        wait_for(lambda: committed() == {0: 40, 1: 41, 2: 42}, 30, "the committed offsets after restart")
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        offsets = admin.list_consumer_group_offsets("keeper")
        admin.close()
        assert {tp.partition: (om.offset, om.metadata) for tp, om in offsets.items()} == \
            {p: (40 + p, f"meta-{p}") for p in range(3)}

        resumed = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "keeper",
                            "auto.offset.reset": "earliest", "enable.auto.commit": False})
        resumed.subscribe(["durable"])
        first = {}
        deadline = time.monotonic() + 30
        while len(first) < 3 and time.monotonic() < deadline:
            msg = resumed.poll(0.5)
            if msg is not None and not msg.error():
                first.setdefault(msg.partition(), msg.offset())
        resumed.close()
        assert first == {0: 40, 1: 41, 2: 42}, first
    finally:
        broker.stop()


CHILD_CONSUMER = r"""
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "session.timeout.ms": 3000,
              "heartbeat.interval.ms": 300, "auto.offset.reset": "earliest"})
def on_assign(consumer, partitions):
    print("assigned", sorted(p.partition for p in partitions), flush=True)
c.subscribe([sys.argv[3]], on_assign=on_assign)
while True:
    c.poll(0.2)
"""


def test_a_consumer_that_stops_heartbeating_is_evicted_and_its_partitions_move():
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "evict", 6)
        seen, lock = [], threading.Lock()
        survivor = GroupMember(broker, "evict", "evictees", seen, lock, {"session.timeout.ms": 3000})
        survivor.start()
        wait_for(lambda: survivor.assigned == set(range(6)), 20, "the survivor to own everything")
        child = subprocess.Popen([sys.executable, "-c", CHILD_CONSUMER, broker.bootstrap, "evictees", "evict"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            assert line.startswith("assigned"), line
            wait_for(lambda: len(survivor.assigned) == 3, 20, "the survivor to give up half")
            child.kill()  # no LeaveGroup: only the session timeout can notice
            child.wait()
            killed = time.monotonic()
            wait_for(lambda: survivor.assigned == set(range(6)), 20, "the survivor to get everything back")
            took = time.monotonic() - killed
            assert took >= 2.0, f"partitions moved after {took:.1f}s, before the 3 s session timeout"
        finally:
            child.kill()
            survivor.stop()
        assert not survivor.errors, survivor.errors


def test_a_static_member_restarting_within_its_session_keeps_its_partitions_without_rebalance():
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "static", 6)
        seen, lock = [], threading.Lock()
        static = {"session.timeout.ms": 10000}
        first = GroupMember(broker, "static", "statics", seen, lock, dict(static, **{"group.instance.id": "one"}))
        first.start()
        wait_for(lambda: first.assigned == set(range(6)), 20, "the first member to own everything")
        second = GroupMember(broker, "static", "statics", seen, lock, dict(static, **{"group.instance.id": "two"}))
        second.start()
        wait_for(lambda: len(first.assigned) == 3 and len(second.assigned) == 3, 20, "a 3/3 split")
        time.sleep(1)
        rebalances_before = len(first.assignments)
        owned_by_two = set(second.assigned)
        second.stop()  # a static member's close sends no LeaveGroup
        restarted = GroupMember(broker, "static", "statics", seen, lock, dict(static, **{"group.instance.id": "two"}))
        restarted.start()
        wait_for(lambda: restarted.assigned, 20, "the restarted member's assignment")
        assert restarted.assigned == owned_by_two, (restarted.assigned, owned_by_two)
        time.sleep(2)
        assert len(first.assignments) == rebalances_before, f"the other member rebalanced: {first.assignments}"
        assert len(first.assigned) == 3
        first.stop()
        restarted.stop()


def test_describe_and_list_groups_show_members_assignments_and_lag():
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "described", 4)
        produce(broker, "described", 400, 4)
        seen, lock = [], threading.Lock()
        member = GroupMember(broker, "described", "watched", seen, lock, {"client.id": "watcher"})
        member.start()
        wait_for(lambda: len(seen) >= 400, 30, "every record")
        member._commit_lock = None
        # Commit 75 of each partition's 100 records: a lag of 25 each.
        committer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="simple-committer",
                                  enable_auto_commit=False)
        committer.commit({KTP("described", p): OffsetAndMetadata(75, "") for p in range(4)})
        committer.close()

        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        groups = dict(admin.list_consumer_groups())
        assert groups.get("watched") == "consumer", groups
        assert "simple-committer" in groups, groups
        wait_for(lambda: admin.describe_consumer_groups(["watched"])[0].state == "Stable", 10, "a stable group")
        info = admin.describe_consumer_groups(["watched"])[0]
        assert info.protocol_type == "consumer" and info.protocol in ("range", "roundrobin"), info
        assert len(info.members) == 1
        m = info.members[0]
        assert m.client_id == "watcher" and m.client_host == "/127.0.0.1", m
        assigned = {(t, p) for t, ps in m.member_assignment.assignment for p in ps}
        assert assigned == {("described", p) for p in range(4)}, m.member_assignment

        offsets = admin.list_consumer_group_offsets("simple-committer")
        ends = KafkaConsumer(bootstrap_servers=broker.bootstrap).end_offsets(list(offsets))
        lag = {tp.partition: ends[tp] - om.offset for tp, om in offsets.items()}
        assert lag == {p: 25 for p in range(4)}, lag

        # confluent-kafka's AdminClient (ListGroups + DescribeGroups).
        listed = {g.id: g for g in AdminClient({"bootstrap.servers": broker.bootstrap}).list_groups(timeout=10)}
        assert listed["watched"].state == "Stable" and len(listed["watched"].members) == 1, listed["watched"]

        # A group with members cannot be deleted; an empty one can, offsets and all.
        results = dict(admin.delete_consumer_groups(["watched", "simple-committer", "never-was"]))
        assert results["watched"].errno == 68 and results["never-was"].errno == 69, results
        assert results["simple-committer"].errno == 0, results
        assert "simple-committer" not in dict(admin.list_consumer_groups())
        admin.close()
        member.stop()


def offset_delete(broker, group, topic, partitions):
    """OffsetDelete v0 (kafka-python has no class for it): the top-level
    error and {partition: error}."""
    import socket
    import struct

    def string(s):
        return struct.pack(">h", len(s)) + s.encode()
    body = string(group) + struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(partitions))
    body += b"".join(struct.pack(">i", p) for p in partitions)
    frame = struct.pack(">hhi", 47, 0, 7) + string("it") + body
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        data = sock.recv(size, socket.MSG_WAITALL)
    pos = 4  # correlation id
    error, _throttle, topics = struct.unpack_from(">hii", data, pos)
    pos += 10
    out = {}
    for _ in range(topics):
        n = struct.unpack_from(">h", data, pos)[0]
        pos += 2 + n
        count = struct.unpack_from(">i", data, pos)[0]
        pos += 4
        for _ in range(count):
            p, e = struct.unpack_from(">ih", data, pos)
            pos += 6
            out[p] = e
    return error, out


def test_offset_delete_removes_offsets_but_not_those_of_subscribed_topics():
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "od", 2)
        produce(broker, "od", 20, 2)
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="od-simple", enable_auto_commit=False)
        c.commit({KTP("od", p): OffsetAndMetadata(5, "") for p in range(2)})
        assert offset_delete(broker, "od-simple", "od", [0]) == (0, {0: 0})
        assert c.committed(KTP("od", 0)) is None and c.committed(KTP("od", 1)) == 5
        c.close()
        assert offset_delete(broker, "never-was", "od", [0])[0] == 69  # GROUP_ID_NOT_FOUND

        seen, lock = [], threading.Lock()
        member = GroupMember(broker, "od", "od-active", seen, lock)
        member.start()
        wait_for(lambda: len(seen) >= 20, 20, "the active group to read everything")
        assert offset_delete(broker, "od-active", "od", [0, 1]) == (0, {0: 86, 1: 86})  # GROUP_SUBSCRIBED_TO_TOPIC
        member.stop()


def find_coordinators_v4(broker, keys, key_type=0):
    """FindCoordinator v4 (batched keys, flexible encoding): [(key, node, port, error)]."""
    import socket
    import struct
    from harness import _Reader, _uvarint

    def compact(s):
        return _uvarint(len(s) + 1) + s.encode()
    body = struct.pack(">b", key_type) + _uvarint(len(keys) + 1) + b"".join(compact(k) for k in keys) + b"\x00"
    frame = struct.pack(">hhi", 10, 4, 9) + struct.pack(">h", 2) + b"it" + b"\x00" + body
    with socket.create_connection(("127.0.0.1", broker.port), timeout=15) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        r = _Reader(sock.recv(size, socket.MSG_WAITALL))
    r.take(">i")  # correlation id
    r.skip_tags()
    r.take(">i")  # throttle
    out = []
    for _ in range(r.uvarint() - 1):
        key = r.compact_string()
        node = r.take(">i")
        r.compact_string()  # host
        port = r.take(">i")
        error = r.take(">h")
        n = r.uvarint()
        r.pos += max(n - 1, 0)  # error message
        r.skip_tags()
        out.append((key, node, port, error))
    return out


def test_find_coordinator_batched_keys_and_bad_keys():
    with Broker(extra_env=FAST_GROUPS) as broker:
        deadline = time.monotonic() + 20
        while True:  # the first one creates __consumer_offsets
            found = find_coordinators_v4(broker, ["alpha", "beta"])
            if all(e == 0 for _, _, _, e in found) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found == [("alpha", 1, broker.port, 0), ("beta", 1, broker.port, 0)], found
        assert find_coordinators_v4(broker, [""])[0][3] == 42  # INVALID_REQUEST
        assert find_coordinators_v4(broker, ["x"], key_type=2)[0][3] == 42
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        md = admin.list_topics(timeout=10)
        assert len(md.topics["__consumer_offsets"].partitions) == 50


def test_offsets_expire_after_the_retention_and_stay_gone_after_a_restart():
    env = dict(FAST_GROUPS, STRATA_OFFSETS_RETENTION_MINUTES="1", STRATA_OFFSETS_RETENTION_CHECK_INTERVAL_MS="500")
    broker = Broker(extra_env=env)
    try:
        broker.start().wait_ready()
        create_topic(broker, "expiring", 1)
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="short-lived", enable_auto_commit=False)
        c.commit({KTP("expiring", 0): OffsetAndMetadata(3, "")})
        assert c.committed(KTP("expiring", 0)) == 3
        time.sleep(50)
        assert c.committed(KTP("expiring", 0)) == 3, "expired early"
        wait_for(lambda: c.committed(KTP("expiring", 0)) is None, 20, "the offset to expire")
        c.close()
        broker.stop()
        broker.start().wait_ready()
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="short-lived", enable_auto_commit=False)
        wait_for(lambda: c.committed(KTP("expiring", 0)) is None, 20, "the offset to stay gone")
        c.close()
    finally:
        broker.stop()


def test_kcat_balanced_consumer_and_kafka_python_group_consumer():
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "tools", 6)
        produce(broker, "tools", 600, 6)
        out = subprocess.run(["kcat", "-b", broker.bootstrap, "-G", "kcat-group", "-X", "auto.offset.reset=earliest",
                              "-e", "-f", "%p:%o\n", "tools"], capture_output=True, text=True, timeout=60)
        lines = [l for l in out.stdout.splitlines() if l]
        assert len(lines) == 600 and len(set(lines)) == 600, (len(lines), out.stderr[-2000:])
        # kcat committed on exit: the group reads nothing more.
        again = subprocess.run(["kcat", "-b", broker.bootstrap, "-G", "kcat-group", "-X",
                                "auto.offset.reset=earliest", "-e", "-f", "%p:%o\n", "tools"],
                               capture_output=True, text=True, timeout=60)
        assert [l for l in again.stdout.splitlines() if l] == [], again.stdout[:500]

        consumer = KafkaConsumer("tools", bootstrap_servers=broker.bootstrap, group_id="kp-group",
                                 auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000,
                                 session_timeout_ms=6000, heartbeat_interval_ms=500)
        got = [(r.partition, r.offset) for r in consumer]
        assert len(got) == 600 and len(set(got)) == 600, len(got)
        consumer.commit()
        consumer.close()
        committed = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id="kp-group")
        assert {p: committed.committed(KTP("tools", p)) for p in range(6)} == {p: 100 for p in range(6)}
        committed.close()


def test_kafkajs_consumers_share_a_topic_commit_and_describe_the_group():
    here = ensure_node_modules()  # under its lock: tests running beside this one install too
    with Broker(extra_env=FAST_GROUPS) as broker:
        create_topic(broker, "js", 6)
        produce(broker, "js", 600, 6)
        try:
            out = subprocess.run(["node", os.path.join(here, "js", "consumer_group.js"), broker.bootstrap, "js",
                                  "js-group", "600"], capture_output=True, text=True, timeout=120, cwd=here)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"KafkaJS did not finish: {(e.stdout or b'')[-6000:]} {(e.stderr or b'')[-3000:]}")
        assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-3000:]
        print(out.stderr[-3000:], file=sys.stderr)
        import json
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["seen"] == 600 and result["unique"] == 600, result
        assert result["state"] == "Stable" and result["members"] == 2, result
        assert sorted(result["committed"]) == [[p, 100] for p in range(6)], result
        assert "js-group" in result["listed"], result


def test_kip848_consumer_protocol_with_server_side_assignors():
    """@platformatic/kafka with groupProtocol "consumer": ConsumerGroupHeartbeat,
    the broker's uniform and range assignors, commits at the member epoch."""
    here = ensure_node_modules()  # under its lock: tests running beside this one install too
    import json
    env = dict(FAST_GROUPS, STRATA_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS="500")
    with Broker(extra_env=env) as broker:
        create_topic(broker, "kip848", 6)
        produce(broker, "kip848", 600, 6)
        for assignor in ("uniform", "range"):
            group = f"kip848-{assignor}"
            try:
                out = subprocess.run(["node", os.path.join(here, "js", "kip848_group.js"), broker.bootstrap, "kip848",
                                      group, "600", assignor], capture_output=True, text=True, timeout=120, cwd=here)
            except subprocess.TimeoutExpired as e:
                raise AssertionError(f"the KIP-848 consumers did not finish: {e.stderr}")
            assert out.returncode == 0, out.stderr[-4000:]
            result = json.loads(out.stdout.strip().splitlines()[-1])
            assert result["seen"] == 600 and result["unique"] == 600, result
            owned = sorted(p for member in result["assignments"] for (_, ps) in member for p in ps)
            assert owned == list(range(6)) and all(len(m[0][1]) == 3 for m in result["assignments"]), result
            admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
            assert (group, "consumer") in admin.list_consumer_groups()
            offsets = admin.list_consumer_group_offsets(group)
            admin.close()
            assert {tp.partition: om.offset for tp, om in offsets.items()} == {p: 100 for p in range(6)}, offsets


if __name__ == "__main__":
    run_tests([
        test_three_consumers_share_six_partitions_exactly_once_while_members_come_and_go,
        test_cooperative_sticky_rebalancing_also_reads_everything_exactly_once,
        test_committed_offsets_survive_sigkill_and_a_restarted_consumer_resumes_from_them,
        test_a_consumer_that_stops_heartbeating_is_evicted_and_its_partitions_move,
        test_a_static_member_restarting_within_its_session_keeps_its_partitions_without_rebalance,
        test_describe_and_list_groups_show_members_assignments_and_lag,
        test_offset_delete_removes_offsets_but_not_those_of_subscribed_topics,
        test_find_coordinator_batched_keys_and_bad_keys,
        test_offsets_expire_after_the_retention_and_stay_gone_after_a_restart,
        test_kcat_balanced_consumer_and_kafka_python_group_consumer,
        test_kafkajs_consumers_share_a_topic_commit_and_describe_the_group,
        test_kip848_consumer_protocol_with_server_side_assignors,
    ])
