"""Shared support for the integration tests: start real `stratad` processes on
loopback with their own data directories, wait until they serve, stop them.

Run with Debian's /usr/bin/python3 (it has kafka-python and
confluent-kafka). ctest passes STRATAD (the binary) and STRATA_SOURCE_DIR.
"""

import os
import shutil
import struct
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SOURCE_DIR = os.environ.get("STRATA_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
STRATAD = os.path.abspath(os.environ.get("STRATAD", os.path.join(SOURCE_DIR, "build", "src", "stratad")))


INTEGRATION_DIR = os.path.dirname(os.path.abspath(__file__))


def ensure_node_modules():
    """Installs the Node.js clients pinned by tests/integration/package-lock.json
    (from the npm registry) unless they are there already; returns the folder
    to run node scripts in. Serialized with a lock file, as tests run in
    parallel."""
    import fcntl
    # One marker per package.json dependency added later, so a folder
    # installed before it was added is brought up to date.
    markers = [os.path.join(INTEGRATION_DIR, "node_modules", name, "package.json")
               for name in ("kafkajs", "puppeteer-core", "@platformatic/kafka")]
    with open(os.path.join(tempfile.gettempdir(), "strata-npm.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all(os.path.exists(marker) for marker in markers):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=INTEGRATION_DIR,
                           check=True, timeout=600)
    return INTEGRATION_DIR


_handed_out = set()
_reservations = []  # open lock files; the kernel drops the locks when this process exits


def wait_for(predicate, timeout=15.0, what="condition", interval=0.1):
    """Polls `predicate` until it returns something truthy and returns that;
    fails the test when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _port_range():
    """Ports below the kernel's ephemeral range (ip_local_port_range), so that
    no client socket of a test running beside this one takes a port between
    our pick and the broker's bind (as happens with bind(0)'s picks, which
    come from that very range)."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            low = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return 10000, max(low, 12000)


def _reserve(port):
    """Claims a port for this process's lifetime with an advisory lock file,
    so that tests running in parallel (ctest -j) never hand out the same one:
    a port picked here is free at the time, but not yet bound by the broker
    that is to listen on it."""
    import fcntl
    directory = os.path.join(tempfile.gettempdir(), "strata-test-ports")
    os.makedirs(directory, exist_ok=True)
    fh = open(os.path.join(directory, str(port)), "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return False
    _reservations.append(fh)
    return True


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    """A free loopback port, never the same twice in one process (a node
    whose two listeners got the same one refuses its configuration, seen as
    `stratad format` exiting 1 in a full ctest run), nor handed to another
    test process at the same time (see _reserve)."""
    import random
    low, high = _port_range()
    for _ in range(500):
        port = random.randrange(low, high)
        if port not in _handed_out and port_free(port) and _reserve(port):
            _handed_out.add(port)
            return port
    raise RuntimeError("no fresh free port")


def free_cluster_base_port():
    """A port P with P..P+2, P+100..P+102 and P-1011..P-1009 free: the
    brokers', controllers' and HTTP listeners' ports of scripts/cluster.sh
    (STRATA_CLUSTER_PORT); reserved as free_port's are."""
    import random
    low, high = _port_range()
    for _ in range(500):
        base = random.randrange(low + 1011, high - 102)
        ports = (base, base + 1, base + 2, base + 100, base + 101, base + 102, base - 1011, base - 1010, base - 1009)
        if any(p in _handed_out or not port_free(p) for p in ports):
            continue
        if all(_reserve(p) for p in ports):
            _handed_out.update(ports)
            return base
    raise RuntimeError("no free ports")


def registered_brokers(admin, timeout=5.0):
    """How many brokers a Metadata answer lists, through a confluent-kafka
    AdminClient; 0 when the call times out (a loaded machine: ctest runs
    tests in parallel), so that a wait loop asks again until its own deadline
    instead of failing on the first slow answer."""
    from confluent_kafka import KafkaException
    try:
        return len(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return 0


def wait_stopped(pid, timeout=10.0):
    """Until every thread of `pid` is in state T (stopped) or the process is gone."""
    deadline = time.monotonic() + timeout
    while True:
        states = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                        states.append(fh.read().rsplit(")", 1)[1].split()[0])
                except OSError:
                    pass  # the thread ended
        except OSError:
            return  # the process ended
        if all(state in ("T", "t", "Z", "X") for state in states):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"process {pid} not stopped after {timeout}s: thread states {states}")
        time.sleep(0.002)


class Broker:
    """One stratad process. Use as a context manager."""

    def __init__(self, extra_env=None, config=None):
        self.port = free_port()
        # The HTTP listener (metrics, health) on a free port of its own: the
        # compiled-in configuration would take localhost:8080.
        self.http_port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="strata-it-")
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "stratad.log")
        self.config = config
        self.env = dict(os.environ)
        self.env.update({
            "STRATA_LISTENERS": f"PLAINTEXT://127.0.0.1:{self.port}",
            "STRATA_LOG_DIRS": self.data_dir,
            "STRATA_HTTP_LISTENERS": f"http://127.0.0.1:{self.http_port}",
        })
        self.env.update(extra_env or {})
        self.proc = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def http_get(self, path, headers=None, timeout=5.0):
        """GET on the HTTP listener: (status, headers, body as text); error
        statuses are returned, not raised."""
        import urllib.error
        import urllib.request
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def wait_ready(self, timeout=10.0):
        """Waits until the broker is registered and unfenced: a Metadata
        request (kafka-python's encoding, v1) lists it."""
        from kafka.protocol.api import RequestHeader
        from kafka.protocol.metadata import MetadataRequest_v1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            request = MetadataRequest_v1(topics=[])
            header = RequestHeader(request, correlation_id=1, client_id="harness")
            payload = header.encode() + request.encode()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                    sock.sendall(len(payload).to_bytes(4, "big") + payload)
                    size = int.from_bytes(_recv_exactly(sock, 4), "big")
                    frame = _recv_exactly(sock, size)
                response = request.RESPONSE_TYPE.decode(frame[4:])
                if response.brokers:
                    return self
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"stratad did not register its broker within {timeout}s:\n{self.log()}")

    def start(self, timeout=10.0):
        args = [STRATAD]
        if self.config:
            args += ["--config", self.config]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=self.env, cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stratad exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"stratad did not listen within {timeout}s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"stratad did not stop within {timeout}s of signal {sig}")
        if getattr(self, "_log", None):
            self._log.close()
        return self.proc.returncode if self.proc else None

    def kill(self):
        return self.stop(signal.SIGKILL)

    def pause(self, timeout=10.0):
        """SIGSTOP, and wait until every thread has stopped: the kernel wakes
        one thread to take the stop and the others stop when it has; on a
        loaded machine a thread that had been woken (a replica fetcher with
        its answer) ran on for tens of milliseconds, long enough to replicate
        what the test produced after the signal."""
        self.proc.send_signal(signal.SIGSTOP)
        wait_stopped(self.proc.pid, timeout)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def log(self):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start().wait_ready()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"--- stratad log ({self.log_path}) ---\n{self.log()}", file=sys.stderr)


