"""Shared support for the integration tests: start real `stratad` processes on
loopback with their own data directories, wait until they serve, stop them.

Run with Debian's /usr/bin/python3 (it has kafka-python and
confluent-kafka). ctest passes STRATAD (the binary) and STRATA_SOURCE_DIR.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SOURCE_DIR = os.environ.get("STRATA_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
STRATAD = os.path.abspath(os.environ.get("STRATAD", os.path.join(SOURCE_DIR, "build", "src", "stratad")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """One stratad process. Use as a context manager."""

    def __init__(self, extra_env=None, config=None):
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="strata-it-")
        self.data_dir = os.path.join(self.workdir, "data")
        self.log_path = os.path.join(self.workdir, "stratad.log")
        self.config = config
        self.env = dict(os.environ)
        self.env.update({
            "STRATA_LISTENERS": f"PLAINTEXT://127.0.0.1:{self.port}",
            "STRATA_LOG_DIRS": self.data_dir,
        })
        self.env.update(extra_env or {})
        self.proc = None

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=10.0):
        args = [STRATAD]
        if self.config:
            args += ["--config", self.config]
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=self.env, cwd=self.workdir, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stratad exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"stratad did not listen within {timeout}s:\n{self.log()}")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("stratad did not stop within {timeout}s of signal {sig}")
        if getattr(self, "_log", None):
            self._log.close()
        return self.proc.returncode if self.proc else None

    def kill(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read().decode(errors="replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            print(f"--- stratad log ({self.log_path}) ---\n{self.log()}", file=sys.stderr)


def run_tests(tests):
    """Runs test functions in order; prints one line each and a closing
    'N passed, N failed' line; exits non-zero on any failure."""
    passed = failed = 0
    for test in tests:
        start = time.monotonic()
        try:
            test()
            passed += 1
            print(f"PASS {test.__name__} ({time.monotonic() - start:.2f}s)", flush=True)
        except Exception:
            failed += 1
            print(f"FAIL {test.__name__} ({time.monotonic() - start:.2f}s)", flush=True)
            traceback.print_exc()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
