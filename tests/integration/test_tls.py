#!/usr/bin/python3
"""TLS listeners with real clients and certificates made by
scripts/make-test-certs.sh (the openssl CLI): SSL with a required client
certificate (whose subject becomes the principal) and SASL_SSL with
SCRAM-SHA-512, each with kcat, confluent-kafka-python and kafka-python;
no client certificate, or one from another CA, fails the handshake; large
records come back intact through the copying Fetch path."""

import os
import subprocess
import time
import uuid

from harness import SOURCE_DIR, Broker, free_port, run_tests
from security_support import alter_scram
from test_sasl import kcat_roundtrip

from confluent_kafka import Consumer, KafkaError, Producer


def make_certs(directory):
    subprocess.run([os.path.join(SOURCE_DIR, "scripts", "make-test-certs.sh"), directory], check=True,
                   capture_output=True)
    return {name: os.path.join(directory, name) for name in os.listdir(directory)}


def tls_broker(client_auth="required"):
    broker = Broker()
    broker.ssl_port, broker.sasl_ssl_port = free_port(), free_port()
    broker.env["STRATA_LISTENERS"] = (f"PLAINTEXT://127.0.0.1:{broker.port},SSL://127.0.0.1:{broker.ssl_port},"
                                      f"SASL_SSL://127.0.0.1:{broker.sasl_ssl_port}")
    broker.certs = make_certs(os.path.join(broker.workdir, "certs"))
    config = os.path.join(broker.workdir, "tls.yaml")
    with open(os.path.join(SOURCE_DIR, "config", "single-node.yaml")) as fh:
        text = fh.read()
    text += (f"ssl.keystore.location: {broker.certs['broker.pem']}\n"
             f"ssl.truststore.location: {broker.certs['ca.pem']}\n"
             f"ssl.client.auth: {client_auth}\n"
             "sasl.enabled.mechanisms: SCRAM-SHA-512\n"
             "")
    text = text.replace("log.level: info", "log.level: debug")
    with open(config, "w") as fh:
        fh.write(text)
    broker.config = config
    return broker


def ssl_settings(certs, client="client"):
    settings = {"security.protocol": "SSL", "ssl.ca.location": certs["ca.pem"]}
    if client:
        settings["ssl.certificate.location"] = certs[f"{client}-cert.pem"]
        settings["ssl.key.location"] = certs[f"{client}-key.pem"]
    return settings


def sasl_ssl_settings(certs, user, password):
    return {"security.protocol": "SASL_SSL", "ssl.ca.location": certs["ca.pem"], "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": user, "sasl.password": password}


def confluent_large_roundtrip(bootstrap, settings, topic, count=20, size=300_000):
    """Records of `size` bytes: several copy chunks per Fetch on TLS."""
    errors = []
    values = [os.urandom(size) for _ in range(count)]
    producer = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, "message.max.bytes": 2_000_000,
                         **settings})
    for v in values:
        producer.produce(topic, v)
    assert producer.flush(30) == 0, errors
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", **settings})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < count and time.monotonic() < deadline:
        m = consumer.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    consumer.close()
    assert got == values, (len(got), count)


def kafka_python_roundtrip(bootstrap, topic, **security):
    from kafka import KafkaConsumer, KafkaProducer
    producer = KafkaProducer(bootstrap_servers=bootstrap, **security)
    for i in range(3):
        producer.send(topic, f"t{i}".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, **security)
    got = [m.value for m in consumer]
    consumer.close()
    assert got == [f"t{i}".encode() for i in range(3)], got


def refused(bootstrap, settings):
    """True if librdkafka cannot get through (handshake or authentication failure)."""
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "error_cb": errors.append, **settings})
    producer.produce("refused", b"x")
    deadline = time.monotonic() + 10
    while not errors and time.monotonic() < deadline:
        producer.poll(0.2)
    producer.purge()
    return any(e.code() in (KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._AUTHENTICATION,
                            KafkaError._ALL_BROKERS_DOWN) for e in errors)


def test_ssl_with_client_certificates():
    with tls_broker() as broker:
        bootstrap = f"127.0.0.1:{broker.ssl_port}"
        certs = broker.certs
        kcat_roundtrip(bootstrap, ssl_settings(certs), "ssl-kcat")
        confluent_large_roundtrip(bootstrap, ssl_settings(certs), "ssl-confluent")
        kafka_python_roundtrip(bootstrap, "ssl-kafka-python", security_protocol="SSL", ssl_cafile=certs["ca.pem"],
                               ssl_certfile=certs["client-cert.pem"], ssl_keyfile=certs["client-key.pem"])
        log = broker.log()
        assert "principal User:CN=alice,O=Strata" in log
        assert "TLSv1.3" in log
        # Without a certificate, or with one from another CA: no connection.
        assert refused(bootstrap, ssl_settings(certs, client=None))
        assert refused(bootstrap, ssl_settings(certs, client="stranger"))
        assert "TLS handshake failed" in broker.log()


