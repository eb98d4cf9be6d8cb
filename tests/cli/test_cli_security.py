#!/usr/bin/python3
"""The strata CLI over SASL and TLS (--command-config in Kafka's
client-properties format) and `strata user create|list|delete` for SCRAM
users, against a real stratad with PLAINTEXT, SSL and SASL_SSL listeners."""

import os
import subprocess
import sys

from cli_support import run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import run_tests  # noqa: E402
from test_tls import tls_broker, sasl_ssl_settings, ssl_settings  # noqa: E402


def properties(path, **settings):
    with open(path, "w") as fh:
        fh.write("# written by test_cli_security.py\n")
        for key, value in settings.items():
            fh.write(f"{key.replace('_', '.')}={value}\n")
    return path


def test_users_and_secure_connections():
    with tls_broker(client_auth="requested") as broker:
        plain = broker.bootstrap
        created = run(["user", "create", "alice", "--password", "alice-secret", "-m", "SCRAM-SHA-512",
                       "-m", "SCRAM-SHA-256", "--iterations", "8192"], plain)
        assert created.code == 0, created
        listed = run(["user", "list"], plain)
        assert listed.code == 0, listed
        assert "alice  SCRAM-SHA-256  8192" in listed.out and "alice  SCRAM-SHA-512  8192" in listed.out, listed

        certs = broker.certs
        scram = properties(os.path.join(broker.workdir, "scram.properties"), security_protocol="SASL_SSL",
                           sasl_mechanism="SCRAM-SHA-512", ssl_ca_location=certs["ca.pem"],
                           sasl_jaas_config='org.apache.kafka.common.security.scram.ScramLoginModule required '
                                            'username="alice" password="alice-secret";')
        sasl_ssl = f"127.0.0.1:{broker.sasl_ssl_port}"
        assert run(["--command-config", scram, "topic", "create", "secure", "-p", "1"], sasl_ssl).code == 0
        produced = run(["--command-config", scram, "produce", "secure"], sasl_ssl, input="over\ntls\n")
        assert produced.code == 0, produced
        consumed = run(["--command-config", scram, "consume", "secure", "-n", "2"], sasl_ssl)
        assert consumed.code == 0 and consumed.out.split() == ["over", "tls"], consumed

        wrong = properties(os.path.join(broker.workdir, "wrong.properties"), security_protocol="SASL_SSL",
                           sasl_mechanism="SCRAM-SHA-512", sasl_username="alice", sasl_password="nope",
                           ssl_ca_location=certs["ca.pem"])
        refused = run(["--command-config", wrong, "cluster", "info"], sasl_ssl)
        assert refused.code == 1 and "SASL_AUTHENTICATION_FAILED" in refused.err, refused

        mtls = properties(os.path.join(broker.workdir, "mtls.properties"), security_protocol="SSL",
                          ssl_ca_location=certs["ca.pem"], ssl_certificate_location=certs["client-cert.pem"],
                          ssl_key_location=certs["client-key.pem"])
        info = run(["--command-config", mtls, "cluster", "info"], f"127.0.0.1:{broker.ssl_port}")
        assert info.code == 0, info
        assert "principal User:CN=alice,O=Strata" in broker.log()

        # A CA the broker's certificate is not from: the handshake fails.
        stranger = properties(os.path.join(broker.workdir, "stranger.properties"), security_protocol="SSL",
                              ssl_ca_location=certs["other-ca.pem"])
        failed = run(["--command-config", stranger, "cluster", "info"], f"127.0.0.1:{broker.ssl_port}")
        assert failed.code == 1 and "TLS handshake" in failed.err, failed

        assert run(["user", "delete", "alice", "-m", "SCRAM-SHA-256"], plain).code == 0
        assert "SCRAM-SHA-256" not in run(["user", "list"], plain).out
        assert run(["user", "delete", "alice"], plain).code == 0
        gone = run(["user", "list", "alice"], plain)
        assert gone.code == 1 and "RESOURCE_NOT_FOUND" in gone.err, gone
        # The deleted user can no longer log in.
        assert run(["--command-config", scram, "cluster", "info"], sasl_ssl).code == 1


if __name__ == "__main__":
    run_tests([test_users_and_secure_connections])
