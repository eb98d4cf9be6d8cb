"""`make cluster` / `make cluster-down` (scripts/cluster.sh): three
broker+controller nodes on this machine, started in one command.

Runs the make targets themselves (with the build tree ctest built, a cluster
directory of its own and free ports instead of 9092-9094, so that it can run
beside other brokers), produces and consumes with kcat through the bootstrap
string `make cluster` prints, stops the cluster, starts it again on the same
data and reads the records back.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import SOURCE_DIR, STRATAD, free_cluster_base_port, run_tests  # noqa: E402

STRATA = os.path.abspath(os.environ.get("STRATA", os.path.join(os.path.dirname(STRATAD), "strata")))
BUILD = os.path.dirname(os.path.dirname(STRATAD))  # <build>/src/stratad


def make(target, cluster_dir, base_port, timeout=120):
    env = dict(os.environ)
    env.update({"STRATA_CLUSTER_DIR": cluster_dir, "STRATA_CLUSTER_PORT": str(base_port)})
    start = time.monotonic()
    result = subprocess.run(["make", "-s", "-C", SOURCE_DIR, target, f"BUILD={BUILD}", "JOBS=2"],
                            capture_output=True, text=True, env=env, timeout=timeout)
    return result, time.monotonic() - start


def node_pids(cluster_dir):
    pids = []
    for n in (1, 2, 3):
        try:
            with open(os.path.join(cluster_dir, f"node-{n}.pid")) as fh:
                pids.append(int(fh.read()))
        except OSError:
            pass
    return pids


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_make_cluster_produce_consume_down_and_up_again():
    cluster_dir = tempfile.mkdtemp(prefix="strata-cluster-")
    base = free_cluster_base_port()
    try:
        up, seconds = make("cluster", cluster_dir, base)
        assert up.returncode == 0, f"make cluster failed:\n{up.stdout}\n{up.stderr}"
        match = re.search(r"^bootstrap servers: (\S+)$", up.stdout, re.M)
        assert match, up.stdout
        bootstrap = match.group(1)
        assert bootstrap == f"localhost:{base},localhost:{base + 1},localhost:{base + 2}", bootstrap
        print(f"make cluster: {seconds:.1f}s in all; " + next(l for l in up.stdout.splitlines() if l.startswith("cluster: ")))
        pids = node_pids(cluster_dir)
        assert len(pids) == 3 and all(alive(p) for p in pids), pids
        for n in (1, 2, 3):
            assert os.path.isdir(os.path.join(cluster_dir, f"node-{n}", "data")), os.listdir(cluster_dir)
            assert os.path.getsize(os.path.join(cluster_dir, f"node-{n}.log")) > 0

        # All three brokers, from the metadata kcat gets through the string.
        listing = subprocess.run(["kcat", "-b", bootstrap, "-L"], capture_output=True, text=True, timeout=30)
        assert listing.returncode == 0 and " 3 brokers:" in listing.stdout, listing
        created = subprocess.run([STRATA, "-b", bootstrap, "topic", "create", "quick", "-p", "3", "-r", "3"],
                                 capture_output=True, text=True, timeout=30)
        assert created.returncode == 0, created
        records = [f"k{i}:value-{i}" for i in range(30)]
        produce = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "quick", "-K:", "-X", "acks=all"],
                                 input="\n".join(records) + "\n", capture_output=True, text=True, timeout=60)
        assert produce.returncode == 0, produce
        consume = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", "quick", "-e", "-f", "%k:%s\n"],
                                 capture_output=True, text=True, timeout=60)
        assert consume.returncode == 0, consume
        assert sorted(consume.stdout.splitlines()) == sorted(records), consume.stdout

        # A second `make cluster` while it runs changes nothing.
        again, _ = make("cluster", cluster_dir, base)
        assert again.returncode == 0 and again.stdout.count("already runs") == 3, again.stdout
        assert node_pids(cluster_dir) == pids

        down, _ = make("cluster-down", cluster_dir, base)
        assert down.returncode == 0 and "stopped 3 nodes" in down.stdout, down
        assert not any(alive(p) for p in pids), pids
        for n in (1, 2, 3):
            with open(os.path.join(cluster_dir, f"node-{n}.log")) as fh:
                assert "stopped" in fh.read(), f"node {n} did not shut down cleanly"

        # The data stays: the cluster comes back with the records.
        up, _ = make("cluster", cluster_dir, base)
        assert up.returncode == 0, f"{up.stdout}\n{up.stderr}"
        consume = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", "quick", "-e", "-f", "%k:%s\n"],
                                 capture_output=True, text=True, timeout=60)
        assert sorted(consume.stdout.splitlines()) == sorted(records), consume
    except BaseException:
        for n in (1, 2, 3):
            log = os.path.join(cluster_dir, f"node-{n}.log")
            if os.path.exists(log):
                print(f"--- {log} (tail)", file=sys.stderr)
                with open(log, errors="replace") as fh:
                    print("".join(fh.readlines()[-20:]), file=sys.stderr)
        raise
    finally:
        make("cluster-down", cluster_dir, base)
        shutil.rmtree(cluster_dir, ignore_errors=True)


if __name__ == "__main__":
    run_tests([test_make_cluster_produce_consume_down_and_up_again])
