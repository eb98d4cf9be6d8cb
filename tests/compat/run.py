"""Runs librdkafka's own test programs against real stratad processes set up
as librdkafka's test clusters are (trivup's defaults: auto-created topics with
4 partitions, min.insync.replicas 1; on three nodes replication factor 3).

    /usr/bin/python3 tests/compat/run.py [--nodes 1|3] [--subset fast|all]
        [--tests 0102,0118] [--protocol classic|consumer] [--runner PATH]

Each test in tests/compat/tests.list marked `run` is one `test-runner`
invocation (TESTS=<id>, -L: no local-only tests); a test marked
`noautocreate` runs on a second cluster with topic auto-creation off
(librdkafka's "noautocreate" scenario); one marked `sasl` on a cluster whose
clients authenticate with SASL/PLAIN on a SASL_PLAINTEXT listener, one
marked `ssl` on one whose clients connect over TLS with a client
certificate (ssl.client.auth=required), with the certificate files and
SSL_* environment librdkafka's trivup-made clusters give their tests; one
marked `acl` on one whose authorizer has no super user for the clients and
allow.everyone.if.no.acl.found, with KAFKA_PATH at tests/compat/kafka (its
bin/kafka-acls.sh hands the tests' ACL changes to the strata CLI).
Prints one PASS/FAIL line per test
and `N passed, N failed`; exits 1 on any failure. A failed test's output is
kept under the work directory printed at the start.

The runner comes from tests/compat/build.sh (STRATA_COMPAT_RUNNER or
--runner overrides); ctest passes STRATAD like the integration tests.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

LIST_PATH = os.path.join(HERE, "tests.list")
# The Kafka version whose APIs Strata serves; librdkafka skips tests that
# need a newer broker (TEST_BRKVER) and picks features by it.
KAFKA_VERSION = "3.9.0"


def parse_list(path):
    """Entries of tests.list: (id, status, tags, reason). A line is
    `<id> <status> [tag...] [-- reason]`; # starts a comment."""
    entries = []
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            head, _, reason = line.partition("--")
            words = head.split()
            entries.append((words[0], words[1], set(words[2:]), reason.strip()))
    return entries


# The client login of the `sasl` scenario (sasl.plain.users on the broker).
SASL_USER, SASL_PASSWORD = "testuser", "testuser-secret"
# The password of the `ssl` scenario's client keystore (PKCS#12), which
# librdkafka's 0097 reads back from SSL_password / ssl.key.password.
SSL_PASSWORD = "strata-compat-keystore"
# The principal the client certificate of scripts/make-test-certs.sh gets.
SSL_PRINCIPAL = "User:CN=alice,O=Strata"
SCENARIOS = ("default", "noautocreate", "sasl", "ssl", "acl")


def scenario_of(tags):
    for scenario in SCENARIOS[1:]:
        if scenario in tags:
            return scenario
    return "default"


def broker_env(nodes, auto_create):
    replication = str(min(nodes, 3))
    return {
        "STRATA_NUM_PARTITIONS": "4",
        "STRATA_MIN_INSYNC_REPLICAS": "1",
        "STRATA_DEFAULT_REPLICATION_FACTOR": replication,
        "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": replication,
        "STRATA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": replication,
        "STRATA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "STRATA_AUTO_CREATE_TOPICS_ENABLE": "true" if auto_create else "false",
        # Kafka's default, which librdkafka's clusters keep (stratad's
        # built-in single-node configuration sets 0): consumers that subscribe
        # within 3 s of each other join the same first generation, as the
        # group tests (0113, 0118) expect.
        "STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "3000",
        # An authorizer, as librdkafka's ACL tests (0081) need one to answer
        # CreateAcls/DescribeAcls. Every connection here is PLAINTEXT, so
        # every client and broker is User:ANONYMOUS, a super user: nothing
        # else is refused.
        "STRATA_AUTHORIZER_CLASS_NAME": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # The secured scenarios' clients are super users too: what they
        # test is the connection (TLS, SASL), not the authorizer.
        "STRATA_SUPER_USERS": f"User:ANONYMOUS;User:{SASL_USER};{SSL_PRINCIPAL}",
    }


