#!/usr/bin/python3
"""REST consumer-group calls forwarded to another broker keep the REST
user's ACLs (issue 17). The SASL cluster of test_cluster_sasl.py (SCRAM
User:broker between the nodes on INTERNAL, ACLs on, nothing allowed without
an ACL) with HTTP Basic authentication: the REST proxy's forwarded group
requests travel as User:broker (a super user) over INTERNAL, so the broker
called must authorize the Basic user itself first.

alice (a SCRAM user) asks, through a broker that does not coordinate the
group, for a group's lags: 403 (40301) without DESCRIBE on the group; with
it but without DESCRIBE on the topic, 200 with the topic's rows left out
(the coordinator answered User:broker, which may see it); with both, the
rows committed by admin. admin (a super user) reads them through every
broker.

REST produce forwarded to a partition's leader keeps them too: alice, with
DESCRIBE but not WRITE on the topic, producing through a broker that does
not lead the partition is refused (403, 40301; streamed records each get
that report) and nothing reaches the partition, although the forwarded
Produce would travel as User:broker; once granted WRITE, her records are
written at the leader."""

import base64
import json
import time
import urllib.error
import urllib.request

import test_cluster_sasl
from harness import run_tests
from test_cluster_sasl import ADMIN, admin_of, create_topic, running, sasl_cluster
from test_rest_cluster import coordinator_of

from kafka import KafkaAdminClient
from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

PASSWORDS = {"admin": "admin-secret", "alice": "alice-secret"}
TOPIC = "rest-secured"
V2 = {"Content-Type": "application/vnd.kafka.v2+json"}


