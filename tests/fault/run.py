#!/usr/bin/python3
"""One chaos run: a 3-node cluster of real stratad processes, the workloads
of workload.py against it, the nemesis injecting one fault at a time on a
schedule drawn from the seed, then the heal, the final read of everything,
the checker, a summary table, and the full history as JSONL.

  run.py --duration 180 --seed 7 --faults kills,pause --history chaos.jsonl
  run.py --check chaos.jsonl          # re-check a history written before

--faults takes fault names (nemesis.FAULTS) and families (FAMILIES below).
Needs root (iptables, tc, mount, cgroups). Exit status: 0 when the checker
found nothing and every workload ran to the end, 1 otherwise."""

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from checker import ANOMALIES, check  # noqa: E402
from history import History, load  # noqa: E402

FAMILIES = {
    "kills": ["kill_leader", "kill_follower", "kill_controller", "kill_majority"],
    "pause": ["pause"],
    "partitions": ["partition_leader", "partition_one", "partition_halves"],
    "netem": ["netem"],
    "clock": ["clock"],
    "disk": ["disk_fsync", "disk_write", "disk_full"],
    "corruption": ["corrupt"],
}
QUEUE, QUEUE_PARTITIONS = "chaos-queue", 6
TXN, TXN_PARTITIONS = "chaos-txn", 3


def parse_faults(text):
    from nemesis import FAULTS
    chosen = []
    for name in [n.strip() for n in text.split(",") if n.strip()]:
        if name == "all":
            chosen += FAULTS
        elif name in FAMILIES:
            chosen += FAMILIES[name]
        elif name in FAULTS:
            chosen.append(name)
        else:
            raise SystemExit(f"unknown fault or family {name!r}: faults {FAULTS}, families {sorted(FAMILIES)}, all")
    return sorted(set(chosen), key=chosen.index)


# ---- the cluster's state ---------------------------------------------------------

def topic_view(cluster, topic):
    """{partition: (leader, replicas, isr)} from the first broker that
    answers, or {}."""
    from confluent_kafka.admin import AdminClient
    for node in cluster.brokers:
        if not node.alive():
            continue
        try:
            md = AdminClient({"bootstrap.servers": node.bootstrap, "socket.timeout.ms": 2000,
                              "log_level": 0}).list_topics(topic, timeout=3)
        except Exception:
            continue
        t = md.topics.get(topic)
        if t is not None and t.error is None and t.partitions:
            return {p.id: (p.leader, list(p.replicas), list(p.isrs)) for p in t.partitions.values()}
    return {}


def wait_recovered(cluster, timeout):
    """Waits until every node serves and every partition of the chaos
    topics has a leader and all its replicas in sync. Returns the seconds
    it took, or None on timeout."""
    start = time.monotonic()
    deadline = start + timeout
    for node in cluster.nodes:
        try:
            node.wait_serving(max(1.0, deadline - time.monotonic()))
        except Exception:
            return None
    while time.monotonic() < deadline:
        healthy = True
        for topic, count in ((QUEUE, QUEUE_PARTITIONS), (TXN, TXN_PARTITIONS)):
            view = topic_view(cluster, topic)
            if len(view) != count or any(leader < 0 or len(isr) != len(replicas)
                                         for leader, replicas, isr in view.values()):
                healthy = False
        if healthy:
            return time.monotonic() - start
        time.sleep(0.25)
    return None


