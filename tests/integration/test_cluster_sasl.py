#!/usr/bin/python3
"""A three-node cluster whose nodes authenticate to each other with SASL
(issue 16), from config/sasl-cluster-node-N.yaml: SCRAM-SHA-512 as
User:broker on the INTERNAL listener (replication, transaction markers; the
credential bootstrapped with `stratad format --add-scram`), PLAIN on the
CONTROLLER listener (the metadata quorum, forwarded admin requests), ACLs
on with User:broker and User:admin the only super users. With
allow.everyone.if.no.acl.found=false and pre-authentication limits on
every SASL listener, no node-to-node request gets anywhere without a
successful SaslHandshake + SaslAuthenticate, and the nodes' logs show each
of them ("authenticated as User:broker with ..."). Once over
SASL_PLAINTEXT (the example), once over SASL_SSL.

Checked: the quorum elects a controller and elects another after the
active one is killed; CreateTopics sent to a node that is not the active
controller (forwarded over the CONTROLLER listener) creates a topic whose
three replicas join the ISR; acks=all records written and read back; a
transaction over three partitions led by different nodes commits (markers
over INTERNAL) and read_committed sees it. A node whose passwords are wrong
never joins, and its log says SASL_AUTHENTICATION_FAILED. A SASL
inter-broker listener without the node's credentials stops start-up with
a message naming the key."""

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

from harness import SOURCE_DIR, STRATAD, Cluster, free_port, run_tests

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ADD_SCRAM = ["--add-scram", "SCRAM-SHA-512=[name=broker,password=broker-secret]",
             "--add-scram", "SCRAM-SHA-512=[name=admin,password=admin-secret]"]
ADMIN = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "admin",
         "sasl.password": "admin-secret"}


def sasl_cluster(protocol="SASL_PLAINTEXT"):
    """config/sasl-cluster-node-N.yaml (the example) on this test's ports,
    plus a PLAINTEXT listener for the harness's readiness probe (a Metadata
    request: User:ANONYMOUS may see the brokers, nothing else). With
    protocol=SASL_SSL the INTERNAL and CONTROLLER listeners add TLS (the
    test certificates of scripts/make-test-certs.sh)."""
    cluster = Cluster(3)
    certs = None
    if protocol == "SASL_SSL":
        certs = tempfile.mkdtemp(prefix="strata-sasl-certs-")
        subprocess.run(["sh", os.path.join(SOURCE_DIR, "scripts", "make-test-certs.sh"), certs, "localhost",
                        "127.0.0.1"], check=True, capture_output=True)
    voters = cluster.nodes[0].env["STRATA_CONTROLLER_QUORUM_VOTERS"]
    for node in cluster.nodes:
        node.internal_port, node.clients_port = free_port(), free_port()
        node.env.update({
            "STRATA_LISTENERS": (f"PLAINTEXT://127.0.0.1:{node.port},CLIENTS://127.0.0.1:{node.clients_port},"
                                 f"INTERNAL://127.0.0.1:{node.internal_port},"
                                 f"CONTROLLER://127.0.0.1:{node.controller_port}"),
            "STRATA_ADVERTISED_LISTENERS": (f"PLAINTEXT://127.0.0.1:{node.port},"
                                            f"CLIENTS://127.0.0.1:{node.clients_port},"
                                            f"INTERNAL://127.0.0.1:{node.internal_port}"),
            "STRATA_LISTENER_SECURITY_PROTOCOL_MAP": ("PLAINTEXT:PLAINTEXT,CLIENTS:SASL_PLAINTEXT,"
                                                      f"INTERNAL:{protocol},CONTROLLER:{protocol}"),
            "STRATA_CONTROLLER_QUORUM_VOTERS": voters,
        })
        if certs:
            node.env.update({"STRATA_SSL_KEYSTORE_LOCATION": os.path.join(certs, "broker.pem"),
                             "STRATA_SSL_TRUSTSTORE_LOCATION": os.path.join(certs, "ca.pem")})
        node.config = os.path.join(SOURCE_DIR, "config", f"sasl-cluster-node-{node.node_id}.yaml")
    return cluster


@contextlib.contextmanager
def running(cluster, nodes=None):
    """Formats every node with the bootstrap SCRAM credentials, starts them
    and waits until exactly `nodes` are registered brokers; stops them
    after, printing their logs on failure."""
    nodes = nodes or cluster.nodes
    try:
        for node in cluster.nodes:
            subprocess.run([STRATAD, "format", "-t", cluster.cluster_id, "-c", node.config, *ADD_SCRAM],
                           env=node.env, check=True, capture_output=True, timeout=30)
        for node in cluster.nodes:
            node.start(30)
        for node in nodes:
            node.wait_ready(30)
        # wait_ready sees any registered broker; topics of three replicas
        # need all of them.
        admin = admin_of(nodes)
        wait_for("every node to register", lambda: sorted(admin.list_topics(timeout=5).brokers) ==
                 sorted(n.node_id for n in nodes), timeout=30)
        yield cluster
    except BaseException:
        for node in cluster.nodes:
            print(f"--- node {node.node_id} log ---\n{node.log()[-8000:]}", file=sys.stderr)
        raise
    finally:
        cluster.stop()


