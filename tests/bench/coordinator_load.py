#!/usr/bin/python3
"""How long a fresh cluster answers COORDINATOR_LOAD_IN_PROGRESS: the time
from the first FindCoordinator (which creates `__consumer_offsets`, or
`__transaction_state` for a transactional id) to the first JoinGroup and
OffsetFetch a coordinator answers, and to the moment every one of the 50
partitions' coordinators answers OffsetFetch (one group id per partition).
For transactions: FindCoordinator(key_type 1) to the first InitProducerId
answered, and to every partition's. Default settings (50 partitions each,
RF 3 on three nodes, RF 1 on one; initial rebalance delay 0 so JoinGroup
answers at once). Requests are encoded by hand at fixed versions
(FindCoordinator v1, OffsetFetch v3, JoinGroup v0, InitProducerId v0) and
polled every 5 ms, so the figures are the broker's, not a client's backoff.

  tests/bench/coordinator_load.py [rounds=3] [nodes=1,3]   (STRATAD=path/to/stratad)
"""

import os
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Broker, Cluster  # noqa: E402
from test_coordinator_not_leader import call, string  # noqa: E402

LOADING = 14
RETRIABLE = {14, 15, 16}  # COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR
PARTITIONS = 50
ENV = {"STRATA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0"}


def java_hash(s):
    h = 0
    for unit in s.encode("utf-16-be").hex(" ", 2).split():
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_of(key):
    h = java_hash(key)
    return (0 if h == -(1 << 31) else abs(h)) % PARTITIONS


def one_key_per_partition(prefix):
    keys = {}
    i = 0
    while len(keys) < PARTITIONS:
        k = f"{prefix}-{i}"
        keys.setdefault(partition_of(k), k)
        i += 1
    return [keys[p] for p in range(PARTITIONS)]


def find_coordinator(port, key, key_type):
    """(error, node id) of one FindCoordinator v1."""
    r = call(port, 10, 1, string(key) + struct.pack(">b", key_type))
    _, error = r.take(">ih")
    message_len = r.take(">h")
    if message_len > 0:
        r.take(f">{message_len}s")
    return error, r.take(">i")


def offset_fetch(port, group):
    r = call(port, 9, 3, string(group) + struct.pack(">i", -1))
    r.take(">ii")
    return r.take(">h")


def join_group(port, group):
    metadata = struct.pack(">hi", 0, 1) + string("t") + struct.pack(">i", -1)
    body = (string(group) + struct.pack(">i", 10000) + string("") + string("consumer") + struct.pack(">i", 1)
            + string("range") + struct.pack(">i", len(metadata)) + metadata)
    return call(port, 11, 0, body).take(">h")


def init_producer_id(port, txn_id):
    return call(port, 22, 0, string(txn_id) + struct.pack(">i", 60000)).take(">ih")[1]


def until_answered(ports, key, key_type, ask, t0, deadline=60.0):
    """Seconds after t0 at which `ask` on the key's coordinator first answers
    anything but a retriable coordinator error; asks FindCoordinator again on
    NOT_COORDINATOR, as clients do."""
    coordinator = None
    while True:
        if coordinator is None:
            error, node = find_coordinator(ports[0], key, key_type)
            if error == 0:
                coordinator = ports[node - 1]
        if coordinator is not None:
            error = ask(coordinator, key)
            if error not in RETRIABLE:
                assert error == 0, f"{key}: error {error}"
                return time.monotonic() - t0
            if error != LOADING:
                coordinator = None
        assert time.monotonic() - t0 < deadline, f"{key}: still {error} after {deadline}s"
        time.sleep(0.005)


def one_round(nodes, kind):
    ports = [n.port for n in nodes]
    prefix = f"{kind}-{time.monotonic_ns()}"
    keys = one_key_per_partition(prefix)
    key_type = 0 if kind == "group" else 1
    t0 = time.monotonic()
    while True:
        error, _ = find_coordinator(ports[0], keys[0], key_type)
        if error == 0:
            break
        assert error in RETRIABLE, error
        time.sleep(0.005)
    found = time.monotonic() - t0
    out = {"FindCoordinator": found}
    if kind == "group":
        out["first OffsetFetch"] = until_answered(ports, keys[0], 0, offset_fetch, t0)
        out["first JoinGroup"] = until_answered(ports, keys[1], 0, join_group, t0)
        out["all 50 OffsetFetch"] = max(until_answered(ports, k, 0, offset_fetch, t0) for k in keys)
    else:
        out["first InitProducerId"] = until_answered(ports, keys[0], 1, init_producer_id, t0)
        out["all 50 InitProducerId"] = max(until_answered(ports, k, 1, init_producer_id, t0) for k in keys)
    return out


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    sizes = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "1,3").split(",")]
    for size in sizes:
        for kind in ("group", "txn"):
            results = []
            for _ in range(rounds):
                if size == 1:
                    with Broker(extra_env=ENV) as b:
                        results.append(one_round([b], kind))
                else:
                    with Cluster(size, extra_env=ENV) as c:
                        for n in c.nodes:
                            n.wait_ready(30)
                        results.append(one_round(c.nodes, kind))
            for what in results[0]:
                ms = [r[what] * 1000 for r in results]
                print(f"{size} node(s), {kind}: {what:24s} median {statistics.median(ms):7.0f} ms "
                      f"(rounds: {', '.join(f'{m:.0f}' for m in ms)})", flush=True)


if __name__ == "__main__":
    main()
