"""Runs the command blocks of docs/quickstart.md, so that the quick start
stays true.

A block follows a `<!-- quickstart: NAME [background] -->` comment. Each runs
with bash -euo pipefail from the repository root, as written, but for what
lets it run beside other brokers and tests: ports 9092-9094 (and the
compose file's 29092-29094) become free ports, `build/` the build tree ctest
built, and the data goes to a temporary directory (STRATA_LOG_DIRS,
STRATA_CLUSTER_DIR, STRATA_CLUSTER_PORT, STRATA_PORT_1..3, STRATA_BROKERS,
COMPOSE_PROJECT_NAME). A `background` block (`make run`) is started, left
running while the section's other blocks run, then stopped with SIGINT as
Ctrl-C would.

  test_quickstart.py                       single-node, cluster, clients (ctest)
  test_quickstart.py --sections container  the container section (make test-container)
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import SOURCE_DIR, STRATAD, free_cluster_base_port  # noqa: E402

DOC = os.path.join(SOURCE_DIR, "docs", "quickstart.md")
BUILD = os.path.dirname(os.path.dirname(STRATAD))
BLOCK = re.compile(r"<!-- quickstart: (\S+)([^>]*)-->\s*```sh\n(.*?)```", re.S)


def blocks():
    with open(DOC) as fh:
        text = fh.read()
    return [(m.group(1), "background" in m.group(2), m.group(3)) for m in BLOCK.finditer(text)]


def broker_registered(port):
    result = subprocess.run([os.path.join(BUILD, "src", "strata"), "-b", f"localhost:{port}", "cluster", "info"],
                            capture_output=True, text=True, timeout=30)
    return result.returncode == 0 and re.search(r"^Brokers:\s+[1-9]", result.stdout, re.M) is not None


class Section:
    def __init__(self, work):
        self.base = free_cluster_base_port()
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("STRATA_"):
                del self.env[key]
        self.env.update({
            "BUILD": BUILD,
            "STRATA_LISTENERS": f"PLAINTEXT://localhost:{self.base}",
            # single-node.yaml's HTTP listener (localhost:8080), moved with the rest.
            "STRATA_HTTP_LISTENERS": f"http://localhost:{self.base - 1011}",
            "STRATA_BROKERS": f"localhost:{self.base}",  # strata's default broker, localhost:9092 in the doc
            "STRATA_LOG_DIRS": os.path.join(work, "data"),
            "STRATA_CLUSTER_DIR": os.path.join(work, "cluster"),
            "STRATA_CLUSTER_PORT": str(self.base),
            "STRATA_PORT_1": str(self.base), "STRATA_PORT_2": str(self.base + 1), "STRATA_PORT_3": str(self.base + 2),
            "COMPOSE_PROJECT_NAME": f"quickstart{os.getpid()}",
        })

    def rewrite(self, script):
        script = re.sub(r"localhost:2?909([234])", lambda m: f"localhost:{self.base + int(m.group(1)) - 2}", script)
        return script.replace("build/src/", f"{BUILD}/src/")


def run_section(name, section_blocks):
    work = tempfile.mkdtemp(prefix=f"strata-quickstart-{name}-")
    section = Section(work)
    background = None
    try:
        for _, is_background, script in section_blocks:
            script = section.rewrite(script)
            if section.env.get("STRATA_CLUSTER_PORT") and "make cluster" in script:
                # The cluster's nodes take their listeners from cluster.sh.
                section.env.pop("STRATA_LISTENERS", None)
                section.env.pop("STRATA_HTTP_LISTENERS", None)
            print(f"--- {name}{' (background)' if is_background else ''}:\n{script.rstrip()}", flush=True)
            if is_background:
                background = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script], cwd=SOURCE_DIR,
                                              env=section.env, start_new_session=True,
                                              stdout=open(os.path.join(work, "background.log"), "wb"),
                                              stderr=subprocess.STDOUT)
                # Serving, as a reader of the doc would see it: the broker
                # is registered (Brokers: 1), not only listening.
                deadline = time.monotonic() + 120
                while not broker_registered(section.base):
                    assert background.poll() is None, open(os.path.join(work, "background.log")).read()
                    assert time.monotonic() < deadline, "the background block did not serve"
                    time.sleep(0.2)
                continue
            start = time.monotonic()
            result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=SOURCE_DIR, env=section.env,
                                    capture_output=True, text=True, timeout=600)
            print(result.stdout, end="")
            assert result.returncode == 0, f"{name} block failed ({result.returncode}):\n{result.stderr}"
            print(f"--- {name}: ok in {time.monotonic() - start:.1f}s", flush=True)
        return True
    finally:
        if background and background.poll() is None:
            os.killpg(background.pid, signal.SIGINT)  # Ctrl-C
            background.wait(30)
        if os.path.isdir(section.env["STRATA_CLUSTER_DIR"]):
            subprocess.run(["make", "-s", "-C", SOURCE_DIR, "cluster-down", f"BUILD={BUILD}"], env=section.env,
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", default="single-node,cluster,clients")
    args = parser.parse_args()
    wanted = args.sections.split(",")
    found = blocks()
    names = [name for name, _, _ in found]
    for name in wanted:
        assert name in names, f"docs/quickstart.md has no '{name}' block (it has {sorted(set(names))})"
    # The client section runs against a single node of its own, like section 1.
    failed = 0
    for name in wanted:
        section_blocks = [b for b in found if b[0] == name]
        if name == "clients":
            section_blocks = [b for b in found if b[0] == "single-node" and b[1]] + section_blocks
        try:
            run_section(name, section_blocks)
            print(f"PASS {name}", flush=True)
        except Exception as e:  # report every section
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
    print(f"{len(wanted) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
