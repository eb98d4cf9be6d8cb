#!/usr/bin/python3
"""KafkaJS (npm, unmodified) over SASL_SSL + SCRAM-SHA-512, SASL_PLAINTEXT +
PLAIN and SSL with a client certificate; a wrong password is refused
(SASL_AUTHENTICATION_FAILED, which KafkaJS reports as
KafkaJSSASLAuthenticationError with the broker's message)."""

import json
import os
import subprocess

from harness import ensure_node_modules, run_tests
from security_support import PLAIN_USERS, alter_scram, sasl_broker
from test_tls import tls_broker


def kafkajs(bootstrap, topic, settings):
    cwd = ensure_node_modules()
    run = subprocess.run(["node", os.path.join(cwd, "js", "kafkajs_secure.js"), bootstrap, topic,
                          json.dumps(settings)], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_kafkajs_sasl_ssl_scram_and_ssl_client_certificate():
    with tls_broker() as broker:
        assert alter_scram(broker.port, upserts=[("gina", 2, "gina-secret", 4096)]) == {"gina": (0, None)}
        certs = broker.certs
        tls = {"ca": certs["ca.pem"], "cert": certs["client-cert.pem"], "key": certs["client-key.pem"]}
        scram = {"mechanism": "scram-sha-512", "username": "gina", "password": "gina-secret"}
        assert kafkajs(f"127.0.0.1:{broker.sasl_ssl_port}", "js-scram", {"ssl": tls, "sasl": scram}) == \
            {"ok": True, "high": "3"}
        assert kafkajs(f"127.0.0.1:{broker.ssl_port}", "js-mtls", {"ssl": tls}) == {"ok": True, "high": "3"}
        wrong = kafkajs(f"127.0.0.1:{broker.sasl_ssl_port}", "js-wrong",
                        {"ssl": tls, "sasl": dict(scram, password="nope")})
        # KafkaJS turns SASL_AUTHENTICATION_FAILED into this error, with the broker's message.
        assert not wrong["ok"] and wrong["error"].startswith("KafkaJSSASLAuthenticationError"), wrong
        assert "invalid credentials" in wrong["error"], wrong
        assert "authenticated as User:gina with SCRAM-SHA-512" in broker.log()


def test_kafkajs_sasl_plaintext_plain():
    with sasl_broker() as broker:
        plain = {"mechanism": "plain", "username": "alice", "password": PLAIN_USERS["alice"]}
        assert kafkajs(f"127.0.0.1:{broker.sasl_port}", "js-plain", {"sasl": plain}) == {"ok": True, "high": "3"}


if __name__ == "__main__":
    run_tests([test_kafkajs_sasl_ssl_scram_and_ssl_client_certificate, test_kafkajs_sasl_plaintext_plain])