def test_sasl_ssl_with_scram():
    with tls_broker(client_auth="none") as broker:
        assert alter_scram(broker.port, upserts=[("frank", 2, "frank-secret", 4096)]) == {"frank": (0, None)}
        bootstrap = f"127.0.0.1:{broker.sasl_ssl_port}"
        settings = sasl_ssl_settings(broker.certs, "frank", "frank-secret")
        kcat_roundtrip(bootstrap, settings, "sasl-ssl-kcat")
        confluent_large_roundtrip(bootstrap, settings, "sasl-ssl-confluent", count=5)
        kafka_python_roundtrip(bootstrap, "sasl-ssl-kafka-python", security_protocol="SASL_SSL",
                               ssl_cafile=broker.certs["ca.pem"], sasl_mechanism="SCRAM-SHA-512",
                               sasl_plain_username="frank", sasl_plain_password="frank-secret")
        assert "authenticated as User:frank with SCRAM-SHA-512" in broker.log()
        assert refused(bootstrap, sasl_ssl_settings(broker.certs, "frank", "wrong"))
        # The SSL listener without client authentication: User:ANONYMOUS.
        kcat_roundtrip(f"127.0.0.1:{broker.ssl_port}", ssl_settings(broker.certs, client=None), "ssl-anonymous")


def test_the_example_config_serves_sasl_ssl_and_ssl():
    """config/secure-single-node.yaml as shipped, on free ports, with
    certificates where it expects them (./certs)."""
    broker = Broker()
    sasl_ssl, ssl = free_port(), free_port()
    listeners = f"PLAINTEXT://127.0.0.1:{broker.port},SASL_SSL://127.0.0.1:{sasl_ssl},SSL://127.0.0.1:{ssl}"
    broker.env["STRATA_LISTENERS"] = listeners
    broker.env["STRATA_ADVERTISED_LISTENERS"] = listeners
    broker.config = os.path.join(SOURCE_DIR, "config", "secure-single-node.yaml")
    certs = make_certs(os.path.join(broker.workdir, "certs"))
    with broker:
        kcat_roundtrip(f"127.0.0.1:{sasl_ssl}", {"security.protocol": "SASL_SSL", "ssl.ca.location": certs["ca.pem"],
                                                  "sasl.mechanisms": "PLAIN", "sasl.username": "admin",
                                                  "sasl.password": "admin-secret"}, "example-sasl-ssl")
        kcat_roundtrip(f"127.0.0.1:{ssl}", ssl_settings(certs), "example-ssl")
        assert refused(f"127.0.0.1:{sasl_ssl}", {"security.protocol": "SASL_SSL", "ssl.ca.location": certs["ca.pem"],
                                                 "sasl.mechanisms": "PLAIN", "sasl.username": "admin",
                                                 "sasl.password": "guess"})


def acceptable_ca_names(port, version):
    """The CA names the broker's CertificateRequest lists, as `openssl
    s_client` prints them (TLS 1.2: the request's certificate_authorities;
    TLS 1.3: its extension of that name)."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", f"-{version}"],
                         input=b"", capture_output=True, timeout=30).stdout.decode(errors="replace")
    assert "Acceptable client certificate CA names" in out or "No client certificate CA names sent" in out, out
    names = []
    if "Acceptable client certificate CA names" in out:
        for line in out.split("Acceptable client certificate CA names", 1)[1].splitlines()[1:]:
            if not line.strip() or ":" in line:  # the next field ("Requested Signature Algorithms: ...")
                break
            names.append(line.strip())
    return names


def test_certificate_request_names_the_trusted_cas():
    """Like Kafka's brokers (Java's trust manager names its accepted
    issuers), a CertificateRequest lists the trust store's CAs: librdkafka
    (2.12, its rd_kafka_ssl_cert_callback) sends no certificate from another CA, so with
    ssl.client.auth=requested such a client still connects (and may log in
    with SASL on SASL_SSL) instead of failing the handshake."""
    for client_auth in ("required", "requested"):
        with tls_broker(client_auth=client_auth) as broker:
            for version in ("tls1_2", "tls1_3"):
                names = acceptable_ca_names(broker.ssl_port, version)
                assert names == ["CN = Strata Test CA"], (client_auth, version, names)


if __name__ == "__main__":
    run_tests([test_ssl_with_client_certificates, test_sasl_ssl_with_scram,
               test_the_example_config_serves_sasl_ssl_and_ssl, test_certificate_request_names_the_trusted_cas])
