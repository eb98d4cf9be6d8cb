"""Runs librdkafka's own test programs against real stratad processes set up
as librdkafka's test clusters are (trivup's defaults: auto-created topics with
4 partitions, min.insync.replicas 1; on three nodes replication factor 3).

    /usr/bin/python3 tests/compat/run.py [--nodes 1|3] [--subset fast|all]
        [--tests 0102,0118] [--protocol classic|consumer] [--runner PATH]

Each test in tests/compat/tests.list marked `run` is one `test-runner`
invocation (TESTS=<id>, -L: no local-only tests); a test marked
`noautocreate` runs on a second cluster with topic auto-creation off
(librdkafka's "noautocreate" scenario). Prints one PASS/FAIL line per test
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
        "STRATA_SUPER_USERS": "User:ANONYMOUS",
    }


class Nodes:
    """One node (harness.Broker) or a quorum of three (harness.Cluster)."""

    def __init__(self, nodes, auto_create=True):
        env = broker_env(nodes, auto_create)
        self.inner = harness.Broker(extra_env=env) if nodes == 1 else harness.Cluster(nodes, extra_env=env)
        self.nodes = [self.inner] if nodes == 1 else self.inner.nodes

    def __enter__(self):
        self.inner.__enter__()
        for node in self.nodes:
            node.wait_ready(30.0)
        # Every broker registered (and unfenced) before the first test, or a
        # replication factor 3 topic cannot be created yet.
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
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
        return ",".join(n.bootstrap for n in self.nodes)

    def alive(self):
        return all(n.proc and n.proc.poll() is None for n in self.nodes)


def run_one(runner, test_id, bootstrap, workdir, args, timeout, scenario, quick):
    conf = os.path.join(workdir, f"test-{test_id}.conf")
    with open(conf, "w") as fh:
        fh.write(f"metadata.broker.list={bootstrap}\n")
        # Random topic names: a rerun (or the other cluster) never sees the
        # topics of an earlier test.
        fh.write("test.topic.random=true\n")
    tests_dir = os.path.dirname(runner)
    lib_dirs = [os.path.join(tests_dir, "..", "src"), os.path.join(tests_dir, "..", "src-cpp")]
    env = dict(os.environ)
    env.update({
        "TESTS": test_id,
        "RDKAFKA_TEST_CONF": conf,
        "BROKERS": bootstrap,
        "TEST_KAFKA_VERSION": KAFKA_VERSION,
        "TEST_CONSUMER_GROUP_PROTOCOL": args.protocol,
        "LD_LIBRARY_PATH": ":".join(lib_dirs + [env.get("LD_LIBRARY_PATH", "")]),
    })
    env["TEST_SCENARIO"] = scenario
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
    for scenario in ("default", "noautocreate"):
        group = [(t, tags) for t, tags in selected if ("noautocreate" in tags) == (scenario == "noautocreate")]
        if not group:
            continue
        with Nodes(args.nodes, auto_create=scenario == "default") as cluster:
            def one(entry):
                test_id, tags = entry
                # In quick mode many of librdkafka's group tests return at once
                # without testing anything; only those tagged fast-quick keep
                # real work in it (0113's first sub-tests).
                quick = args.quick or (args.subset == "fast" and "fast-quick" in tags)
                return test_id, run_one(runner, test_id, cluster.bootstrap, workdir, args, args.timeout, scenario,
                                        quick)

            # librdkafka's tests use their own random topics and groups, and
            # its own `make` runs them in parallel as well.
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                for test_id, (rc, seconds, log_path) in pool.map(one, group):
                    skipped = skip_reason(log_path)
                    ok = rc == 0 and cluster.alive() and not skipped
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
