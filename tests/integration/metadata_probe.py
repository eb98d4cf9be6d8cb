"""How long a metadata change takes to reach every broker: a change made
through one broker, then every other broker polled with raw Metadata v4
requests (auto-creation off) until it shows the change. Used by
test_metadata_propagation.py (prints the figures) and by
tests/bench/metadata_propagation.py (percentiles over many rounds)."""

import socket
import struct
import threading
import time

from harness import _recv_exactly


class MetadataPoller:
    """A persistent connection to one broker asking about one topic."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.correlation = 0

    def topic_state(self, topic):
        """(error code, partition count) of `topic` in this broker's Metadata v4."""
        self.correlation += 1
        client_id = b"probe"
        name = topic.encode()
        payload = struct.pack(">hhih", 3, 4, self.correlation, len(client_id)) + client_id
        payload += struct.pack(">ih", 1, len(name)) + name + b"\x00"  # allow_auto_topic_creation = false
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        data = _recv_exactly(self.sock, struct.unpack(">i", _recv_exactly(self.sock, 4))[0])
        pos = 8  # correlation id, throttle time
        (brokers,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(brokers):
            pos += 4
            (n,) = struct.unpack_from(">h", data, pos)
            pos += 2 + n + 4
            (n,) = struct.unpack_from(">h", data, pos)
            pos += 2 + max(n, 0)
        (n,) = struct.unpack_from(">h", data, pos)
        pos += 2 + max(n, 0) + 4  # cluster id, controller id
        pos += 4  # topic count (1)
        (error,) = struct.unpack_from(">h", data, pos)
        pos += 2
        (n,) = struct.unpack_from(">h", data, pos)
        pos += 2 + n + 1
        (partitions,) = struct.unpack_from(">i", data, pos)
        return error, partitions

    def close(self):
        self.sock.close()


def wait_until_seen(pollers, topic, predicate, since, timeout=10.0):
    """Polls every poller (one thread each) until predicate(error, partitions)
    holds; returns each one's delay in ms after `since` (None if never)."""
    results = [None] * len(pollers)

    def poll(i, poller):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(*poller.topic_state(topic)):
                results[i] = (time.monotonic() - since) * 1000
                return
            time.sleep(0.0002)

    threads = [threading.Thread(target=poll, args=(i, p)) for i, p in enumerate(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def measure_round(admin, pollers, topic, partitions=3, replication_factor=3):
    """Creates `topic` through `admin` (bound to one broker), then deletes it.
    -> ([ms until each poller's broker lists it], [ms until each forgets it])"""
    from confluent_kafka.admin import NewTopic
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)])[
        topic].result(30)
    created = time.monotonic()
    seen = wait_until_seen(pollers, topic, lambda error, count: error == 0 and count == partitions, created)
    admin.delete_topics([topic])[topic].result(30)
    deleted = time.monotonic()
    gone = wait_until_seen(pollers, topic, lambda error, count: error == 3, deleted)  # UNKNOWN_TOPIC_OR_PARTITION
    return seen, gone


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
