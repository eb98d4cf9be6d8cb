#!/usr/bin/python3
"""Reassignment across failures (issue 20, items 5 and 6): three combined
nodes (the metadata quorum) and broker-only node 4; an idempotent acks=all
producer runs throughout and every record is read back at the end.

- A move in progress survives the active controller: with broker 4 stopped
  (SIGSTOP) a move of `resume-0` from {x, y} to {y, 4} (x and y: the two
  combined nodes that are not the active controller) cannot complete; the
  active controller is killed (SIGKILL) and broker 4 resumed; under the new
  controller the move completes (replicas and ISR {y, 4}) and x deletes its
  log.
- A broker down during a move deletes its stale log when it comes back:
  broker 4 is killed, `resume-0` moves from {y, 4} to {y, x} without it; when
  broker 4 restarts its log of resume-0 (a replica no longer assigned to it,
  Kafka's stray replica) is deleted, while its other logs stay.
"""

import os
import signal
import sys
import time

from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster, registered_brokers, run_tests  # noqa: E402
from test_alter_partition import wait_for  # noqa: E402
from test_reassignment import (ENV, Workload, broker_only_node, log_files, read_back, reassignments,  # noqa: E402
                               replicas_identical, state, strata)
import test_reassignment  # noqa: E402

TOPIC = "resume"
STAYS = "stays"  # a topic broker 4 keeps a replica of throughout


def safe_state(node, topic, partition):
    """state() or (None, [], []) while the node does not list the partition yet."""
    try:
        return state(node, topic, partition)
    except (KeyError, OSError, ConnectionError):
        return None, [], []


def test_move_survives_controller_kill_and_stray_log_goes():
    started = time.monotonic()
    cluster = Cluster(3, extra_env=ENV)
    cluster.start()
    node4 = None
    workload = None
    ok = False
    try:
        controller, _, _ = cluster.wait_for_leader()
        x, y = [n.node_id for n in cluster.nodes if n.node_id != controller]
        survivor = cluster.node(y)
        b = ",".join(n.bootstrap for n in cluster.nodes)
        node4 = broker_only_node(cluster, 4)
        node4.start()
        admin = AdminClient({"bootstrap.servers": b})
        wait_for(lambda: registered_brokers(admin) == 4, timeout=20, what="four brokers")
        futures = admin.create_topics([NewTopic(TOPIC, num_partitions=1, replica_assignment=[[x, y]]),
                                       NewTopic(STAYS, num_partitions=1, replica_assignment=[[4, y, x]])])
        for f in futures.values():
            f.result(timeout=20)
        # The shared workload and read-back go over these partitions.
        test_reassignment.PARTITIONS[:] = [(TOPIC, 0), (STAYS, 0)]
        wait_for(lambda: sorted(safe_state(survivor, TOPIC, 0)[2]) == sorted([x, y]), what="resume-0 in sync")
        wait_for(lambda: sorted(safe_state(survivor, STAYS, 0)[2]) == sorted([4, x, y]), what="stays-0 in sync")
        workload = Workload(b).start()
        workload.wait_acks(1000)

        # --- A move in progress when the active controller dies.
        node4.pause()
        strata(b, "partition", "reassign", "--topic", TOPIC, "--partition", "0", "--replicas", f"{y},4")
        moving = wait_for(lambda: reassignments(b).get((TOPIC, 0)), what="the move listed")
        assert moving["adding_replicas"] == [4] and moving["removing_replicas"] == [x], moving
        cluster.node(controller).kill()
        t0 = time.monotonic()
        node4.proc.send_signal(signal.SIGCONT)
        new_controller, _, _ = cluster.wait_for_leader(among=[cluster.node(x), survivor])
        assert new_controller != controller
        wait_for(lambda: (lambda s: s[1] == [y, 4] and sorted(s[2]) == sorted([y, 4]))(safe_state(survivor, TOPIC, 0)),
                 timeout=30, what=f"resume-0 on {{{y}, 4}} under controller {new_controller}")
        moved_s = time.monotonic() - t0
        assert not reassignments(b), reassignments(b)
        wait_for(lambda: log_files(cluster.node(x), TOPIC, 0) is None, what=f"broker {x}'s log of resume-0 deleted")
        workload.wait_acks(500)
        print(f"  controller {controller} killed mid-move; controller {new_controller} completed {{{x},{y}}} -> "
              f"{{{y},4}} {moved_s:.2f} s later", flush=True)

        # --- Broker 4 down while its replica moves away; back, it drops the stale log.
        node4.kill()
        wait_for(lambda: 4 not in safe_state(survivor, TOPIC, 0)[2], timeout=20, what="broker 4 out of resume-0's ISR")
        strata(b, "partition", "reassign", "--topic", TOPIC, "--partition", "0", "--replicas", f"{y},{x}",
               "--wait", "--wait-timeout-ms", "30000")
        leader, replicas, isr = safe_state(survivor, TOPIC, 0)
        assert replicas == [y, x] and sorted(isr) == sorted([x, y]), (leader, replicas, isr)
        assert log_files(node4, TOPIC, 0), "broker 4's log of resume-0 is not there to go stale"
        node4.start()
        wait_for(lambda: log_files(node4, TOPIC, 0) is None, timeout=20,
                 what="broker 4's stale log of resume-0 deleted after its restart")
        wait_for(lambda: sorted(safe_state(survivor, STAYS, 0)[2]) == sorted([4, x, y]), timeout=20,
                 what="broker 4 back in stays-0's ISR")
        assert log_files(node4, STAYS, 0), "broker 4 lost its log of stays-0"
        assert "deleted a stray log" in node4.log(), node4.log()[-3000:]
        print(f"  broker 4 down during {{{y},4}} -> {{{y},{x}}}: its stale log deleted on restart, stays-0 kept",
              flush=True)

        # --- Every record.
        cluster.node(controller).start()
        workload.stop()
        assert not workload.errors, f"delivery errors: {workload.errors[:5]}"
        stored = read_back(b)
        missing = [v for v in workload.acked if v not in stored]
        assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:3]}"
        twice = {v: p for v, p in stored.items() if len(p) > 1}
        assert not twice, f"{len(twice)} records stored twice, e.g. {list(twice.items())[:3]}"
        leader, replicas, _ = safe_state(survivor, TOPIC, 0)
        nodes = cluster.nodes + [node4]
        wait_for(lambda: replicas_identical(nodes, TOPIC, 0, replicas, leader), timeout=15,
                 what="resume-0's segment files identical on its replicas")
        print(f"  {len(workload.acked)} records acknowledged, each stored once; {time.monotonic() - started:.1f} s "
              f"in all", flush=True)
        ok = True
    finally:
        if workload and not workload.stopping.is_set():
            workload.stop()
        if node4 and node4.proc and node4.proc.poll() is None:
            node4.proc.send_signal(signal.SIGCONT)
            try:
                node4.stop()
            except RuntimeError:
                pass
        cluster.stop()
        if not ok:
            for node in cluster.nodes + ([node4] if node4 else []):
                print(f"--- node {node.node_id} log ({node.log_path}) ---\n{node.log()[-20000:]}", file=sys.stderr)


if __name__ == "__main__":
    run_tests([test_move_survives_controller_kill_and_stray_log_goes])