def create_topics(cluster):
    from confluent_kafka import KafkaError
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 0})
    topics = [NewTopic(QUEUE, QUEUE_PARTITIONS, 3, config={"min.insync.replicas": "2"}),
              NewTopic(TXN, TXN_PARTITIONS, 3, config={"min.insync.replicas": "2"})]
    # A node answers Metadata once it is registered, which can be before
    # the other nodes are: until then RF 3 is refused
    # (INVALID_REPLICATION_FACTOR), so try again for a while.
    deadline = time.monotonic() + 30
    while topics:
        futures = admin.create_topics(topics, operation_timeout=20)
        left = []
        for topic in topics:
            try:
                futures[topic.topic].result(30)
            except Exception as e:
                code = e.args[0].code() if e.args and hasattr(e.args[0], "code") else None
                if code == KafkaError.TOPIC_ALREADY_EXISTS:
                    continue
                if time.monotonic() > deadline:
                    raise
                left.append(topic)
        topics = left
        if topics:
            time.sleep(0.5)
    if wait_recovered(cluster, 60) is None:
        raise RuntimeError("the chaos topics did not get leaders and full ISRs within 60 s")


# ---- the summary -----------------------------------------------------------------

def availability(ops):
    """(fraction of the 1-s windows of the workload in which some send was
    acknowledged, {fault: longest time, over the partitions, between two
    acknowledgements in one partition, from the fault's injection to the
    next injection}): the second is what a client of the worst-hit
    partition waited, the failover time as clients see it."""
    sends = [op for op in ops if op["f"] == "send"]
    acks = sorted((op["t1"], op["partition"]) for op in sends if op["outcome"] == "ok")
    if not acks:
        return 0.0, {}
    first, end = min(op["t0"] for op in sends), max(op["t0"] for op in sends)
    windows = max(1, int(end - first))
    seen = {int(t - first) for t, _ in acks if t - first < windows}
    by_partition = defaultdict(list)
    for t, partition in acks:
        by_partition[partition].append(t)
    faults = sorted((op for op in ops if op["f"] == "nemesis"), key=lambda op: op["t0"])
    longest = defaultdict(float)
    for i, op in enumerate(faults):
        stop = min(faults[i + 1]["t0"] if i + 1 < len(faults) else end, end)
        worst = 0.0
        for times in by_partition.values():
            last, gap = op["t0"], 0.0
            for t in times:
                if op["t0"] < t <= stop:
                    gap, last = max(gap, t - last), t
            worst = max(worst, gap, stop - last)
        op["unavailable_s"] = round(worst, 2)
        longest[op["fault"]] = max(longest[op["fault"]], worst)
    return len(seen) / windows, dict(longest)


