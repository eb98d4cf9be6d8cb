#!/usr/bin/python3
"""Single-node broker benchmark (issue 5's figures), with real clients:

  - produce and consume throughput of 1 KB records over 6 partitions with
    librdkafka's rdkafka_performance (built from the example source Debian's
    librdkafka-dev ships), acks=1; acks=all with 1 KB and 16 KB records,
    each run right after a synced dd of its own;
  - p99 produce latency at a fixed 50 MB/s (librdkafka, linger.ms=0:
    tests/bench/produce_latency.c);
  - idle RSS and the time from exec to serving;
beside the machine's limits measured in the same run: loopback TCP with
iperf3 and sequential disk writes with dd (page cache, and conv=fdatasync).

  tests/bench/broker_bench.py [build dir] [MiB per figure]

Prints a Markdown table for docs/benchmarks.md.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE, "build"))
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
os.environ.setdefault("STRATAD", os.path.join(BUILD, "src", "stratad"))

from harness import Broker, free_port  # noqa: E402
import perf_tools  # noqa: E402
from perf_tools import api_versions_answered, loopback_mb_s  # noqa: E402

PERF = os.path.join(BUILD, "tests", "bench", "rdkafka_performance")


def build_perf():
    perf_tools.build_perf(PERF)


def create_topic(broker, name, partitions=6):
    from confluent_kafka.admin import AdminClient, NewTopic
    client = AdminClient({"bootstrap.servers": broker.bootstrap})
    client.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[name].result(timeout=15)


def perf_produce(broker, topic, acks, count, size=1024):
    out = subprocess.run([PERF, "-P", "-t", topic, "-b", broker.bootstrap, "-s", str(size), "-c", str(count),
                          "-a", str(acks), "-X", "linger.ms=5", "-X", "batch.size=1048576",
                          "-X", "queue.buffering.max.kbytes=1048576"],
                         capture_output=True, text=True, timeout=600).stdout
    # The summary is printed at every stats interval: the last one counts.
    found = re.findall(r"(\d+) delivered .* in (\d+)ms: (\d+) msgs/s and ([\d.]+) MB/s", out)
    if not found:
        raise RuntimeError(out[-2000:])
    return float(found[-1][3])


def perf_consume_args(broker, topic, count, partitions):
    # Responses of at most 1 MiB: librdkafka reads each response into a
    # buffer of its own size, and a 50 MB one (its default fetch.max.bytes)
    # is fresh memory whose pages fault in during recv. On this 2-core VM
    # that took the client 3.3 s of system time per GB (230 MB/s); with
    # 1 MiB responses it is 0.2 s (1.5-1.7 GB/s).
    args = [PERF, "-C", "-t", topic, "-b", broker.bootstrap, "-o", "beginning", "-c", str(count),
            "-X", "fetch.max.bytes=1048576", "-X", "queued.min.messages=1000000"]
    for p in partitions:
        args += ["-p", str(p)]
    return args


CONSUMED = r"(\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs/s \(([\d.]+) MB/s\)"


def perf_consume(broker, topic, count):
    out = subprocess.run(perf_consume_args(broker, topic, count, range(6)), capture_output=True, text=True,
                         timeout=600).stdout
    found = re.findall(CONSUMED, out)
    if not found:
        raise RuntimeError(out[-2000:])
    return float(found[-1][4])


def synced_runs(broker, workdir, topic, count, size, runs=3):
    """acks=all produce runs into fresh topics, each right after a synced dd
    of the same size. -> ([dd MB/s], [produce MB/s], broker CPU s per GB)"""
    dd, produced, cpu = [], [], 0.0
    for i in range(runs):
        create_topic(broker, f"{topic}{i}")
        dd.append(perf_tools.dd_mb_s(workdir, MIB, sync=True))
        before = perf_tools.cpu_seconds(broker.proc.pid)
        produced.append(perf_produce(broker, f"{topic}{i}", -1, count, size=size))
        cpu += perf_tools.cpu_seconds(broker.proc.pid) - before
    return dd, produced, cpu / (runs * count * size / 1e9)


def median(values):
    return sorted(values)[len(values) // 2]


LATENCY = os.path.join(BUILD, "tests", "bench", "produce_latency")


def produce_latency(broker, topic, mb_per_s=50, seconds=10):
    """1 KB records at a fixed rate (tests/bench/produce_latency.c, librdkafka
    with linger.ms=0, acks=1); each latency runs from produce() to the
    delivery report. -> (achieved MB/s, p50, p99, p99.9 ms)"""
    if not os.path.exists(LATENCY):
        subprocess.run(["cc", "-O2", "-o", LATENCY, os.path.join(HERE, "produce_latency.c"), "-lrdkafka"], check=True)
    out = subprocess.run([LATENCY, broker.bootstrap, topic, "1024", str(mb_per_s), str(seconds)],
                         capture_output=True, text=True, timeout=seconds + 120).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]), float(out[3])


def start_to_serving(workdir):
    """Milliseconds from exec to the first ApiVersions answer, for a fresh
    data directory (which includes formatting it) and for a restart."""
    port = free_port()
    env = dict(os.environ, STRATA_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
               STRATA_LOG_DIRS=os.path.join(workdir, "start-data"), STRATA_HTTP_LISTENERS="")
    results = []
    for _ in range(2):
        t0 = time.perf_counter()
        proc = subprocess.Popen([os.environ["STRATAD"]], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while not api_versions_answered(port):
            time.sleep(0.001)
        results.append((time.perf_counter() - t0) * 1000)
        time.sleep(1.0)
        rss = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1)) / 1024
        proc.terminate()
        proc.wait(timeout=10)
    return results, rss


def main():
    build_perf()
    workdir = tempfile.mkdtemp(prefix="strata-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        load = os.getloadavg()[0]
        loop = loopback_mb_s()
        count = MIB * 1024  # 1 KB records
        with Broker(extra_env={"STRATA_LOG_DIRS": os.path.join(workdir, "data")}) as broker:
            create_topic(broker, "bench1")
            gb = count * 1024 / 1e9
            before = perf_tools.cpu_seconds(broker.proc.pid)
            p1 = perf_produce(broker, "bench1", 1, count)
            cpu_p1 = (perf_tools.cpu_seconds(broker.proc.pid) - before) / gb
            before = perf_tools.cpu_seconds(broker.proc.pid)
            c1 = perf_consume(broker, "bench1", count)
            cpu_c1 = (perf_tools.cpu_seconds(broker.proc.pid) - before) / gb
            # Each synced figure starts, like dd's, with no dirty pages of
            # earlier figures being written back to the same disk.
            # The disk's synced rate swings 4x within a minute on this VM
            # (dd conv=fdatasync 370-1510 MB/s in one run), so each synced
            # figure is three runs, each just after a dd of its own, and the
            # ratio is of the medians.
            dd_all, pall, cpu_all = synced_runs(broker, workdir, "benchall", count, 1024)
            dd_all16, pall16, cpu_all16 = synced_runs(broker, workdir, "benchall16k", count // 16, 16384)
            create_topic(broker, "latency")
            lat = produce_latency(broker, "latency")
        starts, rss = start_to_serving(workdir)
        print(f"load average at start: {load:.1f}; {MIB} MiB per throughput figure")
        print()
        print("| figure | strata | machine limit, same run | ratio | target |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| produce 1 KB records, 6 partitions, acks=1 (rdkafka_performance) | {p1:.0f} MB/s | "
              f"iperf3 loopback {loop:.0f} MB/s | {p1 / loop:.2f} | >= 500 MB/s |")
        print(f"| consume the same, from the beginning (rdkafka_performance) | {c1:.0f} MB/s | "
              f"iperf3 loopback {loop:.0f} MB/s | {c1 / loop:.2f} | >= 1 GB/s |")
        for label, dd_runs, runs in (("1 KB", dd_all, pall), ("16 KB", dd_all16, pall16)):
            print(f"| produce {label} records, acks=all (fsync before the ack), median of 3 "
                  f"({' / '.join(f'{r:.0f}' for r in runs)}) | {median(runs):.0f} MB/s | dd conv=fdatasync median "
                  f"{median(dd_runs):.0f} MB/s ({' / '.join(f'{r:.0f}' for r in dd_runs)}) | "
                  f"{median(runs) / median(dd_runs):.2f} | >= 0.70 of dd fdatasync |")
        print(f"| produce latency at {lat[0]:.0f} MB/s, acks=1 (p50 / p99 / p99.9) | {lat[1]:.2f} / {lat[2]:.2f} / "
              f"{lat[3]:.2f} ms | | | p99 <= 3 ms at 50 MB/s |")
        print(f"| broker CPU per GB (user + system, /proc): produce 1 KB acks=1 / acks=all / 16 KB acks=all / "
              f"consume | {cpu_p1:.2f} / {cpu_all:.2f} / {cpu_all16:.2f} / {cpu_c1:.2f} s | | | "
              f"<= 0.35 / 0.5 (fsync) / 0.5 / 0.1 s |")
        print(f"| exec to serving: fresh data dir / restart | {starts[0]:.0f} / {starts[1]:.0f} ms | | | <= 200 ms |")
        print(f"| idle RSS (1 s after serving) | {rss:.1f} MiB | | | <= 64 MiB |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
