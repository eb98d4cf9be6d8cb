#!/usr/bin/python3
"""KIP-48 delegation tokens (issue 16) on a three-node cluster, driven by
@platformatic/kafka (the installed client with the four token APIs; its
`sasl.authenticate` hook sends SCRAM's tokenauth=true extension, which no
installed client's own SCRAM does): js/delegation_tokens.js.

Each node has a SASL_PLAINTEXT listener (SCRAM users from
AlterUserScramCredentials), the same delegation.token.secret.key, ACLs on
(allow.everyone.if.no.acl.found, with ACLs on the User and DelegationToken
resources the checks need) and a 1 s expiry check.

Checked: a token created through node 1 authenticates its owner on node 3
(a Producer whose records land), and node 3's log says so; creating for
another user needs CREATE_TOKENS on that User (v3's owner, KIP-373);
non-User renewers, a PLAINTEXT connection and a token-authenticated one are
refused with Kafka's codes; DescribeDelegationToken shows a principal its
own tokens (owner, requester, renewer) and those it has DESCRIBE_TOKENS
on, filters by owner, and returns the HMAC; renewal by a renewer extends
the expiry, by anyone else is OWNER_MISMATCH; an expired token (expire now)
is gone from every node and authenticates nobody, and one given a zero
expiry period is removed by the controller's periodic check. A broker
without the secret key answers DELEGATION_TOKEN_AUTH_DISABLED."""

import base64
import hashlib
import hmac as hmac_lib
import json
import os
import socket
import subprocess
import time

from harness import SOURCE_DIR, Cluster, ensure_node_modules, free_port, registered_brokers, run_tests, wait_for
from security_support import alter_scram, sasl_broker

from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.conn import BrokerConnection
from kafka.protocol.admin import CreateAclsRequest

SECRET = "token-secret-for-the-test"
USERS = {u: f"{u}-secret" for u in ("alice", "bob", "carol", "dave")}
NONE, REQUEST_NOT_ALLOWED, AUTHORIZATION_FAILED = 0, 64, 65
AUTH_DISABLED, NOT_FOUND, OWNER_MISMATCH, INVALID_PRINCIPAL_TYPE = 61, 62, 63, 67
DAY, WEEK = 86400000, 604800000
# Kafka's ACL codes: resource USER 7, DELEGATION_TOKEN 6; operations
# DESCRIBE 8, CREATE_TOKENS 13, DESCRIBE_TOKENS 14; LITERAL 3, ALLOW 3.
ACLS = [(7, "User:bob", "User:alice", 13), (7, "User:alice", "User:carol", 14),
        (7, "User:carol", "User:admin", 13), (6, "*", "User:admin", 8)]


def steps(*items, timeout=60):
    """Runs js/delegation_tokens.js once for all `items`; their results."""
    here = ensure_node_modules()
    out = subprocess.run(["node", os.path.join(here, "js", "delegation_tokens.js"), json.dumps(list(items))],
                         capture_output=True, text=True, timeout=timeout, cwd=here)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def token_cluster():
    cluster = Cluster(3)
    for node in cluster.nodes:
        node.sasl_port = free_port()
        node.env.update({
            "STRATA_LISTENERS": (f"PLAINTEXT://127.0.0.1:{node.port},CLIENTS://127.0.0.1:{node.sasl_port},"
                                 f"CONTROLLER://127.0.0.1:{node.controller_port}"),
            "STRATA_ADVERTISED_LISTENERS": (f"PLAINTEXT://127.0.0.1:{node.port},"
                                            f"CLIENTS://127.0.0.1:{node.sasl_port}"),
            "STRATA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CLIENTS:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
            "STRATA_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-256,SCRAM-SHA-512",
            "STRATA_DELEGATION_TOKEN_SECRET_KEY": SECRET,
            "STRATA_DELEGATION_TOKEN_EXPIRY_CHECK_INTERVAL_MS": "1000",
            # The nodes and the harness speak PLAINTEXT as User:ANONYMOUS.
            "STRATA_AUTHORIZER_CLASS_NAME": "StandardAuthorizer",
            "STRATA_SUPER_USERS": "User:ANONYMOUS;User:admin",
            "STRATA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "true",
        })
    return cluster


def create_acls(port):
    conn = BrokerConnection("127.0.0.1", port, socket.AF_INET)
    conn.connect_blocking(10)
    request = CreateAclsRequest[1](creations=[(rtype, name, 3, principal, "*", op, 3)
                                              for rtype, name, principal, op in ACLS])
    future = conn.send(request)
    deadline = time.monotonic() + 10
    while not future.is_done and time.monotonic() < deadline:
        for response, f in conn.recv():
            f.success(response)
        time.sleep(0.001)
    assert future.succeeded() and [r[0] for r in future.value.creation_responses] == [0] * len(ACLS), future.value
    conn.close()


STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(SOURCE_DIR, "build", "src", "strata")))


def strata_cli(node, user, *args):
    """`strata --command-config <user's SCRAM login> -b <node's SASL port> -o json ...`."""
    config = os.path.join(node.workdir, f"{user}.properties")
    with open(config, "w") as fh:
        fh.write(f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.username={user}\n"
                 f"sasl.password={USERS[user]}\n")
    out = subprocess.run([STRATA, "--command-config", config, "-b", f"127.0.0.1:{node.sasl_port}", "-o", "json",
                          *args], capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout, out.stderr


def who(user, node, **extra):
    return dict(at=f"127.0.0.1:{node.sasl_port}", user=user, password=USERS[user], **extra)


def with_token(token, node, **extra):
    return dict(at=f"127.0.0.1:{node.sasl_port}", token={"id": token["tokenId"], "hmac": token["hmac"]}, **extra)


def listed(result):
    assert result["error"] == NONE, result
    return sorted(t["tokenId"] for t in result["tokens"])


def test_tokens_across_a_three_node_cluster():
    with token_cluster() as cluster:
        one, two, three = cluster.nodes
        probe = AdminClient({"bootstrap.servers": one.bootstrap})
        wait_for(lambda: registered_brokers(probe) == 3, timeout=30, what="three brokers")
        admin = KafkaAdminClient(bootstrap_servers=one.bootstrap)
        results = alter_scram(one.port, upserts=[(u, 2, p, 4096) for u, p in USERS.items()])
        assert all(e == 0 for e, _ in results.values()), results
        create_acls(one.port)
        admin.create_topics([NewTopic("tokens", 1, 3)])
        admin.close()

        before = int(time.time() * 1000)
        a, b, refused_for_bob, group_renewer, plaintext = steps(
            who("alice", one, op="create", renewers=[{"type": "User", "name": "bob"}]),
            who("alice", one, op="create", owner={"type": "User", "name": "bob"}),
            who("carol", one, op="create", owner={"type": "User", "name": "bob"}),
            who("alice", one, op="create", renewers=[{"type": "Group", "name": "g"}]),
            dict(at=f"127.0.0.1:{one.port}", plaintext=True, op="create"))
        after = int(time.time() * 1000)
        assert a["error"] == NONE, a
        assert (a["principalName"], a["tokenRequesterPrincipalName"]) == ("alice", "alice"), a
        assert before <= a["issueTimestampMs"] <= after
        assert a["maxTimestampMs"] - a["issueTimestampMs"] == WEEK, a
        assert a["expiryTimestampMs"] - a["issueTimestampMs"] == DAY, a
        # The HMAC is Kafka's: HmacSHA512(secret, token id).
        expected = hmac_lib.new(SECRET.encode(), a["tokenId"].encode(), hashlib.sha512).digest()
        assert base64.b64decode(a["hmac"]) == expected
        assert b["error"] == NONE and (b["principalName"], b["tokenRequesterPrincipalName"]) == ("bob", "alice"), b
        assert refused_for_bob["error"] == AUTHORIZATION_FAILED, refused_for_bob
        assert group_renewer["error"] == INVALID_PRINCIPAL_TYPE, group_renewer
        assert plaintext["error"] == REQUEST_NOT_ALLOWED, plaintext

        # The token, created through node 1, authenticates alice on node 3.
        produced, from_token, wrong_hmac = steps(
            with_token(a, three, op="produce", topic="tokens", count=5),
            with_token(a, three, op="create"),
            dict(with_token(a, three, op="describe"), token={"id": a["tokenId"], "hmac": b["hmac"]}))
        assert produced.get("produced") == 5, produced
        assert from_token["error"] == REQUEST_NOT_ALLOWED, from_token
        assert wrong_hmac.get("authFailed"), wrong_hmac
        assert f"authenticated as User:alice with SCRAM-SHA-512 (delegation token)" in three.log()

        # Describe, on node 3: own tokens, DESCRIBE_TOKENS, owner filters.
        as_alice, as_bob, as_carol, as_dave, bob_owned, carol_owned, nothing = steps(
            who("alice", three, op="describe"), who("bob", three, op="describe"),
            who("carol", three, op="describe"), who("dave", three, op="describe"),
            who("alice", three, op="describe", owners=[{"type": "User", "name": "bob"}]),
            who("alice", three, op="describe", owners=[{"type": "User", "name": "carol"}]),
            who("alice", three, op="describe", owners=[]))
        both = sorted([a["tokenId"], b["tokenId"]])
        assert listed(as_alice) == both  # owner of one, requester of the other
        assert listed(as_bob) == both  # renewer of one, owner of the other
        assert listed(as_carol) == [a["tokenId"]]  # DESCRIBE_TOKENS on User:alice
        assert listed(as_dave) == []
        assert listed(bob_owned) == both and listed(carol_owned) == [] and listed(nothing) == []
        # `strata token describe|create` over SASL: the same view, Kafka's refusal.
        code, out, err = strata_cli(three, "carol", "token", "describe")
        assert code == 0 and [t["token_id"] for t in json.loads(out)] == [a["tokenId"]], (code, out, err)
        code, out, err = strata_cli(two, "carol", "token", "create", "--owner-principal", "User:bob")
        assert code != 0 and "DELEGATION_TOKEN_AUTHORIZATION_FAILED" in err, (code, out, err)
        described = next(t for t in as_alice["tokens"] if t["tokenId"] == a["tokenId"])
        assert described["hmac"] == a["hmac"] and described["renewers"][0]["principalName"] == "bob", described
        assert described["tokenRequesterPrincipalName"] == "alice"

        # Renew: a renewer shortens it to 2 s, the owner extends it again,
        # others may not; an unknown HMAC is not found.
        short, longer, by_carol, unknown = steps(
            who("bob", two, op="renew", hmac=a["hmac"], periodMs=2000),
            who("alice", three, op="renew", hmac=a["hmac"], periodMs=-1),
            who("carol", one, op="renew", hmac=a["hmac"], periodMs=-1),
            who("alice", one, op="renew", hmac=base64.b64encode(b"nope").decode(), periodMs=-1))
        assert short["error"] == NONE and short["expiry"] < a["expiryTimestampMs"], short
        assert longer["error"] == NONE and longer["expiry"] > short["expiry"] + DAY - 60000, longer
        assert by_carol["error"] == OWNER_MISMATCH and unknown["error"] == NOT_FOUND, (by_carol, unknown)
        wait_for(lambda: next(t for t in steps(who("alice", three, op="describe"))[0]["tokens"]
                              if t["tokenId"] == a["tokenId"])["expiryTimestamp"] == longer["expiry"],
                 timeout=10, what="the renewal on node 3")

        # Expire: alice's token now (removed at once), bob's with period 0
        # (expired at once, removed by the controller's next check).
        by_dave, now, zero = steps(
            who("dave", two, op="expire", hmac=a["hmac"], periodMs=-1),
            who("alice", two, op="expire", hmac=a["hmac"], periodMs=-1),
            who("bob", one, op="expire", hmac=b["hmac"], periodMs=0))
        assert by_dave["error"] == OWNER_MISMATCH, by_dave
        assert now["error"] == NONE and zero["error"] == NONE, (now, zero)
        wait_for(lambda: listed(steps(who("bob", three, op="describe"))[0]) == [], timeout=15,
                 what="both tokens gone from node 3")
        for node in (one, two, three):
            refused = steps(with_token(a, node, op="describe"), with_token(b, node, op="describe"))
            assert all(r.get("authFailed") for r in refused), refused
        # b went by the controller's expiry check, not by a request.
        assert any(f"delegation token {b['tokenId']} expired; removing it" in n.log() for n in cluster.nodes)


def test_disabled_without_a_secret_key():
    broker = sasl_broker(extra_env={"STRATA_SASL_ENABLED_MECHANISMS": "PLAIN"})
    with broker:
        at = f"127.0.0.1:{broker.sasl_port}"
        created, described, renewed = steps(
            dict(at=at, user="alice", password="alice-secret", mechanism="PLAIN", op="create"),
            dict(at=at, user="alice", password="alice-secret", mechanism="PLAIN", op="describe"),
            dict(at=at, user="alice", password="alice-secret", mechanism="PLAIN", op="renew",
                 hmac=base64.b64encode(b"x").decode(), periodMs=-1))
        assert created["error"] == AUTH_DISABLED, created
        assert described["error"] == AUTH_DISABLED, described
        assert renewed["error"] == NOT_FOUND, renewed  # Kafka's controller: no such token


if __name__ == "__main__":
    run_tests([test_tokens_across_a_three_node_cluster, test_disabled_without_a_secret_key])
