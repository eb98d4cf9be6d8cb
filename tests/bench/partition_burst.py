#!/usr/bin/python3
"""Partition-creation burst on a single-node stratad (docs/benchmarks.md,
Metadata quorum): one CreateTopics of T topics x P partitions
(`partition_burst.py T P`, default 100 x 100), while a producer writes to an
existing topic every 50 ms and a second client creates one small topic 0.2 s
in. Prints when the burst's CreateTopics is answered, when Metadata shows
every partition led, when a record to the last partition is acknowledged, how
long the small topic took to create and to accept a record, the produce
latencies to the existing topic, and how many times the broker lost its
leaderships (fenced: "(leader -1" in its log)."""
import os, sys, time, threading, re
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
os.environ.setdefault("STRATAD", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "src", "stratad"))
from harness import Broker
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka import Producer

T = int(sys.argv[1]) if len(sys.argv) > 1 else 100
P = int(sys.argv[2]) if len(sys.argv) > 2 else 100
keep = len(sys.argv) > 3

b = Broker()
b.start(); b.wait_ready()
try:
    a = AdminClient({"bootstrap.servers": b.bootstrap})
    a.create_topics([NewTopic("existing", 1, 1)])["existing"].result(15)
    prod = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "log_level": 0})
    prod.produce("existing", b"warm"); prod.flush(10)
    lat = []; stop = False
    def producer_loop():
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "log_level": 0, "acks": 1})
        while not stop:
            t = time.monotonic(); p.produce("existing", b"x"); p.flush(30); lat.append(time.monotonic() - t)
            time.sleep(0.05)
    th = threading.Thread(target=producer_loop, daemon=True); th.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    topics = [NewTopic(f"burst-{i}", P, 1) for i in range(T)]
    futs = a.create_topics(topics, operation_timeout=60, request_timeout=120)
    small = {}
    def small_create():
        time.sleep(0.2)
        a2 = AdminClient({"bootstrap.servers": b.bootstrap})
        ts = time.monotonic()
        a2.create_topics([NewTopic("small", 1, 1)], operation_timeout=60)["small"].result(120)
        small["create"] = time.monotonic() - ts
        # and until it is writable
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "log_level": 0})
        p.produce("small", b"s"); p.flush(120)
        small["writable"] = time.monotonic() - ts
    st = threading.Thread(target=small_create, daemon=True); st.start()
    for f in futs.values(): f.result(120)
    t_ack = time.monotonic() - t0
    # all led?
    while True:
        md = a.list_topics(timeout=30)
        n = sum(1 for i in range(T) if f"burst-{i}" in md.topics for p in md.topics[f"burst-{i}"].partitions.values() if p.leader == 1)
        if n == T * P: break
        time.sleep(0.1)
    t_led = time.monotonic() - t0
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "log_level": 0})
    delivered = []
    p.produce(f"burst-{T-1}", b"last", partition=P-1, on_delivery=lambda e, m: delivered.append(e)); p.flush(120)
    t_write = time.monotonic() - t0
    st.join(); stop = True; th.join()
    log = b.log()
    fenced = [l for l in log.splitlines() if "(leader -1" in l]
    print(f"partitions={T*P} createtopics_answered={t_ack:.2f}s all_led_in_metadata={t_led:.2f}s last_partition_written={t_write:.2f}s err={delivered}")
    print(f"small topic: created {small.get('create',-1):.2f}s writable {small.get('writable',-1):.2f}s")
    lat.sort()
    print(f"produce to existing during burst: n={len(lat)} median={lat[len(lat)//2]*1000:.1f}ms p99/max={lat[-1]*1000:.1f}ms")
    print("leaderships lost to fencing:", len(fenced)); [print("  ", l[:200]) for l in fenced[:5]]
    if keep:
        print("workdir", b.workdir)
except Exception:
    import traceback; traceback.print_exc(); print(b.log()[-3000:])
finally:
    b.stop()
