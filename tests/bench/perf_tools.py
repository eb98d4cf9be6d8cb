"""What the benchmarks share: librdkafka's rdkafka_performance built from the
example source Debian's librdkafka-dev ships, a probe for a serving broker,
a process's CPU time, and the machine's own limits that every figure is
printed beside (loopback with iperf3, the disk with dd), because absolute
times on a shared machine drift."""

import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
PERF_SOURCE = "/usr/share/doc/librdkafka-dev/examples/rdkafka_performance.c"


def build_perf(path):
    """Builds rdkafka_performance at `path` unless it is there; returns `path`."""
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    source = PERF_SOURCE
    if not os.path.exists(source) and os.path.exists(source + ".gz"):
        source = os.path.join(os.path.dirname(path), "rdkafka_performance.c")
        subprocess.run(f"gunzip -c {PERF_SOURCE}.gz > {source}", shell=True, check=True)
    # The example includes a few librdkafka-internal headers; ours stand in.
    shim = os.path.join(HERE, "rdkafka_performance", "src")
    subprocess.run(["cc", "-O2", "-I", shim, "-I", "/usr/include/librdkafka", "-o", path, source, "-lrdkafka",
                    "-lpthread", "-lm"], check=True)
    return path


def api_versions_answered(port):
    """True if a broker on `port` answers an ApiVersions request."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.05) as s:
            header = struct.pack(">hhih", 18, 0, 1, 5) + b"bench"
            s.sendall(struct.pack(">i", len(header)) + header)
            return len(s.recv(4)) == 4
    except OSError:
        return False


def cpu_seconds(pid):
    """Process `pid`'s own user + system CPU time so far, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loopback_mb_s(seconds=4):
    """TCP throughput over loopback, one iperf3 stream, in MB/s (10^6)."""
    from harness import free_port
    port = free_port()
    server = subprocess.Popen(["iperf3", "-s", "-1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    out = subprocess.run(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-f", "M"],
                         capture_output=True, text=True).stdout
    server.wait(timeout=10)
    m = re.search(r"([\d.]+) MBytes/sec\s+\S*\s*sender", out)
    return float(m.group(1)) * 1.048576 if m else float("nan")  # MiB/s -> MB/s


def dd_mb_s(directory, mib=256, sync=True):
    """Sequential write rate of `mib` MiB into `directory` with dd, in MB/s:
    through the page cache, or (sync) including the fdatasync at the end."""
    path = os.path.join(directory, "dd.bin")
    args = ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}"] + (["conv=fdatasync"] if sync else [])
    subprocess.run(["sync"])
    err = subprocess.run(args, capture_output=True, text=True).stderr
    os.unlink(path)
    m = re.search(r"copied, ([\d.]+) s", err)
    return mib * 1048576 / float(m.group(1)) / 1e6


def fdatasync_ms(directory, rounds=300):
    """The latency of appending 4 KiB and fdatasync()ing it, `rounds` times
    into one file in `directory`, as (p50, p99, max) in ms: the floor of any
    reply that waits for one synced write (no process start in it, unlike
    dsync_write_ms)."""
    times = []
    path = os.path.join(directory, "fdatasync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        block = b"x" * 4096
        for _ in range(rounds):
            start = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    times.sort()
    return times[len(times) // 2], times[len(times) * 99 // 100], times[-1]


def dsync_write_ms(directory, rounds=30):
    """The latency of one synced 4 KiB write in `directory` (dd oflag=dsync),
    as (fastest, median) in ms; dd's own start is in every figure, so the
    fastest is the floor a synced append can be compared with."""
    times = []
    path = os.path.join(directory, "dd-probe")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=4k", "count=1", "oflag=dsync", "conv=notrunc"],
                       capture_output=True, check=True)
        times.append((time.perf_counter() - start) * 1000)
    os.unlink(path)
    return min(times), statistics.median(times)


CONSUMED = r"(\d+) messages \((\d+) bytes\) consumed in (\d+)ms: (\d+) msgs/s \(([\d.]+) MB/s\)"


def perf_consume_mb_s(perf, bootstrap, topic, count, partitions=6, extra=()):
    """rdkafka_performance (`perf`) consuming `count` records of `topic` from
    the beginning, partitions 0..partitions-1, in responses of at most 1 MiB
    (see broker_bench.perf_consume_args); `extra` adds arguments (-X ...).
    Returns its MB/s."""
    args = [perf, "-C", "-t", topic, "-b", bootstrap, "-o", "beginning", "-c", str(count),
            "-X", "fetch.max.bytes=1048576", "-X", "queued.min.messages=1000000", *extra]
    for p in range(partitions):
        args += ["-p", str(p)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600).stdout
    found = re.findall(CONSUMED, out)
    if not found:
        raise RuntimeError(out[-2000:])
    return float(found[-1][4])
