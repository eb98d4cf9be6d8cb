#!/usr/bin/python3
"""The broker-wide limits of the network layer, with real clients:
max.connections (clients beyond it wait until a connection closes),
max.connections.per.ip (beyond it, closed at once), and
queued.max.request.bytes (producers whose requests do not fit are paused,
not disconnected, and everything they send is acknowledged)."""

import socket
import struct
import subprocess
import threading
import time

from harness import Broker, _recv_exactly, run_tests

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def api_versions(sock, correlation_id=1):
    """ApiVersions v0 on an open socket; returns the error code."""
    client_id = b"limits"
    payload = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
    frame = _recv_exactly(sock, size)
    assert struct.unpack(">i", frame[:4])[0] == correlation_id
    return struct.unpack(">h", frame[4:6])[0]


def served_within(sock, seconds):
    """True if an ApiVersions request sent on `sock` is answered within `seconds`."""
    sock.settimeout(seconds)
    try:
        return api_versions(sock, 9) == 0
    except socket.timeout:
        return False


def test_max_connections_makes_new_clients_wait_for_a_free_slot():
    with Broker(extra_env={"STRATA_MAX_CONNECTIONS": "100"}) as broker:
        held = []
        for i in range(100):
            s = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
            assert api_versions(s, i + 1) == 0
            held.append(s)
        extra = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
        assert not served_within(extra, 1.0), "the 101st connection was served while 100 were open"
        held.pop().close()
        extra.settimeout(5)
        # The request sent while it waited is answered once a slot is free.
        size = struct.unpack(">i", _recv_exactly(extra, 4))[0]
        assert struct.unpack(">ih", _recv_exactly(extra, size)[:6]) == (9, 0)
        for s in held[:10]:
            s.close()
        # A real client gets through as well once slots are free.
        run = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-m", "10"], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 0 and "1 brokers" in run.stdout, run.stdout + run.stderr
        assert "max.connections (100) reached" in broker.log()
        for s in held[10:] + [extra]:
            s.close()


def test_max_connections_per_ip_closes_the_connection_over_it():
    with Broker(extra_env={"STRATA_MAX_CONNECTIONS_PER_IP": "5"}) as broker:
        time.sleep(0.2)  # the harness's readiness probe has closed its connection
        held = [socket.create_connection(("127.0.0.1", broker.port), timeout=5) for _ in range(5)]
        for i, s in enumerate(held):
            assert api_versions(s, i + 1) == 0
        over = socket.create_connection(("127.0.0.1", broker.port), timeout=5)
        try:
            api_versions(over)
            served = True
        except ConnectionError:
            served = False
        assert not served, "the sixth connection from 127.0.0.1 was served"
        over.close()
        assert "refused connection from 127.0.0.1" in broker.log()
        for s in held:
            s.close()
        time.sleep(0.2)
        # Below the limit again: a real client works.
        run = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr


def test_a_spent_request_budget_pauses_producers_without_losing_anything():
    # 1 MiB requests, 1 MiB of budget: four producers sending ~1 MiB batches
    # at once can hold one request at a time between them.
    env = {"STRATA_SOCKET_REQUEST_MAX_BYTES": "1048576", "STRATA_QUEUED_MAX_REQUEST_BYTES": "1048576",
           "STRATA_LOG_LEVEL": "debug"}
    with Broker(extra_env=env) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("budget", num_partitions=4, replication_factor=1)])["budget"].result(10)
        per_producer = 3000
        value = b"v" * 8000
        errors = []
        delivered = [0]
        lock = threading.Lock()

        def produce(n):
            p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 50,
                          "batch.size": 1000000, "message.max.bytes": 1000000, "enable.idempotence": True})

            def report(err, msg):
                with lock:
                    if err:
                        errors.append(err)
                    else:
                        delivered[0] += 1

            for i in range(per_producer):
                while True:
                    try:
                        p.produce("budget", key=f"{n}-{i}".encode(), value=value, on_delivery=report)
                        break
                    except BufferError:
                        p.poll(0.05)
            assert p.flush(60) == 0

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:5]
        assert delivered[0] == 4 * per_producer
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "budget-check"})
        total = 0
        for p in range(4):
            low, high = consumer.get_watermark_offsets(TopicPartition("budget", p), timeout=10)
            total += high - low
        consumer.close()
        assert total == 4 * per_producer, total
        log = broker.log()
        assert "invalid request size" not in log and "closing connection" not in log, log[-2000:]
        waits = log.count("waited for request memory")
        print(f"requests that waited for the budget: {waits}")
        assert waits > 0, "the budget was never spent: the test proves nothing"


if __name__ == "__main__":
    run_tests([
        test_max_connections_makes_new_clients_wait_for_a_free_slot,
        test_max_connections_per_ip_closes_the_connection_over_it,
        test_a_spent_request_budget_pauses_producers_without_losing_anything,
    ])
