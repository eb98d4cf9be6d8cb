"""What the benchmarks share: librdkafka's rdkafka_performance built from the
example source Debian's librdkafka-dev ships, and a probe for a serving
broker."""

import os
import socket
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
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
