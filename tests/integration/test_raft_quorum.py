"""The metadata quorum across real processes: three stratad controllers on
loopback elect one leader, replace it within ~1-2 s after SIGKILL or SIGSTOP,
and take restarted nodes back; a single node elects itself at once.
DescribeQuorum (encoded by hand in harness.py) is how the test sees it.

Not here yet: topic creations submitted while the leader is killed (needs
the controller on top of the quorum, src/metadata).
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Broker, Cluster, describe_quorum, run_tests  # noqa: E402

FAILOVER_BOUND = 2.0  # seconds; the target is 1 s (docs/benchmarks.md has the figures)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout}s: {what}")


def caught_up(cluster, leader_id, node_ids):
    """Whether the leader reports every one of node_ids at its own log end."""
    view = cluster.quorum_view(cluster.node(leader_id))
    if not view or view.get("error") != 0:
        return False
    ends = dict(view["voters"])
    return all(ends.get(i) == ends[leader_id] for i in node_ids)


def follows(cluster, node_id, leader_id):
    view = cluster.quorum_view(cluster.node(node_id))
    return view is not None and view.get("error") == 6 and view["leader_id"] == leader_id


def test_single_node_elects_itself_at_once():
    with Broker() as broker:
        start = time.monotonic()
        view = wait_until(lambda: (lambda v: v if v.get("error") == 0 else None)(describe_quorum(broker.port)),
                          2.0, "a leader")
        assert view["leader_id"] == 1 and view["leader_epoch"] >= 1, view
        assert view["voters"] and view["voters"][0][0] == 1, view
        assert time.monotonic() - start < 1.0


def test_three_controllers_elect_one_leader():
    with Cluster(3) as cluster:
        leader_id, epoch, view = cluster.wait_for_leader(timeout=10)
        assert sorted(v[0] for v in view["voters"]) == [1, 2, 3], view
        for node in cluster.nodes:
            if node.node_id != leader_id:
                wait_until(lambda: follows(cluster, node.node_id, leader_id), 3, f"node {node.node_id} follows")
        # The leader-change record is committed: every voter fetched it.
        wait_until(lambda: caught_up(cluster, leader_id, [1, 2, 3]), 3, "all voters caught up")
        assert cluster.leader()[2]["high_watermark"] >= 1


def test_sigkill_of_the_leader_and_restart():
    with Cluster(3) as cluster:
        for _ in range(3):
            old_leader, old_epoch, _ = cluster.wait_for_leader(timeout=10)
            survivors = [n for n in cluster.running() if n.node_id != old_leader]
            wait_until(lambda: caught_up(cluster, old_leader, [n.node_id for n in survivors]), 3, "caught up")
            cluster.node(old_leader).kill()
            killed_at = time.monotonic()
            new_leader, new_epoch, _ = cluster.wait_for_leader(timeout=5, among=survivors, min_epoch=old_epoch + 1)
            elapsed = time.monotonic() - killed_at
            print(f"  SIGKILL of {old_leader} (epoch {old_epoch}): node {new_leader} leads epoch {new_epoch} "
                  f"after {elapsed:.3f}s")
            assert elapsed < FAILOVER_BOUND, elapsed
            assert new_leader != old_leader
            # The killed node comes back from its log and follows.
            cluster.node(old_leader).start()
            wait_until(lambda: follows(cluster, old_leader, new_leader), 5, f"node {old_leader} follows {new_leader}")
            wait_until(lambda: caught_up(cluster, new_leader, [1, 2, 3]), 5, "restarted node caught up")


def test_sigstop_of_the_leader():
    with Cluster(3) as cluster:
        old_leader, old_epoch, _ = cluster.wait_for_leader(timeout=10)
        survivors = [n for n in cluster.nodes if n.node_id != old_leader]
        wait_until(lambda: caught_up(cluster, old_leader, [1, 2, 3]), 3, "caught up")
        paused = cluster.node(old_leader)
        paused.proc.send_signal(signal.SIGSTOP)
        try:
            stopped_at = time.monotonic()
            new_leader, new_epoch, _ = cluster.wait_for_leader(timeout=5, among=survivors, min_epoch=old_epoch + 1)
            elapsed = time.monotonic() - stopped_at
            print(f"  SIGSTOP of {old_leader}: node {new_leader} leads epoch {new_epoch} after {elapsed:.3f}s")
            assert elapsed < FAILOVER_BOUND, elapsed
        finally:
            paused.proc.send_signal(signal.SIGCONT)
        # The paused leader wakes up in an old epoch, steps down and follows.
        wait_until(lambda: follows(cluster, old_leader, new_leader), 5, "the old leader follows")
        wait_until(lambda: caught_up(cluster, new_leader, [1, 2, 3]), 5, "all caught up")
        assert cluster.leader()[0] == new_leader


def test_full_restart_keeps_the_log_and_the_epoch():
    with Cluster(3) as cluster:
        leader_id, epoch, _ = cluster.wait_for_leader(timeout=10)
        wait_until(lambda: caught_up(cluster, leader_id, [1, 2, 3]), 3, "caught up")
        high_watermark = cluster.leader()[2]["high_watermark"]
        for node in cluster.nodes:
            assert node.stop() == 0
        for node in cluster.nodes:
            node.start()
        new_leader, new_epoch, view = cluster.wait_for_leader(timeout=10, min_epoch=epoch + 1)
        # The new leader's log holds the old one plus its own leader-change record.
        wait_until(lambda: cluster.leader() and cluster.leader()[2]["high_watermark"] >= high_watermark + 1, 5,
                   "the old log committed again")


if __name__ == "__main__":
    run_tests([
        test_single_node_elects_itself_at_once,
        test_three_controllers_elect_one_leader,
        test_sigkill_of_the_leader_and_restart,
        test_sigstop_of_the_leader,
        test_full_restart_keeps_the_log_and_the_epoch,
    ])
