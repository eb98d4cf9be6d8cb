#!/usr/bin/python3
"""The REST proxy's consumer-group calls on a three-node cluster, through
every broker (issue 17): each broker answers for groups another broker
coordinates, by sending the group requests to the coordinator over the
Kafka protocol (src/rest/group_call.h), as Confluent's REST Proxy, a Kafka
client, does.

- A topic with one replica per partition, each led by another broker: every
  broker browses every partition's records (Fetch to the leader) and
  reports its offsets (ListOffsets to the leader).
- For each broker X, a group coordinated by another broker: a v2 consumer
  instance created through X (its base_uri names X; the other brokers
  answer 40403 for it) subscribes, reads every record, commits; v3 group,
  consumers, lags (log end offsets from each partition's leader), lag
  summary and the group list show it through all three brokers, and
  `strata group describe` sees the same member and committed offsets.
- Coordinator failover: the coordinator of a group whose v2 instance lives
  on another broker is killed (kill -9). v3 and v2 calls through the
  surviving brokers answer either Confluent's retriable error (500 with
  error_code 50003, naming what it waited for) or success, and succeed
  within the failover; the committed offsets survive and the instance reads
  on.

- A broker's configs (v3 list, one, set, alter) through every broker: the
  calls naming another broker go to it (src/rest/configs.cc); the
  cluster-wide defaults (broker-configs) set through each broker.
- REST produce (v3 records, single and streaming) through every broker to a
  topic with one replica per partition: the batches of partitions led
  elsewhere are sent on to their leaders (src/rest/v3_produce.cc); the
  reports' offsets are consecutive per partition in the body's order, and a
  Kafka consumer reads every partition back complete and in that order.

A coordinator that hangs or is gone for good: test_rest_cluster_unavailable.py.
The REST user's ACLs on forwarded calls: test_rest_cluster_sasl.py.
"""

import json
import os
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Cluster, run_tests, wait_for

STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(os.path.dirname(os.environ.get(
    "STRATAD", "build/src/stratad")), "strata")))

OFFSETS_PARTITIONS = 3
ENV = {"STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": str(OFFSETS_PARTITIONS), "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
       "STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}
TOPIC = "rest-cluster"
RECORDS = 30
V2 = {"Content-Type": "application/vnd.kafka.v2+json"}
BINARY = {"Accept": "application/vnd.kafka.binary.v2+json"}


def call(node, method, path, body=None, headers=None, timeout=40):
    """(status, parsed JSON or None); error statuses are returned."""
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    request = urllib.request.Request(f"http://127.0.0.1:{node.http_port}{path}", data=data, method=method,
                                     headers=hdrs)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text.strip() else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, json.loads(text) if text.strip() else None


def ok(node, method, path, body=None, expect=200, **kw):
    status, answer = call(node, method, path, body, **kw)
    assert status == expect, f"broker {node.node_id}: {method} {path}: {status} {answer}"
    return answer


def java_hash(text):
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def offsets_partition(group, partitions=OFFSETS_PARTITIONS):
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def coordinator_of(admin, group):
    """The leader of the group's __consumer_offsets partition (its coordinator),
    with the partition count the cluster has (test_rest_cluster_sasl.py's
    cluster keeps the default 50)."""
    partitions = admin.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"].partitions
    return partitions[offsets_partition(group, len(partitions))].leader


def groups_led_elsewhere(admin, via, count=1, prefix="g"):
    """`count` group names whose coordinator is not broker `via`."""
    out, i = [], 0
    while len(out) < count:
        name = f"{prefix}-{via}-{i}"
        if coordinator_of(admin, name) != via:
            out.append(name)
        i += 1
    return out


def setup(cluster, replicas=3):
    """A topic of 3 partitions with RECORDS records (on all three brokers, or
    one replica each), and __consumer_offsets with a leader for each
    partition."""
    admin = AdminClient({"bootstrap.servers": cluster.nodes[0].bootstrap})
    wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3, timeout=20, what="three brokers")
    admin.create_topics([NewTopic(TOPIC, 3, replicas)])[TOPIC].result(20)
    producer = Producer({"bootstrap.servers": cluster.nodes[0].bootstrap})
    for i in range(RECORDS):
        producer.produce(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % 3)
    assert producer.flush(20) == 0
    # The first group call creates __consumer_offsets (FindCoordinator).
    cid = ok(cluster.nodes[0], "GET", "/v3/clusters")["data"][0]["cluster_id"]
    status, _ = call(cluster.nodes[0], "GET", f"/v3/clusters/{cid}/consumer-groups/warm-up")
    assert status == 404, status

    def offsets_led():
        md = admin.list_topics("__consumer_offsets", timeout=5).topics.get("__consumer_offsets")
        return md and len(md.partitions) == OFFSETS_PARTITIONS and all(
            p.leader >= 1 and len(p.isrs) == 3 for p in md.partitions.values())
    wait_for(offsets_led, timeout=30, what="__consumer_offsets led and in sync")
    return admin, cid


