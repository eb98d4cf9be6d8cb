#!/usr/bin/python3
"""The broker's HTTP listener (http.listeners): /metrics and /health.

- One broker, with urllib: /metrics in Prometheus's text format (accepted by
  `promtool check metrics`) and in OpenMetrics when the Accept header asks;
  bytes and messages in per topic count exactly what confluent-kafka
  produced; bytes out grow when it consumes; the cluster-state gauges are
  there; /health/live and /health/ready answer JSON; unknown paths, wrong
  methods and oversized requests get 404, 405 and 413/431, and the broker
  goes on serving.
- Three nodes scraped every second by a real Prometheus (Debian's package):
  a query through its HTTP API sees bytes-in rise during a produce and
  under-replicated partitions rise when a follower is SIGSTOPped; the
  stopped broker, fenced by the controller, answers /health/ready 503 when it
  resumes (the request was queued while it was stopped) and 200 once it has
  caught up and been unfenced.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from harness import Broker, Cluster, free_port, run_tests
from test_alter_partition import wait_for

PROMTOOL = "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"


def samples(text, name):
    """{labels text: value} of the metric `name` in an exposition."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        base, _, labels = metric.partition("{")
        if base == name:
            out[labels.rstrip("}")] = float(value)
    return out


def value(text, name, labels=""):
    return samples(text, name).get(labels)


def test_single_broker_metrics_and_health():
    with Broker() as broker:
        status, headers, body = broker.http_get("/metrics")
        assert status == 200, status
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
        for name in ("strata_partitions", "strata_leader_partitions", "strata_under_replicated_partitions",
                     "strata_under_min_isr_partitions", "strata_offline_partitions", "strata_active_controllers",
                     "strata_metadata_last_applied_offset", "strata_metadata_lag_records", "process_cpu_seconds_total",
                     "process_resident_memory_bytes", "process_open_fds", "strata_isr_shrinks_total"):
            assert samples(body, name), f"{name} missing:\n{body}"
        assert value(body, "strata_active_controllers") == 1
        assert value(body, "process_resident_memory_bytes") > 1e6
        assert value(body, "process_open_fds") > 3

        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for i in range(50):
            producer.produce("http-metrics", key=str(i), value=b"x" * 100)
        assert producer.flush(20) == 0
        _, _, body = broker.http_get("/metrics")
        assert value(body, "strata_messages_in_total", 'topic="http-metrics"') == 50, body
        bytes_in = value(body, "strata_bytes_in_total", 'topic="http-metrics"')
        assert bytes_in > 50 * 100, bytes_in  # the batches: records plus their headers
        assert value(body, "strata_leader_partitions") >= 1
        assert value(body, "strata_connections", 'listener="PLAINTEXT"') is not None

        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "http-test",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe(["http-metrics"])
        got = 0
        deadline = time.monotonic() + 20
        while got < 50 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                got += 1
        assert got == 50, got
        # Caught up, the consumer long-polls: its fetches wait in the purgatory.
        deadline = time.monotonic() + 10
        parked = 0
        while not parked and time.monotonic() < deadline:
            consumer.poll(0.2)
            parked = value(broker.http_get("/metrics")[2], "strata_purgatory_size", 'operation="fetch"')
        assert parked >= 1, parked
        consumer.close()  # commits its offsets

        # Groups, committed offsets, lag and high watermarks (one broker leads everything).
        def committed_offsets(body):
            return {k: v for k, v in samples(body, "strata_consumer_group_committed_offset").items()
                    if 'group="http-test"' in k and 'topic="http-metrics"' in k}
        deadline = time.monotonic() + 10
        while True:
            _, _, body = broker.http_get("/metrics")
            committed = committed_offsets(body)
            # The group's own writes (its leave) may still wait for their flush.
            if (sum(committed.values()) == 50 and value(body, "strata_purgatory_size", 'operation="produce"') == 0) \
                    or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert value(body, "strata_bytes_out_total", 'topic="http-metrics"') >= bytes_in, body
        assert value(body, "strata_purgatory_size", 'operation="produce"') == 0, body
        assert committed and sum(committed.values()) == 50, body
        lag = {k: v for k, v in samples(body, "strata_consumer_group_lag").items() if 'group="http-test"' in k}
        assert lag.keys() == committed.keys() and all(v == 0 for v in lag.values()), body
        hws = {k: v for k, v in samples(body, "strata_partition_high_watermark").items() if 'topic="http-metrics"' in k}
        assert sum(hws.values()) == 50, body
        assert sum(samples(body, "strata_consumer_groups").values()) >= 1, body
        # Produce again: the lag shows it.
        for i in range(7):
            producer.produce("http-metrics", key="k", value=b"y")
        assert producer.flush(20) == 0
        _, _, body = broker.http_get("/metrics")
        lag = {k: v for k, v in samples(body, "strata_consumer_group_lag").items() if 'group="http-test"' in k}
        assert sum(lag.values()) == 7, body

        # Storage: the flushes acks=all waited for, and the log directory.
        assert value(body, "strata_log_flush_seconds_count") > 0, body
        assert sum(samples(body, "strata_log_segments").values()) >= 1, body
        assert sum(samples(body, "strata_log_size_bytes").values()) > bytes_in, body

        # Prometheus's own linter reads it as a scraper would.
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert check.stdout + check.stderr == "", check.stdout + check.stderr

        status, headers, om = broker.http_get("/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"})
        assert status == 200
        assert headers["Content-Type"].startswith("application/openmetrics-text"), headers
        assert om.endswith("# EOF\n")
        assert "# TYPE strata_bytes_in counter\n" in om
        assert 'strata_bytes_in_total{topic="http-metrics"}' in om

        status, headers, live = broker.http_get("/health/live")
        assert status == 200 and json.loads(live)["status"] == "live", live
        assert headers["Content-Type"] == "application/json"
        status, _, ready = broker.http_get("/health/ready")
        ready = json.loads(ready)
        assert status == 200 and ready["status"] == "ready", ready
        assert all(check["ok"] for check in ready["checks"].values()), ready
        assert set(ready["checks"]) >= {"registered", "unfenced", "metadata_caught_up", "heartbeat", "partitions"}

        assert broker.http_get("/nope")[0] == 404
        request = urllib.request.Request(f"http://127.0.0.1:{broker.http_port}/metrics", data=b"x", method="POST")
        try:
            urllib.request.urlopen(request, timeout=5)
            raise AssertionError("POST /metrics was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 405, e.code
        assert broker.http_get("/metrics", {"X-Big": "y" * 70000})[0] == 431
        with socket.create_connection(("127.0.0.1", broker.http_port), timeout=5) as sock:
            sock.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"z" * 65536)
            assert sock.recv(100).startswith(b"HTTP/1.1 413"), "oversized body not refused"
        # Still serving, and the access log line is there at debug level only.
        assert broker.http_get("/health/live")[0] == 200
        _, _, body = broker.http_get("/metrics")
        assert value(body, "strata_http_responses_total", 'code="4xx"') >= 4, body