# ---- the metadata quorum ----------------------------------------------------------

def _uvarint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def uvarint(self):
        shift = value = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def compact_string(self):
        n = self.uvarint() - 1
        text = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return text

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.pos += self.uvarint()


def describe_quorum(port, host="127.0.0.1", timeout=1.0):
    """DescribeQuorum v0 (api key 55) for __cluster_metadata-0, encoded by
    hand (kafka-python has no DescribeQuorum). Returns a dict: error (the
    partition's error code: 0 from the leader, 6 NOT_LEADER_OR_FOLLOWER from
    the others), leader_id, leader_epoch, high_watermark, voters
    [(id, log_end_offset)], observers. Raises OSError if the node does not
    answer."""
    topic = b"__cluster_metadata"
    # Request header v2 (DescribeQuorum is flexible at every version): the
    # client id is a classic nullable string, then no tagged fields.
    client_id = b"strata-it"
    header = struct.pack(">hhih", 55, 0, 1, len(client_id)) + client_id + b"\x00"
    body = (_uvarint(2) + _uvarint(len(topic) + 1) + topic + _uvarint(2) + struct.pack(">i", 0)
            + b"\x00" + b"\x00" + b"\x00")
    payload = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        frame = _recv_exactly(sock, size)
    r = _Reader(frame)
    r.take(">i")  # correlation id
    r.skip_tags()  # response header v1
    top_error = r.take(">h")
    result = {"top_error": top_error}
    for _ in range(r.uvarint() - 1):
        r.compact_string()
        for _ in range(r.uvarint() - 1):
            r.take(">i")
            result["error"] = r.take(">h")
            result["leader_id"] = r.take(">i")
            result["leader_epoch"] = r.take(">i")
            result["high_watermark"] = r.take(">q")
            for key in ("voters", "observers"):
                replicas = []
                for _ in range(r.uvarint() - 1):
                    replicas.append((r.take(">i"), r.take(">q")))
                    r.skip_tags()
                result[key] = replicas
            r.skip_tags()
        r.skip_tags()
    return result


