#!/usr/bin/python3
"""KIP-368 re-authentication (connections.max.reauth.ms, here per listener
and mechanism as Kafka names it) on a SASL_PLAINTEXT listener.

- Raw frames: SaslAuthenticate carries session_lifetime_ms; a request after
  the session's end closes the connection unanswered; a SaslHandshake +
  SaslAuthenticate on the live connection re-authenticates it (a new
  lifetime, the connection kept); a different principal or mechanism on
  re-authentication is refused (SASL_AUTHENTICATION_FAILED, Kafka's
  messages) and the connection closed.
- KafkaJS (npm, unmodified) re-authenticates on its live connections
  before the session ends: every record arrives and no connection is
  closed for an ended session.
- librdkafka 2.0 (confluent-kafka-python) does not re-authenticate (its
  support came in 2.2): the broker closes its connection at the first
  request past the session's end and the client reconnects, as with Kafka;
  every record still arrives."""

import json
import os
import socket
import struct
import subprocess
import time

from confluent_kafka import Consumer, Producer

from harness import ensure_node_modules, run_tests, wait_for
from security_support import PLAIN_USERS, alter_scram, connection_closed, raw_request, sasl_broker
from test_sasl import handshake

SASL_AUTHENTICATE = 36
METADATA = 3
LIFETIME_MS = 1500


def reauth_broker(lifetime_ms=LIFETIME_MS):
    return sasl_broker("connection.failed.authentication.delay.ms: 0\n"
                       f"listener.name.sasl_plaintext.plain.connections.max.reauth.ms: {lifetime_ms}\n"
                       f"listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms: {lifetime_ms}\n")


def authenticate_plain(sock, user, password):
    """SaslAuthenticate v1 with a PLAIN token: (error, message, session_lifetime_ms)."""
    token = b"\0" + user.encode() + b"\0" + password.encode()
    response = raw_request(sock, SASL_AUTHENTICATE, 1, struct.pack(">i", len(token)) + token)
    error = struct.unpack(">h", response[:2])[0]
    (n,) = struct.unpack(">h", response[2:4])
    message = response[4:4 + n].decode() if n > 0 else None  # null or empty on success
    pos = 4 + max(n, 0)
    (size,) = struct.unpack(">i", response[pos:pos + 4])
    (lifetime,) = struct.unpack(">q", response[pos + 4 + size:pos + 12 + size])
    return error, message, lifetime


def metadata_ok(sock):
    response = raw_request(sock, METADATA, 1, struct.pack(">i", -1))
    return struct.unpack(">i", response[:4])[0] >= 1  # at least one broker listed


def test_session_lifetime_and_the_close_after_it():
    with reauth_broker() as broker:
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"]) == (0, None, LIFETIME_MS)
            assert metadata_ok(sock)
            time.sleep(LIFETIME_MS / 1000 + 0.3)
            # Past the session's end: the request is not answered.
            request = struct.pack(">hhih", METADATA, 1, 9, 0) + struct.pack(">i", -1)
            sock.sendall(struct.pack(">i", len(request)) + request)
            assert connection_closed(sock)
        assert "the SASL session of User:alice has ended without re-authentication" in broker.log()
    # Without connections.max.reauth.ms a PLAIN session has no end (lifetime 0).
    with sasl_broker() as broker:
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"]) == (0, None, 0)
            # And a second handshake is ILLEGAL_SASL_STATE (no re-authentication to begin).
            assert handshake(sock, "PLAIN")[0] == 34
            assert metadata_ok(sock)


def test_reauthentication_on_the_live_connection():
    with reauth_broker() as broker:
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"])[0] == 0
            for _ in range(3):
                time.sleep(1.1)  # Kafka allows one re-authentication a second
                assert handshake(sock, "PLAIN")[0] == 0
                assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"]) == (0, None, LIFETIME_MS)
                assert metadata_ok(sock)
            # 3.3 s after the first authentication, well past its 1.5 s: still open.
            time.sleep(1.1)
            assert handshake(sock, "PLAIN")[0] == 0
            error, message, _ = authenticate_plain(sock, "admin", PLAIN_USERS["admin"])
            assert error == 58 and message == \
                "Cannot change principals during re-authentication from User.alice: User.admin", (error, message)
            assert connection_closed(sock)
        assert alter_scram(broker.port, upserts=[("alice", 2, "scram-pw", 4096)]) == {"alice": (0, None)}
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"])[0] == 0
            assert handshake(sock, "SCRAM-SHA-512")[0] == 0
            error, message, _ = authenticate_plain(sock, "alice", "scram-pw")
            assert error == 58 and message == ("SASL mechanism 'SCRAM-SHA-512' requested by client is not supported "
                                               "for re-authentication of mechanism 'PLAIN'"), (error, message)
            assert connection_closed(sock)
        log = broker.log()
        assert log.count("re-authenticated as User:alice with PLAIN") == 3, log