def admin_of(nodes):
    return AdminClient({"bootstrap.servers": ",".join(f"127.0.0.1:{n.clients_port}" for n in nodes), **ADMIN})


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def partitions_of(admin, topic):
    try:
        meta = admin.list_topics(topic, timeout=5)
    except Exception:
        return None
    t = meta.topics.get(topic)
    return None if t is None or t.error is not None else t.partitions


def create_topic(node, topic, partitions):
    """CreateTopics sent to `node` alone; waits until every replica of every
    partition is in the ISR."""
    admin = admin_of([node])
    for future in admin.create_topics([NewTopic(topic, partitions, 3)], operation_timeout=15).values():
        future.result(20)
    wait_for(f"{topic}'s replicas in the ISR",
             lambda: (p := partitions_of(admin, topic)) and len(p) == partitions and
             all(len(x.isrs) == 3 and x.leader >= 0 for x in p.values()))
    return partitions_of(admin, topic)


LEADER_LINE = re.compile(r"node (\d+): epoch (\d+): leader (\d+)")


def quorum_leader(nodes, min_epoch=0):
    """(epoch, leader) of the newest election a running node's log reports."""
    best = None
    for node in nodes:
        for voter, epoch, leader in LEADER_LINE.findall(node.log()):
            if int(voter) == node.node_id and int(epoch) >= min_epoch and (best is None or int(epoch) > best[0]):
                best = (int(epoch), int(leader))
    return best


def test_nodes_authenticate_to_each_other():
    with running(sasl_cluster()) as cluster:
        nodes = cluster.nodes
        _, controller = wait_for("an elected controller", lambda: quorum_leader(nodes))
        follower = next(n for n in nodes if n.node_id != controller)
        topic = f"sasl-{uuid.uuid4().hex[:6]}"
        create_topic(follower, topic, 1)  # forwarded to the active controller

        # Replication: acks=all with min.insync.replicas=2 needs the followers.
        bootstrap = ",".join(f"127.0.0.1:{n.clients_port}" for n in nodes)
        acked, errors = [], []
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                             "message.timeout.ms": 30000, **ADMIN})
        for i in range(300):
            producer.produce(topic, f"r-{i}".encode(),
                             on_delivery=lambda err, msg: (errors if err else acked).append(err or msg.value()))
        producer.flush(30)
        assert not errors and len(acked) == 300, (len(acked), errors[:3])
        # A transaction over three partitions led by different nodes.
        txn_topic = f"sasl-txn-{uuid.uuid4().hex[:6]}"
        parts = create_topic(follower, txn_topic, 3)
        print(f"  {txn_topic} leaders: {sorted(p.leader for p in parts.values())}")
        producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"t-{uuid.uuid4().hex[:6]}",
                             "message.timeout.ms": 30000, **ADMIN})
        producer.init_transactions(30)
        producer.begin_transaction()
        for i in range(30):
            producer.produce(txn_topic, f"t-{i}".encode(), partition=i % 3)
        producer.commit_transaction(30)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex[:6]}",
                             "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                             "enable.auto.commit": False, **ADMIN})
        consumer.assign([TopicPartition(txn_topic, p, 0) for p in range(3)])
        got = set()
        deadline = time.monotonic() + 30
        while len(got) < 30 and time.monotonic() < deadline:
            m = consumer.poll(0.2)
            if m is not None and not m.error():
                got.add(m.value())
        consumer.close()
        assert got == {f"t-{i}".encode() for i in range(30)}, f"read_committed saw {len(got)} of 30"

        # The nodes really authenticated each other: the active controller
        # saw its peers log in with PLAIN, and the partition leaders saw
        # their followers (and the coordinator's markers) with SCRAM-SHA-512.
        leader_log = cluster.node(quorum_leader(nodes)[1]).log()
        assert "on CONTROLLER: authenticated as User:broker with PLAIN" in leader_log
        internal = sum(n.log().count("on INTERNAL: authenticated as User:broker with SCRAM-SHA-512") for n in nodes)
        assert internal >= 2, f"{internal} SCRAM logins on INTERNAL listeners"
        assert not any("failed authentication" in n.log() for n in nodes)

        # Controller election over SASL: the active controller dies, the
        # other two elect one of themselves and serve CreateTopics.
        old = quorum_leader(nodes)
        cluster.node(old[1]).kill()
        survivors = [n for n in nodes if n.node_id != old[1]]
        new = wait_for("a new controller", lambda: (q := quorum_leader(survivors, old[0] + 1)) and q[1] != old[1] and q)
        print(f"  controller {old[1]} killed; {new[1]} elected in epoch {new[0]}")
        other = next(n for n in survivors if n.node_id != new[1])
        create_topic_after = f"sasl-after-{uuid.uuid4().hex[:6]}"
        admin = admin_of([other])

        def created():
            # A request forwarded while the dead controller is still the
            # node's last known one answers NOT_CONTROLLER (retriable; the
            # client retries, as an application would).
            try:
                for future in admin.create_topics([NewTopic(create_topic_after, 1, 2)],
                                                  operation_timeout=15).values():
                    future.result(20)
                return True
            except KafkaException as e:
                if e.args[0].code() != KafkaError.NOT_CONTROLLER:
                    raise
                return False
        wait_for("CreateTopics after the election", created)

        # Re-connections authenticate again: the killed node comes back,
        # logs in to the others anew and its replica rejoins the ISR.
        killed = cluster.node(old[1])
        killed.start(30)
        killed.wait_ready(30)
        wait_for(f"node {old[1]} back in {topic}'s ISR",
                 lambda: (p := partitions_of(admin, topic)) and len(p[0].isrs) == 3, timeout=30)


