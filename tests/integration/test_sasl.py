#!/usr/bin/python3
"""SASL on a SASL_PLAINTEXT listener with real clients: kcat,
confluent-kafka-python (librdkafka: SaslHandshake v1 + SaslAuthenticate)
and kafka-python (SaslHandshake v0 + raw tokens) authenticate with PLAIN
(users from the listener's JAAS config) and SCRAM-SHA-512 / SCRAM-SHA-256
(credentials written by AlterUserScramCredentials through the quorum);
wrong passwords and unknown users get SASL_AUTHENTICATION_FAILED after
connection.failed.authentication.delay.ms; an unsupported mechanism gets
UNSUPPORTED_SASL_MECHANISM; a Produce before authenticating and a huge
frame length close the connection without an answer or an allocation."""

import struct
import subprocess
import socket
import time
import uuid

from harness import STRATAD, _recv_exactly, run_tests
from security_support import (PLAIN_USERS, alter_scram, connection_closed, raw_request, sasl_broker)

from confluent_kafka import Consumer, KafkaError, Producer

SASL_HANDSHAKE, SASL_AUTHENTICATE, API_VERSIONS, PRODUCE = 17, 36, 18, 0


def kcat_roundtrip(bootstrap, settings, topic):
    args = []
    for key, value in settings.items():
        args += ["-X", f"{key}={value}"]
    produced = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", topic, *args], input=b"one\ntwo\n",
                              capture_output=True, timeout=30)
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q", *args],
                              capture_output=True, timeout=30)
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.split() == [b"one", b"two"], consumed.stdout


def confluent_roundtrip(bootstrap, settings, topic):
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, **settings})
    for i in range(5):
        producer.produce(topic, f"m{i}".encode())
    assert producer.flush(30) == 0, errors
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", **settings})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 5 and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    consumer.close()
    assert got == [f"m{i}".encode() for i in range(5)], got


def kafka_python_roundtrip(bootstrap, mechanism, user, password, topic):
    from kafka import KafkaConsumer, KafkaProducer
    common = dict(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism=mechanism,
                  sasl_plain_username=user, sasl_plain_password=password)
    producer = KafkaProducer(**common)
    for i in range(3):
        producer.send(topic, f"k{i}".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=5000, **common)
    got = [m.value for m in consumer]
    consumer.close()
    assert got == [f"k{i}".encode() for i in range(3)], got


def librdkafka_settings(mechanism, user, password):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": mechanism, "sasl.username": user,
            "sasl.password": password}


def test_plain_with_kcat_confluent_kafka_and_kafka_python():
    with sasl_broker("sasl.plain.users: [carol:carol-pw]\n") as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        settings = librdkafka_settings("PLAIN", "alice", PLAIN_USERS["alice"])
        kcat_roundtrip(bootstrap, settings, "plain-kcat")
        # Users of the YAML list, beside the listener's JAAS ones.
        kcat_roundtrip(bootstrap, librdkafka_settings("PLAIN", "carol", "carol-pw"), "plain-yaml-user")
        # DescribeConfigs flags the secrets and does not show them.
        from confluent_kafka.admin import AdminClient, ConfigResource
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        described = admin.describe_configs([ConfigResource("broker", "1")])
        entries = list(described.values())[0].result(timeout=30)
        assert entries["sasl.plain.users"].is_sensitive and entries["sasl.plain.users"].value is None
        confluent_roundtrip(bootstrap, settings, "plain-confluent")
        kafka_python_roundtrip(bootstrap, "PLAIN", "alice", PLAIN_USERS["alice"], "plain-kafka-python")
        log = broker.log()
        assert "authenticated as User:alice with PLAIN" in log
        assert PLAIN_USERS["alice"] not in log.replace("user_alice", "")


def test_scram_with_kcat_confluent_kafka_and_kafka_python():
    with sasl_broker() as broker:
        results = alter_scram(broker.port, upserts=[("bob", 2, "bob-secret", 8192), ("bob", 1, "bob-256", 4096)])
        assert results == {"bob": (0, None)}, results
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        for mechanism, password in (("SCRAM-SHA-512", "bob-secret"), ("SCRAM-SHA-256", "bob-256")):
            settings = librdkafka_settings(mechanism, "bob", password)
            topic = mechanism.lower()
            kcat_roundtrip(bootstrap, settings, topic + "-kcat")
            confluent_roundtrip(bootstrap, settings, topic + "-confluent")
            kafka_python_roundtrip(bootstrap, mechanism, "bob", password, topic + "-kafka-python")
        assert "authenticated as User:bob with SCRAM-SHA-512" in broker.log()
        # Deleting the credential stops new logins with it.
        assert alter_scram(broker.port, deletes=[("bob", 2)]) == {"bob": (0, None)}
        assert_refused_by_librdkafka(bootstrap, librdkafka_settings("SCRAM-SHA-512", "bob", "bob-secret"))