def make_client_certs(directory):
    """The broker and client certificates of scripts/make-test-certs.sh, and
    the client's in the other encodings librdkafka's 0097 loads (trivup's
    SSL_* files): a PKCS#12 keystore holding key, certificate and CA, and
    DER copies of the key, the certificate and the CA. Returns the SSL_*
    environment and the test.conf lines."""
    source_dir = os.path.join(HERE, "..", "..")
    subprocess.run(["sh", os.path.join(source_dir, "scripts", "make-test-certs.sh"), directory, "localhost",
                    "127.0.0.1"], check=True, capture_output=True)
    path = lambda name: os.path.join(directory, name)  # noqa: E731

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl("pkcs12", "-export", "-in", path("client-cert.pem"), "-inkey", path("client-key.pem"),
            "-certfile", path("ca.pem"), "-out", path("client.p12"), "-passout", f"pass:{SSL_PASSWORD}")
    openssl("x509", "-in", path("client-cert.pem"), "-outform", "DER", "-out", path("client-cert.der"))
    openssl("pkey", "-in", path("client-key.pem"), "-outform", "DER", "-out", path("client-key.der"))
    openssl("x509", "-in", path("ca.pem"), "-outform", "DER", "-out", path("ca.der"))
    env = {
        "SSL_pkcs": path("client.p12"),
        "SSL_pub_der": path("client-cert.der"),
        "SSL_pub_pem": path("client-cert.pem"),
        "SSL_priv_der": path("client-key.der"),
        "SSL_priv_pem": path("client-key.pem"),
        "SSL_ca_der": path("ca.der"),
        "SSL_all_cas_pem": path("ca.pem"),
        "SSL_password": SSL_PASSWORD,
        "SSL_client_auth": "required",
    }
    conf = {
        "security.protocol": "SSL",
        "ssl.ca.location": path("ca.pem"),
        "ssl.certificate.location": path("client-cert.pem"),
        "ssl.key.location": path("client-key.pem"),
        "ssl.key.password": SSL_PASSWORD,
    }
    return env, conf