def test_sasl_ssl_between_nodes():
    """The same logins inside TLS (SASL_SSL on INTERNAL and CONTROLLER):
    a topic created through a follower replicates to three in-sync
    replicas and takes acks=all records."""
    with running(sasl_cluster("SASL_SSL")) as cluster:
        nodes = cluster.nodes
        _, controller = wait_for("an elected controller", lambda: quorum_leader(nodes))
        follower = next(n for n in nodes if n.node_id != controller)
        topic = f"sasl-ssl-{uuid.uuid4().hex[:6]}"
        create_topic(follower, topic, 1)
        acked, errors = [], []
        producer = Producer({"bootstrap.servers": ",".join(f"127.0.0.1:{n.clients_port}" for n in nodes),
                             "acks": "all", "message.timeout.ms": 30000, **ADMIN})
        for i in range(100):
            producer.produce(topic, f"s-{i}".encode(),
                             on_delivery=lambda err, msg: (errors if err else acked).append(err or msg.value()))
        producer.flush(30)
        assert not errors and len(acked) == 100, (len(acked), errors[:3])
        assert "on CONTROLLER: authenticated as User:broker with PLAIN" in cluster.node(controller).log()
        assert any("on INTERNAL: authenticated as User:broker with SCRAM-SHA-512" in n.log() for n in nodes)


def test_a_node_with_a_wrong_password_cannot_join():
    """Node 3's passwords (SCRAM on INTERNAL, PLAIN on CONTROLLER) are
    wrong: nodes 1 and 2 form the quorum without it, it never registers,
    and both sides log why."""
    cluster = sasl_cluster()
    stranger = cluster.nodes[2]
    with open(stranger.config) as fh:
        text = fh.read()
    assert 'password="broker-secret"' in text and 'password="broker-controller-secret"' in text
    text = text.replace('password="broker-secret"', 'password="guessed"')
    text = text.replace('username="broker" password="broker-controller-secret"', 'username="broker" password="guessed"')
    stranger.config = os.path.join(tempfile.mkdtemp(prefix="strata-sasl-"), "node-3.yaml")
    with open(stranger.config, "w") as fh:
        fh.write(text)
    with running(cluster, nodes=cluster.nodes[:2]):
        admin = admin_of(cluster.nodes[:2])
        wait_for("node 3 to log why", lambda: "SASL_AUTHENTICATION_FAILED" in stranger.log(), timeout=15)
        time.sleep(2)
        brokers = sorted(admin.list_topics(timeout=10).brokers)
        assert brokers == [1, 2], f"a node with a wrong password joined: {brokers}"
        assert stranger.proc.poll() is None, "the node should keep trying, not exit"
        failures = [line for line in stranger.log().splitlines() if "SASL_AUTHENTICATION_FAILED" in line]
        print(f"  node 3: {failures[0].strip()[:200]}")
        assert "guessed" not in stranger.log(), "a password was logged"
        assert any("failed authentication" in n.log() for n in cluster.nodes[:2]), "the others did not log it"


def test_sasl_inter_broker_listener_needs_credentials():
    cluster = sasl_cluster()
    node = cluster.nodes[0]
    with open(node.config) as fh:
        text = fh.read()
    start = text.index("listener.name.internal.scram-sha-512.sasl.jaas.config")
    end = text.index("\n\n", start)
    config = os.path.join(tempfile.mkdtemp(prefix="strata-sasl-"), "node-1.yaml")
    with open(config, "w") as fh:
        fh.write(text[:start] + text[end:])
    result = subprocess.run([STRATAD, "--config", config], env=node.env, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert ("listener.name.internal.scram-sha-512.sasl.jaas.config: the node's own credentials for the "
            "inter-broker listener INTERNAL") in result.stderr, result.stderr


if __name__ == "__main__":
    run_tests([test_nodes_authenticate_to_each_other, test_sasl_ssl_between_nodes,
               test_a_node_with_a_wrong_password_cannot_join, test_sasl_inter_broker_listener_needs_credentials])