def _recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


class Cluster:
    """`size` stratad nodes in combined mode (broker + controller) on
    loopback, each with a PLAINTEXT and a CONTROLLER listener, forming one
    metadata quorum. nodes[i] is a Broker with node_id i + 1 and
    controller_port. Use as a context manager."""

    def __init__(self, size=3, extra_env=None, cluster_id=None):
        self.cluster_id = cluster_id or subprocess.run([STRATAD, "random-uuid"], capture_output=True, text=True,
                                                       check=True).stdout.strip()
        self.formatted = False
        controller_ports = [free_port() for _ in range(size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(controller_ports))
        self.nodes = []
        for i, controller_port in enumerate(controller_ports):
            node = Broker(extra_env=extra_env)
            node.node_id = i + 1
            node.controller_port = controller_port
            node.env.update({
                "STRATA_NODE_ID": str(i + 1),
                "STRATA_LISTENERS": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{controller_port}",
                "STRATA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{node.port}",
                "STRATA_CONTROLLER_QUORUM_VOTERS": voters,
            })
            self.nodes.append(node)

    def format(self):
        """`stratad format` on every node, once: the quorum's nodes must share
        a cluster id before they first start."""
        for node in self.nodes:
            subprocess.run([STRATAD, "format", "-t", self.cluster_id], env=node.env, check=True,
                           capture_output=True, timeout=30)
        self.formatted = True

    def start(self):
        if not self.formatted:
            self.format()
        for node in self.nodes:
            node.start()
        return self

    def node(self, node_id):
        return self.nodes[node_id - 1]

    def running(self):
        return [n for n in self.nodes if n.proc and n.proc.poll() is None]

    def quorum_view(self, node):
        try:
            return describe_quorum(node.controller_port, timeout=0.5)
        except (OSError, ConnectionError):
            return None

    def leader(self, among=None, min_epoch=0):
        """The (leader id, epoch, description) that a node answering as leader
        reports, if its epoch is at least min_epoch; else None."""
        for node in among or self.running():
            view = self.quorum_view(node)
            if view and view.get("error") == 0 and view["leader_id"] == node.node_id and view["leader_epoch"] >= min_epoch:
                return node.node_id, view["leader_epoch"], view
        return None

    def wait_for_leader(self, timeout=10.0, among=None, min_epoch=0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.leader(among, min_epoch)
            if found:
                return found
            time.sleep(0.01)
        views = {n.node_id: self.quorum_view(n) for n in self.nodes}
        raise AssertionError(f"no leader within {timeout}s: {views}")

    def wait_ready(self, timeout=10.0):
        """Waits until the quorum has a leader."""
        self.wait_for_leader(timeout)
        return self

    def stop(self):
        for node in self.nodes:
            if node.proc and node.proc.poll() is None:
                try:
                    node.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
            try:
                node.stop()
            except RuntimeError:
                pass

    def __enter__(self):
        return self.start().wait_ready()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            for node in self.nodes:
                shutil.rmtree(node.workdir, ignore_errors=True)
        else:
            for node in self.nodes:
                print(f"--- node {node.node_id} log ({node.log_path}) ---\n{node.log()}", file=sys.stderr)


def run_tests(tests):
    """Runs test functions in order; prints one line each and a closing
    'N passed, N failed' line; exits non-zero on any failure."""
    passed = failed = 0
    for test in tests:
        start = time.monotonic()
        try:
            test()
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - start:.2f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - start:.2f}s)", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