def call(node, method, path, user, body=None, headers=None):
    hdrs = {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    request = urllib.request.Request(f"http://127.0.0.1:{node.http_port}{path}", data=data, method=method,
                                     headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text.strip() else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, json.loads(text) if text.strip() else None


def until(what, ask, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        answer = ask()
        if answer:
            return answer
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def grant(cluster, operation, resource_type, name):
    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{cluster.nodes[0].clients_port}",
                             security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                             sasl_plain_username="admin", sasl_plain_password="admin-secret", request_timeout_ms=10000)
    try:
        result = admin.create_acls([ACL(principal="User:alice", host="*", operation=operation,
                                        permission_type=ACLPermissionType.ALLOW,
                                        resource_pattern=ResourcePattern(resource_type, name,
                                                                         ACLResourcePatternType.LITERAL))])
        assert not result["failed"], result
    finally:
        admin.close()


def alice_cluster():
    """The SASL cluster, with alice as a SCRAM user and HTTP Basic on."""
    alice = ["--add-scram", "SCRAM-SHA-512=[name=alice,password=alice-secret]"]
    if alice[1] not in test_cluster_sasl.ADD_SCRAM:
        test_cluster_sasl.ADD_SCRAM = test_cluster_sasl.ADD_SCRAM + alice
    cluster = sasl_cluster()
    for node in cluster.nodes:
        node.env["STRATA_HTTP_AUTHENTICATION_METHOD"] = "BASIC"
    return cluster


def group_led_elsewhere(admin, via, prefix):
    i = 0
    while coordinator_of(admin, f"{prefix}-{i}") == via.node_id:
        i += 1
    return f"{prefix}-{i}"


def test_forwarded_group_calls_keep_the_users_acls():
    cluster = alice_cluster()
    with running(cluster):
        create_topic(cluster.nodes[0], TOPIC, 3)
        admin = admin_of(cluster.nodes)
        cid = call(cluster.nodes[0], "GET", "/v3/clusters", "admin")[1]["data"][0]["cluster_id"]
        # FindCoordinator through the REST proxy creates __consumer_offsets.
        status, _ = call(cluster.nodes[0], "GET", f"/v3/clusters/{cid}/consumer-groups/warm-up", "admin")
        assert status == 404, status
        until("__consumer_offsets led", lambda: (lambda t: t and all(p.leader >= 1 for p in t.partitions.values()))(
            admin.list_topics("__consumer_offsets", timeout=5).topics.get("__consumer_offsets")))
        via = cluster.nodes[0]
        group = group_led_elsewhere(admin, via, "secured")
        coordinator = coordinator_of(admin, group)
        # admin commits offsets through `via` (forwarded to the coordinator).
        status, created = call(via, "POST", f"/consumers/{group}", "admin", {"name": "a"}, headers=V2)
        assert status == 200, created
        status, answer = call(via, "POST", f"/consumers/{group}/instances/a/offsets", "admin",
                              {"offsets": [{"topic": TOPIC, "partition": p, "offset": 1} for p in range(3)]})
        assert status == 200, answer
        lags = f"/v3/clusters/{cid}/consumer-groups/{group}/lags"
        for node in cluster.nodes:
            status, answer = call(node, "GET", lags, "admin")
            assert status == 200 and sorted((r["partition_id"], r["current_offset"]) for r in answer["data"]) == [
                (p, 1) for p in range(3)], (node.node_id, status, answer)

        status, refused = call(via, "GET", lags, "alice")
        assert status == 403 and refused["error_code"] == 40301, (status, refused)
        grant(cluster, ACLOperation.DESCRIBE, ResourceType.GROUP, group)
        status, answer = until("alice's group DESCRIBE", lambda: (lambda r: r if r[0] == 200 else None)(
            call(via, "GET", lags, "alice")))
        assert answer["data"] == [], answer  # the topic is not alice's to describe
        grant(cluster, ACLOperation.DESCRIBE, ResourceType.TOPIC, TOPIC)
        status, answer = until("alice's topic DESCRIBE", lambda: (lambda r: r if r[0] == 200 and r[1]["data"] else None)(
            call(via, "GET", lags, "alice")))
        assert sorted((r["partition_id"], r["current_offset"]) for r in answer["data"]) == [(p, 1) for p in range(3)], answer
        print(f"  group {group}: coordinator {coordinator}, asked through broker {via.node_id}", flush=True)

        # Produce through `via` to a partition another broker leads.
        partition = next(p for p, m in admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions.items()
                         if m.leader != via.node_id)
        records = f"/v3/clusters/{cid}/topics/{TOPIC}/records"
        browse = f"/v3/clusters/{cid}/topics/{TOPIC}/partitions/{partition}/records?offset=0"

        def high_watermark():
            status, answer = call(via, "GET", browse, "admin")
            assert status == 200, answer
            return answer["high_watermark"]
        before = high_watermark()
        record = {"partition_id": partition, "value": {"type": "STRING", "data": "from-alice"}}
        status, refused = call(via, "POST", records, "alice", record)
        assert status == 403 and refused["error_code"] == 40301, (status, refused)
        status, reports = post_stream(via, records, "alice", [record, record])
        assert status == 200 and [r["error_code"] for r in reports] == [40301, 40301], (status, reports)
        assert high_watermark() == before
        grant(cluster, ACLOperation.WRITE, ResourceType.TOPIC, TOPIC)
        status, answer = until("alice's topic WRITE", lambda: (lambda r: r if r[0] == 200 else None)(
            call(via, "POST", records, "alice", record)))
        assert answer["partition_id"] == partition and answer["offset"] == before, answer
        status, reports = post_stream(via, records, "alice", [record, record])
        assert status == 200 and [(r["error_code"], r["offset"]) for r in reports] == [
            (200, before + 1), (200, before + 2)], reports
        assert high_watermark() == before + 3
        print(f"  produce to partition {partition} (leader {admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions[partition].leader})"
              f" through broker {via.node_id}: refused without WRITE, written with it", flush=True)


def test_a_commit_of_allowed_and_refused_topics():
    """alice may READ the group and topic `allowed`, not topic `refused`. A v2
    commit (and offsets read) naming both, through a broker that does not
    coordinate the group, is 403 / 40301 as from the coordinator itself and
    as Confluent's proxy (its consumer throws TopicAuthorizationException),
    not a 500 naming NOT_COORDINATOR (the answer of the allowed topic's
    partitions there); the allowed topic's offset is committed at the
    coordinator, as a Kafka consumer's commit of both would leave it, and
    the refused topic's is not (the forwarded commit travels as User:broker,
    a super user)."""
    cluster = alice_cluster()
    with running(cluster):
        allowed, refused = "rest-mixed-allowed", "rest-mixed-refused"
        create_topic(cluster.nodes[0], allowed, 1)
        create_topic(cluster.nodes[0], refused, 1)
        admin = admin_of(cluster.nodes)
        cid = call(cluster.nodes[0], "GET", "/v3/clusters", "admin")[1]["data"][0]["cluster_id"]
        status, _ = call(cluster.nodes[0], "GET", f"/v3/clusters/{cid}/consumer-groups/warm-up", "admin")
        assert status == 404, status
        until("__consumer_offsets led", lambda: (lambda t: t and all(p.leader >= 1 for p in t.partitions.values()))(
            admin.list_topics("__consumer_offsets", timeout=5).topics.get("__consumer_offsets")))
        via = cluster.nodes[0]
        group = group_led_elsewhere(admin, via, "mixed")
        coordinator = cluster.node(coordinator_of(admin, group))
        grant(cluster, ACLOperation.READ, ResourceType.GROUP, group)
        grant(cluster, ACLOperation.READ, ResourceType.TOPIC, allowed)

        def committed():
            """The group's committed offsets by topic, as admin sees them."""
            status, answer = call(via, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags", "admin")
            if status == 404:
                return {}
            assert status == 200, (status, answer)
            return {r["topic_name"]: r["current_offset"] for r in answer["data"]}

        for node, offset in ((via, 5), (coordinator, 6)):
            status, created = call(node, "POST", f"/consumers/{group}", "alice", {"name": f"at-{node.node_id}"},
                                   headers=V2)
            assert status == 200, created
            instance = f"/consumers/{group}/instances/at-{node.node_id}"
            # The ACLs have reached `node` once alice may commit `allowed` alone.
            until(f"alice's ACLs on broker {node.node_id}", lambda: call(
                node, "POST", f"{instance}/offsets", "alice",
                {"offsets": [{"topic": allowed, "partition": 0, "offset": 1}]}, headers=V2)[0] == 200)
            status, answer = call(node, "POST", f"{instance}/offsets", "alice", {"offsets": [
                {"topic": allowed, "partition": 0, "offset": offset},
                {"topic": refused, "partition": 0, "offset": offset}]}, headers=V2)
            assert status == 403 and answer["error_code"] == 40301 and "TOPIC_AUTHORIZATION_FAILED" in answer["message"], \
                (node.node_id, status, answer)
            assert committed() == {allowed: offset}, (node.node_id, committed())
            body = {"partitions": [{"topic": allowed, "partition": 0}, {"topic": refused, "partition": 0}]}
            status, answer = call(node, "GET", f"{instance}/offsets", "alice", body, headers=V2)
            assert status == 403 and answer["error_code"] == 40301, (node.node_id, status, answer)
            status, answer = call(node, "GET", f"{instance}/offsets", "alice", {"partitions": body["partitions"][:1]},
                                  headers=V2)
            assert status == 200 and answer["offsets"] == [
                {"topic": allowed, "partition": 0, "offset": offset, "metadata": ""}], (node.node_id, status, answer)
            print(f"  through broker {node.node_id} (coordinator {coordinator.node_id}): 403, {allowed} committed",
                  flush=True)


def post_stream(node, path, user, records):
    """Streaming produce: records concatenated in one body; (status, reports)."""
    hdrs = {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode(),
            "Content-Type": "application/json"}
    body = "".join(json.dumps(r) for r in records).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{node.http_port}{path}", data=body, method="POST", headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    return status, [json.loads(line) for line in text.splitlines() if line.strip()]


if __name__ == "__main__":
    run_tests([test_forwarded_group_calls_keep_the_users_acls, test_a_commit_of_allowed_and_refused_topics])
