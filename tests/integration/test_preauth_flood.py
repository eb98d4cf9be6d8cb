#!/usr/bin/python3
"""Pre-authentication flood (issue 16): 10,000 connections to a SASL
listener, each sending before it authenticates either a 100 MB frame
length, garbage, or a Produce, are all closed unanswered; the broker's RSS
grows by less than 64 MiB over the whole flood; and a real client
(confluent-kafka, SASL PLAIN) produces throughout without an error.

The flood runs 40 connections at a time (below the listen backlog of 50) from non-blocking sockets, so it
measures the broker, not Python's socket calls."""

import os
import selectors
import socket
import struct
import threading
import time

from harness import run_tests
from security_support import sasl_broker

from confluent_kafka import Producer

CONNECTIONS = 10_000
CONCURRENT = 40
RSS_LIMIT_MIB = 64


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def produce_before_authentication():
    # Produce v3 with acks=1 and one partition of garbage records: not parsed.
    body = struct.pack(">hhi", -1, 1, 1000) + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t"
    body += struct.pack(">ii", 1, 0) + struct.pack(">i", 3) + b"xyz"
    client_id = b"flood"
    payload = struct.pack(">hhih", 0, 3, 1, len(client_id)) + client_id + body
    return struct.pack(">i", len(payload)) + payload


def attack(i):
    kind = i % 3
    if kind == 0:
        # 100 MB announced (within socket.request.max.bytes, far beyond
        # sasl.server.max.receive.size), then a little of it.
        return struct.pack(">i", 100 * 1024 * 1024) + b"\x00" * 64
    if kind == 1:
        # A whole frame of garbage after an API key no broker has.
        return struct.pack(">i", 64) + b"\x7f\x7f" + os.urandom(62)
    return produce_before_authentication()


def flood(port, stats):
    """Opens CONNECTIONS connections, CONCURRENT at a time; counts those the
    broker closed without a byte of answer, those it answered, and those
    still open after 10 s."""
    selector = selectors.DefaultSelector()
    started = 0
    open_now = 0
    while started < CONNECTIONS or open_now:
        while open_now < CONCURRENT and started < CONNECTIONS:
            sock = socket.socket()
            sock.connect(("127.0.0.1", port))
            try:
                sock.sendall(attack(started))
            except (BrokenPipeError, ConnectionResetError):
                pass
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, time.monotonic() + 10)
            started += 1
            open_now += 1
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            except BlockingIOError:
                continue
            if data:
                stats["answered"] += 1
            else:
                stats["closed"] += 1
            selector.unregister(sock)
            sock.close()
            open_now -= 1
        now = time.monotonic()
        for key in list(selector.get_map().values()):
            if key.data < now:
                stats["left_open"] += 1
                selector.unregister(key.fileobj)
                key.fileobj.close()
                open_now -= 1
    selector.close()


def test_ten_thousand_unauthenticated_connections_cost_little_and_block_no_one():
    with sasl_broker() as broker:
        bootstrap = f"127.0.0.1:{broker.sasl_port}"
        errors = []
        producer = Producer({"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanisms": "PLAIN", "sasl.username": "admin", "sasl.password": "admin-secret",
                             "linger.ms": 0, "error_cb": lambda e: errors.append(e)})
        delivered = []

        def on_delivery(err, msg):
            if err:
                errors.append(err)
            else:
                delivered.append(time.monotonic())

        # Warm up: topic created, connections made, so the baseline is steady.
        for i in range(50):
            producer.produce("flood-survivor", f"warm-{i}".encode(), on_delivery=on_delivery)
        assert producer.flush(30) == 0 and len(delivered) == 50, errors
        baseline = rss_kib(broker.proc.pid)

        peak = [baseline]
        stop = threading.Event()

        def keep_producing():
            i = 0
            while not stop.is_set():
                producer.produce("flood-survivor", f"during-{i}".encode(), on_delivery=on_delivery)
                producer.poll(0.005)
                peak[0] = max(peak[0], rss_kib(broker.proc.pid))
                i += 1
            producer.flush(30)

        worker = threading.Thread(target=keep_producing)
        stats = {"closed": 0, "answered": 0, "left_open": 0}
        flood_started = time.monotonic()
        worker.start()
        try:
            flood(broker.sasl_port, stats)
        finally:
            flood_seconds = time.monotonic() - flood_started
            stop.set()
            worker.join(60)
        after = rss_kib(broker.proc.pid)
        during = [t for t in delivered if flood_started <= t <= flood_started + flood_seconds]
        gaps = [b - a for a, b in zip(during, during[1:])]
        grown_mib = (max(peak[0], after) - baseline) / 1024
        print(f"  {CONNECTIONS} connections in {flood_seconds:.1f}s ({CONNECTIONS / flood_seconds:.0f}/s): "
              f"{stats}; RSS {baseline / 1024:.1f} MiB before, peak +{grown_mib:.1f} MiB; "
              f"{len(during)} records delivered meanwhile, longest gap {max(gaps, default=0) * 1000:.0f} ms")
        assert stats == {"closed": CONNECTIONS, "answered": 0, "left_open": 0}, stats
        assert grown_mib < RSS_LIMIT_MIB, grown_mib
        assert not errors, errors[:5]
        # The authenticated producer kept going: records delivered all
        # through the flood, never a pause of more than 2 s.
        assert len(during) >= 20, len(during)
        assert max(gaps, default=0) < 2.0, max(gaps)
        log = broker.log()
        assert "Produce (key 0) before authentication; closing" in log


if __name__ == "__main__":
    run_tests([test_ten_thousand_unauthenticated_connections_cost_little_and_block_no_one])
