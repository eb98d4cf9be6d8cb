#!/usr/bin/python3
"""A three-node cluster whose inter-broker and controller listeners use
mutual TLS (issue 16), from config/secure-cluster-node-N.yaml: the nodes elect a controller, replicate and fail over
over SSL listeners with ssl.client.auth=required, each presenting its own
certificate (scripts/make-test-certs.sh), whose subject is the principal the
others authorize. To show the brokers' traffic really is that principal,
User:ANONYMOUS is denied CLUSTER_ACTION once the cluster is up: replication,
AlterPartition and heartbeats keep working only because they arrive as the
certificate's User:CN=broker, a super user. A confluent-kafka-python
idempotent acks=all producer writes through a leader SIGKILL; every
acknowledged record is read back once, in order.

Also: a SASL_SSL inter-broker listener without a SASL mechanism (Kafka's
default, GSSAPI, which Strata lacks) is refused at start-up with a clear
message (SASL between the nodes: test_cluster_sasl.py), and a node whose
certificate the others do not trust cannot join."""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid

from harness import SOURCE_DIR, STRATAD, Cluster, free_port, run_tests

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

CERTS = tempfile.mkdtemp(prefix="strata-mtls-certs-")
subprocess.run(["sh", os.path.join(SOURCE_DIR, "scripts", "make-test-certs.sh"), CERTS, "localhost", "127.0.0.1"],
               check=True, capture_output=True)


def mtls_cluster(keystore="broker.pem"):
    """config/secure-cluster-node-N.yaml (the example), on this test's ports
    and certificates, plus a PLAINTEXT listener for the harness's readiness
    probe and for clients (User:ANONYMOUS, allowed where no ACL says
    otherwise)."""
    cluster = Cluster(3)
    voters = cluster.nodes[0].env["STRATA_CONTROLLER_QUORUM_VOTERS"]
    for node in cluster.nodes:
        node.internal_port, node.clients_port = free_port(), free_port()
        node.env.update({
            "STRATA_LISTENERS": (f"PLAINTEXT://127.0.0.1:{node.port},CLIENTS://127.0.0.1:{node.clients_port},"
                                 f"INTERNAL://127.0.0.1:{node.internal_port},"
                                 f"CONTROLLER://127.0.0.1:{node.controller_port}"),
            "STRATA_ADVERTISED_LISTENERS": (f"PLAINTEXT://127.0.0.1:{node.port},CLIENTS://127.0.0.1:{node.clients_port},"
                                            f"INTERNAL://127.0.0.1:{node.internal_port}"),
            "STRATA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CLIENTS:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL",
            "STRATA_CONTROLLER_QUORUM_VOTERS": voters,
            "STRATA_SSL_KEYSTORE_LOCATION": os.path.join(CERTS, keystore),
            "STRATA_SSL_TRUSTSTORE_LOCATION": os.path.join(CERTS, "ca.pem"),
            "STRATA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "true",
        })
        node.config = os.path.join(SOURCE_DIR, "config", f"secure-cluster-node-{node.node_id}.yaml")
    return cluster


@contextlib.contextmanager
def running(cluster, nodes=None):
    """Starts the nodes and waits until each serves as a broker (the harness's
    own readiness probe talks PLAINTEXT to the controller port, which is SSL
    here); stops them after, printing their logs on failure."""
    nodes = nodes or cluster.nodes
    try:
        cluster.format()
        for node in cluster.nodes:
            node.start(30)
        for node in nodes:
            node.wait_ready(30)
        yield cluster
    except BaseException:
        for node in cluster.nodes:
            print(f"--- node {node.node_id} log ---\n{node.log()[-6000:]}", file=sys.stderr)
        raise
    finally:
        cluster.stop()


def produce(bootstrap, topic, values):
    acked, errors = [], []

    def delivered(err, msg):
        (errors if err else acked).append(err or msg.value())

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "message.timeout.ms": 30000, "linger.ms": 5})
    for v in values:
        producer.produce(topic, v, on_delivery=delivered)
        producer.poll(0)
    producer.flush(40)
    return acked, errors


def read_all(bootstrap, topic, want, timeout=30):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        m = consumer.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value())
    consumer.close()
    return got


def leader_of(admin, topic):
    meta = admin.list_topics(topic, timeout=10)
    return meta.topics[topic].partitions[0].leader, meta.topics[topic].partitions[0].isrs