# ---- three nodes and a real Prometheus ----------------------------------

CLUSTER_ENV = {
    "STRATA_BROKER_HEARTBEAT_INTERVAL_MS": "500",
    "STRATA_BROKER_SESSION_TIMEOUT_MS": "3000",
    "STRATA_REPLICA_LAG_TIME_MAX_MS": "2000",
    "STRATA_DEFAULT_REPLICATION_FACTOR": "3",
    "STRATA_OFFSETS_TOPIC_NUM_PARTITIONS": "3",
    "STRATA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3",
}


class Prometheus:
    def __init__(self, targets):
        self.dir = tempfile.mkdtemp(prefix="strata-prometheus-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as fh:
            fh.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                     "scrape_configs:\n  - job_name: strata\n    static_configs:\n"
                     f"      - targets: [{', '.join(repr(t) for t in targets)}]\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "wb")
        self.proc = subprocess.Popen([PROMETHEUS, f"--config.file={config}",
                                      f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                                      f"--web.listen-address=127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, promql):
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                answer = json.load(response)
        except OSError:
            return None
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def scalar(self, promql):
        """The single value of an aggregating query, or None."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()

    def output(self):
        with open(os.path.join(self.dir, "prometheus.log"), "rb") as fh:
            return fh.read().decode(errors="replace")[-4000:]


def ready_status(node, timeout=5.0):
    status, _, body = node.http_get("/health/ready", timeout=timeout)
    return status, json.loads(body)


def test_prometheus_scrapes_a_cluster_and_health_follows_fencing():
    with Cluster(3, extra_env=CLUSTER_ENV) as cluster:
        nodes = cluster.nodes
        for node in nodes:
            wait_for(lambda: ready_status(node)[0] == 200, timeout=30, what=f"node {node.node_id} ready")
        bootstrap = ",".join(n.bootstrap for n in nodes)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("scraped", num_partitions=3, replication_factor=3)])["scraped"].result(20)

        prometheus = Prometheus([f"127.0.0.1:{n.http_port}" for n in nodes])
        try:
            wait_for(lambda: prometheus.scalar('sum(up{job="strata"})') == 3, timeout=30,
                     what="Prometheus scraping all three nodes")
            # Every scrape parsed (Prometheus asks for OpenMetrics first).
            assert prometheus.scalar("sum(scrape_samples_scraped)") > 100
            before = prometheus.scalar('sum(strata_bytes_in_total{topic="scraped"}) or vector(0)')

            producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
            end = time.monotonic() + 3
            sent = 0
            while time.monotonic() < end:
                producer.produce("scraped", value=b"v" * 1000)
                sent += 1
                producer.poll(0)
                if sent % 100 == 0:
                    time.sleep(0.01)
            assert producer.flush(30) == 0
            wait_for(lambda: (prometheus.scalar('sum(strata_bytes_in_total{topic="scraped"})') or 0)
                     >= before + sent * 1000, timeout=15, what="bytes in rising in Prometheus")
            rate = prometheus.scalar('sum(rate(strata_bytes_in_total{topic="scraped"}[10s]))')
            print(f"  {sent} records produced; Prometheus saw bytes in rise from {before:.0f}; "
                  f"rate over 10s {rate:.0f} B/s", flush=True)
            assert rate and rate > 0
            assert prometheus.scalar("sum(strata_under_replicated_partitions)") == 0
            assert prometheus.scalar("sum(strata_active_controllers)") == 1

            # A follower stops: the leaders shrink their ISRs.
            controller = int(prometheus.scalar("max(strata_raft_current_leader)"))
            victim = next(n for n in nodes if n.node_id != controller)
            victim.pause()
            stopped_at = time.monotonic()
            try:
                wait_for(lambda: (prometheus.scalar("sum(strata_under_replicated_partitions)") or 0) > 0,
                         timeout=20, what="under-replicated partitions in Prometheus")
                print(f"  under-replicated partitions seen {time.monotonic() - stopped_at:.1f}s after SIGSTOP",
                      flush=True)
                assert prometheus.scalar("sum(strata_isr_shrinks_total)") > 0
                # The controller fences the silent broker.
                wait_for(lambda: prometheus.scalar("sum(strata_fenced_brokers)") == 1, timeout=20,
                         what="the stopped broker fenced")
                # Asked while it is stopped, answered as it resumes: it knows
                # no controller yet (its election timer ran out), or its last
                # heartbeat is older than the session, or its image is behind
                # (the fence record) - whichever it clears last, it is not
                # ready at once.
                answer = {}
                asking = threading.Thread(target=lambda: answer.update(zip(("status", "body"),
                                                                          ready_status(victim, timeout=15))))
                asking.start()
                time.sleep(0.5)
            finally:
                victim.proc.send_signal(signal.SIGCONT)
            asking.join(20)
            assert answer.get("status") == 503, answer
            assert answer["body"]["status"] == "not_ready", answer
            print(f"  resumed broker not ready: {answer['body']['reasons']}", flush=True)
            failing = {name for name, check in answer["body"]["checks"].items() if not check["ok"]}
            assert failing & {"controller", "heartbeat", "unfenced", "metadata_caught_up"}, answer
            wait_for(lambda: ready_status(victim)[0] == 200, timeout=30, what="the resumed broker ready again")
            wait_for(lambda: prometheus.scalar("sum(strata_under_replicated_partitions)") == 0, timeout=30,
                     what="under-replicated partitions back to 0")
            wait_for(lambda: prometheus.scalar("sum(strata_fenced_brokers)") == 0, timeout=30,
                     what="no fenced broker in Prometheus")
        except BaseException:
            print(f"--- prometheus log ---\n{prometheus.output()}")
            raise
        finally:
            prometheus.stop()
        shutil.rmtree(prometheus.dir, ignore_errors=True)


def test_readiness_without_a_quorum():
    """A node whose quorum has lost its majority is not ready: it cannot be
    sure of its metadata, and no heartbeat of its is answered."""
    with Cluster(3, extra_env=CLUSTER_ENV) as cluster:
        survivor = cluster.node(1)
        wait_for(lambda: ready_status(survivor)[0] == 200, timeout=30, what="node 1 ready")
        cluster.node(2).stop()
        cluster.node(3).stop()

        def unready():
            status, body = ready_status(survivor)
            return body if status == 503 else None

        body = wait_for(unready, timeout=30, what="node 1 not ready without a quorum")
        assert body["reasons"], body
        print(f"  without a quorum: {body['reasons']}", flush=True)
        assert survivor.http_get("/health/live")[0] == 200
        cluster.node(2).start()
        cluster.node(3).start()
        wait_for(lambda: ready_status(survivor)[0] == 200, timeout=30, what="node 1 ready again")


if __name__ == "__main__":
    run_tests([test_single_broker_metrics_and_health, test_prometheus_scrapes_a_cluster_and_health_follows_fencing,
               test_readiness_without_a_quorum])