def test_format_add_scram_bootstraps_a_credential():
    broker = sasl_broker()
    cluster_id = subprocess.run([STRATAD, "random-uuid"], capture_output=True, text=True, check=True).stdout.strip()
    formatted = subprocess.run([STRATAD, "format", "-t", cluster_id, "-c", broker.config,
                                "--add-scram", "SCRAM-SHA-512=[name=erin,iterations=8192,password=\"erin,secret\"]"],
                               env=broker.env, cwd=broker.workdir, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stderr
    bad = subprocess.run([STRATAD, "format", "-t", cluster_id, "-c", broker.config,
                          "--add-scram", "SCRAM-SHA-1=[name=x,password=y]"], env=broker.env, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "unknown SCRAM mechanism" in bad.stderr, bad.stderr
    with broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        kcat_roundtrip(bootstrap, librdkafka_settings("SCRAM-SHA-512", "erin", "erin,secret"), "bootstrapped")


def test_alter_scram_errors_follow_kafka():
    with sasl_broker() as broker:
        assert alter_scram(broker.port, upserts=[("carol", 2, "pw", 1000)])["carol"][0] == 93  # UNACCEPTABLE_CREDENTIAL
        assert alter_scram(broker.port, upserts=[("carol", 3, "pw", 4096)])["carol"][0] == 33  # UNSUPPORTED_SASL_MECHANISM
        assert alter_scram(broker.port, deletes=[("nobody", 1)])["nobody"][0] == 91  # RESOURCE_NOT_FOUND
        twice = alter_scram(broker.port, upserts=[("dave", 1, "a", 4096), ("dave", 1, "b", 4096)])
        assert twice["dave"][0] == 92, twice  # DUPLICATE_RESOURCE


def assert_refused_by_librdkafka(bootstrap, settings):
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, **settings})
    producer.produce("refused", b"x")
    deadline = time.monotonic() + 10
    while not any(e.code() == KafkaError._AUTHENTICATION for e in errors) and time.monotonic() < deadline:
        producer.poll(0.2)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert any("invalid credentials" in e.str() for e in errors), errors
    producer.purge()


def handshake(sock, mechanism, version=1):
    body = struct.pack(">h", len(mechanism)) + mechanism.encode()
    response = raw_request(sock, SASL_HANDSHAKE, version, body)
    error = struct.unpack(">h", response[:2])[0]
    (count,) = struct.unpack(">i", response[2:6])
    mechanisms, pos = [], 6
    for _ in range(count):
        (n,) = struct.unpack(">h", response[pos:pos + 2])
        mechanisms.append(response[pos + 2:pos + 2 + n].decode())
        pos += 2 + n
    return error, mechanisms


def authenticate_plain(sock, user, password):
    """SaslAuthenticate v1 with a PLAIN token: (error code, message, seconds taken)."""
    token = b"\0" + user.encode() + b"\0" + password.encode()
    started = time.monotonic()
    response = raw_request(sock, SASL_AUTHENTICATE, 1, struct.pack(">i", len(token)) + token)
    elapsed = time.monotonic() - started
    error = struct.unpack(">h", response[:2])[0]
    (n,) = struct.unpack(">h", response[2:4])
    message = response[4:4 + n].decode() if n >= 0 else None
    return error, message, elapsed