def read_all(node, base, want):
    got = []
    deadline = time.monotonic() + 30
    while len(got) < want and time.monotonic() < deadline:
        got += ok(node, "GET", base + "/records?timeout=1000", headers=BINARY)
    return got


def check_group_everywhere(cluster, cid, group, coordinator, instance_member_count=1, committed=None):
    """v3 group, consumers, lags, lag summary and list through every broker agree."""
    for node in cluster.running():
        g = ok(node, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}")
        assert g["consumer_group_id"] == group and g["state"] == "STABLE", (node.node_id, g)
        assert g["metadata"]["self"].startswith(f"http://127.0.0.1:{node.http_port}/"), g
        assert g["coordinator"]["related"].endswith(f"/v3/clusters/{cid}/brokers/{coordinator}"), g
        members = ok(node, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/consumers")["data"]
        assert len(members) == instance_member_count and members[0]["client_id"] == "strata-rest-proxy", members
        assert sorted(a["partition_id"] for a in members[0]["assignments"]) == [0, 1, 2], members
        lags = ok(node, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags")["data"]
        rows = sorted((l["partition_id"], l["current_offset"], l["log_end_offset"]) for l in lags)
        # log_end_offset from each partition's leader, whichever broker answers.
        assert rows == [(p, committed[p], RECORDS // 3) for p in range(3)], (node.node_id, rows)
        summary = ok(node, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lag-summary")
        assert summary["total_lag"] == sum(RECORDS // 3 - committed[p] for p in range(3)), summary
        listed = ok(node, "GET", f"/v3/clusters/{cid}/consumer-groups")["data"]
        assert group in [x["consumer_group_id"] for x in listed], (node.node_id, listed)


def test_group_calls_through_every_broker():
    with Cluster(3, extra_env=ENV) as cluster:
        # One replica per partition: each broker leads one and holds no copy
        # of the others, so reads and log end offsets come from the leaders.
        admin, cid = setup(cluster, replicas=1)
        leaders = {p: m.leader for p, m in admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions.items()}
        assert sorted(leaders.values()) == [1, 2, 3], leaders
        for node in cluster.nodes:
            for p in range(3):
                browsed = ok(node, "GET", f"/v3/clusters/{cid}/topics/{TOPIC}/partitions/{p}/records?offset=0")
                assert [r["offset"] for r in browsed["data"]] == list(range(RECORDS // 3)), (node.node_id, p, browsed)
                assert browsed["high_watermark"] == RECORDS // 3, browsed
                part = ok(node, "GET", f"/v3/clusters/{cid}/topics/{TOPIC}/partitions/{p}")
                assert (part["earliest_offset"], part["latest_offset"]) == (0, RECORDS // 3), part
        instances = []
        for node in cluster.nodes:
            group = groups_led_elsewhere(admin, node.node_id)[0]
            coordinator = coordinator_of(admin, group)
            assert coordinator != node.node_id
            created = ok(node, "POST", f"/consumers/{group}", {"format": "binary", "auto.offset.reset": "earliest",
                                                               "auto.commit.enable": "false"}, headers=V2)
            name = created["instance_id"]
            assert name.startswith(f"rest-consumer-{node.node_id}-"), created
            base = f"/consumers/{group}/instances/{name}"
            # base_uri names the broker that holds the instance.
            assert created["base_uri"] == f"http://127.0.0.1:{node.http_port}{base}", created
            for other in cluster.nodes:
                if other is not node:
                    status, answer = call(other, "GET", base + "/subscription")
                    assert status == 404 and answer["error_code"] == 40403 and "base_uri" in answer["message"], answer
            ok(node, "POST", base + "/subscription", {"topics": [TOPIC]}, expect=204)
            got = read_all(node, base, RECORDS)
            assert sorted((r["partition"], r["offset"]) for r in got) == sorted(
                (i % 3, i // 3) for i in range(RECORDS)), got
            assert sorted(p["partition"] for p in ok(node, "GET", base + "/assignments")["partitions"]) == [0, 1, 2]
            # Commit some, not all: lag shows through every broker.
            committed = {0: 4, 1: 7, 2: 10}
            ok(node, "POST", base + "/offsets", {"offsets": [
                {"topic": TOPIC, "partition": p, "offset": o} for p, o in committed.items()]})
            fetched = ok(node, "GET", base + "/offsets", {"partitions": [{"topic": TOPIC, "partition": p} for p in range(3)]})
            assert sorted((o["partition"], o["offset"]) for o in fetched["offsets"]) == sorted(committed.items()), fetched
            # What a Kafka client sees of the group.
            out = subprocess.run([STRATA, "-b", node.bootstrap, "group", "describe", group, "-o", "json"],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, out.stderr
            described = json.loads(out.stdout)
            assert described["state"] == "Stable" and len(described["members"]) == 1, described
            assert sorted((o["partition"], o["current_offset"]) for o in described["offsets"]) == sorted(
                committed.items()), described
            check_group_everywhere(cluster, cid, group, coordinator, committed=committed)
            instances.append((node, group, base, coordinator))
            print(f"  group {group}: instance on broker {node.node_id}, coordinator {coordinator}", flush=True)
        for node, group, base, _ in instances:
            ok(node, "DELETE", base, expect=204)
            members = ok(cluster.nodes[(node.node_id) % 3], "GET",
                         f"/v3/clusters/{cid}/consumer-groups/{group}/consumers")["data"]
            assert members == [], members  # left the group through its coordinator


def retried(node, method, path, body=None, headers=None, what="", timeout=40.0):
    """Calls until a 2xx; every other answer on the way must be Confluent's
    retriable error (500 / 50003 with a message). Returns (answer, retriable
    answers seen)."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        status, answer = call(node, method, path, body, headers=headers)
        if 200 <= status < 300:
            return answer, seen
        assert status == 500 and answer and answer["error_code"] == 50003 and answer["message"], (what, status, answer)
        seen.append(answer["message"])
        assert time.monotonic() < deadline, (what, seen[-3:])
        time.sleep(0.2)


def test_coordinator_failover():
    with Cluster(3, extra_env=ENV) as cluster:
        admin, cid = setup(cluster)
        # A group coordinated by broker C, its v2 instance on broker X != C.
        holder = cluster.nodes[0]
        group = groups_led_elsewhere(admin, holder.node_id, prefix="fo")[0]
        coordinator = coordinator_of(admin, group)
        created = ok(holder, "POST", f"/consumers/{group}", {"name": "fo", "format": "binary",
                                                             "auto.offset.reset": "earliest",
                                                             "auto.commit.enable": "false"}, headers=V2)
        base = f"/consumers/{group}/instances/fo"
        assert created["base_uri"].endswith(f":{holder.http_port}{base}"), created
        ok(holder, "POST", base + "/subscription", {"topics": [TOPIC]}, expect=204)
        # Read part of each partition and commit it.
        committed = {0: 5, 1: 5, 2: 5}
        ok(holder, "POST", base + "/offsets", {"offsets": [
            {"topic": TOPIC, "partition": p, "offset": o} for p, o in committed.items()]})
        first = read_all(holder, base, RECORDS - 15)
        assert sorted((r["partition"], r["offset"]) for r in first) == sorted(
            (p, o) for p in range(3) for o in range(5, 10)), first

        cluster.node(coordinator).kill()
        survivors = [n for n in cluster.nodes if n.node_id != coordinator]
        started = time.monotonic()
        lags, seen = retried(survivors[0], "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags",
                             what="lags after the coordinator died")
        took = time.monotonic() - started
        assert sorted((l["partition_id"], l["current_offset"]) for l in lags["data"]) == sorted(committed.items()), lags
        new_coordinator = coordinator_of(admin, group)
        assert new_coordinator in [n.node_id for n in survivors], new_coordinator
        print(f"  coordinator {coordinator} killed: lags answered by {survivors[0].node_id} after {took:.1f}s "
              f"({len(seen)} retriable answers: {seen[:1]}), new coordinator {new_coordinator}", flush=True)
        for node in survivors:
            retried(node, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lag-summary", what="lag summary")
            retried(node, "GET", f"/v3/clusters/{cid}/consumer-groups", what="group list")
        # The instance on the surviving holder goes on: commits what it read
        # and reads nothing twice (its positions are its own).
        retried(holder, "POST", base + "/offsets", None, headers=V2, what="commit after failover")
        fetched, _ = retried(holder, "GET", base + "/offsets",
                             {"partitions": [{"topic": TOPIC, "partition": p} for p in range(3)]},
                             what="offsets after failover")
        assert sorted((o["partition"], o["offset"]) for o in fetched["offsets"]) == [(p, 10) for p in range(3)], fetched
        # New records (the topic's leaders fail over too) are read once each.
        producer = Producer({"bootstrap.servers": survivors[0].bootstrap})
        for p in range(3):
            producer.produce(TOPIC, value=b"after", partition=p)
        assert producer.flush(30) == 0
        records, _ = retried(holder, "GET", base + "/records?timeout=1000", headers=BINARY, what="records")
        records += read_all(holder, base, 3 - len(records))
        assert sorted((r["partition"], r["offset"]) for r in records) == [(p, 10) for p in range(3)], records
        ok(holder, "DELETE", base, expect=204)


def post_raw(node, path, body, timeout=60):
    """POST a raw body: (status, list of the JSON documents answered, one per line)."""
    request = urllib.request.Request(f"http://127.0.0.1:{node.http_port}{path}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    return status, [json.loads(line) for line in text.splitlines() if line.strip()]


def read_partition(bootstrap, topic, partition, count):
    """The values of the first `count` records of a partition, read by confluent-kafka."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}-{partition}",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0)])
    values, offsets = [], []
    deadline = time.monotonic() + 30
    try:
        while len(values) < count and time.monotonic() < deadline:
            for m in consumer.consume(500, 0.5):
                assert not m.error(), m.error()
                offsets.append(m.offset())
                values.append(m.value())
    finally:
        consumer.close()
    assert offsets == list(range(len(offsets))), offsets[:20]
    return values


def wait_topic_everywhere(cluster, cid, topic, partitions=3):
    """Every running broker knows the topic (a topic's creation reaches the
    brokers' metadata one after the other; its ISR is full from the start)."""
    def known():
        for node in cluster.running():
            status, answer = call(node, "GET", f"/v3/clusters/{cid}/topics/{topic}/partitions")
            if status != 200 or len(answer["data"]) != partitions:
                return False
        return True
    wait_for(known, timeout=20, what=f"{topic} known to every broker")


def test_produce_through_every_broker():
    topic = "rest-produce-cluster"
    with Cluster(3, extra_env=ENV) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.nodes[0].bootstrap})
        wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3, timeout=20, what="three brokers")
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(20)
        wait_for(lambda: sorted(p.leader for p in admin.list_topics(topic, timeout=5).topics[topic].partitions.values())
                 == [1, 2, 3], timeout=20, what="one partition led by each broker")
        leaders = {p: m.leader for p, m in admin.list_topics(topic, timeout=10).topics[topic].partitions.items()}
        cid = ok(cluster.nodes[0], "GET", "/v3/clusters")["data"][0]["cluster_id"]
        wait_topic_everywhere(cluster, cid, topic)
        path = f"/v3/clusters/{cid}/topics/{topic}/records"
        sent = {0: [], 1: [], 2: []}  # partition -> values in the order produced

        def produced(node, report, value):
            assert report["error_code"] == 200, (node.node_id, report)
            partition = report["partition_id"]
            assert report["offset"] == len(sent[partition]), (node.node_id, report, len(sent[partition]))
            sent[partition].append(value)

        started = time.monotonic()
        for node in cluster.nodes:
            # Single records: to each partition (two of three led elsewhere),
            # keyed (murmur2) and keyless (sticky) ones.
            for p in range(3):
                value = f"single-{node.node_id}-{p}"
                report = ok(node, "POST", path, {"partition_id": p, "key": {"type": "STRING", "data": value},
                                                 "value": {"type": "STRING", "data": value}})
                assert report["partition_id"] == p, report
                produced(node, report, value.encode())
            for key in ("alpha", None):
                value = f"unpinned-{node.node_id}-{key}"
                record = {"value": {"type": "STRING", "data": value}}
                if key:
                    record["key"] = {"type": "STRING", "data": key}
                produced(node, ok(node, "POST", path, record), value.encode())
            # A stream of about 700 KB: several chunks in flight, each with a
            # batch for every partition, so forwarded batches must keep order.
            values = [f"stream-{node.node_id}-{i:04d}-".encode() + os.urandom(500).hex().encode()[:1000]
                      for i in range(600)]
            body = "\n".join(json.dumps({"partition_id": i % 3, "value": {"type": "STRING", "data": v.decode()}})
                             for i, v in enumerate(values)).encode()
            status, reports = post_raw(node, path, body)
            assert status == 200 and len(reports) == len(values), (node.node_id, status, reports[:2])
            for i, (report, value) in enumerate(zip(reports, values)):
                assert report["partition_id"] == i % 3, (i, report)
                produced(node, report, value)
            print(f"  broker {node.node_id}: {len(values) + 5} records produced, partitions led by "
                  f"{sorted(set(leaders.values()) - {node.node_id})} forwarded", flush=True)
        took = time.monotonic() - started
        for p in range(3):
            got = read_partition(cluster.nodes[0].bootstrap, topic, p, len(sent[p]))
            assert len(got) == len(sent[p]) and got == sent[p], (p, len(got), len(sent[p]))
        print(f"  {sum(len(v) for v in sent.values())} records through 3 brokers in {took:.1f}s, read back in order",
              flush=True)

        # A leader dies: streams through another broker reach the new
        # leaders (retried after new metadata); a partition with no replica
        # left gets a clear error after the bounded wait.
        failover = "rest-produce-failover"
        admin.create_topics([NewTopic(failover, 3, 3)])[failover].result(20)
        wait_for(lambda: all(p.leader >= 1 and len(p.isrs) == 3 for p in
                             admin.list_topics(failover, timeout=5).topics[failover].partitions.values()),
                 timeout=30, what="replicas in sync")
        wait_topic_everywhere(cluster, cid, failover)
        # The leader of the failover topic's partition 0, which also leads
        # one partition (`orphan`) of the first topic, its only replica.
        dead = admin.list_topics(failover, timeout=5).topics[failover].partitions[0].leader
        orphan = next(p for p, leader in leaders.items() if leader == dead)
        via = next(n for n in cluster.nodes if n.node_id != dead)
        cluster.node(dead).kill()
        values = [f"failover-{i}".encode() for i in range(300)]
        body = "".join(json.dumps({"partition_id": i % 3, "value": {"type": "STRING", "data": v.decode()}})
                       for i, v in enumerate(values)).encode()
        started = time.monotonic()
        status, reports = post_raw(via, f"/v3/clusters/{cid}/topics/{failover}/records", body)
        took = time.monotonic() - started
        assert status == 200 and [r["error_code"] for r in reports] == [200] * len(values), (status, reports[:3])
        for p in range(3):
            assert [r["offset"] for r in reports[p::3]] == list(range(100)), (p, reports[p::3][:5])
            assert read_partition(via.bootstrap, failover, p, 100) == values[p::3], p
        print(f"  broker {dead} killed: 300 records through broker {via.node_id} written in {took:.1f}s", flush=True)
        started = time.monotonic()
        status, answer = call(via, "POST", path, {"partition_id": orphan, "value": {"type": "STRING", "data": "lost"}})
        took = time.monotonic() - started
        assert status == 500 and answer["error_code"] == 50002, (status, answer)
        assert "NOT_LEADER_OR_FOLLOWER" in answer["message"] and f"partition {orphan}" in answer["message"], answer
        assert 14 < took < 30, took
        print(f"  partition {orphan} without a replica: {status} after {took:.1f}s: {answer['message']}", flush=True)


def test_broker_configs_through_every_broker():
    """A broker's configs are that broker's to answer (another answers Kafka's
    INVALID_REQUEST "Unexpected broker id"): through every broker, the v3
    broker config calls for each other broker reach it (src/rest/configs.cc),
    as Confluent's proxy's AdminClient sends them to the broker named."""
    with Cluster(3, extra_env=ENV) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.nodes[0].bootstrap})
        wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3, timeout=20, what="three brokers")
        cid = ok(cluster.nodes[0], "GET", "/v3/clusters")["data"][0]["cluster_id"]
        key = "log.retention.ms"
        for via in cluster.nodes:
            for target in cluster.nodes:
                path = f"/v3/clusters/{cid}/brokers/{target.node_id}/configs"
                listed = ok(via, "GET", path)["data"]
                assert listed and {c["broker_id"] for c in listed} == {target.node_id}, (via.node_id, listed[:1])
                value = str(3600000 * (10 * via.node_id + target.node_id))
                ok(via, "PUT", f"{path}/{key}", {"value": value}, expect=204)
                # The value is the target's own (DYNAMIC_BROKER_CONFIG), as
                # the target itself and every other broker report it. The
                # write returns once the controller committed it; each
                # broker applies it milliseconds later (as in Kafka, where a
                # broker's metadata trails the controller's commit), so each
                # read waits for it rather than racing it.
                for asked in cluster.nodes:
                    wait_for(lambda: (lambda c: (c["value"], c["source"]) == (value, "DYNAMIC_BROKER_CONFIG"))(
                        ok(asked, "GET", f"{path}/{key}")), timeout=10,
                        what=f"broker {target.node_id}'s {key}={value} set through {via.node_id}, "
                             f"read through {asked.node_id}")
                ok(via, "POST", f"{path}:alter", {"data": [{"name": key, "operation": "DELETE"}]}, expect=204)
                wait_for(lambda: ok(target, "GET", f"{path}/{key}")["source"] != "DYNAMIC_BROKER_CONFIG", timeout=10,
                         what=f"broker {target.node_id}'s {key} deleted through {via.node_id}")
            status, answer = call(via, "GET", f"/v3/clusters/{cid}/brokers/99/configs")
            assert status == 404 and answer["error_code"] == 404, (status, answer)
            status, answer = call(via, "PUT", f"/v3/clusters/{cid}/brokers/{via.node_id % 3 + 1}/configs/{key}",
                                  {"value": "not-a-number"})
            assert status == 400 and answer["error_code"] == 400, (status, answer)
        # The cluster-wide defaults (broker-configs), set through each broker,
        # are every broker's.
        for via in cluster.nodes:
            value = str(7200000 * via.node_id)
            ok(via, "PUT", f"/v3/clusters/{cid}/broker-configs/{key}", {"value": value}, expect=204)
            for asked in cluster.nodes:
                for target in cluster.nodes:
                    wait_for(lambda: (lambda c: (c["value"], c["source"]) == (value, "DYNAMIC_DEFAULT_BROKER_CONFIG"))(
                        ok(asked, "GET", f"/v3/clusters/{cid}/brokers/{target.node_id}/configs/{key}")), timeout=10,
                        what=f"broker {target.node_id}'s default {value} through broker {asked.node_id}")
            listed = ok(via, "GET", f"/v3/clusters/{cid}/broker-configs")
            assert listed["kind"] == "KafkaClusterConfigList" and [(c["name"], c["value"], c["config_type"])
                                                                   for c in listed["data"]] == [(key, value, "BROKER")], listed
            ok(via, "DELETE", f"/v3/clusters/{cid}/broker-configs/{key}", expect=204)
            wait_for(lambda: call(via, "GET", f"/v3/clusters/{cid}/broker-configs/{key}")[0] == 404, timeout=10,
                     what=f"the default {key} deleted through broker {via.node_id}")
        print("  every broker's configs and the cluster-wide defaults described, set and deleted through every broker",
              flush=True)


if __name__ == "__main__":
    run_tests([test_group_calls_through_every_broker, test_coordinator_failover, test_produce_through_every_broker,
               test_broker_configs_through_every_broker])
