"""The fault tier's cluster: real stratad processes on loopback, each with
three listeners (clients, replication, controller) so that a network
partition can cut the nodes' own traffic while clients still reach every
node; each node runs in a cgroup of its own (iptables matches it), under
libfaketime when a clock fault restarts it, with its log dir on a small tmpfs of
its own (the disk can genuinely fill up).

Layouts: `combined` (3 nodes, broker + controller each) and `split`
(3 controller-only voters, 3 broker-only nodes)."""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import STRATAD, Broker, describe_quorum, free_port, wait_stopped  # noqa: E402

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
CGROUP_ROOT = "/sys/fs/cgroup/unified" if os.path.isdir("/sys/fs/cgroup/unified") else "/sys/fs/cgroup"
SESSION_TIMEOUT_MS = 4000
TIMING = {
    "STRATA_BROKER_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
    "STRATA_BROKER_HEARTBEAT_INTERVAL_MS": "500",
    "STRATA_REPLICA_LAG_TIME_MAX_MS": "8000",
    "STRATA_LOG_LEVEL": "info",
    # Fewer internal partitions than the default 50: a node restarts often,
    # and each partition is one more to recover and elect.
    "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "5",
    "STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "5",
    # Replicated internal topics, as in production (the built-in single-node
    # configuration has them at one replica): a killed coordinator's groups
    # and transactions move to another node instead of waiting for it.
    "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
    "STRATA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "3",
    "STRATA_TRANSACTION_STATE_LOG_MIN_ISR": "2",
}
TMPFS_MB = 384


