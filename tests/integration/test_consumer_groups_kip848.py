#!/usr/bin/python3
"""KIP-848 groups survive a broker crash: @platformatic/kafka consumers with
group.protocol=consumer are in a group, stratad is SIGKILLed and restarted,
and the group comes back from its ConsumerGroup* records in
__consumer_offsets (key versions 3 to 8) with the same group epoch, members,
member epochs and assignments; the consumers carry on without being fenced
and without reading a committed record again. When they leave, their
records are tombstoned and the group stays Empty across a restart; after
DeleteGroups a restart finds no group.

Regex subscriptions (ConsumerGroupHeartbeat v1, Kafka 4.0): a librdkafka 2.12
consumer (tests/compat/build.sh builds it; confluent-kafka-python drives it)
subscribed to `^rx-.*` gets exactly the matching topics' partitions, then
those of a matching topic created later and no longer those of a deleted
one; the pattern survives a SIGKILL in its ConsumerGroupMemberMetadataValue;
an invalid pattern is refused with INVALID_REGULAR_EXPRESSION."""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

from harness import Broker, _Reader, _recv_exactly, _uvarint, ensure_node_modules, run_tests, wait_for

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KTP

HERE = os.path.dirname(os.path.abspath(__file__))
ENV = {"STRATA_GROUP_MIN_SESSION_TIMEOUT_MS": "1000", "STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
       "STRATA_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS": "500"}
TOPIC, GROUP, PARTITIONS = "k848-durable", "k848-durable-group", 4


def produce(broker, count, first):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(first, first + count):
        producer.produce(TOPIC, value=f"r{i}".encode(), partition=i % PARTITIONS)
    assert producer.flush(30) == 0


def describe(broker, group=GROUP):
    """ConsumerGroupDescribe v0 (api key 69), encoded by hand: no Python
    client has it. Returns (error code, {state, epoch, assignment_epoch,
    members: {member id: (member epoch, sorted partitions, sorted target)}})."""
    client_id = b"strata-it"
    header = struct.pack(">hhih", 69, 0, 7, len(client_id)) + client_id + b"\x00"
    name = group.encode()
    body = _uvarint(2) + _uvarint(len(name) + 1) + name + b"\x00" + b"\x00"
    payload = header + body
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        frame = _recv_exactly(sock, struct.unpack(">i", _recv_exactly(sock, 4))[0])
    r = _Reader(frame)
    r.take(">i")
    r.skip_tags()
    r.take(">i")  # throttle

    def nullable_string():
        n = r.uvarint()
        if n == 0:
            return None
        text = r.data[r.pos:r.pos + n - 1].decode()
        r.pos += n - 1
        return text

    def assignment():
        partitions = []
        for _ in range(r.uvarint() - 1):
            r.pos += 16  # topic id
            r.compact_string()
            partitions += [r.take(">i") for _ in range(r.uvarint() - 1)]
            r.skip_tags()
        r.skip_tags()
        return sorted(partitions)

    assert r.uvarint() - 1 == 1
    error = r.take(">h")
    nullable_string()
    r.compact_string()
    out = {"state": r.compact_string(), "epoch": r.take(">i"), "assignment_epoch": r.take(">i")}
    r.compact_string()  # assignor
    members, regexes = {}, {}
    for _ in range(r.uvarint() - 1):
        member_id = r.compact_string()
        nullable_string(), nullable_string()
        epoch = r.take(">i")
        r.compact_string(), r.compact_string()
        for _ in range(r.uvarint() - 1):
            r.compact_string()
        regexes[member_id] = nullable_string()
        members[member_id] = (epoch, assignment(), assignment())
        r.skip_tags()
    out["members"] = members
    out["regexes"] = regexes
    return error, out


