#!/usr/bin/python3
"""SASL/OAUTHBEARER (KIP-255, KIP-768) on a SASL_PLAINTEXT listener.

- Kafka's default unsecured validator: librdkafka's own unsecured JWT
  (`sasl.oauthbearer.config=principal=alice`) connects as User:alice
  (confluent-kafka-python and kcat), kafka-python's token provider over
  SaslHandshake v0's bare tokens connects too; the JAAS option
  unsecuredValidatorRequiredScope refuses a token without the scope, with
  Kafka's {"status":"insufficient_scope", ...} as the error message.
- Raw frames: an expired token is answered with the RFC 7628 error JSON
  (error code 0, a challenge), the client's 0x01 then fails with that JSON;
  a malformed initial response fails with Kafka's generic message.
- The JWKS validator (sasl.oauthbearer.jwks.endpoint.url as a file: URL):
  an RS256 token signed by the key in the file, handed to librdkafka
  through confluent-kafka's oauth_cb, connects as its `sub`; one signed by
  another key, or for another audience, is refused."""

import base64
import json
import os
import shutil
import socket
import struct
import tempfile
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from confluent_kafka import KafkaError, Producer

from harness import run_tests
from security_support import connection_closed, raw_request, sasl_broker
from test_sasl import confluent_roundtrip, handshake, kcat_roundtrip

SASL_AUTHENTICATE = 36
UNSECURED_JAAS = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required{};"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsecured_token(claims):
    return f"{b64url(json.dumps({'alg': 'none'}).encode())}.{b64url(json.dumps(claims).encode())}."


def signed_token(key, claims, kid="k1"):
    header = b64url(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{b64url(signature)}"


def jwk(key, kid="k1"):
    numbers = key.public_key().public_numbers()
    as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url(as_bytes(numbers.n)),
            "e": b64url(as_bytes(numbers.e))}


def oauth_broker(extra=""):
    return sasl_broker("sasl.enabled.mechanisms: PLAIN,OAUTHBEARER\n"
                       "connection.failed.authentication.delay.ms: 0\n" + extra)


def unsecured_settings(config):
    return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
            "sasl.oauthbearer.config": config, "enable.sasl.oauthbearer.unsecure.jwt": "true"}


def authenticate(sock, token_bytes):
    """SaslAuthenticate v1: (error code, message, auth bytes, session lifetime ms)."""
    response = raw_request(sock, SASL_AUTHENTICATE, 1, struct.pack(">i", len(token_bytes)) + token_bytes)
    error = struct.unpack(">h", response[:2])[0]
    (n,) = struct.unpack(">h", response[2:4])
    message = response[4:4 + n].decode() if n >= 0 else None
    pos = 4 + max(n, 0)
    (size,) = struct.unpack(">i", response[pos:pos + 4])
    auth = response[pos + 4:pos + 4 + size]
    (lifetime,) = struct.unpack(">q", response[pos + 4 + size:pos + 12 + size])
    return error, message, auth, lifetime


def initial_response(token, authzid=""):
    return f"n,{'a=' + authzid if authzid else ''},\x01auth=Bearer {token}\x01\x01".encode()


def assert_refused(bootstrap, settings, expected_text):
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, **settings})
    producer.produce("refused", b"x")
    deadline = time.monotonic() + 15
    while not any(e.code() == KafkaError._AUTHENTICATION for e in errors) and time.monotonic() < deadline:
        producer.poll(0.2)
    producer.purge()
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors
    assert any(expected_text in e.str() for e in errors), [e.str() for e in errors]


def test_librdkafka_unsecured_jwt_and_required_scope():
    jaas = UNSECURED_JAAS.format(' unsecuredValidatorRequiredScope="kafka"')
    with oauth_broker(f"listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config: '{jaas}'\n") as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "OAUTHBEARER") == (0, ["PLAIN", "OAUTHBEARER"])
        # librdkafka's unsecured JWT ({"alg":"none"}, sub/iat/exp, scope as a list).
        confluent_roundtrip(bootstrap, unsecured_settings("principal=alice scope=kafka,other"), "oauth-topic")
        kcat_roundtrip(bootstrap, unsecured_settings("principal=alice scope=kafka"), "oauth-kcat")
        assert "authenticated as User:alice with OAUTHBEARER" in broker.log()
        # No scope: Kafka's insufficient_scope JSON is the error librdkafka reports.
        assert_refused(bootstrap, unsecured_settings("principal=bob"),
                       '{"status":"insufficient_scope", "scope":"[kafka]"}')
        assert "User:bob" not in broker.log().replace("failed authentication", "")


