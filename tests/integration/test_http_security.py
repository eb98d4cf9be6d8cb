#!/usr/bin/python3
"""The HTTP listener secured: `https://` with the broker's key store, and
HTTP Basic authentication (`http.authentication.method: BASIC`) against the
broker's SASL users (PLAIN from the configuration, SCRAM from the metadata
image), with the REST proxy acting as the authenticated user so that ACLs
apply to it. Python's urllib over real TLS, the certificates made by
scripts/make-test-certs.sh, the ACLs granted with kafka-python."""

import base64
import json
import os
import socket
import ssl
import urllib.error
import urllib.request

from harness import free_port, run_tests, wait_for
from security_support import PLAIN_USERS, alter_scram, sasl_broker
from test_tls import make_certs

from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

# The PLAINTEXT listener is the test's own back door (ANONYMOUS is a super
# user there); the REST proxy's requests carry the Basic user instead.
AUTHORIZER = ("authorizer.class.name: org.apache.kafka.metadata.authorizer.StandardAuthorizer\n"
              "super.users: User:admin;User:ANONYMOUS\n")


def secured_broker():
    broker = sasl_broker(AUTHORIZER)
    broker.certs = make_certs(os.path.join(broker.workdir, "certs"))
    with open(broker.config, "a") as fh:
        fh.write(f"ssl.keystore.location: {broker.certs['broker.pem']}\n"
                 "http.authentication.method: BASIC\n"
                 "http.authentication.realm: strata-test\n")
    broker.env["STRATA_HTTP_LISTENERS"] = f"https://127.0.0.1:{broker.http_port}"
    return broker


def https(broker, method, path, user=None, password=None, body=None):
    """(status, headers, parsed body) over TLS, verifying the broker's certificate."""
    context = ssl.create_default_context(cafile=broker.certs["ca.pem"])
    headers = {}
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(f"https://127.0.0.1:{broker.http_port}{path}", data=data, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20, context=context) as response:
            text = response.read().decode()
            return response.status, response.headers, json.loads(text) if text.startswith("{") else text
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, e.headers, json.loads(text) if text.startswith("{") else text


def as_user(user):
    return dict(user=user, password=PLAIN_USERS[user])


def test_https_and_basic_authentication():
    with secured_broker() as broker:
        # Probes need no credentials.
        status, _, body = https(broker, "GET", "/health/live")
        assert status == 200, (status, body)
        # Everything else does: a challenge, Confluent's error shape.
        status, headers, body = https(broker, "GET", "/metrics")
        assert status == 401, (status, body)
        assert headers["WWW-Authenticate"].startswith('Basic realm="strata-test"'), headers
        assert body["error_code"] == 401, body
        status, _, _ = https(broker, "GET", "/metrics", user="alice", password="wrong")
        assert status == 401
        status, _, _ = https(broker, "GET", "/metrics", user="nobody", password="alice-secret")
        assert status == 401
        status, _, text = https(broker, "GET", "/metrics", **as_user("alice"))
        assert status == 200 and "strata_" in text, status

        # Plain HTTP on the TLS port gets no HTTP answer.
        with socket.create_connection(("127.0.0.1", broker.http_port), timeout=5) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = sock.recv(100)
            except (ConnectionResetError, socket.timeout):
                answer = b""
            assert not answer.startswith(b"HTTP/"), answer

        # The REST proxy acts as the Basic user: admin (a super user) may
        # create a topic, alice may not write to it until an ACL says so.
        status, _, clusters = https(broker, "GET", "/v3/clusters", **as_user("admin"))
        assert status == 200, clusters
        cid = clusters["data"][0]["cluster_id"]
        status, _, created = https(broker, "POST", f"/v3/clusters/{cid}/topics", **as_user("admin"),
                                   body={"topic_name": "secured", "partitions_count": 1})
        assert status == 201, created
        status, _, created = https(broker, "POST", f"/v3/clusters/{cid}/topics", **as_user("alice"),
                                   body={"topic_name": "not-alices", "partitions_count": 1})
        assert status == 403, created
        records = f"/v3/clusters/{cid}/topics/secured/records"
        record = {"value": {"type": "STRING", "data": "hello"}}
        status, _, refused = https(broker, "POST", records, **as_user("alice"), body=record)
        assert status == 403 and refused["error_code"] == 40301, (status, refused)

        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
        try:
            result = admin.create_acls([ACL(principal="User:alice", host="*", operation=ACLOperation.WRITE,
                                            permission_type=ACLPermissionType.ALLOW,
                                            resource_pattern=ResourcePattern(ResourceType.TOPIC, "secured",
                                                                             ACLResourcePatternType.LITERAL))])
            assert not result["failed"], result
        finally:
            admin.close()
        status, _, report = wait_for(
            lambda: (lambda r: r if r[0] == 200 else None)(https(broker, "POST", records, **as_user("alice"),
                                                                 body=record)),
            what="alice's REST produce once the ACL reaches the authorizer")
        assert report["error_code"] == 200 and report["offset"] == 0, report


def test_basic_authentication_with_scram_users():
    with secured_broker() as broker:
        assert alter_scram(broker.port, upserts=[("carol", 2, "carol-pw", 4096)]) == {"carol": (0, None)}
        status, _, _ = wait_for(
            lambda: (lambda r: r if r[0] == 200 else None)(https(broker, "GET", "/metrics", "carol", "carol-pw")),
            what="carol's SCRAM credential in the image")
        status, _, _ = https(broker, "GET", "/metrics", "carol", "other")
        assert status == 401
        # A changed password: the old one stops working at once (the checker
        # remembers a password only together with the credential it matched).
        assert alter_scram(broker.port, upserts=[("carol", 2, "carol-new", 4096)]) == {"carol": (0, None)}
        wait_for(lambda: https(broker, "GET", "/metrics", "carol", "carol-new")[0] == 200,
                 what="carol's new password")
        assert https(broker, "GET", "/metrics", "carol", "carol-pw")[0] == 401


if __name__ == "__main__":
    run_tests([test_https_and_basic_authentication, test_basic_authentication_with_scram_users])