def describe_when_loaded(broker, timeout=30, group=GROUP):
    """Describes the group once its partition of __consumer_offsets is loaded
    (COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            error, described = describe(broker, group)
            if error not in (14, 15, 16):
                return error, described
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the group's coordinator did not load")
        time.sleep(0.1)


def group_records(broker):
    """Every record of __consumer_offsets about GROUP, read raw: a list of
    (key version, member id or None, has value), in log order."""
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                             api_version_auto_timeout_ms=10000)
    try:
        partitions = [KTP("__consumer_offsets", p) for p in consumer.partitions_for_topic("__consumer_offsets")]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        end = consumer.end_offsets(partitions)
        out = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, "could not read __consumer_offsets to its end"
            for records in consumer.poll(500).values():
                for rec in records:
                    version, length = struct.unpack_from(">hh", rec.key, 0)
                    if rec.key[4:4 + length].decode() != GROUP:
                        continue
                    member = None
                    if version in (5, 7, 8):  # keys (GroupId, MemberId)
                        n = struct.unpack_from(">h", rec.key, 4 + length)[0]
                        member = rec.key[6 + length:6 + length + n].decode()
                    out.append((version, member, rec.value is not None))
        return out
    finally:
        consumer.close()


class Members:
    """The node process with the two consumers, and what it printed."""

    def __init__(self, broker):
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "js", "kip848_member.js"), broker.bootstrap, TOPIC,
                                      GROUP], cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lock = threading.Lock()
        self.records, self.assigned, self.closed = [], {}, False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            with self.lock:
                if "record" in event:
                    self.records.append(tuple(event["record"][1:]))
                elif "assigned" in event:
                    consumer, member_id, partitions = event["assigned"]
                    self.assigned.setdefault(consumer, []).append((member_id, partitions))
                elif "closed" in event:
                    self.closed = True

    def seen(self):
        with self.lock:
            return list(self.records)

    def current(self):
        """{member id: partitions} as the consumers last reported."""
        with self.lock:
            return {history[-1][0]: history[-1][1] for history in self.assigned.values()}

    def assignments(self):
        with self.lock:
            return {c: list(history) for c, history in self.assigned.items()}

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the consumers did not close")
        self.reader.join(10)
        return self.proc.stderr.read()


def committed(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        return {tp.partition: om.offset for tp, om in admin.list_consumer_group_offsets(GROUP).items()}
    finally:
        admin.close()


def listed(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        return admin.list_consumer_groups()
    finally:
        admin.close()


def test_a_kip848_group_survives_sigkill_with_its_epochs_and_assignments():
    ensure_node_modules()  # under its lock: tests running beside this one install too
    broker = Broker(extra_env=ENV)
    members = None
    ok = False
    try:
        broker.start().wait_ready()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(timeout=15)
        produce(broker, 200, 0)
        members = Members(broker)
        wait_for(lambda: len(members.seen()) >= 200, 60, "the first 200 records")
        wait_for(lambda: committed(broker) == {p: 50 for p in range(PARTITIONS)}, 30, "the commits of 200 records")

        def stable():
            error, group = describe(broker, GROUP)
            return error == 0 and group["state"] == "Stable" and len(group["members"]) == 2
        wait_for(stable, 30, "a Stable group of two")
        error, before = describe(broker, GROUP)
        assert sorted(p for m in before["members"].values() for p in m[1]) == list(range(PARTITIONS)), before
        # The clients apply an assignment a moment after the broker sent it.
        described = {member_id: m[1] for member_id, m in before["members"].items()}
        wait_for(lambda: members.current() == described, 30, "the clients to hold what the broker assigned")
        assignments_before = members.assignments()
        written = {version for version, _, has_value in group_records(broker) if has_value}
        assert written >= {3, 4, 5, 6, 7, 8}, f"ConsumerGroup* records written: {sorted(written)}"

        broker.kill()
        broker.start().wait_ready()
        # As loaded, before any member heartbeats again.
        error, loaded = describe_when_loaded(broker)
        assert error == 0, error
        assert loaded == before, (loaded, before)
        assert (GROUP, "consumer") in listed(broker)

        # The members carry on: new records are read once, committed ones not
        # again, and nobody is fenced back to epoch 0.
        produce(broker, 40, 200)
        wait_for(lambda: len(members.seen()) >= 240, 60, "the 40 records produced after the restart")
        wait_for(lambda: committed(broker) == {p: 60 for p in range(PARTITIONS)}, 30, "the commits after restart")
        seen = members.seen()
        assert len(seen) == len(set(seen)), f"{len(seen) - len(set(seen))} records read twice"
        assert set(seen) == {(p, o) for p in range(PARTITIONS) for o in range(60)}
        error, after = describe(broker, GROUP)
        assert error == 0 and after == before, (after, before)
        assert members.assignments() == assignments_before, (members.assignments(), assignments_before)

        # Leaving: the members' records are tombstoned; the group stays, Empty
        # at a new epoch (its offsets stay), as in Kafka, and so after a restart.
        members.close()
        members = None

        def empty():
            error, group = describe(broker, GROUP)
            return error == 0 and group["state"] == "Empty" and not group["members"]
        wait_for(empty, 30, "an Empty group once the members left")
        _, left = describe(broker, GROUP)
        assert left["epoch"] > before["epoch"], (left, before)
        broker.kill()
        broker.start().wait_ready()
        error, reloaded = describe_when_loaded(broker)
        assert (error, reloaded) == (0, left), (error, reloaded, left)
        last = {}
        for version, member, has_value in group_records(broker):
            last[(version, member)] = has_value
        for member in before["members"]:
            for version in (5, 7, 8):
                assert last.get((version, member)) is False, f"record {version} of {member} is not tombstoned"
        assert last.get((3, None)) is True

        # DeleteGroups forgets it, its records too: gone after a restart.
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
        try:
            assert [(g, e.errno) for g, e in admin.delete_consumer_groups([GROUP])] == [(GROUP, 0)]
        finally:
            admin.close()
        assert describe(broker, GROUP)[0] == 69
        broker.kill()
        broker.start().wait_ready()
        error, _ = describe_when_loaded(broker)
        assert error == 69, f"GROUP_ID_NOT_FOUND expected after DeleteGroups, got {error}"
        last = {}
        for version, member, has_value in group_records(broker):
            last[(version, member)] = has_value
        assert last.get((3, None)) is False and last.get((4, None)) is False and last.get((6, None)) is False, last
        ok = True
    finally:
        if members:
            members.proc.kill()
        broker.stop()
        if not ok:
            print(f"--- stratad log ({broker.log_path}) ---\n{broker.log()[-20000:]}", file=sys.stderr)


# ---- regex subscriptions ---------------------------------------------------------------

REGEX_GROUP = "k848-regex-group"


def librdkafka_212():
    """The folder of librdkafka 2.12's librdkafka.so.1, built (once, cached) by
    tests/compat/build.sh: ctest's compat.build fixture runs first."""
    build = [os.path.join(HERE, "..", "compat", "build.sh")]
    if os.environ.get("STRATA_COMPAT_BUILD_DIR"):
        build.append(os.environ["STRATA_COMPAT_BUILD_DIR"])
    runner = subprocess.run(["bash"] + build, check=True, stdout=subprocess.PIPE, text=True,
                            timeout=1800).stdout.strip().splitlines()[-1]
    return os.path.abspath(os.path.join(os.path.dirname(runner), "..", "src"))


