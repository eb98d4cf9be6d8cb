#!/usr/bin/python3
"""Authenticated connection set-up (TLS 1.3 + SCRAM-SHA-512 over SASL_SSL),
one client in sequence, and the broker's CPU per connection (from
/proc/<pid>/stat): docs/benchmarks.md, "TLS against plaintext". Run by hand:
STRATAD=build/src/stratad /usr/bin/python3 tests/bench/sasl_connection_rate.py"""
import os, socket, ssl, struct, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import perf_tools  # noqa: E402
from test_tls import tls_broker
from security_support import alter_scram, raw_request
from kafka.scram import ScramClient

def authenticate(port, ctx):
    raw = socket.create_connection(("127.0.0.1", port))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    mech = b"SCRAM-SHA-512"
    r = raw_request(s, 17, 1, struct.pack(">h", len(mech)) + mech)
    assert struct.unpack(">h", r[:2])[0] == 0
    c = ScramClient("perf", "perf-secret", "SCRAM-SHA-512")
    def step(token):
        r = raw_request(s, 36, 1, struct.pack(">i", len(token)) + token)
        err = struct.unpack(">h", r[:2])[0]; assert err == 0, err
        (n,) = struct.unpack(">h", r[2:4]); pos = 4 + max(n, 0)
        (m,) = struct.unpack(">i", r[pos:pos+4]); return r[pos+4:pos+4+m].decode()
    c.process_server_first_message(step(c.first_message().encode()))
    c.process_server_final_message(step(c.final_message().encode()))
    s.close()

with tls_broker(client_auth="none") as b:
    assert alter_scram(b.port, upserts=[("perf", 2, "perf-secret", 4096)]) == {"perf": (0, None)}
    ctx = ssl.create_default_context(cafile=b.certs["ca.pem"])
    authenticate(b.sasl_ssl_port, ctx)
    n = 300
    cpu0, t0 = perf_tools.cpu_seconds(b.proc.pid), time.monotonic()
    for _ in range(n):
        authenticate(b.sasl_ssl_port, ctx)
    wall, cpu = time.monotonic() - t0, perf_tools.cpu_seconds(b.proc.pid) - cpu0
    print(f"{n} TLS 1.3 + SCRAM-SHA-512 authentications in {wall:.2f}s ({n/wall:.0f}/s sequential, one client); "
          f"broker CPU {cpu:.2f}s => {n/cpu:.0f} per broker CPU-second")
