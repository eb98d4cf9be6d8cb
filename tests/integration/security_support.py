"""Helpers for the SASL/TLS integration tests: a broker with a SASL (and
optionally TLS) listener beside its PLAINTEXT one, raw Kafka frames for the
pre-authentication checks, and AlterUserScramCredentials encoded by hand
(neither kafka-python 2.0 nor confluent-kafka 1.7 has it)."""

import hashlib
import os
import socket
import struct
import time

from harness import SOURCE_DIR, Broker, _recv_exactly, free_port

PLAIN_USERS = {"admin": "admin-secret", "alice": "alice-secret"}


def sasl_broker(extra_yaml="", protocol="SASL_PLAINTEXT", extra_env=None):
    """A Broker whose `sasl_port` serves `protocol`; its `port` stays
    PLAINTEXT (the harness probes readiness there)."""
    broker = Broker(extra_env=extra_env)
    broker.sasl_port = free_port()
    name = protocol
    broker.env["STRATA_LISTENERS"] = (f"PLAINTEXT://127.0.0.1:{broker.port},"
                                      f"{name}://127.0.0.1:{broker.sasl_port}")
    jaas = ("org.apache.kafka.common.security.plain.PlainLoginModule required "
            + " ".join(f'user_{u}="{p}"' for u, p in PLAIN_USERS.items()) + ";")
    config = os.path.join(broker.workdir, "security.yaml")
    with open(os.path.join(SOURCE_DIR, "config", "single-node.yaml")) as fh:
        single_node = fh.read()
    with open(config, "w") as fh:
        fh.write(single_node)
        fh.write(f"listener.name.{name.lower()}.plain.sasl.jaas.config: '{jaas}'\n")
        fh.write(extra_yaml)
    broker.config = config
    return broker


def _compact_string(s):
    data = s.encode()
    return _uvarint(len(data) + 1) + data


def _compact_bytes(b):
    return _uvarint(len(b) + 1) + b


def _uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def _read_uvarint(data, pos):
    shift = value = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def raw_request(sock, api_key, version, body, correlation_id=7, flexible=False):
    """Sends one request and returns the response body (after the header)."""
    client_id = b"security-test"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    if flexible:
        header += b"\x00"
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    frame = _recv_exactly(sock, size)
    assert struct.unpack(">i", frame[:4])[0] == correlation_id
    # ApiVersions keeps the v0 response header; the flexible APIs here use v1.
    return frame[5:] if flexible and api_key != 18 else frame[4:]


def scram_salted(mechanism, password, salt, iterations):
    algorithm = "sha256" if mechanism == 1 else "sha512"
    return hashlib.pbkdf2_hmac(algorithm, password.encode(), salt, iterations)


def alter_scram(port, upserts=(), deletes=(), host="127.0.0.1"):
    """AlterUserScramCredentials v0 on a PLAINTEXT port. upserts: (user,
    mechanism 1|2, password, iterations); deletes: (user, mechanism).
    Returns {user: (error_code, message)}."""
    body = _uvarint(len(deletes) + 1)
    for user, mechanism in deletes:
        body += _compact_string(user) + struct.pack(">b", mechanism) + b"\x00"
    body += _uvarint(len(upserts) + 1)
    for user, mechanism, password, iterations in upserts:
        salt = os.urandom(16)
        body += (_compact_string(user) + struct.pack(">bi", mechanism, iterations) + _compact_bytes(salt)
                 + _compact_bytes(scram_salted(mechanism, password, salt, iterations)) + b"\x00")
    body += b"\x00"
    with socket.create_connection((host, port), timeout=10) as sock:
        response = raw_request(sock, 51, 0, body, flexible=True)
    pos = 4  # throttle_time_ms
    count, pos = _read_uvarint(response, pos)
    results = {}
    for _ in range(count - 1):
        n, pos = _read_uvarint(response, pos)
        user = response[pos:pos + n - 1].decode()
        pos += n - 1
        error = struct.unpack(">h", response[pos:pos + 2])[0]
        pos += 2
        n, pos = _read_uvarint(response, pos)
        message = None
        if n:
            message = response[pos:pos + n - 1].decode()
            pos += n - 1
        _, pos = _read_uvarint(response, pos)  # tags
        results[user] = (error, message)
    return results


def connection_closed(sock, timeout=5.0):
    """True once the peer closed `sock` (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def call(conn, request, timeout=10.0):
    """One request on a kafka-python BrokerConnection, its response or an assertion."""
    future = conn.send(request)
    deadline = time.monotonic() + timeout
    while not future.is_done and time.monotonic() < deadline:
        for response, f in conn.recv():
            f.success(response)
        time.sleep(0.0005)
    assert future.succeeded(), future.exception
    return future.value
