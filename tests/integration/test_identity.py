#!/usr/bin/python3
"""Node identity (KIP-631's meta.properties): `stratad format` writes the
cluster id and node id into every directory, refuses to format twice, and a
node refuses to start unformatted (multi-node), as another node id, or to
join a quorum of another cluster."""

import os
import subprocess
import time

from harness import STRATAD, Broker, Cluster, run_tests


def stratad(*args, env=None):
    return subprocess.run([STRATAD, *args], env=env, capture_output=True, text=True, timeout=30)


def test_random_uuid_and_format_refuses_twice():
    out = stratad("random-uuid")
    assert out.returncode == 0 and len(out.stdout.strip()) == 22, out
    assert stratad("random-uuid").stdout != out.stdout
    broker = Broker()
    first = stratad("format", "-t", out.stdout.strip(), env=broker.env)
    assert first.returncode == 0, first.stderr
    props = open(os.path.join(broker.data_dir, "meta.properties")).read()
    assert f"cluster.id={out.stdout.strip()}" in props and "node.id=1" in props, props
    again = stratad("format", "-t", out.stdout.strip(), env=broker.env)
    assert again.returncode == 1 and "already formatted" in again.stderr, again
    ignored = stratad("format", "-t", out.stdout.strip(), "--ignore-formatted", env=broker.env)
    assert ignored.returncode == 0, ignored.stderr
    bad = stratad("format", "-t", "not-a-uuid", env=broker.env)
    assert bad.returncode == 2 and "not a cluster id" in bad.stderr, bad
    missing = stratad("format", env=broker.env)
    assert missing.returncode != 0 and "cluster-id" in missing.stderr, missing


def test_unformatted_member_of_a_quorum_refuses_to_start():
    cluster = Cluster(3)
    node = cluster.node(1)
    run = subprocess.run([STRATAD], env=node.env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1, run
    assert "not formatted" in run.stdout + run.stderr and "stratad format" in run.stdout + run.stderr


def test_node_id_must_match_the_formatted_one():
    broker = Broker()
    assert stratad("format", "-t", stratad("random-uuid").stdout.strip(), env=broker.env).returncode == 0
    env = dict(broker.env, STRATA_NODE_ID="7", STRATA_CONTROLLER_QUORUM_VOTERS="")
    run = subprocess.run([STRATAD], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "formatted for node 1" in run.stdout + run.stderr, run.stdout[-500:]


def test_a_node_of_another_cluster_cannot_join():
    cluster = Cluster(3)
    cluster.format()
    stranger = cluster.node(3)
    for name in os.listdir(stranger.data_dir):
        subprocess.run(["rm", "-rf", os.path.join(stranger.data_dir, name)])
    assert stratad("format", "-t", stratad("random-uuid").stdout.strip(), env=stranger.env).returncode == 0
    cluster.start()
    try:
        cluster.wait_for_leader(among=[cluster.node(1), cluster.node(2)])
        # The stranger's first requests go out when its election timer
        # fires: on a loaded machine that can take a few seconds.
        deadline = time.monotonic() + 15
        logs = ""
        while "INCONSISTENT_CLUSTER_ID" not in logs and time.monotonic() < deadline:
            time.sleep(0.2)
            logs = "".join(open(n.log_path).read() for n in cluster.nodes)
        assert "INCONSISTENT_CLUSTER_ID" in logs, "no node named the cluster id mismatch"
        view = cluster.quorum_view(stranger)
        assert view is None or view.get("error") != 0 or view.get("leader_id") not in (1, 2), view
    finally:
        cluster.stop()


if __name__ == "__main__":
    run_tests([
        test_random_uuid_and_format_refuses_twice,
        test_unformatted_member_of_a_quorum_refuses_to_start,
        test_node_id_must_match_the_formatted_one,
        test_a_node_of_another_cluster_cannot_join,
    ])