def test_wrong_password_and_unknown_user_are_refused_after_the_delay():
    with sasl_broker("connection.failed.authentication.delay.ms: 300\n") as broker:
        for user, password in (("alice", "wrong-password"), ("mallory", "alice-secret")):
            with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
                assert handshake(sock, "PLAIN") == (0, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
                error, message, elapsed = authenticate_plain(sock, user, password)
                assert error == 58, (error, message)  # SASL_AUTHENTICATION_FAILED
                assert elapsed >= 0.29, elapsed
                assert connection_closed(sock)
        log = broker.log()
        assert "failed authentication of user 'alice' with PLAIN: invalid credentials" in log
        assert "failed authentication of user 'mallory' with PLAIN: unknown user" in log
        assert "wrong-password" not in log
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        assert_refused_by_librdkafka(bootstrap, librdkafka_settings("PLAIN", "alice", "nope"))
        assert_refused_by_librdkafka(bootstrap, librdkafka_settings("SCRAM-SHA-512", "ghost", "nope"))
        # The right password still works, on the same broker.
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"])[0] == 0
            # Authenticated: a second SaslAuthenticate is ILLEGAL_SASL_STATE (the connection stays).
            assert authenticate_plain(sock, "alice", PLAIN_USERS["alice"])[0] == 34


def test_sasl_authenticate_v2_flexible():
    """SaslAuthenticate v2 (flexible: compact bytes, tagged fields) with PLAIN."""
    with sasl_broker() as broker:
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            token = b"\0alice\0" + PLAIN_USERS["alice"].encode()
            body = bytes([len(token) + 1]) + token + b"\x00"
            response = raw_request(sock, SASL_AUTHENTICATE, 2, body, flexible=True)
            assert struct.unpack(">h", response[:2])[0] == 0, response
            # Authenticated: a Metadata request is answered now.
            metadata = raw_request(sock, 3, 1, struct.pack(">i", -1))
            assert len(metadata) > 8


def test_unsupported_mechanism_is_answered_then_closed():
    with sasl_broker("sasl.enabled.mechanisms: SCRAM-SHA-512\n") as broker:
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN") == (33, ["SCRAM-SHA-512"])  # UNSUPPORTED_SASL_MECHANISM
            assert connection_closed(sock)
        # On the PLAINTEXT listener, SaslHandshake is ILLEGAL_SASL_STATE.
        with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 34


def test_requests_before_authentication_close_the_connection_unanswered():
    with sasl_broker() as broker:
        # ApiVersions is allowed before the handshake.
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert struct.unpack(">h", raw_request(sock, API_VERSIONS, 0, b"")[:2])[0] == 0
        # A Produce (acks=1, one topic with garbage records) is not parsed: closed, no answer.
        produce = struct.pack(">hhi", -1, 1, 1000) + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t"
        produce += struct.pack(">ii", 1, 0) + struct.pack(">i", 3) + b"xyz"
        client_id = b"early"
        payload = struct.pack(">hhih", PRODUCE, 3, 1, len(client_id)) + client_id + produce
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            sock.sendall(struct.pack(">i", len(payload)) + payload)
            assert connection_closed(sock)
        # After the handshake, only SaslAuthenticate: a Metadata closes too.
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "PLAIN")[0] == 0
            metadata = struct.pack(">hhih", 3, 1, 2, 1) + b"m" + struct.pack(">i", -1)
            sock.sendall(struct.pack(">i", len(metadata)) + metadata)
            assert connection_closed(sock)
        log = broker.log()
        assert "Produce (key 0) before authentication; closing" in log
        assert "Metadata (key 3) before authentication; closing" in log


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_huge_frame_length_before_authentication_is_refused_without_allocation():
    with sasl_broker() as broker:
        before = rss_kib(broker.proc.pid)
        started = time.monotonic()
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
                # 100 MB announced (within socket.request.max.bytes), then a few bytes.
                sock.sendall(struct.pack(">i", 100 * 1024 * 1024) + b"\x00" * 64)
                assert connection_closed(sock)
        elapsed = time.monotonic() - started
        grown_mib = (rss_kib(broker.proc.pid) - before) / 1024
        print(f"  200 connections announcing 100 MB: closed in {elapsed:.2f}s, RSS grew {grown_mib:.1f} MiB")
        assert grown_mib < 16, grown_mib
        assert "sasl.server.max.receive.size = 524288" in broker.log()
        # An authenticated client is unaffected.
        kcat_roundtrip(f"127.0.0.1:{broker.sasl_port}", librdkafka_settings("PLAIN", "admin", "admin-secret"),
                       "after-huge")


if __name__ == "__main__":
    run_tests([
        test_plain_with_kcat_confluent_kafka_and_kafka_python,
        test_scram_with_kcat_confluent_kafka_and_kafka_python,
        test_format_add_scram_bootstraps_a_credential,
        test_alter_scram_errors_follow_kafka,
        test_wrong_password_and_unknown_user_are_refused_after_the_delay,
        test_sasl_authenticate_v2_flexible,
        test_unsupported_mechanism_is_answered_then_closed,
        test_requests_before_authentication_close_the_connection_unanswered,
        test_huge_frame_length_before_authentication_is_refused_without_allocation,
    ])
