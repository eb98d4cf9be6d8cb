#!/usr/bin/python3
"""The REST proxy's group calls on three brokers when the group's
coordinator cannot answer (issue 17; the normal and failover cases are in
test_rest_cluster.py):

- A hung coordinator (SIGSTOP): a call through another broker is answered
  within the coordinator wait (success once the controller has fenced the
  stopped broker and another coordinates the group, or Confluent's
  retriable 50003), then succeeds.
- No coordinator at all (__consumer_offsets with one replica, its broker
  killed): 500 with error_code 50003 after the coordinator wait (15 s),
  saying what it waited for; success once the broker is back.
"""

import signal
import time

from confluent_kafka.admin import AdminClient, NewTopic

from harness import Cluster, run_tests, wait_for
from test_rest_cluster import ENV, TOPIC, V2, call, coordinator_of, ok, retried, setup


def test_coordinator_hung():
    """A coordinator that stops answering (SIGSTOP: its connections stay
    open) costs a bounded wait: the call answers success once the controller
    has fenced it and another broker coordinates the group, or Confluent's
    retriable error, never a hang past the coordinator wait."""
    env = dict(ENV, STRATA_BROKER_SESSION_TIMEOUT_MS="3000")
    with Cluster(3, extra_env=env) as cluster:
        admin, cid = setup(cluster)
        leader = cluster.wait_for_leader()[0]
        # A group whose coordinator is neither the quorum's leader (the
        # controller must go on fencing) nor the broker called.
        via = next(n for n in cluster.nodes if n.node_id != leader)
        i = 0
        while True:
            group = f"hung-{i}"
            coordinator = coordinator_of(admin, group)
            if coordinator not in (leader, via.node_id):
                break
            i += 1
        ok(via, "POST", f"/consumers/{group}", {"name": "h"}, headers=V2)
        base = f"/consumers/{group}/instances/h"
        ok(via, "POST", base + "/offsets", {"offsets": [{"topic": TOPIC, "partition": p, "offset": 3} for p in range(3)]})
        stopped = cluster.node(coordinator)
        stopped.pause()
        try:
            started = time.monotonic()
            status, answer = call(via, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags")
            first = time.monotonic() - started
            assert status == 200 or (status == 500 and answer["error_code"] == 50003), (status, answer)
            assert first < 20, first  # the coordinator wait (15 s) and one attempt's bound
            lags, seen = retried(via, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags", what="lags")
            took = time.monotonic() - started
            assert sorted((l["partition_id"], l["current_offset"]) for l in lags["data"]) == [(p, 3) for p in range(3)]
            print(f"  coordinator {coordinator} stopped: first answer {status} after {first:.1f}s, success after "
                  f"{took:.1f}s, new coordinator {coordinator_of(admin, group)}", flush=True)
        finally:
            stopped.proc.send_signal(signal.SIGCONT)


def test_no_coordinator_then_back():
    """__consumer_offsets with one replica: once the coordinator's broker is
    killed no broker can coordinate the group, and a call through another
    broker answers Confluent's retriable error (500, 50003, saying what it
    waited for) after the coordinator wait; once the broker is back, the
    same call succeeds with the offsets committed before."""
    env = dict(ENV, STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR="1")
    with Cluster(3, extra_env=env) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.nodes[0].bootstrap})
        wait_for(lambda: len(admin.list_topics(timeout=5).brokers) == 3, timeout=20, what="three brokers")
        admin.create_topics([NewTopic(TOPIC, 3, 3)])[TOPIC].result(20)
        via = cluster.nodes[0]
        cid = ok(via, "GET", "/v3/clusters")["data"][0]["cluster_id"]
        call(via, "GET", f"/v3/clusters/{cid}/consumer-groups/warm-up")
        wait_for(lambda: all(p.leader >= 1 for p in admin.list_topics("__consumer_offsets", timeout=5).topics[
            "__consumer_offsets"].partitions.values()), timeout=30, what="__consumer_offsets led")
        leader = cluster.wait_for_leader()[0]
        i = 0
        while True:
            group = f"gone-{i}"
            coordinator = coordinator_of(admin, group)
            if coordinator not in (leader, via.node_id):
                break
            i += 1
        ok(via, "POST", f"/consumers/{group}", {"name": "n"}, headers=V2)
        ok(via, "POST", f"/consumers/{group}/instances/n/offsets",
           {"offsets": [{"topic": TOPIC, "partition": p, "offset": 2} for p in range(3)]})
        cluster.node(coordinator).kill()
        started = time.monotonic()
        status, answer = call(via, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags")
        waited = time.monotonic() - started
        assert status == 500 and answer["error_code"] == 50003, (status, answer)
        assert "Retriable" in answer["message"] and group in answer["message"], answer
        assert 14 < waited < 25, waited
        print(f"  no coordinator: {status} after {waited:.1f}s: {answer['message']}", flush=True)
        cluster.node(coordinator).start()
        lags, seen = retried(via, "GET", f"/v3/clusters/{cid}/consumer-groups/{group}/lags", what="lags, broker back")
        assert sorted((l["partition_id"], l["current_offset"]) for l in lags["data"]) == [(p, 2) for p in range(3)]



if __name__ == "__main__":
    run_tests([test_coordinator_hung, test_no_coordinator_then_back])