class RegexMember:
    """rdkafka/regex_member.py: one librdkafka 2.12 consumer of the consumer protocol."""

    def __init__(self, broker, subscription, lib_dir, group=REGEX_GROUP):
        env = dict(os.environ, LD_LIBRARY_PATH=lib_dir)
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "rdkafka", "regex_member.py"),
                                      broker.bootstrap, group] + subscription, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lock = threading.Lock()
        self.version, self.held, self.records, self.errors, self.closed = None, set(), [], [], False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            event = json.loads(line)
            with self.lock:
                if "version" in event:
                    self.version = event["version"]
                elif "assigned" in event:
                    self.held = {tuple(tp) for tp in event["assigned"]}
                elif "record" in event:
                    self.records.append(tuple(event["record"]))
                elif "error" in event:
                    self.errors.append(event["error"])
                elif "closed" in event:
                    self.closed = True

    def error_list(self):
        with self.lock:
            return list(self.errors)

    def assigned(self):
        with self.lock:
            return set(self.held)

    def topics_read(self):
        with self.lock:
            return {topic for topic, _, _ in self.records}

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(60)
        return self.proc.stderr.read()


def heartbeat_v1(broker, group, regex):
    """A joining ConsumerGroupHeartbeat v1 (api key 68) with only a
    SubscribedTopicRegex, encoded by hand: librdkafka checks patterns with
    its own regex engine before it sends them, so an invalid one comes from
    here. Returns (error code, error message)."""
    client_id = b"strata-it"
    header = struct.pack(">hhih", 68, 1, 9, len(client_id)) + client_id + b"\x00"

    def compact(text):
        return _uvarint(0) if text is None else _uvarint(len(text.encode()) + 1) + text.encode()
    body = (compact(group) + compact("") + struct.pack(">i", 0) + compact(None) + compact(None) +
            struct.pack(">i", 30000) + _uvarint(0) + compact(regex) + compact(None) + _uvarint(0) + b"\x00")
    payload = header + body
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        frame = _recv_exactly(sock, struct.unpack(">i", _recv_exactly(sock, 4))[0])
    r = _Reader(frame)
    r.take(">i")
    r.skip_tags()
    r.take(">i")  # throttle
    error = r.take(">h")
    n = r.uvarint()
    message = r.data[r.pos:r.pos + n - 1].decode() if n else None
    return error, message


