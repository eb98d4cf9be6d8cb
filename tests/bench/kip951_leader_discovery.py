#!/usr/bin/python3
"""What KIP-951 leader discovery gives a modern client: the produce stall
after a partition leader is stopped with SIGTERM (controlled shutdown), with
librdkafka 2.12 (KIP-951 since 2.4: it moves a partition to the leader a
NOT_LEADER_OR_FOLLOWER Produce response names, instead of asking Metadata
`topic.metadata.refresh.fast.interval.ms` later), against two brokers: one
that fills Produce's CurrentLeader/NodeEndpoints and one that does not.

Same setup as tests/bench/controlled_shutdown.py (three combined nodes,
RF 3, min.insync.replicas 2, 1 s preferred-leader check, the idempotent
acks=all producer and group consumer of test_controlled_shutdown.py); each
round SIGTERMs the leader of partition 0 and prints the time from the signal
to the first acknowledgement of a record sent after it on that partition.

The Python client is confluent-kafka with its librdkafka swapped for 2.12
(LD_LIBRARY_PATH; librdkafka keeps its ABI): the librdkafka that
tests/compat/build.sh builds into build/compat/.

  tests/bench/kip951_leader_discovery.py <rounds> <label=stratad> [<label=stratad> ...]
      e.g. 6 main=/tmp/stratad-main this=build/src/stratad
  RDKAFKA_LIB=dir holding librdkafka.so.1 (default: build/compat's)
  KIP951_DEBUG=metadata,msg  librdkafka's debug contexts for the producer (stderr)
  KIP951_PRODUCER_CONFIG=retry.backoff.ms=10,...  more producer settings
"""

import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_LIB = os.path.join(SOURCE, "build", "compat", "node-rdkafka-3.6.1", "package", "deps", "librdkafka", "src")


def reexec_with_librdkafka():
    lib = os.environ.get("RDKAFKA_LIB", DEFAULT_LIB)
    if os.environ.get("KIP951_BENCH_CHILD") != "1":
        if not os.path.exists(os.path.join(lib, "librdkafka.so.1")):
            sys.exit(f"no librdkafka.so.1 in {lib}: run tests/compat/build.sh (or set RDKAFKA_LIB)")
        env = dict(os.environ, KIP951_BENCH_CHILD="1",
                   LD_LIBRARY_PATH=lib + (":" + os.environ["LD_LIBRARY_PATH"] if "LD_LIBRARY_PATH" in os.environ
                                          else ""))
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def main():
    reexec_with_librdkafka()
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    import confluent_kafka
    version = confluent_kafka.libversion()[0]
    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) < (2, 4):
        sys.exit(f"librdkafka {version} has no KIP-951 (2.4+ has)")
    print(f"librdkafka {version}", flush=True)

    sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
    sys.path.insert(0, HERE)
    import harness
    import controlled_shutdown

    extra = {}
    if os.environ.get("KIP951_DEBUG"):
        # librdkafka's debug log (stderr) for the producer: which Produce
        # responses moved a partition (metadata update ops) and when.
        extra["debug"] = os.environ["KIP951_DEBUG"]
    for item in filter(None, os.environ.get("KIP951_PRODUCER_CONFIG", "").split(",")):
        key, value = item.split("=", 1)
        extra[key] = value
    if extra:
        print(f"producer settings: {extra}", flush=True)
        import test_controlled_shutdown

        class Producer(confluent_kafka.Producer):
            def __init__(self, config):
                super().__init__(dict(config, **extra))
        test_controlled_shutdown.Producer = Producer

    rounds = int(sys.argv[1])
    results = {}
    for spec in sys.argv[2:]:
        label, binary = spec.split("=", 1)
        harness.STRATAD = os.path.abspath(binary)
        print(f"--- {label}: {harness.STRATAD}", flush=True)
        results[label] = controlled_shutdown.run(rounds, True)
    for label, stalls in results.items():
        print(f"{label}: {len(stalls)} rounds: stall min {min(stalls):.0f} ms, median "
              f"{statistics.median(stalls):.0f} ms, max {max(stalls):.0f} ms; each: "
              + ", ".join(f"{s:.0f}" for s in stalls), flush=True)


if __name__ == "__main__":
    main()
