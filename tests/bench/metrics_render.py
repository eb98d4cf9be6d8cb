#!/usr/bin/python3
"""How much a Prometheus scrape of /metrics costs a broker with many
partitions (issue 17: at most 50 ms to render with 10,000 partitions, at most
5% of a core at one scrape per second).

One stratad (RelWithDebInfo build) with --topics topics of
--partitions/--topics partitions each (RF 1, so every partition is led here),
one record produced to every topic (so that every topic has its traffic
series), then --scrapes GETs of /metrics back to back, in Prometheus's text
format and in OpenMetrics. Reports the body size, the series count, the
server's own render time (strata_metrics_render_seconds, which each scrape
reports for the one before it), the client's wall time per GET, and the
broker's CPU time per scrape from /proc/<pid>/stat.

    tests/bench/metrics_render.py [--stratad build/src/stratad] [--partitions 10000] [--topics 100]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import free_port  # noqa: E402


def get(port, accept=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def gauge(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(port, pid, scrapes, accept):
    walls, renders = [], []
    body = get(port, accept)
    cpu_before = cpu_seconds(pid)
    for _ in range(scrapes):
        start = time.perf_counter()
        body = get(port, accept)
        walls.append(time.perf_counter() - start)
        renders.append(gauge(body, "strata_metrics_render_seconds"))
    cpu = (cpu_seconds(pid) - cpu_before) / scrapes
    # The first sample reports the warm-up scrape's render.
    return body, walls, renders[1:], cpu


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stratad", default=os.path.join(HERE, "..", "..", "build", "src", "stratad"))
    parser.add_argument("--partitions", type=int, default=10000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    work = tempfile.mkdtemp(prefix="strata-metrics-bench-")
    port, http_port = free_port(), free_port()
    env = dict(os.environ, STRATA_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}", STRATA_LOG_DIRS=os.path.join(work, "data"),
               STRATA_HTTP_LISTENERS=f"http://127.0.0.1:{http_port}", STRATA_LOG_LEVEL="warn",
               STRATA_OFFSETS_TOPIC_NUM_PARTITIONS="1")
    log = open(os.path.join(work, "stratad.log"), "wb")
    proc = subprocess.Popen([args.stratad], env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("stratad did not start")
                time.sleep(0.05)
        bootstrap = f"127.0.0.1:{port}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        per_topic = args.partitions // args.topics
        names = [f"bench-{i:04d}" for i in range(args.topics)]
        start = time.monotonic()
        for i in range(0, len(names), 10):
            futures = admin.create_topics([NewTopic(n, num_partitions=per_topic, replication_factor=1)
                                           for n in names[i:i + 10]], request_timeout=120)
            for future in futures.values():
                future.result(120)
        target = per_topic * args.topics
        while (gauge(get(http_port), "strata_leader_partitions") or 0) < target:
            if time.monotonic() - start > 600:
                raise RuntimeError("partitions not led after 600 s")
            time.sleep(0.5)
        print(f"{target} partitions in {args.topics} topics led after {time.monotonic() - start:.1f} s", flush=True)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for name in names:
            producer.produce(name, value=b"x" * 100, partition=0)
        producer.flush(60)
        time.sleep(1)

        print(f"load average before: {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
        for label, accept in (("Prometheus text 0.0.4", None),
                              ("OpenMetrics", "application/openmetrics-text; version=1.0.0")):
            body, walls, renders, cpu = measure(http_port, proc.pid, args.scrapes, accept)
            series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
            print(f"{label}: {len(body) / 1024:.0f} KiB, {series} series; "
                  f"render p50 {statistics.median(renders) * 1e3:.2f} ms, p99 {percentile(renders, 99) * 1e3:.2f} ms, "
                  f"max {max(renders) * 1e3:.2f} ms; GET wall p50 {statistics.median(walls) * 1e3:.2f} ms, "
                  f"p99 {percentile(walls, 99) * 1e3:.2f} ms; broker CPU {cpu * 1e3:.2f} ms per scrape "
                  f"= {cpu * 100:.2f}% of a core at one scrape per second", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        del producer
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
