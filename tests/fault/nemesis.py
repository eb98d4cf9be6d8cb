"""The nemesis: injects one fault at a time into a FaultCluster and heals it.

Every fault is a (name, inject, heal) pair chosen by a seeded random.Random,
so a schedule replays from its seed. Partitions are iptables rules in a
chain of this run, matching the sending node's cgroup and the receiving
node's replication and controller ports (clients keep reaching every node);
netem shapes only a victim's inter-node ports on lo (a prio qdisc whose
other bands take all other traffic unchanged)."""

import glob
import os
import signal
import subprocess

from cluster import SESSION_TIMEOUT_MS

FAULTS = ["kill_leader", "kill_follower", "kill_controller", "kill_majority", "pause", "partition_leader",
          "partition_one", "partition_halves", "netem", "clock", "disk_fsync", "disk_write", "disk_full",
          "corrupt"]


def sh(*args, check=True):
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def unsupported_faults(faults):
    """{fault: why} for the faults this machine cannot inject. netem needs
    the kernel's prio and netem qdiscs (sch_prio, sch_netem); probed on a
    device of its own when there is one, so lo is never touched."""
    out = {}
    if "netem" in faults:
        dev, made = "strata-probe0", True
        if sh("ip", "link", "add", dev, "type", "dummy", check=False).returncode != 0:
            # No dummy driver: an idle ifb device serves, if the kernel has one.
            dev, made = "ifb0", False
            if sh("ip", "link", "show", dev, check=False).returncode != 0:
                return {"netem": "no dummy or ifb device to probe tc on"}
        for qdisc in (["prio", "bands", "4"], ["netem", "delay", "1ms"]):
            r = sh("tc", "qdisc", "add", "dev", dev, "root", *qdisc, check=False)
            sh("tc", "qdisc", "del", "dev", dev, "root", check=False)
            if r.returncode != 0:
                out["netem"] = f"tc qdisc {qdisc[0]}: {r.stderr.strip()} (this kernel lacks sch_{qdisc[0]})"
                break
        if made:
            sh("ip", "link", "del", dev, check=False)
    return out


