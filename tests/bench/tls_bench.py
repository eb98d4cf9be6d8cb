#!/usr/bin/python3
"""TLS against plaintext (issue 16), one node, real clients:

  - produce and consume of 1 KiB records over 6 partitions with librdkafka's
    rdkafka_performance, on the PLAINTEXT listener and on the SSL listener
    (TLS 1.3, ECDHE with the test CA's RSA-2048 certificate), each run twice,
    alternating, the median kept, with the broker's CPU per GB;
  - authenticated connection set-up on the SASL_SSL listener (TLS 1.3
    handshake, SaslHandshake, SCRAM-SHA-512 in two SaslAuthenticate rounds,
    close) from two client processes at once, with the broker's CPU: the
    rate per broker CPU-second is the rate on one core;
beside `openssl speed -evp aes-128-gcm` (16 KiB blocks, one core) from the
same run.

  STRATAD=build/src/stratad /usr/bin/python3 tests/bench/tls_bench.py [build dir] [MiB per run]

Prints a Markdown table for docs/benchmarks.md.
"""

import multiprocessing
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(SOURCE, "build"))
MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 256
os.environ.setdefault("STRATAD", os.path.join(BUILD, "src", "stratad"))

import perf_tools  # noqa: E402
from security_support import alter_scram, raw_request  # noqa: E402
from test_tls import tls_broker  # noqa: E402

PERF = os.path.join(BUILD, "tests", "bench", "rdkafka_performance")


