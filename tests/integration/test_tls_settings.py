#!/usr/bin/python3
"""TLS settings beyond the basics, with real clients and openssl-made
certificates: ssl.principal.mapping.rules (KIP-371) turning a client
certificate's subject into the principal the ACLs name (and refusing a
subject no rule applies to); bad rules stopping the broker at start with
the reason; the key store reloaded when its file changes (new connections
get the new certificate, a certificate with another subject or a broken file
is refused and the old one kept); per-listener listener.name.<l>.ssl.*
overrides (another certificate and no client authentication on one
listener)."""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import uuid

from harness import Broker, free_port, run_tests, wait_for
from test_tls import make_certs, refused, ssl_settings

from confluent_kafka import Producer
from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, NewTopic, ResourcePattern, \
    ResourceType

TOPIC_AUTHORIZATION_FAILED = 29
_CERTS = None


def test_certs(directory):
    """scripts/make-test-certs.sh's files in `directory`: made once (RSA key
    generation is the slow part), copied for each broker."""
    global _CERTS
    if _CERTS is None:
        _CERTS = tempfile.mkdtemp(prefix="strata-it-certs-")
        make_certs(_CERTS)
    shutil.copytree(_CERTS, directory)
    return {name: os.path.join(directory, name) for name in os.listdir(directory)}


def ssl_broker(yaml, listeners):
    """A broker with a PLAINTEXT listener (for the admin) and `listeners`
    ({name: protocol}) on free ports; `yaml` is added to the configuration,
    with {certs} the directory of scripts/make-test-certs.sh's files."""
    broker = Broker()
    broker.ports = {name: free_port() for name in listeners}
    broker.env["STRATA_LISTENERS"] = ",".join([f"PLAINTEXT://127.0.0.1:{broker.port}"] +
                                              [f"{n}://127.0.0.1:{p}" for n, p in broker.ports.items()])
    certs_dir = os.path.join(broker.workdir, "certs")
    broker.certs = test_certs(certs_dir)
    protocol_map = ",".join(["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"] +
                            [f"{n}:{p}" for n, p in listeners.items()])
    broker.config = os.path.join(broker.workdir, "tls.yaml")
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                           "single-node.yaml")) as fh:
        text = fh.read().replace("log.level: info", "log.level: debug")
    with open(broker.config, "w") as fh:
        fh.write(text + f"listener.security.protocol.map: {protocol_map}\n" + yaml.format(certs=certs_dir))
    return broker


