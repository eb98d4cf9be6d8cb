#!/usr/bin/python3
"""`strata cluster` against a three-node quorum: every broker is listed, the
quorum view names the harness's leader and three voters whichever node is
asked, and a stopped node shows in `cluster health`/`cluster quorum`."""

import json
import time

from cli_support import ok, run
from harness import Cluster, run_tests


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_three_node_cluster_info_and_quorum():
    with Cluster(3) as cluster:
        leader_id, epoch, _ = cluster.wait_for_leader()
        first = cluster.node(1)
        # Every broker registers with the active controller; once the
        # asked node's image has all three, it names the controller.
        info = wait_for(lambda: (lambda d: d if len(d["brokers"]) == 3 else None)(
            json.loads(ok(["cluster", "info", "-o", "json"], first).out)))
        assert info["controller_id"] == leader_id, info
        assert sorted(b["id"] for b in info["brokers"]) == [1, 2, 3], info
        for node in cluster.nodes:
            doc = json.loads(ok(["cluster", "quorum", "-o", "json"], node).out)
            assert doc["leader_id"] == leader_id and doc["leader_epoch"] >= epoch, (node.node_id, doc)
            assert sorted(v["id"] for v in doc["voters"]) == [1, 2, 3], doc
            assert [v["role"] for v in doc["voters"] if v["id"] == leader_id] == ["leader"], doc
        table = ok(["cluster", "quorum"], first).out
        assert f"Leader:         {leader_id}" in table and "follower" in table, table
        # The quorum through a controller listener directly.
        doc = json.loads(ok(["cluster", "quorum", "-o", "json", "--bootstrap-controller",
                             f"127.0.0.1:{cluster.node(leader_id).controller_port}"]).out)
        assert doc["leader_id"] == leader_id, doc
        # A stopped follower: the others still answer; its lag shows once the log moves on.
        follower = next(n for n in cluster.nodes if n.node_id != leader_id)
        follower.stop()
        other = next(n for n in cluster.nodes if n.node_id != follower.node_id)
        result = run(["cluster", "quorum", "-o", "json"], other)
        assert result.code == 0, result
        assert follower.node_id in [v["id"] for v in json.loads(result.out)["voters"]], result.out


if __name__ == "__main__":
    run_tests([test_three_node_cluster_info_and_quorum])