def test_a_regex_subscription_follows_created_and_deleted_topics():
    lib_dir = librdkafka_212()
    broker = Broker(extra_env=ENV)
    member = None
    ok = False
    try:
        broker.start().wait_ready()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})

        def create(name, partitions):
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(15)
            producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
            for p in range(partitions):
                producer.produce(name, value=b"x", partition=p)
            assert producer.flush(30) == 0

        def partitions_of(*topics):
            return {(t, p) for t, n in topics for p in range(n)}

        create("rx-a", 2)
        create("other", 2)
        create("xrx-a", 1)  # contains the pattern's text but does not match it whole
        member = RegexMember(broker, ["^rx-.*"], lib_dir)
        wait_for(lambda: member.assigned() == partitions_of(("rx-a", 2)), 60, "rx-a's partitions")
        wait_for(lambda: member.topics_read() == {"rx-a"}, 30, "rx-a's records")
        assert member.version.startswith("2.12"), member.version
        error, group = describe(broker, REGEX_GROUP)
        assert error == 0 and len(group["members"]) == 1, (error, group)
        [regex] = group["regexes"].values()
        assert "^rx-.*" in regex, regex  # librdkafka sends its patterns joined: (^rx-.*)

        # A matching topic created later joins the assignment; its records are read.
        create("rx-b", 3)
        wait_for(lambda: member.assigned() == partitions_of(("rx-a", 2), ("rx-b", 3)), 60, "rx-b's partitions")
        wait_for(lambda: member.topics_read() == {"rx-a", "rx-b"}, 30, "rx-b's records")

        # A deleted one leaves it.
        admin.delete_topics(["rx-a"])["rx-a"].result(15)
        wait_for(lambda: member.assigned() == partitions_of(("rx-b", 3)), 60, "rx-a's partitions to go")

        # The pattern is in the member's record: after a SIGKILL the group
        # comes back with it and a topic created then is still followed.
        broker.kill()
        broker.start().wait_ready()
        error, loaded = describe_when_loaded(broker, group=REGEX_GROUP)
        assert error == 0 and list(loaded["regexes"].values()) == [regex], (error, loaded)
        create("rx-c", 1)
        wait_for(lambda: member.assigned() == partitions_of(("rx-b", 3), ("rx-c", 1)), 60, "rx-c after the restart")
        assert "other" not in member.topics_read() and "xrx-a" not in member.topics_read()

        # An invalid pattern: Kafka 4.0's INVALID_REGULAR_EXPRESSION (128),
        # and no member is added.
        error, message = heartbeat_v1(broker, REGEX_GROUP, "rx-(")
        assert error == 128 and "rx-(" in message, (error, message)
        error, group = describe(broker, REGEX_GROUP)
        assert error == 0 and len(group["members"]) == 1, group
        assert heartbeat_v1(broker, "k848-regex-other", "^(?P<name>rx)-.*")[0] == 0  # RE2 syntax is accepted

        member.close()
        assert member.closed and not member.errors, member.errors
        member = None
        ok = True
    finally:
        if member:
            member.proc.kill()
            print(f"--- member stderr ---\n{member.proc.stderr.read()[-5000:]}", file=sys.stderr)
        broker.stop()
        if not ok:
            print(f"--- stratad log ({broker.log_path}) ---\n{broker.log()[-20000:]}", file=sys.stderr)


