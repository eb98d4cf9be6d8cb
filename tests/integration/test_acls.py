#!/usr/bin/python3
"""ACL authorization (Kafka's StandardAuthorizer) with real clients over
SASL_PLAINTEXT + PLAIN: confluent-kafka-python and kcat produce and consume,
kafka-python's admin client creates ACLs and topics, describes configs and
lists topics. Each operation is refused with Kafka's error for a principal
without the ACL and succeeds with it; prefixed ACLs; DENY beats ALLOW; the
super user needs no ACL; and on a three-node cluster an ACL created through
broker 1 takes effect on broker 3 within a second (measured and printed)."""

import os
import socket
import subprocess
import time
import uuid

from harness import SOURCE_DIR, Cluster, free_port, run_tests
from security_support import PLAIN_USERS, call, sasl_broker

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from kafka import KafkaAdminClient
from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ConfigResource,
                         ConfigResourceType, NewTopic, ResourcePattern, ResourcePatternFilter, ResourceType)
from kafka.conn import BrokerConnection
from kafka.errors import TopicAuthorizationFailedError
from kafka.protocol.admin import CreateAclsRequest, DescribeGroupsRequest_v3
from kafka.protocol.api import Response
from kafka.protocol.types import Array, Bytes, Int16, Int32, Schema, String
from kafka.protocol.metadata import MetadataRequest

AUTHORIZER = ("authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
              "super.users: User:admin\n")
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31


def librdkafka(user):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN", "sasl.username": user,
            "sasl.password": PLAIN_USERS[user]}


def admin_client(bootstrap, user):
    return KafkaAdminClient(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                            sasl_plain_username=user, sasl_plain_password=PLAIN_USERS[user],
                            request_timeout_ms=10000)


def acl(principal, operation, resource_type, name, permission=ACLPermissionType.ALLOW,
        pattern=ACLResourcePatternType.LITERAL):
    return ACL(principal=principal, host="*", operation=operation, permission_type=permission,
               resource_pattern=ResourcePattern(resource_type, name, pattern))


def grant(admin, *acls):
    result = admin.create_acls(list(acls))
    assert not result["failed"], result
    assert len(result["succeeded"]) == len(acls), result


def produce(bootstrap, user, topic, count=3):
    """Produces `count` records; returns the delivery errors' codes (empty:
    every record acknowledged)."""
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 5000, **librdkafka(user)})

    def delivered(err, _msg):
        if err is not None:
            errors.append(err.code())

    for i in range(count):
        producer.produce(topic, f"{user}-{i}".encode(), on_delivery=delivered)
    producer.flush(15)
    return errors


def kcat_produce(bootstrap, user, topic):
    args = ["kcat", "-b", bootstrap, "-P", "-t", topic, "-X", "message.timeout.ms=5000"]
    for key, value in librdkafka(user).items():
        args += ["-X", f"{key}={value}"]
    return subprocess.run(args, input=b"from-kcat\n", capture_output=True, timeout=30)