class Node(Broker):
    """One stratad of the fault cluster. `roles` is a subset of
    {broker, controller}; repl_port is None on a controller-only node,
    port (clients) too."""

    def __init__(self, node_id, roles, run_id):
        super().__init__(extra_env=TIMING)
        self.node_id, self.roles = node_id, roles
        self.repl_port = free_port() if "broker" in roles else None
        self.controller_port = free_port() if "controller" in roles else None
        self.cgroup = f"strata-fault-{run_id}/n{node_id}"
        self.mounted = False
        self.wrapper = []  # e.g. fiu-run for one incarnation
        self.clock_offset = 0  # seconds; non-zero: this incarnation runs under libfaketime

    def configure(self, voters):
        listeners, protocols = [], []
        if "broker" in self.roles:
            listeners += [f"PLAINTEXT://127.0.0.1:{self.port}", f"REPLICATION://127.0.0.1:{self.repl_port}"]
            protocols += ["PLAINTEXT:PLAINTEXT", "REPLICATION:PLAINTEXT"]
            self.env["STRATA_ADVERTISED_LISTENERS"] = ",".join(listeners)
            self.env["STRATA_INTER_BROKER_LISTENER_NAME"] = "REPLICATION"
        if "controller" in self.roles:
            listeners.append(f"CONTROLLER://127.0.0.1:{self.controller_port}")
            protocols.append("CONTROLLER:PLAINTEXT")
        self.env.update({
            "STRATA_NODE_ID": str(self.node_id),
            "STRATA_PROCESS_ROLES": ",".join(sorted(self.roles)),
            "STRATA_LISTENERS": ",".join(listeners),
            "STRATA_LISTENER_SECURITY_PROTOCOL_MAP": ",".join(protocols),
            "STRATA_CONTROLLER_QUORUM_VOTERS": voters,
        })
        if "broker" not in self.roles:
            # The harness's readiness probe needs a port that answers; a
            # controller answers DescribeQuorum on its controller port.
            self.port = self.controller_port

    @property
    def inter_ports(self):
        """The ports the nodes' own traffic goes to: a partition cuts these."""
        return [p for p in (self.repl_port, self.controller_port) if p]

    def mount_tmpfs(self):
        os.makedirs(self.data_dir, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", self.data_dir], check=True)
        self.mounted = True

    def umount(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.data_dir], check=False)
            self.mounted = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=20.0):
        env = dict(self.env)
        if self.clock_offset:
            # Only the wall clock is off, as after an NTP step; the monotonic
            # clock (timeouts, elections) is the real one. (A clock that jumps
            # inside a running process through FAKETIME_TIMESTAMP_FILE made
            # libfaketime 0.9.10 fail clock_nanosleep with EINVAL: not used.)
            env.update({"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": f"{self.clock_offset:+d}",
                        "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
        procs = os.path.join(CGROUP_ROOT, self.cgroup, "cgroup.procs")

        def enter_cgroup():
            # Before exec, so that no connection of the node escapes the match.
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))

        self._log = open(self.log_path, "ab")
        self._log.write(f"\n==== start {time.strftime('%H:%M:%S')} wrapper={self.wrapper} ====\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.wrapper + [STRATAD], env=env, cwd=self.workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT, preexec_fn=enter_cgroup)
        return self

    def wait_serving(self, timeout=30.0):
        if "broker" in self.roles:
            return self.wait_ready(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                describe_quorum(self.controller_port, timeout=0.5)
                return self
            except (OSError, ConnectionError):
                time.sleep(0.1)
        raise RuntimeError(f"controller {self.node_id} did not answer within {timeout}s")

    def signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)
            if sig == signal.SIGSTOP:
                wait_stopped(self.proc.pid)  # every thread, not only the one the kernel woke

    def kill9(self):
        if self.proc is not None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None


class FaultCluster:
    def __init__(self, layout="combined", run_id=None):
        self.run_id = run_id or str(os.getpid())
        self.layout = layout
        os.makedirs(os.path.join(CGROUP_ROOT, f"strata-fault-{self.run_id}"), exist_ok=True)
        if layout == "combined":
            self.nodes = [Node(i, {"broker", "controller"}, self.run_id) for i in (1, 2, 3)]
        elif layout == "split":
            self.nodes = ([Node(i, {"controller"}, self.run_id) for i in (1, 2, 3)]
                          + [Node(i, {"broker"}, self.run_id) for i in (4, 5, 6)])
        else:
            raise ValueError(layout)
        for node in self.nodes:
            os.makedirs(os.path.join(CGROUP_ROOT, node.cgroup), exist_ok=True)
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.controllers)
        for node in self.nodes:
            node.configure(voters)
        self.cluster_id = subprocess.run([STRATAD, "random-uuid"], capture_output=True, text=True,
                                         check=True).stdout.strip()

    @property
    def controllers(self):
        return [n for n in self.nodes if "controller" in n.roles]

    @property
    def brokers(self):
        return [n for n in self.nodes if "broker" in n.roles]

    def node(self, node_id):
        return next(n for n in self.nodes if n.node_id == node_id)

    @property
    def bootstrap(self):
        return ",".join(n.bootstrap for n in self.brokers)

    def start(self):
        for node in self.nodes:
            node.mount_tmpfs()
            subprocess.run([STRATAD, "format", "-t", self.cluster_id], env=node.env, check=True,
                           capture_output=True, timeout=30)
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_serving(30)
        return self

    def active_controller(self):
        """The id of the node that answers DescribeQuorum as leader, or None."""
        for node in self.controllers:
            if not node.alive():
                continue
            try:
                view = describe_quorum(node.controller_port, timeout=0.5)
            except (OSError, ConnectionError):
                continue
            if view.get("error") == 0 and view.get("leader_id") == node.node_id:
                return node.node_id
        return None

    def stop(self, keep=False):
        for node in self.nodes:
            try:
                node.kill9()
            except Exception:
                pass
        for node in self.nodes:
            node.umount()
        base = os.path.join(CGROUP_ROOT, f"strata-fault-{self.run_id}")
        for node in self.nodes:
            try:
                os.rmdir(os.path.join(CGROUP_ROOT, node.cgroup))
            except OSError:
                pass
        try:
            os.rmdir(base)
        except OSError:
            pass
        if not keep:
            for node in self.nodes:
                shutil.rmtree(node.workdir, ignore_errors=True)