def test_a_subscription_naming_a_denied_topic_is_refused():
    """ACLs on KIP-848 heartbeats, as Kafka's KafkaApis: a member whose
    subscription names a topic it may not DESCRIBE gets
    TOPIC_AUTHORIZATION_FAILED for the whole ConsumerGroupHeartbeat and no
    assignment (not the other topics' partitions either); a member of another
    group subscribed to the allowed topic alone is served; once the DENY ACL
    is deleted the refused member's next heartbeat joins. librdkafka's 0109
    (tests/compat, --protocol consumer) expects the same."""
    from kafka import KafkaAdminClient
    from kafka.admin import ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType
    from kafka.admin import ResourcePattern, ResourcePatternFilter, ResourceType
    lib_dir = librdkafka_212()
    # The clients are User:ANONYMOUS (PLAINTEXT), no super user; what no ACL
    # names stays open to them.
    broker = Broker(extra_env=dict(ENV, STRATA_AUTHORIZER_CLASS_NAME="StandardAuthorizer",
                                   STRATA_SUPER_USERS="User:admin", STRATA_ALLOW_EVERYONE_IF_NO_ACL_FOUND="true"))
    members = []
    ok = False
    try:
        broker.start().wait_ready()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for name, partitions in (("k848-open", 2), ("k848-denied", 1)):
            admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(15)
        acl_admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        deny = ACL(principal="User:*", host="*", operation=ACLOperation.ALL, permission_type=ACLPermissionType.DENY,
                   resource_pattern=ResourcePattern(ResourceType.TOPIC, "k848-denied", ACLResourcePatternType.LITERAL))
        assert not acl_admin.create_acls([deny])["failed"]

        refused = RegexMember(broker, ["k848-open", "k848-denied"], lib_dir, group="k848-acl-refused")
        members.append(refused)
        served = RegexMember(broker, ["k848-open"], lib_dir, group="k848-acl-served")
        members.append(served)
        wait_for(lambda: any("Topic authorization failed" in e for e in refused.error_list()), 60,
                 "TOPIC_AUTHORIZATION_FAILED on the refused member's heartbeat")
        wait_for(lambda: served.assigned() == {("k848-open", 0), ("k848-open", 1)}, 60, "the served member's partitions")
        assert refused.assigned() == set(), refused.assigned()
        assert all("Topic authorization failed" in e for e in refused.error_list()), refused.error_list()

        deleted = acl_admin.delete_acls([ACLFilter(principal="User:*", host="*", operation=ACLOperation.ALL,
                                                   permission_type=ACLPermissionType.DENY,
                                                   resource_pattern=ResourcePatternFilter(
                                                       ResourceType.TOPIC, "k848-denied",
                                                       ACLResourcePatternType.LITERAL))])
        assert len(deleted[0][1]) == 1, deleted
        acl_admin.close()
        wait_for(lambda: refused.assigned() == {("k848-open", 0), ("k848-open", 1), ("k848-denied", 0)}, 60,
                 "both topics' partitions once the ACL is gone")
        for member in members:
            member.close()
        members = []
        ok = True
    finally:
        for member in members:
            member.proc.kill()
            print(f"--- member stderr ---\n{member.proc.stderr.read()[-5000:]}", file=sys.stderr)
        broker.stop()
        if not ok:
            print(f"--- stratad log ({broker.log_path}) ---\n{broker.log()[-20000:]}", file=sys.stderr)


if __name__ == "__main__":
    run_tests([test_a_kip848_group_survives_sigkill_with_its_epochs_and_assignments,
               test_a_regex_subscription_follows_created_and_deleted_topics,
               test_a_subscription_naming_a_denied_topic_is_refused])
