#!/usr/bin/python3
"""Metadata commit latency on one stratad: CreateTopics round trips (one
topic, one partition each), sent one at a time over a raw socket with
kafka-python's encoding, so that the time is the broker's: decode, controller
decision, Raft append + fsync + commit, apply to the image, response.
Prints min/median/p99/max beside `dd bs=4k count=1 oflag=dsync` (one small
synchronous write: the floor for anything fsynced) measured in the same run.

    tests/bench/metadata_commit_latency.py [count]     (STRATAD=path/to/stratad)
"""

import os
import socket
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import perf_tools  # noqa: E402
from harness import Broker  # noqa: E402

from kafka.protocol.admin import CreateTopicsRequest_v2  # noqa: E402
from kafka.protocol.api import RequestHeader  # noqa: E402


def recv_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with Broker() as broker:
        latencies = []
        with socket.create_connection(("127.0.0.1", broker.port)) as sock:
            for i in range(count):
                request = CreateTopicsRequest_v2(create_topic_requests=[(f"bench-{i}", 1, 1, [], [])],
                                                 timeout=10000, validate_only=False)
                header = RequestHeader(request, correlation_id=i, client_id="bench")
                payload = header.encode() + request.encode()
                start = time.perf_counter()
                sock.sendall(struct.pack(">i", len(payload)) + payload)
                size = struct.unpack(">i", recv_exactly(sock, 4))[0]
                frame = recv_exactly(sock, size)
                latencies.append((time.perf_counter() - start) * 1000)
                response = request.RESPONSE_TYPE.decode(frame[4:])
                assert response.topic_errors[0][1] == 0, response
        floor, _ = perf_tools.dsync_write_ms(broker.data_dir, rounds=50)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"CreateTopics round trips: {count}")
    print(f"  min {latencies[0]:.2f} ms, median {statistics.median(latencies):.2f} ms, "
          f"p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
    print(f"  dd 4 KiB oflag=dsync, fastest of 50 (includes starting dd): {floor:.2f} ms")


if __name__ == "__main__":
    main()