def openssl_aes_gcm_mb_s():
    out = subprocess.run(["openssl", "speed", "-evp", "aes-128-gcm", "-bytes", "16384", "-seconds", "3"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^AES-128-GCM\s+([\d.]+)k", out, re.MULTILINE) or re.search(r"aes-128-gcm\s+([\d.]+)k", out)
    return float(m.group(1)) * 1000 / 1e6 if m else float("nan")  # 1000s of bytes/s -> MB/s


def perf_produce(bootstrap, topic, count, security):
    out = subprocess.run([PERF, "-P", "-t", topic, "-b", bootstrap, "-s", "1024", "-c", str(count), "-a", "1",
                          "-X", "linger.ms=5", "-X", "batch.size=1048576", "-X", "queue.buffering.max.kbytes=1048576",
                          *security], capture_output=True, text=True, timeout=600).stdout
    found = re.findall(r"(\d+) delivered .* in (\d+)ms: (\d+) msgs/s and ([\d.]+) MB/s", out)
    if not found:
        raise RuntimeError(out[-2000:])
    return float(found[-1][3])


def perf_consume(bootstrap, topic, count, security):
    return perf_tools.perf_consume_mb_s(PERF, bootstrap, topic, count, extra=security)


def authenticate(port, ctx):
    from kafka.scram import ScramClient
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    mechanism = b"SCRAM-SHA-512"
    r = raw_request(s, 17, 1, struct.pack(">h", len(mechanism)) + mechanism)
    assert struct.unpack(">h", r[:2])[0] == 0
    client = ScramClient("perf", "perf-secret", "SCRAM-SHA-512")

    def step(token):
        r = raw_request(s, 36, 1, struct.pack(">i", len(token)) + token)
        assert struct.unpack(">h", r[:2])[0] == 0
        (n,) = struct.unpack(">h", r[2:4])
        pos = 4 + max(n, 0)
        (m,) = struct.unpack(">i", r[pos:pos + 4])
        return r[pos + 4:pos + 4 + m].decode()

    client.process_server_first_message(step(client.first_message().encode()))
    client.process_server_final_message(step(client.final_message().encode()))
    s.close()


def authenticate_many(args):
    port, cafile, count = args
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    for _ in range(count):
        authenticate(port, ctx)
    return count


def main():
    perf_tools.build_perf(PERF)
    broker = tls_broker(client_auth="none")
    with open(broker.config) as fh:
        text = fh.read().replace("log.level: debug", "log.level: info")
    with open(broker.config, "w") as fh:
        fh.write(text)
    with broker:
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        count = MIB * 1024
        plain = ["-X", "security.protocol=PLAINTEXT"]
        tls = ["-X", "security.protocol=SSL", "-X", f"ssl.ca.location={broker.certs['ca.pem']}"]
        listeners = {"plaintext": (broker.bootstrap, plain), "TLS 1.3": (f"127.0.0.1:{broker.ssl_port}", tls)}
        results = {name: {"produce": [], "consume": [], "produce_cpu": 0.0, "consume_cpu": 0.0} for name in listeners}
        aes = openssl_aes_gcm_mb_s()
        for run in range(2):
            for name, (bootstrap, security) in listeners.items():
                topic = f"tls-bench-{name[:3].lower()}-{run}"
                admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result(15)
                r = results[name]
                before = perf_tools.cpu_seconds(broker.proc.pid)
                r["produce"].append(perf_produce(bootstrap, topic, count, security))
                middle = perf_tools.cpu_seconds(broker.proc.pid)
                r["consume"].append(perf_consume(bootstrap, topic, count, security))
                r["produce_cpu"] += middle - before
                r["consume_cpu"] += perf_tools.cpu_seconds(broker.proc.pid) - middle
                print(f"  run {run} {name}: produce {r['produce'][-1]:.0f} MB/s, consume {r['consume'][-1]:.0f} MB/s",
                      flush=True)
        aes_after = openssl_aes_gcm_mb_s()

        assert alter_scram(broker.port, upserts=[("perf", 2, "perf-secret", 4096)]) == {"perf": (0, None)}
        authenticate_many((broker.sasl_ssl_port, broker.certs["ca.pem"], 5))
        per_client, clients = 300, 2
        cpu0, t0 = perf_tools.cpu_seconds(broker.proc.pid), time.monotonic()
        with multiprocessing.Pool(clients) as pool:
            done = sum(pool.map(authenticate_many, [(broker.sasl_ssl_port, broker.certs["ca.pem"], per_client)] * clients))
        wall, cpu = time.monotonic() - t0, perf_tools.cpu_seconds(broker.proc.pid) - cpu0

    gb = MIB * 1024 * 1024 / 1e9
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731 (two runs: the better one)
    print(f"\nOne node, 6 partitions, {MIB} MiB of 1 KiB records per run, 2 runs each, alternating; "
          f"`openssl speed -evp aes-128-gcm -bytes 16384`: {aes:.0f} MB/s before, {aes_after:.0f} MB/s after "
          f"(one core).\n")
    print("| | plaintext | TLS 1.3 | TLS / plaintext |")
    print("| --- | --- | --- | --- |")
    for what in ("produce", "consume"):
        p, t = median(results["plaintext"][what]), median(results["TLS 1.3"][what])
        p_cpu = results["plaintext"][f"{what}_cpu"] / (2 * gb)
        t_cpu = results["TLS 1.3"][f"{what}_cpu"] / (2 * gb)
        label = "produce (acks=1)" if what == "produce" else "consume"
        print(f"| {label} | {p:.0f} MB/s ({' / '.join(f'{v:.0f}' for v in results['plaintext'][what])}), "
              f"broker {p_cpu:.2f} CPU-s/GB | {t:.0f} MB/s ({' / '.join(f'{v:.0f}' for v in results['TLS 1.3'][what])}), "
              f"broker {t_cpu:.2f} CPU-s/GB | {t / p:.0%} |")
    print(f"\nAuthenticated connection set-up (TLS 1.3 + SCRAM-SHA-512, {clients} client processes x {per_client}): "
          f"{done} in {wall:.2f}s ({done / wall:.0f}/s wall, both cores shared with the clients), broker CPU "
          f"{cpu:.2f}s => {done / cpu:.0f} per broker CPU-second (target: 500 on one core)")


if __name__ == "__main__":
    main()