def summary(header, ops, found, problems):
    end = max((op.get("t1", 0) for op in ops), default=0)
    fraction, longest = availability(ops)
    sends = Counter(op["outcome"] for op in ops if op["f"] == "send")
    txns = Counter(op["outcome"] for op in ops if op["f"] == "txn")
    commits = Counter(op["outcome"] for op in ops if op["f"] == "commit")
    cycles = Counter(op["fault"] for op in ops if op["f"] == "nemesis")
    recovery = defaultdict(list)
    for op in ops:
        if op["f"] == "nemesis" and op.get("recovered_s") is not None:
            recovery[op["fault"]].append(op["recovered_s"])
    rows = [("seed", header["seed"]), ("commit", header.get("commit", "?")), ("faults", ",".join(header["faults"])),
            ("duration", f"{end:.0f} s"), ("fault cycles", sum(cycles.values())),
            ("sends acknowledged", sends["ok"]), ("sends indeterminate", sends["info"]),
            ("sends failed", sends["fail"]),
            ("transactions committed/aborted/unknown", f"{txns['commit']}/{txns['abort']}/{txns['info']}"),
            ("offset commits ok/unknown", f"{commits['ok']}/{commits['info']}"),
            ("availability (1-s windows with an ack)", f"{fraction:.3f}")]
    lines = ["| what | value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "| fault | cycles | longest gap between acks in a partition (s) | recovery to full ISR, max (s) |", "| --- | --- | --- | --- |"]
    for fault in sorted(cycles):
        rec = recovery.get(fault)
        lines.append(f"| {fault} | {cycles[fault]} | {longest.get(fault, 0):.1f} | "
                     f"{max(rec):.1f} |" if rec else f"| {fault} | {cycles[fault]} | {longest.get(fault, 0):.1f} | - |")
    lines += ["", "| anomaly | count |", "| --- | --- |"] + [f"| {name} | {len(found[name])} |" for name in ANOMALIES]
    if problems:
        lines += ["", "run problems:"] + [f"  - {p}" for p in problems]
    return "\n".join(lines)


def report(header, ops, problems, history_path):
    found = check(ops)
    print(summary(header, ops, found, problems), flush=True)
    for name in ANOMALIES:
        for anomaly in found[name][:5]:
            print(f"{name}: {anomaly}")
        if len(found[name]) > 5:
            print(f"{name}: ... {len(found[name]) - 5} more")
    if history_path:
        print(f"history: {history_path} (replay: --seed {header['seed']} --faults {','.join(header['faults'])} "
              f"--duration {header['duration']})")
    return 1 if any(found.values()) or problems else 0


# ---- the run ---------------------------------------------------------------------

def git_commit():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:
        return "?"


def sleep_until(t, stop=None):
    while time.monotonic() < t:
        if stop is not None and stop.is_set():
            return
        time.sleep(min(0.2, max(0.0, t - time.monotonic())))


def run(args):
    from cluster import FaultCluster
    from nemesis import Nemesis
    import workload

    from nemesis import unsupported_faults
    faults = parse_faults(args.faults)
    skipped = unsupported_faults(faults)
    for fault, why in skipped.items():
        print(f"skipping {fault}: {why}", flush=True)
    faults = [f for f in faults if f not in skipped]
    if not faults:
        raise SystemExit("no fault left to inject on this machine")
    header = {"seed": args.seed, "faults": faults, "skipped_faults": skipped, "duration": args.duration, "layout": args.layout,
              "commit": git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rng = random.Random(args.seed)
    history = History()
    problems = []

    def note(text):
        print(f"[{history.now():7.1f}] {text}", flush=True)
        history.add({"f": "note", "text": text, "t0": history.now(), "t1": history.now()})

    # SIGTERM (ctest's timeout, kill) unwinds through the finally below, so
    # iptables rules, the netem qdisc and the tmpfs mounts never outlive us.
    def on_term(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    cluster = FaultCluster(args.layout, run_id=f"{os.getpid()}")
    nemesis = None
    stop = threading.Event()
    workers = []
    try:
        cluster.start()
        create_topics(cluster)
        nemesis = Nemesis(cluster, random.Random(f"{args.seed}-nemesis"), QUEUE, note)
        bootstrap = cluster.bootstrap
        workers = ([workload.QueueProducer(i, bootstrap, history, random.Random(f"{args.seed}-p{i}"), stop, QUEUE,
                                           QUEUE_PARTITIONS, args.rate) for i in range(args.producers)]
                   + [workload.GroupMember(i, bootstrap, history, random.Random(f"{args.seed}-g{i}"), stop, QUEUE,
                                           QUEUE_PARTITIONS) for i in range(args.members)]
                   + [workload.CrashingGroupMember(args.members + i, bootstrap, history,
                                                   random.Random(f"{args.seed}-c{i}"), stop, QUEUE, QUEUE_PARTITIONS)
                      for i in range(args.crashing_members)]
                   + [workload.TxnProducer(0, bootstrap, history, random.Random(f"{args.seed}-tx"), stop, TXN,
                                           TXN_PARTITIONS),
                      workload.TxnReader(bootstrap, history, None, stop, TXN, TXN_PARTITIONS)])
        for w in workers:
            w.start()
        note(f"cluster up ({cluster.bootstrap}), workloads started, faults {faults}")
        end = time.monotonic() + args.duration
        sleep_until(time.monotonic() + 3)
        first = rng.sample(faults, len(faults)) if args.each_kind_first else []
        while time.monotonic() < end or first:
            fault = first.pop(0) if first else rng.choice(faults)
            op = {"f": "nemesis", "fault": fault, "t0": history.now()}
            try:
                op["desc"] = nemesis.inject(fault)
            except Exception as e:
                op["desc"] = f"inject failed: {e!r}"
                problems.append(f"{fault} at {op['t0']}: inject failed: {e!r}")
            note(f"{fault}: {op['desc']}")
            sleep_until(time.monotonic() + nemesis.hold_time(fault))
            op["healed"] = history.now()
            nemesis.heal()
            recovered = wait_recovered(cluster, args.recovery_timeout)
            op["recovered_s"] = None if recovered is None else round(recovered, 2)
            op["t1"] = history.now()
            history.add(op)
            note(f"healed {fault}; " + (f"full ISRs after {recovered:.1f} s" if recovered is not None
                                        else f"NOT recovered within {args.recovery_timeout} s"))
            if recovered is None:
                problems.append(f"{fault} at {op['t0']}: no full ISRs {args.recovery_timeout} s after the heal")
            sleep_until(min(end, time.monotonic() + rng.uniform(2, 5)))
        note("schedule done; stopping the workloads")
        stop.set()
        for w in workers:
            w.join(60)
            if w.is_alive():
                problems.append(f"workload {w.name} did not stop within 60 s")
            problems.extend(w.errors)
        if wait_recovered(cluster, 60) is None:
            problems.append("the cluster had no full ISRs 60 s after the last heal")
        for topic, count, committed in ((QUEUE, QUEUE_PARTITIONS, False), (TXN, TXN_PARTITIONS, True)):
            incomplete = workload.final_read(cluster.bootstrap, history, topic, count, read_committed=committed)
            if incomplete:
                problems.append(f"final read of {topic} incomplete for partitions {incomplete}")
        note("final read done")
    except KeyboardInterrupt:
        problems.append("interrupted")
        stop.set()
    finally:
        try:
            if nemesis is not None:
                nemesis.close()
            for node in cluster.nodes:
                if node.proc is not None and node.proc.poll() not in (None, -9):
                    problems.append(f"node {node.node_id} had exited with {node.proc.returncode}")
            status = report(header, history.ops, problems, args.history)
            if args.history:
                history.write(args.history, dict(header, problems=problems))
        finally:
            # The nodes' logs stay when the run found something.
            keep = args.keep or bool(problems) or locals().get("status", 1) != 0
            if keep:
                print("node logs: " + " ".join(n.log_path for n in cluster.nodes))
            cluster.stop(keep=keep)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120, help="seconds of faults (the heal and final read follow)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--faults", default="all", help="faults and families, comma-separated")
    parser.add_argument("--layout", default="combined", choices=["combined", "split"])
    parser.add_argument("--history", default=None, help="JSONL file for the full history")
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=50, help="records per second per producer")
    parser.add_argument("--members", type=int, default=2, help="consumer group members at once")
    parser.add_argument("--crashing-members", type=int, default=1,
                        help="more members of the same group, each in its own process, about half of which end "
                             "by SIGKILL instead of leaving")
    parser.add_argument("--recovery-timeout", type=float, default=45)
    parser.add_argument("--keep", action="store_true", help="keep the nodes' work dirs (logs)")
    parser.add_argument("--check", metavar="HISTORY", help="only re-check a history file")
    parser.add_argument("--each-kind-first", action="store_true",
                        help="inject every chosen fault once (in a seeded order) before drawing at random, "
                             "so that a short run covers each kind")
    parser.add_argument("--skip-without-root", action="store_true",
                        help="exit 77 (ctest's skip) instead of failing when not root")
    args = parser.parse_args()
    if args.check:
        header, ops = load(args.check)
        return report(header, ops, header.get("problems", []), None)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    if os.geteuid() != 0:
        if args.skip_without_root:
            print("skipped: run.py needs root (iptables, tc, mount and cgroups)")
            return 77
        raise SystemExit("run.py needs root: iptables, tc, mount and cgroups")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
