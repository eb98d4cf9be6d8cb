#!/usr/bin/python3
"""How much a Prometheus scrape of /metrics costs a broker with many
partitions (issue 17: at most 50 ms to render with 10,000 partitions, at most
5% of a core at one scrape per second).

--nodes stratad processes (RelWithDebInfo build; 3 by default: one broker
cannot open 10,000 partitions' logs within this machine's 20,000
descriptors) with --topics topics of --partitions/--topics partitions each
(RF 1, spread over the brokers; every node's partition gauges still walk all
of them in its metadata image),
one record produced to every topic (so that every topic has its traffic
series), then --scrapes GETs of /metrics back to back, in Prometheus's text
format and in OpenMetrics. Reports the body size, the series count, the
server's own render time (strata_metrics_render_seconds, wall, and
strata_metrics_render_cpu_seconds, the rendering thread's CPU time, which
each scrape reports for the one before it), the client's wall time per GET, and the
broker's CPU time per scrape from /proc/<pid>/stat.

    STRATAD=build/src/stratad tests/bench/metrics_render.py [--partitions 10000] [--topics 100] [--nodes 3]
"""

import argparse
import os
import shutil
import statistics
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import perf_tools  # noqa: E402
from harness import Broker, Cluster  # noqa: E402


def get(port, accept=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def gauge(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def idle_cpu_rate(pid, seconds=3.0):
    """The broker's CPU seconds per second with nobody scraping."""
    before, start = perf_tools.cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (perf_tools.cpu_seconds(pid) - before) / (time.perf_counter() - start)


def measure(port, pid, scrapes, accept):
    """Back-to-back scrapes; the broker's CPU per scrape is its CPU over the
    loop less what it spends idle over as long (measured just before)."""
    walls, renders, render_cpus = [], [], []
    body = get(port, accept)
    idle = idle_cpu_rate(pid)
    cpu_before, start = perf_tools.cpu_seconds(pid), time.perf_counter()
    for _ in range(scrapes):
        t = time.perf_counter()
        body = get(port, accept)
        walls.append(time.perf_counter() - t)
        renders.append(gauge(body, "strata_metrics_render_seconds"))
        render_cpus.append(gauge(body, "strata_metrics_render_cpu_seconds"))
    elapsed = time.perf_counter() - start
    cpu = (perf_tools.cpu_seconds(pid) - cpu_before - idle * elapsed) / scrapes
    # The first sample reports the warm-up scrape's render.
    return body, walls, renders[1:], render_cpus[1:], cpu, idle


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5):
            return True
    except OSError:
        return False


def wait_ready(nodes, timeout):
    deadline = time.monotonic() + timeout
    while not all(ready(n.http_port) for n in nodes):
        if time.monotonic() > deadline:
            bodies = []
            for n in nodes:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{n.http_port}/health/ready", timeout=5)
                except urllib.error.HTTPError as e:
                    bodies.append(e.read().decode())
            raise RuntimeError(f"not ready within {timeout} s: {bodies}")
        time.sleep(0.1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=10000)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    env = {"STRATA_LOG_LEVEL": "warn", "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "1",
           "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1"}
    cluster = Cluster(args.nodes, extra_env=env) if args.nodes > 1 else None
    nodes = cluster.nodes if cluster else [Broker(extra_env=env)]
    try:
        if cluster:
            cluster.start().wait_ready(30)
        else:
            nodes[0].start()
        wait_ready(nodes, 60)
        bootstrap = ",".join(n.bootstrap for n in nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        per_topic = args.partitions // args.topics
        names = [f"bench-{i:04d}" for i in range(args.topics)]
        start = time.monotonic()
        for i in range(0, len(names), 5):
            batch = names[i:i + 5]
            while batch:
                # Creating thousands of partitions can keep a broker from
                # heartbeating in time: wait until every node is ready again
                # and retry what failed.
                wait_ready(nodes, 120)
                futures = admin.create_topics([NewTopic(n, num_partitions=per_topic, replication_factor=1)
                                               for n in batch], request_timeout=120)
                failed = []
                for name, future in futures.items():
                    try:
                        future.result(120)
                    except Exception as e:
                        if "TOPIC_ALREADY_EXISTS" not in str(e):
                            failed.append(name)
                batch = failed
        target = per_topic * args.topics
        led = lambda: sum(gauge(get(n.http_port), "strata_leader_partitions") or 0 for n in nodes)  # noqa: E731
        while led() < target:
            if time.monotonic() - start > 600:
                raise RuntimeError(f"{led()} of {target} partitions led after 600 s")
            time.sleep(0.5)
        wait_ready(nodes, 120)
        print(f"{target} partitions in {args.topics} topics on {len(nodes)} brokers, led after "
              f"{time.monotonic() - start:.1f} s", flush=True)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for name in names:
            producer.produce(name, value=b"x" * 100, partition=0)
        producer.flush(60)
        del producer
        time.sleep(1)

        print(f"load average before: {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
        for node in nodes:
            text = get(node.http_port)
            role = "active controller" if gauge(text, "strata_active_controllers") == 1 else "broker"
            print(f"node {getattr(node, 'node_id', 1)} ({role}, leads {gauge(text, 'strata_leader_partitions'):.0f}, "
                  f"{gauge(text, 'process_open_fds'):.0f} fds):")
            for label, accept in (("Prometheus text 0.0.4", None),
                                  ("OpenMetrics", "application/openmetrics-text; version=1.0.0")):
                body, walls, renders, render_cpus, cpu, idle = measure(node.http_port, node.proc.pid, args.scrapes, accept)
                series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
                print(f"  {label}: {len(body) / 1024:.0f} KiB, {series} series; render thread CPU p50 "
                      f"{statistics.median(render_cpus) * 1e3:.2f} ms, p99 {percentile(render_cpus, 99) * 1e3:.2f} ms; "
                      f"render wall p50 "
                      f"{statistics.median(renders) * 1e3:.2f} ms, p99 {percentile(renders, 99) * 1e3:.2f} ms, "
                      f"max {max(renders) * 1e3:.2f} ms; GET wall p50 {statistics.median(walls) * 1e3:.2f} ms, "
                      f"p99 {percentile(walls, 99) * 1e3:.2f} ms; broker CPU {cpu * 1e3:.2f} ms per scrape "
                      f"= {cpu * 100:.2f}% of a core at one scrape per second (idle: {idle * 100:.2f}% of a core)",
                      flush=True)
        # A scrape after the metadata image changed walks every partition of
        # it again (the partition gauges are cached per image): a topic
        # config change, then two scrapes, the second reporting the first.
        from confluent_kafka.admin import ConfigResource
        for node in nodes:
            cold = []
            for i in range(10):
                admin.alter_configs([ConfigResource("topic", names[0], set_config={"retention.ms": str(86400000 + i)})
                                     ])[ConfigResource("topic", names[0])].result(30)
                time.sleep(0.3)
                get(node.http_port)
                cold.append(gauge(get(node.http_port), "strata_metrics_render_cpu_seconds"))
            print(f"node {getattr(node, 'node_id', 1)}, after an image change: render thread CPU p50 "
                  f"{statistics.median(cold) * 1e3:.2f} ms, max {max(cold) * 1e3:.2f} ms", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    except BaseException:
        for n in nodes:
            print(f"--- node log ({n.log_path}) ---\n{n.log()[-2000:]}", file=sys.stderr)
        raise
    finally:
        if cluster:
            cluster.stop()
        else:
            nodes[0].stop()
        for n in nodes:
            shutil.rmtree(n.workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