class Nemesis:
    def __init__(self, cluster, rng, topic, log):
        self.cluster, self.rng, self.topic, self.log = cluster, rng, topic, log
        self.chain = f"SF{cluster.run_id}"[:28]
        self.netem_on = False
        self.fillers = []
        sh("iptables", "-N", self.chain, check=False)
        sh("iptables", "-F", self.chain)
        if sh("iptables", "-C", "OUTPUT", "-j", self.chain, check=False).returncode != 0:
            sh("iptables", "-I", "OUTPUT", "-j", self.chain)

    def close(self):
        self.heal()
        sh("iptables", "-D", "OUTPUT", "-j", self.chain, check=False)
        sh("iptables", "-F", self.chain, check=False)
        sh("iptables", "-X", self.chain, check=False)

    # ---- picking victims -------------------------------------------------------

    def partition_view(self):
        """{partition: (leader, [replicas])} of the queue topic, from any
        broker that answers."""
        from confluent_kafka.admin import AdminClient
        for node in self.cluster.brokers:
            if not node.alive():
                continue
            try:
                md = AdminClient({"bootstrap.servers": node.bootstrap, "socket.timeout.ms": 2000}).list_topics(
                    self.topic, timeout=3)
                topic = md.topics.get(self.topic)
                if topic and topic.partitions:
                    return {p.id: (p.leader, list(p.replicas)) for p in topic.partitions.values()}
            except Exception:
                continue
        return {}

    def pick_leader(self):
        view = self.partition_view()
        leaders = sorted({leader for leader, _ in view.values() if leader > 0})
        if leaders:
            return self.cluster.node(self.rng.choice(leaders))
        return self.rng.choice(self.cluster.brokers)

    def pick_follower(self):
        view = self.partition_view()
        followers = sorted({r for leader, replicas in view.values() for r in replicas if r != leader})
        if followers:
            return self.cluster.node(self.rng.choice(followers))
        return self.rng.choice(self.cluster.brokers)

    def pick_any(self):
        return self.rng.choice(self.cluster.nodes)

    # ---- faults: each returns a description; heal() undoes them all -------------

    def inject(self, fault):
        return getattr(self, "_" + fault)()

    def _kill_leader(self):
        victim = self.pick_leader()
        victim.kill9()
        return f"SIGKILL leader node {victim.node_id}"

    def _kill_follower(self):
        victim = self.pick_follower()
        victim.kill9()
        return f"SIGKILL follower node {victim.node_id}"

    def _kill_controller(self):
        active = self.cluster.active_controller()
        victim = self.cluster.node(active) if active else self.rng.choice(self.cluster.controllers)
        victim.kill9()
        return f"SIGKILL active controller node {victim.node_id}"

    def _kill_majority(self):
        victims = self.rng.sample(self.cluster.controllers, 2)
        for v in victims:
            v.kill9()
        return f"SIGKILL majority nodes {[v.node_id for v in victims]}"

    def _pause(self):
        victim = self.pick_leader()
        victim.signal(signal.SIGSTOP)
        return f"SIGSTOP leader node {victim.node_id}"

    def hold_time(self, fault):
        if fault == "pause":  # longer than broker.session.timeout.ms
            return SESSION_TIMEOUT_MS / 1000 + self.rng.uniform(1.5, 4.0)
        return self.rng.uniform(3.0, 8.0)

    def cut(self, side_a, side_b):
        for src_side, dst_side in ((side_a, side_b), (side_b, side_a)):
            ports = ",".join(str(p) for n in dst_side for p in n.inter_ports)
            for src in src_side:
                sh("iptables", "-A", self.chain, "-p", "tcp", "-m", "cgroup", "--path", src.cgroup, "-m",
                   "multiport", "--dports", ports, "-j", "DROP")

    def _partition_leader(self):
        victim = self.pick_leader()
        others = [n for n in self.cluster.nodes if n is not victim]
        self.cut([victim], others)
        return f"partition leader node {victim.node_id} from the other nodes (clients still reach it)"

    def _partition_one(self):
        victim = self.pick_any()
        self.cut([victim], [n for n in self.cluster.nodes if n is not victim])
        return f"isolate node {victim.node_id}"

    def _partition_halves(self):
        nodes = list(self.cluster.nodes)
        self.rng.shuffle(nodes)
        half = len(nodes) // 2
        self.cut(nodes[:half], nodes[half:])
        return f"split {[n.node_id for n in nodes[:half]]} | {[n.node_id for n in nodes[half:]]}"

    def _netem(self):
        victim = self.pick_leader()
        delay, loss = self.rng.choice([50, 100, 200]), self.rng.choice([5, 10, 20])
        # Band 4 is netem's; the priomap sends all other traffic to band 1.
        sh("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio", "bands", "4", "priomap",
           *["0"] * 16)
        self.netem_on = True
        sh("tc", "qdisc", "add", "dev", "lo", "parent", "1:4", "handle", "40:", "netem", "delay", f"{delay}ms",
           f"{delay // 2}ms", "loss", f"{loss}%", "reorder", "25%", "50%")
        for port in victim.inter_ports:
            for direction in ("sport", "dport"):
                sh("tc", "filter", "add", "dev", "lo", "parent", "1:0", "protocol", "ip", "prio", "1", "u32",
                   "match", "ip", direction, str(port), "0xffff", "flowid", "1:4")
        return f"netem delay {delay}ms loss {loss}% reorder on node {victim.node_id}'s inter-node ports"

    def _restart_with(self, victim, wrapper=None, clock_offset=0):
        victim.kill9()
        victim.wrapper = wrapper or []
        victim.clock_offset = clock_offset
        victim.start()

    def _clock(self):
        victim = self.pick_any()
        offset = self.rng.choice([-3600, -300, 300, 3600, 86400])
        self._restart_with(victim, clock_offset=offset)
        return f"restart node {victim.node_id} under libfaketime {offset:+d}s"

    def _disk_fsync(self):
        victim = self.pick_any()
        self._restart_with(victim, ["fiu-run", "-x", "-f", "", "-c", "enable_random name=posix/io/sync/*,probability=0.5,"
                                    "failinfo=5"])
        return f"restart node {victim.node_id} under fiu-run: fsync/fdatasync fail with EIO (p=0.5)"

    def _disk_write(self):
        victim = self.pick_any()
        self._restart_with(victim, ["fiu-run", "-x", "-f", "", "-c", "enable_random name=posix/io/rw/pwrite,probability=0.05,"
                                    "failinfo=28", "-c", "enable_random name=posix/io/rw/pwritev,probability=0.05,"
                                    "failinfo=28"])
        # pwrite/pwritev: the segment appends (storage/file_util.cc); not
        # write(), which Asio's wakeup eventfd shares with RocksDB.
        return f"restart node {victim.node_id} under fiu-run: pwrite/pwritev fail with ENOSPC (p=0.05)"

    def _disk_full(self):
        victim = self.pick_leader()
        filler = os.path.join(victim.data_dir, "filler")
        with open(filler, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * (1 << 20))
            except OSError:
                pass
        self.fillers.append(filler)
        return f"fill node {victim.node_id}'s log dir (tmpfs) to ENOSPC"

    def _corrupt(self):
        victim = self.pick_any()
        victim.kill9()
        segments = sorted(glob.glob(os.path.join(victim.data_dir, f"{self.topic}-*", "*.log")))
        done = []
        for seg in self.rng.sample(segments, min(2, len(segments))):
            size = os.path.getsize(seg)
            if size == 0:
                continue
            if self.rng.random() < 0.5:
                cut = self.rng.randint(1, min(size, 4096))
                os.truncate(seg, size - cut)
                done.append(f"truncated {cut}B of {os.path.relpath(seg, victim.data_dir)}")
            else:
                at = self.rng.randint(max(0, size - 4096), size - 1)
                with open(seg, "r+b") as fh:
                    fh.seek(at)
                    fh.write(os.urandom(min(64, size - at)))
                done.append(f"garbled bytes at {at} of {os.path.relpath(seg, victim.data_dir)}")
        victim.start()
        return f"node {victim.node_id} stopped, {'; '.join(done) or 'no segment'}, restarted"

    def heal(self):
        sh("iptables", "-F", self.chain, check=False)
        if self.netem_on:
            sh("tc", "qdisc", "del", "dev", "lo", "root", check=False)
            self.netem_on = False
        for filler in self.fillers:
            try:
                os.remove(filler)
            except OSError:
                pass
        self.fillers = []
        for node in self.cluster.nodes:
            node.signal(signal.SIGCONT)
            if node.wrapper or node.clock_offset:
                node.kill9()
                node.wrapper, node.clock_offset = [], 0
            if not node.alive():
                if node.proc is not None and node.proc.returncode not in (None, -9):
                    self.log(f"node {node.node_id} had exited with {node.proc.returncode}")
                node.kill9()
                node.start()