def test_error_json_then_failure_and_malformed_messages():
    with oauth_broker() as broker:
        now = int(time.time())
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "OAUTHBEARER")[0] == 0
            expired = unsecured_token({"sub": "carol", "iat": now - 120, "exp": now - 60})
            error, message, auth, _ = authenticate(sock, initial_response(expired))
            # RFC 7628: the error is a challenge first ...
            assert (error, auth) == (0, b'{"status":"invalid_token"}'), (error, message, auth)
            # ... and a failure once the client acknowledges it with 0x01.
            error, message, _, _ = authenticate(sock, b"\x01")
            assert (error, message) == (58, '{"status":"invalid_token"}'), (error, message)
            assert connection_closed(sock)
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "OAUTHBEARER")[0] == 0
            error, message, _, _ = authenticate(sock, b"n,,auth=Bearer x")
            assert error == 58 and message == ("Authentication failed during authentication due to invalid "
                                               "credentials with SASL mechanism OAUTHBEARER"), (error, message)
            assert connection_closed(sock)
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "OAUTHBEARER")[0] == 0
            good = unsecured_token({"sub": "carol", "iat": now, "exp": now + 60})
            # An authorization id must be the token's principal.
            error, message, _, _ = authenticate(sock, initial_response(good, authzid="admin"))
            assert error == 58 and "authorization id (admin)" in message, (error, message)
        with socket.create_connection(("127.0.0.1", broker.sasl_port), timeout=10) as sock:
            assert handshake(sock, "OAUTHBEARER")[0] == 0
            error, message, auth, lifetime = authenticate(sock, initial_response(good, authzid="carol"))
            assert (error, auth) == (0, b""), (error, message)
            # The token's expiry bounds the session even without connections.max.reauth.ms (Kafka).
            assert 55_000 <= lifetime <= 60_000, lifetime
            metadata = raw_request(sock, 3, 1, struct.pack(">i", -1))
            assert len(metadata) > 8
        log = broker.log()
        assert "token refused" in log and "authenticated as User:carol with OAUTHBEARER" in log


def test_kafka_python_raw_tokens():
    """kafka-python 2.0 sends SaslHandshake v0 and then its OAUTHBEARER
    message as a bare token (no SaslAuthenticate): the same exchange."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.oauth.abstract import AbstractTokenProvider

    class Unsecured(AbstractTokenProvider):
        def token(self):
            now = int(time.time())
            return unsecured_token({"sub": "dora", "iat": now, "exp": now + 300})

    with oauth_broker() as broker:
        common = dict(bootstrap_servers=f"127.0.0.1:{broker.sasl_port}", security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=Unsecured())
        producer = KafkaProducer(**common)
        for i in range(3):
            producer.send("oauth-kp", f"k{i}".encode()).get(timeout=30)
        producer.close()
        consumer = KafkaConsumer("oauth-kp", auto_offset_reset="earliest", consumer_timeout_ms=5000, **common)
        assert [m.value for m in consumer] == [b"k0", b"k1", b"k2"]
        consumer.close()
        assert "authenticated as User:dora with OAUTHBEARER" in broker.log()


def test_jwks_file_validator_with_oauth_cb():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys_dir = tempfile.mkdtemp(prefix="strata-it-jwks-")
    jwks_path = os.path.join(keys_dir, "jwks.json")
    with open(jwks_path, "w") as fh:
        json.dump({"keys": [jwk(key)]}, fh)
    extra = ("listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class: "
             "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n"
             f"sasl.oauthbearer.jwks.endpoint.url: file://{jwks_path}\n"
             "sasl.oauthbearer.expected.audience: kafka\n"
             "sasl.oauthbearer.expected.issuer: https://issuer.example\n")
    with oauth_broker(extra) as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"

        def claims(**extra_claims):
            now = int(time.time())
            return {"sub": "svc-orders", "iat": now, "exp": now + 300, "aud": "kafka",
                    "iss": "https://issuer.example", **extra_claims}

        def settings(token):
            # confluent-kafka's oauth_cb: librdkafka sends the token it returns.
            return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
                    "oauth_cb": lambda _config: (token, time.time() + 300)}

        confluent_roundtrip(bootstrap, settings(signed_token(key, claims())), "jwks-topic")
        assert "authenticated as User:svc-orders with OAUTHBEARER" in broker.log()
        assert_refused(bootstrap, settings(signed_token(other, claims())), '{"status":"invalid_token"}')
        assert_refused(bootstrap, settings(signed_token(key, claims(aud="elsewhere"))), "invalid_token")
        assert_refused(bootstrap, settings(unsecured_token(claims())), "invalid_token")
        log = broker.log()
        assert "the JWS signature is not valid" in log and "Audience (aud) claim" in log
    shutil.rmtree(keys_dir, ignore_errors=True)


def test_bad_oauthbearer_settings_stop_the_start():
    broker = oauth_broker("listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class: "
                          "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler\n"
                          "sasl.oauthbearer.jwks.endpoint.url: file:///nonexistent/jwks.json\n")
    try:
        broker.start()
        raise AssertionError("stratad started with an unreadable JWKS file")
    except RuntimeError as e:
        assert "cannot read the JWKS file /nonexistent/jwks.json" in str(e), str(e)
    finally:
        broker.stop()
        shutil.rmtree(broker.workdir, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_librdkafka_unsecured_jwt_and_required_scope, test_error_json_then_failure_and_malformed_messages,
               test_kafka_python_raw_tokens, test_jwks_file_validator_with_oauth_cb, test_bad_oauthbearer_settings_stop_the_start])