def consume_assigned(bootstrap, user, topic, group, want, commit=True):
    """Reads partition 0 of `topic` from the start (no group join) and, with
    `commit`, commits in `group`. Returns (records, fetch error code, commit
    error code)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", **librdkafka(user)})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, fetch_error = [], None
    deadline = time.monotonic() + 10
    while len(got) < want and fetch_error is None and time.monotonic() < deadline:
        m = consumer.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                fetch_error = m.error().code()
            continue
        got.append(m.value())
    commit_error = None
    if not commit:
        consumer.close()
        return got, fetch_error, commit_error
    try:
        result = consumer.commit(offsets=[TopicPartition(topic, 0, max(len(got), 1))], asynchronous=False)
        for tp in result:
            if tp.error is not None:
                commit_error = tp.error.code()
    except KafkaException as e:
        commit_error = e.args[0].code()
    consumer.close()
    return got, fetch_error, commit_error


def describe_config_error(admin, topic):
    responses = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return [r[0] for response in responses for r in response.resources][0]


STARTED = [time.monotonic()]


def step(name):
    print(f"  {time.monotonic() - STARTED[0]:6.2f}s {name}", flush=True)


def test_matrix_without_and_with_acls():
    with sasl_broker(AUTHORIZER) as broker:
        STARTED[0] = time.monotonic()
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        admin = admin_client(bootstrap, "admin")
        alice_admin = admin_client(bootstrap, "alice")
        admin.create_topics([NewTopic(t, 1, 1) for t in ("orders", "scratch", "hidden")])
        # The super user writes with no ACL at all.
        assert produce(bootstrap, "admin", "orders") == []

        step('setup done')
        # Without ACLs: every operation refused with Kafka's error.
        assert set(produce(bootstrap, "alice", "orders", 1)) == {TOPIC_AUTHORIZATION_FAILED}
        step('refused produce')
        refused = kcat_produce(bootstrap, "alice", "orders")
        assert refused.returncode != 0 and b"uthorization" in refused.stderr, refused
        step('refused kcat')
        got, fetch_error, _ = consume_assigned(bootstrap, "alice", "orders", "alice-group", 3, commit=False)
        # librdkafka reports whichever refusal comes first: the group's
        # coordinator lookup or the topic's metadata.
        assert got == [] and fetch_error in (TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED), \
            (got, fetch_error)
        step('refused consume')
        assert "orders" not in alice_admin.list_topics()
        assert {"orders", "scratch", "hidden"} <= set(admin.list_topics())
        for attempt in (lambda: alice_admin.create_topics([NewTopic("alice-new", 1, 1)]),
                        lambda: alice_admin.delete_topics(["scratch"])):
            try:
                attempt()
                raise AssertionError("not refused")
            except TopicAuthorizationFailedError:
                pass
        assert describe_config_error(alice_admin, "orders") == TOPIC_AUTHORIZATION_FAILED

        step('refused admin ops')
        # With them.
        grant(admin,
              acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "orders"),
              acl("User:alice", ACLOperation.READ, ResourceType.TOPIC, "orders"),
              acl("User:alice", ACLOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, "orders"),
              acl("User:alice", ACLOperation.READ, ResourceType.GROUP, "alice-group"),
              acl("User:alice", ACLOperation.CREATE, ResourceType.TOPIC, "alice-new"),
              acl("User:alice", ACLOperation.DELETE, ResourceType.TOPIC, "scratch"))
        assert produce(bootstrap, "alice", "orders") == []
        step('allowed produce')
        written = kcat_produce(bootstrap, "alice", "orders")
        assert written.returncode == 0, written
        got, fetch_error, commit_error = consume_assigned(bootstrap, "alice", "orders", "alice-group", 7)
        assert fetch_error is None and len(got) == 7, (got, fetch_error)
        assert got[:3] == [b"admin-0", b"admin-1", b"admin-2"] and b"from-kcat" in got, got
        assert commit_error is None, commit_error
        # The commit is there for the group's owner to read.
        committed = Consumer({"bootstrap.servers": bootstrap, "group.id": "alice-group", **librdkafka("admin")})
        assert committed.committed([TopicPartition("orders", 0)], timeout=10)[0].offset == 7
        committed.close()
        step('allowed consume')
        alice_admin.create_topics([NewTopic("alice-new", 1, 1)])
        alice_admin.delete_topics(["scratch"])
        assert describe_config_error(alice_admin, "orders") == 0
        visible = set(alice_admin.list_topics())
        # WRITE and READ imply DESCRIBE; CREATE does not, and "hidden" stays hidden.
        assert "orders" in visible and "hidden" not in visible and "scratch" not in visible, visible
        # ACLs are the super user's to manage: alice may not create or list them.
        failed = alice_admin.create_acls([acl("User:alice", ACLOperation.ALL, ResourceType.TOPIC, "*")])["failed"]
        assert len(failed) == 1 and "ClusterAuthorizationFailed" in repr(failed[0]), failed
        alice_admin.close()
        admin.close()


def test_prefixed_acl_and_deny_beats_allow():
    with sasl_broker(AUTHORIZER) as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        admin = admin_client(bootstrap, "admin")
        admin.create_topics([NewTopic(t, 1, 1) for t in ("team-a", "team-b", "other")])
        grant(admin, acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "team-",
                         pattern=ACLResourcePatternType.PREFIXED))
        assert produce(bootstrap, "alice", "team-a", 1) == []
        assert produce(bootstrap, "alice", "team-b", 1) == []
        assert set(produce(bootstrap, "alice", "other", 1)) == {TOPIC_AUTHORIZATION_FAILED}
        # DENY on one topic beats the prefixed ALLOW, for that topic only.
        grant(admin, acl("User:alice", ACLOperation.WRITE, ResourceType.TOPIC, "team-b",
                         permission=ACLPermissionType.DENY))
        assert set(produce(bootstrap, "alice", "team-b", 1)) == {TOPIC_AUTHORIZATION_FAILED}
        assert produce(bootstrap, "alice", "team-a", 1) == []
        # DENY for every principal (User:*) beats alice's own ALLOW too.
        grant(admin, acl("User:*", ACLOperation.ALL, ResourceType.TOPIC, "team-a",
                         permission=ACLPermissionType.DENY))
        assert set(produce(bootstrap, "alice", "team-a", 1)) == {TOPIC_AUTHORIZATION_FAILED}
        # DescribeAcls shows the three; removing the DENYs restores writing.
        found, error = admin.describe_acls(ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                                                     permission_type=ACLPermissionType.ANY,
                                                     resource_pattern=ResourcePatternFilter(
                                                         ResourceType.TOPIC, None, ACLResourcePatternType.ANY)))
        assert error.errno == 0 and len(found) == 3, (found, error)
        deleted = admin.delete_acls([ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                                               permission_type=ACLPermissionType.DENY,
                                               resource_pattern=ResourcePatternFilter(
                                                   ResourceType.TOPIC, None, ACLResourcePatternType.ANY))])
        assert len(deleted[0][1]) == 2, deleted
        assert produce(bootstrap, "alice", "team-b", 1) == []
        admin.close()


class DescribeGroupsResponseV3(Response):
    """Kafka's v3 schema: kafka-python 2.0.2's leaves out the
    AuthorizedOperations that ends each group."""
    API_KEY = 15
    API_VERSION = 3
    SCHEMA = Schema(("throttle_time_ms", Int32),
                    ("groups", Array(("error_code", Int16), ("group", String("utf-8")), ("state", String("utf-8")),
                                     ("protocol_type", String("utf-8")), ("protocol", String("utf-8")),
                                     ("members", Array(("member_id", String("utf-8")), ("client_id", String("utf-8")),
                                                       ("client_host", String("utf-8")), ("member_metadata", Bytes),
                                                       ("member_assignment", Bytes))),
                                     ("authorized_operations", Int32))))


class DescribeGroupsRequestV3(DescribeGroupsRequest_v3):
    RESPONSE_TYPE = DescribeGroupsResponseV3


def test_describe_groups_tells_each_principal_its_own_authorized_operations():
    """KIP-430: DescribeGroups v3+ with IncludeAuthorizedOperations answers
    what the asking principal may do with the group (librdkafka's 0081
    checks the count), from the ACLs, not a fixed set."""
    READ, DELETE, DESCRIBE = 3, 6, 8
    with sasl_broker(AUTHORIZER) as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        admin = admin_client(bootstrap, "admin")
        admin.create_topics([NewTopic("ops", 1, 1)])
        assert produce(bootstrap, "admin", "ops", 1) == []
        got, fetch_error, commit_error = consume_assigned(bootstrap, "admin", "ops", "ops-group", 1)
        assert fetch_error is None and commit_error is None, (fetch_error, commit_error)
        grant(admin, acl("User:alice", ACLOperation.DESCRIBE, ResourceType.GROUP, "ops-group"),
              acl("User:alice", ACLOperation.READ, ResourceType.GROUP, "ops-group"))
        admin.close()

        def operations(user):
            # kafka-python's admin client negotiates DescribeGroups v2 here;
            # v3 (KIP-430) is sent on its wire layer.
            conn = sasl_connection(broker.sasl_port, user)
            try:
                response = call(conn, DescribeGroupsRequestV3(groups=["ops-group"], include_authorized_operations=True))
            finally:
                conn.close()
            group = response.groups[0]
            assert group[0] == 0, group  # error code
            return group[-1]

        alice = operations("alice")
        assert alice == (1 << READ) | (1 << DESCRIBE), alice
        assert operations("admin") == (1 << READ) | (1 << DELETE) | (1 << DESCRIBE)


# ---- the three-node cluster -------------------------------------------------------

def sasl_connection(port, user):
    """One kafka-python connection (SaslHandshake v1 + PLAIN) to one broker."""
    conn = BrokerConnection("127.0.0.1", port, socket.AF_INET, security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username=user, sasl_plain_password=PLAIN_USERS[user],
                            api_version=(2, 5, 0), request_timeout_ms=10000)
    assert conn.connect_blocking(10), f"cannot connect to {port}"
    return conn


def topic_error(conn, topic):
    response = call(conn, MetadataRequest[1](topics=[topic]))
    return {t[1]: t[0] for t in response.topics}[topic]


def sasl_cluster():
    cluster = Cluster(3)
    voters_env = cluster.nodes[0].env["STRATA_CONTROLLER_QUORUM_VOTERS"]
    jaas = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            + " ".join(f'user_{u}="{p}"' for u, p in PLAIN_USERS.items()) + ";")
    with open(os.path.join(SOURCE_DIR, "config", "single-node.yaml")) as fh:
        base = fh.read()
    for node in cluster.nodes:
        node.sasl_port = free_port()
        listeners = node.env["STRATA_LISTENERS"]
        node.env["STRATA_LISTENERS"] = f"{listeners},SASL_PLAINTEXT://127.0.0.1:{node.sasl_port}"
        node.env["STRATA_ADVERTISED_LISTENERS"] = (f"PLAINTEXT://127.0.0.1:{node.port},"
                                                   f"SASL_PLAINTEXT://127.0.0.1:{node.sasl_port}")
        node.env["STRATA_CONTROLLER_QUORUM_VOTERS"] = voters_env
        node.config = os.path.join(node.workdir, "security.yaml")
        with open(node.config, "w") as fh:
            fh.write(base)
            fh.write(f"listener.name.sasl_plaintext.plain.sasl.jaas.config: '{jaas}'\n")
            # The brokers talk to each other and to the controllers on the
            # PLAINTEXT and CONTROLLER listeners, as User:ANONYMOUS.
            fh.write("authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
                     "super.users: User:admin;User:ANONYMOUS\n")
    return cluster


def test_acl_through_broker_1_takes_effect_on_broker_3():
    with sasl_cluster() as cluster:
        for node in cluster.nodes:
            node.wait_ready(20)
        one, three = cluster.node(1), cluster.node(3)
        admin = admin_client(f"127.0.0.1:{one.sasl_port}", "admin")
        topic = f"shared-{uuid.uuid4().hex[:6]}"
        admin.create_topics([NewTopic(topic, 1, 3)])
        admin.close()
        as_admin = sasl_connection(one.sasl_port, "admin")
        as_alice = sasl_connection(three.sasl_port, "alice")
        deadline = time.monotonic() + 10
        while topic_error(as_alice, topic) != TOPIC_AUTHORIZATION_FAILED and time.monotonic() < deadline:
            time.sleep(0.05)  # the topic reaching broker 3's image
        assert topic_error(as_alice, topic) == TOPIC_AUTHORIZATION_FAILED

        request = CreateAclsRequest[1](creations=[(int(ResourceType.TOPIC), topic, int(ACLResourcePatternType.LITERAL),
                                                   "User:alice", "*", int(ACLOperation.DESCRIBE),
                                                   int(ACLPermissionType.ALLOW))])
        created = call(as_admin, request)
        acked = time.monotonic()
        assert [r[0] for r in created.creation_responses] == [0], created
        while topic_error(as_alice, topic) != 0 and time.monotonic() < acked + 5:
            pass
        took = time.monotonic() - acked
        print(f"ACL created through broker 1 took effect on broker 3 {took * 1000:.1f} ms after CreateAcls answered",
              flush=True)
        assert topic_error(as_alice, topic) == 0
        assert took < 1.0, took
        as_admin.close()
        as_alice.close()


if __name__ == "__main__":
    run_tests([test_matrix_without_and_with_acls, test_prefixed_acl_and_deny_beats_allow,
               test_describe_groups_tells_each_principal_its_own_authorized_operations,
               test_acl_through_broker_1_takes_effect_on_broker_3])
