"""`make test-container`: the image (built by `make image`) and the
three-node cluster of docker/compose.yaml.

Checks the image (size under 60 MB, a non-root user, a health check), starts
the compose cluster on free host ports under a project name of its own,
waits until the three containers are healthy, then produces with acks=all
from the host (confluent-kafka through the advertised EXTERNAL listeners)
while one container is killed (SIGKILL), and checks that every
acknowledged record is read back (kcat from the host). Removes the cluster
and its volumes at the end. Needs a running Docker engine and
docker-compose (scripts/install-deps.sh --container).
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

from confluent_kafka import Producer

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
IMAGE = os.environ.get("STRATA_IMAGE", "strata:latest")
COMPOSE_FILE = os.path.join(SOURCE_DIR, "docker", "compose.yaml")
PROJECT = f"stratatest{os.getpid()}"
MAX_IMAGE_BYTES = 60 * 1000 * 1000


def sh(*args, check=True, timeout=300, **kw):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def compose(*args, env, check=True, timeout=300):
    return sh("docker-compose", "-f", COMPOSE_FILE, "-p", PROJECT, *args, env=env, check=check, timeout=timeout)


def check_image():
    info = json.loads(sh("docker", "image", "inspect", IMAGE).stdout)[0]
    size = info["Size"]
    print(f"image {IMAGE}: {size} bytes ({size / 1e6:.1f} MB)")
    assert size < MAX_IMAGE_BYTES, f"image is {size} bytes, over {MAX_IMAGE_BYTES}"
    assert info["Config"]["User"] not in ("", "0", "root", "0:0"), info["Config"]["User"]
    assert info["Config"].get("Healthcheck", {}).get("Test"), "no health check"
    version = sh("docker", "run", "--rm", IMAGE, "--version").stdout
    assert version.startswith("stratad "), version
    whoami = sh("docker", "run", "--rm", "--entrypoint", "/bin/sh", IMAGE, "-c", "id -u").stdout.strip()
    assert whoami == "10001", whoami


def container_id(service, env):
    return compose("ps", "-q", service, env=env).stdout.strip()


def wait_healthy(env, timeout=120):
    deadline = time.monotonic() + timeout
    states = {}
    while time.monotonic() < deadline:
        states = {}
        for service in ("node1", "node2", "node3"):
            cid = container_id(service, env)
            states[service] = sh("docker", "inspect", "-f", "{{.State.Health.Status}}", cid, check=False).stdout.strip()
        if all(s == "healthy" for s in states.values()):
            return
        time.sleep(1)
    logs = compose("logs", "--tail", "30", env=env, check=False).stdout
    raise AssertionError(f"not healthy after {timeout}s: {states}\n{logs}")


def main():
    check_image()
    ports = free_ports(3)
    env = dict(os.environ)
    env.update({f"STRATA_PORT_{i + 1}": str(p) for i, p in enumerate(ports)})
    env["STRATA_IMAGE"] = IMAGE
    bootstrap = ",".join(f"localhost:{p}" for p in ports)
    try:
        start = time.monotonic()
        compose("up", "-d", env=env)
        wait_healthy(env)
        print(f"compose cluster healthy after {time.monotonic() - start:.1f}s; bootstrap {bootstrap}")
        listing = sh("kcat", "-b", bootstrap, "-L", "-m", "10")
        assert " 3 brokers:" in listing.stdout, listing.stdout
        for port in ports:  # every broker advertises a host-reachable address
            assert f"localhost:{port}" in listing.stdout, listing.stdout
        compose("exec", "-T", "node1", "strata", "-b", "localhost:9092", "topic", "create", "durable",
                "-p", "3", "-r", "3", env=env)

        acked, errors = [], []
        lock = threading.Lock()

        def delivered(err, msg):
            with lock:
                (errors if err else acked).append(err or msg.value().decode())

        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                             "message.timeout.ms": 60000, "linger.ms": 5})
        killed_at = None
        for i in range(3000):
            producer.produce("durable", key=str(i % 17).encode(), value=f"record-{i}".encode(), on_delivery=delivered)
            producer.poll(0)
            if i == 1000:
                producer.flush(30)
                victim = container_id("node2", env)
                sh("docker", "kill", victim)  # SIGKILL, no clean shutdown
                killed_at = i
            time.sleep(0.001)
        remaining = producer.flush(90)
        assert killed_at is not None
        print(f"produced 3000 records, node2 killed after record {killed_at}: {len(acked)} acknowledged, "
              f"{len(errors)} failed, {remaining} undelivered")
        assert len(acked) >= 2900, f"only {len(acked)} acknowledged; errors: {errors[:5]}"

        consumed = sh("kcat", "-b", bootstrap, "-C", "-t", "durable", "-e", "-q", "-f", "%s\n", timeout=120)
        got = set(consumed.stdout.split())
        lost = [value for value in acked if value not in got]
        assert not lost, f"{len(lost)} acknowledged records lost, e.g. {lost[:5]}"
        print(f"all {len(acked)} acknowledged records read back from the two remaining nodes")
    finally:
        compose("down", "-v", "--remove-orphans", env=env, check=False)
    print("test_container: PASS")


if __name__ == "__main__":
    sys.exit(main())