def test_kafkajs_reauthenticates_its_connections():
    with reauth_broker(2000) as broker:
        cwd = ensure_node_modules()
        settings = {"sasl": {"mechanism": "plain", "username": "alice", "password": PLAIN_USERS["alice"]},
                    "reauthenticationThreshold": 500, "rounds": 12, "pauseMs": 500}
        run = subprocess.run(["node", os.path.join(cwd, "js", "kafkajs_reauth.js"), f"127.0.0.1:{broker.sasl_port}",
                              "reauth-js", json.dumps(settings)], cwd=cwd, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result == {"ok": True, "high": "12"}, result
        log = broker.log()
        assert log.count("re-authenticated as User:alice with PLAIN") >= 2, log
        assert "has ended without re-authentication" not in log, log


def test_librdkafka_without_reauthentication_reconnects():
    with reauth_broker() as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        settings = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN", "sasl.username": "alice",
                    "sasl.password": PLAIN_USERS["alice"]}
        errors = []
        producer = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, "linger.ms": 0, **settings})
        sent = 0
        deadline = time.monotonic() + 4.5
        while time.monotonic() < deadline:
            producer.produce("reauth-rd", f"m{sent}".encode())
            sent += 1
            producer.flush(10)
            time.sleep(0.3)
        assert producer.flush(30) == 0
        wait_for(lambda: "has ended without re-authentication" in broker.log(), timeout=5,
                 what="a connection closed at its session's end")
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "reauth-rd", "auto.offset.reset": "earliest",
                             **settings})
        consumer.subscribe(["reauth-rd"])
        got = []
        end = time.monotonic() + 30
        while len(got) < sent and time.monotonic() < end:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value())
        consumer.close()
        assert got == [f"m{i}".encode() for i in range(sent)], (sent, got)


def test_nodes_renew_their_own_sessions():
    """A three-node cluster with SASL between its nodes (test_cluster_sasl's)
    and connections.max.reauth.ms on every listener: the nodes' own
    connections (replication, the quorum, heartbeats) replace themselves
    before their sessions end, so the brokers never close one of them for
    an ended session and the ISR stays whole while records flow."""
    from test_cluster_sasl import ADMIN, create_topic, running, sasl_cluster
    cluster = sasl_cluster()
    for node in cluster.nodes:
        node.env["STRATA_CONNECTIONS_MAX_REAUTH_MS"] = "2500"
    with running(cluster):
        create_topic(cluster.nodes[1], "renewed", 3)
        bootstrap = ",".join(f"127.0.0.1:{n.clients_port}" for n in cluster.nodes)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", **ADMIN})
        deadline = time.monotonic() + 7
        sent = 0
        while time.monotonic() < deadline:
            producer.produce("renewed", f"r{sent}".encode(), partition=sent % 3)
            sent += 1
            producer.flush(10)
            time.sleep(0.05)
        assert producer.flush(30) == 0
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": bootstrap, **ADMIN})
        topic = admin.list_topics("renewed", timeout=10).topics["renewed"]
        assert all(len(p.isrs) == 3 for p in topic.partitions.values()), topic.partitions
        logs = "".join(n.log() for n in cluster.nodes)
        # Sessions of 2.5 s over ~10 s: the nodes did authenticate again ...
        assert logs.count("authenticated as User:broker") > 3 * 4, logs.count("authenticated as User:broker")
        # ... and no node-to-node connection outlived its session.
        assert "the SASL session of User:broker has ended" not in logs


if __name__ == "__main__":
    run_tests([test_session_lifetime_and_the_close_after_it, test_reauthentication_on_the_live_connection,
               test_kafkajs_reauthenticates_its_connections, test_librdkafka_without_reauthentication_reconnects,
               test_nodes_renew_their_own_sessions])
