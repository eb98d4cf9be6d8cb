#!/usr/bin/python3
"""Transactions benchmark (issue 13's figures), one stratad with its default
durability (fsync before acks=all is acknowledged), librdkafka clients:

  - transactions of <records per txn> x 1 KB records, each flushed and
    committed (tests/bench/txn_produce.c), against the same records from the
    idempotent producer without transactions, interleaved, three runs each,
    into fresh 6-partition topics; per run the p50/p99/max of the commit
    (commit_transaction's call to its return, the records already
    acknowledged) and of flush + commit (from the last produce call);
  - read_committed against read_uncommitted consumption of the same
    transactional data (rdkafka_performance -C with isolation.level),
    interleaved, three runs each;
beside the machine's limits measured in the same run (dd conv=fdatasync to
the data disk, the latency of one 4 KiB append + fdatasync there before each
transactional run, iperf3 over loopback).

  tests/bench/txn_bench.py [build dir] [transactions per run] [records per txn]

Prints a Markdown table for docs/benchmarks.md.
"""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import broker_bench  # noqa: E402  (sets STRATAD and the harness path)
from broker_bench import PERF, create_topic, median  # noqa: E402
from harness import Broker  # noqa: E402
import perf_tools  # noqa: E402

BUILD = broker_bench.BUILD
TRANSACTIONS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
PER_TXN = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
TXN_PRODUCE = os.path.join(BUILD, "tests", "bench", "txn_produce")
# The synced dd writes as much as one produce run (broker_bench read argv[2] as its size).
broker_bench.MIB = max(64, TRANSACTIONS * PER_TXN // 1024)


def produce(broker, topic, mode):
    out = subprocess.run([TXN_PRODUCE, broker.bootstrap, topic, "1024", str(PER_TXN), str(TRANSACTIONS), mode],
                         capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return [float(x) for x in out.stdout.split()]


def consume(broker, topic, isolation, count):
    return perf_tools.perf_consume_mb_s(PERF, broker.bootstrap, topic, count,
                                        extra=("-X", f"isolation.level={isolation}"))


def main():
    os.makedirs(os.path.dirname(TXN_PRODUCE), exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", TXN_PRODUCE, os.path.join(HERE, "txn_produce.c"), "-lrdkafka"], check=True)
    perf_tools.build_perf(PERF)
    loop = perf_tools.loopback_mb_s()
    with Broker(extra_env={"STRATA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "5"}) as broker:
        workdir = broker.data_dir
        plain, txn, dds, syncs = [], [], [], []
        commit = {"p50": [], "p99": [], "max": [], "flush p50": [], "flush p99": [], "flush max": []}
        for i in range(3):
            dds.append(perf_tools.dd_mb_s(workdir, broker_bench.MIB, sync=True))
            create_topic(broker, f"plain{i}")
            plain.append(produce(broker, f"plain{i}", "plain")[0])
            create_topic(broker, f"txn{i}")
            syncs.append(perf_tools.fdatasync_ms(workdir))
            mb_s, *latencies = produce(broker, f"txn{i}", "txn")
            txn.append(mb_s)
            for key, value in zip(commit, latencies):
                commit[key].append(value)
        count = TRANSACTIONS * PER_TXN
        committed, uncommitted = [], []
        for i in range(3):
            uncommitted.append(consume(broker, "txn0", "read_uncommitted", count))
            committed.append(consume(broker, "txn0", "read_committed", count))
    mb = TRANSACTIONS * PER_TXN * 1024 / 1e6
    print(f"{TRANSACTIONS} transactions x {PER_TXN} x 1 KB ({mb:.0f} MB) per run, 6 partitions, one broker, fsync")
    print()
    print("| figure | runs | median | machine limit, same run | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    fmt = lambda xs: " / ".join(f"{x:.0f}" for x in xs)  # noqa: E731
    print(f"| idempotent produce, no transactions | {fmt(plain)} MB/s | {median(plain):.0f} MB/s | "
          f"dd conv=fdatasync {fmt(dds)} MB/s | | |")
    print(f"| transactional produce, commit every {PER_TXN} | {fmt(txn)} MB/s | {median(txn):.0f} MB/s | | "
          f"{median(txn) / median(plain):.2f} of no transactions | >= 0.80 |")
    ms = lambda xs: " / ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    sync = {name: [s[k] for s in syncs] for k, name in enumerate(("p50", "p99", "max"))}
    for key in ("p50", "p99", "max"):
        limit = f"4 KiB append + fdatasync {key} {ms(sync[key])} ms" if key in sync else ""
        target = "<= 10 ms" if key == "p99" else ""
        print(f"| commit latency {key} | {ms(commit[key])} ms | {median(commit[key]):.1f} ms | {limit} | | {target} |")
    for key in ("p50", "p99", "max"):
        print(f"| flush + commit {key} | {ms(commit['flush ' + key])} ms | {median(commit['flush ' + key]):.1f} ms "
              f"| | | |")
    print(f"| consume read_uncommitted | {fmt(uncommitted)} MB/s | {median(uncommitted):.0f} MB/s | "
          f"iperf3 loopback {loop:.0f} MB/s | | |")
    print(f"| consume read_committed | {fmt(committed)} MB/s | {median(committed):.0f} MB/s | | "
          f"{median(committed) / median(uncommitted):.2f} of read_uncommitted | >= 0.90 |")


if __name__ == "__main__":
    main()