def served_certificate(port, cafile):
    """The DER bytes of the certificate the broker serves on `port`, verified against `cafile`."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True)


def pem_der(path):
    with open(path) as fh:
        text = fh.read()
    begin = text.index("-----BEGIN CERTIFICATE-----")
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(text[begin:end])


def make_keystore(certs, subject, path):
    """A new key and certificate signed by the test CA (ca.pem), for 127.0.0.1
    and localhost as the broker's, written as one PEM key store at `path`
    (renamed into place, as a certificate manager would)."""
    work = tempfile.mkdtemp(prefix="strata-it-certs-")
    try:
        key, csr, cert, ext = (os.path.join(work, n) for n in ("key.pem", "req.csr", "cert.pem", "ext"))
        with open(ext, "w") as fh:
            fh.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                        "-subj", subject], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", certs["ca.pem"], "-CAkey", certs["ca-key.pem"],
                        "-CAcreateserial", "-out", cert, "-days", "30", "-extfile", ext], check=True,
                       capture_output=True)
        staged = path + ".new"
        with open(staged, "w") as out:
            for part in (key, cert, certs["ca.pem"]):
                with open(part) as fh:
                    out.write(fh.read())
        os.replace(staged, path)
        return pem_der(cert)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def produce_errors(bootstrap, settings, topic):
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 8000, **settings})
    producer.produce(topic, b"v", on_delivery=lambda err, _m: err is not None and errors.append(err.code()))
    producer.flush(15)
    return errors


def start_fails(broker):
    try:
        broker.start()
    except RuntimeError as e:
        return str(e)
    broker.stop()
    raise AssertionError("stratad started with a configuration it should refuse")


def test_principal_mapping_rules_name_the_acl_principal():
    broker = ssl_broker("ssl.keystore.location: {certs}/broker.pem\n"
                        "ssl.truststore.location: {certs}/ca.pem\n"
                        "ssl.client.auth: required\n"
                        "ssl.principal.mapping.rules: 'RULE:^CN=([^,]+),O=Strata$/$1-app/U'\n"
                        "authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
                        "super.users: User:ANONYMOUS\n", {"SSL": "SSL"})
    with broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        allowed, other = f"mapped-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
        admin.create_topics([NewTopic(allowed, 1, 1), NewTopic(other, 1, 1)])
        grants = [ACL("User:ALICE-APP", "*", op, ACLPermissionType.ALLOW,
                      ResourcePattern(ResourceType.TOPIC, allowed, ACLResourcePatternType.LITERAL))
                  for op in (ACLOperation.WRITE, ACLOperation.DESCRIBE)]
        result = admin.create_acls(grants)
        assert not result["failed"], result
        admin.close()
        bootstrap = f"127.0.0.1:{broker.ports['SSL']}"
        # CN=alice,O=Strata maps to ALICE-APP, whom the ACLs let write `allowed` only.
        wait_for(lambda: produce_errors(bootstrap, ssl_settings(broker.certs), allowed) == [], timeout=15,
                 what="the mapped principal's produce")
        assert produce_errors(bootstrap, ssl_settings(broker.certs), other) == [TOPIC_AUTHORIZATION_FAILED]
        assert "principal User:ALICE-APP" in broker.log()
        # CN=broker (a certificate of the same CA) matches no rule: refused.
        assert refused(bootstrap, ssl_settings(broker.certs, client="broker"))
        assert "no ssl.principal.mapping.rules rule applies to the certificate subject CN=broker" in broker.log()


def test_bad_settings_stop_the_broker_at_start():
    cases = [
        ("ssl.principal.mapping.rules: 'RULE:^CN=(.*$/$1/'\n", "not a valid regular expression"),
        ("ssl.principal.mapping.rules: 'RULE:^CN=(.*)$/$1/X'\n", "unexpected `X` after the rule"),
        ("ssl.principal.mapping.rules: 'RULE:^CN=(.*)$/$1/,nonsense'\n", "invalid rule `nonsense`"),
        ("listener.name.ssl.ssl.principal.mapping.rules: 'RULE:x/y'\n",
         "listener.name.ssl.ssl.principal.mapping.rules: invalid rule"),
        ("listener.name.ssl.ssl.client.auth: sometimes\n", "listener.name.ssl.ssl.client.auth: "),
        ("listener.name.elsewhere.ssl.client.auth: none\n", "ELSEWHERE is not one of the listeners"),
        ("listener.name.ssl.ssl.keystore.location: {certs}/missing.pem\n", "missing.pem"),
    ]
    for yaml, expected in cases:
        broker = ssl_broker("ssl.keystore.location: {certs}/broker.pem\n" + yaml, {"SSL": "SSL"})
        message = start_fails(broker)
        assert expected in message, (yaml, message)
        shutil.rmtree(broker.workdir, ignore_errors=True)


def test_certificate_reload_without_restart():
    broker = ssl_broker("ssl.keystore.location: {certs}/keystore.pem\n", {"SSL": "SSL"})
    shutil.copy(broker.certs["broker.pem"], os.path.join(os.path.dirname(broker.certs["broker.pem"]), "keystore.pem"))
    keystore = os.path.join(os.path.dirname(broker.certs["broker.pem"]), "keystore.pem")
    ca = broker.certs["ca.pem"]
    with broker:
        port = broker.ports["SSL"]
        bootstrap = f"127.0.0.1:{port}"
        client = {"security.protocol": "SSL", "ssl.ca.location": ca}
        assert served_certificate(port, ca) == pem_der(broker.certs["broker-cert.pem"])
        # A producer connected before the renewal keeps working after it.
        errors = []
        early = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 8000, **client})
        early.produce("reload", b"before", on_delivery=lambda err, _m: err and errors.append(err))
        assert early.flush(15) == 0 and not errors, errors

        renewed = make_keystore(broker.certs, "/CN=broker", keystore)
        assert served_certificate(port, ca) == renewed  # the very next connection
        assert produce_errors(bootstrap, client, "reload") == []
        early.produce("reload", b"after", on_delivery=lambda err, _m: err and errors.append(err))
        assert early.flush(15) == 0 and not errors, errors
        assert "reloaded the TLS key store and trust store" in broker.log()

        # Another subject (ssl.allow.dn.changes is false) and a broken file
        # are refused: the renewed certificate stays.
        make_keystore(broker.certs, "/CN=imposter", keystore)
        assert served_certificate(port, ca) == renewed
        assert "the new certificate's subject CN=imposter is not the old one's (CN=broker)" in broker.log()
        with open(keystore + ".new", "w") as fh:
            fh.write("-----BEGIN PRIVATE KEY-----\ngarbage\n")
        os.replace(keystore + ".new", keystore)
        assert served_certificate(port, ca) == renewed
        assert broker.log().count("the changed TLS files were not loaded") == 2
        # And a good one again after that.
        again = make_keystore(broker.certs, "/CN=broker", keystore)
        assert served_certificate(port, ca) == again != renewed
        assert produce_errors(bootstrap, client, "reload") == []
        early.flush(1)


def test_listener_prefixed_ssl_settings():
    # PARTNER serves the certificate of another CA and asks for no client
    # certificate; SSL keeps the top-level settings (client certificate required).
    broker = ssl_broker("ssl.keystore.location: {certs}/broker.pem\n"
                        "ssl.truststore.location: {certs}/ca.pem\n"
                        "ssl.client.auth: required\n"
                        "listener.name.partner.ssl.keystore.location: {certs}/partner/broker.pem\n"
                        "listener.name.partner.ssl.client.auth: none\n", {"SSL": "SSL", "PARTNER": "SSL"})
    partner = make_certs(os.path.join(broker.workdir, "certs", "partner"))
    with broker:
        certs = broker.certs
        assert served_certificate(broker.ports["SSL"], certs["ca.pem"]) == pem_der(certs["broker-cert.pem"])
        assert served_certificate(broker.ports["PARTNER"], partner["ca.pem"]) == pem_der(partner["broker-cert.pem"])
        partner_client = {"security.protocol": "SSL", "ssl.ca.location": partner["ca.pem"]}
        assert produce_errors(f"127.0.0.1:{broker.ports['PARTNER']}", partner_client, "partner") == []
        assert produce_errors(f"127.0.0.1:{broker.ports['SSL']}", ssl_settings(certs), "partner") == []
        assert refused(f"127.0.0.1:{broker.ports['SSL']}", ssl_settings(certs, client=None))


if __name__ == "__main__":
    try:
        run_tests([test_principal_mapping_rules_name_the_acl_principal, test_bad_settings_stop_the_broker_at_start,
                   test_certificate_reload_without_restart, test_listener_prefixed_ssl_settings])
    finally:
        if _CERTS:
            shutil.rmtree(_CERTS, ignore_errors=True)