def test_replicates_and_fails_over_over_mtls():
    with running(mtls_cluster()) as cluster:
        bootstrap = ",".join(f"127.0.0.1:{n.port}" for n in cluster.nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        # From here on only the certificate's principal may act as a broker.
        # The administrator (a super user) over SASL_SSL, as the example's clients connect.
        acls = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{cluster.node(1).clients_port}", request_timeout_ms=15000,
                                security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_plain_username="admin",
                                sasl_plain_password="admin-secret", ssl_cafile=os.path.join(CERTS, "ca.pem"),
                                ssl_check_hostname=False)
        cluster_resource = ResourcePattern(ResourceType.CLUSTER, "kafka-cluster", ACLResourcePatternType.LITERAL)
        result = acls.create_acls([
            ACL(principal="User:ANONYMOUS", host="*", operation=ACLOperation.CLUSTER_ACTION,
                permission_type=ACLPermissionType.DENY, resource_pattern=cluster_resource),
            # The cluster now has ACLs, so its operations need one: the idempotent producer's.
            ACL(principal="User:ANONYMOUS", host="*", operation=ACLOperation.IDEMPOTENT_WRITE,
                permission_type=ACLPermissionType.ALLOW, resource_pattern=cluster_resource),
        ])
        assert not result["failed"], result
        acls.close()
        topic = f"mtls-{uuid.uuid4().hex[:6]}"
        for future in admin.create_topics([NewTopic(topic, 1, 3)]).values():
            future.result(15)
        deadline = time.monotonic() + 15
        while len(leader_of(admin, topic)[1]) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        leader, isr = leader_of(admin, topic)
        assert len(isr) == 3, f"replicas did not join the ISR over mTLS: {isr}"

        first = [f"a-{i}".encode() for i in range(500)]
        acked, errors = produce(bootstrap, topic, first)
        assert not errors and len(acked) == 500, (len(acked), errors[:3])

        started = time.monotonic()
        cluster.node(leader).kill()
        survivors = ",".join(f"127.0.0.1:{n.port}" for n in cluster.nodes if n.node_id != leader)
        admin = AdminClient({"bootstrap.servers": survivors})
        new_leader = leader
        while time.monotonic() - started < 20:
            try:
                new_leader, _ = leader_of(admin, topic)
            except Exception:
                pass
            if new_leader not in (leader, -1):
                break
            time.sleep(0.05)
        failover = time.monotonic() - started
        assert new_leader not in (leader, -1), "no new leader over mTLS"
        print(f"  leader {leader} killed; broker {new_leader} leads after {failover * 1000:.0f} ms")

        second = [f"b-{i}".encode() for i in range(500)]
        acked2, errors2 = produce(survivors, topic, second)
        assert not errors2 and len(acked2) == 500, (len(acked2), errors2[:3])
        got = read_all(survivors, topic, 1000)
        assert got == first + second, f"read {len(got)} records, not the 1000 acknowledged in order"


def test_sasl_inter_broker_listener_without_a_mechanism_is_refused_clearly():
    cluster = mtls_cluster()
    node = cluster.nodes[0]
    node.env["STRATA_LISTENER_SECURITY_PROTOCOL_MAP"] = ("PLAINTEXT:PLAINTEXT,CLIENTS:SASL_SSL,INTERNAL:SASL_SSL,"
                                                         "CONTROLLER:SSL")
    result = subprocess.run([STRATAD, "--config", node.config], env=node.env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0
    assert ("sasl.mechanism.inter.broker.protocol: the inter-broker listener INTERNAL uses SASL_SSL" in result.stderr
            and "GSSAPI is Kafka's default" in result.stderr), result.stderr


def test_untrusted_node_cannot_join():
    """Node 3 presents a certificate from a CA the others do not trust:
    nodes 1 and 2 form the quorum without it, and it never registers."""
    cluster = mtls_cluster()
    stranger = cluster.nodes[2]
    stranger.env["STRATA_SSL_KEYSTORE_LOCATION"] = os.path.join(CERTS, "stranger.pem")
    with running(cluster, nodes=cluster.nodes[:2]):
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{cluster.node(1).port}"})
        time.sleep(3)
        brokers = sorted(admin.list_topics(timeout=10).brokers)
        assert brokers == [1, 2], f"a node with an untrusted certificate joined: {brokers}"


if __name__ == "__main__":
    run_tests([test_replicates_and_fails_over_over_mtls,
               test_sasl_inter_broker_listener_without_a_mechanism_is_refused_clearly,
               test_untrusted_node_cannot_join])