class Nodes:
    """One node (harness.Broker) or a quorum of three (harness.Cluster), set
    up for one scenario. `bootstrap` is where the tests connect: the
    scenario's own listener (SASL_PLAINTEXT, SSL) when it has one; the
    harness probes and registers the nodes on their PLAINTEXT listener,
    over which the nodes also replicate."""

    def __init__(self, nodes, scenario, workdir):
        env = broker_env(nodes, auto_create=scenario != "noautocreate")
        self.inner = harness.Broker(extra_env=env) if nodes == 1 else harness.Cluster(nodes, extra_env=env)
        self.nodes = [self.inner] if nodes == 1 else self.inner.nodes
        self.client_env, self.client_conf = {}, {}
        if scenario == "acl":
            # librdkafka's ACL tests deny User:* a topic and expect the
            # client (User:ANONYMOUS) refused there and nowhere else: no
            # super user it could be, and every resource without ACLs open.
            # Their kafka-acls.sh calls go to tests/compat/kafka/bin, which
            # hands them to Strata's CLI.
            for node in self.nodes:
                node.env["STRATA_SUPER_USERS"] = "User:admin"
                node.env["STRATA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] = "true"
            self.client_env = {
                "KAFKA_PATH": os.path.join(HERE, "kafka"),
                "STRATA": os.path.abspath(os.environ.get("STRATA",
                                                         os.path.join(os.path.dirname(harness.STRATAD), "strata"))),
            }
        if scenario == "ssl":
            certs = os.path.join(workdir, "certs")
            self.client_env, self.client_conf = make_client_certs(certs)
        for node in self.nodes:
            node_id = getattr(node, "node_id", 1)
            # librdkafka's fetch-from-follower test (0101) expects one rack
            # per broker, named RACK<id>, and KIP-392's rack-aware selector.
            node.env["STRATA_BROKER_RACK"] = f"RACK{node_id}"
            node.env["STRATA_REPLICA_SELECTOR_CLASS"] = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
            node.client_port = node.port
            if scenario not in ("sasl", "ssl"):
                continue
            protocol = "SASL_PLAINTEXT" if scenario == "sasl" else "SSL"
            node.client_port = harness.free_port()
            listener = f"{protocol}://127.0.0.1:{node.client_port}"
            node.env["STRATA_LISTENERS"] += "," + listener
            if "STRATA_ADVERTISED_LISTENERS" in node.env:
                node.env["STRATA_ADVERTISED_LISTENERS"] += "," + listener
            if scenario == "sasl":
                node.env["STRATA_SASL_PLAIN_USERS"] = f"{SASL_USER}:{SASL_PASSWORD}"
                # KIP-368: sessions end after 10 s, so that 0142 sees its
                # clients re-authenticate mid-produce and mid-consume (it
                # reads the key with DescribeConfigs and skips without it).
                node.env["STRATA_CONNECTIONS_MAX_REAUTH_MS"] = "10000"
            else:
                node.env.update({
                    "STRATA_SSL_KEYSTORE_LOCATION": os.path.join(certs, "broker.pem"),
                    "STRATA_SSL_TRUSTSTORE_LOCATION": os.path.join(certs, "ca.pem"),
                    "STRATA_SSL_CLIENT_AUTH": "required",
                })
        if scenario == "sasl":
            self.client_conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                                "sasl.username": SASL_USER, "sasl.password": SASL_PASSWORD}

    def __enter__(self):
        self.inner.__enter__()
        for node in self.nodes:
            node.wait_ready(30.0)
        # Every broker registered (and unfenced) before the first test, or a
        # replication factor 3 topic cannot be created yet.
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": ",".join(n.bootstrap for n in self.nodes)})
        deadline = time.monotonic() + 30
        while harness.registered_brokers(admin) < len(self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("not every broker registered within 30 s")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        self.inner.__exit__(*exc)

    @property
    def bootstrap(self):
        return ",".join(f"127.0.0.1:{n.client_port}" for n in self.nodes)

    def alive(self):
        return all(n.proc and n.proc.poll() is None for n in self.nodes)


def run_one(runner, test_id, cluster, workdir, args, timeout, scenario, quick):
    bootstrap = cluster.bootstrap
    conf = os.path.join(workdir, f"test-{test_id}.conf")
    with open(conf, "w") as fh:
        fh.write(f"metadata.broker.list={bootstrap}\n")
        # Random topic names: a rerun (or the other cluster) never sees the
        # topics of an earlier test.
        fh.write("test.topic.random=true\n")
        for key, value in cluster.client_conf.items():
            fh.write(f"{key}={value}\n")
    tests_dir = os.path.dirname(runner)
    lib_dirs = [os.path.join(tests_dir, "..", "src"), os.path.join(tests_dir, "..", "src-cpp")]
    env = dict(os.environ)
    env.update(cluster.client_env)
    env.update({
        "TESTS": test_id,
        "RDKAFKA_TEST_CONF": conf,
        "BROKERS": bootstrap,
        "TEST_KAFKA_VERSION": KAFKA_VERSION,
        "TEST_CONSUMER_GROUP_PROTOCOL": args.protocol,
        "LD_LIBRARY_PATH": ":".join(lib_dirs + [env.get("LD_LIBRARY_PATH", "")]),
    })
    # librdkafka's own scenario name: a test runs only in the scenario its
    # definition names (default, or noautocreate); the secured clusters are
    # librdkafka's default scenario over another listener.
    env["TEST_SCENARIO"] = "noautocreate" if scenario == "noautocreate" else "default"
    flags = ["-L", "-S"]
    if quick:
        flags.append("-Q")
    log_path = os.path.join(workdir, f"{test_id}.log")
    start = time.monotonic()
    with open(log_path, "wb") as log:
        try:
            rc = subprocess.run([runner] + flags, cwd=tests_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    return rc, time.monotonic() - start, log_path


def skip_reason(log_path):
    """Why librdkafka skipped the test itself (not its local-only variant,
    which -L filters), or None."""
    with open(log_path, "rb") as fh:
        for line in fh.read().decode(errors="replace").splitlines():
            if "SKIPPING TEST:" in line and "negative test flags" not in line:
                reason = line.split("SKIPPING TEST:", 1)[1]
                return re.sub(r"\x1b\[[0-9;]*m", "", reason).split("[", 1)[0].strip()
    return None


# Tests whose own checks only print (0101's test_assert is a Test::Say):
# any of these lines in the output fails the test here.
SOFT_ASSERTS = {
    "0101": ["Failed to create producer", "Failed to create topic", "Failed to create KafkaConsumer",
             "Failed to acquire metadata", "expecting metadata for exactly one topic",
             "Expected event type", "expecting describe config results", "Expected success, not",
             "Expecting 1 resource", "expecting three replicas", "expecting message value size",
             "expecting 'msg='", "following 'msg='", "message consumed out of order",
             "rxbytes was not highest", "expecting rxbytes of client.rack broker"],
}


def soft_failure(log_path, test_id):
    """The first line a test's printed-only check wrote, or None."""
    with open(log_path, "rb") as fh:
        text = fh.read().decode(errors="replace")
    for line in text.splitlines():
        if any(marker in line for marker in SOFT_ASSERTS.get(test_id, ())):
            return re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
    return None


def ran(log_path, test_id):
    """Whether librdkafka started the test at all: with a scenario or a
    filter that leaves it out, test-runner runs nothing and passes."""
    with open(log_path, "rb") as fh:
        return f"Running test {test_id}_".encode() in fh.read()


def failure_summary(log_path):
    """The lines of a test's output that say why it failed."""
    with open(log_path, "rb") as fh:
        text = fh.read().decode(errors="replace")
    lines = [line for line in text.splitlines() if "FAIL" in line or "Test assertion" in line or "### " in line]
    return "\n".join("    " + line[:300] for line in lines[-6:])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=1, choices=[1, 3])
    parser.add_argument("--subset", default="all", choices=["all", "fast"])
    parser.add_argument("--tests", default="", help="comma-separated ids (default: the list's runnable ones)")
    parser.add_argument("--protocol", default="classic", choices=["classic", "consumer"])
    parser.add_argument("--quick", action="store_true", help="librdkafka's quick mode (-Q)")
    parser.add_argument("--runner", default=os.environ.get("STRATA_COMPAT_RUNNER"))
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="per test, seconds (librdkafka has its own per-test timeouts; this is a backstop)")
    parser.add_argument("--jobs", type=int, default=0, help="tests at a time (default: 6 for the fast subset, else 1)")
    args = parser.parse_args()

    runner = args.runner
    if not runner:
        build_args = ["bash", os.path.join(HERE, "build.sh")]
        if os.environ.get("STRATA_COMPAT_BUILD_DIR"):
            build_args.append(os.environ["STRATA_COMPAT_BUILD_DIR"])
        runner = subprocess.run(build_args, check=True, stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()[-1]
    runner = os.path.abspath(runner)

    entries = parse_list(LIST_PATH)
    wanted = set(args.tests.split(",")) if args.tests else None
    selected = []
    for test_id, status, tags, reason in entries:
        if wanted is not None:
            if test_id in wanted:
                selected.append((test_id, tags))
            continue
        if status != "run" or (args.subset == "fast" and "fast" not in tags):
            continue
        if args.protocol == "consumer" and "classic-only" in tags:
            continue
        if args.protocol == "consumer" and args.subset == "fast" and "flaky848" in tags:
            continue
        if args.protocol == "classic" and "consumer-only" in tags:
            continue
        if args.nodes < 3 and "nodes3" in tags:
            continue
        selected.append((test_id, tags))
    jobs = args.jobs or (6 if args.subset == "fast" else 1)

    workdir = tempfile.mkdtemp(prefix="strata-compat-")
    print(f"compat: {len(selected)} tests on {args.nodes} node(s), {args.protocol} protocol, "
          f"{'quick' if args.quick else 'full'} mode, {jobs} at a time; logs in {workdir}", flush=True)
    passed = failed = 0
    failures = []
    for scenario in SCENARIOS:
        group = [(t, tags) for t, tags in selected if scenario_of(tags) == scenario]
        if not group:
            continue
        with Nodes(args.nodes, scenario, tempfile.mkdtemp(prefix=f"{scenario}-", dir=workdir)) as cluster:
            def one(entry):
                test_id, tags = entry
                # In quick mode many of librdkafka's group tests return at once
                # without testing anything; only those tagged fast-quick keep
                # real work in it (0113's first sub-tests).
                quick = args.quick or (args.subset == "fast" and "fast-quick" in tags)
                return test_id, run_one(runner, test_id, cluster, workdir, args, args.timeout, scenario, quick)

            # librdkafka's tests use their own random topics and groups, and
            # its own `make` runs them in parallel as well.
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                for test_id, (rc, seconds, log_path) in pool.map(one, group):
                    skipped = skip_reason(log_path)
                    started = ran(log_path, test_id)
                    soft = soft_failure(log_path, test_id)
                    ok = rc == 0 and cluster.alive() and not skipped and started and not soft
                    if ok:
                        passed += 1
                        print(f"PASS {test_id} ({seconds:.1f}s)", flush=True)
                        continue
                    failed += 1
                    failures.append(test_id)
                    why = f"exit {rc}" if cluster.alive() else "a stratad process died"
                    if rc == 0 and skipped:
                        # A listed test must run: one librdkafka skips belongs
                        # among the exclusions, with its reason.
                        why = f"skipped by librdkafka: {skipped}"
                    elif rc == 0 and not started:
                        why = "librdkafka did not run it (its scenario or filter left it out)"
                    elif rc == 0 and soft:
                        why = f"its check printed: {soft[:200]}"
                    print(f"FAIL {test_id} ({seconds:.1f}s, {why}; log {log_path})", flush=True)
                    print(failure_summary(log_path), flush=True)
            if not cluster.alive():
                raise SystemExit("compat: a stratad process died; stopping")
    if failures:
        print("failed: " + " ".join(failures))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
